//! Who is asking: the reference's authorization filter (spec/reference-server.md 1.3) — the open
//! paths, the `access_token` check, the optional signature (the reference's md5 `time`/`secret`,
//! or the hardened dialect's HMAC `salt`/`secret`, `auth.signature` deciding for both), and the
//! admin area (`/console…`), which takes the integration key or a console token instead of a
//! user token.
//!
//! Console tokens: a JWT of their own audience whose session slides in the store (30 minutes
//! idle, renewed on use, revoked by `/console/logout`; see `domain::console`), held by a user
//! with an active console role (1, 4, 5, 6 or 7). What each role may do is checked by the
//! handlers (`domain::console::Actor::require`).

use crate::config::SignatureMode;
use crate::domain::auth::{open_secret, time_in_window, token_secret, TokenProblem};
use crate::domain::console as console_rules;
use crate::domain::hardened_login;
use crate::domain::public_accounts;
use crate::domain::util::md5_hex;
use crate::domain::{users, Code, Ctx, Error};

/// Audience of admin-console tokens (distinct from user tokens, which the admin area refuses).
pub const CONSOLE_AUDIENCE: &str = console_rules::CONSOLE_AUDIENCE;

/// What the filter reads of a request's parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `access_token` as sent (`Some("")` when sent empty: an open call then skips the
    /// signature, as the reference does).
    pub access_token: Option<&'a str>,
    /// `secret`, when sent and not empty.
    pub secret: Option<&'a str>,
    /// `time`, when sent and not empty (the md5 signature).
    pub time: Option<&'a str>,
    /// `salt`, when sent and not empty (the hardened dialect's signature).
    pub salt: Option<&'a str>,
    /// Every parameter, which the hardened dialect's `secret` covers.
    pub params: &'a [(String, String)],
}

impl Credentials<'_> {
    /// The hardened dialect's signature: `salt` and `secret` without the md5 rule's `time`.
    fn hardened(&self) -> Option<(&str, &str)> {
        match (self.time, self.salt, self.secret) {
            (None, Some(salt), Some(secret)) => Some((salt, secret)),
            _ => None,
        }
    }
}

/// The resolved caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No (valid) token on an open path.
    Anonymous,
    /// A user, by userId.
    User(i32),
    /// The task-management system, by the configured `integration_key` (admin area only).
    Integration,
    /// An admin-console user holding an active console role, by console token (admin area
    /// only).
    Console(i32),
    /// A public account (userType 2) in its back office, by its `/mp/login` token (`/mp`
    /// paths only).
    PublicAccount(i32),
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
    "/_ping",
    // The hardened dialect's login and registration (spec hardened-login.md).
    "/auth/getLoginCode",
    "/authkeys/getLoginPrivateKey",
    "/authkeys/uploadLoginKey",
    "/user/login/v1",
    "/user/login/auto/v1",
    "/user/register/v1",
];

/// Whether `path` needs no token.
pub fn is_open_path(path: &str) -> bool {
    path.starts_with("/config")
        || path.starts_with("/getCurrentTime")
        || path.starts_with("/job")
        || OPEN_PATHS.contains(&path)
}

/// Admin endpoints outside `/console`: site statistics the reference's console reads.
const ADMIN_PATHS_ELSEWHERE: &[&str] = &["/user/getUserStatusCount"];

/// Whether `path` is in the reference's admin area, where user tokens are refused.
pub fn is_admin_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/") || ADMIN_PATHS_ELSEWHERE.contains(&path)
}

/// Admin paths that need no token: the console and public-account logins.
fn is_admin_open_path(path: &str) -> bool {
    path == "/console/login" || path == "/mp/login"
}

/// Whether `path` is the public accounts' back office (`/mp…`), where only their tokens go.
pub fn is_public_account_path(path: &str) -> bool {
    path == "/mp" || path.starts_with("/mp/")
}

