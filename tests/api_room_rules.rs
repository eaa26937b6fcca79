//! The room rules of spec/reference-server.md 3.4 and the notifications of 6.3 that
//! `api_rooms.rs` does not already pin down, each asserted over HTTP with the exact
//! `resultCode`/`resultMsg`: outsiders on every endpoint that takes a roomId (nothing read,
//! nothing changed), malformed ids, locking (`s`), roles 4/5 on `/room/update`,
//! `allowInviteFriend` / `allowUploadFile`, who may kick or edit whom, the single/group routing
//! and bodies of 401/402/903/904/907/913/925/930, and `/tigase/delLastChatList` for a room.

mod common;

use serde_json::{json, Map, Value};
use shiku_server::domain::messages::{self, Outgoing, Target};
use shiku_server::domain::util::uuid32;
use shiku_server::store::Patch;

use common::{ok, refused, user, TestApp, TestUser as U};

const NOT_MEMBER: &str = "不是群成员 权限不足!";

/// An endpoint, its parameters besides `roomId`, and the refusal an outsider gets.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str())];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

/// A room made by `owner` with `members`; returns (roomId, jid).
async fn room(app: &TestApp, owner: &U, name: &str, members: &[&U]) -> (String, String) {
    let jid = uuid32();
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let text = serde_json::to_string(&ids).unwrap();
    let v = call(
        app,
        "/room/add",
        owner,
        &[("jid", &jid), ("name", name), ("text", &text)],
    )
    .await;
    (ok(&v)["id"].as_str().unwrap().to_string(), jid)
}

/// The room's history as `me` reads it, newest first.
async fn muc(app: &TestApp, me: &U, jid: &str) -> Vec<Value> {
    let v = call(
        app,
        "/tigase/shiku_muc_msgs",
        me,
        &[("roomId", jid), ("pageSize", "5000")],
    )
    .await;
    ok(&v).as_array().unwrap().clone()
}

fn body(row: &Value) -> Value {
    serde_json::from_str(row["message"].as_str().unwrap()).unwrap()
}

/// Bodies of the notifications of type `t` waiting in a user's offline queue.
async fn queued_of(app: &TestApp, uid: i64, t: i64) -> Vec<Value> {
    messages::offline_queue(&app.app, uid as i32, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, d)| serde_json::from_str::<Value>(&d.body).unwrap())
        .filter(|b| b["type"] == t)
        .collect()
}

async fn send_text(app: &TestApp, from: &U, jid: &str, text: &str) -> String {
    let mut b = Map::new();
    b.insert("type".into(), json!(1));
    b.insert("content".into(), json!(text));
    messages::send(
        &app.app,
        Outgoing {
            from: from.id as i32,
            resource: "web".into(),
            target: Target::Room(jid.to_string()),
            body: b,
            origin: None,
        },
    )
    .await
    .expect("group message sent")
    .message_id
}

async fn lock(app: &TestApp, room_id: &str, s: i32) {
    app.app
        .store
        .rooms
        .update_room(room_id, &Patch::new().set("s", s))
        .await
        .unwrap();
}

async fn share(app: &TestApp, who: &U, room_id: &str, name: &str) -> Value {
    call(
        app,
        "/room/add/share",
        who,
        &[
            ("roomId", room_id),
            ("type", "9"),
            ("size", "2048"),
            ("userId", &who.sid()),
            ("url", "http://files/x"),
            ("name", name),
        ],
    )
    .await
}

/// Everything an outsider could have read or changed, as the owner sees it.
async fn snapshot(app: &TestApp, owner: &U, room_id: &str, jid: &str) -> Value {
    let mut room = ok(&call(app, "/room/get", owner, &[("roomId", room_id)]).await).clone();
    room.as_object_mut().unwrap().remove("member");
    let members = ok(&call(app, "/room/member/list", owner, &[("roomId", room_id)]).await).clone();
    let shares = ok(&call(app, "/room/share/find", owner, &[("roomId", room_id)]).await).clone();
    let history: Vec<Value> = muc(app, owner, jid)
        .await
        .iter()
        .map(|r| r["messageId"].clone())
        .collect();
    json!({"room": room, "members": members, "shares": shares, "history": history})
}

