//! Black-box tests of registration, login, tokens and request signatures
//! (spec/reference-server.md 1.3, 2.1–2.5; clients.md 2.2, 2.3).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde_json::Value;
use shiku_server::config::SignatureMode;
use shiku_server::domain::util::md5_hex;
use shiku_server::store::Patch;

const API_KEY: &str = "mihuanim";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `v` is a JSON integer holding "now" in seconds (within 5 s).
fn assert_now_secs(v: &Value, what: &str) {
    let t = v
        .as_i64()
        .unwrap_or_else(|| panic!("{what} is not an integer: {v}"));
    assert!((now_secs() - t).abs() < 5, "{what} = {t} is not now in s");
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_code(v: &Value, code: i64, msg: &str) {
    assert_eq!(v["resultCode"], code, "{v}");
    assert_eq!(v["resultMsg"], msg, "{v}");
    assert!(v.get("data").is_none(), "an error carries no data: {v}");
    assert!(
        (now_ms() - v["currentTime"].as_i64().expect("currentTime")).abs() < 5_000,
        "{v}"
    );
}

/// `/user/get` of self with `token`, returning the resultCode.
async fn probe(app: &common::TestApp, token: &str) -> i64 {
    app.post("/user/get", &[("access_token", token)]).await["resultCode"]
        .as_i64()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn register_returns_the_reference_fields() {
    let app = common::spawn().await;
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "18094152050"),
                ("areaCode", "86"),
                ("password", &md5_hex("123456")),
                ("nickname", "张益达"),
                ("sex", "1"),
                ("birthday", "631152000"),
                ("access_token", ""),
                ("flag", "rw"),
            ],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    let d = &v["data"];
    assert_eq!(
        keys(d),
        [
            "access_token",
            "createTime",
            "expires_in",
            "name",
            "nickname",
            "userId"
        ]
    );
    assert_eq!(d["expires_in"], 3_024_000);
    assert_now_secs(&d["createTime"], "createTime");
    assert_eq!(d["nickname"], "张益达");
    assert_eq!(d["name"], "");
    let uid = d["userId"].as_i64().expect("integer userId");
    assert_eq!(uid, 100_100, "first userId of an empty database");
    assert!(!d["access_token"].as_str().unwrap().is_empty());

    // The stored document: reference shape, argon2 instead of the bare md5.
    let u = app
        .app
        .store
        .users
        .get_user(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert!(u.password.starts_with("$argon2"), "{}", u.password);
    assert_ne!(u.password, md5_hex("123456"));
    assert_eq!(u.phone, "18094152050");
    assert_eq!(u.telephone, "8618094152050");
    assert_eq!(u.area_code, "86");
    assert_eq!(u.user_key, md5_hex("18094152050"));
    assert_eq!(u.sex, 1);
    assert_eq!(u.birthday, 631152000);
    assert_eq!(u.status, 1);
    assert_eq!(u.create_time, d["createTime"].as_i64().unwrap());
    // account = userId + 6 random digits, encryAccount = md5(account)
    assert_eq!(u.account.len(), 12, "{}", u.account);
    assert!(u.account.starts_with("100100"), "{}", u.account);
    assert!(u.account.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(u.encry_account, md5_hex(&u.account));
    // Every new user is a friend of the system public account 10000, both directions.
    let f = app
        .app
        .store
        .friends
        .get_friend(uid as i32, 10000)
        .await
        .unwrap();
    assert_eq!(f.expect("uid -> 10000").status, 2);
    let b = app
        .app
        .store
        .friends
        .get_friend(10000, uid as i32)
        .await
        .unwrap();
    assert_eq!(b.expect("10000 -> uid").status, 2);
    // First login log written.
    let log = app.app.store.users.get_login_log(uid as i32).await.unwrap();
    assert_eq!(log.expect("login log").login_log.is_first_login, 1);

    // The token works at once.
    assert_eq!(probe(&app, d["access_token"].as_str().unwrap()).await, 1);

    // userIds are allocated in sequence; the nickname defaults to the phone.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "18094152051"),
                ("password", &md5_hex("x")),
                ("access_token", ""),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid + 1);
    assert_eq!(v["data"]["nickname"], "18094152051");
}

#[tokio::test]
async fn duplicate_registration_is_refused() {
    let app = common::spawn().await;
    app.register("13600000001", "pw", "first").await;
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13600000001"),
                ("areaCode", "86"),
                ("password", &md5_hex("other")),
                ("nickname", "second"),
                ("access_token", ""),
            ],
        )
        .await;
    assert_code(&v, 0, "手机号已被注册");
    // Still exactly one user with that telephone, with the first password.
    assert_eq!(app.login("13600000001", "pw").await["resultCode"], 1);
    // The same national number in another country is another identity.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13600000001"),
                ("areaCode", "852"),
                ("password", &md5_hex("hk")),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
}

