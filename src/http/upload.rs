//! The upload service (the reference's `upload` web app on 8088, spec/reference-server.md 7;
//! clients.md 2.4 and 6) and the API's `/upload/copyFile`. Multipart bodies are streamed part by
//! part into temporary files with the per-file and per-request limits enforced while reading;
//! nothing is buffered whole in memory. The servlets answer the reference's own JSON (plus
//! `currentTime`), `/upload/copyFile` the API envelope.
//!
//! Who may do what: uploads need no token (the web clients post their forms without one) unless
//! `files.require_token` is set; a token that is sent must be valid, and then `userId` must be
//! its user. Deleting needs a token and only removes the caller's own uploads; copying needs a
//! token and the copy belongs to the caller.

use std::path::PathBuf;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

use super::caller::{self, Caller};
use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::{client_addr, decode_form, Params};
use super::AppState;
use crate::domain::files::{base_name, Actor, Files, Incoming, UploadItem};
use crate::domain::rooms::{ROLE_ADMIN, ROLE_OWNER};
use crate::domain::util::now_millis;
use crate::domain::{Code, Ctx, Error};

/// Largest text field of a multipart form, bytes.
const MAX_TEXT_FIELD: usize = 64 * 1024;
/// Largest urlencoded body of the delete/copy servlets, bytes.
const MAX_SMALL_FORM: usize = 256 * 1024;

