//! The admin console API (issue 8) as the web console and the task-management system call it:
//! login and sessions, TOTP, who may do what (roles 1/4/5/6/7 and the integration key), a user
//! token refused everywhere under /console and a console token refused everywhere else, and
//! every endpoint's effect and error paths.

mod common;

use serde_json::{json, Value};
use shiku_server::delivery::Push;
use shiku_server::documents::UserRole;
use shiku_server::domain::util::{md5_hex, now_secs};
use shiku_server::http::all_docs;
use shiku_server::http::docs::Access;

use common::{console_admin, TestApp};

const KEY: &str = "task-system-key-0123456789";

async fn spawn() -> TestApp {
    common::spawn_with(|c| c.integration_key = KEY.into()).await
}

fn assert_code(v: &Value, code: i64) {
    assert_eq!(v["resultCode"], code, "{v}");
    assert!(v["currentTime"].is_i64(), "{v}");
}

fn ok(v: &Value) -> &Value {
    assert_eq!(v["resultCode"], 1, "{v}");
    &v["data"]
}

/// A successful `success(PageResult)` answer: rows in `data`, `count` and `total` (0.0) beside
/// them at the top of the envelope. Answers the envelope.
fn page(v: &Value) -> &Value {
    assert_eq!(v["resultCode"], 1, "{v}");
    assert!(
        v["data"].is_array(),
        "page rows are the envelope's data: {v}"
    );
    assert!(v["count"].is_u64(), "count beside data: {v}");
    assert!(
        v["total"].is_f64() && v["total"] == 0.0,
        "total is a double: {v}"
    );
    v
}

async fn grant(app: &TestApp, user_id: i64, role: i32, status: i32) {
    app.app
        .store
        .users
        .insert_role(&UserRole {
            user_id: user_id as i32,
            phone: None,
            role,
            status,
            create_time: now_secs(),
            last_login_time: 0,
        })
        .await
        .unwrap();
}

async fn console_login(app: &TestApp, phone: &str, password: &str) -> Value {
    app.post(
        "/console/login",
        &[
            ("account", phone),
            ("password", &md5_hex(password)),
            ("areaCode", "86"),
        ],
    )
    .await
}

async fn call(app: &TestApp, path: &str, token: &str, extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![("access_token", token)];
    pairs.extend_from_slice(extra);
    app.post(path, &pairs).await
}

fn console_paths() -> Vec<&'static str> {
    all_docs()
        .into_iter()
        .filter(|d| d.access == Access::Console)
        .map(|d| d.path)
        .collect()
}

#[tokio::test]
async fn login_needs_the_password_an_active_console_role_and_an_unlocked_user() {
    let app = spawn().await;
    // GET answers a JSON hint, not a redirect.
    let v = app.get("/console/login", &[]).await;
    assert_eq!(ok(&v)["console"], "/console/");

    let (uid, _) = app.register("13900000001", "secret-pw", "甲").await;
    // Unknown phone and wrong password answer alike (no probing which phones exist).
    let v = console_login(&app, "13900009999", "secret-pw").await;
    assert_code(&v, 0);
    let unknown = v["resultMsg"].clone();
    let v = console_login(&app, "13900000001", "wrong").await;
    assert_code(&v, 0);
    assert_eq!(v["resultMsg"], unknown);
    // A user without a console role.
    let v = console_login(&app, "13900000001", "secret-pw").await;
    assert_code(&v, 0);
    assert!(v["resultMsg"].as_str().unwrap().contains("权限不足"), "{v}");
    // Role 2 (public account) is not a console role.
    grant(&app, uid, 2, 1).await;
    let v = console_login(&app, "13900000001", "secret-pw").await;
    assert!(v["resultMsg"].as_str().unwrap().contains("权限不足"), "{v}");
    // Missing or malformed parameters: 1010101 naming them.
    let v = app
        .post("/console/login", &[("password", &md5_hex("x"))])
        .await;
    assert_code(&v, 1010101);
    assert!(v["resultMsg"].as_str().unwrap().contains("account"));
    let v = app
        .post(
            "/console/login",
            &[("account", "13900000001"), ("password", "plain")],
        )
        .await;
    assert_code(&v, 1010101);
    assert!(v["resultMsg"].as_str().unwrap().contains("password"));

    // Every console role may log in; the answer has the reference's fields.
    for (i, role) in [1, 4, 5, 6, 7].into_iter().enumerate() {
        let phone = format!("1390000010{i}");
        let (uid, token) = console_admin(&app, &phone, role).await;
        let v = console_login(&app, &phone, "secret-pw").await;
        let d = ok(&v);
        assert_eq!(d["role"], role.to_string());
        assert_eq!(d["account"], uid.to_string());
        assert_eq!(d["adminId"], format!("86{phone}"));
        assert_eq!(d["expires_in"], 1800);
        assert_eq!(d["access_Token"], d["access_token"]);
        assert!(d.get("password").is_none());
        assert!(!token.is_empty());
    }

    // A disabled console role, or a locked user, cannot log in.
    let (d, _) = app.register("13900000002", "secret-pw", "乙").await;
    grant(&app, d, 5, -1).await;
    let v = console_login(&app, "13900000002", "secret-pw").await;
    assert!(v["resultMsg"].as_str().unwrap().contains("禁用"), "{v}");
    let (_, super_token) = console_admin(&app, "13900000003", 6).await;
    let (locked, _) = console_admin(&app, "13900000004", 5).await;
    let v = call(
        &app,
        "/console/changeStatus",
        &super_token,
        &[("userId", &locked.to_string()), ("status", "-1")],
    )
    .await;
    ok(&v);
    let v = console_login(&app, "13900000004", "secret-pw").await;
    assert!(v["resultMsg"].as_str().unwrap().contains("禁用"), "{v}");
}

#[tokio::test]
async fn user_tokens_never_open_the_console_and_console_tokens_never_act_as_users() {
    let app = spawn().await;
    let (_, user_token) = app.register("13900000011", "secret-pw", "用户").await;
    let (_, console) = console_admin(&app, "13900000012", 6).await;
    let paths = console_paths();
    assert!(paths.len() >= 30, "{paths:?}");
    for path in &paths {
        // A user token: 1030102, as the reference's filter answers.
        let v = call(&app, path, &user_token, &[]).await;
        assert_code(&v, 1030102);
        // No token: 1030101.
        let v = app.post(path, &[]).await;
        assert_code(&v, 1030101);
    }
    // The console token (and the integration key) on every user endpoint: 1030102.
    let user_paths: Vec<&str> = all_docs()
        .into_iter()
        .filter(|d| d.access == Access::User && !d.path.starts_with("/upload"))
        .map(|d| d.path)
        .collect();
    assert!(user_paths.len() > 20);
    for path in user_paths {
        for token in [console.as_str(), KEY] {
            let v = call(&app, path, token, &[]).await;
            assert_eq!(v["resultCode"], 1030102, "{path}: {v}");
        }
    }
}