#[tokio::test]
async fn concurrent_registrations_get_distinct_ids_and_one_phone_wins_once() {
    let app = common::spawn().await;
    let pw = md5_hex("pw");
    // Different phones at the same time: distinct, consecutive userIds.
    let phones: Vec<String> = (0..6).map(|i| format!("1360000010{i}")).collect();
    let answers = join_all(phones.iter().map(|p| {
        let pairs = [("telephone", p.clone()), ("password", pw.clone())];
        let app = &app;
        async move {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post("/user/register", &p).await
        }
    }))
    .await;
    let mut ids: Vec<i64> = answers
        .iter()
        .map(|v| {
            v["data"]["userId"]
                .as_i64()
                .unwrap_or_else(|| panic!("{v}"))
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(ids[5] - ids[0], 5, "{ids:?}");

    // The same phone at the same time: exactly one account.
    let answers = join_all((0..5).map(|_| {
        let app = &app;
        let pw = pw.clone();
        async move {
            app.post(
                "/user/register",
                &[("telephone", "13600000200"), ("password", &pw)],
            )
            .await
        }
    }))
    .await;
    let ok = answers.iter().filter(|v| v["resultCode"] == 1).count();
    assert_eq!(ok, 1, "{answers:?}");
    for v in answers.iter().filter(|v| v["resultCode"] != 1) {
        assert_code(v, 0, "手机号已被注册");
    }
}

#[tokio::test]
async fn register_validates_its_input() {
    let app = common::spawn().await;
    let pw = md5_hex("pw");
    for (pairs, name) in [
        (vec![("password", pw.as_str())], "telephone"),
        (vec![("telephone", "13600000002")], "password"),
        (
            vec![("telephone", "13600000002"), ("password", "123456")],
            "password",
        ),
        (
            vec![("telephone", "136-0000"), ("password", pw.as_str())],
            "telephone",
        ),
        (
            vec![
                ("telephone", "13600000002"),
                ("password", pw.as_str()),
                ("areaCode", "+86"),
            ],
            "areaCode",
        ),
        (
            vec![
                ("telephone", "13600000002"),
                ("password", pw.as_str()),
                ("sex", "male"),
            ],
            "sex",
        ),
    ] {
        let v = app.post("/user/register", &pairs).await;
        assert_eq!(v["resultCode"], 1010101, "{pairs:?}: {v}");
        let msg = v["resultMsg"].as_str().unwrap();
        assert!(msg.starts_with("请求参数验证失败"), "{msg}");
        assert!(msg.contains(name), "{pairs:?}: {msg} does not name {name}");
    }
    // Nothing was created.
    let v = app
        .post("/verify/telephone", &[("telephone", "13600000002")])
        .await;
    assert_eq!(v["resultMsg"], "手机号未注册");
}

#[tokio::test]
async fn register_is_refused_when_closed() {
    let app = common::spawn_with(|c| c.client.is_open_register = 0).await;
    let v = app
        .post(
            "/user/register",
            &[("telephone", "13600000003"), ("password", &md5_hex("pw"))],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

// ---------------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_by_md5_phone_returns_what_clients_read() {
    let app = common::spawn().await;
    let (uid, _) = app.register("13500000001", "secret", "登录").await;
    // The observed jQuery body: telephone=md5&password=md5&areaCode=86&access_token=
    let v = app.login("13500000001", "secret").await;
    assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    let d = &v["data"];
    assert_eq!(
        keys(d),
        [
            "access_token",
            "birthday",
            "expires_in",
            "fourElements",
            "friendCount",
            "isupdate",
            "login",
            "multipleDevices",
            "nickname",
            "offlineNoPushMsg",
            "payPassword",
            "settings",
            "sex",
            "userId",
        ]
    );
    assert_eq!(d["userId"], uid);
    assert_eq!(d["expires_in"], 3_024_000);
    assert_eq!(d["nickname"], "登录");
    assert_eq!(
        d["payPassword"], 0,
        "an int at login (a string in /user/get)"
    );
    assert_eq!(d["multipleDevices"], 1);
    assert_eq!(d["offlineNoPushMsg"], 0);
    assert_eq!(d["sex"], 0);
    assert_eq!(d["birthday"], 0);
    assert_eq!(d["fourElements"], 0);
    assert_eq!(d["friendCount"], 1, "the system account 10000");
    assert_eq!(d["isupdate"], 1);
    // `login` is the PREVIOUS login log: the one registration wrote.
    let login = &d["login"];
    assert_eq!(login["isFirstLogin"], 1);
    assert_now_secs(&login["loginTime"], "login.loginTime");
    assert_eq!(login["offlineTime"], 0);
    assert!(
        login["latitude"].is_f64() && login["longitude"].is_f64(),
        "{login}"
    );
    // settings: chatRecordTimeOut as the string "-1.0".
    assert_eq!(d["settings"]["chatRecordTimeOut"], "-1.0");
    assert_eq!(d["settings"]["multipleDevices"], 1);
    assert_eq!(d["settings"]["openService"], 0);
    let token = d["access_token"].as_str().unwrap();
    assert_eq!(probe(&app, token).await, 1);

    // The second login sees the first login's log.
    let v = app.login("13500000001", "secret").await;
    assert_eq!(v["data"]["login"]["isFirstLogin"], 0, "{v}");
}

#[tokio::test]
async fn login_reports_roles_and_device_changes() {
    let app = common::spawn().await;
    // A public account (userType 2) gets a role-2 userRoles document at registration.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13500000020"),
                ("password", &md5_hex("pw")),
                ("userType", "2"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let login = |serial: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/user/login",
                &[
                    ("telephone", &md5_hex("13500000020")),
                    ("password", &md5_hex("pw")),
                    ("serial", serial),
                ],
            )
            .await
        }
    };
    let v = login("phone-1").await;
    assert_eq!(v["data"]["role"], serde_json::json!([2]), "{v}");
    assert_eq!(v["data"]["isupdate"], 1, "registration recorded no serial");
    // Same device again: isupdate 0; another device: 1.
    assert_eq!(login("phone-1").await["data"]["isupdate"], 0);
    assert_eq!(login("phone-2").await["data"]["isupdate"], 1);
    let token = login("phone-2").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app.post("/user/get", &[("access_token", &token)]).await;
    assert_eq!(me["data"]["role"], serde_json::json!([2]), "{me}");
    assert_eq!(me["data"]["userType"], 2);
}

#[tokio::test]
async fn login_with_and_without_area_code() {
    let app = common::spawn().await;
    let (cn, _) = app.register("13500000002", "pw", "cn").await;
    let hk = app
        .post(
            "/user/register",
            &[
                ("telephone", "61234567"),
                ("areaCode", "852"),
                ("password", &md5_hex("pw")),
            ],
        )
        .await["data"]["userId"]
        .as_i64()
        .unwrap();
    let login = |tel: &'static str, area: Option<&'static str>| {
        let app = &app;
        async move {
            let t = md5_hex(tel);
            let p = md5_hex("pw");
            let mut pairs = vec![("telephone", t.as_str()), ("password", p.as_str())];
            if let Some(a) = area {
                pairs.push(("areaCode", a));
            }
            app.post("/user/login", &pairs).await
        }
    };
    // No areaCode parameter at all.
    assert_eq!(login("13500000002", None).await["data"]["userId"], cn);
    assert_eq!(login("61234567", None).await["data"]["userId"], hk);
    // Empty areaCode: no area filter.
    assert_eq!(login("61234567", Some("")).await["data"]["userId"], hk);
    // The right areaCode.
    assert_eq!(login("61234567", Some("852")).await["data"]["userId"], hk);
    assert_eq!(login("13500000002", Some("86")).await["data"]["userId"], cn);
    // A wrong areaCode does not find the user.
    assert_code(&login("61234567", Some("86")).await, 0, "帐号或密码错误");
    assert_code(
        &login("13500000002", Some("852")).await,
        0,
        "帐号或密码错误",
    );
    // GET works the same.
    let v = app
        .get(
            "/user/login",
            &[
                ("telephone", &md5_hex("13500000002")),
                ("password", &md5_hex("pw")),
                ("areaCode", "86"),
                ("access_token", ""),
            ],
        )
        .await;
    assert_eq!(v["data"]["userId"], cn, "{v}");
}

#[tokio::test]
async fn login_by_md5_account_and_by_user_id() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13500000003", "pw", "acc").await;
    let account = app.post("/user/get", &[("access_token", &token)]).await["data"]["account"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex(&account)),
                ("password", &md5_hex("pw")),
                ("areaCode", "86"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid);

    let v = app
        .post(
            "/user/login",
            &[("userId", &uid.to_string()), ("password", &md5_hex("pw"))],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid);
    let v = app
        .post(
            "/user/login",
            &[("userId", &uid.to_string()), ("password", &md5_hex("nope"))],
        )
        .await;
    assert_code(&v, 0, "帐号或密码错误");
    let v = app
        .post(
            "/user/login",
            &[("userId", "99999"), ("password", &md5_hex("pw"))],
        )
        .await;
    assert_code(&v, 0, "帐号或密码错误");
}

