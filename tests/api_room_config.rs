//! Room defaults from configuration (`[rooms]`, spec/reference-server.md 3.4 `/room/add`): a new
//! room's flags follow the configuration, -1 lets the client's value (or the reference default)
//! through, and `max_user_size` bounds creation, invitations and `/room/update maxUserSize`.

mod common;

use serde_json::Value;
use shiku_server::domain::rooms::{self, NewRoom, RoomFlags};
use shiku_server::domain::util::uuid32;

use common::{ok, refused, user, TestApp, TestUser as U};

async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str()), ("flag", "rw")];
    all.extend_from_slice(pairs);
    app.get(path, &all).await
}

/// `/room/add` with `members` (userIds) and extra parameters; the answer.
async fn add(app: &TestApp, owner: &U, members: &[&U], extra: &[(&str, &str)]) -> Value {
    let jid = uuid32();
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let text = serde_json::to_string(&ids).unwrap();
    let mut pairs = vec![
        ("jid", jid.as_str()),
        ("name", "g"),
        ("text", text.as_str()),
    ];
    pairs.extend_from_slice(extra);
    call(app, "/room/add", owner, &pairs).await
}

const FLAGS: [&str; 10] = [
    "isAttritionNotice",
    "isLook",
    "showRead",
    "isNeedVerify",
    "showMember",
    "allowSendCard",
    "allowInviteFriend",
    "allowUploadFile",
    "allowConference",
    "allowSpeakCourse",
];

#[tokio::test]
async fn default_configuration_gives_the_reference_flags() {
    let app = common::spawn().await;
    let a = user(&app, "13200000001", "a").await;
    let v = add(&app, &a, &[], &[("isLook", "0"), ("showRead", "1")]).await;
    let d = ok(&v);
    assert_eq!(d["maxUserSize"], 1000);
    for (flag, want) in FLAGS.iter().zip([1, 1, 0, 0, 1, 1, 1, 1, 1, 1]) {
        assert_eq!(d[*flag], want, "{flag}: {d}");
    }
}

#[tokio::test]
async fn configured_flags_overwrite_the_client() {
    let app = common::spawn_with(|c| {
        c.rooms.max_user_size = 500;
        c.rooms.is_attrition_notice = 0;
        c.rooms.is_look = 0;
        c.rooms.show_read = 1;
        c.rooms.is_need_verify = 1;
        c.rooms.show_member = 0;
        c.rooms.allow_send_card = 0;
        c.rooms.allow_invite_friend = 0;
        c.rooms.allow_upload_file = 0;
        c.rooms.allow_conference = 0;
        c.rooms.allow_speak_course = 0;
    })
    .await;
    let a = user(&app, "13200000011", "a").await;
    let v = add(
        &app,
        &a,
        &[],
        &[("isLook", "1"), ("showRead", "0"), ("maxUserSize", "20")],
    )
    .await;
    let d = ok(&v).clone();
    assert_eq!(d["maxUserSize"], 500);
    for (flag, want) in FLAGS.iter().zip([0, 0, 1, 1, 0, 0, 0, 0, 0, 0]) {
        assert_eq!(d[*flag], want, "{flag}: {d}");
    }
    // Stored that way, not only answered.
    let room_id = d["id"].as_str().unwrap();
    let got = call(&app, "/room/get", &a, &[("roomId", room_id)]).await;
    let g = ok(&got);
    assert_eq!(g["maxUserSize"], 500);
    for (flag, want) in FLAGS.iter().zip([0, 0, 1, 1, 0, 0, 0, 0, 0, 0]) {
        assert_eq!(g[*flag], want, "{flag}: {g}");
    }

    // The same rule through the domain with every client flag set the other way.
    let flags = RoomFlags {
        max_user_size: Some(20),
        is_attrition_notice: Some(1),
        is_look: Some(1),
        show_read: Some(0),
        is_need_verify: Some(0),
        show_member: Some(1),
        allow_send_card: Some(1),
        allow_invite_friend: Some(1),
        allow_upload_file: Some(1),
        allow_conference: Some(1),
        allow_speak_course: Some(1),
    };
    let d = rooms::create_with(&app.app, a.id as i32, new_room(), &flags)
        .await
        .unwrap();
    assert_eq!(d["maxUserSize"], 500);
    for (flag, want) in FLAGS.iter().zip([0, 0, 1, 1, 0, 0, 0, 0, 0, 0]) {
        assert_eq!(d[*flag], want, "{flag}: {d}");
    }
}

fn new_room() -> NewRoom {
    NewRoom {
        jid: uuid32(),
        name: Some("g".into()),
        ..NewRoom::default()
    }
}

fn all_minus_one(c: &mut shiku_server::config::Config) {
    c.rooms.max_user_size = -1;
    c.rooms.is_attrition_notice = -1;
    c.rooms.is_look = -1;
    c.rooms.show_read = -1;
    c.rooms.is_need_verify = -1;
    c.rooms.show_member = -1;
    c.rooms.allow_send_card = -1;
    c.rooms.allow_invite_friend = -1;
    c.rooms.allow_upload_file = -1;
    c.rooms.allow_conference = -1;
    c.rooms.allow_speak_course = -1;
}

