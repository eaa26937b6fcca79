//! The console's view of users' relations, black-box: a user's friends listed, a friendship
//! ended (515 to both, live), a user put on and taken off another's blacklist (513 / 514); only
//! roles 5/6 change anything.

mod common;

use serde_json::Value;

use common::binary::Bin;
use common::{console_admin, ok, spawn_shiku, user, TestApp, TestUser};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

async fn befriend(app: &TestApp, a: &TestUser, b: &TestUser) {
    let v = call(
        app,
        "/friends/attention/add",
        &b.token,
        &[("toUserId", &a.sid())],
    )
    .await;
    if ok(&v)["type"] == 2 {
        return;
    }
    ok(&call(app, "/friends/add", &a.token, &[("toUserId", &b.sid())]).await);
}

/// The next server notice of type 513–515 on a binary session.
async fn next_notice(live: &mut Bin) -> shiku_server::gateway::shiku::proto::ChatMessage {
    loop {
        let m: shiku_server::gateway::shiku::proto::ChatMessage =
            live.recv(common::binary::CHAT).await;
        if (513..=515).contains(&m.r#type) {
            return m;
        }
    }
}

async fn status_of(app: &TestApp, a: &TestUser, b: &TestUser) -> Value {
    let v = call(app, "/friends/get", &a.token, &[("toUserId", &b.sid())]).await;
    ok(&v)["status"].clone()
}

#[tokio::test]
async fn the_console_lists_ends_and_blacklists_relations_and_tells_both() {
    let (app, bin, _) = spawn_shiku(|_| {}).await;
    let a = user(&app, "13300000001", "a").await;
    let b = user(&app, "13300000002", "b").await;
    let (_, admin) = console_admin(&app, "13300000009", 5).await;
    let (_, tourist) = console_admin(&app, "13300000008", 1).await;
    befriend(&app, &a, &b).await;
    assert_eq!(status_of(&app, &a, &b).await, 2);
    let mut live_b = Bin::at(bin).await;
    live_b.auth(b.id, &b.token, "web").await;

    let aid = a.sid();
    let v = call(
        &app,
        "/console/friendsList",
        &tourist,
        &[("userId", &aid), ("status", "2")],
    )
    .await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert!(rows.iter().any(|r| r["toUserId"] == b.id), "{v}");
    assert_eq!(v["count"].as_u64().unwrap() as usize, rows.len());

    // Only roles 5/6 change relations.
    let bid = b.sid();
    let pair = [("userId", aid.as_str()), ("toUserId", bid.as_str())];
    let v = call(&app, "/console/deleteFriends", &tourist, &pair).await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    let v = call(&app, "/console/deleteFriends", &a.token, &pair).await;
    assert_ne!(v["resultCode"], 1, "{v}");

    ok(&call(&app, "/console/deleteFriends", &admin, &pair).await);
    let notice = next_notice(&mut live_b).await;
    assert_eq!(
        (notice.r#type, notice.content.as_str()),
        (515, "系统解除了你们好友关系")
    );
    let v = call(&app, "/friends/get", &a.token, &[("toUserId", &bid)]).await;
    assert!(ok(&v).is_null() || v["data"]["status"] != 2, "{v}");

    let mut with_type = pair.to_vec();
    with_type.push(("type", "1"));
    ok(&call(&app, "/console/blacklist/operation", &admin, &with_type).await);
    assert_eq!(next_notice(&mut live_b).await.r#type, 513);
    let v = call(&app, "/friends/blacklist", &a.token, &[]).await;
    assert!(ok(&v).to_string().contains(&bid), "{v}");
    with_type[2] = ("type", "2");
    ok(&call(&app, "/console/blacklist/operation", &admin, &with_type).await);
    assert_eq!(next_notice(&mut live_b).await.r#type, 514);
    with_type[2] = ("type", "3");
    let v = call(&app, "/console/blacklist/operation", &admin, &with_type).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    let same = [
        ("userId", aid.as_str()),
        ("toUserId", aid.as_str()),
        ("type", "1"),
    ];
    let v = call(&app, "/console/blacklist/operation", &admin, &same).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}
