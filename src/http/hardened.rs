//! The newest Vue clients' hardened login (`AuthController`, `AuthKeysController` and the `/v1`
//! login and registration of `UserController`; spec hardened-login.md). Open paths: the
//! client sends `access_token=` empty, and its `secret` is checked by the caller filter.

use actix_web::web;

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::hardened_login::{
    self, AutoLoginV1Request, LoginCodeRequest, LoginKeyUpload, LoginV1Request,
};
use crate::domain::users::DeviceReport;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/auth/getLoginCode",
        tag: "hardened",
        summary: "Login step 1: prove the password by mac; answers the userId and, once the user has a key pair, a one-time key K sealed to the public key (RSA PKCS#1 v1.5)",
        access: Access::Open,
        params: &[
            p("areaCode", "string", true, "country code (the client sends 86)"),
            p("account", "string", true, "plain phone number (areaCode + account is the telephone) or the Shiku account"),
            p("salt", "string", true, "client time in ms (within auth.signature_window_secs)"),
            p("deviceId", "string", true, "the client's device (web); K is kept per (userId, deviceId)"),
            p("mac", "string", true, "b64(HMAC_MD5(ascii(loginPwdHex), apiKey + areaCode + account + salt))"),
        ],
        codes: &[0, 1010101, 1040106, 10110],
        data: "{userId, code?: b64(RSA(publicKey, K))}",
    },
    EndpointDoc {
        path: "/authkeys/getLoginPrivateKey",
        tag: "hardened",
        summary: "Login step 2: the user's stored private-key blob, unchanged (no data: no key pair yet); the client's `pwd` is never read",
        access: Access::Open,
        params: &[
            p("userId", "integer", true, "from step 1"),
            p("salt", "string", true, "client time in ms"),
            p("mac", "string", true, "b64(HMAC_MD5(ascii(loginPwdHex), apiKey + userId + salt))"),
            p("apiKey", "string", false, "ignored: the server's auth.hardened_api_key is used"),
        ],
        codes: &[0, 1010101, 1040106, 10110],
        data: "{privateKey} or none",
    },
    EndpointDoc {
        path: "/authkeys/uploadLoginKey",
        tag: "hardened",
        summary: "Login step 2b (first login): keep the user's RSA key pair; the mac proves the password, so nobody can install a pair for someone else",
        access: Access::Open,
        params: &[
            p("userId", "integer", true, "from step 1"),
            p("publicKey", "string", true, "base64 X.509 SubjectPublicKeyInfo DER, 1024 to 4096 bits"),
            p("privateKey", "string", true, "b64(AES(MD5(pwd), PKCS#1 DER)), kept opaque (at most 8192 bytes)"),
            p("salt", "string", true, "client time in ms"),
            p("mac", "string", true, "b64(HMAC_MD5(ascii(loginPwdHex), apiKey + userId + privateKey + publicKey + salt))"),
        ],
        codes: &[0, 1010101, 1040106, 10110],
        data: "none",
    },
    EndpointDoc {
        path: "/user/login/v1",
        tag: "hardened",
        summary: "Login step 3: K of step 1 is taken once; data carries the mac over the verifier; answers the user info encrypted under K",
        access: Access::Open,
        params: &[
            p("userId", "integer", true, "from step 1"),
            p("deviceId", "string", true, "as in step 1"),
            p("salt", "string", true, "client time in ms"),
            p("data", "string", true, "b64(AES(K, JSON{deviceId, userId, salt, mac})), mac = b64(HMAC_MD5(K, apiKey + userId + paramKeySort({deviceId, userId, salt}) + salt + loginPwdHex))"),
        ],
        codes: &[0, 1010101, 1040106, 10110],
        data: "{data: b64(AES(K, JSON{access_token, expires_in, httpKey, loginKey, loginToken, userId, nickname, sex, birthday, settings, login, multipleDevices, payPassword, ...}))}",
    },
    EndpointDoc {
        path: "/user/login/auto/v1",
        tag: "hardened",
        summary: "A new session from the loginToken of /user/login/v1, proven with its loginKey (our design: the spec leaves this call open)",
        access: Access::Open,
        params: &[
            p("userId", "integer", true, "the user of the login token"),
            p("loginToken", "string", true, "from the user info of /user/login/v1"),
            p("salt", "string", true, "client time in ms"),
            p("data", "string", true, "b64(AES(b64decode(loginKey), JSON{userId, salt, mac})), mac = b64(HMAC_MD5(loginKey raw, apiKey + userId + loginToken + salt))"),
        ],
        codes: &[0, 1010101, 1030102, 10110],
        data: "{data: b64(AES(loginKey, JSON user info as /user/login/v1))}",
    },
    EndpointDoc {
        path: "/user/register/v1",
        tag: "hardened",
        summary: "Registration in the hardened dialect: /user/register's form encrypted under MD5(apiKey) with its mac; answers /user/register's data and the session's httpKey",
        access: Access::Open,
        params: &[p(
            "data",
            "string",
            true,
            "b64(AES(MD5(apiKey), JSON{nickname, telephone, password(md5), smsCode, areaCode, isSmsRegister, salt, mac})), mac = b64(HMAC_MD5(MD5(apiKey), apiKey + paramKeySort(fields but mac) + salt))",
        )],
        codes: &[0, 1010101, 1040104, 10110],
        data: "{access_token, createTime, expires_in, httpKey, name, nickname, userId}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/auth/getLoginCode", login_code);
    r.add("/authkeys/getLoginPrivateKey", login_private_key);
    r.add("/authkeys/uploadLoginKey", upload_login_key);
    r.add("/user/login/v1", login_v1);
    r.add("/user/login/auto/v1", login_auto_v1);
    r.add("/user/register/v1", register_v1);
}