#[tokio::test]
async fn outsiders_neither_read_nor_change_a_room() {
    let app = common::spawn().await;
    let a = user(&app, "13200000001", "owner").await;
    let b = user(&app, "13200000002", "bee").await;
    let x = user(&app, "13200000003", "outsider").await;
    let (room_id, jid) = room(&app, &a, "private", &[&b]).await;
    let v = call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("notice", "公告")],
    )
    .await;
    let notice_id = ok(&v)["noticeId"].as_str().unwrap().to_string();
    let v = share(&app, &b, &room_id, "a.txt").await;
    let share_id = ok(&v)["shareId"].as_str().unwrap().to_string();
    let m = send_text(&app, &b, &jid, "secret").await;
    let before = snapshot(&app, &a, &room_id, &jid).await;

    let (bs, xs) = (b.sid(), x.sid());
    let text = format!("[{xs}]");
    let cases: Vec<Case> = vec![
        ("/room/get", vec![], NOT_MEMBER),
        ("/room/getRoom", vec![], NOT_MEMBER),
        ("/room/update", vec![("roomName", "hijacked")], NOT_MEMBER),
        ("/room/update", vec![("talkTime", "4102444800")], NOT_MEMBER),
        ("/room/delete", vec![], "权限不足!"),
        (
            "/room/transfer",
            vec![("toUserId", &bs)],
            "你不是群主 不能申请转让群",
        ),
        (
            "/room/join",
            vec![],
            "该群组不是公开群，需要群成员邀请才能加入",
        ),
        ("/room/leave", vec![], "权限不足"),
        ("/room/member/update", vec![("text", &text)], NOT_MEMBER),
        (
            "/room/member/update",
            vec![("userId", &bs), ("remarkName", "r")],
            NOT_MEMBER,
        ),
        (
            "/room/member/update",
            vec![("userId", &bs), ("talkTime", "4102444800")],
            NOT_MEMBER,
        ),
        ("/room/member/delete", vec![("userId", &bs)], "权限不足"),
        ("/room/member/list", vec![], "权限不足"),
        ("/room/member/get", vec![("userId", &bs)], NOT_MEMBER),
        (
            "/room/member/setOfflineNoPushMsg",
            vec![("userId", "0"), ("offlineNoPushMsg", "1")],
            NOT_MEMBER,
        ),
        (
            "/room/set/admin",
            vec![("touserId", &bs), ("type", "2")],
            "只有群主才可以设置或取消管理员",
        ),
        (
            "/room/setInvisibleGuardian",
            vec![("touserId", &bs), ("type", "4")],
            "权限不足",
        ),
        ("/room/noticesPage", vec![], NOT_MEMBER),
        ("/room/notice/list", vec![], NOT_MEMBER),
        (
            "/room/notice/delete",
            vec![("noticeId", &notice_id)],
            NOT_MEMBER,
        ),
        (
            "/room/updateNotice",
            vec![("noticeId", &notice_id), ("noticeContent", "x")],
            NOT_MEMBER,
        ),
        (
            "/room/add/share",
            vec![
                ("type", "1"),
                ("size", "1"),
                ("userId", &xs),
                ("url", "u"),
                ("name", "n"),
            ],
            NOT_MEMBER,
        ),
        ("/room/share/find", vec![], NOT_MEMBER),
        ("/room/share/get", vec![("shareId", &share_id)], NOT_MEMBER),
        (
            "/room/share/delete",
            vec![("shareId", &share_id), ("userId", &xs)],
            NOT_MEMBER,
        ),
        ("/room/copyRoom", vec![], NOT_MEMBER),
        ("/room/get/call", vec![], NOT_MEMBER),
    ];
    for (path, extra, msg) in &cases {
        let mut pairs = vec![("roomId", room_id.as_str())];
        pairs.extend_from_slice(extra);
        let v = call(&app, path, &x, &pairs).await;
        assert_eq!(v["resultCode"], 0, "{path}: {v}");
        assert_eq!(v["resultMsg"], *msg, "{path}: {v}");
        assert!(v.get("data").is_none(), "{path}: {v}");
    }
    // The room's messages, by jid.
    for (path, pairs) in [
        ("/tigase/shiku_muc_msgs", vec![("roomId", jid.as_str())]),
        (
            "/tigase/getMessage",
            vec![("type", "2"), ("roomJid", &jid), ("messageId", &m)],
        ),
        (
            "/tigase/deleteMsg",
            vec![
                ("type", "2"),
                ("roomJid", &jid),
                ("messageId", &m),
                ("delete", "2"),
            ],
        ),
        (
            "/tigase/delLastChatList",
            vec![("jid", jid.as_str()), ("isRoom", "1")],
        ),
    ] {
        let v = call(&app, path, &x, &pairs).await;
        refused(&v, NOT_MEMBER);
    }
    // The outsider learnt nothing and changed nothing.
    assert_eq!(snapshot(&app, &a, &room_id, &jid).await, before);
    assert!(queued_of(&app, b.id, 904).await.is_empty());
    let v = call(&app, "/room/list/his", &x, &[]).await;
    assert!(v.get("data").is_none(), "{v}");
    let v = call(&app, "/tigase/search", &x, &[("content", "secret")]).await;
    assert_eq!(ok(&v)["mucmsgs"], json!([]));

    // Malformed ids and a missing roomId are parameter errors (1010101, never an internal
    // error); neither panics.
    for (path, extra, _) in &cases {
        for (id, code, msg) in [
            ("not-an-id", 1010101, None),
            ("60332a72d656fd634b20f20a60332a72d656fd63", 1010101, None),
            ("60332a72d656fd634b20f20a", 0, Some("群组不存在！")),
        ] {
            let mut pairs = vec![("roomId", id)];
            pairs.extend_from_slice(extra);
            let v = call(&app, path, &a, &pairs).await;
            assert_eq!(v["resultCode"], code, "{path}: {v}");
            if let Some(msg) = msg {
                assert_eq!(v["resultMsg"], msg, "{path}: {v}");
            }
        }
    }
    refused(
        &call(&app, "/room/notice/delete", &a, &[("noticeId", &notice_id)]).await,
        "非法参数错误 null ",
    );
    refused(
        &call(
            &app,
            "/room/updateNotice",
            &a,
            &[("noticeId", &notice_id), ("noticeContent", "x")],
        )
        .await,
        "参数有误",
    );
    for path in ["/room/get", "/room/member/list", "/room/delete"] {
        let v = call(&app, path, &a, &[]).await;
        assert_eq!(v["resultCode"], 1010101, "{path}: {v}");
    }
    assert_eq!(snapshot(&app, &a, &room_id, &jid).await, before);
}

