//! Seed 003's console extras, black-box: `/console/clientConfig(/set)`, `/console/addAllUser`,
//! `/user/getUserStatusCount` and `/tigase/OnlineState`, with who may call them.

mod common;

use serde_json::{json, Value};

use common::{console_admin, ok, spawn_with, user, TestApp};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

fn code(v: &Value) -> i64 {
    v["resultCode"].as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn client_config_and_add_all_user_belong_to_the_console() {
    let app = spawn_with(|_| {}).await;
    let u = user(&app, "13700000001", "plain user").await;
    let (_, super6) = console_admin(&app, "13700000009", 6).await;
    let (_, admin5) = console_admin(&app, "13700000008", 5).await;
    let (_, tourist) = console_admin(&app, "13700000007", 1).await;

    // Role 6 sets the client's settings; /config serves them at once.
    let v = call(
        &app,
        "/console/clientConfig/set",
        &super6,
        &[("androidVersion", "321"), ("XMPPHost", "im.example.com")],
    )
    .await;
    assert_eq!(ok(&v)["values"]["androidVersion"], json!(321), "{v}");
    let config = ok(&app.post("/config", &[]).await).clone();
    assert_eq!(config["androidVersion"], json!(321));
    assert_eq!(config["XMPPHost"], "im.example.com");
    let v = call(&app, "/console/clientConfig", &admin5, &[]).await;
    assert_eq!(ok(&v)["values"]["XMPPHost"], "im.example.com");
    assert!(ok(&v)["overridden"]
        .as_array()
        .unwrap()
        .contains(&json!("XMPPHost")));
    // Setting is role 6's; reading 5/6; users never.
    assert_eq!(
        code(
            &call(
                &app,
                "/console/clientConfig/set",
                &admin5,
                &[("androidVersion", "1")]
            )
            .await
        ),
        1030103
    );
    assert_eq!(
        code(&call(&app, "/console/clientConfig", &tourist, &[]).await),
        1030103
    );
    for path in [
        "/console/clientConfig",
        "/console/clientConfig/set",
        "/console/addAllUser",
    ] {
        let v = call(&app, path, &u.token, &[]).await;
        assert_ne!(code(&v), 1, "{path}: {v}");
    }

    // Without Tigase there is nothing to copy: every user already logs in over XMPP.
    let v = call(&app, "/console/addAllUser", &admin5, &[]).await;
    let data = ok(&v);
    assert_eq!(data["copied"], 0);
    // Four registered here, plus the two system accounts.
    assert_eq!(data["userCount"], 6, "{v}");
    assert_eq!(
        code(&call(&app, "/console/addAllUser", &tourist, &[]).await),
        1030103
    );
}

#[tokio::test]
async fn user_status_counts_come_from_the_online_samples() {
    let app = spawn_with(|_| {}).await;
    let u = user(&app, "13700000011", "plain user").await;
    let (_, tourist) = console_admin(&app, "13700000019", 1).await;
    let now = shiku_server::domain::util::now_secs();
    let base = now - now % 300 - 3 * 3600;
    for (i, n) in [2_u64, 1, 0].iter().enumerate() {
        app.app
            .store
            .console
            .put_online_sample(base + 300 * i as i64, *n)
            .await
            .unwrap();
    }
    let from = (base - 1).to_string();
    let to = (base + 601).to_string();
    let v = call(
        &app,
        "/user/getUserStatusCount",
        &tourist,
        &[("startData", &from), ("endData", &to), ("type", "1")],
    )
    .await;
    assert_eq!(
        *ok(&v),
        json!([
            {"time": base, "count": 2, "type": 1},
            {"time": base + 300, "count": 1, "type": 1},
            {"time": base + 600, "count": 0, "type": 1},
        ])
    );
    // Offline: the users now (4: two here and the system accounts) less those online then.
    let v = call(
        &app,
        "/user/getUserStatusCount",
        &tourist,
        &[
            ("startData", &from),
            ("endData", &to),
            ("pageIndex", "1"),
            ("pageSize", "2"),
        ],
    )
    .await;
    assert_eq!(
        *ok(&v),
        json!([{"time": base + 600, "count": 4, "type": 0}])
    );
    // The default window is the last 24 hours (with the server's own samples since it started).
    let v = call(&app, "/user/getUserStatusCount", &tourist, &[("type", "1")]).await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert!(rows.len() >= 3 && rows[0]["time"] == base, "{rows:?}");
    for bad in [
        vec![("type", "3")],
        vec![("startData", "2026-13-01")],
        vec![("startData", "2026-01-10"), ("endData", "2026-01-01")],
        vec![("startData", "2025-01-01"), ("endData", "2026-01-01")],
    ] {
        let v = call(&app, "/user/getUserStatusCount", &tourist, &bad).await;
        assert_eq!(code(&v), 1010101, "{bad:?}: {v}");
    }
    // Site statistics are the console's, not a user's.
    let v = call(&app, "/user/getUserStatusCount", &u.token, &[]).await;
    assert_ne!(code(&v), 1, "{v}");
}

#[tokio::test]
async fn online_state_reports_answer_what_the_server_knows() {
    let app = spawn_with(|_| {}).await;
    let a = user(&app, "13700000021", "a").await;
    let b = user(&app, "13700000022", "b").await;
    // No live session: a report of "online" does not make a user online.
    let v = call(
        &app,
        "/tigase/OnlineState",
        &a.token,
        &[("userId", &a.sid()), ("OnlineState", "1")],
    )
    .await;
    assert_eq!(*ok(&v), json!({"userId": a.id, "onlineState": 0}));
    let v = call(&app, "/user/getOnLine", &b.token, &[("userId", &a.sid())]).await;
    assert_eq!(*ok(&v), json!(0));
    // Nobody reports another user's state; the state is 0 or 1.
    let v = call(
        &app,
        "/tigase/OnlineState",
        &b.token,
        &[("userId", &a.sid()), ("OnlineState", "0")],
    )
    .await;
    assert_eq!(code(&v), 0, "{v}");
    let v = call(
        &app,
        "/tigase/OnlineState",
        &a.token,
        &[("OnlineState", "7")],
    )
    .await;
    assert_eq!(code(&v), 1010101, "{v}");
    let v = call(&app, "/tigase/OnlineState", &a.token, &[]).await;
    assert_eq!(code(&v), 1010101, "{v}");
    let v = app
        .post("/tigase/OnlineState", &[("OnlineState", "1")])
        .await;
    assert_eq!(code(&v), 1030101, "{v}");
}
