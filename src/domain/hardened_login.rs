//! The newest Vue clients' hardened dialect (../shared/spec/hardened-login.md; README "The
//! hardened dialect"): its four login steps, its registration, the automatic re-login we give
//! it, and the `secret` every one of its calls carries.
//!
//! What the server keeps: the client's key pair in the user document (`publicKey`,
//! `privateKey`, as the reference), the login verifier sealed under the server key
//! (`loginVerifier`, see `credentials`), and each one-time login key `K` for a short time in the
//! store's short-lived codes (sealed too), so any node of a cluster can finish a login another
//! began. Session keys are derived, not stored: `httpKey` from the access token and `loginKey`
//! from the login token, under the server key.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};

use super::credentials;
use super::error::{Code, Error, Result};
use super::hardened::{
    aes_decrypt, aes_encrypt, check_public_key, hmac_md5_verify, md5_raw, param_key_sort,
    rsa_encrypt_b64,
};
use super::login_guard::account_key;
use super::users::{self, DeviceReport, Registration};
use super::util::now_millis;
use super::view::sorted;
use super::Ctx;
use crate::documents::{LoginKeys, User};
use crate::store::Patch;

/// Audience of the login tokens `/user/login/auto/v1` takes (revoked with the user's access
/// tokens: logout, password change, lock).
pub const LOGIN_TOKEN_AUDIENCE: &str = "shiku-login-v1";

/// Longest key blob, account, device id or mac accepted, bytes.
const MAX_FIELD: usize = 8192;
const MAX_NAME: usize = 64;

/// Whether `salt` (the client's time in ms) lies within the signature window of now.
fn fresh_salt(ctx: &Ctx, salt: &str) -> bool {
    let window_ms = ctx.config.auth.signature_window_secs.max(1) * 1000;
    salt.trim()
        .parse::<i64>()
        .is_ok_and(|t| (now_millis() - t).abs() <= window_ms)
}

/// The session's `httpKey` (raw): derived from the access token, so every node agrees and
/// nothing is stored.
pub fn http_key(ctx: &Ctx, access_token: &str) -> [u8; 16] {
    ctx.server_key.derive("httpKey", access_token)
}

fn login_key(ctx: &Ctx, login_token: &str) -> [u8; 16] {
    ctx.server_key.derive("loginKey", login_token)
}

/// Checks the `secret` of a call of this dialect (spec "The `secret` on every call"): before
/// login keyed with MD5(apiKey), in a session (`(userId, access_token)`) with its `httpKey`;
/// over the values of every parameter but `salt`, `secret` and `access_token`. A stale salt, a
/// wrong secret or a replay answers 10110, which sends the client back to its login page.
pub fn check_secret(
    ctx: &Ctx,
    session: Option<(i32, &str)>,
    params: &[(String, String)],
    salt: &str,
    secret: &str,
) -> Result<()> {
    let api_key = &ctx.config.auth.hardened_api_key;
    let values = param_key_sort(
        params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "salt" | "secret" | "access_token"))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let right = match session {
        None => hmac_md5_verify(
            &md5_raw(api_key.as_bytes()),
            &format!("{api_key}{values}{salt}"),
            secret,
        ),
        Some((user_id, token)) => hmac_md5_verify(
            &http_key(ctx, token),
            &format!("{api_key}{user_id}{token}{values}{salt}"),
            secret,
        ),
    };
    if right && fresh_salt(ctx, salt) && ctx.signed_calls.admit(secret) {
        Ok(())
    } else {
        Err(Error::Code(Code::SecretInvalid))
    }
}

fn refused() -> Error {
    // What the client shows for any refusal: "登录密码不正确或账号不存在".
    Error::failure("帐号或密码错误")
}

fn check_field(name: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(name, format!("超过 {max} 字节")));
    }
    Ok(())
}

/// Refuses a `salt` outside the signature window.
fn require_fresh(ctx: &Ctx, salt: &str) -> Result<()> {
    if fresh_salt(ctx, salt) {
        Ok(())
    } else {
        Err(Error::invalid(
            "salt",
            "已过期或不是毫秒时间 (stale or not a ms time)",
        ))
    }
}