#[tokio::test]
async fn locking_is_the_consoles_and_a_locked_room_refuses_changes() {
    let app = common::spawn().await;
    let a = user(&app, "13200000011", "owner").await;
    let b = user(&app, "13200000012", "bee").await;
    let c = user(&app, "13200000013", "cee").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b]).await;
    let rows = muc(&app, &a, &jid).await.len();
    // Neither the owner nor anybody else sets `s` through /room/update: "权限不足", nothing
    // written, no 931.
    for s in ["-1", "1"] {
        refused(
            &call(&app, "/room/update", &a, &[("roomId", &room_id), ("s", s)]).await,
            "权限不足",
        );
    }
    let v = call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("s", "5")],
    )
    .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert_eq!(muc(&app, &a, &jid).await.len(), rows);
    assert!(queued_of(&app, b.id, 931).await.is_empty());
    assert_eq!(
        ok(&call(&app, "/room/get", &a, &[("roomId", &room_id)]).await)["s"],
        1
    );

    // Locked (by the console): reads and changes are refused with the reference's texts.
    let v = share(&app, &b, &room_id, "f.txt").await;
    let share_id = ok(&v)["shareId"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("notice", "n")],
    )
    .await;
    let notice_id = ok(&v)["noticeId"].as_str().unwrap().to_string();
    lock(&app, &room_id, -1).await;
    let (bs, cs) = (b.sid(), c.sid());
    let text = format!("[{cs}]");
    for (path, who, extra, msg) in [
        (
            "/room/update",
            &a,
            vec![("roomName", "x")],
            "该群组已被后台锁定",
        ),
        (
            "/room/transfer",
            &a,
            vec![("toUserId", bs.as_str())],
            "该群组已被后台锁定",
        ),
        ("/room/get", &b, vec![], "该群组已被锁定！"),
        ("/room/join", &c, vec![], "该群组已被锁定！"),
        (
            "/room/member/update",
            &a,
            vec![("text", text.as_str())],
            "该群组已被锁定！",
        ),
        (
            "/room/member/update",
            &b,
            vec![("userId", bs.as_str()), ("nickname", "n")],
            "该群组已被锁定！",
        ),
        (
            "/room/member/delete",
            &a,
            vec![("userId", bs.as_str())],
            "该群已经被锁定！",
        ),
        ("/room/leave", &b, vec![], "该群已经被锁定！"),
        (
            "/room/set/admin",
            &a,
            vec![("touserId", bs.as_str()), ("type", "2")],
            "该群组已被锁定！",
        ),
        (
            "/room/setInvisibleGuardian",
            &a,
            vec![("touserId", bs.as_str()), ("type", "4")],
            "该群组已被锁定！",
        ),
        (
            "/room/notice/delete",
            &a,
            vec![("noticeId", notice_id.as_str())],
            "该群组已被锁定！",
        ),
        (
            "/room/updateNotice",
            &a,
            vec![("noticeId", notice_id.as_str()), ("noticeContent", "x")],
            "该群组已被锁定！",
        ),
        (
            "/room/add/share",
            &b,
            vec![
                ("type", "1"),
                ("size", "1"),
                ("userId", bs.as_str()),
                ("url", "u"),
                ("name", "n"),
            ],
            "该群组已被锁定！",
        ),
        (
            "/room/share/delete",
            &a,
            vec![("shareId", share_id.as_str()), ("userId", "0")],
            "该群组已被锁定！",
        ),
    ] {
        let mut pairs = vec![("roomId", room_id.as_str())];
        pairs.extend_from_slice(&extra);
        let v = call(&app, path, who, &pairs).await;
        assert_eq!(v["resultCode"], 0, "{path}: {v}");
        assert_eq!(v["resultMsg"], msg, "{path}: {v}");
    }
    // A locked room is not among my rooms and takes no messages.
    let v = call(&app, "/room/list/his", &b, &[]).await;
    assert!(v.get("data").is_none(), "{v}");
    let mut body = Map::new();
    body.insert("type".into(), json!(1));
    body.insert("content".into(), json!("x"));
    let sent = messages::send(
        &app.app,
        Outgoing {
            from: b.id as i32,
            resource: "web".into(),
            target: Target::Room(jid.clone()),
            body,
            origin: None,
        },
    )
    .await;
    assert_eq!(sent.unwrap_err().to_string(), "该群组已被锁定！");
    // Unlocked again, everything works.
    lock(&app, &room_id, 1).await;
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("roomName", "x")],
    )
    .await);
}

#[tokio::test]
async fn update_is_refused_to_ordinary_members_only() {
    let app = common::spawn().await;
    let a = user(&app, "13200000021", "owner").await;
    let b = user(&app, "13200000022", "admin").await;
    let c = user(&app, "13200000023", "ghost").await;
    let d = user(&app, "13200000024", "guard").await;
    let e = user(&app, "13200000025", "plain").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b, &c, &d, &e]).await;
    ok(&call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("touserId", &b.sid()), ("type", "2")],
    )
    .await);
    for (who, t) in [(&c, "4"), (&d, "5")] {
        ok(&call(
            &app,
            "/room/setInvisibleGuardian",
            &a,
            &[("roomId", &room_id), ("touserId", &who.sid()), ("type", t)],
        )
        .await);
    }
    // Roles 1, 2, 4 and 5 pass the reference's check (role ≠ 3); each change is a 902 from
    // the acting member.
    for (who, name) in [(&a, "n1"), (&b, "n2"), (&c, "n3"), (&d, "n4")] {
        ok(&call(
            &app,
            "/room/update",
            who,
            &[("roomId", &room_id), ("roomName", name)],
        )
        .await);
        let r = &muc(&app, &a, &jid).await[0];
        assert_eq!(r["contentType"], 902);
        assert_eq!(r["content"], name);
        assert_eq!(r["sender"], who.sid());
        assert_eq!(body(r)["fromUserId"], who.sid());
        assert_eq!(body(r)["objectId"], jid.as_str());
    }
    refused(
        &call(
            &app,
            "/room/update",
            &e,
            &[("roomId", &room_id), ("roomName", "mine")],
        )
        .await,
        "权限不足",
    );
    // Posting a notice as an ordinary member is refused before anything is written.
    refused(
        &call(
            &app,
            "/room/update",
            &e,
            &[("roomId", &room_id), ("notice", "mine")],
        )
        .await,
        "权限不足",
    );
    let v = call(&app, "/room/notice/list", &e, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v), &json!([]));
    // A same-name change falls through to nothing: no row, success.
    let n = muc(&app, &a, &jid).await.len();
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("roomName", "n4")],
    )
    .await);
    assert_eq!(muc(&app, &a, &jid).await.len(), n);
    // 916 / 917 carry the value as a string, from the actor, into the room only.
    ok(&call(
        &app,
        "/room/update",
        &b,
        &[("roomId", &room_id), ("isNeedVerify", "1")],
    )
    .await);
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(
        (r["contentType"].clone(), r["content"].clone()),
        (json!(916), json!("1"))
    );
    assert!(queued_of(&app, e.id, 916).await.is_empty());
}

