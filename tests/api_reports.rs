//! Reports (seed 003 `/user/report`) and their review in the console, black-box: users report
//! users and rooms, the console lists them with names, marks them handled and locks the
//! reported user or room; console roles decide who may do which.

mod common;

use serde_json::Value;
use shiku_server::domain::util::uuid32;

use common::{console_admin, ok, spawn_with, user, TestApp, TestUser};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

async fn report(app: &TestApp, u: &TestUser, pairs: &[(&str, &str)]) -> Value {
    call(app, "/user/report", &u.token, pairs).await
}

fn rows(v: &Value) -> Vec<Value> {
    ok(v).as_array().expect("rows").clone()
}

#[tokio::test]
async fn reports_are_reviewed_and_the_reported_locked_from_the_console() {
    let app = spawn_with(|c| c.limits.max_waiting_reports = 3).await;
    let a = user(&app, "13400000001", "reporter").await;
    let b = user(&app, "13400000002", "reported").await;
    let c = user(&app, "13400000003", "other").await;
    let (_, super6) = console_admin(&app, "13400000009", 6).await;
    let (_, tourist) = console_admin(&app, "13400000008", 1).await;
    let jid = uuid32();
    let v = call(
        &app,
        "/room/add",
        &c.token,
        &[("jid", &jid), ("name", "bad room"), ("text", "[]")],
    )
    .await;
    let room_id = ok(&v)["id"].as_str().unwrap().to_string();

    let bid = b.sid();
    ok(&report(&app, &a, &[("toUserId", &bid), ("reason", "3")]).await);
    // Repeating a waiting report replaces it.
    ok(&report(&app, &a, &[("toUserId", &bid), ("reason", "4")]).await);
    ok(&report(&app, &c, &[("toUserId", &bid), ("reason", "1")]).await);
    // A room, by its jid.
    ok(&report(&app, &a, &[("roomId", &jid), ("reason", "2")]).await);

    for (pairs, code) in [
        (vec![("reason", "1")], 1010101),
        (vec![("toUserId", bid.as_str())], 1010101),
        (vec![("toUserId", "99999999"), ("reason", "1")], 0),
        (vec![("roomId", "not-a-room"), ("reason", "1")], 1010101),
    ] {
        let v = report(&app, &a, &pairs).await;
        assert_eq!(v["resultCode"], code, "{pairs:?}: {v}");
    }
    let aid = a.sid();
    let v = report(&app, &a, &[("toUserId", &aid), ("reason", "1")]).await;
    assert_eq!(v["resultCode"], 0, "{v}");

    let v = call(&app, "/console/reportList", &tourist, &[("status", "0")]).await;
    let waiting = rows(&v);
    assert_eq!(v["count"], 3, "{v}");
    let room_row = &waiting[0];
    assert_eq!(
        (room_row["roomId"].clone(), room_row["roomName"].clone()),
        (room_id.clone().into(), "bad room".into())
    );
    let user_rows: Vec<&Value> = waiting.iter().filter(|r| r["toUserId"] == b.id).collect();
    assert_eq!(user_rows.len(), 2);
    assert_eq!(user_rows[1]["reason"], 4, "replaced: {user_rows:?}");
    assert_eq!(user_rows[1]["nickname"], "reporter");
    assert_eq!(user_rows[1]["toNickname"], "reported");
    let only_rooms = rows(&call(&app, "/console/reportList", &tourist, &[("type", "2")]).await);
    assert_eq!(only_rooms.len(), 1);

    // A tourist reads but does not handle; user tokens reach neither.
    let report_id = user_rows[0]["reportId"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "/console/report/handle",
        &tourist,
        &[("reportId", &report_id)],
    )
    .await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    let v = call(&app, "/console/reportList", &a.token, &[]).await;
    assert_ne!(v["resultCode"], 1, "{v}");

    // Handling one report of b with lock: both reports of b handled, b locked.
    let v = call(
        &app,
        "/console/report/handle",
        &super6,
        &[("reportId", &report_id), ("lock", "1")],
    )
    .await;
    assert_eq!(ok(&v)["handled"], 2, "{v}");
    let v = call(&app, "/user/get", &b.token, &[]).await;
    assert_ne!(v["resultCode"], 1, "the locked user's token is dead: {v}");
    let handled = rows(&call(&app, "/console/reportList", &super6, &[("status", "1")]).await);
    assert_eq!(handled.len(), 2);
    assert!(handled
        .iter()
        .all(|r| r["action"] == 1 && r["handleTime"].as_i64().unwrap() > 0));

    // The room: locked from the report.
    let room_report = room_row["reportId"].as_str().unwrap();
    ok(&call(
        &app,
        "/console/report/handle",
        &super6,
        &[("reportId", room_report), ("lock", "1")],
    )
    .await);
    let v = call(&app, "/room/get", &c.token, &[("roomId", &room_id)]).await;
    assert_eq!(v["resultMsg"], "该群组已被锁定！", "{v}");

    // At most 3 waiting per reporter (the limit here).
    let cid = c.sid();
    ok(&report(&app, &a, &[("toUserId", &cid), ("reason", "1")]).await);
    let d = user(&app, "13400000004", "d").await;
    let e = user(&app, "13400000005", "e").await;
    ok(&report(&app, &a, &[("toUserId", &d.sid()), ("reason", "1")]).await);
    ok(&report(&app, &a, &[("toUserId", &e.sid()), ("reason", "1")]).await);
    let f = user(&app, "13400000006", "f").await;
    let v = report(&app, &a, &[("toUserId", &f.sid()), ("reason", "1")]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
}