const FILE: ParamDoc = p(
    "file",
    "string",
    true,
    "multipart file part(s); any field name, every non-empty part is stored",
);
const USER_ID: ParamDoc = p(
    "userId",
    "long",
    false,
    "uploader, default 0 (the token's user when an access_token is sent)",
);
const TOKEN: ParamDoc = p(
    "access_token",
    "string",
    false,
    "optional (required when files.require_token); when sent it must be valid and match userId",
);
const VALID_TIME: ParamDoc = p(
    "validTime",
    "number",
    false,
    "days until the file is deleted; absent/0/negative/unparsable = permanent",
);
const UPLOAD_PARAMS: &[ParamDoc] = &[FILE, USER_ID, VALID_TIME, TOKEN];
const UPLOAD_DATA: &str = "{images, audios, videos, others}: [{oFileName, oUrl, tUrl (images), status 1} | {oFileName, status 0, message}]; top level success, failure, total, time (ms)";

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/upload/UploadServlet",
        tag: "upload",
        summary: "Upload files (images get a 100 px thumbnail); per-file failures in the item. Without a token, filed under userId only from an address that user logged in or registered from, else under user 0 with an expiry",
        access: Access::Open,
        params: UPLOAD_PARAMS,
        codes: &[1010101, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: UPLOAD_DATA,
    },
    EndpointDoc {
        path: "/upload/upload/UploadServlet",
        tag: "upload",
        summary: "Alias of /upload/UploadServlet (the reference's doubled context path)",
        access: Access::Open,
        params: UPLOAD_PARAMS,
        codes: &[1010101, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: UPLOAD_DATA,
    },
    EndpointDoc {
        path: "/upload/UploadifyServlet",
        tag: "upload",
        summary: "Upload as /upload/UploadServlet, plus top-level url = the first file's oUrl (jQuery/layui clients)",
        access: Access::Open,
        params: UPLOAD_PARAMS,
        codes: &[1010101, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: UPLOAD_DATA,
    },
    EndpointDoc {
        path: "/upload/UploadVoiceServlet",
        tag: "upload",
        summary: "Upload voice messages (same answer as /upload/UploadServlet)",
        access: Access::Open,
        params: UPLOAD_PARAMS,
        codes: &[1010101, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: UPLOAD_DATA,
    },
    EndpointDoc {
        path: "/upload/UploadAvatarServlet",
        tag: "upload",
        summary: "Set a user's avatar: JPEG at avatar/o/<userId%10000>/<userId>.jpg, 100 px thumbnail in avatar/t/ (its token, or no token from an address it logged in or registered from)",
        access: Access::Open,
        params: &[
            FILE,
            p("userId", "long", true, "whose avatar"),
            TOKEN,
        ],
        codes: &[0, 1010101, 1010102, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: "{oUrl, tUrl}",
    },
    EndpointDoc {
        path: "/upload/UploadifyAvatarServlet",
        tag: "upload",
        summary: "As /upload/UploadAvatarServlet, plus top-level url = oUrl",
        access: Access::Open,
        params: &[
            FILE,
            p("userId", "long", true, "whose avatar"),
            TOKEN,
        ],
        codes: &[0, 1010101, 1010102, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: "{oUrl, tUrl}",
    },
    EndpointDoc {
        path: "/upload/GroupAvatarServlet",
        tag: "upload",
        summary: "Set a room's avatar under avatar/o|t/<|hash(jid)|%10000>/<|hash(jid)|%20000>/<jid>.jpg (owner/admin by token; without one, from an address the owner logged in or registered from)",
        access: Access::Open,
        params: &[
            FILE,
            p("jid", "string", true, "the room's jid (roomJid is accepted too)"),
            TOKEN,
        ],
        codes: &[0, 1010101, 1010102, 1020101, 1030101, 1030102, 1030103, 1040106],
        data: "{oUrl, tUrl}",
    },
    EndpointDoc {
        path: "/upload/deleteFileServlet",
        tag: "upload",
        summary: "Delete my uploaded files (and image thumbnails) by URL or path",
        access: Access::User,
        params: &[p(
            "paths",
            "string",
            true,
            "URL or path, repeatable (or comma separated)",
        )],
        codes: &[],
        data: "\"\"; top level success, failure, total, time (ms)",
    },
    EndpointDoc {
        path: "/upload/copyFileServlet",
        tag: "upload",
        summary: "Copy a stored file to a new name in my own directory; the copy is mine",
        access: Access::User,
        params: &[
            p("paths", "string", true, "URL or path of the source"),
            VALID_TIME,
        ],
        codes: &[0],
        data: "{path, url, success, failure}",
    },
    EndpointDoc {
        path: "/upload/copyFile",
        tag: "upload",
        summary: "The API's file copy (forwarding a file message): a new URL for the same content",
        access: Access::User,
        params: &[
            p("paths", "string", true, "URL of the source; \"-1\" = nothing to copy (no url)"),
            p("validTime", "number", false, "days, default -1 (permanent)"),
        ],
        codes: &[0],
        data: "{url}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/upload/UploadServlet", upload_servlet);
    r.add("/upload/upload/UploadServlet", upload_servlet);
    r.add("/upload/UploadifyServlet", uploadify_servlet);
    r.add("/upload/UploadVoiceServlet", upload_servlet);
    r.add("/upload/UploadAvatarServlet", avatar_servlet);
    r.add("/upload/UploadifyAvatarServlet", uploadify_avatar_servlet);
    r.add("/upload/GroupAvatarServlet", group_avatar_servlet);
    r.add("/upload/deleteFileServlet", delete_servlet);
    r.add("/upload/copyFileServlet", copy_servlet);
    r.add("/upload/copyFile", copy_file);
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A servlet answer: the reference's JSON plus `currentTime` (ms), which every answer of this
/// server carries (clients ignore it; the reference's upload service has none).
fn servlet_json(status: StatusCode, v: &Value) -> HttpResponse {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.insert("currentTime".into(), json!(now_millis()));
    }
    HttpResponse::build(status)
        .content_type("application/json; charset=UTF-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(v.to_string())
}

/// A servlet failure `{resultCode, resultMsg}` with the error's HTTP status.
fn servlet_error(e: &Error) -> HttpResponse {
    if let Error::Internal(detail) = e {
        tracing::error!(%detail, "upload failed");
    }
    servlet_json(
        e.status_code(),
        &json!({"resultCode": e.code(), "resultMsg": e.to_string()}),
    )
}

fn form_parse_failed() -> Error {
    Error::CodeMsg {
        code: Code::InternalError,
        msg: "表单解析失败".into(),
    }
}

fn no_file() -> Error {
    Error::CodeMsg {
        code: Code::ParamsAuthFail,
        msg: "缺少上传文件".into(),
    }
}

fn missing_param() -> Error {
    Error::CodeMsg {
        code: Code::ParamsAuthFail,
        msg: "缺少请求参数".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a multipart form

/// A multipart form: its text fields (after the query string) and its files in temp files.
struct Form {
    pairs: Vec<(String, String)>,
    files: Vec<Incoming>,
}

impl Form {
    /// Removes every temporary file still held (on refusal, or parts nobody used).
    async fn discard(self) {
        for f in self.files {
            let _ = tokio::fs::remove_file(&f.temp).await;
        }
    }
}

/// Drains what is left of a refused body so the client reads the answer instead of a reset
/// connection; a body far beyond the limit is cut off.
async fn drain(
    mut current: actix_multipart::Field,
    mut form: actix_multipart::Multipart,
    budget: u64,
) {
    let mut seen = 0u64;
    // The part being read first (the next part cannot start before it ends), then the others.
    while let Some(Ok(chunk)) = current.next().await {
        seen += chunk.len() as u64;
        if seen > budget {
            return;
        }
    }
    drop(current);
    while let Some(Ok(mut field)) = form.next().await {
        while let Some(Ok(chunk)) = field.next().await {
            seen += chunk.len() as u64;
            if seen > budget {
                return;
            }
        }
    }
}

/// How fast an upload body must arrive: no pause longer than `limits.upload_idle_secs`, and
/// after that long at least `limits.upload_min_rate` bytes/s on average (a body trickled in
/// byte by byte is cut off, a slow mobile link is not).
struct Pace {
    started: Instant,
    idle: std::time::Duration,
    min_rate: u64,
}

impl Pace {
    fn new(limits: &crate::config::Limits) -> Pace {
        Pace {
            started: Instant::now(),
            idle: std::time::Duration::from_secs(limits.upload_idle_secs.max(1)),
            min_rate: limits.upload_min_rate,
        }
    }

    /// The stream's next item, `total` bytes having arrived so far.
    async fn next<S: futures_util::Stream + Unpin>(
        &self,
        s: &mut S,
        total: u64,
    ) -> Result<Option<S::Item>, Error> {
        let slow = || Error::invalid("file", "上传过慢 (the upload arrived too slowly)");
        let item = tokio::time::timeout(self.idle, s.next())
            .await
            .map_err(|_| slow())?;
        let late = self.started.elapsed().saturating_sub(self.idle).as_secs();
        if total < late.saturating_mul(self.min_rate) {
            return Err(slow());
        }
        Ok(item)
    }
}

/// Streams a multipart body into temporary files, enforcing the limits while reading.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    ctx: &Ctx,
    files: &Files,
) -> Result<Form, Error> {
    let limits = &ctx.config.files;
    let mut pairs = decode_form(req.query_string().as_bytes())?;
    let mut out: Vec<Incoming> = Vec::new();
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut total = 0u64;
    let fail = |out: Vec<Incoming>, e: Error| async move {
        for f in out {
            let _ = tokio::fs::remove_file(&f.temp).await;
        }
        Err(e)
    };
    let mut parts = 0usize;
    let mut text_bytes = 0usize;
    let pace = Pace::new(&ctx.config.limits);
    loop {
        let field = match pace.next(&mut form, total).await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return fail(out, e).await,
        };
        let Ok(mut field) = field else {
            return fail(out, form_parse_failed()).await;
        };
        parts += 1;
        if parts > limits.max_parts {
            return fail(
                out,
                Error::invalid("file", format!("表单最多 {} 项", limits.max_parts)),
            )
            .await;
        }
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(base_name);
        let Some(file_name) = file_name else {
            // Text fields count toward the request's size, and all of them together are held
            // to the small-form limit: only files stream to disk.
            let mut value = Vec::new();
            loop {
                let chunk = match pace.next(&mut field, total).await {
                    Ok(Some(Ok(c))) => c,
                    Ok(None) => break,
                    Ok(Some(Err(_))) => return fail(out, form_parse_failed()).await,
                    Err(e) => return fail(out, e).await,
                };
                total += chunk.len() as u64;
                text_bytes += chunk.len();
                if value.len() + chunk.len() > MAX_TEXT_FIELD || text_bytes > MAX_SMALL_FORM {
                    drain(field, form, MAX_SMALL_FORM as u64).await;
                    return fail(
                        out,
                        Error::TooLarge {
                            limit: MAX_SMALL_FORM,
                        },
                    )
                    .await;
                }
                value.extend_from_slice(&chunk);
            }
            match String::from_utf8(value) {
                Ok(v) => pairs.push((name, v)),
                Err(_) => {
                    return fail(
                        out,
                        Error::invalid(&name, "不是有效的 UTF-8 (invalid UTF-8)"),
                    )
                    .await
                }
            }
            continue;
        };
        let temp: PathBuf = match files.storage().temp_file().await {
            Ok(t) => t,
            Err(e) => return fail(out, Error::Internal(e.to_string())).await,
        };
        let mut file = match tokio::fs::File::create(&temp).await {
            Ok(f) => Some(f),
            Err(e) => return fail(out, Error::Internal(e.to_string())).await,
        };
        let mut size = 0u64;
        let mut refused = None;
        loop {
            let chunk = match pace.next(&mut field, total).await {
                Ok(Some(Ok(c))) => c,
                Ok(None) => break,
                Ok(Some(Err(_))) => {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return fail(out, form_parse_failed()).await;
                }
                Err(e) => {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return fail(out, e).await;
                }
            };
            size += chunk.len() as u64;
            total += chunk.len() as u64;
            if total > limits.max_request_bytes {
                drop(file.take());
                let _ = tokio::fs::remove_file(&temp).await;
                drain(field, form, limits.max_request_bytes.saturating_mul(2)).await;
                return fail(
                    out,
                    Error::TooLarge {
                        limit: limits.max_request_bytes as usize,
                    },
                )
                .await;
            }
            if size > limits.max_file_bytes && refused.is_none() {
                // This part is refused; the rest of it is read and dropped, the others go on.
                refused = Some(format!(
                    "文件大小超过限制 (file larger than {} bytes)",
                    limits.max_file_bytes
                ));
                drop(file.take());
                let _ = tokio::fs::remove_file(&temp).await;
            }
            if let Some(f) = file.as_mut() {
                if let Err(e) = f.write_all(&chunk).await {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return fail(out, Error::Internal(e.to_string())).await;
                }
            }
        }
        if let Some(mut f) = file.take() {
            if let Err(e) = f.flush().await {
                let _ = tokio::fs::remove_file(&temp).await;
                return fail(out, Error::Internal(e.to_string())).await;
            }
        }
        if size == 0 {
            // Empty file inputs are what a form sends for "no file chosen".
            let _ = tokio::fs::remove_file(&temp).await;
            continue;
        }
        out.push(Incoming {
            original_name: file_name,
            temp,
            size,
            refused,
        });
    }
    Ok(Form { pairs, files: out })
}

/// Who an upload comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Uploader {
    /// A valid `access_token`'s user.
    Token(i32),
    /// No token, from an address `userId` logged in from with a password (the jQuery client
    /// posts its forms without one).
    Vouched(i32),
    /// No token and nothing vouching for the claimed `userId`.
    Anonymous,
}

impl Uploader {
    /// The user this upload may act for, if any.
    fn user(self) -> Option<i32> {
        match self {
            Uploader::Token(u) | Uploader::Vouched(u) => Some(u),
            Uploader::Anonymous => None,
        }
    }
}

/// The caller of an upload: the token's user when a token is sent (checked like any API
/// call); without one, the claimed `userId` when the client's address is one that user logged
/// in from, else anonymous (within the per-address quota, unless `files.require_token`).
async fn identify(ctx: &Ctx, req: &HttpRequest, params: &Params) -> Result<Uploader, Error> {
    if params.str("access_token").is_some_and(|t| !t.is_empty()) {
        return match caller::authorize(ctx, req.path(), &params.credentials()).await? {
            Caller::User(id) => Ok(Uploader::Token(id)),
            _ => Err(Error::Code(Code::TokenInvalid)),
        };
    }
    if ctx.config.files.require_token {
        return Err(Error::Code(Code::TokenMissing));
    }
    let source = client_addr(req, &ctx.config.trusted_proxies);
    let claimed = params
        .str("userId")
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|u| *u > 0);
    if let (Some(uid), Some(ip)) = (claimed, source) {
        if ctx.passwords.guard().trusts(uid, ip) {
            return Ok(Uploader::Vouched(uid));
        }
    }
    if !ctx.files.admit_anonymous(source) {
        return Err(Error::Code(Code::TooFrequent));
    }
    Ok(Uploader::Anonymous)
}

/// `userId` of an upload: the parameter (default 0, or the caller's user); a known caller may
/// only upload as themself.
fn upload_user(params: &Params, me: Option<i32>, required: bool) -> Result<i64, Error> {
    let given = match params.str("userId") {
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| Error::invalid("userId", "应为非负整数"))?,
        ),
        None => None,
    };
    match (given, me) {
        (Some(u), Some(me)) if u != i64::from(me) => Err(Error::Code(Code::AuthFailed)),
        (Some(u), _) => Ok(u),
        (None, Some(me)) => Ok(i64::from(me)),
        (None, None) if required => Err(missing_param()),
        (None, None) => Ok(0),
    }
}

/// `validTime` in days: absent → 0, unparsable → -1 (both permanent), as the reference. An
/// anonymous upload lives `files.anonymous_valid_days` at most.
fn valid_days(params: &Params, uploader: Uploader, ctx: &Ctx) -> f64 {
    let asked = match params.str("validTime") {
        None => 0.0,
        Some(v) => v.trim().parse::<f64>().unwrap_or(-1.0),
    };
    let cap = ctx.config.files.anonymous_valid_days;
    if uploader == Uploader::Anonymous && cap > 0.0 && !(asked > 0.0 && asked < cap) {
        cap
    } else {
        asked
    }
}

/// `scheme://host` of the request (the default URL prefix).
/// The scheme and host the client reached us at (the base of the URLs we hand out).
pub fn request_base(req: &HttpRequest) -> String {
    let ci = req.connection_info();
    format!("{}://{}", ci.scheme(), ci.host())
}

fn state_ctx(state: &web::Data<AppState>) -> &Ctx {
    &state.ctx
}

// ---------------------------------------------------------------------------------------------
// Upload servlets

/// The items and counters of an `UploadServlet` answer.
fn upload_body(items: &[UploadItem], started: Instant) -> Value {
    let mut arrays: Map<String, Value> = ["images", "audios", "videos", "others"]
        .iter()
        .map(|k| (k.to_string(), json!([])))
        .collect();
    let mut success = 0;
    for it in items {
        let v = match &it.outcome {
            Ok((o, t)) => {
                success += 1;
                let mut m = Map::new();
                m.insert("oFileName".into(), json!(it.original_name));
                m.insert("oUrl".into(), json!(o));
                m.insert("status".into(), json!(1));
                if let Some(t) = t {
                    m.insert("tUrl".into(), json!(t));
                }
                Value::Object(m)
            }
            Err(msg) => json!({"oFileName": it.original_name, "status": 0, "message": msg}),
        };
        if let Some(Value::Array(a)) = arrays.get_mut(it.kind.array()) {
            a.push(v);
        }
    }
    json!({
        "total": items.len(),
        "data": Value::Object(arrays),
        "success": success,
        "failure": items.len() - success,
        "resultCode": 1,
        "time": started.elapsed().as_millis() as u64,
    })
}

/// Reads, authorizes and stores every file of an upload request.
async fn handle_upload(
    req: &HttpRequest,
    payload: web::Payload,
    state: &web::Data<AppState>,
) -> Result<(Vec<UploadItem>, Instant), Error> {
    let started = Instant::now();
    let ctx = state_ctx(state);
    let files = &ctx.files;
    let mut form = read_form(req, payload, ctx, files).await?;
    let params = Params::from_pairs(std::mem::take(&mut form.pairs));
    let checked = async {
        let uploader = identify(ctx, req, &params).await?;
        let claimed = upload_user(&params, uploader.user(), false)?;
        // An anonymous upload is nobody's: it is filed under user 0, never the claimed user.
        let owner = if uploader == Uploader::Anonymous {
            0
        } else {
            claimed
        };
        Ok::<_, Error>((uploader, owner))
    }
    .await;
    let (uploader, user_id) = match checked {
        Ok(u) => u,
        Err(e) => {
            form.discard().await;
            return Err(e);
        }
    };
    if form.files.is_empty() {
        return Err(no_file());
    }
    let days = valid_days(&params, uploader, ctx);
    let base = files.base_url(&request_base(req));
    // One file after another: each image decode waits for the process's decoder pool, so a
    // request of many large images never holds more than one decode's memory at a time.
    let mut items = Vec::with_capacity(form.files.len());
    for inc in form.files {
        items.push(files.store_upload(inc, user_id, days, &base).await);
    }
    Ok((items, started))
}

async fn upload_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_upload(&req, payload, &state).await {
        Ok((items, started)) => servlet_json(StatusCode::OK, &upload_body(&items, started)),
        Err(e) => servlet_error(&e),
    }
}