#[tokio::test]
async fn sessions_last_thirty_idle_minutes_are_renewed_on_use_and_end_at_logout() {
    let app = spawn().await;
    let (uid, token) = console_admin(&app, "13900000021", 5).await;
    let v = call(&app, "/console/me", &token, &[]).await;
    assert_eq!(ok(&v)["userId"], uid);
    assert_eq!(ok(&v)["role"], 5);
    assert_eq!(ok(&v)["totpEnabled"], false);
    assert_code(&call(&app, "/console/me", KEY, &[]).await, 1030103);
    let key = format!("console_session:{}", md5_hex(&token));
    let meta = &app.app.store.meta;
    let console = &app.app.store.console;

    // Used 20 minutes ago: still alive, and the use renews it.
    console
        .set_meta(&key, &(now_secs() - 1200).to_string())
        .await
        .unwrap();
    let v = call(&app, "/console/userList", &token, &[]).await;
    ok(&v);
    let last: i64 = meta.get_meta(&key).await.unwrap().unwrap().parse().unwrap();
    assert!(now_secs() - last < 5, "renewed: {last}");

    // Idle for more than 30 minutes: refused like any invalid token.
    console
        .set_meta(&key, &(now_secs() - 1801).to_string())
        .await
        .unwrap();
    let v = call(&app, "/console/userList", &token, &[]).await;
    assert_code(&v, 1030102);

    // Logout ends the session; a new login gives a working token.
    let v = console_login(&app, "13900000021", "secret-pw").await;
    let token = ok(&v)["access_Token"].as_str().unwrap().to_string();
    let v = call(&app, "/console/logout", &token, &[]).await;
    ok(&v);
    let v = call(&app, "/console/userList", &token, &[]).await;
    assert_code(&v, 1030102);
    // The integration key has no session to end.
    let v = call(&app, "/console/logout", KEY, &[]).await;
    assert_code(&v, 1030103);
}

fn totp_code(secret: &str, at: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .unwrap()
        .generate(at)
}

