//! The console's room pages of seed 003, black-box: `/console/addRoom` makes a room for a user
//! with members; `/console/roomUserManager` pages its members; roles decide who may.

mod common;

use serde_json::Value;

use common::{console_admin, ok, spawn_with, user, TestApp};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

#[tokio::test]
async fn the_console_makes_rooms_for_users_and_pages_their_members() {
    let app = spawn_with(|_| {}).await;
    let owner = user(&app, "13200000001", "owner").await;
    let m1 = user(&app, "13200000002", "m1").await;
    let m2 = user(&app, "13200000003", "m2").await;
    let (_, admin) = console_admin(&app, "13200000009", 6).await;
    let (_, tourist) = console_admin(&app, "13200000008", 1).await;
    let ids = format!("[{},{}]", m1.id, m2.id);
    let oid = owner.sid();
    let form = [
        ("userId", oid.as_str()),
        ("name", "made by the console"),
        ("ids", ids.as_str()),
    ];

    let v = call(&app, "/console/addRoom", &tourist, &form).await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    let v = call(&app, "/console/addRoom", &owner.token, &form).await;
    assert_ne!(v["resultCode"], 1, "{v}");
    let v = call(&app, "/console/addRoom", &admin, &form).await;
    let room = ok(&v).clone();
    assert_eq!(room["userId"], owner.id);
    assert_eq!(
        room["jid"].as_str().unwrap().len(),
        32,
        "a jid was made: {room}"
    );
    let room_id = room["id"].as_str().unwrap().to_string();
    // The owner and members see it as theirs.
    let v = call(&app, "/room/get", &m2.token, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v)["name"], "made by the console");

    let page = |index: &'static str| {
        let (app, tourist, room_id) = (&app, &tourist, room_id.clone());
        async move {
            call(
                app,
                "/console/roomUserManager",
                tourist,
                &[("id", &room_id), ("pageIndex", index), ("pageSize", "2")],
            )
            .await
        }
    };
    let first = page("0").await;
    assert_eq!(first["count"], 3, "{first}");
    let rows = ok(&first).as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["userId"], owner.id, "in the order they joined");
    let second = page("1").await;
    assert_eq!(ok(&second).as_array().unwrap().len(), 1);

    // A missing owner, a bad member list, an unknown room.
    let bad = [("userId", "99999999"), ("name", "x")];
    assert_eq!(
        call(&app, "/console/addRoom", &admin, &bad).await["resultCode"],
        0
    );
    let bad = [("userId", oid.as_str()), ("name", "x"), ("ids", "1,2")];
    assert_eq!(
        call(&app, "/console/addRoom", &admin, &bad).await["resultCode"],
        1010101
    );
    let v = call(&app, "/console/roomUserManager", &admin, &[("id", "nope")]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}