/// The user's login verifier, or the answer telling them how to get one.
async fn verifier(ctx: &Ctx, user_id: i32) -> Result<String> {
    credentials::login_verifier(ctx, user_id)
        .await?
        .ok_or_else(|| {
            Error::failure(
                "此账号尚未开通加密登录：请先用其他客户端登录一次，或重置密码 \
                 (no login verifier yet: log in once with another client, or reset the password)",
            )
        })
}

/// Runs a proof of the password (a mac keyed with or covering the verifier) through the one
/// login limiter, so guessing here costs what guessing a password anywhere costs.
fn proven(
    ctx: &Ctx,
    user_id: Option<i32>,
    typed: &str,
    source: Option<IpAddr>,
    proof: impl FnOnce() -> bool,
) -> Result<bool> {
    let account = match user_id {
        Some(id) => account_key(id),
        None => format!("unknown:{}", typed.chars().take(64).collect::<String>()),
    };
    let ticket = ctx.passwords.guard().admit(&account, source)?;
    if proof() {
        ticket.succeeded();
        Ok(true)
    } else {
        ticket.failed();
        Ok(false)
    }
}

/// The user's key pair (empty fields: none yet).
async fn keys_of(ctx: &Ctx, user_id: i32) -> Result<LoginKeys> {
    Ok(ctx
        .store
        .users
        .login_keys(user_id)
        .await?
        .unwrap_or_default())
}

fn code_key(user_id: i32, device_id: &str) -> String {
    format!("loginCode:{user_id}:{device_id}")
}

/// `/auth/getLoginCode` input (step 1).
#[derive(Debug, Clone, Default)]
pub struct LoginCodeRequest {
    pub area_code: String,
    /// The plain phone number or the Shiku account.
    pub account: String,
    pub salt: String,
    pub device_id: String,
    pub mac: String,
    pub source: Option<IpAddr>,
}

/// `/auth/getLoginCode`: proves the password by `mac`, then answers `{userId}` (no key pair
/// yet) or `{userId, code}`, the one-time key `K` sealed to the user's public key.
pub async fn login_code(ctx: &Ctx, r: LoginCodeRequest) -> Result<Value> {
    check_field("account", &r.account, MAX_NAME)?;
    check_field("areaCode", &r.area_code, 8)?;
    check_field("deviceId", &r.device_id, MAX_NAME)?;
    if r.device_id.is_empty() {
        return Err(Error::missing("deviceId"));
    }
    require_fresh(ctx, &r.salt)?;
    let telephone = format!("{}{}", r.area_code, r.account);
    let user = match ctx.store.users.find_by_telephone(&telephone).await? {
        Some(u) => Some(u),
        None => ctx.store.users.find_by_account(&r.account).await?,
    };
    let api_key = &ctx.config.auth.hardened_api_key;
    let msg = format!("{api_key}{}{}{}", r.area_code, r.account, r.salt);
    let (user, verifier) = match user {
        Some(u) => {
            let v = verifier(ctx, u.user_id).await?;
            (Some(u), Some(v))
        }
        None => (None, None),
    };
    let right = proven(
        ctx,
        user.as_ref().map(|u| u.user_id),
        &r.account,
        r.source,
        || {
            verifier
                .as_deref()
                .is_some_and(|v| hmac_md5_verify(v.as_bytes(), &msg, &r.mac))
        },
    )?;
    let Some(user) = user.filter(|_| right) else {
        return Err(refused());
    };
    let keys = keys_of(ctx, user.user_id).await?;
    if keys.public_key.is_empty() {
        return Ok(json!({ "userId": user.user_id }));
    }
    let mut k = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut k);
    let code = rsa_encrypt_b64(&keys.public_key, &k)
        .map_err(|e| Error::failure(format!("登录公钥无效，请重新登录 ({e})")))?;
    let key = code_key(user.user_id, &r.device_id);
    let sealed = ctx.server_key.seal(&key, &B64.encode(k));
    let life_ms = ctx.config.auth.login_code_ttl_secs.max(1) * 1000;
    ctx.store
        .meta
        .put_code(&key, &sealed, now_millis(), life_ms)
        .await?;
    Ok(json!({ "userId": user.user_id, "code": code }))
}

