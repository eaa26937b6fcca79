//! The REST front-end: one module per Shiku controller, each handing its endpoint docs and
//! routes to this file, which assembles them (and the OpenAPI document) through
//! [`docs::Routes`]. Handlers are thin: parameters in, a domain call, the envelope out.

pub mod basic;
pub mod caller;
pub mod console;
pub mod console_friends;
pub mod console_rooms;
pub mod console_ui;
pub mod courses;
pub mod docs;
pub mod envelope;
pub mod favourites;
pub mod files;
pub mod friends;
pub mod hardened;
pub mod nearby;
pub mod org;
pub mod params;
pub mod public_accounts;
pub mod reports;
pub mod room;
pub mod sms;
pub mod state;
pub mod tigase;
pub mod upload;
pub mod user;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use serde_json::Value;

use docs::{EndpointDoc, Routes};
pub use state::AppState;

/// Every REST module: its docs and its route registration.
type Module = (&'static [EndpointDoc], fn(&mut Routes));
const MODULES: &[Module] = &[
    (basic::DOCS, basic::routes),
    (user::DOCS, user::routes),
    (hardened::DOCS, hardened::routes),
    (sms::DOCS, sms::routes),
    (favourites::DOCS, favourites::routes),
    (courses::DOCS, courses::routes),
    (reports::DOCS, reports::routes),
    (console_friends::DOCS, console_friends::routes),
    (console_rooms::DOCS, console_rooms::routes),
    (friends::DOCS, friends::routes),
    (nearby::DOCS, nearby::routes),
    (public_accounts::DOCS, public_accounts::routes),
    (room::DOCS, room::routes),
    (org::DOCS, org::routes),
    (tigase::DOCS, tigase::routes),
    (console::DOCS, console::routes),
    (upload::DOCS, upload::routes),
];

/// Registers every REST route on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (docs, routes) in MODULES {
        routes(&mut Routes::new(cfg, docs));
    }
}

/// Every documented endpoint of the server.
pub fn all_docs() -> Vec<EndpointDoc> {
    MODULES
        .iter()
        .flat_map(|(docs, _)| docs.iter().copied())
        .collect()
}

/// Every route the server registers, per module (for the drift test).
pub fn registered_paths() -> Vec<&'static str> {
    let mut v = Vec::new();
    for (docs, routes) in MODULES {
        let mut r = Routes::collect(docs);
        routes(&mut r);
        v.extend(r.registered);
    }
    v
}

/// The OpenAPI 3 document of every implemented endpoint (`shiku-server openapi`).
pub fn openapi() -> Value {
    docs::openapi(&all_docs())
}

/// Holds each client address to `limits.max_connections_per_address` requests in flight (a
/// client trickling many slow bodies costs only itself); beyond, 1040106 at once.
pub async fn per_address(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let ctx = req.app_data::<web::Data<crate::domain::Ctx>>().cloned();
    let slot = match ctx.as_ref().and_then(|ctx| {
        params::client_addr(req.request(), &ctx.config.trusted_proxies).map(|ip| (ctx, ip))
    }) {
        Some((ctx, ip)) => match ctx.connections.acquire(ip) {
            Some(slot) => Some(slot),
            None => {
                let body = envelope::body(
                    crate::domain::Code::TooFrequent.value(),
                    Some("请求过于频繁，请稍后再试 (too many requests from this address)"),
                    None,
                )
                .to_string();
                return Ok(req.into_response(
                    HttpResponse::TooManyRequests()
                        .content_type("application/json; charset=UTF-8")
                        .body(body),
                ));
            }
        },
        None => None,
    };
    let res = next.call(req).await?.map_into_boxed_body();
    drop(slot);
    Ok(res)
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