#[tokio::test]
async fn invite_rules_verification_allow_invite_friend_and_the_907_body() {
    let app = common::spawn().await;
    let a = user(&app, "13200000031", "owner").await;
    let b = user(&app, "13200000032", "admin").await;
    let c = user(&app, "13200000033", "member").await;
    let d = user(&app, "13200000034", "d").await;
    let e = user(&app, "13200000035", "e").await;
    let f = user(&app, "13200000036", "f").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b, &c]).await;
    ok(&call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("touserId", &b.sid()), ("type", "2")],
    )
    .await);
    let invite = |who: &U, ids: &[&U]| {
        let text = serde_json::to_string(&ids.iter().map(|u| u.id).collect::<Vec<_>>()).unwrap();
        let (app, who, room_id) = (&app, who.clone(), room_id.clone());
        async move {
            call(
                app,
                "/room/member/update",
                &who,
                &[("roomId", &room_id), ("text", &text)],
            )
            .await
        }
    };
    // allowInviteFriend 0: ordinary members may not invite; admins and the owner may.
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("allowInviteFriend", "0")],
    )
    .await);
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(
        (r["contentType"].clone(), r["content"].clone()),
        (json!(921), json!("0"))
    );
    refused(
        &invite(&c, &[&d, &e]).await,
        "群主已关闭普通成员邀请好友功能",
    );
    // (A single invitee must be the inviter's friend unless the owner invites.)
    refused(&invite(&b, &[&d]).await, "不是好友不能邀请!");
    ok(&invite(&b, &[&d, &f]).await);
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("allowInviteFriend", "1")],
    )
    .await);
    // isNeedVerify 1: only the owner invites (an admin neither).
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("isNeedVerify", "1")],
    )
    .await);
    refused(&invite(&b, &[&e, &f]).await, "邀请群成员 需要群主同意!");
    refused(&invite(&c, &[&e, &f]).await, "邀请群成员 需要群主同意!");
    ok(&invite(&a, &[&e]).await);
    // The 907 of an invitation: single to the new member and into the room, one messageId,
    // content = room name, fileName = roomId, fileSize = showRead, other = settings.
    let single = queued_of(&app, e.id, 907).await;
    assert_eq!(single.len(), 1);
    let row = muc(&app, &a, &jid)
        .await
        .into_iter()
        .find(|r| r["messageId"] == single[0]["messageId"])
        .expect("group row with the single's messageId");
    let m = body(&row);
    assert_eq!(m["type"], 907);
    assert_eq!(m["content"], "g");
    assert_eq!(m["objectId"], jid.as_str());
    assert_eq!(m["fileName"], room_id.as_str());
    assert_eq!(m["fileSize"], 0);
    assert_eq!(m["fromUserId"], a.sid());
    assert_eq!(m["fromUserName"], "owner");
    assert_eq!(m["toUserId"], e.sid());
    assert_eq!(m["toUserName"], "e");
    let other: Value = serde_json::from_str(m["other"].as_str().unwrap()).unwrap();
    for (k, want) in [
        ("lsLook", 1),
        ("isNeedVerify", 1),
        ("showMember", 1),
        ("allowSendCard", 1),
        ("showRead", 0),
        ("maxUserSize", 1000),
    ] {
        assert_eq!(other[k], want, "{k}: {other}");
    }
    assert_eq!(single[0]["content"], "g");
    assert_eq!(single[0]["toUserId"], e.sid());
    // Nothing for users who were already members.
    assert_eq!(queued_of(&app, c.id, 907).await.len(), 1);
    let v = call(&app, "/room/get", &a, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v)["userSize"], 6);
}