async fn uploadify_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_upload(&req, payload, &state).await {
        Ok((items, started)) => {
            let mut body = upload_body(&items, started);
            if let Some((o, _)) = items.iter().find_map(|i| i.outcome.as_ref().ok()) {
                body["url"] = json!(o);
            }
            servlet_json(StatusCode::OK, &body)
        }
        Err(e) => servlet_error(&e),
    }
}

/// Which avatar an avatar servlet sets.
enum AvatarTarget {
    User,
    Room,
}

/// Reads the form, checks the caller and stores the first file as the avatar.
async fn handle_avatar(
    req: &HttpRequest,
    payload: web::Payload,
    state: &web::Data<AppState>,
    target: AvatarTarget,
) -> Result<(String, String), Error> {
    let ctx = state_ctx(state);
    let files = &ctx.files;
    let mut form = read_form(req, payload, ctx, files).await?;
    let params = Params::from_pairs(std::mem::take(&mut form.pairs));
    let base = files.base_url(&request_base(req));
    let chosen = if form.files.is_empty() {
        None
    } else {
        Some(form.files.remove(0))
    };
    let result = async {
        let uploader = identify(ctx, req, &params).await?;
        let target_name = match target {
            AvatarTarget::User => {
                // Nobody writes under another user's name: an avatar needs its user's token,
                // or an address that user logged in from.
                let uid = upload_user(&params, uploader.user(), true)?;
                if uploader == Uploader::Anonymous {
                    return Err(Error::Code(Code::AuthFailed));
                }
                Some(uid)
            }
            AvatarTarget::Room => None,
        };
        let jid = match target {
            AvatarTarget::Room => {
                let jid = params
                    .str("jid")
                    .or_else(|| params.str("roomJid"))
                    .ok_or_else(missing_param)?
                    .trim()
                    .to_string();
                let plain = !jid.is_empty()
                    && jid.len() <= 64
                    && jid
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !plain {
                    return Err(Error::invalid("jid", "不是有效的群 jid"));
                }
                match uploader {
                    Uploader::Token(me) => check_room_manager(ctx, &jid, me).await?,
                    // Without a token: from an address the room's owner logged in from.
                    _ => check_room_owner_source(ctx, req, &jid).await?,
                }
                Some(jid)
            }
            AvatarTarget::User => None,
        };
        let inc = chosen.as_ref().ok_or_else(no_file)?;
        if let Some(reason) = &inc.refused {
            return Err(Error::failure(reason.clone()));
        }
        match (target_name, jid) {
            (Some(uid), _) => files.store_avatar(&inc.temp, uid, &base).await,
            (None, Some(jid)) => files.store_group_avatar(&inc.temp, &jid, &base).await,
            (None, None) => Err(missing_param()),
        }
    }
    .await;
    if let Some(inc) = chosen {
        let _ = tokio::fs::remove_file(&inc.temp).await;
    }
    form.discard().await;
    result
}

