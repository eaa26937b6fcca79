//! The newest Vue clients' hardened dialect, played from the client's side as
//! ../shared/spec/hardened-login.md describes it (not from any client's code), with the crates
//! for AES-128-CBC, HMAC-MD5 and RSA PKCS#1 v1.5: the spec's vectors, the first and later
//! logins, every refusal the spec asks for, the `secret` before and after login, registration,
//! the automatic re-login, and the binary WebSocket with the token it gives.

mod common;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};
use serde_json::{json, Value};
use shiku_server::config::SignatureMode;
use shiku_server::domain::util::md5_hex;

use common::binary::Bin;
use common::{ok, spawn_shiku, spawn_with, TestApp};

const API_KEY: &str = "5e29f483c48848";
const IV: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

fn aes_enc(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes128>::new(key.into(), &IV.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain)
}

fn aes_dec(key: &[u8; 16], cipher: &[u8]) -> Vec<u8> {
    cbc::Decryptor::<aes::Aes128>::new(key.into(), &IV.into())
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .expect("decrypts")
}

fn hmac_b64(key: &[u8], msg: &str) -> String {
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    B64.encode(m.finalize().into_bytes())
}

fn md5(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

fn login_pwd_hex(pwd: &str) -> String {
    let m = md5(pwd.as_bytes());
    hex::encode(md5(&aes_enc(&m, &m)))
}

/// Values of the non-empty parameters in the byte order of their names.
fn key_sort(params: &[(&str, &str)]) -> String {
    let mut kept: Vec<_> = params
        .iter()
        .filter(|(_, v)| !v.trim().is_empty() && *v != "null" && *v != "undefined")
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    kept.iter().map(|(_, v)| *v).collect()
}

fn now_salt() -> String {
    shiku_server::domain::util::now_millis().to_string()
}

/// The client: its password, its key pair once made, and its session once logged in.
struct Vue {
    account: String,
    pwd: String,
    /// Every call signed (`salt`, `secret`); off to send unsigned calls.
    sign: bool,
    session: Option<Session>,
}

#[derive(Clone)]
struct Session {
    user_id: String,
    token: String,
    http_key: Vec<u8>,
    info: Value,
}

impl Vue {
    fn new(account: &str, pwd: &str) -> Vue {
        Vue {
            account: account.into(),
            pwd: pwd.into(),
            sign: true,
            session: None,
        }
    }

    fn verifier(&self) -> String {
        login_pwd_hex(&self.pwd)
    }

    /// `params` plus `salt`, `secret` and `access_token` as the client adds them.
    fn signed(&self, params: &[(&str, &str)], salt: &str) -> Vec<(String, String)> {
        let values = key_sort(params);
        let (secret, token) = match &self.session {
            None => (
                hmac_b64(
                    &md5(API_KEY.as_bytes()),
                    &format!("{API_KEY}{values}{salt}"),
                ),
                String::new(),
            ),
            Some(s) => (
                hmac_b64(
                    &s.http_key,
                    &format!("{API_KEY}{}{}{values}{salt}", s.user_id, s.token),
                ),
                s.token.clone(),
            ),
        };
        let mut out: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        out.push(("salt".into(), salt.into()));
        out.push(("access_token".into(), token));
        if self.sign {
            out.push(("secret".into(), secret));
        }
        out
    }

    async fn call(&self, app: &TestApp, path: &str, params: &[(&str, &str)], salt: &str) -> Value {
        send(app, "POST", path, &self.signed(params, salt)).await
    }

    async fn step1(&self, app: &TestApp, salt: &str) -> Value {
        let mac = hmac_b64(
            self.verifier().as_bytes(),
            &format!("{API_KEY}86{}{salt}", self.account),
        );
        let p = [
            ("areaCode", "86"),
            ("account", self.account.as_str()),
            ("deviceId", "web"),
            ("mac", mac.as_str()),
        ];
        self.call(app, "/auth/getLoginCode", &p, salt).await
    }

    async fn step2(&self, app: &TestApp, user_id: &str, salt: &str) -> Value {
        let mac = hmac_b64(
            self.verifier().as_bytes(),
            &format!("{API_KEY}{user_id}{salt}"),
        );
        // The client's bug: the plain password rides along as `pwd`.
        let p = [
            ("userId", user_id),
            ("apiKey", API_KEY),
            ("areaCode", "86"),
            ("account", self.account.as_str()),
            ("pwd", self.pwd.as_str()),
            ("mac", mac.as_str()),
        ];
        self.call(app, "/authkeys/getLoginPrivateKey", &p, salt)
            .await
    }

    async fn upload(
        &self,
        app: &TestApp,
        user_id: &str,
        key: &RsaPrivateKey,
        salt: &str,
    ) -> (Value, String) {
        let public = B64.encode(key.to_public_key().to_public_key_der().unwrap().as_bytes());
        let der = key.to_pkcs1_der().unwrap();
        let private = B64.encode(aes_enc(&md5(self.pwd.as_bytes()), der.as_bytes()));
        let mac = hmac_b64(
            self.verifier().as_bytes(),
            &format!("{API_KEY}{user_id}{private}{public}{salt}"),
        );
        let p = [
            ("userId", user_id),
            ("publicKey", public.as_str()),
            ("privateKey", private.as_str()),
            ("mac", mac.as_str()),
        ];
        (
            self.call(app, "/authkeys/uploadLoginKey", &p, salt).await,
            private,
        )
    }

    /// Step 3's `data` for K.
    fn login_data(&self, k: &[u8; 16], user_id: &str, salt: &str) -> String {
        let sorted = key_sort(&[("deviceId", "web"), ("userId", user_id), ("salt", salt)]);
        let mac = hmac_b64(
            k,
            &format!("{API_KEY}{user_id}{sorted}{salt}{}", self.verifier()),
        );
        let inner = json!({"deviceId": "web", "userId": user_id, "salt": salt.parse::<i64>().unwrap(), "mac": mac});
        B64.encode(aes_enc(k, inner.to_string().as_bytes()))
    }

    async fn step3(&self, app: &TestApp, user_id: &str, data: &str, salt: &str) -> Value {
        let p = [("deviceId", "web"), ("userId", user_id), ("data", data)];
        self.call(app, "/user/login/v1", &p, salt).await
    }

    /// The whole sequence as the client runs it; keeps the session. `key` is the pair the
    /// client makes when the server has none.
    async fn log_in(&mut self, app: &TestApp, key: &RsaPrivateKey) {
        let salt1 = now_salt();
        let v = self.step1(app, &salt1).await;
        let mut d = ok(&v).clone();
        let user_id = d["userId"].to_string();
        let salt = now_salt();
        let v = self.step2(app, &user_id, &salt).await;
        let stored = ok(&v).get("privateKey").cloned();
        if stored.is_none() {
            let (v, private) = self.upload(app, &user_id, key, &salt).await;
            ok(&v);
            // 2c: step 2 again with the same salt gives what was uploaded.
            let v = self.step2(app, &user_id, &salt).await;
            assert_eq!(ok(&v)["privateKey"], private.as_str());
        }
        if d.get("code").is_none() {
            // 2d: step 1 again with its own salt.
            let v = self.step1(app, &salt1).await;
            d = ok(&v).clone();
        }
        let code = B64.decode(d["code"].as_str().expect("a code")).unwrap();
        let k: [u8; 16] = key
            .decrypt(Pkcs1v15Encrypt, &code)
            .unwrap()
            .try_into()
            .unwrap();
        let salt = now_salt();
        let data = self.login_data(&k, &user_id, &salt);
        let v = self.step3(app, &user_id, &data, &salt).await;
        let sealed = B64.decode(ok(&v)["data"].as_str().unwrap()).unwrap();
        let info: Value = serde_json::from_slice(&aes_dec(&k, &sealed)).unwrap();
        self.session = Some(Session {
            user_id: info["userId"].to_string(),
            token: info["access_token"].as_str().unwrap().into(),
            http_key: B64.decode(info["httpKey"].as_str().unwrap()).unwrap(),
            info,
        });
    }
}

/// Sends `form` as a GET query or an urlencoded POST body; the JSON answer.
async fn send(app: &TestApp, method: &str, path: &str, form: &[(String, String)]) -> Value {
    let url = format!("{}{}", app.base, path);
    let request = match method {
        "GET" => app.client.get(url).query(form),
        _ => app.client.post(url).form(form),
    };
    request.send().await.unwrap().json().await.unwrap()
}

fn rsa_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap()
}