#[tokio::test]
async fn join_capacity_and_the_907_of_joining() {
    let app = common::spawn().await;
    let a = user(&app, "13200000041", "owner").await;
    let b = user(&app, "13200000042", "b").await;
    let x = user(&app, "13200000043", "x").await;
    let y = user(&app, "13200000044", "y").await;
    let (room_id, jid) = room(&app, &a, "open", &[]).await;
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("isLook", "0")],
    )
    .await);
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("maxUserSize", "2")],
    )
    .await);
    ok(&call(&app, "/room/join", &x, &[("roomId", &room_id)]).await);
    let single = queued_of(&app, x.id, 907).await;
    assert_eq!(single.len(), 1);
    assert_eq!(single[0]["fromUserId"], x.sid());
    assert_eq!(single[0]["toUserId"], x.sid());
    let r = &muc(&app, &x, &jid).await[0];
    assert_eq!(r["messageId"], single[0]["messageId"]);
    refused(
        &call(&app, "/room/join", &y, &[("roomId", &room_id)]).await,
        "超过房间最大人数，加入房间失败",
    );
    refused(
        &call(
            &app,
            "/room/member/update",
            &a,
            &[
                ("roomId", &room_id),
                ("text", &format!("[{},{}]", b.id, y.id)),
            ],
        )
        .await,
        "群人数快到上限  最多还可以邀请  0人",
    );
    let v = call(&app, "/room/member/list", &a, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn who_may_kick_and_edit_whom() {
    let app = common::spawn().await;
    let a = user(&app, "13200000051", "owner").await;
    let b = user(&app, "13200000052", "admin").await;
    let c = user(&app, "13200000053", "admin2").await;
    let g = user(&app, "13200000054", "ghost").await;
    let m = user(&app, "13200000055", "guard").await;
    let p = user(&app, "13200000056", "plain").await;
    let q = user(&app, "13200000057", "plain2").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b, &c, &g, &m, &p, &q]).await;
    for who in [&b, &c] {
        ok(&call(
            &app,
            "/room/set/admin",
            &a,
            &[
                ("roomId", &room_id),
                ("touserId", &who.sid()),
                ("type", "2"),
            ],
        )
        .await);
    }
    for (who, t) in [(&g, "4"), (&m, "5")] {
        ok(&call(
            &app,
            "/room/setInvisibleGuardian",
            &a,
            &[("roomId", &room_id), ("touserId", &who.sid()), ("type", t)],
        )
        .await);
    }
    let kick = |who: &U, target: &U| {
        let (app, who, room_id, t) = (&app, who.clone(), room_id.clone(), target.sid());
        async move {
            call(
                app,
                "/room/member/delete",
                &who,
                &[("roomId", &room_id), ("userId", &t)],
            )
            .await
        }
    };
    let edit = |who: &U, pairs: Vec<(&'static str, String)>| {
        let (app, who, room_id) = (&app, who.clone(), room_id.clone());
        async move {
            let mut all: Vec<(&str, &str)> = vec![("roomId", room_id.as_str())];
            for (k, v) in &pairs {
                all.push((k, v.as_str()));
            }
            call(app, "/room/member/update", &who, &all).await
        }
    };
    // Admins kick neither admins nor invisible members nor guardians; members nobody; the
    // owner is never kicked; invisible and guardian members kick nobody.
    let admin_no = "管理员不能踢出管理员、隐身人或监控人";
    refused(&kick(&b, &c).await, admin_no);
    refused(&kick(&b, &g).await, admin_no);
    refused(&kick(&b, &m).await, admin_no);
    refused(&kick(&p, &q).await, "权限不足");
    refused(&kick(&g, &p).await, "权限不足");
    refused(&kick(&m, &p).await, "权限不足");
    refused(&kick(&b, &a).await, "不能移出群主");
    // Editing: an admin edits neither another admin nor the owner; a member nobody else; the
    // owner cannot be muted, not even by the owner.
    refused(
        &edit(&b, vec![("userId", c.sid()), ("remarkName", "r".into())]).await,
        "权限不足",
    );
    refused(
        &edit(&b, vec![("userId", a.sid()), ("remarkName", "r".into())]).await,
        "权限不足",
    );
    refused(
        &edit(
            &p,
            vec![("userId", q.sid()), ("talkTime", "4102444800".into())],
        )
        .await,
        "权限不足",
    );
    refused(
        &edit(
            &a,
            vec![("userId", a.sid()), ("talkTime", "4102444800".into())],
        )
        .await,
        "不能禁言群主",
    );
    refused(
        &edit(
            &p,
            vec![("userId", p.sid()), ("talkTime", "4102444800".into())],
        )
        .await,
        "权限不足",
    );
    // Roles change only by the owner.
    refused(
        &edit(&b, vec![("userId", p.sid()), ("role", "2".into())]).await,
        "只有群主才可以设置或取消管理员",
    );
    ok(&edit(&a, vec![("userId", p.sid()), ("role", "2".into())]).await);
    let v = call(
        &app,
        "/room/member/get",
        &q,
        &[("roomId", &room_id), ("userId", &p.sid())],
    )
    .await;
    assert_eq!(ok(&v)["role"], 2);
    // A member sets their own remark (no notification).
    let n = muc(&app, &a, &jid).await.len();
    ok(&edit(
        &q,
        vec![("userId", "0".into()), ("remarkName", "me".into())],
    )
    .await);
    assert_eq!(muc(&app, &a, &jid).await.len(), n);
    // The owner kicks an admin: 904 single (to the admin) + group, one messageId.
    ok(&kick(&a, &c).await);
    let single = queued_of(&app, c.id, 904).await;
    assert_eq!(single.len(), 1);
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(r["messageId"], single[0]["messageId"]);
    let mb = body(r);
    assert_eq!(mb["type"], 904);
    assert_eq!(mb["content"], "g");
    assert_eq!(mb["fromUserId"], a.sid());
    assert_eq!(mb["toUserId"], c.sid());
    assert_eq!(mb["objectId"], jid.as_str());
    // An admin kicks an ordinary member; a member leaves (from = to = the member).
    ok(&kick(&b, &q).await);
    ok(&call(&app, "/room/leave", &g, &[("roomId", &room_id)]).await);
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(body(r)["fromUserId"], g.sid());
    assert_eq!(body(r)["toUserId"], g.sid());
    let v = call(&app, "/room/get", &a, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v)["userSize"], 4);
    // The removed cannot act any more.
    refused(
        &call(&app, "/room/member/list", &q, &[("roomId", &room_id)]).await,
        "权限不足",
    );
}

