//! Chat history black-box: messages enter through `/console/oneSendOne`, `/console/sendMessage`
//! and `/tigase/push`, and are read back through every `/tigase/*` read endpoint in the shapes
//! of seed 002 (1.4 getLastChatList, 2.5 shiku_msgs) and clients.md 2.5; then deleted,
//! recalled, marked read, searched and pinned. Nobody reads or deletes another user's copies.

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use shiku_server::config::HistoryTimeUnit;
use shiku_server::documents::Friend;
use shiku_server::domain::util::now_millis;

use common::{ok, user, TestApp, TestUser as U};

const KEY: &str = "k";

/// A registered user.
/// A server configured as seed 002's deployment: its Vue clients read `timeSend` as sent (ms),
/// so history returns it as sent (`client.history_time_unit = "as_sent"`; the unit rule itself
/// is tested in `time_units.rs`).
async fn spawn() -> TestApp {
    common::spawn_with(|c| {
        c.integration_key = KEY.into();
        c.client.history_time_unit = HistoryTimeUnit::AsSent;
    })
    .await
}

/// Distinct server times for consecutive messages (history is ordered by them).
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// `/console/oneSendOne` from `a` to `b`; returns the messageId.
async fn console_send(app: &TestApp, a: &U, b: &U, msg_type: i32, content: &str) -> String {
    let t = msg_type.to_string();
    let v = app
        .get(
            "/console/oneSendOne",
            &[
                ("access_token", KEY),
                ("flag", "rw"),
                ("type", &t),
                ("content", content),
                ("sendPhone", &a.phone),
                ("toUserPhone", &b.phone),
            ],
        )
        .await;
    let id = ok(&v)["messageId"].as_str().expect("messageId").to_string();
    tick().await;
    id
}

/// `/console/sendMessage` from `a` to `b`; returns the messageId.
async fn console_text(app: &TestApp, a: &U, b: &U, text: &str) -> String {
    let v = app
        .post(
            "/console/sendMessage",
            &[
                ("access_token", KEY),
                ("from", &a.sid()),
                ("to", &b.sid()),
                ("body", text),
            ],
        )
        .await;
    let id = ok(&v)["messageId"].as_str().expect("messageId").to_string();
    tick().await;
    id
}

/// `/tigase/push` from `a` (its token) to `to`, answering the raw envelope.
async fn push_raw(app: &TestApp, a: &U, to: &[&U], body: Value) -> Value {
    let text = json!(to.iter().map(|u| u.id).collect::<Vec<_>>()).to_string();
    let v = app
        .post(
            "/tigase/push",
            &[
                ("access_token", &a.token),
                ("text", &text),
                ("body", &body.to_string()),
            ],
        )
        .await;
    tick().await;
    v
}

/// `/tigase/push` of a text from `a` to `b`; returns the messageId.
async fn push(app: &TestApp, a: &U, b: &U, body: Value) -> String {
    let v = push_raw(app, a, &[b], body).await;
    let d = ok(&v);
    assert_eq!(d[0]["resultCode"], 1, "{v}");
    d[0]["messageId"].as_str().unwrap().to_string()
}

async fn history_with(app: &TestApp, me: &U, peer: &U, extra: &[(&str, &str)]) -> Value {
    let peer = peer.sid();
    let mut pairs = vec![("access_token", me.token.as_str()), ("receiver", &peer)];
    pairs.extend_from_slice(extra);
    app.get("/tigase/shiku_msgs", &pairs).await
}

async fn history(app: &TestApp, me: &U, peer: &U) -> Vec<Value> {
    let v = history_with(app, me, peer, &[("pageSize", "1000")]).await;
    ok(&v).as_array().cloned().expect("array")
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["messageId"].as_str().unwrap().to_string())
        .collect()
}

async fn last_chats(app: &TestApp, me: &U, extra: &[(&str, &str)]) -> Vec<Value> {
    let mut pairs = vec![("access_token", me.token.as_str())];
    pairs.extend_from_slice(extra);
    let v = app.get("/tigase/getLastChatList", &pairs).await;
    ok(&v).as_array().cloned().expect("array")
}

async fn last_chat_with(app: &TestApp, me: &U, peer: &U) -> Option<Value> {
    last_chats(app, me, &[])
        .await
        .into_iter()
        .find(|r| r["jid"] == peer.sid())
}

async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str())];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

