//! Who is asking: the reference's authorization filter (spec/reference-server.md 1.3) — the open
//! paths, the `access_token` check and the optional `time`/`secret` signature.

use crate::config::SignatureMode;
use crate::domain::auth::{open_secret, time_in_window, token_secret, TokenProblem};
use crate::domain::{users, Code, Ctx, Error};

use super::params::Params;

/// The resolved caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No (valid) token on an open path.
    Anonymous,
    /// A user, by userId.
    User(i32),
}

/// Paths that need no token (the reference's `authorizationfilter.requestUriList`).
const OPEN_PATHS: &[&str] = &[
    "/user/register",
    "/user/login",
    "/verify/telephone",
    "/basic/randcode/sendSms",
    "/user/password/reset",
    "/user/recharge/wxPayCallBack",
    "/user/recharge/aliPayCallBack",
    "/user/wxUserOpenId",
    "/user/getUserInfo",
    "/user/getWxUser",
    "/user/getWxUserbyId",
    "/CustomerService/register",
    "/user/getWxOpenId",
    "/user/registerSDK",
    "/user/sdkLogin",
    "/user/bindingTelephone",
    "/alipay/callBack",
    "/alipay/getAliUser",
    "/wxmeet",
    "/user/checkReportUrl",
    "/open/webAppCheck",
    "/pay/unifiedOrder",
    "/pay/SKPayTest",
    "/getQRCodeKey",
    "/qrCodeLoginCheck",
    "/getImgCode",
];

/// Whether `path` needs no token.
pub fn is_open_path(path: &str) -> bool {
    path.starts_with("/config")
        || path.starts_with("/getCurrentTime")
        || path.starts_with("/job")
        || OPEN_PATHS.contains(&path)
}

/// Paths exempt from every signature check (the client signs them with "null" ids before login).
fn signature_exempt(path: &str) -> bool {
    path.starts_with("/config") || path.starts_with("/getCurrentTime") || path == "/getImgCode"
}

fn signature_failed() -> Error {
    Error::failure("授权认证失败")
}

fn check_time(params: &Params, window: i64) -> Result<i64, Error> {
    let time = params
        .str("time")
        .and_then(|t| t.trim().parse::<i64>().ok())
        .ok_or_else(signature_failed)?;
    if !time_in_window(time, window) {
        return Err(signature_failed());
    }
    Ok(time)
}

/// Runs the filter for `path`: resolves the caller, or refuses the request with the reference's
/// codes (1030101 missing token, 1030102 invalid/revoked token, 0 "授权认证失败" bad signature).
pub async fn authorize(ctx: &Ctx, path: &str, params: &Params) -> Result<Caller, Error> {
    let auth = &ctx.config.auth;
    let token = params.get("access_token");
    let secret = params.str("secret");
    if is_open_path(path) {
        // An open call is signed `md5(apiKey + time)`, checked only when it carries a secret and
        // no access_token parameter at all (an empty one skips it, as the reference does).
        if token.is_none() && auth.signature != SignatureMode::Off && !signature_exempt(path) {
            if let Some(secret) = secret {
                let time = check_time(params, auth.signature_window_secs)?;
                if !secret.eq_ignore_ascii_case(&open_secret(&auth.api_key, time)) {
                    return Err(signature_failed());
                }
            }
        }
        return Ok(match token.filter(|t| !t.is_empty()) {
            Some(t) => match users::authenticate(ctx, t).await? {
                Ok(id) => Caller::User(id),
                Err(_) => Caller::Anonymous,
            },
            None => Caller::Anonymous,
        });
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(Error::Code(Code::TokenMissing))?;
    let user_id = match users::authenticate(ctx, token).await? {
        Ok(id) => id,
        Err(TokenProblem::Invalid) | Err(TokenProblem::Revoked) => {
            return Err(Error::Code(Code::TokenInvalid))
        }
    };
    let must_check = match auth.signature {
        SignatureMode::Off => false,
        SignatureMode::WhenPresent => secret.is_some(),
        SignatureMode::Required => true,
    };
    if must_check {
        let time = check_time(params, auth.signature_window_secs)?;
        let expected = token_secret(&auth.api_key, time, user_id, token);
        if !secret.is_some_and(|s| s.eq_ignore_ascii_case(&expected)) {
            return Err(signature_failed());
        }
    }
    Ok(Caller::User(user_id))
}
