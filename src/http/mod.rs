//! The REST front-end: one module per Shiku controller, each registering its routes through
//! [`docs::Routes`]. Handlers are thin: parameters in, a domain call, the envelope out.

pub mod basic;
pub mod caller;
pub mod console;
pub mod console_ui;
pub mod docs;
pub mod envelope;
pub mod files;
pub mod friends;
pub mod org;
pub mod params;
pub mod room;
pub mod tigase;
pub mod upload;
pub mod user;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::domain::Ctx;

/// State shared by every handler.
pub struct AppState {
    pub ctx: Arc<Ctx>,
}

/// Registers every REST route (and the JSON 404) on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    docs::configure_all(cfg);
}

/// CORS as the reference sends it on every response; `OPTIONS` pre-flights are answered here.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let mut res = if req.method() == Method::OPTIONS {
        let body = envelope::body(1, None, None).to_string();
        req.into_response(
            HttpResponse::Ok()
                .content_type("application/json; charset=UTF-8")
                .body(body),
        )
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("x-requested-with, content-type"),
    );
    Ok(res)
}