#[tokio::test]
async fn login_errors() {
    let app = common::spawn().await;
    app.register("13500000004", "right", "e").await;
    assert_code(
        &app.login("13500000004", "wrong").await,
        0,
        "帐号或密码错误",
    );
    assert_code(
        &app.login("13500000099", "right").await,
        0,
        "帐号或密码错误",
    );
    // Missing or non-md5 credentials are parameter errors naming the parameter.
    for (pairs, name) in [
        (vec![("password", md5_hex("right"))], "telephone"),
        (vec![("telephone", md5_hex("13500000004"))], "password"),
        (
            vec![
                ("telephone", md5_hex("13500000004")),
                ("password", "right".to_string()),
            ],
            "password",
        ),
        (
            vec![
                ("telephone", "13500000004".to_string()),
                ("password", md5_hex("right")),
            ],
            "telephone",
        ),
        (
            vec![
                ("userId", "abc".to_string()),
                ("password", md5_hex("right")),
            ],
            "userId",
        ),
    ] {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v = app.post("/user/login", &pairs).await;
        assert_eq!(v["resultCode"], 1010101, "{pairs:?}: {v}");
        assert!(
            v["resultMsg"].as_str().unwrap().contains(name),
            "{pairs:?}: {v}"
        );
    }
}

#[tokio::test]
async fn system_accounts_cannot_log_in() {
    // 10000 and 10005 are created with an empty password: no md5 may match it.
    let app = common::spawn().await;
    for id in ["10000", "10005"] {
        for pw in [md5_hex(""), md5_hex("123456")] {
            let v = app
                .post("/user/login", &[("userId", id), ("password", &pw)])
                .await;
            assert_code(&v, 0, "帐号或密码错误");
            let v = app
                .post(
                    "/user/login",
                    &[
                        ("telephone", &md5_hex(id)),
                        ("password", &pw),
                        ("areaCode", "86"),
                    ],
                )
                .await;
            assert_eq!(v["resultCode"], 0, "{v}");
        }
    }
}

