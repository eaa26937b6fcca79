//! The download side (the reference's nginx on 8089): the stored tree served at its URL path,
//! with `Range` (voice and video seek), `ETag`/`Last-Modified` and conditional requests
//! (actix-files), `Cache-Control` (nginx's `expires 4d`), and the JSON 404 for anything else.
//! Only the listed image, audio and video extensions get their own media type; everything else
//! is an `application/octet-stream` attachment, so nothing uploaded is ever rendered as HTML or
//! run as script (`X-Content-Type-Options: nosniff` stops browsers guessing).
//!
//! Registered as the default service: API routes match first, any other GET/HEAD path is looked
//! up in the tree.

use actix_files::NamedFile;
use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, HeaderValue,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{mime, web, HttpRequest, HttpResponse};

use super::envelope::not_found;
use super::AppState;
use crate::files::{media_type, RelPath};

/// `Cache-Control` of stored files: 4 days, as the reference's nginx `expires 4d`.
const CACHE_CONTROL: &str = "public, max-age=345600";

/// Serves a stored file, or the JSON 404.
pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return not_found(req).await;
    }
    let Some(rel) = RelPath::from_url_path(req.path()) else {
        return not_found(req).await;
    };
    let files = &state.ctx.files;
    let Some(path) = files.storage().local_file(&rel).await else {
        return not_found(req).await;
    };
    let Ok(file) = NamedFile::open_async(&path).await else {
        return not_found(req).await;
    };
    let ext = rel.extension();
    let (content_type, disposition) = match media_type(ext.as_deref()) {
        Some(t) => (
            t.parse::<mime::Mime>()
                .unwrap_or(mime::APPLICATION_OCTET_STREAM),
            DispositionType::Inline,
        ),
        None => (mime::APPLICATION_OCTET_STREAM, DispositionType::Attachment),
    };
    // Several ranges would need a multipart/byteranges answer; actix-files would silently
    // serve the first one only, so they are refused clearly instead.
    if let Some(range) = req.headers().get(header::RANGE) {
        if range.to_str().map(|r| r.contains(',')).unwrap_or(true) {
            let len = file.metadata().len();
            return HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .insert_header(("X-Content-Type-Options", "nosniff"))
                .finish();
        }
    }
    let file = file
        .set_content_type(content_type)
        .set_content_disposition(ContentDisposition {
            disposition,
            parameters: vec![DispositionParam::Filename(rel.file_name().to_string())],
        });
    let mut res = file.into_response(&req);
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