fn is_hex24(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks one history row against seed 002 2.5 and clients.md 2.5.
fn check_row(r: &Value, owner: &U, peer: &U, direction: i64) {
    assert!(is_hex24(&r["_id"]), "_id: {r}");
    assert_eq!(r["sender"], owner.sid(), "{r}");
    assert_eq!(r["receiver"], peer.sid(), "{r}");
    assert_eq!(r["direction"], direction, "{r}");
    assert!(r["isRead"].is_i64(), "{r}");
    assert!(r["isEncrypt"].is_boolean(), "{r}");
    assert!(r["contentType"].is_i64(), "{r}");
    assert!(r["deleteTime"].is_i64(), "{r}");
    assert!(r["content"].is_string(), "{r}");
    assert!(
        r["sender_jid"].is_string() && r["receiver_jid"].is_string(),
        "{r}"
    );
    let ts = r["ts"].as_i64().expect("ts");
    assert!((now_millis() - ts).abs() < 60_000, "ts in ms: {r}");
    let body = r["body"].as_str().expect("body string");
    assert_eq!(r["message"].as_str(), Some(body), "body == message: {r}");
    let m: Value = serde_json::from_str(body).expect("body is JSON");
    let (from, to) = if direction == 0 {
        (owner, peer)
    } else {
        (peer, owner)
    };
    assert_eq!(m["fromUserId"], from.sid(), "{m}");
    assert_eq!(m["toUserId"], to.sid(), "{m}");
    assert_eq!(m["messageId"], r["messageId"], "{m}");
    assert_eq!(m["content"].as_str(), r["content"].as_str(), "{m}");
    assert_eq!(m["timeSend"], r["timeSend"], "{m}");
    assert_eq!(m["messageHead"]["from"], r["sender_jid"], "{m}");
    assert_eq!(
        r["sender_jid"].as_str().unwrap().split('/').next(),
        Some(&*from.sid())
    );
    assert_eq!(r["receiver_jid"], to.sid());
}

#[tokio::test]
async fn history_has_the_seed_shape_in_both_directions() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "张益达").await;
    let b = user(&app, "13800000002", "A9gz0").await;

    let m1 = console_send(&app, &a, &b, 1, "123").await;
    let m2 = console_text(&app, &b, &a, "11").await;
    let m3 = push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "你好", "timeSend": 1614048376311i64,
               "messageId": "skimweb_1001641612924771586612", "isEncrypt": false}),
    )
    .await;
    assert_eq!(m3, "skimweb_1001641612924771586612");

    // Seed 002's envelope for this endpoint: data and no resultMsg.
    let v = history_with(&app, &a, &b, &[]).await;
    assert!(v.get("resultMsg").is_none(), "{v}");
    let rows = ok(&v).as_array().unwrap().clone();
    // Newest first, both directions, all my own copies.
    assert_eq!(ids(&rows), vec![m3.clone(), m2.clone(), m1.clone()]);
    check_row(&rows[0], &a, &b, 0);
    check_row(&rows[1], &a, &b, 1);
    check_row(&rows[2], &a, &b, 0);
    // timeSend exactly as sent (ms here), isRead 0 on a sent copy, 1 on a received one.
    assert_eq!(rows[0]["timeSend"], 1614048376311i64);
    assert_eq!(rows[0]["content"], "你好");
    assert_eq!(rows[0]["isEncrypt"], false);
    assert_eq!(rows[0]["isRead"], 0);
    assert_eq!(rows[1]["isRead"], 1);
    assert_eq!(rows[1]["content"], "11");
    assert_eq!(rows[2]["sender_jid"], format!("{}/console", a.id));
    assert_eq!(rows[0]["sender_jid"], format!("{}/api", a.id));
    let ts: Vec<i64> = rows.iter().map(|r| r["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "{ts:?}");

    // The other side: the same messages, mirrored.
    let rows = history(&app, &b, &a).await;
    assert_eq!(ids(&rows), vec![m3.clone(), m2.clone(), m1.clone()]);
    check_row(&rows[0], &b, &a, 1);
    check_row(&rows[1], &b, &a, 0);
    check_row(&rows[2], &b, &a, 1);
    assert_eq!(rows[0]["timeSend"], 1614048376311i64);

    // A seconds timeSend with a fraction (jQuery client) is kept as sent too.
    let m4 = push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "s", "timeSend": 1559788026.732}),
    )
    .await;
    let rows = history(&app, &b, &a).await;
    assert_eq!(rows[0]["messageId"], m4.as_str());
    assert_eq!(rows[0]["timeSend"], 1559788026.732);

    // getMessage: my copy, type 1.
    for (me, dir) in [(&a, 0), (&b, 1)] {
        let v = call(
            &app,
            "/tigase/getMessage",
            me,
            &[("messageId", &m1), ("type", "1")],
        )
        .await;
        let r = ok(&v);
        assert_eq!(r["messageId"], m1.as_str());
        let peer = if me.id == a.id { &b } else { &a };
        check_row(r, me, peer, dir);
    }
    let v = call(&app, "/tigase/getMessage", &a, &[("messageId", "nope")]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let v = call(
        &app,
        "/tigase/getMessage",
        &a,
        &[("messageId", &m1), ("type", "2")],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let v = call(&app, "/tigase/getMessage", &a, &[]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}

#[tokio::test]
async fn paging_time_ranges_and_max_type() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(console_send(&app, &a, &b, 1, &format!("m{i}")).await);
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let page = |index: &'static str, size: &'static str| [("pageIndex", index), ("pageSize", size)];
    let v = history_with(&app, &a, &b, &page("0", "2")).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[0..2]);
    let v = history_with(&app, &a, &b, &page("1", "2")).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[2..4]);
    let v = history_with(&app, &a, &b, &page("2", "2")).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[4..5]);
    let v = history_with(&app, &a, &b, &page("3", "2")).await;
    assert!(ok(&v).as_array().unwrap().is_empty());
    // Default page size 20; 0 means the default; huge sizes are capped, not refused.
    for size in ["", "0", "100000"] {
        let v = history_with(&app, &a, &b, &[("pageSize", size)]).await;
        assert_eq!(ok(&v).as_array().unwrap().len(), 5, "pageSize={size}");
    }
    for (name, value) in [
        ("pageIndex", "-1"),
        ("pageSize", "-3"),
        ("pageIndex", "x"),
        ("startTime", "x"),
        ("maxType", "1.5"),
    ] {
        let v = history_with(&app, &a, &b, &[(name, value)]).await;
        assert_eq!(v["resultCode"], 1010101, "{name}={value}: {v}");
        assert!(v["resultMsg"].as_str().unwrap().contains(name), "{v}");
    }
    let v = app
        .get("/tigase/shiku_msgs", &[("access_token", &a.token)])
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");

    // Time ranges in ms (server receive time), 0 = unbounded.
    let rows = history(&app, &a, &b).await;
    let ts: Vec<i64> = rows.iter().map(|r| r["ts"].as_i64().unwrap()).collect();
    // rows are newest first: ts[4] is m0, ts[2] is m2.
    let start = ts[2].to_string();
    let v = history_with(&app, &a, &b, &[("startTime", &start), ("endTime", "0")]).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[0..3]);
    let end = ts[2].to_string();
    let v = history_with(&app, &a, &b, &[("startTime", "0"), ("endTime", &end)]).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[2..5]);
    let (s, e) = (ts[3].to_string(), ts[1].to_string());
    let v = history_with(&app, &a, &b, &[("startTime", &s), ("endTime", &e)]).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[1..4]);
    // A future start: nothing.
    let future = (now_millis() + 3_600_000).to_string();
    let v = history_with(&app, &a, &b, &[("startTime", &future)]).await;
    assert!(ok(&v).as_array().unwrap().is_empty());

    // maxType: contentType < maxType when > 0 (default 200).
    let image = console_send(&app, &a, &b, 2, "http://x/o/1.jpg").await;
    let v = history_with(&app, &a, &b, &[("maxType", "2")]).await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["contentType"] == 1));
    for max in ["0", "3", ""] {
        let v = history_with(&app, &a, &b, &[("maxType", max)]).await;
        let rows = ok(&v).as_array().unwrap().clone();
        assert_eq!(rows.len(), 6, "maxType={max}");
        assert_eq!(rows[0]["messageId"], image.as_str());
        assert_eq!(rows[0]["contentType"], 2);
    }
}