#[tokio::test]
async fn admins_guardians_transfer_and_dissolution_notifications() {
    let app = common::spawn().await;
    let a = user(&app, "13200000061", "owner").await;
    let b = user(&app, "13200000062", "bee").await;
    let c = user(&app, "13200000063", "cee").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b, &c]).await;
    let admin = |t: &str, to: &U| {
        let (app, a, room_id, to, t) = (&app, a.clone(), room_id.clone(), to.sid(), t.to_string());
        async move {
            call(
                app,
                "/room/set/admin",
                &a,
                &[("roomId", &room_id), ("touserId", &to), ("type", &t)],
            )
            .await
        }
    };
    // 913: single (target) + group, one messageId, content 1 / 0.
    ok(&admin("2", &b).await);
    let single = queued_of(&app, b.id, 913).await;
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(r["messageId"], single[0]["messageId"]);
    assert_eq!(body(r)["content"], "1");
    assert_eq!(body(r)["toUserId"], b.sid());
    ok(&admin("3", &b).await);
    assert_eq!(muc(&app, &a, &jid).await[0]["content"], "0");
    assert_eq!(admin("7", &b).await["resultCode"], 1010101);
    let v = call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("type", "2")],
    )
    .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // 930 is single only: nothing in the room's history.
    let n = muc(&app, &a, &jid).await.len();
    ok(&call(
        &app,
        "/room/setInvisibleGuardian",
        &a,
        &[("roomId", &room_id), ("touserId", &c.sid()), ("type", "5")],
    )
    .await);
    assert_eq!(muc(&app, &a, &jid).await.len(), n);
    let g = queued_of(&app, c.id, 930).await;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0]["content"], "2");
    assert_eq!(g[0]["objectId"], jid.as_str());
    refused(
        &call(
            &app,
            "/room/setInvisibleGuardian",
            &a,
            &[("roomId", &room_id), ("touserId", &a.sid()), ("type", "4")],
        )
        .await,
        "权限不足",
    );
    let v = call(
        &app,
        "/room/setInvisibleGuardian",
        &a,
        &[("roomId", &room_id), ("touserId", &c.sid()), ("type", "9")],
    )
    .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // 925: single (new owner) + group, one messageId; afterwards the old owner is a member.
    ok(&call(
        &app,
        "/room/transfer",
        &a,
        &[("roomId", &room_id), ("toUserId", &b.sid())],
    )
    .await);
    let single = queued_of(&app, b.id, 925).await;
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(r["messageId"], single[0]["messageId"]);
    assert_eq!(body(r)["toUserId"], b.sid());
    assert_eq!(body(r)["fromUserId"], a.sid());
    refused(
        &call(&app, "/room/delete", &a, &[("roomId", &room_id)]).await,
        "权限不足!",
    );
    refused(
        &call(
            &app,
            "/room/update",
            &a,
            &[("roomId", &room_id), ("roomName", "x")],
        )
        .await,
        "权限不足",
    );
    // 903: single to every member with one messageId, from the (new) owner; then nothing is
    // left to read.
    ok(&call(&app, "/room/delete", &b, &[("roomId", &room_id)]).await);
    let to_a = queued_of(&app, a.id, 903).await;
    let to_c = queued_of(&app, c.id, 903).await;
    assert_eq!(to_a.len(), 1);
    assert_eq!(to_a[0]["messageId"], to_c[0]["messageId"]);
    assert_eq!(to_a[0]["fromUserId"], b.sid());
    assert_eq!(to_a[0]["content"], "g");
    refused(
        &call(&app, "/tigase/shiku_muc_msgs", &a, &[("roomId", &jid)]).await,
        "群组不存在！",
    );
}

#[tokio::test]
async fn shares_allow_upload_file_and_401_402_bodies() {
    let app = common::spawn().await;
    let a = user(&app, "13200000071", "owner").await;
    let b = user(&app, "13200000072", "admin").await;
    let c = user(&app, "13200000073", "member").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b, &c]).await;
    ok(&call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("touserId", &b.sid()), ("type", "2")],
    )
    .await);
    // 401: content = shareId, fileName = name, objectId = jid, from the uploader.
    let v = share(&app, &c, &room_id, "report.pdf").await;
    let s = ok(&v).clone();
    let sid = s["shareId"].as_str().unwrap().to_string();
    assert_eq!(s["nickname"], "member");
    assert_eq!(s["size"], json!(2048.0));
    assert_eq!(s["type"], 9);
    let r = &muc(&app, &a, &jid).await[0];
    let m = body(r);
    assert_eq!(m["type"], 401);
    assert_eq!(m["content"], sid.as_str());
    assert_eq!(m["fileName"], "report.pdf");
    assert_eq!(m["objectId"], jid.as_str());
    assert_eq!(m["fromUserId"], c.sid());
    // allowUploadFile 0 (922): ordinary members may not share; admins may.
    ok(&call(
        &app,
        "/room/update",
        &a,
        &[("roomId", &room_id), ("allowUploadFile", "0")],
    )
    .await);
    let r = &muc(&app, &a, &jid).await[0];
    assert_eq!(
        (r["contentType"].clone(), r["content"].clone()),
        (json!(922), json!("0"))
    );
    refused(
        &share(&app, &c, &room_id, "x").await,
        "群主已关闭普通成员上传群文件功能",
    );
    ok(&share(&app, &b, &room_id, "y").await);
    // Members read the list and one share; an admin deletes: 402 with the same fields.
    let v = call(&app, "/room/share/find", &c, &[("roomId", &room_id)]).await;
    let names: Vec<&str> = ok(&v)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    refused(
        &call(
            &app,
            "/room/share/delete",
            &c,
            &[("roomId", &room_id), ("shareId", &sid), ("userId", "0")],
        )
        .await,
        "权限不足",
    );
    ok(&call(
        &app,
        "/room/share/delete",
        &b,
        &[("roomId", &room_id), ("shareId", &sid), ("userId", "0")],
    )
    .await);
    let r = &muc(&app, &a, &jid).await[0];
    let m = body(r);
    assert_eq!(m["type"], 402);
    assert_eq!(m["content"], sid.as_str());
    assert_eq!(m["fileName"], "report.pdf");
    assert_eq!(m["fromUserId"], b.sid());
    refused(
        &call(
            &app,
            "/room/share/get",
            &c,
            &[("roomId", &room_id), ("shareId", &sid)],
        )
        .await,
        "文件不存在",
    );
}