#[tokio::test]
async fn locked_account_cannot_log_in() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13500000005", "pw", "locked").await;
    app.app
        .store
        .users
        .update_user(uid as i32, &Patch::new().set("status", -1))
        .await
        .unwrap()
        .unwrap();
    assert_code(&app.login("13500000005", "pw").await, 0, "您的账号已被锁定");
    // Even with the right password the lock wins; with a wrong one too (no password oracle).
    assert_eq!(app.login("13500000005", "bad").await["resultCode"], 0);
    // An existing session is refused by login/auto with ACCOUNT_IS_LOCKED.
    let v = app
        .post(
            "/user/login/auto",
            &[("access_token", &token), ("userId", &uid.to_string())],
        )
        .await;
    assert_code(&v, 1040304, "账号被锁定");
}

#[tokio::test]
async fn legacy_md5_user_logs_in_and_is_upgraded_to_argon2() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let before = app.app.store.users.get_user(100102).await.unwrap().unwrap();
    assert_eq!(
        before.password,
        md5_hex("123456"),
        "fixture holds the bare md5"
    );

    // A wrong password leaves the legacy value alone.
    assert_code(
        &app.login("15730107952", "654321").await,
        0,
        "帐号或密码错误",
    );
    let still = app.app.store.users.get_user(100102).await.unwrap().unwrap();
    assert_eq!(still.password, md5_hex("123456"));

    let v = app.login("15730107952", "123456").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], 100102);
    assert_eq!(v["data"]["nickname"], "A9gz0");
    let after = app.app.store.users.get_user(100102).await.unwrap().unwrap();
    assert!(after.password.starts_with("$argon2"), "{}", after.password);
    assert!(!after.password.contains(&md5_hex("123456")));

    // The upgraded hash keeps working, and still refuses a wrong password.
    assert_eq!(app.login("15730107952", "123456").await["resultCode"], 1);
    assert_code(
        &app.login("15730107952", "1234567").await,
        0,
        "帐号或密码错误",
    );
}