/// Whether `given` is the integration key, compared in constant time: both are hashed first (so
/// the length does not leak either) and the digests compared without an early exit, so the key
/// cannot be guessed byte by byte from response times.
fn is_integration_key(given: &str, key: &str) -> bool {
    let (a, b) = (md5_hex(given), md5_hex(key));
    let diff = a
        .bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Paths exempt from every signature check (the jQuery client signs them with "null" ids
/// before login; the Vue client reads `/config` before it knows the apiKey, and times `/_ping`).
fn signature_exempt(path: &str) -> bool {
    path.starts_with("/config")
        || path.starts_with("/getCurrentTime")
        || path == "/getImgCode"
        || path == "/_ping"
}

fn signature_failed() -> Error {
    Error::failure("授权认证失败")
}

fn check_time(creds: &Credentials, window: i64) -> Result<i64, Error> {
    let time = creds
        .time
        .and_then(|t| t.trim().parse::<i64>().ok())
        .ok_or_else(signature_failed)?;
    if !time_in_window(time, window) {
        return Err(signature_failed());
    }
    Ok(time)
}

/// Runs the filter for `path`: resolves the caller, or refuses the request with the reference's
/// codes (1030101 missing token, 1030102 invalid/revoked token, 0 "授权认证失败" bad signature).
pub async fn authorize(ctx: &Ctx, path: &str, creds: &Credentials<'_>) -> Result<Caller, Error> {
    let auth = &ctx.config.auth;
    let token = creds.access_token;
    let secret = creds.secret;
    if is_public_account_path(path) && !is_admin_open_path(path) {
        return authorize_public_account(ctx, creds).await;
    }
    if is_admin_path(path) && !is_admin_open_path(path) {
        return authorize_admin(ctx, creds).await;
    }
    if is_open_path(path) || is_admin_open_path(path) {
        let caller = match token.filter(|t| !t.is_empty()) {
            Some(t) => match users::authenticate(ctx, t).await? {
                Ok(id) => Caller::User(id),
                Err(_) => Caller::Anonymous,
            },
            None => Caller::Anonymous,
        };
        let checked = auth.signature != SignatureMode::Off && !signature_exempt(path);
        if let (true, Some((salt, secret))) = (checked, creds.hardened()) {
            // The hardened dialect signs open calls too, in a session when it has one.
            let session = match (&caller, token) {
                (Caller::User(id), Some(t)) => Some((*id, t)),
                _ => None,
            };
            hardened_login::check_secret(ctx, session, creds.params, salt, secret)?;
        } else if checked && token.is_none() {
            // An open call is signed `md5(apiKey + time)`, checked only when it carries a
            // secret and no access_token parameter at all (an empty one skips it, as the
            // reference does).
            if let Some(secret) = secret {
                let time = check_time(creds, auth.signature_window_secs)?;
                if !secret.eq_ignore_ascii_case(&open_secret(&auth.api_key, time)) {
                    return Err(signature_failed());
                }
            }
        }
        return Ok(caller);
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
    check_token_signature(ctx, creds, user_id, token)?;
    Ok(Caller::User(user_id))
}

/// The signature of token calls, checked as the configured mode asks: the hardened dialect's
/// (a call with `salt` and no `time`; 10110 when wrong), else the reference's
/// `md5(apiKey + time + userId + access_token)`.
fn check_token_signature(
    ctx: &Ctx,
    creds: &Credentials,
    user_id: i32,
    token: &str,
) -> Result<(), Error> {
    let auth = &ctx.config.auth;
    let secret = creds.secret;
    let must_check = match auth.signature {
        SignatureMode::Off => false,
        SignatureMode::WhenPresent => secret.is_some(),
        SignatureMode::Required => true,
    };
    if let (true, Some(_)) = (must_check, creds.salt.filter(|_| creds.time.is_none())) {
        let (salt, secret) = creds.hardened().ok_or(Error::Code(Code::SecretInvalid))?;
        return hardened_login::check_secret(
            ctx,
            Some((user_id, token)),
            creds.params,
            salt,
            secret,
        );
    }
    if must_check {
        let time = check_time(creds, auth.signature_window_secs)?;
        let expected = token_secret(&auth.api_key, time, user_id, token);
        if !secret.is_some_and(|s| s.eq_ignore_ascii_case(&expected)) {
            return Err(signature_failed());
        }
    }
    Ok(())
}

/// The public accounts' back office: a `/mp/login` token of a user who is still an unlocked
/// public account, in a live session (as console sessions: idle expiry, logout); any other
/// token is refused with 1030102.
async fn authorize_public_account(ctx: &Ctx, creds: &Credentials<'_>) -> Result<Caller, Error> {
    let token = creds
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or(Error::Code(Code::TokenMissing))?;
    let user_id = match ctx
        .tokens
        .check(&ctx.store, token, public_accounts::MP_AUDIENCE)
        .await?
    {
        Ok(id) => id,
        Err(TokenProblem::Invalid) | Err(TokenProblem::Revoked) => {
            return Err(Error::Code(Code::TokenInvalid))
        }
    };
    if !public_accounts::is_public_account(ctx, user_id).await? {
        return Err(Error::Code(Code::AuthFailed));
    }
    check_token_signature(ctx, creds, user_id, token)?;
    if !console_rules::touch_session(ctx, token).await? {
        return Err(Error::Code(Code::TokenInvalid));
    }
    Ok(Caller::PublicAccount(user_id))
}

/// The admin area: the integration key (task-management system) or a console token of a
/// user with an active console role; a user token is refused with 1030102 as the reference
/// refuses it (its admin tokens live in a separate key space), a missing token with 1030101, an
/// idle (over 30 minutes) or logged-out console session with 1030102.
async fn authorize_admin(ctx: &Ctx, creds: &Credentials<'_>) -> Result<Caller, Error> {
    let token = creds
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or(Error::Code(Code::TokenMissing))?;
    let key = &ctx.config.integration_key;
    // The key is itself the shared secret, so it is not signed: the task system has no userId
    // to sign with.
    if !key.is_empty() && is_integration_key(token, key) {
        return Ok(Caller::Integration);
    }
    let user_id = match ctx
        .tokens
        .check(&ctx.store, token, CONSOLE_AUDIENCE)
        .await?
    {
        Ok(id) => id,
        Err(TokenProblem::Invalid) | Err(TokenProblem::Revoked) => {
            return Err(Error::Code(Code::TokenInvalid))
        }
    };
    if console_rules::admin_role(ctx, user_id).await?.is_none() {
        // A console token whose holder lost (or had disabled) every console role since.
        return Err(Error::Code(Code::AuthFailed));
    }
    check_token_signature(ctx, creds, user_id, token)?;
    // Last, so that a refused request does not renew the session.
    if !console_rules::touch_session(ctx, token).await? {
        return Err(Error::Code(Code::TokenInvalid));
    }
    Ok(Caller::Console(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_area_and_key_comparison() {
        assert!(is_admin_path("/console/oneSendOne"));
        assert!(is_admin_path("/console"));
        assert!(is_admin_path("/user/getUserStatusCount") && !is_admin_path("/user/get"));
        assert!(!is_admin_path("/consoles") && !is_admin_path("/tigase/push"));
        assert!(is_admin_open_path("/console/login"));
        assert!(is_integration_key("k3y", "k3y"));
        assert!(!is_integration_key("k3y", "k3z"));
        assert!(!is_integration_key("k3", "k3y"));
        assert!(!is_integration_key("", "k3y"));
    }
}