#[tokio::test]
async fn the_conversation_list() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let c = user(&app, "13800000003", "丙").await;
    console_send(&app, &a, &b, 1, "to b 1").await;
    let ab = console_send(&app, &b, &a, 1, "to a").await;
    let cut = now_millis();
    tick().await;
    let ac = push(
        &app,
        &a,
        &c,
        json!({"type": 1, "content": "to c", "timeSend": 1614048376311i64}),
    )
    .await;

    let rows = last_chats(&app, &a, &[("pageIndex", "0"), ("pageSize", "50000")]).await;
    // Newest first, one row per peer.
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (rc, rb) = (&rows[0], &rows[1]);
    assert_eq!(rc["jid"], c.sid());
    assert_eq!(rb["jid"], b.sid());
    for r in &rows {
        assert_eq!(r["userId"], a.sid());
        assert_eq!(r["isRoom"], 0);
        assert!(r["isEncrypt"].is_boolean(), "{r}");
        assert!(r["type"].is_i64(), "{r}");
        assert!(r["from"].is_string() && r["to"].is_string(), "{r}");
        assert!(
            r["fromUserName"].is_string() && r["toUserName"].is_string(),
            "{r}"
        );
    }
    assert_eq!(rc["messageId"], ac.as_str());
    assert_eq!(rc["content"], "to c");
    assert_eq!(rc["timeSend"], 1614048376311i64);
    assert_eq!(rc["type"], 1);
    assert_eq!(rc["from"], format!("{}/api", a.id));
    assert_eq!(rc["to"], c.sid());
    assert_eq!(rc["fromUserName"], "甲");
    assert_eq!(rc["toUserName"], "丙");
    // The last message of a↔b was b's.
    assert_eq!(rb["messageId"], ab.as_str());
    assert_eq!(rb["content"], "to a");
    assert_eq!(rb["from"], format!("{}/console", b.id));
    assert_eq!(rb["fromUserName"], "乙");

    // pageSize limits (0 = all), time bounds in ms.
    assert_eq!(last_chats(&app, &a, &[("pageSize", "1")]).await.len(), 1);
    assert_eq!(last_chats(&app, &a, &[("pageSize", "0")]).await.len(), 2);
    let cut_s = cut.to_string();
    let rows = last_chats(&app, &a, &[("startTime", &cut_s)]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["jid"], c.sid());
    let rows = last_chats(&app, &a, &[("endTime", &cut_s)]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["jid"], b.sid());

    // The other parties' lists.
    let rows = last_chats(&app, &b, &[]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["jid"], a.sid());
    assert_eq!(rows[0]["userId"], b.sid());
    assert_eq!(rows[0]["messageId"], ab.as_str());
    let rows = last_chats(&app, &c, &[]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["jid"], a.sid());

    // delLastChatList removes only my row.
    let v = call(&app, "/tigase/delLastChatList", &a, &[("jid", &b.sid())]).await;
    ok(&v);
    assert!(last_chat_with(&app, &a, &b).await.is_none());
    assert!(last_chat_with(&app, &b, &a).await.is_some());
    // The history itself stays.
    assert_eq!(history(&app, &a, &b).await.len(), 2);
    let v = call(&app, "/tigase/delLastChatList", &a, &[]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    let v = call(
        &app,
        "/tigase/delLastChatList",
        &a,
        &[("jid", "0123456789abcdef0123456789abcdef"), ("isRoom", "1")],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    // A new message brings the conversation back.
    console_send(&app, &b, &a, 1, "again").await;
    assert_eq!(
        last_chat_with(&app, &a, &b).await.unwrap()["content"],
        "again"
    );
}

#[tokio::test]
async fn delete_for_me_and_recall() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let m1 = console_send(&app, &a, &b, 1, "one").await;
    let m2 = console_send(&app, &b, &a, 1, "two").await;
    let m3 = console_send(&app, &a, &b, 1, "three").await;
    let m4 = console_send(&app, &a, &b, 1, "four").await;

    // delete=1: my copy only; my conversation row re-points at my newest remaining copy.
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[
            ("type", "1"),
            ("delete", "1"),
            ("messageId", &m4),
            ("flag", "rw"),
        ],
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert!(
        v.get("data").is_none() && v.get("resultMsg").is_none(),
        "{v}"
    );
    assert_eq!(
        ids(&history(&app, &a, &b).await),
        vec![m3.as_str(), m2.as_str(), m1.as_str()]
    );
    assert_eq!(
        ids(&history(&app, &b, &a).await),
        vec![m4.as_str(), m3.as_str(), m2.as_str(), m1.as_str()]
    );
    assert_eq!(
        last_chat_with(&app, &a, &b).await.unwrap()["messageId"],
        m3.as_str()
    );
    assert_eq!(
        last_chat_with(&app, &b, &a).await.unwrap()["messageId"],
        m4.as_str()
    );

    // Recall: only what I sent. b's copy of m3 has direction 1: refused, nothing removed.
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &b,
        &[("delete", "2"), ("messageId", &m3)],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains(&m3), "{v}");
    // A list mixing mine and theirs is refused as a whole.
    let list = format!("{m3},{m2}");
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[("delete", "2"), ("messageId", &list)],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(history(&app, &a, &b).await.len(), 3);
    assert_eq!(history(&app, &b, &a).await.len(), 4);

    // a recalls m3: both copies go; both rows re-point (a: m2, b: m4 still newest).
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[("delete", "2"), ("messageId", &m3)],
    )
    .await;
    ok(&v);
    assert_eq!(
        ids(&history(&app, &a, &b).await),
        vec![m2.as_str(), m1.as_str()]
    );
    assert_eq!(
        ids(&history(&app, &b, &a).await),
        vec![m4.as_str(), m2.as_str(), m1.as_str()]
    );
    assert_eq!(
        last_chat_with(&app, &a, &b).await.unwrap()["messageId"],
        m2.as_str()
    );
    assert_eq!(
        last_chat_with(&app, &b, &a).await.unwrap()["messageId"],
        m4.as_str()
    );

    // Recalling what I already deleted for me cannot be checked: refused.
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[("delete", "2"), ("messageId", &m4)],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(history(&app, &b, &a).await.len(), 3);

    // b recalls its own m2 and a's row follows (to m1 for both).
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &b,
        &[("delete", "2"), ("messageId", &m2)],
    )
    .await;
    ok(&v);
    assert_eq!(ids(&history(&app, &a, &b).await), vec![m1.as_str()]);
    assert_eq!(
        last_chat_with(&app, &a, &b).await.unwrap()["messageId"],
        m1.as_str()
    );
    assert_eq!(
        last_chat_with(&app, &b, &a).await.unwrap()["messageId"],
        m4.as_str()
    );

    // Deleting everything of mine (comma list, unknown ids ignored) removes my row.
    let list = format!(" {m1}, nope ,{m1}");
    let v = call(&app, "/tigase/deleteMsg", &a, &[("messageId", &list)]).await;
    ok(&v);
    assert!(history(&app, &a, &b).await.is_empty());
    assert!(last_chat_with(&app, &a, &b).await.is_none());
    assert_eq!(
        ids(&history(&app, &b, &a).await),
        vec![m4.as_str(), m1.as_str()]
    );

    // Parameter errors.
    for (pairs, code) in [
        (vec![], 1010101),
        (vec![("messageId", " , ")], 1010101),
        (vec![("messageId", "x"), ("delete", "3")], 1010101),
        (vec![("messageId", "x"), ("type", "3")], 1010101),
        (vec![("messageId", "x"), ("type", "2"), ("roomJid", "r")], 0),
    ] {
        let v = call(&app, "/tigase/deleteMsg", &a, &pairs).await;
        assert_eq!(v["resultCode"], code, "{pairs:?}: {v}");
    }
}

