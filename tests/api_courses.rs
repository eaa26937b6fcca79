//! Courses (seed 003 `/course/add` and the reads back), black-box: a member saves room messages
//! as a named course, lists, reads, renames, trims and deletes it; nobody else sees or touches it.

mod common;

use serde_json::Value;
use shiku_server::domain::util::uuid32;

use common::{ok, spawn_with, user, TestApp, TestUser};

async fn call(app: &TestApp, path: &str, u: &TestUser, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", u.token.as_str())];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

fn list(v: &Value) -> Vec<Value> {
    ok(v).as_array().expect("a list").clone()
}

/// A room of `owner` with `member`, renamed once so that its history holds a few rows; the jid
/// and the rows (newest first).
async fn room_with_history(
    app: &TestApp,
    owner: &TestUser,
    member: &TestUser,
) -> (String, Vec<Value>) {
    let jid = uuid32();
    let text = format!("[{}]", member.id);
    let v = call(
        app,
        "/room/add",
        owner,
        &[
            ("jid", &jid),
            ("name", "lectures"),
            ("desc", "d"),
            ("text", &text),
        ],
    )
    .await;
    let room_id = ok(&v)["id"].as_str().unwrap().to_string();
    ok(&call(
        app,
        "/room/update",
        owner,
        &[("roomId", &room_id), ("roomName", "lectures 2")],
    )
    .await);
    let v = call(
        app,
        "/tigase/shiku_muc_msgs",
        owner,
        &[("roomId", &jid), ("pageSize", "100")],
    )
    .await;
    let rows = list(&v);
    assert!(rows.len() >= 2, "{rows:?}");
    (jid, rows)
}

#[tokio::test]
async fn a_course_is_saved_read_changed_and_deleted_by_its_owner_only() {
    let app = spawn_with(|_| {}).await;
    let a = user(&app, "13500000001", "a").await;
    let b = user(&app, "13500000002", "b").await;
    let stranger = user(&app, "13500000003", "s").await;
    let (jid, rows) = room_with_history(&app, &a, &b).await;
    let id = |r: &Value| r["messageId"].as_str().unwrap().to_string();
    let ids = format!("{},{}", id(&rows[1]), id(&rows[0]));
    ok(&call(
        &app,
        "/course/add",
        &a,
        &[
            ("messageIds", &ids),
            ("courseName", "Lesson 1"),
            ("roomJid", &jid),
            ("createTime", "1"),
        ],
    )
    .await);

    let courses = list(&call(&app, "/course/list", &a, &[]).await);
    assert_eq!(courses.len(), 1);
    let c = &courses[0];
    assert_eq!(
        (c["courseName"].clone(), c["roomJid"].clone()),
        ("Lesson 1".into(), jid.clone().into())
    );
    assert_eq!(
        c["messageIds"],
        serde_json::json!([id(&rows[1]), id(&rows[0])])
    );
    assert!(c["createTime"].as_i64().unwrap() > 1, "the server's time");
    let course_id = c["courseId"].as_str().unwrap().to_string();
    assert_eq!(
        list(&call(&app, "/user/course/list", &a, &[]).await),
        courses
    );
    assert!(list(&call(&app, "/course/list", &a, &[("roomJid", "other")]).await).is_empty());
    assert_eq!(
        list(&call(&app, "/course/list", &a, &[("roomJid", &jid)]).await),
        courses
    );
    let paged = [("pageIndex", "1"), ("pageSize", "1")];
    assert!(list(&call(&app, "/course/list", &a, &paged).await).is_empty());

    let messages = list(&call(&app, "/course/get", &a, &[("courseId", &course_id)]).await);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["messageId"], rows[1]["messageId"]);
    assert_eq!(
        messages[0]["message"], rows[1]["message"],
        "the body as the room stored it"
    );

    // Renamed and trimmed to its first message.
    let first = id(&rows[1]);
    ok(&call(
        &app,
        "/user/course/update",
        &a,
        &[
            ("courseId", &course_id),
            ("courseName", "Lesson 1 (short)"),
            ("messageIds", &first),
        ],
    )
    .await);
    let messages = list(&call(&app, "/user/course/get", &a, &[("courseId", &course_id)]).await);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        list(&call(&app, "/course/list", &a, &[]).await)[0]["courseName"],
        "Lesson 1 (short)"
    );

    // Nobody else sees, changes or deletes it, nor saves a room they are not in.
    let sid = a.sid();
    assert!(list(&call(&app, "/course/list", &stranger, &[("userId", &sid)]).await).is_empty());
    for path in ["/course/get", "/course/delete", "/course/update"] {
        let v = call(
            &app,
            path,
            &stranger,
            &[("courseId", &course_id), ("courseName", "x")],
        )
        .await;
        assert_eq!(v["resultCode"], 0, "{path}: {v}");
    }
    let v = call(
        &app,
        "/course/add",
        &stranger,
        &[
            ("messageIds", &first),
            ("courseName", "mine"),
            ("roomJid", &jid),
        ],
    )
    .await;
    assert_ne!(v["resultCode"], 1, "{v}");

    ok(&call(&app, "/course/delete", &a, &[("courseId", &course_id)]).await);
    let v = call(&app, "/course/get", &a, &[("courseId", &course_id)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

#[tokio::test]
async fn bad_courses_are_refused_and_the_number_is_bounded() {
    let app = spawn_with(|c| c.limits.max_courses = 1).await;
    let a = user(&app, "13500000011", "a").await;
    let b = user(&app, "13500000012", "b").await;
    let (jid, rows) = room_with_history(&app, &a, &b).await;
    let one = rows[0]["messageId"].as_str().unwrap().to_string();
    let many = (0..501)
        .map(|i| format!("m{i}"))
        .collect::<Vec<_>>()
        .join(",");
    for (pairs, code) in [
        (
            vec![("messageIds", one.as_str()), ("roomJid", jid.as_str())],
            1010101,
        ),
        (
            vec![("courseName", "x"), ("roomJid", jid.as_str())],
            1010101,
        ),
        (
            vec![
                ("messageIds", many.as_str()),
                ("courseName", "x"),
                ("roomJid", jid.as_str()),
            ],
            1010101,
        ),
        (
            vec![
                ("messageIds", "nope"),
                ("courseName", "x"),
                ("roomJid", jid.as_str()),
            ],
            0,
        ),
    ] {
        let v = call(&app, "/course/add", &a, &pairs).await;
        assert_eq!(v["resultCode"], code, "{pairs:?}: {v}");
    }
    let json_ids = format!("[\"{one}\"]");
    ok(&call(
        &app,
        "/course/add",
        &a,
        &[
            ("messageIds", &json_ids),
            ("courseName", "x"),
            ("roomJid", &jid),
        ],
    )
    .await);
    let v = call(
        &app,
        "/course/add",
        &a,
        &[("messageIds", &one), ("courseName", "y"), ("roomJid", &jid)],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("上限"), "{v}");
}
