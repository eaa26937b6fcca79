//! `BasicController`: `/config`, `/getCurrentTime`, `/verify/telephone`.

use actix_web::{web, HttpRequest};
use serde_json::json;

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::client_config::client_config;
use crate::domain::users;
use crate::domain::util::now_millis;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/config",
        tag: "basic",
        summary: "System configuration clients read at start (XMPPDomain, XMPPHost, xmppPingTime, apiUrl, uploadUrl, downloadUrl, downloadAvatarUrl, ...)",
        access: Access::Open,
        params: &[],
        codes: &[],
        data: "ConfigVO object",
    },
    EndpointDoc {
        path: "/logined/config",
        tag: "basic",
        summary: "The /config object for a logged-in client",
        access: Access::User,
        params: &[],
        codes: &[],
        data: "ConfigVO object",
    },
    EndpointDoc {
        path: "/getCurrentTime",
        tag: "basic",
        summary: "Server time in ms, in data and in the top-level currentTime",
        access: Access::Open,
        params: &[],
        codes: &[],
        data: "long, ms",
    },
    EndpointDoc {
        path: "/_ping",
        tag: "basic",
        summary: "Nothing but an answer: the newest Vue client times the round trip every 2 s",
        access: Access::Open,
        params: &[],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/verify/telephone",
        tag: "basic",
        summary: "Whether a phone number is registered (verifyType 0: success when not registered; 1: the inverse)",
        access: Access::Open,
        params: &[
            p("telephone", "string", true, "national phone number (plain)"),
            p("areaCode", "string", false, "country code, default 86"),
            p("verifyType", "integer", false, "0 (default) or 1"),
        ],
        codes: &[0],
        data: "none; resultMsg 手机号未注册 / 手机号已注册",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/config", config);
    r.add("/logined/config", logined_config);
    r.add("/getCurrentTime", current_time);
    r.add("/_ping", ping);
    r.add("/verify/telephone", verify_telephone);
}

async fn config(req: HttpRequest, state: web::Data<AppState>, params: Params) -> ApiResult {
    let host = req.connection_info().host().to_string();
    Ok(Reply::data(client_config(
        &state.ctx,
        params.peer_ip(),
        &host,
    )))
}

async fn logined_config(req: HttpRequest, state: web::Data<AppState>, params: Params) -> ApiResult {
    params.me()?;
    let host = req.connection_info().host().to_string();
    Ok(Reply::data(client_config(
        &state.ctx,
        params.peer_ip(),
        &host,
    )))
}

async fn current_time(_params: Params) -> ApiResult {
    Ok(Reply::data(json!(now_millis())))
}

async fn ping(_params: Params) -> ApiResult {
    Ok(Reply::ok())
}

async fn verify_telephone(state: web::Data<AppState>, params: Params) -> ApiResult {
    let msg = users::verify_telephone(
        &state.ctx,
        params.str("areaCode").unwrap_or("86"),
        params.required("telephone")?,
        params.i32_or("verifyType", 0)?,
    )
    .await?;
    Ok(Reply::msg(msg))
}
