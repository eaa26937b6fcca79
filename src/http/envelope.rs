//! The Shiku response envelope `{currentTime, data?, resultCode, resultMsg?}` (nulls omitted,
//! fastjson's alphabetical order), its console page form `{count, currentTime, data:[..],
//! resultCode, total}` and the rendering of every error into it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::util::now_millis;
use crate::domain::view::JsonText;
use crate::domain::{Error, PageResult};

/// A successful answer.
#[derive(Debug, Default)]
pub struct Reply {
    msg: Option<String>,
    data: Option<Value>,
    /// `data` already serialised (the hot read paths write their rows straight to JSON).
    raw: Option<JsonText>,
    /// Set for the reference's `success(PageResult)`: `count` and `total` sit beside `data`.
    count: Option<u64>,
}

impl Reply {
    /// `{resultCode:1, currentTime}`.
    pub fn ok() -> Reply {
        Reply::default()
    }
    /// `{resultCode:1, data, currentTime}`.
    pub fn data(data: Value) -> Reply {
        Reply {
            data: Some(data),
            ..Reply::default()
        }
    }
    /// `{resultCode:1, data, currentTime}` with `data` already serialised.
    pub fn raw(data: JsonText) -> Reply {
        Reply {
            raw: Some(data),
            ..Reply::default()
        }
    }
    /// `{resultCode:1, resultMsg, data, currentTime}` with `data` already serialised.
    pub fn raw_with(msg: impl Into<String>, data: JsonText) -> Reply {
        Reply {
            msg: Some(msg.into()),
            raw: Some(data),
            ..Reply::default()
        }
    }
    /// `{count, currentTime, data:[rows], resultCode:1, total:0.0}`: the reference's
    /// `success(PageResult)`, which lifts the page's fields into the envelope.
    pub fn page(page: PageResult) -> Reply {
        Reply {
            data: Some(Value::Array(page.data)),
            count: Some(page.count),
            ..Reply::default()
        }
    }
    /// `{resultCode:1, resultMsg, data?, currentTime}` (the reference's `success(msg, data)`).
    pub fn with(msg: impl Into<String>, data: Option<Value>) -> Reply {
        Reply {
            msg: Some(msg.into()),
            data,
            ..Reply::default()
        }
    }
    /// `{resultCode:1, resultMsg, currentTime}`.
    pub fn msg(msg: impl Into<String>) -> Reply {
        Reply {
            msg: Some(msg.into()),
            ..Reply::default()
        }
    }
}

/// What every handler returns.
pub type ApiResult = Result<Reply, Error>;

/// Renders an envelope body.
pub fn body(code: i64, msg: Option<&str>, data: Option<Value>) -> Value {
    let data = data.filter(|d| !d.is_null());
    serde_json::to_value(Envelope::new(code, msg, data.as_ref(), None)).unwrap_or_default()
}

/// The envelope, its fields in fastjson's alphabetical key order; `count` makes it a page
/// (`total` beside it: Java's `double total`, which the console pages leave at 0).
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(rename = "currentTime")]
    current_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(rename = "resultCode")]
    result_code: i64,
    #[serde(rename = "resultMsg", skip_serializing_if = "Option::is_none")]
    result_msg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<f64>,
}

impl<'a> Envelope<'a> {
    fn new(code: i64, msg: Option<&'a str>, data: Option<&'a Value>, count: Option<u64>) -> Self {
        Envelope {
            count,
            current_time: now_millis(),
            data,
            result_code: code,
            result_msg: msg,
            total: count.map(|_| 0.0),
        }
    }
}

fn json_response(status: StatusCode, v: &impl Serialize) -> HttpResponse {
    // Straight into bytes (`to_string` goes through `fmt::Write`, several times slower), in a
    // buffer most answers fit without growing.
    let mut body = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut body, v).is_err() {
        body.clear();
    }
    bytes_response(status, body)
}

fn bytes_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json; charset=UTF-8")
        .body(body)
}

/// The envelope around `data` the server already wrote: the text [`Envelope`] gives (same keys,
/// same order), with `data` copied in rather than parsed and written again.
fn raw_envelope(msg: Option<&str>, data: &JsonText) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(data.as_str().len() + 64 + msg.map_or(0, str::len));
    let _ = write!(out, "{{\"currentTime\":{},\"data\":", now_millis());
    out.extend_from_slice(data.as_str().as_bytes());
    out.extend_from_slice(b",\"resultCode\":1");
    if let Some(msg) = msg {
        out.extend_from_slice(b",\"resultMsg\":");
        let _ = serde_json::to_writer(&mut out, msg);
    }
    out.push(b'}');
    out
}

impl actix_web::Responder for Reply {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        // Only `raw`/`raw_with` set `raw`, never with a `count`.
        if let Some(raw) = &self.raw {
            return bytes_response(StatusCode::OK, raw_envelope(self.msg.as_deref(), raw));
        }
        let data = self.data.as_ref().filter(|d| !d.is_null());
        let envelope = Envelope::new(1, self.msg.as_deref(), data, self.count);
        json_response(StatusCode::OK, &envelope)
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // Shiku answers every business and token error with HTTP 200.
            _ => StatusCode::OK,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Internal(detail) = self {
            tracing::error!(%detail, "request failed");
        }
        let msg = self.to_string();
        json_response(
            self.status_code(),
            &Envelope::new(self.code(), Some(&msg), None, None),
        )
    }
}

/// Spring Boot's 404 body, which the reference answers for unknown paths.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({
            "timestamp": now_millis(),
            "status": 404,
            "error": "Not Found",
            "message": "No message available",
            "path": req.path(),
        }),
    )
}