#[tokio::test]
async fn fixture_user_is_found_by_md5_account() {
    // 100164's encryAccount is md5("100164373329") (seed 002); its password is unknown, so a
    // wrong one must say "wrong password", not "no such account".
    let app = common::spawn().await;
    app.import_fixtures().await;
    assert_eq!(md5_hex("100164373329"), "ccaa643b00b40998dfb81f34ed8fdc78");
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", "ccaa643b00b40998dfb81f34ed8fdc78"),
                ("password", &md5_hex("guess")),
                ("areaCode", "86"),
            ],
        )
        .await;
    assert_code(&v, 0, "帐号或密码错误");
    // The legacy value was not touched by the failed attempt.
    let u = app.app.store.users.get_user(100164).await.unwrap().unwrap();
    assert_eq!(u.password, "1a850742f81ddc04da6f7648a4af0e47");
}

// ---------------------------------------------------------------------------------------------
// login/auto, logout, password change

#[tokio::test]
async fn login_auto_reports_the_session() {
    let app = common::spawn().await;
    let (uid, _) = app.register("13500000006", "pw", "auto").await;
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex("13500000006")),
                ("password", &md5_hex("pw")),
                ("serial", "device-A"),
                ("model", "web"),
            ],
        )
        .await;
    let token = v["data"]["access_token"].as_str().unwrap().to_string();
    // clients.md 2.3: POST /user/login/auto {access_token, userId}
    let v = app
        .post(
            "/user/login/auto",
            &[
                ("access_token", &token),
                ("userId", &uid.to_string()),
                ("serial", "device-A"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let d = &v["data"];
    assert_eq!(
        keys(d),
        [
            "fourElements",
            "login",
            "multipleDevices",
            "name",
            "nickname",
            "payPassword",
            "serialStatus",
            "settings",
            "tokenExists",
            "userId"
        ]
    );
    assert_eq!(d["userId"], uid);
    assert_eq!(d["nickname"], "auto");
    assert_eq!(d["serialStatus"], 2, "same serial as last login");
    assert_eq!(d["tokenExists"], 1);
    assert_eq!(d["payPassword"], "0", "a string here");
    assert_eq!(d["login"]["serial"], "device-A");
    assert_eq!(d["login"]["model"], "web");
    assert_now_secs(&d["login"]["loginTime"], "login.loginTime");
    assert_eq!(d["settings"]["chatRecordTimeOut"], "-1.0");

    let v = app
        .post(
            "/user/login/auto",
            &[("access_token", &token), ("serial", "device-B")],
        )
        .await;
    assert_eq!(v["data"]["serialStatus"], 3, "{v}");

    // Token required (not whitelisted).
    let v = app
        .post("/user/login/auto", &[("userId", &uid.to_string())])
        .await;
    assert_code(&v, 1030101, "缺少访问令牌");
}

#[tokio::test]
async fn logout_revokes_every_token_of_the_user() {
    let app = common::spawn().await;
    let (uid, t_register) = app.register("13500000007", "pw", "out").await;
    let (other_uid, t_other) = app.register("13500000008", "pw", "bystander").await;
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex("13500000007")),
                ("password", &md5_hex("pw")),
                ("deviceKey", "web"),
            ],
        )
        .await;
    let t_login = v["data"]["access_token"].as_str().unwrap().to_string();
    assert_eq!(probe(&app, &t_register).await, 1);
    assert_eq!(probe(&app, &t_login).await, 1);

    let v = app
        .post(
            "/user/logout",
            &[
                ("access_token", &t_login),
                ("areaCode", "86"),
                ("telephone", &md5_hex("13500000007")),
                ("deviceKey", "web"),
            ],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);

    // Both devices' tokens are dead; another user's token is not.
    for t in [&t_register, &t_login] {
        let v = app.post("/user/get", &[("access_token", t)]).await;
        assert_code(&v, 1030102, "访问令牌过期或无效");
    }
    assert_eq!(probe(&app, &t_other).await, 1);
    let _ = other_uid;
    // Logging out again with a dead token is refused.
    let v = app
        .post("/user/logout", &[("access_token", &t_login)])
        .await;
    assert_code(&v, 1030102, "访问令牌过期或无效");

    // Offline time recorded, the device's push token cleared.
    let log = app
        .app
        .store
        .users
        .get_login_log(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert!((now_secs() - log.login_log.offline_time).abs() < 5);
    let web = log.device_map.get("web").expect("deviceMap.web");
    assert_eq!(web.push_token, "");
    assert_eq!(web.online, 0);

    // A new login yields a working token; the next login reports the offline time.
    let v = app.login("13500000007", "pw").await;
    assert_eq!(v["resultCode"], 1);
    assert_now_secs(&v["data"]["login"]["offlineTime"], "login.offlineTime");
    let t_new = v["data"]["access_token"].as_str().unwrap();
    assert_eq!(probe(&app, t_new).await, 1);
    // ... and old tokens stay dead.
    assert_eq!(probe(&app, &t_login).await, 1030102);
}