#[tokio::test]
async fn totp_second_factor() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000031", 6).await;
    // Enabling needs a setup first, then a right code.
    let v = call(&app, "/console/totp/enable", &token, &[("code", "123456")]).await;
    assert_code(&v, 0);
    let v = call(&app, "/console/totp/setup", &token, &[]).await;
    let d = ok(&v).clone();
    let secret = d["secret"].as_str().unwrap().to_string();
    assert!(d["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let now = now_secs() as u64;
    let wrong = if totp_code(&secret, now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let v = call(&app, "/console/totp/enable", &token, &[("code", wrong)]).await;
    assert_code(&v, 0);
    let v = call(&app, "/console/totp/enable", &token, &[("code", "")]).await;
    assert_code(&v, 1010101);
    // The previous step's code is accepted (clock skew), once.
    let v = call(
        &app,
        "/console/totp/enable",
        &token,
        &[("code", &totp_code(&secret, now - 30))],
    )
    .await;
    ok(&v);

    // Now login needs the code.
    let v = console_login(&app, "13900000031", "secret-pw").await;
    assert_code(&v, 0);
    assert!(
        v["resultMsg"].as_str().unwrap().contains("googlecode"),
        "{v}"
    );
    let login = |code: String| {
        let app = &app;
        async move {
            app.post(
                "/console/login",
                &[
                    ("account", "13900000031"),
                    ("password", &md5_hex("secret-pw")),
                    ("googlecode", &code),
                ],
            )
            .await
        }
    };
    let v = login(wrong.to_string()).await;
    assert!(
        v["resultMsg"].as_str().unwrap().contains("谷歌验证失败"),
        "{v}"
    );
    let code = totp_code(&secret, now_secs() as u64);
    let v = login(code.clone()).await;
    assert_eq!(ok(&v)["totpEnabled"], true);
    // The same code cannot be used twice.
    let v = login(code).await;
    assert_code(&v, 0);
    // The wrong password fails before the code is even looked at.
    let v = console_login(&app, "13900000031", "nope").await;
    assert!(
        v["resultMsg"].as_str().unwrap().contains("帐号或密码错误"),
        "{v}"
    );

    // Disabling needs a current, unused code.
    let v = call(&app, "/console/totp/disable", &token, &[("code", wrong)]).await;
    assert_code(&v, 0);
    let v = call(
        &app,
        "/console/totp/disable",
        &token,
        &[("code", &totp_code(&secret, now_secs() as u64 + 30))],
    )
    .await;
    ok(&v);
    let v = console_login(&app, "13900000031", "secret-pw").await;
    ok(&v);
    // The integration key has no second factor of its own.
    let v = call(&app, "/console/totp/setup", KEY, &[]).await;
    assert_code(&v, 1030103);
}

#[tokio::test]
async fn roles_decide_who_may_do_what() {
    let app = spawn().await;
    let (_, tourist) = console_admin(&app, "13900000041", 1).await;
    let (_, service) = console_admin(&app, "13900000042", 4).await;
    let (_, finance) = console_admin(&app, "13900000043", 7).await;
    let (admin5_id, admin5) = console_admin(&app, "13900000044", 5).await;
    let (_, super6) = console_admin(&app, "13900000045", 6).await;
    let (victim, _) = app.register("13900000046", "pw", "受害者").await;
    let victim = victim.to_string();

    // Reads: every console role; not the integration key.
    for path in [
        "/console/userList",
        "/console/roomList",
        "/console/chat_logs_all",
        "/console/userStatus",
        "/console/summary",
    ] {
        for t in [&tourist, &service, &finance, &admin5, &super6] {
            ok(&call(&app, path, t, &[]).await);
        }
        assert_code(&call(&app, path, KEY, &[]).await, 1030103);
    }
    // Changes: 5/6 only (1030103 for the others, before any parameter is looked at).
    for path in [
        "/console/changeStatus",
        "/console/deleteUser",
        "/console/updateUser",
        "/console/restPwd",
        "/console/deleteRoom",
        "/console/pushToAll",
        "/console/chat_logs_all/del",
        "/console/adminList",
        "/console/config",
        "/console/oneSendOne",
        "/console/sendMessage",
    ] {
        for t in [&tourist, &service, &finance] {
            assert_code(&call(&app, path, t, &[]).await, 1030103);
        }
    }
    let v = call(&app, "/console/restPwd", &admin5, &[("userId", &victim)]).await;
    ok(&v);
    // Admin accounts and configuration: 6 only.
    for path in [
        "/console/addAdmin",
        "/console/modifyAdmin",
        "/console/delAdmin",
        "/console/config/set",
    ] {
        assert_code(&call(&app, path, &admin5, &[]).await, 1030103);
        assert_code(&call(&app, path, KEY, &[]).await, 1030103);
    }
    // An admin (5) cannot lock, reset or delete another admin account; a super admin can.
    let (other_admin, _) = console_admin(&app, "13900000047", 5).await;
    let other = other_admin.to_string();
    for (path, extra) in [
        (
            "/console/changeStatus",
            vec![("userId", other.as_str()), ("status", "-1")],
        ),
        ("/console/restPwd", vec![("userId", other.as_str())]),
        ("/console/deleteUser", vec![("userId", other.as_str())]),
        (
            "/console/updateUser",
            vec![("userId", other.as_str()), ("nickname", "x")],
        ),
    ] {
        assert_code(&call(&app, path, &admin5, &extra).await, 1030103);
    }
    ok(&call(
        &app,
        "/console/changeStatus",
        &super6,
        &[("userId", &other), ("status", "-1")],
    )
    .await);
    // Nobody locks themselves.
    let v = call(
        &app,
        "/console/changeStatus",
        &super6,
        &[("userId", &admin5_id.to_string()), ("status", "2")],
    )
    .await;
    assert_code(&v, 1010101);
    // The integration key syncs users.
    let v = call(
        &app,
        "/console/useralladd",
        KEY,
        &[
            ("telephone", "13900000048"),
            ("nickname", "新"),
            ("password", "p4ssword"),
        ],
    )
    .await;
    assert_eq!(ok(&v)["created"], true);
    // A console token of someone who lost the role since: 1030103 at the filter.
    app.app
        .store
        .console
        .delete_roles(admin5_id as i32, &[5])
        .await
        .unwrap();
    assert_code(
        &call(&app, "/console/userList", &admin5, &[]).await,
        1030103,
    );
}

#[tokio::test]
async fn user_list_pages_filters_and_hides_secrets() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000051", 1).await;
    for i in 0..5 {
        app.register(&format!("1380000005{i}"), "pw", &format!("列表{i}"))
            .await;
    }
    // 5 + the admin + the two system users.
    let v = call(&app, "/console/userList", &token, &[("limit", "2")]).await;
    let d = page(&v);
    assert_eq!(d["count"], 8);
    assert_eq!(d["data"].as_array().unwrap().len(), 2);
    // fastjson's alphabetical keys, as `success(PageResult)` renders them.
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["count", "currentTime", "data", "resultCode", "total"]
    );
    for u in d["data"].as_array().unwrap() {
        assert!(u.get("password").is_none(), "{u}");
        assert!(u.get("loginLog").is_some(), "{u}");
    }
    let v = call(
        &app,
        "/console/userList",
        &token,
        &[("limit", "3"), ("page", "3")],
    )
    .await;
    assert_eq!(page(&v)["data"].as_array().unwrap().len(), 2);
    // 0-based pageIndex/pageSize are understood too.
    let v = call(
        &app,
        "/console/userList",
        &token,
        &[("pageSize", "3"), ("pageIndex", "2")],
    )
    .await;
    assert_eq!(page(&v)["data"].as_array().unwrap().len(), 2);
    // Keyword: nickname or phone substring; a numeric keyword also matches a userId.
    let v = call(&app, "/console/userList", &token, &[("keyWorld", "列表")]).await;
    assert_eq!(page(&v)["count"], 5);
    let v = call(
        &app,
        "/console/userList",
        &token,
        &[("keyWorld", "80000005")],
    )
    .await;
    assert_eq!(page(&v)["count"], 5);
    let v = call(&app, "/console/userList", &token, &[("keyWorld", "10005")]).await;
    assert_eq!(page(&v)["data"][0]["userId"], 10005);
    let v = call(&app, "/console/userList", &token, &[("keyWorld", "%")]).await;
    assert_eq!(page(&v)["count"], 0);
    // Online state and dates.
    let v = call(&app, "/console/userList", &token, &[("onlinestate", "1")]).await;
    assert_eq!(page(&v)["count"], 0);
    let v = call(&app, "/console/userList", &token, &[("onlinestate", "0")]).await;
    assert_eq!(page(&v)["count"], 8);
    let v = call(
        &app,
        "/console/userList",
        &token,
        &[("startDate", "2999-01-01")],
    )
    .await;
    assert_eq!(page(&v)["count"], 0);
    let v = call(
        &app,
        "/console/userList",
        &token,
        &[("endDate", "2999-01-01")],
    )
    .await;
    assert_eq!(page(&v)["count"], 8);
    // Bad values: 1010101 naming the parameter.
    for (k, val) in [
        ("page", "-1"),
        ("limit", "x"),
        ("onlinestate", "3"),
        ("startDate", "yesterday"),
    ] {
        let v = call(&app, "/console/userList", &token, &[(k, val)]).await;
        assert_code(&v, 1010101);
        assert!(v["resultMsg"].as_str().unwrap().contains(k), "{v}");
    }
}

