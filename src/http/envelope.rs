//! The Shiku response envelope `{currentTime, data?, resultCode, resultMsg?}` (nulls omitted,
//! fastjson's alphabetical order), its console page form `{count, currentTime, data:[..],
//! resultCode, total}` and the rendering of every error into it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::domain::util::now_millis;
use crate::domain::{Error, PageResult};

/// A successful answer.
#[derive(Debug, Default)]
pub struct Reply {
    msg: Option<String>,
    data: Option<Value>,
    /// `data` already serialised (the hot read paths write their rows straight to JSON).
    raw: Option<Box<RawValue>>,
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
    pub fn raw(data: Box<RawValue>) -> Reply {
        Reply {
            raw: Some(data),
            ..Reply::default()
        }
    }
    /// `{resultCode:1, resultMsg, data, currentTime}` with `data` already serialised.
    pub fn raw_with(msg: impl Into<String>, data: Box<RawValue>) -> Reply {
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
    render(code, msg, data, None)
}

/// The envelope in fastjson's alphabetical key order; `count` makes it a page.
fn render(code: i64, msg: Option<&str>, data: Option<Value>, count: Option<u64>) -> Value {
    let mut m = Map::new();
    if let Some(count) = count {
        m.insert("count".into(), json!(count));
    }
    m.insert("currentTime".into(), json!(now_millis()));
    if let Some(d) = data.filter(|d| !d.is_null()) {
        m.insert("data".into(), d);
    }
    m.insert("resultCode".into(), json!(code));
    if let Some(msg) = msg {
        m.insert("resultMsg".into(), json!(msg));
    }
    if count.is_some() {
        // Java's `double total`, which the console pages leave at 0.
        m.insert("total".into(), json!(0.0));
    }
    Value::Object(m)
}

/// The envelope of an answer whose `data` is already JSON text, in the same key order as
/// [`render`] writes.
#[derive(Serialize)]
struct RawEnvelope<'a> {
    #[serde(rename = "currentTime")]
    current_time: i64,
    data: &'a RawValue,
    #[serde(rename = "resultCode")]
    result_code: i64,
    #[serde(rename = "resultMsg", skip_serializing_if = "Option::is_none")]
    result_msg: Option<&'a str>,
}

fn json_response(status: StatusCode, v: &impl Serialize) -> HttpResponse {
    // Straight into bytes (`to_string` goes through `fmt::Write`, several times slower).
    let body = serde_json::to_vec(v).unwrap_or_default();
    HttpResponse::build(status)
        .content_type("application/json; charset=UTF-8")
        .body(body)
}

impl actix_web::Responder for Reply {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        if let Some(raw) = &self.raw {
            let envelope = RawEnvelope {
                current_time: now_millis(),
                data: raw,
                result_code: 1,
                result_msg: self.msg.as_deref(),
            };
            return json_response(StatusCode::OK, &envelope);
        }
        let v = render(1, self.msg.as_deref(), self.data, self.count);
        json_response(StatusCode::OK, &v)
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
        json_response(
            self.status_code(),
            &body(self.code(), Some(&self.to_string()), None),
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