#[tokio::test]
async fn password_update_revokes_tokens_and_the_new_password_works() {
    let app = common::spawn().await;
    let (uid, t1) = app.register("13500000009", "old-pw", "pw").await;
    let t2 = app.login("13500000009", "old-pw").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let v = app
        .post(
            "/user/password/update",
            &[
                ("access_token", &t2),
                ("oldPassword", &md5_hex("not-it")),
                ("newPassword", &md5_hex("new-pw")),
            ],
        )
        .await;
    assert_code(&v, 0, "旧密码错误");
    assert_eq!(probe(&app, &t2).await, 1, "a failed change revokes nothing");

    for (pairs, name) in [
        (vec![("oldPassword", md5_hex("old-pw"))], "newPassword"),
        (vec![("newPassword", md5_hex("new-pw"))], "oldPassword"),
        (
            vec![
                ("oldPassword", md5_hex("old-pw")),
                ("newPassword", "new-pw".to_string()),
            ],
            "newPassword",
        ),
    ] {
        let mut p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.push(("access_token", &t2));
        let v = app.post("/user/password/update", &p).await;
        assert_eq!(v["resultCode"], 1010101, "{v}");
        assert!(v["resultMsg"].as_str().unwrap().contains(name), "{v}");
    }

    let v = app
        .post(
            "/user/password/update",
            &[
                ("access_token", &t2),
                ("oldPassword", &md5_hex("old-pw")),
                ("newPassword", &md5_hex("new-pw")),
            ],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    assert_eq!(probe(&app, &t1).await, 1030102);
    assert_eq!(probe(&app, &t2).await, 1030102);
    assert_code(
        &app.login("13500000009", "old-pw").await,
        0,
        "帐号或密码错误",
    );
    let v = app.login("13500000009", "new-pw").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(
        probe(&app, v["data"]["access_token"].as_str().unwrap()).await,
        1
    );
    let u = app
        .app
        .store
        .users
        .get_user(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert!(u.password.starts_with("$argon2"));
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[tokio::test]
async fn missing_token_is_1030101() {
    let app = common::spawn().await;
    for path in [
        "/user/get",
        "/user/update",
        "/user/settings",
        "/user/logout",
        "/user/login/auto",
        "/user/password/update",
        "/user/query",
        "/user/outtime",
    ] {
        assert_code(&app.post(path, &[]).await, 1030101, "缺少访问令牌");
        // The web client sends `access_token=` before login.
        assert_code(
            &app.get(path, &[("access_token", "")]).await,
            1030101,
            "缺少访问令牌",
        );
    }
}

#[tokio::test]
async fn garbage_foreign_expired_and_revoked_tokens_are_1030102() {
    let app = common::spawn().await;
    let (_, good) = app.register("13500000010", "pw", "t").await;
    // Garbage, a tampered token, a 32-hex token of the reference's shape.
    // Flip one character inside the signature (not the last one, whose low bits are padding).
    let sig = good.rfind('.').expect("a JWT") + 2;
    let mut tampered = good.clone();
    let c = if &good[sig..sig + 1] == "A" { "B" } else { "A" };
    tampered.replace_range(sig..sig + 1, c);
    for t in [
        "garbage".to_string(),
        tampered,
        md5_hex("reference-style-token"),
        format!("{good}x"),
        "a.b.c".to_string(),
    ] {
        let v = app.post("/user/get", &[("access_token", &t)]).await;
        assert_code(&v, 1030102, "访问令牌过期或无效");
    }
    // A token of another server (another signing key) is not accepted.
    let other = common::spawn().await;
    let (_, foreign) = other.register("13500000010", "pw", "t").await;
    assert_eq!(probe(&app, &foreign).await, 1030102);
    assert_eq!(probe(&app, &good).await, 1);

    // An expired token (a server whose tokens are born expired).
    let expired = common::spawn_with(|c| c.auth.token_ttl_secs = -120).await;
    let (_, t) = expired.register("13500000011", "pw", "t").await;
    assert_eq!(probe(&expired, &t).await, 1030102);
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_data() {
    // The signing key is kept in the store: a restarted node accepts the tokens it issued.
    let first = common::spawn().await;
    let (_, token) = first.register("13500000012", "pw", "r").await;
    let dir = first.data_dir.path().to_path_buf();
    let second = common::spawn_with(|c| c.data_dir = dir).await;
    assert_eq!(probe(&second, &token).await, 1);
}

#[tokio::test]
async fn logout_on_one_node_revokes_the_token_on_another() {
    // Two servers on the same data (two nodes of one deployment, or an old and a new process
    // during a rolling restart): a token revoked on one must be refused by the other.
    let a = common::spawn().await;
    let dir = a.data_dir.path().to_path_buf();
    let b = common::spawn_with(|c| c.data_dir = dir).await;
    let (_, token) = a.register("13500000013", "pw", "nodes").await;
    assert_eq!(probe(&b, &token).await, 1, "node B accepts node A's token");
    let v = a.post("/user/logout", &[("access_token", &token)]).await;
    assert_eq!(v["resultCode"], 1);
    assert_eq!(probe(&a, &token).await, 1030102);
    assert_eq!(
        probe(&b, &token).await,
        1030102,
        "node B still accepts a revoked token"
    );
}

// ---------------------------------------------------------------------------------------------
// Signatures

fn sig_app(mode: SignatureMode) -> impl FnOnce(&mut shiku_server::config::Config) {
    move |c| {
        c.auth.signature = mode;
        c.auth.api_key = API_KEY.into();
    }
}

/// The web client's rule: md5(apiKey + time + userId + access_token).
fn client_secret(time: i64, uid: i64, token: &str) -> String {
    md5_hex(&format!("{API_KEY}{time}{uid}{token}"))
}

async fn signed_get(
    app: &common::TestApp,
    token: &str,
    time: i64,
    secret: &str,
    extra: &[(&str, &str)],
) -> Value {
    let t = time.to_string();
    let mut pairs = vec![
        ("access_token", token),
        ("time", t.as_str()),
        ("secret", secret),
        ("flag", "rw"),
    ];
    pairs.extend_from_slice(extra);
    app.post("/user/get", &pairs).await
}

#[tokio::test]
async fn signature_off_ignores_secrets() {
    let app = common::spawn_with(sig_app(SignatureMode::Off)).await;
    let (_, token) = app.register("13400000001", "pw", "s").await;
    let v = signed_get(&app, &token, 1, "wrong", &[]).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(probe(&app, &token).await, 1);
}

#[tokio::test]
async fn signature_when_present_checks_only_signed_calls() {
    let app = common::spawn_with(sig_app(SignatureMode::WhenPresent)).await;
    let (uid, token) = app.register("13400000002", "pw", "s").await;
    let now = now_secs();
    // Unsigned: accepted (the seed-002 clients send no secret).
    assert_eq!(probe(&app, &token).await, 1);
    // Correctly signed: accepted.
    let v = signed_get(&app, &token, now, &client_secret(now, uid, &token), &[]).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    // Wrong secret, or a secret without time: refused.
    let v = signed_get(&app, &token, now, &md5_hex("nope"), &[]).await;
    assert_code(&v, 0, "授权认证失败");
    let v = app
        .post(
            "/user/get",
            &[
                ("access_token", &token),
                ("secret", &client_secret(now, uid, &token)),
            ],
        )
        .await;
    assert_code(&v, 0, "授权认证失败");
}

#[tokio::test]
async fn signature_required_follows_the_client_rule_and_window() {
    let app = common::spawn_with(sig_app(SignatureMode::Required)).await;
    // Registration and login are lay_invoke calls: `access_token=` only, no secret.
    let (uid, token) = app.register("13400000003", "pw", "s").await;
    let v = app.login("13400000003", "pw").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let now = now_secs();

    // Unsigned token call: refused.
    assert_code(
        &app.post("/user/get", &[("access_token", &token)]).await,
        0,
        "授权认证失败",
    );
    // The exact client rule, with the token's userId, also when asking about someone else.
    let v = signed_get(&app, &token, now, &client_secret(now, uid, &token), &[]).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid);
    let v = signed_get(
        &app,
        &token,
        now,
        &client_secret(now, uid, &token),
        &[("userId", "10000")],
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], 10000);
    // GET query string works the same.
    let t = now.to_string();
    let s = client_secret(now, uid, &token);
    let v = app
        .get(
            "/user/get",
            &[("access_token", &token), ("time", &t), ("secret", &s)],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");

    // Within ±180 s: accepted; beyond: refused.
    for (offset, ok) in [
        (-170, true),
        (170, true),
        (-190, false),
        (190, false),
        (-3600, false),
    ] {
        let t = now + offset;
        let v = signed_get(&app, &token, t, &client_secret(t, uid, &token), &[]).await;
        assert_eq!(v["resultCode"] == 1, ok, "offset {offset}: {v}");
        if !ok {
            assert_code(&v, 0, "授权认证失败");
        }
    }
    // Wrong apiKey, wrong userId, wrong token in the hash, a ms time, garbage time.
    for secret in [
        md5_hex(&format!("other{now}{uid}{token}")),
        client_secret(now, uid + 1, &token),
        client_secret(now, uid, "other-token"),
        md5_hex(&format!("{API_KEY}{now}")),
    ] {
        let v = signed_get(&app, &token, now, &secret, &[]).await;
        assert_code(&v, 0, "授权认证失败");
    }
    let ms = now * 1000;
    let v = signed_get(&app, &token, ms, &client_secret(ms, uid, &token), &[]).await;
    assert_code(&v, 0, "授权认证失败");
    let v = app
        .post(
            "/user/get",
            &[
                ("access_token", &token),
                ("time", "soon"),
                ("secret", &client_secret(now, uid, &token)),
            ],
        )
        .await;
    assert_code(&v, 0, "授权认证失败");
    // A bad token is still 1030102 (the token is checked before the signature).
    let v = signed_get(&app, "garbage", now, "x", &[]).await;
    assert_code(&v, 1030102, "访问令牌过期或无效");
}

#[tokio::test]
async fn open_paths_check_md5_apikey_time_only_without_access_token() {
    let app = common::spawn_with(sig_app(SignatureMode::Required)).await;
    app.register("13400000004", "pw", "s").await;
    let now = now_secs();
    let t = now.to_string();
    let login = |extra: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let mut pairs = vec![
                ("telephone", md5_hex("13400000004")),
                ("password", md5_hex("pw")),
            ];
            pairs.extend(extra);
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post("/user/login", &p).await
        }
    };
    // No secret: open paths need none.
    assert_eq!(login(vec![]).await["resultCode"], 1);
    // secret = md5(apiKey + time), no access_token parameter: checked and accepted.
    let v = login(vec![
        ("time", t.clone()),
        ("secret", md5_hex(&format!("{API_KEY}{now}"))),
    ])
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    // ... and a wrong one refused.
    let v = login(vec![("time", t.clone()), ("secret", md5_hex("wrong"))]).await;
    assert_code(&v, 0, "授权认证失败");
    let old = (now - 600).to_string();
    let v = login(vec![
        ("time", old),
        ("secret", md5_hex(&format!("{API_KEY}{}", now - 600))),
    ])
    .await;
    assert_code(&v, 0, "授权认证失败");
    // An empty access_token skips the check: the pre-login "null"+"null" secret is harmless.
    let nullnull = md5_hex(&format!("{API_KEY}{now}nullnull"));
    let v = login(vec![
        ("access_token", String::new()),
        ("time", t.clone()),
        ("secret", nullnull.clone()),
    ])
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let v = app
        .post(
            "/verify/telephone",
            &[
                ("telephone", "13400000099"),
                ("time", &t),
                ("secret", "bad"),
            ],
        )
        .await;
    assert_code(&v, 0, "授权认证失败");
}

#[tokio::test]
async fn pre_login_null_null_secret_does_not_break_config() {
    let app = common::spawn_with(sig_app(SignatureMode::Required)).await;
    let now = now_secs();
    let t = now.to_string();
    let nullnull = md5_hex(&format!("{API_KEY}{now}nullnull"));
    for path in ["/config", "/getCurrentTime"] {
        // As WEBIM.initConfig sends it: access_token= (empty), time, the nullnull secret.
        let v = app
            .get(
                path,
                &[("access_token", ""), ("time", &t), ("secret", &nullnull)],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "{path}: {v}");
        // Exempt paths are never checked, even without access_token and with a bad secret.
        let v = app
            .post(path, &[("time", "0"), ("secret", "garbage")])
            .await;
        assert_eq!(v["resultCode"], 1, "{path}: {v}");
    }
}