#[tokio::test]
async fn users_are_created_updated_and_synced_by_id_or_phone() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000061", 5).await;
    // Create: userId 0, plain password hashed like the client's md5.
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[
            ("userId", "0"),
            ("telephone", "13800000061"),
            ("nickname", "创建"),
            ("password", "first-pw"),
        ],
    )
    .await;
    let d = ok(&v).clone();
    assert_eq!(d["created"], true);
    let uid = d["userId"].as_i64().unwrap();
    ok(&app.login("13800000061", "first-pw").await);
    // Creating needs a phone and a password; a taken phone is refused.
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("telephone", "13800000062")],
    )
    .await;
    assert_code(&v, 1010101);
    assert!(v["resultMsg"].as_str().unwrap().contains("password"));
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("nickname", "x"), ("password", "p")],
    )
    .await;
    assert_code(&v, 1010101);
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("telephone", "13800000061"), ("password", "p")],
    )
    .await;
    assert_code(&v, 0);
    // Show (no fields), by id and by phone.
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("userId", &uid.to_string())],
    )
    .await;
    assert_eq!(ok(&v)["nickname"], "创建");
    assert!(ok(&v).get("password").is_none());
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("phone", "13800000061")],
    )
    .await;
    assert_eq!(ok(&v)["userId"], uid);
    // Update by phone: nickname and password (which ends the old sessions).
    let old = app.login("13800000061", "first-pw").await;
    let old_token = ok(&old)["access_token"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[
            ("phone", "13800000061"),
            ("nickname", "改名"),
            ("password", "second-pw"),
        ],
    )
    .await;
    assert_eq!(ok(&v)["created"], false);
    let v = app.get("/user/get", &[("access_token", &old_token)]).await;
    assert_code(&v, 1030102);
    assert_code(&app.login("13800000061", "first-pw").await, 0);
    let me = app.login("13800000061", "second-pw").await;
    assert_eq!(ok(&me)["nickname"], "改名");
    // Bad values and unknown users.
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("userId", &uid.to_string()), ("sex", "7")],
    )
    .await;
    assert_code(&v, 1010101);
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("userId", "99999999"), ("nickname", "x")],
    )
    .await;
    assert_code(&v, 1040101);
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("userId", "10005"), ("nickname", "x")],
    )
    .await;
    assert_code(&v, 0);

    // useralladd: create, then the same phone again updates (idempotent sync).
    let v = call(
        &app,
        "/console/useralladd",
        KEY,
        &[
            ("telephone", "13800000063"),
            ("nickname", "同步"),
            ("password", "sync-pw"),
        ],
    )
    .await;
    let d = ok(&v).clone();
    assert_eq!(d["created"], true);
    let v = call(
        &app,
        "/console/useralladd",
        KEY,
        &[("telephone", "13800000063"), ("nickname", "同步2")],
    )
    .await;
    assert_eq!(ok(&v)["created"], false);
    assert_eq!(ok(&v)["userId"], d["userId"]);
    assert_eq!(
        ok(&app.login("13800000063", "sync-pw").await)["nickname"],
        "同步2"
    );
    // The key also updates by phone, but never an admin account.
    let v = call(
        &app,
        "/console/updateUser",
        KEY,
        &[("phone", "13800000063"), ("nickname", "同步3")],
    )
    .await;
    assert_eq!(ok(&v)["created"], false);
    let v = call(
        &app,
        "/console/updateUser",
        KEY,
        &[("phone", "13900000061"), ("nickname", "x")],
    )
    .await;
    assert_code(&v, 1030103);
    let v = call(&app, "/console/useralladd", KEY, &[("nickname", "x")]).await;
    assert_code(&v, 1010101);
    let v = call(&app, "/console/useralladd", KEY, &[("telephone", "12ab")]).await;
    assert_code(&v, 1010101);

    // restPwd: the reference's default, or the given one; sessions end.
    let v = call(
        &app,
        "/console/restPwd",
        &token,
        &[("phone", "13800000063")],
    )
    .await;
    ok(&v);
    ok(&app.login("13800000063", "123456").await);
    let v = call(
        &app,
        "/console/restPwd",
        &token,
        &[
            ("userId", &d["userId"].to_string()),
            ("password", "chosen-pw"),
        ],
    )
    .await;
    ok(&v);
    ok(&app.login("13800000063", "chosen-pw").await);
    assert_code(&call(&app, "/console/restPwd", &token, &[]).await, 1010101);
    assert_code(
        &call(&app, "/console/restPwd", &token, &[("userId", "99999999")]).await,
        1040101,
    );
}

#[tokio::test]
async fn locking_a_user_ends_tokens_and_live_sessions() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000071", 5).await;
    let (uid, user_token) = app.register("13800000071", "pw", "锁").await;
    let (tx, mut rx) = shiku_server::delivery::push_channel(usize::MAX);
    app.app.router.register(uid as i32, "web", tx);
    // By phone, with the integration key (the task system's way).
    let v = call(
        &app,
        "/console/changeStatus",
        KEY,
        &[("phone", "13800000071"), ("status", "-1")],
    )
    .await;
    assert_eq!(ok(&v)["status"], -1);
    assert_eq!(rx.try_recv().unwrap(), Push::Conflict);
    assert!(!app.app.router.is_local(uid as i32));
    assert_code(
        &app.get("/user/get", &[("access_token", &user_token)]).await,
        1030102,
    );
    assert_code(&app.login("13800000071", "pw").await, 0);
    // Unlock: login works again.
    let v = call(
        &app,
        "/console/changeStatus",
        &token,
        &[("userId", &uid.to_string()), ("status", "1")],
    )
    .await;
    ok(&v);
    ok(&app.login("13800000071", "pw").await);
    // Errors.
    let v = call(
        &app,
        "/console/changeStatus",
        &token,
        &[("userId", &uid.to_string())],
    )
    .await;
    assert_code(&v, 1010101);
    let v = call(&app, "/console/changeStatus", &token, &[("status", "-1")]).await;
    assert_code(&v, 1010101);
    let v = call(
        &app,
        "/console/changeStatus",
        &token,
        &[("phone", "13899999999"), ("status", "-1")],
    )
    .await;
    assert_code(&v, 1040101);
    let v = call(
        &app,
        "/console/changeStatus",
        &token,
        &[("userId", "10000"), ("status", "-1")],
    )
    .await;
    assert_code(&v, 0);
}