async fn signed_app() -> TestApp {
    spawn_with(|c| c.auth.signature = SignatureMode::WhenPresent).await
}

#[test]
fn the_specs_vectors_reproduce() {
    assert_eq!(login_pwd_hex("123456"), "7ba1bd982b33ac731c2c3bca90e77be9");
    let k: [u8; 16] = std::array::from_fn(|i| i as u8);
    let (uid, salt) = ("100100", "1700000000000");
    let sorted = key_sort(&[("deviceId", "web"), ("userId", uid), ("salt", salt)]);
    let msg = format!("{API_KEY}{uid}{sorted}{salt}{}", login_pwd_hex("123456"));
    assert_eq!(
        msg,
        "5e29f483c48848100100web170000000000010010017000000000007ba1bd982b33ac731c2c3bca90e77be9"
    );
    let mac = hmac_b64(&k, &msg);
    assert_eq!(mac, "0i/ODhlwOSMbCgHSGzW8cw==");
    let inner =
        format!(r#"{{"deviceId":"web","userId":"100100","salt":1700000000000,"mac":"{mac}"}}"#);
    assert_eq!(
        B64.encode(aes_enc(&k, inner.as_bytes())),
        "gPApyMECBlvHr4rFInunTo4Jyg89wTEEsTxxKQz3lPa3aUGHUY1nWBq2JoV5ayHUCfcDVhzFWmSNIzJgJXVAELTrMH3iQfaBaFqhHMr8v+li4Q1QrabwnwDBNAWIXplG"
    );
    // `GET /config` with no parameters and that salt.
    assert_eq!(
        hmac_b64(&md5(API_KEY.as_bytes()), &format!("{API_KEY}{salt}")),
        "DphFcTcWZ/dlMnAriTd7Xw=="
    );
}

#[tokio::test]
async fn first_and_later_logins_then_signed_calls_and_the_binary_websocket() {
    let (app, shiku, _) = spawn_shiku(|c| c.auth.signature = SignatureMode::WhenPresent).await;
    let (uid, _) = app.register("13800000001", "123456", "vue").await;
    let key = rsa_key();
    let mut vue = Vue::new("13800000001", "123456");
    vue.log_in(&app, &key).await;
    let s = vue.session.clone().unwrap();
    assert_eq!(s.user_id, uid.to_string());
    assert_eq!(s.info["nickname"], "vue");
    for field in ["loginToken", "loginKey", "expires_in", "settings", "login"] {
        assert!(s.info.get(field).is_some(), "{field} in {}", s.info);
    }
    assert_eq!(s.http_key.len(), 16);

    // The key pair is kept: /user/get never shows it (nor the verifier) to anyone.
    let keys = app
        .app
        .store
        .users
        .login_keys(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert!(!keys.public_key.is_empty() && !keys.private_key.is_empty());
    assert!(!keys.login_verifier.contains(&login_pwd_hex("123456")));
    assert!(app.data_dir.path().join("server.key").exists());
    let v = vue.call(&app, "/user/get", &[], &now_salt()).await;
    let me = ok(&v);
    assert_eq!(me["userId"], uid);
    for hidden in ["privateKey", "publicKey", "loginVerifier"] {
        assert!(me.get(hidden).is_none(), "{hidden} shown: {me}");
    }

    // Signed calls after login pass, with GET too; a wrong secret answers 10110.
    let salt = now_salt();
    let form = vue.signed(
        &[
            ("userId", &s.user_id),
            ("pageIndex", "0"),
            ("pageSize", "5000"),
        ],
        &salt,
    );
    let v = send(&app, "GET", "/friends/page", &form).await;
    ok(&v);
    let mut bad = vue.signed(&[("userId", &s.user_id)], &now_salt());
    bad.last_mut().unwrap().1 = hmac_b64(b"wrong key", "x");
    let v = send(&app, "POST", "/user/get", &bad).await;
    assert_eq!(v["resultCode"], 10110, "{v}");
    // A parameter changed after signing is refused the same way.
    let mut moved = vue.signed(&[("userId", &s.user_id)], &now_salt());
    moved[0].1 = "10000".into();
    let v = send(&app, "POST", "/user/get", &moved).await;
    assert_eq!(v["resultCode"], 10110, "{v}");

    // The binary WebSocket takes the token.
    let mut bin = Bin::at(shiku).await;
    bin.auth(uid, &s.token, "web").await;
    bin.ping("p-1").await;

    // A later login: step 1 answers the code at once, step 2 the stored key.
    let mut again = Vue::new("13800000001", "123456");
    let v = again.step1(&app, &now_salt()).await;
    assert!(ok(&v)["code"].is_string(), "{v}");
    again.log_in(&app, &key).await;
    assert_ne!(again.session.unwrap().token, s.token);
}

#[tokio::test]
async fn wrong_passwords_macs_codes_and_data_are_refused() {
    let app = spawn_with(|c| {
        c.auth.signature = SignatureMode::WhenPresent;
        c.auth.login_code_ttl_secs = 1;
    })
    .await;
    let (uid, _) = app.register("13800000002", "secret1", "a").await;
    let uid = uid.to_string();
    let key = rsa_key();
    let mut vue = Vue::new("13800000002", "secret1");
    vue.log_in(&app, &key).await;

    // A wrong password (its verifier makes the mac) and an unknown account answer alike.
    let wrong = Vue::new("13800000002", "secret2");
    let v = wrong.step1(&app, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "帐号或密码错误");
    let nobody = Vue::new("13899999999", "secret1");
    let v = nobody.step1(&app, &now_salt()).await;
    assert_eq!(
        (v["resultCode"].clone(), v["resultMsg"].clone()),
        (json!(0), json!("帐号或密码错误"))
    );
    let v = wrong.step2(&app, &uid, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v.get("data").is_none_or(Value::is_null), "{v}");

    // A stale salt is refused (here by the secret, before the mac is looked at).
    let v = vue.step1(&app, "1700000000000").await;
    assert_eq!(v["resultCode"], 10110, "{v}");

    // Another user's key upload for this user: refused, the keys unchanged.
    let before = app
        .app
        .store
        .users
        .login_keys(uid.parse().unwrap())
        .await
        .unwrap();
    let intruder = Vue::new("13800000003", "secret3");
    app.register("13800000003", "secret3", "b").await;
    let (v, _) = intruder.upload(&app, &uid, &rsa_key(), &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(
        app.app
            .store
            .users
            .login_keys(uid.parse().unwrap())
            .await
            .unwrap(),
        before
    );

    let code_for = |v: &Value| -> [u8; 16] {
        let code = B64.decode(ok(v)["code"].as_str().unwrap()).unwrap();
        key.decrypt(Pkcs1v15Encrypt, &code)
            .unwrap()
            .try_into()
            .unwrap()
    };

    // A wrong mac in step 3 (made with another password's verifier) spends the code.
    let v = vue.step1(&app, &now_salt()).await;
    let k = code_for(&v);
    let salt = now_salt();
    let data = wrong.login_data(&k, &uid, &salt);
    let v = vue.step3(&app, &uid, &data, &salt).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let data = vue.login_data(&k, &uid, &now_salt());
    let v = vue.step3(&app, &uid, &data, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "the code was used: {v}");

    // A replayed code: the first use logs in, the same request again is refused.
    let v = vue.step1(&app, &now_salt()).await;
    let k = code_for(&v);
    let salt = now_salt();
    let data = vue.login_data(&k, &uid, &salt);
    let first = vue.step3(&app, &uid, &data, &salt).await;
    ok(&first);
    vue.sign = false;
    let replay = vue.step3(&app, &uid, &data, &salt).await;
    assert_eq!(replay["resultCode"], 0, "{replay}");
    assert!(
        replay["resultMsg"]
            .as_str()
            .unwrap()
            .contains("登录码已失效"),
        "{replay}"
    );
    vue.sign = true;

    // Tampered data: one byte of the ciphertext changed, or an inner field that differs
    // from the outer one.
    let v = vue.step1(&app, &now_salt()).await;
    let k = code_for(&v);
    let salt = now_salt();
    let mut raw = B64.decode(vue.login_data(&k, &uid, &salt)).unwrap();
    raw[5] ^= 0x40;
    let v = vue.step3(&app, &uid, &B64.encode(raw), &salt).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let v = vue.step1(&app, &now_salt()).await;
    let k = code_for(&v);
    let other_salt = (now_salt().parse::<i64>().unwrap() - 5).to_string();
    let data = vue.login_data(&k, &uid, &other_salt);
    let v = vue.step3(&app, &uid, &data, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");

    // An expired code (life 1 s).
    let v = vue.step1(&app, &now_salt()).await;
    let k = code_for(&v);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let salt = now_salt();
    let data = vue.login_data(&k, &uid, &salt);
    let v = vue.step3(&app, &uid, &data, &salt).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(
        v["resultMsg"].as_str().unwrap().contains("登录码已失效"),
        "{v}"
    );
}

#[tokio::test]
async fn secrets_before_login_are_checked_and_replays_limited() {
    let app = signed_app().await;
    app.register("13800000004", "pw4", "c").await;
    let vue = Vue::new("13800000004", "pw4");
    // The client sends steps 1 and 2 twice verbatim: allowed; a third time is a replay.
    let salt = now_salt();
    ok(&vue.step1(&app, &salt).await);
    ok(&vue.step1(&app, &salt).await);
    let v = vue.step1(&app, &salt).await;
    assert_eq!(v["resultCode"], 10110, "{v}");
    // A wrong secret before login.
    let mut form = vue.signed(&[("telephone", "13800000004")], &now_salt());
    form.last_mut().unwrap().1 = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    let v = send(&app, "POST", "/verify/telephone", &form).await;
    assert_eq!(v["resultCode"], 10110, "{v}");
    // /config is read before the client knows the key: never checked.
    let v = app
        .get(
            "/config",
            &[("salt", "1"), ("secret", "x"), ("access_token", "")],
        )
        .await;
    ok(&v);
    // The right secret on an open call passes.
    let form = vue.signed(
        &[("telephone", "13800000004"), ("areaCode", "86")],
        &now_salt(),
    );
    let v = send(&app, "POST", "/verify/telephone", &form).await;
    assert_eq!(v["resultMsg"], "手机号已注册", "{v}");
}

#[tokio::test]
async fn signature_required_refuses_unsigned_token_calls_of_either_dialect() {
    let app = spawn_with(|c| c.auth.signature = SignatureMode::Required).await;
    app.register("13800000005", "pw5", "d").await;
    let mut vue = Vue::new("13800000005", "pw5");
    vue.log_in(&app, &rsa_key()).await;
    ok(&vue.call(&app, "/user/get", &[], &now_salt()).await);
    vue.sign = false;
    let v = vue.call(&app, "/user/get", &[], &now_salt()).await;
    assert_eq!(v["resultCode"], 10110, "{v}");
}

#[tokio::test]
async fn users_without_a_verifier_are_told_how_to_get_one() {
    let app = signed_app().await;
    let (uid, _) = app.register("13800000006", "pw6", "e").await;
    // As a user imported from a Shiku database: no verifier.
    app.app
        .store
        .users
        .update_user(
            uid as i32,
            &shiku_server::store::Patch::new().unset("loginVerifier"),
        )
        .await
        .unwrap();
    let vue = Vue::new("13800000006", "pw6");
    let v = vue.step1(&app, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("重置密码"), "{v}");
    // One login with the md5 dialect makes it.
    ok(&app.login("13800000006", "pw6").await);
    ok(&vue.step1(&app, &now_salt()).await);

    // A user of an existing Shiku database (or an import): the bare md5 stored, no verifier.
    // The server sees the md5 there, so the first hardened login works at once.
    let mut legacy = app
        .app
        .store
        .users
        .get_user(uid as i32)
        .await
        .unwrap()
        .unwrap();
    legacy.user_id += 1000;
    legacy.telephone = "8613800000016".into();
    legacy.phone = "13800000016".into();
    legacy.account = String::new();
    legacy.password = md5_hex("legacy6");
    app.app.store.users.insert_user(&legacy).await.unwrap();
    let mut vue = Vue::new("13800000016", "legacy6");
    vue.log_in(&app, &rsa_key()).await;
    let keys = app
        .app
        .store
        .users
        .login_keys(legacy.user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(keys.login_verifier.starts_with("k1."), "{keys:?}");
    // Still the legacy md5 (the hardened login never sees the password itself).
    let stored = app
        .app
        .store
        .users
        .get_user(legacy.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password, md5_hex("legacy6"));
}

#[tokio::test]
async fn a_password_change_changes_the_verifier() {
    let app = signed_app().await;
    let (_, token) = app.register("13800000007", "old7", "f").await;
    let v = app
        .post(
            "/user/password/update",
            &[
                ("access_token", &token),
                ("oldPassword", &md5_hex("old7")),
                ("newPassword", &md5_hex("new7")),
            ],
        )
        .await;
    ok(&v);
    let v = Vue::new("13800000007", "old7")
        .step1(&app, &now_salt())
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let mut vue = Vue::new("13800000007", "new7");
    vue.log_in(&app, &rsa_key()).await;
    // Logging out ends the session and the login token.
    let s = vue.session.clone().unwrap();
    ok(&vue.call(&app, "/user/logout", &[], &now_salt()).await);
    let v = vue.call(&app, "/user/get", &[], &now_salt()).await;
    assert_eq!(v["resultCode"], 1030102, "{v}");
    let v = auto_login(&app, &s, &now_salt()).await;
    assert_eq!(v["resultCode"], 1030102, "{v}");
}

async fn auto_login(app: &TestApp, s: &Session, salt: &str) -> Value {
    let login_token = s.info["loginToken"].as_str().unwrap();
    let key: [u8; 16] = B64
        .decode(s.info["loginKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mac = hmac_b64(&key, &format!("{API_KEY}{}{login_token}{salt}", s.user_id));
    let inner = json!({"userId": s.user_id, "salt": salt, "mac": mac});
    let data = B64.encode(aes_enc(&key, inner.to_string().as_bytes()));
    let v = app
        .post(
            "/user/login/auto/v1",
            &[
                ("userId", &s.user_id),
                ("loginToken", login_token),
                ("salt", salt),
                ("data", &data),
                ("access_token", ""),
            ],
        )
        .await;
    if v["resultCode"] == 1 {
        let sealed = B64.decode(v["data"]["data"].as_str().unwrap()).unwrap();
        let info: Value = serde_json::from_slice(&aes_dec(&key, &sealed)).unwrap();
        return json!({"resultCode": 1, "info": info});
    }
    v
}

#[tokio::test]
async fn the_login_token_gives_new_sessions() {
    let app = signed_app().await;
    app.register("13800000008", "pw8", "g").await;
    let mut vue = Vue::new("13800000008", "pw8");
    vue.log_in(&app, &rsa_key()).await;
    let s = vue.session.clone().unwrap();
    let v = auto_login(&app, &s, &now_salt()).await;
    let info = &v["info"];
    assert_eq!(info["userId"].to_string(), s.user_id);
    let token = info["access_token"].as_str().unwrap();
    assert_ne!(token, s.token);
    vue.session = Some(Session {
        user_id: s.user_id.clone(),
        token: token.into(),
        http_key: B64.decode(info["httpKey"].as_str().unwrap()).unwrap(),
        info: info.clone(),
    });
    ok(&vue.call(&app, "/user/get", &[], &now_salt()).await);
    // Another user's login token for this userId, or a forged mac: refused.
    let mut forged = s.clone();
    forged.info["loginKey"] = json!(B64.encode([7u8; 16]));
    let v = auto_login(&app, &forged, &now_salt()).await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

#[tokio::test]
async fn registration_in_the_dialect_then_login() {
    let app = signed_app().await;
    let key = md5(API_KEY.as_bytes());
    let salt = now_salt();
    let fields = [
        ("nickname", "reg-v1"),
        ("telephone", "13800000009"),
        ("password", &md5_hex("pw9") as &str),
        ("smsCode", ""),
        ("areaCode", "86"),
        ("isSmsRegister", "0"),
        ("salt", salt.as_str()),
    ];
    let sorted = key_sort(&fields);
    let mac = hmac_b64(&key, &format!("{API_KEY}{sorted}{salt}"));
    let mut inner = serde_json::Map::new();
    for (k, v) in fields {
        inner.insert(k.into(), json!(v));
    }
    inner.insert("isSmsRegister".into(), json!(0));
    inner.insert("mac".into(), json!(mac));
    let data = B64.encode(aes_enc(
        &key,
        Value::Object(inner.clone()).to_string().as_bytes(),
    ));
    let vue = Vue::new("13800000009", "pw9");
    let v = vue
        .call(&app, "/user/register/v1", &[("data", &data)], &now_salt())
        .await;
    let d = ok(&v);
    assert_eq!(d["nickname"], "reg-v1");
    assert!(
        d["httpKey"].is_string() && d["access_token"].is_string(),
        "{d}"
    );
    // A tampered form (its mac no longer matches).
    inner.insert("nickname".into(), json!("other"));
    inner.insert("telephone".into(), json!("13800000010"));
    let data = B64.encode(aes_enc(&key, Value::Object(inner).to_string().as_bytes()));
    let v = vue
        .call(&app, "/user/register/v1", &[("data", &data)], &now_salt())
        .await;
    assert_eq!(v["resultCode"], 10110, "{v}");
    let mut vue = vue;
    vue.log_in(&app, &rsa_key()).await;
}

#[tokio::test]
async fn a_rotated_server_key_still_opens_verifiers_and_seals_them_again() {
    let (old, new) = (B64.encode([1u8; 32]), B64.encode([2u8; 32]));
    let old_key = old.clone();
    let first = spawn_with(move |c| c.auth.server_key = old_key).await;
    let (uid, _) = first.register("13800000031", "rot31", "r").await;
    let sealed = |app: &TestApp| {
        let store = app.app.store.clone();
        async move {
            let keys = store.users.login_keys(uid as i32).await.unwrap().unwrap();
            keys.login_verifier.split('.').nth(1).unwrap().to_string()
        }
    };
    let under_old = sealed(&first).await;
    // The next start has a new key and keeps the old one among the previous keys.
    let dir = first.data_dir.path().to_path_buf();
    let second = spawn_with(move |c| {
        c.data_dir = dir;
        c.auth.server_key = new;
        c.auth.previous_server_keys = vec![old];
    })
    .await;
    let mut vue = Vue::new("13800000031", "rot31");
    vue.log_in(&second, &rsa_key()).await;
    let under_new = sealed(&second).await;
    assert_ne!(under_old, under_new, "sealed again under the new key");
    // A server without either key cannot open it: the user is told what to do.
    let dir = first.data_dir.path().to_path_buf();
    let third = spawn_with(move |c| {
        c.data_dir = dir;
        c.auth.server_key = B64.encode([3u8; 32]);
    })
    .await;
    let v = Vue::new("13800000031", "rot31")
        .step1(&third, &now_salt())
        .await;
    assert!(v["resultMsg"].as_str().unwrap().contains("重置密码"), "{v}");
}
