//! `/console/oneSendOne` and `/console/sendMessage` as the task-management system calls them:
//! who may call (integration key, console token, user token, nothing), phone resolution, every
//! error path, and the message reaching history through the message path.

mod common;

use serde_json::Value;
use shiku_server::config::SignatureMode;
use shiku_server::documents::UserRole;
use shiku_server::domain::auth::token_secret;
use shiku_server::domain::util::{md5_hex, now_secs};
use shiku_server::store::Patch;

use common::TestApp;

const KEY: &str = "task-system-key-0123456789";

async fn spawn() -> TestApp {
    common::spawn_with(|c| c.integration_key = KEY.into()).await
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

/// Grants `role` (with `status`) to a user (registered with the password "pw") and logs it in
/// to the console: a console token is only good with the session its login opened. A disabled
/// role is disabled after the login.
async fn console_token(app: &TestApp, user_id: i64, role: i32, status: i32) -> String {
    grant(app, user_id, role, 1).await;
    let phone = app
        .app
        .store
        .users
        .get_user(user_id as i32)
        .await
        .unwrap()
        .expect("user")
        .phone;
    let v = app
        .post(
            "/console/login",
            &[
                ("account", phone.as_str()),
                ("password", &md5_hex("pw")),
                ("areaCode", "86"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let token = v["data"]["access_Token"]
        .as_str()
        .expect("token")
        .to_string();
    if status != 1 {
        app.app
            .store
            .console
            .delete_roles(user_id as i32, &[role])
            .await
            .unwrap();
        grant(app, user_id, role, status).await;
    }
    token
}

async fn one_send_one(app: &TestApp, token: &str, extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![("access_token", token), ("flag", "rw")];
    pairs.extend_from_slice(extra);
    app.get("/console/oneSendOne", &pairs).await
}

fn task(content: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("type", "1"),
        ("content", content),
        ("sendPhone", "13800000001"),
        ("toUserPhone", "13800000002"),
    ]
}

fn assert_code(v: &Value, code: i64, mentions: &str) {
    assert_eq!(v["resultCode"], code, "{v}");
    assert!(v["currentTime"].is_i64(), "{v}");
    let msg = v["resultMsg"].as_str().unwrap_or_default();
    assert!(msg.contains(mentions), "{mentions:?} not in {v}");
}

async fn history(app: &TestApp, token: &str, peer: i64) -> Vec<Value> {
    let v = app
        .get(
            "/tigase/shiku_msgs",
            &[("access_token", token), ("receiver", &peer.to_string())],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn who_may_call_the_admin_area() {
    let app = spawn().await;
    let (a, ta) = app.register("13800000001", "pw", "甲").await;
    let (_b, _tb) = app.register("13800000002", "pw", "乙").await;

    // Nothing, or an empty token: 1030101.
    let v = app.get("/console/oneSendOne", &task("x")).await;
    assert_code(&v, 1030101, "");
    let v = one_send_one(&app, "", &task("x")).await;
    assert_code(&v, 1030101, "");
    // A user token is not an admin token: 1030102, as the reference's filter answers.
    let v = one_send_one(&app, &ta, &task("x")).await;
    assert_code(&v, 1030102, "");
    // A wrong key, a near miss, garbage.
    for bad in ["nope", &KEY[..KEY.len() - 1], &format!("{KEY}x")] {
        let v = one_send_one(&app, bad, &task("x")).await;
        assert_code(&v, 1030102, "");
    }
    // The key and a role-5/6 console token pass the filter (the send itself needs the store,
    // so only the filter's verdict is checked here: a parameter error proves it passed).
    let v = one_send_one(&app, KEY, &[("type", "1")]).await;
    assert_code(&v, 1010101, "content");
    let console = console_token(&app, a, 6, 1).await;
    let v = one_send_one(&app, &console, &[("type", "1")]).await;
    assert_code(&v, 1010101, "content");

    // A console token of a user without an active admin role: 1030103.
    let (c, _) = app.register("13800000003", "pw", "丙").await;
    let tourist = console_token(&app, c, 1, 1).await;
    let v = one_send_one(&app, &tourist, &task("x")).await;
    assert_code(&v, 1030103, "");
    let (d, _) = app.register("13800000004", "pw", "丁").await;
    let disabled = console_token(&app, d, 5, -1).await;
    let v = one_send_one(&app, &disabled, &task("x")).await;
    assert_code(&v, 1030103, "");
    let (e, _) = app.register("13800000005", "pw", "戊").await;
    let admin = console_token(&app, e, 5, 1).await;
    let v = one_send_one(&app, &admin, &[("type", "1")]).await;
    assert_code(&v, 1010101, "content");

    // A revoked console token (the holder logged out everywhere).
    app.app
        .tokens
        .revoke_all(&app.app.store, e as i32)
        .await
        .unwrap();
    let v = one_send_one(&app, &admin, &task("x")).await;
    assert_code(&v, 1030102, "");

    // Neither the key nor a console token opens user endpoints.
    for token in [KEY, console.as_str()] {
        let v = app
            .get(
                "/tigase/shiku_msgs",
                &[("access_token", token), ("receiver", "1")],
            )
            .await;
        assert_code(&v, 1030102, "");
    }
    // The same rules on /console/sendMessage.
    let v = app
        .post("/console/sendMessage", &[("access_token", &ta)])
        .await;
    assert_code(&v, 1030102, "");
    let v = app.post("/console/sendMessage", &[]).await;
    assert_code(&v, 1030101, "");
}

#[tokio::test]
async fn without_a_configured_key_only_console_tokens_work() {
    let app = common::spawn().await;
    let (a, _) = app.register("13800000001", "pw", "甲").await;
    let v = one_send_one(&app, "", &task("x")).await;
    assert_code(&v, 1030101, "");
    // An empty configured key never matches anything.
    let v = one_send_one(&app, "anything", &task("x")).await;
    assert_code(&v, 1030102, "");
    let console = console_token(&app, a, 6, 1).await;
    let v = one_send_one(&app, &console, &[("type", "1")]).await;
    assert_code(&v, 1010101, "content");
}

#[tokio::test]
async fn console_tokens_are_signed_when_signatures_are_required() {
    let app = common::spawn_with(|c| {
        c.integration_key = KEY.into();
        c.auth.signature = SignatureMode::Required;
        c.auth.api_key = "k".into();
    })
    .await;
    let (a, _) = app.register("13800000001", "pw", "甲").await;
    let console = console_token(&app, a, 6, 1).await;
    let v = one_send_one(&app, &console, &[("type", "1")]).await;
    assert_code(&v, 0, "授权认证失败");
    let now = now_secs();
    let time = now.to_string();
    let secret = token_secret("k", now, a as i32, &console);
    let v = one_send_one(
        &app,
        &console,
        &[("type", "1"), ("time", &time), ("secret", &secret)],
    )
    .await;
    assert_code(&v, 1010101, "content");
    // The integration key is itself the secret: no signature.
    let v = one_send_one(&app, KEY, &[("type", "1")]).await;
    assert_code(&v, 1010101, "content");
}

#[tokio::test]
async fn one_send_one_parameter_errors_name_the_parameter() {
    let app = spawn().await;
    app.register("13800000001", "pw", "甲").await;
    app.register("13800000002", "pw", "乙").await;
    let base = [
        ("sendPhone", "13800000001"),
        ("toUserPhone", "13800000002"),
        ("content", "hi"),
        ("type", "1"),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        base.iter().copied().filter(|(k, _)| *k != name).collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = base.iter().copied().filter(|(k, _)| *k != name).collect();
        v.push((name, value));
        v
    };
    for name in ["type", "content", "sendPhone", "toUserPhone"] {
        let v = one_send_one(&app, KEY, &without(name)).await;
        assert_code(&v, 1010101, name);
    }
    for (name, value, mentions) in [
        ("content", "   ", "content"),
        ("type", "abc", "type"),
        ("type", "26", "type"),
        ("type", "202", "type"),
        ("type", "907", "type"),
        ("type", "0", "type"),
        ("type", "-1", "type"),
        ("sendPhone", "1380000000a", "sendPhone"),
        ("toUserPhone", "+", "toUserPhone"),
        ("areaCode", "8a", "areaCode"),
    ] {
        let v = one_send_one(&app, KEY, &with(name, value)).await;
        assert_code(&v, 1010101, mentions);
    }
    // Unknown phones: 1040101, naming which one.
    let v = one_send_one(&app, KEY, &with("sendPhone", "13900000000")).await;
    assert_code(&v, 1040101, "sendPhone");
    let v = one_send_one(&app, KEY, &with("toUserPhone", "13900000000")).await;
    assert_code(&v, 1040101, "toUserPhone");
    // A phone registered under 86 is not found under another country code.
    let v = one_send_one(&app, KEY, &with("areaCode", "852")).await;
    assert_code(&v, 1040101, "sendPhone");
}

#[tokio::test]
async fn send_message_never_impersonates() {
    let app = spawn().await;
    let (a, _) = app.register("13800000001", "pw", "甲").await;
    let (b, _) = app.register("13800000002", "pw", "乙").await;
    let (sa, sb) = (a.to_string(), b.to_string());
    // The reference's "no from" mode (send from each of to's friends) is refused.
    let v = app
        .post(
            "/console/sendMessage",
            &[
                ("access_token", KEY),
                ("to", &sb),
                ("body", "hi"),
                ("count", "5"),
            ],
        )
        .await;
    assert_code(&v, 1010101, "from");
    for (pairs, mentions) in [
        (vec![("from", sa.as_str()), ("body", "hi")], "to"),
        (vec![("from", sa.as_str()), ("to", sb.as_str())], "body"),
        (
            vec![("from", sa.as_str()), ("to", sb.as_str()), ("body", " ")],
            "body",
        ),
        (
            vec![("from", "x"), ("to", sb.as_str()), ("body", "hi")],
            "from",
        ),
        (
            vec![("from", sa.as_str()), ("to", "1.5"), ("body", "hi")],
            "to",
        ),
    ] {
        let mut all = vec![("access_token", KEY)];
        all.extend(pairs);
        let v = app.post("/console/sendMessage", &all).await;
        assert_code(&v, 1010101, mentions);
    }
    for (from, to, mentions) in [
        ("99999999", sb.as_str(), "from"),
        (sa.as_str(), "99999999", "to"),
    ] {
        let v = app
            .post(
                "/console/sendMessage",
                &[
                    ("access_token", KEY),
                    ("from", from),
                    ("to", to),
                    ("body", "hi"),
                ],
            )
            .await;
        assert_code(&v, 1040101, mentions);
    }
    // The OpenAPI document lists that code too (schema fuzzing found it missing).
    let doc = shiku_server::http::all_docs()
        .into_iter()
        .find(|d| d.path == "/console/sendMessage")
        .expect("documented");
    assert!(doc.codes.contains(&1040101), "{:?}", doc.codes);
}

#[tokio::test]
async fn phones_resolve_with_and_without_the_country_code() {
    let app = spawn().await;
    let (a, ta) = app.register("13800000001", "pw", "甲").await;
    let (b, tb) = app.register("13800000002", "pw", "乙").await;
    // A Hong Kong user.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "91234567"),
                ("areaCode", "852"),
                ("password", &shiku_server::domain::util::md5_hex("pw")),
                ("nickname", "港"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let hk = v["data"]["userId"].as_i64().unwrap();
    let thk = v["data"]["access_token"].as_str().unwrap().to_string();

    // National numbers (default areaCode 86), as seed 002 sends them.
    let v = one_send_one(&app, KEY, &task("任务一")).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert!(v["currentTime"].is_i64());
    let id1 = v["data"]["messageId"]
        .as_str()
        .expect("messageId")
        .to_string();
    // With the country code included, and with a leading +.
    let v = one_send_one(
        &app,
        KEY,
        &[
            ("type", "1"),
            ("content", "任务二"),
            ("sendPhone", "8613800000001"),
            ("toUserPhone", "+8613800000002"),
        ],
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    // Another country code for both phones.
    let v = one_send_one(
        &app,
        KEY,
        &[
            ("type", "1"),
            ("content", "to hk"),
            ("sendPhone", "8613800000001"),
            ("toUserPhone", "91234567"),
            ("areaCode", "852"),
        ],
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");

    let rows = history(&app, &tb, a).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["content"], "任务二");
    assert_eq!(rows[1]["content"], "任务一");
    assert_eq!(rows[1]["messageId"], id1.as_str());
    for r in &rows {
        assert_eq!(r["direction"], 1);
        assert_eq!(r["sender"], b.to_string());
        assert_eq!(r["receiver"], a.to_string());
        assert_eq!(r["sender_jid"], format!("{a}/console"));
        let body: Value = serde_json::from_str(r["message"].as_str().unwrap()).unwrap();
        assert_eq!(body["fromUserId"], a.to_string());
        assert_eq!(body["fromUserName"], "甲");
        assert_eq!(body["toUserId"], b.to_string());
        assert_eq!(body["toUserName"], "乙");
        assert_eq!(body["type"], 1);
    }
    let rows = history(&app, &ta, b).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["direction"] == 0));
    let rows = history(&app, &thk, a).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["content"], "to hk");
    assert_eq!(rows[0]["receiver"], a.to_string());
    assert_eq!(rows[0]["sender"], hk.to_string());

    // Other content types whose payload is the content (a file URL).
    let v = one_send_one(
        &app,
        KEY,
        &[
            ("type", "2"),
            ("content", "http://files/o/1.jpg"),
            ("sendPhone", "13800000001"),
            ("toUserPhone", "13800000002"),
        ],
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(history(&app, &tb, a).await[0]["contentType"], 2);
}

#[tokio::test]
async fn send_message_sends_one_text_from_the_given_user() {
    let app = spawn().await;
    let (a, ta) = app.register("13800000001", "pw", "甲").await;
    let (b, tb) = app.register("13800000002", "pw", "乙").await;
    let (c, tc) = app.register("13800000003", "pw", "丙").await;
    let console = console_token(&app, c, 6, 1).await;
    let v = app
        .post(
            "/console/sendMessage",
            &[
                ("access_token", &console),
                ("from", &a.to_string()),
                ("to", &b.to_string()),
                ("body", "后台消息"),
                ("count", "3"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let id = v["data"]["messageId"].as_str().unwrap().to_string();
    let rows = history(&app, &tb, a).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["messageId"], id.as_str());
    assert_eq!(rows[0]["contentType"], 1);
    assert_eq!(rows[0]["content"], "后台消息");
    assert_eq!(history(&app, &ta, b).await.len(), 1);
    // Nobody else got anything in a's name.
    assert!(history(&app, &tc, a).await.is_empty());
}

#[tokio::test]
async fn console_sends_follow_the_message_path_rules() {
    let app = spawn().await;
    let (a, _) = app.register("13800000001", "pw", "甲").await;
    let (b, _) = app.register("13800000002", "pw", "乙").await;
    // A locked sender cannot send.
    app.app
        .store
        .users
        .update_user(a as i32, &Patch::new().set("status", -1))
        .await
        .unwrap();
    let v = one_send_one(&app, KEY, &task("x")).await;
    assert_eq!(v["resultCode"], 1040304, "{v}");
    app.app
        .store
        .users
        .update_user(a as i32, &Patch::new().set("status", 1))
        .await
        .unwrap();
    // Changed behind the domain's back (as another node would): the message path trusts a
    // user document for a second, so drop this node's copy.
    app.app.profiles.forget(a as i32);
    // The receiver blacklisted the sender.
    let rel: shiku_server::documents::Friend = serde_json::from_value(serde_json::json!({
        "userId": b, "toUserId": a, "toNickname": "甲", "status": -1, "blacklist": 1
    }))
    .unwrap();
    app.app.store.friends.put_friend(&rel).await.unwrap();
    let v = one_send_one(&app, KEY, &task("x")).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("拉黑"), "{v}");
    let v = app
        .post(
            "/console/sendMessage",
            &[
                ("access_token", KEY),
                ("from", &a.to_string()),
                ("to", &b.to_string()),
                ("body", "hi"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
}