#[tokio::test]
async fn deleting_a_user_really_deletes_and_tells_friends_with_512() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000081", 6).await;
    let (a, ta) = app.register("13800000081", "pw", "被删").await;
    let (b, tb) = app.register("13800000082", "pw", "朋友").await;
    let (c, _) = app.register("13800000083", "pw", "另一个").await;
    // b verifies nobody: a adds it directly.
    ok(&app
        .post(
            "/user/settings/update",
            &[("access_token", &tb), ("friendsVerify", "0")],
        )
        .await);
    let v = app
        .post(
            "/friends/add",
            &[("access_token", &ta), ("toUserId", &b.to_string())],
        )
        .await;
    ok(&v);
    // A room the user owns (dissolved) and one they are a member of (left).
    let jid = shiku_server::domain::util::uuid32();
    let v = app
        .post(
            "/room/add",
            &[
                ("access_token", &ta),
                ("jid", &jid),
                ("name", "r"),
                ("text", &format!("[{b}]")),
            ],
        )
        .await;
    let owned_room = ok(&v)["id"].as_str().unwrap().to_string();
    let (tx, mut rx) = shiku_server::delivery::push_channel(usize::MAX);
    app.app.router.register(b as i32, "web", tx);

    let v = call(
        &app,
        "/console/deleteUser",
        KEY,
        &[("phone", "13800000081")],
    )
    .await;
    assert_eq!(ok(&v)["deleted"], json!([a]));
    let mut types = Vec::new();
    while let Some(Push::Message(d)) = rx.try_recv() {
        let body: Value = serde_json::from_str(&d.body).unwrap();
        types.push(body["type"].as_i64().unwrap());
        if body["type"] == 512 {
            assert_eq!(body["fromUserId"], a.to_string());
        }
    }
    assert!(types.contains(&512), "{types:?}");
    assert!(types.contains(&903), "{types:?}");
    assert!(app
        .app
        .store
        .users
        .get_user(a as i32)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .app
        .store
        .friends
        .get_friend(b as i32, a as i32)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .app
        .store
        .rooms
        .get_room(&owned_room)
        .await
        .unwrap()
        .is_none());
    assert_code(&app.login("13800000081", "pw").await, 0);
    // Errors: unknown, system, self, nothing given, bad list.
    let v = call(
        &app,
        "/console/deleteUser",
        &token,
        &[("userId", &a.to_string())],
    )
    .await;
    assert_code(&v, 1040101);
    let v = call(&app, "/console/deleteUser", &token, &[("userId", "10000")]).await;
    assert_code(&v, 0);
    assert_code(
        &call(&app, "/console/deleteUser", &token, &[]).await,
        1010101,
    );
    assert_code(
        &call(&app, "/console/deleteUser", &token, &[("userId", "1,x")]).await,
        1010101,
    );
    // A comma list deletes several.
    let v = call(
        &app,
        "/console/deleteUser",
        &token,
        &[("userId", &format!("{b},{c}"))],
    )
    .await;
    assert_eq!(ok(&v)["deleted"], json!([b, c]));
}

async fn make_room(app: &TestApp, owner_token: &str, members: &[i64]) -> (String, String) {
    let jid = shiku_server::domain::util::uuid32();
    let text = serde_json::to_string(members).unwrap();
    let v = app
        .post(
            "/room/add",
            &[
                ("access_token", owner_token),
                ("jid", &jid),
                ("name", "控制台群"),
                ("text", &text),
            ],
        )
        .await;
    (ok(&v)["id"].as_str().unwrap().to_string(), jid)
}

#[tokio::test]
async fn rooms_are_listed_managed_locked_and_dissolved() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000091", 5).await;
    let (_, reader) = console_admin(&app, "13900000092", 1).await;
    let (a, ta) = app.register("13800000091", "pw", "群主").await;
    let (b, tb) = app.register("13800000092", "pw", "成员").await;
    let (c, _) = app.register("13800000093", "pw", "新人").await;
    let (room, _jid) = make_room(&app, &ta, &[b]).await;
    make_room(&app, &ta, &[]).await;

    let v = call(&app, "/console/roomList", &reader, &[]).await;
    assert_eq!(page(&v)["count"], 2);
    let v = call(&app, "/console/roomList", &reader, &[("leastNumbers", "1")]).await;
    assert_eq!(page(&v)["count"], 1);
    assert_eq!(page(&v)["data"][0]["id"], room);
    let v = call(
        &app,
        "/console/roomList",
        &reader,
        &[("keyWorld", "不存在")],
    )
    .await;
    assert_eq!(page(&v)["count"], 0);
    let v = call(
        &app,
        "/console/getRoomMember",
        &reader,
        &[("roomId", &room)],
    )
    .await;
    assert_eq!(ok(&v)["members"].as_array().unwrap().len(), 2);
    assert_code(
        &call(&app, "/console/getRoomMember", &reader, &[("roomId", "x")]).await,
        1010101,
    );
    assert_code(
        &call(&app, "/console/getRoomMember", &reader, &[]).await,
        1010101,
    );

    // Invite and remove.
    let v = call(
        &app,
        "/console/inviteJoinRoom",
        &token,
        &[("roomId", &room), ("userIds", &format!("{c},{c},{b}"))],
    )
    .await;
    assert_eq!(ok(&v)["added"], json!([c]));
    let v = call(
        &app,
        "/console/inviteJoinRoom",
        &token,
        &[("roomId", &room), ("userIds", "99999999")],
    )
    .await;
    assert_code(&v, 0);
    let v = call(
        &app,
        "/console/deleteMember",
        &token,
        &[("roomId", &room), ("userId", &c.to_string())],
    )
    .await;
    assert_eq!(ok(&v)["removed"], json!([c]));
    let v = call(
        &app,
        "/console/deleteMember",
        &token,
        &[("roomId", &room), ("userId", &a.to_string())],
    )
    .await;
    assert_code(&v, 0);
    assert_code(
        &call(&app, "/console/deleteMember", &token, &[("roomId", &room)]).await,
        1010101,
    );

    // Lock: 931 into the room, members cannot change it; unlock again.
    let v = call(
        &app,
        "/console/updateRoom",
        &token,
        &[("roomId", &room), ("s", "-1")],
    )
    .await;
    ok(&v);
    let v = app
        .post(
            "/room/member/delete",
            &[
                ("access_token", &tb),
                ("roomId", &room),
                ("userId", &b.to_string()),
            ],
        )
        .await;
    assert_code(&v, 0);
    assert!(v["resultMsg"].as_str().unwrap().contains("锁定"), "{v}");
    let v = call(
        &app,
        "/console/updateRoom",
        &token,
        &[("roomId", &room), ("s", "1")],
    )
    .await;
    ok(&v);
    assert_code(
        &call(
            &app,
            "/console/updateRoom",
            &token,
            &[("roomId", &room), ("s", "5")],
        )
        .await,
        1010101,
    );
    let v = call(
        &app,
        "/console/groupchat_logs_all",
        &reader,
        &[("room_jid_id", &_jid), ("keyWord", "1")],
    )
    .await;
    let rows = page(&v)["data"].as_array().unwrap().clone();
    assert!(
        rows.iter().any(|r| r["content"] == "-1"),
        "931 lock notice in the room log: {rows:?}"
    );

    // Dissolve.
    ok(&call(&app, "/console/deleteRoom", &token, &[("roomId", &room)]).await);
    let v = call(&app, "/console/deleteRoom", &token, &[("roomId", &room)]).await;
    assert_code(&v, 0);
    assert_code(
        &call(&app, "/console/deleteRoom", &token, &[]).await,
        1010101,
    );
}