fn text(p: &Params, name: &str) -> String {
    p.str(name).unwrap_or("").trim().to_string()
}

async fn login_code(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = LoginCodeRequest {
        area_code: text(&p, "areaCode"),
        account: p.required("account")?.trim().to_string(),
        salt: p.required("salt")?.to_string(),
        device_id: text(&p, "deviceId"),
        mac: p.required("mac")?.to_string(),
        source: p.source(),
    };
    Ok(Reply::data(
        hardened_login::login_code(&state.ctx, r).await?,
    ))
}

async fn login_private_key(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = hardened_login::login_private_key(
        &state.ctx,
        p.required("userId")?,
        p.required("salt")?,
        p.required("mac")?,
        p.source(),
    )
    .await?;
    Ok(match data {
        Some(d) => Reply::data(d),
        None => Reply::ok(),
    })
}

async fn upload_login_key(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = LoginKeyUpload {
        user_id: p.required("userId")?.to_string(),
        public_key: p.required("publicKey")?.to_string(),
        private_key: p.required("privateKey")?.to_string(),
        salt: p.required("salt")?.to_string(),
        mac: p.required("mac")?.to_string(),
        source: p.source(),
    };
    hardened_login::upload_login_key(&state.ctx, r).await?;
    Ok(Reply::ok())
}

async fn login_v1(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = LoginV1Request {
        user_id: p.required("userId")?.trim().to_string(),
        device_id: p.required("deviceId")?.trim().to_string(),
        salt: p.required("salt")?.to_string(),
        data: p.required("data")?.to_string(),
        source: p.source(),
    };
    Ok(Reply::data(hardened_login::login_v1(&state.ctx, r).await?))
}

async fn login_auto_v1(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = AutoLoginV1Request {
        user_id: p.required("userId")?.trim().to_string(),
        login_token: p.required("loginToken")?.to_string(),
        salt: p.required("salt")?.to_string(),
        data: p.required("data")?.to_string(),
    };
    Ok(Reply::data(
        hardened_login::login_auto_v1(&state.ctx, r).await?,
    ))
}

async fn register_v1(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = hardened_login::register_v1(
        &state.ctx,
        p.required("data")?,
        DeviceReport {
            device_key: p.string("deviceId"),
            ..Default::default()
        },
    )
    .await?;
    Ok(Reply::data(data))
}