#[tokio::test]
async fn minus_one_keeps_the_client_value() {
    let app = common::spawn_with(all_minus_one).await;
    let a = user(&app, "13200000021", "a").await;

    // The client's values get through…
    let flags = RoomFlags {
        max_user_size: Some(3),
        is_attrition_notice: Some(0),
        is_look: Some(0),
        show_read: Some(1),
        is_need_verify: Some(1),
        show_member: Some(0),
        allow_send_card: Some(0),
        allow_invite_friend: Some(0),
        allow_upload_file: Some(0),
        allow_conference: Some(0),
        allow_speak_course: Some(0),
    };
    let d = rooms::create_with(&app.app, a.id as i32, new_room(), &flags)
        .await
        .unwrap();
    assert_eq!(d["maxUserSize"], 3);
    for (flag, want) in FLAGS.iter().zip([0, 0, 1, 1, 0, 0, 0, 0, 0, 0]) {
        assert_eq!(d[*flag], want, "{flag}: {d}");
    }
    let room_id = d["id"].as_str().unwrap();
    let got = call(&app, "/room/get", &a, &[("roomId", room_id)]).await;
    assert_eq!(ok(&got)["maxUserSize"], 3);
    assert_eq!(ok(&got)["isLook"], 0);

    // …still checked…
    let bad = RoomFlags {
        show_read: Some(2),
        ..RoomFlags::default()
    };
    let e = rooms::create_with(&app.app, a.id as i32, new_room(), &bad)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("showRead"), "{e}");

    // …and without them the reference defaults apply.
    let v = add(&app, &a, &[], &[]).await;
    let d = ok(&v);
    assert_eq!(d["maxUserSize"], 1000);
    for (flag, want) in FLAGS.iter().zip([1, 1, 0, 0, 1, 1, 1, 1, 1, 1]) {
        assert_eq!(d[*flag], want, "{flag}: {d}");
    }

    // -1 lifts the bound of /room/update maxUserSize.
    let room_id = d["id"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("maxUserSize", "5000")],
    )
    .await;
    ok(&v);
    let got = call(&app, "/room/get", &a, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&got)["maxUserSize"], 5000);
}

#[tokio::test]
async fn capacity_follows_max_user_size() {
    let app = common::spawn_with(|c| c.rooms.max_user_size = 3).await;
    let a = user(&app, "13200000031", "a").await;
    let b = user(&app, "13200000032", "b").await;
    let c = user(&app, "13200000033", "c").await;
    let d = user(&app, "13200000034", "d").await;
    let e = user(&app, "13200000035", "e").await;

    // Creation: the owner plus three is one too many.
    refused(
        &add(&app, &a, &[&b, &c, &d], &[]).await,
        "当前群成员人数上限3",
    );

    // Owner plus one fits; then one more fits, a second does not.
    let v = add(&app, &a, &[&b], &[]).await;
    let room = ok(&v).clone();
    assert_eq!(room["maxUserSize"], 3);
    let room_id = room["id"].as_str().unwrap().to_string();
    let two = serde_json::to_string(&[c.id, d.id]).unwrap();
    refused(
        &call(
            &app,
            "/room/member/update",
            &a,
            &[("roomId", &room_id), ("text", &two)],
        )
        .await,
        "群人数快到上限  最多还可以邀请  1人",
    );
    let one = serde_json::to_string(&[c.id]).unwrap();
    ok(&call(
        &app,
        "/room/member/update",
        &a,
        &[("roomId", &room_id), ("text", &one)],
    )
    .await);
    let full = serde_json::to_string(&[e.id]).unwrap();
    refused(
        &call(
            &app,
            "/room/member/update",
            &a,
            &[("roomId", &room_id), ("text", &full)],
        )
        .await,
        "群人数快到上限  最多还可以邀请  0人",
    );

    // /room/update may not raise the size above the configured one.
    refused(
        &call(
            &app,
            "/room/update",
            &a,
            &[("roomId", &room_id), ("maxUserSize", "4")],
        )
        .await,
        "当前群成员人数上限3",
    );
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("maxUserSize", "3")],
    )
    .await);
}

/// The same rule over HTTP: `/room/add` reads the client's flags, used where the configuration
/// says -1 and ignored elsewhere.
#[tokio::test]
async fn room_add_reads_the_client_flags() {
    let app = common::spawn_with(|c| {
        c.rooms.is_look = -1;
        c.rooms.show_read = -1;
    })
    .await;
    let a = user(&app, "13200000031", "a").await;
    let v = add(
        &app,
        &a,
        &[],
        &[("isLook", "0"), ("showRead", "1"), ("isNeedVerify", "1")],
    )
    .await;
    let d = ok(&v);
    assert_eq!(d["isLook"], 0, "client value where config is -1: {d}");
    assert_eq!(d["showRead"], 1, "{d}");
    assert_eq!(d["isNeedVerify"], 0, "configured value wins: {d}");
    let bad = add(&app, &a, &[], &[("isLook", "x")]).await;
    assert_eq!(bad["resultCode"], 1010101, "{bad}");
}