async fn send_text(app: &TestApp, token: &str, from: i64, to: i64, text: &str) -> String {
    let v = call(
        app,
        "/console/sendMessage",
        token,
        &[
            ("from", &from.to_string()),
            ("to", &to.to_string()),
            ("body", text),
        ],
    )
    .await;
    ok(&v)["messageId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn chat_logs_are_read_filtered_and_deleted() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000101", 6).await;
    let (_, reader) = console_admin(&app, "13900000102", 1).await;
    let (a, _) = app.register("13800000101", "pw", "甲").await;
    let (b, _) = app.register("13800000102", "pw", "乙").await;
    send_text(&app, &token, a, b, "你好 one").await;
    send_text(&app, &token, b, a, "回复 two").await;
    send_text(&app, &token, a, b, "再见 three").await;

    let v = call(&app, "/console/chat_logs_all", &reader, &[]).await;
    let d = page(&v).clone();
    assert_eq!(
        d["count"], 3,
        "one row per message (sender copies only): {d}"
    );
    let first = &d["data"][0];
    assert_eq!(first["content"], "再见 three");
    assert_eq!(first["sender_nickname"], "甲");
    assert_eq!(first["receiver_nickname"], "乙");
    assert_eq!(first["isEncrypt"], 0);
    let v = call(
        &app,
        "/console/chat_logs_all",
        &reader,
        &[("sender", &b.to_string())],
    )
    .await;
    assert_eq!(page(&v)["count"], 1);
    let v = call(
        &app,
        "/console/chat_logs_all",
        &reader,
        &[("receiver", &b.to_string()), ("keyWord", "one")],
    )
    .await;
    assert_eq!(page(&v)["count"], 1);
    let v = call(
        &app,
        "/console/chat_logs_all",
        &reader,
        &[("startTime", "4102444800000")],
    )
    .await;
    assert_eq!(page(&v)["count"], 0);
    let v = call(
        &app,
        "/console/chat_logs_all",
        &reader,
        &[("limit", "2"), ("page", "2")],
    )
    .await;
    assert_eq!(page(&v)["data"].as_array().unwrap().len(), 1);
    assert_code(
        &call(&app, "/console/chat_logs_all", &reader, &[("sender", "x")]).await,
        1010101,
    );

    // Delete by filter: both copies go.
    let v = call(
        &app,
        "/console/chat_logs_all/del",
        &token,
        &[("keyWord", "one")],
    )
    .await;
    assert_eq!(ok(&v)["deleted"], 2);
    let v = call(&app, "/console/chat_logs_all/del", &token, &[]).await;
    assert_code(&v, 1010101);
    // Delete rows by _id.
    let v = call(&app, "/console/chat_logs_all", &reader, &[]).await;
    let id = page(&v)["data"][0]["_id"].as_str().unwrap().to_string();
    let v = call(&app, "/console/deleteChatMsgs", &token, &[("msgId", &id)]).await;
    assert_eq!(ok(&v)["deleted"], 1);
    assert_code(
        &call(&app, "/console/deleteChatMsgs", &token, &[("msgId", "zz")]).await,
        1010101,
    );
    assert_code(
        &call(&app, "/console/deleteChatMsgs", &token, &[]).await,
        1010101,
    );
    // Type 1 keeps this month's messages, type 2 the newest 100000.
    let v = call(&app, "/console/deleteChatMsgs", &token, &[("type", "1")]).await;
    assert_eq!(ok(&v)["deleted"], 0);
    let v = call(&app, "/console/deleteChatMsgs", &token, &[("type", "2")]).await;
    assert_eq!(ok(&v)["deleted"], 0);
    let v = call(&app, "/console/chat_logs_all", &reader, &[]).await;
    assert_eq!(page(&v)["count"], 1);
    // Everything, explicitly: both copies of the remaining message.
    let v = call(&app, "/console/chat_logs_all/del", &token, &[("all", "1")]).await;
    assert_eq!(ok(&v)["deleted"], 2);
    let v = call(&app, "/console/chat_logs_all", &reader, &[]).await;
    assert_eq!(page(&v)["count"], 0);
}

#[tokio::test]
async fn group_logs_are_read_and_deleted() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000111", 5).await;
    let (a, ta) = app.register("13800000111", "pw", "群主").await;
    let (b, _) = app.register("13800000112", "pw", "成员").await;
    let (_room, jid) = make_room(&app, &ta, &[b]).await;
    for text in ["第一", "第二"] {
        let mut body = serde_json::Map::new();
        body.insert("type".into(), json!(1));
        body.insert("content".into(), json!(text));
        body.insert(
            "messageId".into(),
            json!(shiku_server::domain::util::uuid32()),
        );
        shiku_server::domain::messages::send(
            &app.app,
            shiku_server::domain::messages::Outgoing {
                from: a as i32,
                resource: "web".into(),
                target: shiku_server::domain::messages::Target::Room(jid.clone()),
                body,
                origin: None,
            },
        )
        .await
        .unwrap();
    }
    let v = call(
        &app,
        "/console/groupchat_logs_all",
        &token,
        &[("room_jid_id", &jid)],
    )
    .await;
    let d = page(&v).clone();
    let total = d["count"].as_u64().unwrap();
    assert!(total >= 3, "907 notices and the two texts: {d}");
    assert_eq!(d["data"][0]["content"], "第二");
    assert_eq!(d["data"][0]["fromUserName"], "群主");
    // roomMsgDetail: texts only, oldest first.
    let v = call(
        &app,
        "/console/roomMsgDetail",
        &token,
        &[("room_jid_id", &jid)],
    )
    .await;
    let d = page(&v).clone();
    assert_eq!(d["count"], 2);
    assert_eq!(d["data"][0]["content"], "第一");
    let v = call(
        &app,
        "/console/groupchat_logs_all",
        &token,
        &[("room_jid_id", &jid), ("keyWord", "第一")],
    )
    .await;
    assert_eq!(page(&v)["count"], 1);
    let id = page(&v)["data"][0]["_id"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "/console/groupchat_logs_all/del",
        &token,
        &[("room_jid_id", &jid), ("msgId", &id)],
    )
    .await;
    assert_eq!(ok(&v)["deleted"], 1);
    let v = call(
        &app,
        "/console/groupchat_logs_all",
        &token,
        &[("room_jid_id", &jid)],
    )
    .await;
    assert_eq!(page(&v)["count"].as_u64().unwrap(), total - 1);
    // Errors.
    assert_code(
        &call(&app, "/console/groupchat_logs_all", &token, &[]).await,
        1010101,
    );
    let other = shiku_server::domain::util::uuid32();
    assert_code(
        &call(
            &app,
            "/console/groupchat_logs_all",
            &token,
            &[("room_jid_id", &other)],
        )
        .await,
        0,
    );
    assert_code(
        &call(
            &app,
            "/console/groupchat_logs_all/del",
            &token,
            &[("room_jid_id", &jid)],
        )
        .await,
        1010101,
    );
}