fn parse_user_id(text: &str) -> Result<i32> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid("userId", "应为整数"))
}

/// A user proven by a mac keyed with the login verifier over `apiKey + userId + rest + salt`
/// (steps 2 and 2b).
async fn proven_by_verifier(
    ctx: &Ctx,
    user_id: i32,
    rest: &str,
    salt: &str,
    mac: &str,
    source: Option<IpAddr>,
) -> Result<User> {
    require_fresh(ctx, salt)?;
    let user = ctx.store.users.get_user(user_id).await?;
    let verifier = match &user {
        Some(u) => Some(verifier(ctx, u.user_id).await?),
        None => None,
    };
    let api_key = &ctx.config.auth.hardened_api_key;
    let msg = format!("{api_key}{user_id}{rest}{salt}");
    let right = proven(
        ctx,
        user.as_ref().map(|u| u.user_id),
        &user_id.to_string(),
        source,
        || {
            verifier
                .as_deref()
                .is_some_and(|v| hmac_md5_verify(v.as_bytes(), &msg, mac))
        },
    )?;
    user.filter(|_| right).ok_or_else(refused)
}

/// `/authkeys/getLoginPrivateKey` (step 2): the stored private-key blob, unchanged, or None
/// when the user has no key pair yet. (The client also sends the plain password as `pwd`; it
/// is never read.)
pub async fn login_private_key(
    ctx: &Ctx,
    user_id: &str,
    salt: &str,
    mac: &str,
    source: Option<IpAddr>,
) -> Result<Option<Value>> {
    let user_id = parse_user_id(user_id)?;
    let user = proven_by_verifier(ctx, user_id, "", salt, mac, source).await?;
    let keys = keys_of(ctx, user.user_id).await?;
    Ok((!keys.private_key.is_empty()).then(|| json!({ "privateKey": keys.private_key })))
}

/// `/authkeys/uploadLoginKey` input (step 2b).
#[derive(Debug, Clone, Default)]
pub struct LoginKeyUpload {
    pub user_id: String,
    /// base64 X.509 SubjectPublicKeyInfo.
    pub public_key: String,
    /// The client's AES-encrypted private key, kept opaque.
    pub private_key: String,
    pub salt: String,
    pub mac: String,
    pub source: Option<IpAddr>,
}

/// `/authkeys/uploadLoginKey`: keeps the user's key pair, only for someone proving the
/// password by `mac` over both keys (otherwise anyone could install a pair for a victim).
pub async fn upload_login_key(ctx: &Ctx, r: LoginKeyUpload) -> Result<()> {
    let user_id = parse_user_id(&r.user_id)?;
    check_field("publicKey", &r.public_key, MAX_FIELD)?;
    check_field("privateKey", &r.private_key, MAX_FIELD)?;
    let rest = format!("{}{}", r.private_key, r.public_key);
    let user = proven_by_verifier(ctx, user_id, &rest, &r.salt, &r.mac, r.source).await?;
    if r.private_key.trim().is_empty() || B64.decode(r.private_key.trim()).is_err() {
        return Err(Error::invalid("privateKey", "应为 base64"));
    }
    check_public_key(&r.public_key).map_err(|e| Error::invalid("publicKey", e.to_string()))?;
    ctx.store
        .users
        .update_user(
            user.user_id,
            &Patch::new()
                .set("publicKey", r.public_key.trim())
                .set("privateKey", r.private_key.trim()),
        )
        .await?;
    Ok(())
}