#[tokio::test]
async fn notice_edits_and_deletes() {
    let app = common::spawn().await;
    let a = user(&app, "13200000081", "owner").await;
    let b = user(&app, "13200000082", "admin").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b]).await;
    ok(&call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("touserId", &b.sid()), ("type", "2")],
    )
    .await);
    let post = |text: &str| {
        let (app, a, room_id, text) = (&app, a.clone(), room_id.clone(), text.to_string());
        async move {
            let v = call(
                app,
                "/room/update",
                &a,
                &[("roomId", &room_id), ("notice", &text)],
            )
            .await;
            ok(&v)["noticeId"].as_str().unwrap().to_string()
        }
    };
    let old = post("old").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let new = post("new").await;
    // 905 from the owner into the room.
    let r = &muc(&app, &b, &jid).await[0];
    assert_eq!(
        (r["contentType"].clone(), r["content"].clone()),
        (json!(905), json!("new"))
    );
    assert_eq!(body(r)["fromUserId"], a.sid());
    // An admin edits an older notice: 934; the room's latest notice stays the newer one.
    let v = call(
        &app,
        "/room/updateNotice",
        &b,
        &[
            ("roomId", &room_id),
            ("noticeId", &old),
            ("noticeContent", "old, edited"),
        ],
    )
    .await;
    assert_eq!(ok(&v)["text"], "old, edited");
    assert_eq!(ok(&v)["id"], old.as_str());
    let r = &muc(&app, &b, &jid).await[0];
    assert_eq!(
        (r["contentType"].clone(), r["content"].clone()),
        (json!(934), json!("old, edited"))
    );
    assert_eq!(body(r)["fromUserId"], b.sid());
    let v = call(&app, "/room/get", &b, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v)["notice"]["text"], "new");
    // Deleting sends nothing; an unknown notice is refused.
    let n = muc(&app, &b, &jid).await.len();
    ok(&call(
        &app,
        "/room/notice/delete",
        &b,
        &[("roomId", &room_id), ("noticeId", &old)],
    )
    .await);
    assert_eq!(muc(&app, &b, &jid).await.len(), n);
    refused(
        &call(
            &app,
            "/room/notice/delete",
            &b,
            &[("roomId", &room_id), ("noticeId", &old)],
        )
        .await,
        "公告不存在",
    );
    refused(
        &call(
            &app,
            "/room/updateNotice",
            &b,
            &[
                ("roomId", &room_id),
                ("noticeId", &old),
                ("noticeContent", "x"),
            ],
        )
        .await,
        "公告不存在",
    );
    let v = call(&app, "/room/get", &b, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v)["notice"]["id"], new.as_str());
    let v = call(&app, "/room/notice/list", &b, &[("roomId", &room_id)]).await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn del_last_chat_list_hides_a_room_conversation_for_me_only() {
    let app = common::spawn().await;
    let a = user(&app, "13200000091", "a").await;
    let b = user(&app, "13200000092", "b").await;
    let (_, jid) = room(&app, &a, "g", &[&b]).await;
    let m1 = send_text(&app, &b, &jid, "one").await;
    let room_row = |v: &Value| {
        ok(v)
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["jid"] == jid.as_str())
            .cloned()
    };
    let v = call(&app, "/tigase/getLastChatList", &a, &[]).await;
    assert_eq!(room_row(&v).unwrap()["messageId"], m1.as_str());
    ok(&call(
        &app,
        "/tigase/delLastChatList",
        &a,
        &[("jid", &jid), ("isRoom", "1")],
    )
    .await);
    // Gone from my list and my history; the shared row and b's history stay.
    let v = call(&app, "/tigase/getLastChatList", &a, &[]).await;
    assert!(room_row(&v).is_none(), "{v}");
    assert!(muc(&app, &a, &jid).await.is_empty());
    let v = call(&app, "/tigase/getLastChatList", &b, &[]).await;
    assert_eq!(room_row(&v).unwrap()["messageId"], m1.as_str());
    assert!(muc(&app, &b, &jid)
        .await
        .iter()
        .any(|r| r["messageId"] == m1.as_str()));
    // A new message brings the conversation back, with only the new message.
    let m2 = send_text(&app, &b, &jid, "two").await;
    let v = call(&app, "/tigase/getLastChatList", &a, &[]).await;
    assert_eq!(room_row(&v).unwrap()["messageId"], m2.as_str());
    let rows = muc(&app, &a, &jid).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["messageId"], m2.as_str());
    // Unknown rooms, bad isRoom.
    refused(
        &call(
            &app,
            "/tigase/delLastChatList",
            &a,
            &[("jid", &uuid32()), ("isRoom", "1")],
        )
        .await,
        "群组不存在！",
    );
    let v = call(
        &app,
        "/tigase/delLastChatList",
        &a,
        &[("jid", &jid), ("isRoom", "2")],
    )
    .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
}