#[tokio::test]
async fn push_to_all_runs_in_the_background_and_reaches_everyone() {
    let app = spawn().await;
    let (admin_id, token) = console_admin(&app, "13900000121", 5).await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(app.register(&format!("1380000012{i}"), "pw", "收").await);
    }
    let v = call(
        &app,
        "/console/pushToAll",
        &token,
        &[
            ("fromUserId", &admin_id.to_string()),
            ("body", r#"{"type":1,"content":"全员通知"}"#),
        ],
    )
    .await;
    let job = ok(&v)["jobId"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let v = call(
            &app,
            "/console/pushToAll/status",
            &token,
            &[("jobId", &job)],
        )
        .await;
        status = ok(&v).clone();
        if status["done"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status["done"], true, "{status}");
    // Everyone but the sender and 10005: the five users and 10000.
    assert_eq!(status["sent"], 6, "{status}");
    for (_, t) in &users {
        let v = app
            .get(
                "/tigase/shiku_msgs",
                &[("access_token", t), ("receiver", &admin_id.to_string())],
            )
            .await;
        let rows = ok(&v).as_array().unwrap().clone();
        assert_eq!(rows.len(), 1);
        assert!(rows[0]["body"].as_str().unwrap().contains("全员通知"));
    }
    // Errors.
    let bad = [
        vec![("body", r#"{"type":1}"#)],
        vec![("fromUserId", "1")],
        vec![("fromUserId", "1"), ("body", "not json")],
        vec![
            ("fromUserId", &*admin_id.to_string().leak()),
            ("body", r#"{"type":900}"#),
        ],
    ];
    for extra in bad {
        assert_code(
            &call(&app, "/console/pushToAll", &token, &extra).await,
            1010101,
        );
    }
    let v = call(
        &app,
        "/console/pushToAll",
        &token,
        &[("fromUserId", "99999999"), ("body", r#"{"type":1}"#)],
    )
    .await;
    assert_code(&v, 1040101);
    assert_code(
        &call(
            &app,
            "/console/pushToAll/status",
            &token,
            &[("jobId", "nope")],
        )
        .await,
        0,
    );
}

#[tokio::test]
async fn statistics_show_online_users_over_time() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000131", 1).await;
    let (uid, _) = app.register("13800000131", "pw", "在线").await;
    shiku_server::domain::presence::resource_online(&app.app, uid as i32, "web")
        .await
        .unwrap();
    shiku_server::domain::console::sample_online(&app.app)
        .await
        .unwrap();
    let v = call(&app, "/console/userStatus", &token, &[]).await;
    let d = ok(&v).clone();
    assert_eq!(d["onlineNow"], 1);
    assert_eq!(d["intervalSecs"], 300);
    let samples = d["samples"].as_array().unwrap();
    assert_eq!(samples.last().unwrap()["count"], 1, "{d}");
    assert_code(
        &call(&app, "/console/userStatus", &token, &[("hours", "0")]).await,
        1010101,
    );
    let v = call(&app, "/console/summary", &token, &[]).await;
    let d = ok(&v);
    assert_eq!(d["onlineNow"], 1);
    assert_eq!(d["userCount"], 4);
    assert_eq!(d["roomCount"], 0);
    assert_eq!(d["messagesToday"], 0);
}

#[tokio::test]
async fn configuration_is_set_in_the_console_and_applied_at_once() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000141", 6).await;
    let v = call(&app, "/console/config", &token, &[]).await;
    let d = ok(&v).clone();
    assert_eq!(d["values"]["isOpenRegister"], 1);
    assert_eq!(d["overridden"], json!([]));
    let v = call(
        &app,
        "/console/config/set",
        &token,
        &[
            ("isOpenRegister", "0"),
            ("companyName", "新公司"),
            ("XMPPTimeout", "100"),
        ],
    )
    .await;
    assert_eq!(ok(&v)["values"]["companyName"], "新公司");
    let cfg = app.get("/config", &[]).await;
    assert_eq!(cfg["data"]["isOpenRegister"], 0);
    assert_eq!(cfg["data"]["companyName"], "新公司");
    assert_eq!(cfg["data"]["xmppPingTime"], 40);
    // The switch is enforced, not only shown; the console still creates users.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13800000141"),
                ("password", &md5_hex("pw")),
                ("access_token", ""),
            ],
        )
        .await;
    assert_code(&v, 0);
    let v = call(
        &app,
        "/console/updateUser",
        &token,
        &[("telephone", "13800000141"), ("password", "pw-123")],
    )
    .await;
    assert_eq!(ok(&v)["created"], true);
    // Persisted: a reload from the store gives the same values.
    shiku_server::domain::console::reload_overrides(&app.app)
        .await
        .unwrap();
    assert_eq!(app.get("/config", &[]).await["data"]["isOpenRegister"], 0);
    // '-' restores the file's value; bad values change nothing.
    let v = call(
        &app,
        "/console/config/set",
        &token,
        &[("isOpenRegister", "2"), ("companyName", "x")],
    )
    .await;
    assert_code(&v, 1010101);
    assert_eq!(
        app.get("/config", &[]).await["data"]["companyName"],
        "新公司"
    );
    ok(&call(
        &app,
        "/console/config/set",
        &token,
        &[("isOpenRegister", "-")],
    )
    .await);
    assert_eq!(app.get("/config", &[]).await["data"]["isOpenRegister"], 1);
    assert_code(
        &call(&app, "/console/config/set", &token, &[("unknown", "1")]).await,
        1010101,
    );
}

#[tokio::test]
async fn admin_accounts_are_managed_by_super_admins() {
    let app = spawn().await;
    let (me, token) = console_admin(&app, "13900000151", 6).await;
    // A new user as an admin, created with a password.
    let v = call(
        &app,
        "/console/addAdmin",
        &token,
        &[
            ("telephone", "13800000151"),
            ("password", "admin-pw"),
            ("role", "5"),
            ("nickname", "新管理"),
        ],
    )
    .await;
    let new_admin = ok(&v)["userId"].as_i64().unwrap();
    let v = console_login(&app, "13800000151", "admin-pw").await;
    assert_eq!(ok(&v)["role"], "5");
    // An existing user by id.
    let (plain, _) = app.register("13800000152", "pw", "普通").await;
    let v = call(
        &app,
        "/console/addAdmin",
        &token,
        &[("userId", &plain.to_string()), ("role", "1")],
    )
    .await;
    ok(&v);
    let v = call(&app, "/console/adminList", &token, &[]).await;
    let d = page(&v).clone();
    assert_eq!(d["count"], 3);
    let row = d["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userId"] == new_admin)
        .unwrap()
        .clone();
    assert_eq!(row["role"], 5);
    assert_eq!(row["nickname"], "新管理");
    assert!(
        row["lastLoginTime"].as_i64().unwrap() >= now_secs() - 60,
        "{row}"
    );
    // Errors of addAdmin.
    for extra in [
        vec![("role", "5")],
        vec![("telephone", "13800000153")],
        vec![("userId", &*plain.to_string().leak()), ("role", "2")],
        vec![("userId", "10005"), ("role", "5")],
    ] {
        let v = call(&app, "/console/addAdmin", &token, &extra).await;
        assert!(v["resultCode"] != 1, "{extra:?}: {v}");
    }
    // modifyAdmin: role and status; never oneself; disabling stops the login.
    let v = call(
        &app,
        "/console/modifyAdmin",
        &token,
        &[("userId", &new_admin.to_string()), ("status", "-1")],
    )
    .await;
    ok(&v);
    assert_code(&console_login(&app, "13800000151", "admin-pw").await, 0);
    let v = call(
        &app,
        "/console/modifyAdmin",
        &token,
        &[
            ("userId", &new_admin.to_string()),
            ("status", "1"),
            ("role", "6"),
        ],
    )
    .await;
    ok(&v);
    assert_eq!(
        ok(&console_login(&app, "13800000151", "admin-pw").await)["role"],
        "6"
    );
    assert_code(
        &call(
            &app,
            "/console/modifyAdmin",
            &token,
            &[("userId", &me.to_string()), ("role", "5")],
        )
        .await,
        0,
    );
    assert_code(
        &call(
            &app,
            "/console/modifyAdmin",
            &token,
            &[("userId", &new_admin.to_string()), ("role", "3")],
        )
        .await,
        1010101,
    );
    assert_code(
        &call(&app, "/console/modifyAdmin", &token, &[("userId", "10000")]).await,
        0,
    );
    assert_code(
        &call(&app, "/console/modifyAdmin", &token, &[]).await,
        1010101,
    );
    // delAdmin: the user stays, the console role goes; the last super admin stays.
    ok(&call(
        &app,
        "/console/delAdmin",
        &token,
        &[("userId", &new_admin.to_string())],
    )
    .await);
    assert_code(&console_login(&app, "13800000151", "admin-pw").await, 0);
    ok(&app.login("13800000151", "admin-pw").await);
    assert_code(
        &call(
            &app,
            "/console/delAdmin",
            &token,
            &[("userId", &new_admin.to_string())],
        )
        .await,
        0,
    );
    assert_code(
        &call(
            &app,
            "/console/delAdmin",
            &token,
            &[("userId", &me.to_string())],
        )
        .await,
        0,
    );
}

#[tokio::test]
async fn system_users_are_recreated_but_never_with_a_default_password() {
    let app = spawn().await;
    let (_, token) = console_admin(&app, "13900000161", 5).await;
    let v = call(&app, "/console/initSysUser", &token, &[]).await;
    assert_eq!(ok(&v)["created"], json!([]));
    app.app.store.console.delete_user(10005).await.unwrap();
    let v = call(&app, "/console/initSysUser", &token, &[("userId", "10005")]).await;
    assert_eq!(ok(&v)["created"], json!([10005]));
    assert!(app.app.store.users.get_user(10005).await.unwrap().is_some());
    assert_code(
        &call(&app, "/console/initSysUser", &token, &[("userId", "123")]).await,
        1010101,
    );
    // The reference's md5(userId) password does not log anyone in.
    let v = app
        .post(
            "/user/login",
            &[("userId", "10005"), ("password", &md5_hex("10005"))],
        )
        .await;
    assert_code(&v, 0);
}

/// `/console/login` goes through the login limiter; the console lists the counted account and
/// clears it, after which the right password works at once.
#[tokio::test]
async fn console_login_is_throttled_and_the_console_shows_and_clears_blocks() {
    let app = common::spawn_with(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 60;
    })
    .await;
    let (_, token) = console_admin(&app, "13900000051", 6).await;
    let (uid, _) = app.register("13900000052", "secret-pw", "victim").await;
    grant(&app, uid, 5, 1).await;
    for _ in 0..2 {
        let v = console_login(&app, "13900000052", "wrong").await;
        assert_eq!(v["resultMsg"], "帐号或密码错误！", "{v}");
    }
    let v = console_login(&app, "13900000052", "secret-pw").await;
    assert_eq!(v["resultCode"], 1040106, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("60"), "{v}");
    let v = call(&app, "/console/loginBlocks", &token, &[]).await;
    let rows = ok(&v).as_array().unwrap().clone();
    let row = rows
        .iter()
        .find(|r| r["userId"] == uid)
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(row["key"], format!("account:user:{uid}"));
    assert_eq!(row["failures"], 2);
    assert_eq!(row["blocked"], true);
    assert!(row["retrySecs"].as_u64().unwrap() > 50, "{row}");
    let v = call(
        &app,
        "/console/loginBlocks/clear",
        &token,
        &[("userId", &uid.to_string())],
    )
    .await;
    assert_eq!(ok(&v)["cleared"], 1);
    ok(&console_login(&app, "13900000052", "secret-pw").await);
    // Only managers see and clear blocks.
    let (_, reader) = console_admin(&app, "13900000053", 1).await;
    assert_eq!(
        call(&app, "/console/loginBlocks", &reader, &[]).await["resultCode"],
        1030103
    );
}