/// A room avatar may be set by the room's owner or an admin.
async fn check_room_manager(ctx: &Ctx, jid: &str, me: i32) -> Result<(), Error> {
    let room = ctx
        .store
        .rooms
        .get_room_by_jid(jid)
        .await?
        .ok_or_else(|| Error::failure("群组不存在"))?;
    let rid = room.id.clone().unwrap_or_default();
    let role = ctx.store.rooms.get_member(&rid, me).await?.map(|m| m.role);
    if room.user_id == me || role == Some(ROLE_OWNER) || role == Some(ROLE_ADMIN) {
        Ok(())
    } else {
        Err(Error::failure("权限不足!"))
    }
}

/// An anonymous room-avatar upload must come from an address the room's owner logged in from.
async fn check_room_owner_source(ctx: &Ctx, req: &HttpRequest, jid: &str) -> Result<(), Error> {
    let room = ctx
        .store
        .rooms
        .get_room_by_jid(jid)
        .await?
        .ok_or_else(|| Error::failure("群组不存在"))?;
    let source = client_addr(req, &ctx.config.trusted_proxies);
    if source.is_some_and(|ip| ctx.passwords.guard().trusts(room.user_id, ip)) {
        Ok(())
    } else {
        Err(Error::Code(Code::AuthFailed))
    }
}