#[tokio::test]
async fn get_pages_members_by_my_role() {
    let app = common::spawn().await;
    let a = user(&app, "13200000101", "owner").await;
    let b = user(&app, "13200000102", "admin").await;
    let c = user(&app, "13200000103", "c").await;
    let d = user(&app, "13200000104", "d").await;
    let e = user(&app, "13200000105", "e").await;
    let (room_id, _) = room(&app, &a, "g", &[&b, &c, &d, &e]).await;
    ok(&call(
        &app,
        "/room/set/admin",
        &a,
        &[("roomId", &room_id), ("touserId", &b.sid()), ("type", "2")],
    )
    .await);
    let ids = |v: &Value| -> Vec<i64> {
        ok(v)["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["userId"].as_i64().unwrap())
            .collect()
    };
    let get = |who: &U, index: &str, size: &str| {
        let (app, who, room_id, index, size) = (
            &app,
            who.clone(),
            room_id.clone(),
            index.to_string(),
            size.to_string(),
        );
        async move {
            call(
                app,
                "/room/get",
                &who,
                &[
                    ("roomId", &room_id),
                    ("pageIndex", &index),
                    ("pageSize", &size),
                ],
            )
            .await
        }
    };
    // The owner: owner and admins first, then pageSize − #admins ordinary members per page,
    // at least one.
    assert_eq!(ids(&get(&a, "0", "3").await), vec![a.id, b.id, c.id]);
    assert_eq!(ids(&get(&a, "1", "3").await), vec![a.id, b.id, d.id]);
    assert_eq!(ids(&get(&a, "0", "2").await), vec![a.id, b.id, c.id]);
    assert_eq!(ids(&get(&a, "0", "500").await).len(), 5);
    // Others: members by role then join order, plainly paged.
    assert_eq!(ids(&get(&c, "0", "3").await), vec![a.id, b.id, c.id]);
    assert_eq!(ids(&get(&c, "1", "3").await), vec![d.id, e.id]);
    let v = get(&c, "0", "3").await;
    assert_eq!(ok(&v)["userSize"], 5);
    assert_eq!(ok(&v)["member"]["userId"], c.id);
    // Bad paging is the reference's 1010101, not a panic.
    for (index, size) in [("-1", "3"), ("0", "abc"), ("0", "-5")] {
        let v = get(&c, index, size).await;
        assert_eq!(v["resultCode"], 1010101, "{index}/{size}: {v}");
    }
}

#[tokio::test]
async fn bad_input_gets_a_shiku_refusal() {
    let app = common::spawn().await;
    let a = user(&app, "13200000111", "owner").await;
    let b = user(&app, "13200000112", "b").await;
    let (room_id, jid) = room(&app, &a, "g", &[&b]).await;
    let before = snapshot(&app, &a, &room_id, &jid).await;
    let long = "x".repeat(6000);
    for (path, extra) in [
        ("/room/update", vec![("chatRecordTimeOut", "inf")]),
        ("/room/update", vec![("chatRecordTimeOut", "-5")]),
        ("/room/update", vec![("talkTime", "soon")]),
        ("/room/update", vec![("maxUserSize", "many")]),
        ("/room/update", vec![("showRead", "2")]),
        ("/room/update", vec![("isLook", "9")]),
        ("/room/update", vec![("roomName", long.as_str())]),
        ("/room/update", vec![("notice", long.as_str())]),
        ("/room/member/update", vec![("text", "[abc]")]),
        ("/room/member/update", vec![("text", "[-1]")]),
        ("/room/member/update", vec![("text", "{}")]),
        ("/room/member/update", vec![("phones", "[[1]]")]),
        (
            "/room/member/update",
            vec![("userId", "abc"), ("remarkName", "r")],
        ),
        ("/room/member/update", vec![("userId", "0"), ("role", "9")]),
        ("/room/member/update", vec![("userId", "0"), ("sub", "7")]),
        ("/room/member/delete", vec![("userId", "abc")]),
        ("/room/member/delete", vec![]),
        ("/room/set/admin", vec![("touserId", "abc"), ("type", "2")]),
        (
            "/room/member/setOfflineNoPushMsg",
            vec![("userId", "0"), ("offlineNoPushMsg", "3")],
        ),
        (
            "/room/member/setOfflineNoPushMsg",
            vec![("userId", "0"), ("type", "3")],
        ),
        (
            "/room/add/share",
            vec![
                ("type", "1"),
                ("size", "big"),
                ("userId", "1"),
                ("url", "u"),
                ("name", "n"),
            ],
        ),
        ("/room/share/find", vec![("pageSize", "-1")]),
        ("/room/transfer", vec![("toUserId", "abc")]),
        ("/room/copyRoom", vec![("jid", "nope")]),
    ] {
        let mut pairs = vec![("roomId", room_id.as_str())];
        pairs.extend_from_slice(&extra);
        let v = call(&app, path, &a, &pairs).await;
        assert_eq!(v["resultCode"], 1010101, "{path} {extra:?}: {v}");
        assert!(
            v["resultMsg"].as_str().is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    assert_eq!(snapshot(&app, &a, &room_id, &jid).await, before);
}