#[tokio::test]
async fn nobody_reads_or_deletes_another_users_messages() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let c = user(&app, "13800000003", "丙").await;
    let m = console_send(&app, &a, &b, 1, "secret between a and b").await;

    // c has no copies: history with either party is empty.
    assert!(history(&app, &c, &a).await.is_empty());
    assert!(history(&app, &c, &b).await.is_empty());
    // getMessage only finds my own copy.
    let v = call(&app, "/tigase/getMessage", &c, &[("messageId", &m)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    // Search only my copies.
    let v = call(&app, "/tigase/search", &c, &[("content", "secret")]).await;
    assert!(ok(&v)["shikuMsgs"].as_array().unwrap().is_empty(), "{v}");
    // Deleting: "for me" touches nothing of theirs; recall is refused.
    let v = call(&app, "/tigase/deleteMsg", &c, &[("messageId", &m)]).await;
    ok(&v);
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &c,
        &[("messageId", &m), ("delete", "2")],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    // The receiver cannot recall the sender's message either.
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &b,
        &[("messageId", &m), ("delete", "2")],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    // Emptying and read marks are mine only.
    let v = call(&app, "/tigase/emptyMyMsg", &c, &[("type", "1")]).await;
    ok(&v);
    let v = call(&app, "/tigase/emptyMyMsg", &c, &[("toUserId", &a.sid())]).await;
    ok(&v);
    let v = call(&app, "/tigase/changeRead", &c, &[("messageId", &m)]).await;
    ok(&v);
    let v = call(&app, "/tigase/delLastChatList", &c, &[("jid", &a.sid())]).await;
    ok(&v);
    assert_eq!(history(&app, &a, &b).await.len(), 1);
    assert_eq!(history(&app, &a, &b).await[0]["isRead"], 0);
    assert_eq!(history(&app, &b, &a).await.len(), 1);
    assert!(last_chat_with(&app, &a, &b).await.is_some());
    assert!(last_chat_with(&app, &b, &a).await.is_some());
    assert!(last_chats(&app, &c, &[]).await.is_empty());

    // Without a token: 1030101 on every endpoint.
    for path in [
        "/tigase/shiku_msgs",
        "/tigase/getLastChatList",
        "/tigase/getMessage",
        "/tigase/deleteMsg",
        "/tigase/emptyMyMsg",
        "/tigase/changeRead",
        "/tigase/delLastChatList",
        "/tigase/search",
        "/tigase/dialog/add",
        "/tigase/dialog/delete",
        "/tigase/push",
    ] {
        let v = app
            .get(path, &[("receiver", &a.sid()), ("messageId", &m)])
            .await;
        assert_eq!(v["resultCode"], 1030101, "{path}: {v}");
    }
}

#[tokio::test]
async fn read_receipts_and_change_read() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let m1 = console_send(&app, &a, &b, 1, "read me").await;
    let m2 = console_send(&app, &a, &b, 1, "read me too").await;
    let m3 = console_send(&app, &b, &a, 1, "from b").await;
    let read = |rows: &[Value], id: &str| {
        rows.iter()
            .find(|r| r["messageId"] == id)
            .map(|r| r["isRead"].clone())
            .unwrap()
    };
    assert_eq!(read(&history(&app, &a, &b).await, &m1), 0);

    // b reads m1: a type-26 receipt whose content is the messageId. Both copies read; the
    // receipt itself is not history.
    push(&app, &b, &a, json!({"type": 26, "content": m1})).await;
    let rows = history(&app, &a, &b).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(read(&rows, &m1), 1);
    assert_eq!(read(&rows, &m2), 0);
    assert_eq!(read(&history(&app, &b, &a).await, &m1), 1);

    // changeRead by the receiver marks the sender's copy.
    let v = call(&app, "/tigase/changeRead", &b, &[("messageId", &m2)]).await;
    ok(&v);
    assert_eq!(read(&history(&app, &a, &b).await, &m2), 1);
    // The sender cannot mark its own message as read by the peer.
    let v = call(&app, "/tigase/changeRead", &b, &[("messageId", &m3)]).await;
    ok(&v);
    assert_eq!(read(&history(&app, &b, &a).await, &m3), 0);
    let v = call(&app, "/tigase/changeRead", &b, &[]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}

#[tokio::test]
async fn duplicates_blacklists_and_push_errors() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let c = user(&app, "13800000003", "丙").await;

    // A client resending the same messageId is stored once.
    let body = json!({"type": 1, "content": "once", "messageId": "dup-1"});
    assert_eq!(push(&app, &a, &b, body.clone()).await, "dup-1");
    assert_eq!(push(&app, &a, &b, body).await, "dup-1");
    assert_eq!(ids(&history(&app, &a, &b).await), vec!["dup-1"]);
    assert_eq!(ids(&history(&app, &b, &a).await), vec!["dup-1"]);

    // Several recipients: one message each, each with its own messageId.
    let v = push_raw(
        &app,
        &a,
        &[&b, &c],
        json!({"type": 1, "content": "all", "messageId": "same"}),
    )
    .await;
    let d = ok(&v).as_array().unwrap().clone();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["toUserId"], b.id);
    assert_eq!(d[1]["toUserId"], c.id);
    assert_ne!(d[0]["messageId"], d[1]["messageId"]);
    assert_eq!(history(&app, &b, &a).await[0]["content"], "all");
    assert_eq!(history(&app, &c, &a).await[0]["content"], "all");
    assert_eq!(history(&app, &a, &c).await.len(), 1);

    // c blacklists a: a's messages to c are refused and not stored.
    let rel: Friend = serde_json::from_value(json!({
        "userId": c.id, "toUserId": a.id, "toNickname": "甲", "status": -1, "blacklist": 1
    }))
    .unwrap();
    app.app.store.friends.put_friend(&rel).await.unwrap();
    let v = push_raw(&app, &a, &[&c], json!({"type": 1, "content": "blocked"})).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("拉黑"), "{v}");
    let v = app
        .get(
            "/console/oneSendOne",
            &[
                ("access_token", KEY),
                ("type", "1"),
                ("content", "blocked too"),
                ("sendPhone", &a.phone),
                ("toUserPhone", &c.phone),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(history(&app, &c, &a).await.len(), 1);
    assert_eq!(history(&app, &a, &c).await.len(), 1);
    // One blocked recipient among several: the others still get it, the answer says who not.
    let v = push_raw(&app, &a, &[&b, &c], json!({"type": 1, "content": "mixed"})).await;
    let d = ok(&v).as_array().unwrap().clone();
    assert_eq!(d[0]["resultCode"], 1, "{v}");
    assert_eq!(d[1]["resultCode"], 0, "{v}");
    assert_eq!(history(&app, &b, &a).await[0]["content"], "mixed");
    // c may still write to a.
    push(&app, &c, &a, json!({"type": 1, "content": "c to a"})).await;

    // Parameter errors name the parameter.
    for (text, body, name) in [
        ("not json", r#"{"type":1}"#, "text"),
        ("[\"x\"]", r#"{"type":1}"#, "text"),
        ("[]", r#"{"type":1}"#, "text"),
        ("[99999999]", r#"{"type":1}"#, "text"),
        ("[100100]", "{oops", "body"),
        ("[100100]", "[1]", "body"),
        ("[100100]", r#"{"content":"no type"}"#, "type"),
    ] {
        let text = text.replace("100100", &b.sid());
        let v = call(&app, "/tigase/push", &a, &[("text", &text), ("body", body)]).await;
        assert_eq!(v["resultCode"], 1010101, "{text} {body}: {v}");
        assert!(v["resultMsg"].as_str().unwrap().contains(name), "{v}");
    }
    let v = call(&app, "/tigase/push", &a, &[("body", r#"{"type":1}"#)]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // push cannot speak for someone else: fromUserId is the caller's.
    let id = push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "fake", "fromUserId": c.sid(), "fromUserName": "丙"}),
    )
    .await;
    let rows = history(&app, &b, &a).await;
    assert_eq!(rows[0]["messageId"], id.as_str());
    let m: Value = serde_json::from_str(rows[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(m["fromUserId"], a.sid());
    assert!(history(&app, &b, &c).await.is_empty());
}

fn friend(owner: i64, peer: i64, nickname: &str, remark: Option<&str>) -> Friend {
    let mut v = json!({"userId": owner, "toUserId": peer, "toNickname": nickname, "status": 2});
    if let Some(r) = remark {
        v["remarkName"] = json!(r);
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn search_finds_chinese_substrings_in_my_messages_and_friends() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "张益达").await;
    let c = user(&app, "13800000003", "张益达二号").await;
    let m1 = console_send(&app, &a, &b, 1, "今天下午开会讨论项目").await;
    console_send(&app, &b, &a, 1, "好的，明天见").await;
    console_send(&app, &c, &b, 1, "开会的事情").await;
    for (owner, peer, nick) in [(&a, &b, "张益达"), (&b, &a, "甲")] {
        app.app
            .store
            .friends
            .put_friend(&friend(owner.id, peer.id, nick, None))
            .await
            .unwrap();
    }

    let v = call(
        &app,
        "/tigase/search",
        &a,
        &[("content", "开会"), ("flag", "rw")],
    )
    .await;
    let d = ok(&v);
    let msgs = d["shikuMsgs"].as_array().unwrap();
    assert_eq!(ids(msgs), vec![m1.clone()]);
    check_row(&msgs[0], &a, &b, 0);
    assert_eq!(d["mucmsgs"], json!([]));
    assert_eq!(d["group"], json!([]));
    assert!(d["friend"].as_array().unwrap().is_empty());
    // Received messages are my copies too.
    let v = call(&app, "/tigase/search", &a, &[("content", "明天")]).await;
    let msgs = ok(&v)["shikuMsgs"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["direction"], 1);

    // Friends by nickname: b is a friend; c matches too but is a stranger.
    let v = call(&app, "/tigase/search", &a, &[("content", "益达")]).await;
    let friends = ok(&v)["friend"].as_array().unwrap().clone();
    assert_eq!(friends.len(), 1, "{v}");
    assert_eq!(friends[0]["userId"], b.id);
    assert_eq!(friends[0]["nickname"], "张益达");
    assert!(friends[0].get("password").is_none());
    // By my remark for them.
    app.app
        .store
        .friends
        .put_friend(&friend(a.id, b.id, "张益达", Some("老张同学")))
        .await
        .unwrap();
    let v = call(&app, "/tigase/search", &a, &[("content", "老张")]).await;
    let friends = ok(&v)["friend"].as_array().unwrap().clone();
    assert_eq!(friends.len(), 1, "{v}");
    assert_eq!(friends[0]["userId"], b.id);
    // Only my remarks: b has none for a.
    let v = call(&app, "/tigase/search", &b, &[("content", "老张")]).await;
    assert!(ok(&v)["friend"].as_array().unwrap().is_empty(), "{v}");
    // A blacklisted friend is not offered.
    let mut rel = friend(a.id, b.id, "张益达", None);
    rel.blacklist = 1;
    app.app.store.friends.put_friend(&rel).await.unwrap();
    let v = call(&app, "/tigase/search", &a, &[("content", "益达")]).await;
    assert!(ok(&v)["friend"].as_array().unwrap().is_empty(), "{v}");

    // Nothing found, and parameter errors.
    let v = call(&app, "/tigase/search", &a, &[("content", "不存在的内容")]).await;
    let d = ok(&v);
    assert!(d["shikuMsgs"].as_array().unwrap().is_empty());
    assert!(d["friend"].as_array().unwrap().is_empty());
    for content in ["", "  "] {
        let v = call(&app, "/tigase/search", &a, &[("content", content)]).await;
        assert_eq!(v["resultCode"], 1010101, "{v}");
        assert!(v["resultMsg"].as_str().unwrap().contains("content"));
    }
    // LIKE wildcards are plain text.
    let v = call(&app, "/tigase/search", &a, &[("content", "%")]).await;
    assert!(ok(&v)["shikuMsgs"].as_array().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn empty_my_messages() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let c = user(&app, "13800000003", "丙").await;
    console_send(&app, &a, &b, 1, "ab").await;
    console_send(&app, &c, &a, 1, "ca").await;

    // One conversation.
    let v = call(
        &app,
        "/tigase/emptyMyMsg",
        &a,
        &[("toUserId", &b.sid()), ("type", "0")],
    )
    .await;
    ok(&v);
    assert!(history(&app, &a, &b).await.is_empty());
    assert_eq!(history(&app, &b, &a).await.len(), 1);
    assert!(last_chat_with(&app, &a, &b).await.is_none());
    assert!(last_chat_with(&app, &b, &a).await.is_some());
    assert_eq!(history(&app, &a, &c).await.len(), 1);
    assert!(last_chat_with(&app, &a, &c).await.is_some());

    // Everything.
    console_send(&app, &a, &b, 1, "ab2").await;
    let v = call(&app, "/tigase/emptyMyMsg", &a, &[("type", "1")]).await;
    ok(&v);
    assert!(history(&app, &a, &b).await.is_empty());
    assert!(history(&app, &a, &c).await.is_empty());
    assert!(last_chats(&app, &a, &[]).await.is_empty());
    assert_eq!(history(&app, &b, &a).await.len(), 2);
    assert_eq!(history(&app, &c, &a).await.len(), 1);

    let v = call(&app, "/tigase/emptyMyMsg", &a, &[("type", "5")]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}

#[tokio::test]
async fn pinned_dialogs() {
    let app = spawn().await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let c = user(&app, "13800000003", "丙").await;
    app.app
        .store
        .friends
        .put_friend(&friend(a.id, b.id, "乙", None))
        .await
        .unwrap();
    let top = |app: &TestApp, owner: i64, peer: i64| {
        let store = app.app.store.clone();
        async move {
            store
                .friends
                .get_friend(owner as i32, peer as i32)
                .await
                .unwrap()
                .map(|f| f.open_top_chat_time)
        }
    };

    // Pin a friend without touching the relation, then with isAdaptive=1.
    let v = call(
        &app,
        "/tigase/dialog/add",
        &a,
        &[("jid", &b.sid()), ("flag", "rw")],
    )
    .await;
    ok(&v);
    assert_eq!(top(&app, a.id, b.id).await, Some(0));
    let v = call(
        &app,
        "/tigase/dialog/add",
        &a,
        &[("jid", &b.sid()), ("isAdaptive", "1")],
    )
    .await;
    ok(&v);
    let t = top(&app, a.id, b.id).await.unwrap();
    let now = shiku_server::domain::util::now_secs();
    assert!((now - t).abs() < 60, "openTopChatTime in seconds: {t}");
    // Only my side of the relation.
    assert_eq!(top(&app, b.id, a.id).await, None);
    // A stranger (no relation) and a room jid can be pinned too.
    let room = "0123456789abcdef0123456789abcdef";
    ok(&call(
        &app,
        "/tigase/dialog/add",
        &a,
        &[("jid", &c.sid()), ("isAdaptive", "1")],
    )
    .await);
    ok(&call(&app, "/tigase/dialog/add", &a, &[("jid", room)]).await);
    let pins = app.app.store.messages.dialogs(a.id as i32).await.unwrap();
    let mut kinds: Vec<(String, i32)> = pins.iter().map(|d| (d.jid.clone(), d.is_room)).collect();
    kinds.sort();
    let mut want = vec![(b.sid(), 0), (c.sid(), 0), (room.to_string(), 1)];
    want.sort();
    assert_eq!(kinds, want);
    assert!(pins.iter().all(|d| (now - d.time).abs() < 60));
    assert!(app
        .app
        .store
        .messages
        .dialogs(b.id as i32)
        .await
        .unwrap()
        .is_empty());

    // Unpin: isAdaptive=1 clears the pin time.
    let v = call(
        &app,
        "/tigase/dialog/delete",
        &a,
        &[("jid", &b.sid()), ("isAdaptive", "1")],
    )
    .await;
    ok(&v);
    assert_eq!(top(&app, a.id, b.id).await, Some(0));
    ok(&call(&app, "/tigase/dialog/delete", &a, &[("jid", room)]).await);
    let pins = app.app.store.messages.dialogs(a.id as i32).await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].jid, c.sid());

    // Errors.
    for (path, pairs, code) in [
        ("/tigase/dialog/add", vec![], 1010101),
        ("/tigase/dialog/add", vec![("jid", " ")], 1010101),
        ("/tigase/dialog/add", vec![("jid", "99999999")], 0),
        ("/tigase/dialog/add", vec![("jid", "a b")], 1010101),
        (
            "/tigase/dialog/add",
            vec![("jid", "1"), ("isAdaptive", "2")],
            1010101,
        ),
        ("/tigase/dialog/delete", vec![], 1010101),
        (
            "/tigase/dialog/delete",
            vec![("jid", "1"), ("isAdaptive", "x")],
            1010101,
        ),
    ] {
        let v = call(&app, path, &a, &pairs).await;
        assert_eq!(v["resultCode"], code, "{path} {pairs:?}: {v}");
    }
}

#[tokio::test]
async fn a_sender_cannot_speak_as_someone_else() {
    let app = spawn().await;
    let a = user(&app, "13811110001", "甲").await;
    let b = user(&app, "13811110002", "乙").await;
    let c = user(&app, "13811110003", "丙").await;
    push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "假冒", "fromUserId": c.sid(), "fromUserName": "丙"}),
    )
    .await;
    let rows = history(&app, &b, &a).await;
    assert_eq!(rows.len(), 1);
    let body: Value = serde_json::from_str(rows[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(body["fromUserId"], a.sid());
    assert_eq!(body["fromUserName"], "甲");
    let row = last_chat_with(&app, &b, &a)
        .await
        .expect("conversation row");
    assert_eq!(row["fromUserName"], "甲");
}

/// Spec 5.6: at every login the user's read copies whose `deleteTime` has passed are deleted and
/// the conversation row is re-pointed; unread copies and unexpired ones stay.
#[tokio::test]
async fn expired_messages_are_deleted_at_login() {
    let app = spawn().await;
    let a = user(&app, "13811120001", "甲").await;
    let b = user(&app, "13811120002", "乙").await;
    let now = chrono::Utc::now().timestamp();
    let keep = push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "留", "deleteTime": now + 3600}),
    )
    .await;
    let gone = push(
        &app,
        &a,
        &b,
        json!({"type": 1, "content": "焚", "deleteTime": now - 5}),
    )
    .await;
    assert_eq!(
        ids(&history(&app, &b, &a).await),
        vec![gone.clone(), keep.clone()]
    );
    let v = app.login(&b.phone, "pw").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    // b's copy (direction 1, read) expired; a's copy is unread (direction 0) and stays.
    assert_eq!(ids(&history(&app, &b, &a).await), vec![keep.clone()]);
    assert_eq!(ids(&history(&app, &a, &b).await), vec![gone, keep.clone()]);
    let row = last_chat_with(&app, &b, &a).await.expect("row re-pointed");
    assert_eq!(row["messageId"], keep);
    assert_eq!(row["content"], "留");
    // login/auto does the same.
    let v = app
        .post("/user/login/auto", &[("access_token", &a.token)])
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(
        history(&app, &a, &b).await.len(),
        2,
        "a's copies are unread: kept"
    );
}

/// The seed-002 documents (fixtures) read back through the client endpoints in the seed's shape.
#[tokio::test]
async fn seed_messages_read_back_as_the_seed_shows_them() {
    let app = spawn().await;
    app.import_fixtures().await;
    let v = app.login("15730107952", "123456").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let token = v["data"]["access_token"].as_str().unwrap().to_string();
    let v = app
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", &token),
                ("receiver", "100164"),
                ("flag", "rw"),
            ],
        )
        .await;
    let rows = ok(&v).as_array().unwrap().clone();
    let contents: Vec<&str> = rows
        .iter()
        .map(|r| r["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["123", "11", "你好"], "newest first");
    let r = &rows[0];
    assert_eq!(r["sender"], "100102");
    assert_eq!(r["receiver"], "100164");
    assert_eq!(r["direction"], 1);
    assert_eq!(r["sender_jid"], "100164/web");
    assert_eq!(r["timeSend"], 1614048376311i64);
    assert_eq!(r["ts"], 1614048379623i64);
    assert_eq!(r["isEncrypt"], false);
    assert_eq!(r["message"], r["body"]);
    let body: Value = serde_json::from_str(r["message"].as_str().unwrap()).unwrap();
    assert_eq!(body["fromUserId"], "100164");
    assert_eq!(body["messageHead"]["from"], "100164/web");
    let v = app
        .get(
            "/tigase/getLastChatList",
            &[("access_token", &token), ("pageSize", "20")],
        )
        .await;
    let list = ok(&v).as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "100102 is in no room: only its single-chat row: {v}"
    );
    assert_eq!(list[0]["jid"], "100164");
    assert_eq!(list[0]["isRoom"], 0);
    assert_eq!(list[0]["timeSend"], 1614048376311i64);
    assert_eq!(list[0]["from"], "100164/web");
}

/// One history page is bounded in bytes as well as rows: a page of large messages stops early
/// (the newest first), never a gigabyte answer; the conversation list and room history too.
#[tokio::test]
async fn pages_of_large_messages_are_bounded_in_bytes() {
    let app = common::spawn_with(|c| {
        c.integration_key = KEY.into();
        c.limits.max_page_bytes = 600_000;
    })
    .await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let big = "大".repeat(20_000); // 60 KB of UTF-8
    let mut sent = Vec::new();
    for _ in 0..12 {
        sent.push(console_text(&app, &a, &b, &big).await);
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let r = app
        .client
        .get(format!("{}/tigase/shiku_msgs", app.base))
        .query(&[
            ("access_token", a.token.as_str()),
            ("receiver", &b.sid()),
            ("pageSize", "5000"),
        ])
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    // Each row carries the text three times (`content`, and the JSON in `body` and
    // `message`): about 180 KB a row here.
    assert!(text.len() < 800_000, "{} bytes", text.len());
    let v: Value = serde_json::from_str(&text).unwrap();
    let rows = ok(&v).as_array().unwrap();
    assert!((1..12).contains(&rows.len()), "{} rows", rows.len());
    assert_eq!(ids(rows), newest_first[..rows.len()]);
    // Small pages still page exactly.
    let v = history_with(&app, &a, &b, &[("pageIndex", "1"), ("pageSize", "2")]).await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), newest_first[2..4]);
}

/// All pages being built at once share one byte budget (`limits.max_pages_bytes`), so many
/// readers of large pages together hold a bounded amount (benches/attack.rs measured 8
/// concurrent 5,000-row pages of 60 KB messages at 223 MB over idle before it): a page stops
/// where the shared budget ends, a page with no row yet waits for its share rather than
/// failing, and the budget is given back when a page is done.
#[tokio::test]
async fn pages_share_one_byte_budget() {
    let app = common::spawn_with(|c| {
        c.integration_key = KEY.into();
        c.limits.max_pages_bytes = 250_000;
    })
    .await;
    let a = user(&app, "13800000001", "甲").await;
    let b = user(&app, "13800000002", "乙").await;
    let big = "大".repeat(20_000); // 60 KB of UTF-8, about 180 KB a row
    let mut sent = Vec::new();
    for _ in 0..6 {
        sent.push(console_text(&app, &a, &b, &big).await);
    }
    let page = || history_with(&app, &a, &b, &[("pageSize", "5000")]);
    // The page's own budget (8 MiB) would take all six; the shared one holds one row.
    let v = page().await;
    assert_eq!(ids(ok(&v).as_array().unwrap()), [sent[5].clone()]);
    // Twenty at once: every one is answered with a row, none is refused.
    let all = futures_util::future::join_all((0..20).map(|_| page())).await;
    for v in &all {
        assert_eq!(ok(v).as_array().unwrap().len(), 1, "{v}");
    }
    // Given back: the next page is served the same.
    let v = page().await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 1);
}