fn avatar_answer(r: Result<(String, String), Error>, top_level_url: bool) -> HttpResponse {
    match r {
        Ok((o, t)) => {
            let mut body = json!({"resultCode": 1, "data": {"oUrl": o, "tUrl": t}});
            if top_level_url {
                body["url"] = json!(o);
            }
            servlet_json(StatusCode::OK, &body)
        }
        Err(e) => servlet_error(&e),
    }
}

async fn avatar_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    avatar_answer(
        handle_avatar(&req, payload, &state, AvatarTarget::User).await,
        false,
    )
}

async fn uploadify_avatar_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    avatar_answer(
        handle_avatar(&req, payload, &state, AvatarTarget::User).await,
        true,
    )
}

async fn group_avatar_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    avatar_answer(
        handle_avatar(&req, payload, &state, AvatarTarget::Room).await,
        false,
    )
}

// ---------------------------------------------------------------------------------------------
// Delete and copy

/// Every parameter of a small form (query, then an urlencoded or multipart body), keeping
/// repeated names (`paths` may repeat).
async fn read_small_form(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = decode_form(req.query_string().as_bytes())?;
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        let mut total = 0usize;
        while let Some(field) = form.next().await {
            let mut field = field.map_err(|_| form_parse_failed())?;
            let name = field.name().unwrap_or_default().to_string();
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|_| form_parse_failed())?;
                total += chunk.len();
                if total > MAX_SMALL_FORM {
                    return Err(Error::TooLarge {
                        limit: MAX_SMALL_FORM,
                    });
                }
                value.extend_from_slice(&chunk);
            }
            let v = String::from_utf8(value)
                .map_err(|_| Error::invalid(&name, "不是有效的 UTF-8 (invalid UTF-8)"))?;
            pairs.push((name, v));
        }
    } else {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| form_parse_failed())?;
            if body.len() + chunk.len() > MAX_SMALL_FORM {
                return Err(Error::TooLarge {
                    limit: MAX_SMALL_FORM,
                });
            }
            body.extend_from_slice(&chunk);
        }
        pairs.extend(decode_form(&body)?);
    }
    Ok(pairs)
}