/// A JSON scalar as the client concatenates it (`"100100"` and `100100` alike).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Decrypts a `data` parameter under `key` into a JSON object; None when it is not one.
fn open_data(key: &[u8; 16], data: &str) -> Option<Map<String, Value>> {
    let cipher = B64.decode(data.trim()).ok()?;
    let plain = aes_decrypt(key, &cipher).ok()?;
    match serde_json::from_slice(&plain).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Whether the encrypted object repeats the outer parameters exactly.
fn repeats(inner: &Map<String, Value>, outer: &[(&str, &str)]) -> bool {
    outer
        .iter()
        .all(|(k, v)| inner.get(*k).and_then(text_of).as_deref() == Some(*v))
}

/// The user info every login of this dialect answers, encrypted under `key`: the reference's
/// login fields and the session's `httpKey`, with a `loginToken` and `loginKey` for
/// `/user/login/auto/v1`.
async fn sealed_user_info(
    ctx: &Ctx,
    user: User,
    key: &[u8; 16],
    login_token: Option<&str>,
) -> Result<Value> {
    let user_id = user.user_id;
    let mut m = users::signed_in(ctx, user, &DeviceReport::default()).await?;
    let token = m
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    m.insert("httpKey".into(), json!(B64.encode(http_key(ctx, &token))));
    let login_token = match login_token {
        Some(t) => t.to_string(),
        None => {
            ctx.tokens
                .issue(&ctx.store, user_id, LOGIN_TOKEN_AUDIENCE)
                .await?
        }
    };
    m.insert(
        "loginKey".into(),
        json!(B64.encode(login_key(ctx, &login_token))),
    );
    m.insert("loginToken".into(), json!(login_token));
    let text = sorted(m).to_string();
    Ok(json!({ "data": B64.encode(aes_encrypt(key, text.as_bytes())) }))
}

/// `/user/login/v1` input (step 3).
#[derive(Debug, Clone, Default)]
pub struct LoginV1Request {
    pub user_id: String,
    pub device_id: String,
    pub salt: String,
    /// `b64(AES(K, JSON{deviceId, userId, salt, mac}))`.
    pub data: String,
    pub source: Option<IpAddr>,
}

/// `/user/login/v1`: takes the one-time key `K` of (userId, deviceId), checks the encrypted
/// request and its mac (which covers the verifier), logs in and answers the user info
/// encrypted under `K`.
pub async fn login_v1(ctx: &Ctx, r: LoginV1Request) -> Result<Value> {
    let user_id = parse_user_id(&r.user_id)?;
    check_field("deviceId", &r.device_id, MAX_NAME)?;
    check_field("data", &r.data, MAX_FIELD)?;
    require_fresh(ctx, &r.salt)?;
    let key = code_key(user_id, &r.device_id);
    let k: [u8; 16] = match ctx.store.meta.take_code(&key, now_millis()).await? {
        Some(sealed) => ctx
            .server_key
            .open(&key, &sealed)
            .and_then(|o| B64.decode(o.plain).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Internal("login code unreadable".into()))?,
        None => {
            return Err(Error::failure(
                "登录码已失效，请重新登录 (the login code expired or was used)",
            ))
        }
    };
    let inner = open_data(&k, &r.data).ok_or_else(refused)?;
    let outer = [
        ("deviceId", r.device_id.as_str()),
        ("salt", r.salt.as_str()),
        ("userId", r.user_id.as_str()),
    ];
    if !repeats(&inner, &outer) {
        return Err(refused());
    }
    let mac = inner.get("mac").and_then(Value::as_str).unwrap_or("");
    let user = ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .ok_or_else(refused)?;
    let verifier = verifier(ctx, user_id).await?;
    let api_key = &ctx.config.auth.hardened_api_key;
    let msg = format!(
        "{api_key}{}{}{}{verifier}",
        r.user_id,
        param_key_sort(outer),
        r.salt
    );
    if !proven(ctx, Some(user_id), "", r.source, || {
        hmac_md5_verify(&k, &msg, mac)
    })? {
        return Err(refused());
    }
    sealed_user_info(ctx, user, &k, None).await
}

/// `/user/login/auto/v1` input (ours: the spec leaves it open; README "The hardened dialect").
#[derive(Debug, Clone, Default)]
pub struct AutoLoginV1Request {
    pub user_id: String,
    pub login_token: String,
    pub salt: String,
    /// `b64(AES(loginKey, JSON{userId, salt, mac}))`,
    /// `mac = b64(HMAC_MD5(loginKey, apiKey + userId + loginToken + salt))`.
    pub data: String,
}

/// `/user/login/auto/v1`: a new session from the login token of an earlier `/user/login/v1`,
/// proven with its `loginKey`; answers the user info encrypted under that key. The login token
/// ends with the user's other tokens (logout, password change, lock).
pub async fn login_auto_v1(ctx: &Ctx, r: AutoLoginV1Request) -> Result<Value> {
    let user_id = parse_user_id(&r.user_id)?;
    check_field("loginToken", &r.login_token, MAX_FIELD)?;
    check_field("data", &r.data, MAX_FIELD)?;
    require_fresh(ctx, &r.salt)?;
    match ctx
        .tokens
        .check(&ctx.store, &r.login_token, LOGIN_TOKEN_AUDIENCE)
        .await?
    {
        Ok(id) if id == user_id => {}
        _ => return Err(Error::Code(Code::TokenInvalid)),
    }
    let key = login_key(ctx, &r.login_token);
    let inner = open_data(&key, &r.data).ok_or_else(refused)?;
    if !repeats(
        &inner,
        &[("salt", r.salt.as_str()), ("userId", r.user_id.as_str())],
    ) {
        return Err(refused());
    }
    let mac = inner.get("mac").and_then(Value::as_str).unwrap_or("");
    let api_key = &ctx.config.auth.hardened_api_key;
    let msg = format!("{api_key}{}{}{}", r.user_id, r.login_token, r.salt);
    if !hmac_md5_verify(&key, &msg, mac) {
        return Err(refused());
    }
    let user = ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .ok_or_else(refused)?;
    sealed_user_info(ctx, user, &key, Some(&r.login_token)).await
}

/// `/user/register/v1`: the registration form encrypted under MD5(apiKey) with its mac (spec
/// "Registration in this dialect"); registers as `/user/register` does and answers the same,
/// with the session's `httpKey`.
pub async fn register_v1(ctx: &Ctx, data: &str, device: DeviceReport) -> Result<Value> {
    check_field("data", data, MAX_FIELD)?;
    let api_key = &ctx.config.auth.hardened_api_key;
    let key = md5_raw(api_key.as_bytes());
    let form = open_data(&key, data).ok_or_else(|| Error::invalid("data", "无法解密"))?;
    let field = |k: &str| form.get(k).and_then(text_of).unwrap_or_default();
    let salt = field("salt");
    let values: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| k.as_str() != "mac")
        .filter_map(|(k, v)| text_of(v).map(|t| (k.clone(), t)))
        .collect();
    let sorted_values = param_key_sort(values.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let msg = format!("{api_key}{sorted_values}{salt}");
    if !hmac_md5_verify(&key, &msg, &field("mac")) {
        return Err(Error::Code(Code::SecretInvalid));
    }
    require_fresh(ctx, &salt)?;
    let r = Registration {
        telephone: field("telephone"),
        area_code: field("areaCode"),
        password: field("password"),
        nickname: Some(field("nickname")).filter(|n| !n.is_empty()),
        invite_code: Some(field("inviteCode")).filter(|c| !c.is_empty()),
        is_sms_register: field("isSmsRegister").parse().unwrap_or(0),
        sms_code: Some(field("smsCode")).filter(|c| !c.is_empty()),
        device,
        ..Default::default()
    };
    let mut answer = match users::register(ctx, r).await? {
        Value::Object(m) => m,
        other => return Ok(other),
    };
    if let Some(token) = answer.get("access_token").and_then(Value::as_str) {
        let http = B64.encode(http_key(ctx, token));
        answer.insert("httpKey".into(), json!(http));
    }
    Ok(sorted(answer))
}