/// The user a delete/copy servlet call comes from (a token is required).
async fn servlet_user(ctx: &Ctx, path: &str, params: &Params) -> Result<i32, Error> {
    match caller::authorize(ctx, path, &params.credentials()).await? {
        Caller::User(id) => Ok(id),
        _ => Err(Error::Code(Code::TokenMissing)),
    }
}

/// Every `paths` value, repeated or comma separated.
fn all_paths(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "paths" || k == "paths[]")
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn delete_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let ctx = state_ctx(&state);
    let r = async {
        let pairs = read_small_form(&req, payload).await?;
        let params = Params::from_pairs(pairs.clone());
        let me = servlet_user(ctx, req.path(), &params).await?;
        let paths = all_paths(&pairs);
        if paths.is_empty() {
            return Err(Error::missing("paths"));
        }
        let files = &ctx.files;
        let mut success = 0usize;
        for p in &paths {
            match files.delete_url(p, Actor::User(me)).await {
                Ok(true) => success += 1,
                Ok(false) | Err(Error::Code(Code::NotPermissionDelete)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((paths.len(), success))
    }
    .await;
    match r {
        Ok((total, success)) => servlet_json(
            StatusCode::OK,
            &json!({
                "resultCode": 1,
                "data": "",
                "success": success,
                "failure": total - success,
                "total": total,
                "time": started.elapsed().as_millis() as u64,
            }),
        ),
        Err(e) => servlet_error(&e),
    }
}

async fn copy_servlet(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let ctx = state_ctx(&state);
    let r = async {
        let pairs = read_small_form(&req, payload).await?;
        let params = Params::from_pairs(pairs);
        let me = servlet_user(ctx, req.path(), &params).await?;
        let source = params.required("paths")?;
        let days = params.f64("validTime")?.unwrap_or(-1.0);
        let files = &ctx.files;
        let base = files.base_url(&request_base(&req));
        files.copy_url(source, days, Some(me), &base).await
    }
    .await;
    match r {
        Ok((path, url)) => servlet_json(
            StatusCode::OK,
            &json!({"resultCode": 1, "data": {"path": path, "url": url, "success": 1, "failure": 0}}),
        ),
        Err(e) => servlet_error(&e),
    }
}

/// `/upload/copyFile`: the API's copy (reference: a call to the upload service's
/// `copyFileServlet`; here the same process).
async fn copy_file(req: HttpRequest, params: Params, state: web::Data<AppState>) -> ApiResult {
    let me = params.me()?;
    let ctx = state_ctx(&state);
    let source = params.get("paths").unwrap_or_default().trim().to_string();
    if source == "-1" {
        return Ok(Reply::data(json!({})));
    }
    if source.is_empty() {
        return Err(Error::failure("源文件不存在"));
    }
    let days = params.f64("validTime")?.unwrap_or(-1.0);
    let files = &ctx.files;
    let base = files.base_url(&request_base(&req));
    let (_, url) = files.copy_url(&source, days, Some(me), &base).await?;
    Ok(Reply::data(json!({ "url": url })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_repeat_or_split() {
        let pairs = vec![
            ("paths".to_string(), "/a,/b".to_string()),
            ("x".to_string(), "/c".to_string()),
            ("paths".to_string(), " /d ".to_string()),
        ];
        assert_eq!(all_paths(&pairs), vec!["/a", "/b", "/d"]);
    }

    #[test]
    fn upload_user_rules() {
        let p = Params::from_pairs(vec![("userId".into(), "100100".into())]);
        assert_eq!(upload_user(&p, None, false).unwrap(), 100100);
        assert_eq!(upload_user(&p, Some(100100), false).unwrap(), 100100);
        assert_eq!(
            upload_user(&p, Some(5), false).unwrap_err().code(),
            Code::AuthFailed.value()
        );
        let none = Params::from_pairs(vec![]);
        assert_eq!(upload_user(&none, None, false).unwrap(), 0);
        assert_eq!(upload_user(&none, Some(7), true).unwrap(), 7);
        assert_eq!(upload_user(&none, None, true).unwrap_err().code(), 1010101);
        let neg = Params::from_pairs(vec![("userId".into(), "-3".into())]);
        assert!(upload_user(&neg, None, false).is_err());
    }
}
