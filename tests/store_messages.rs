//! The message store suite (`MessageStore`), run against both adapters: the embedded SQLite
//! store always, MongoDB in both layouts when `SHIKU_TEST_MONGODB_URI` is set (it says it was
//! skipped otherwise).

mod common;

use std::sync::Arc;

use shiku_server::config::MessageLayout;
use shiku_server::documents::{LastChat, MsgRow, NewFriend, StickDialog};
use shiku_server::store::{ChatWrite, HistoryQuery, OfflineEntry, OfflineItem, Shared, Store};

use common::stores::{self, sqlite_in};

/// Users of the suite: A, B and D share the sharded layout's collection `10`, C is in `20`.
const A: i32 = 100164;
const B: i32 = 100102;
const C: i32 = 200001;
const D: i32 = 100200;

/// One message as the domain would store it.
#[derive(Clone)]
struct M {
    from: i32,
    to: i32,
    id: &'static str,
    ts: i64,
    content_type: i32,
    content: &'static str,
    delete_time: i64,
}

fn m(from: i32, to: i32, id: &'static str, ts: i64, content: &'static str) -> M {
    M {
        from,
        to,
        id,
        ts,
        content_type: 1,
        content,
        delete_time: 0,
    }
}

fn copy(msg: &M, owner: i32, peer: i32, direction: i32) -> MsgRow {
    let body = serde_json::json!({
        "content": msg.content, "type": msg.content_type, "messageId": msg.id,
        "fromUserId": msg.from.to_string(), "toUserId": msg.to.to_string(), "timeSend": msg.ts,
    })
    .to_string();
    MsgRow {
        id: None,
        message: body.clone(),
        body,
        direction,
        sender: owner.to_string(),
        receiver: peer.to_string(),
        sender_jid: format!("{}/web", msg.from),
        receiver_jid: msg.to.to_string(),
        ts: msg.ts,
        content_type: msg.content_type,
        message_id: msg.id.to_string(),
        time_send: msg.ts.into(),
        delete_time: msg.delete_time,
        // Unread on both sides, so that mark_read's effect on each copy shows.
        is_read: 0,
        is_encrypt: false,
        content: msg.content.to_string(),
    }
}

fn last(owner: i32, jid: &str, id: &str, ts: i64, content: &str) -> LastChat {
    LastChat {
        id: None,
        msg_type: 1,
        message_id: id.to_string(),
        time_send: ts.into(),
        content: content.to_string(),
        user_id: owner.to_string(),
        jid: jid.to_string(),
        is_room: 0,
        is_encrypt: false,
        encrypt_type: 0,
        from: format!("{owner}/web"),
        to: jid.to_string(),
        from_user_name: "n".into(),
        to_user_name: "m".into(),
        ts,
    }
}

fn room_last(jid: &str, sender: i32, ts: i64, content: &str) -> LastChat {
    LastChat {
        is_room: 1,
        ..last(sender, jid, &format!("{jid}-{ts}"), ts, content)
    }
}

/// The rows and conversation rows of a message (one of each for self-chat).
fn chat(msg: &M) -> ChatWrite {
    if msg.from == msg.to {
        return ChatWrite {
            rows: vec![copy(msg, msg.from, msg.to, 0)],
            last_chats: vec![last(
                msg.from,
                &msg.to.to_string(),
                msg.id,
                msg.ts,
                msg.content,
            )],
            offline: None,
        };
    }
    ChatWrite {
        rows: vec![
            copy(msg, msg.from, msg.to, 0),
            copy(msg, msg.to, msg.from, 1),
        ],
        last_chats: vec![
            last(msg.from, &msg.to.to_string(), msg.id, msg.ts, msg.content),
            last(msg.to, &msg.from.to_string(), msg.id, msg.ts, msg.content),
        ],
        offline: None,
    }
}

fn ids(rows: &[Arc<Shared<MsgRow>>]) -> Vec<&str> {
    rows.iter().map(|r| r.message_id.as_str()).collect()
}

fn jids(rows: &[Arc<Shared<LastChat>>]) -> Vec<&str> {
    rows.iter().map(|r| r.jid.as_str()).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn history(s: &Store, owner: i32, peer: i32) -> Vec<Arc<Shared<MsgRow>>> {
    s.messages
        .history(&HistoryQuery {
            owner,
            peer,
            limit: 1000,
            ..HistoryQuery::default()
        })
        .await
        .unwrap()
}

async fn is_read(s: &Store, owner: i32, id: &str) -> i32 {
    s.messages
        .find_copy(owner, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{owner} has no copy of {id}"))
        .is_read
}

/// Every `MessageStore` method, with exact expectations.
async fn run(store: Store) {
    let s = &store;
    let ms = &s.messages;

    // store_chat: both copies, then a resend answers false and writes nothing.
    let m1 = m(A, B, "m1", 1000, "你好世界");
    assert!(ms.store_chat(&chat(&m1)).await.unwrap());
    let mut resend = m1.clone();
    resend.content = "changed";
    resend.ts = 9000;
    assert!(!ms.store_chat(&chat(&resend)).await.unwrap());
    assert_eq!(ids(&history(s, A, B).await), ["m1"]);
    assert_eq!(ids(&history(s, B, A).await), ["m1"]);
    let lc = ms.get_last_chat(Some(A), "100102").await.unwrap().unwrap();
    assert_eq!((lc.content.as_str(), lc.ts), ("你好世界", 1000));

    let mut m2 = m(B, A, "m2", 2000, "图片");
    m2.content_type = 2;
    let mut m3 = m(A, B, "m3", 3000, "m1");
    m3.content_type = 202;
    for msg in [
        m2,
        m3,
        m(A, B, "m4", 4000, "50%_off a.b*c (价格)"),
        m(A, C, "m5", 2500, "to c"),
        m(A, A, "m6", 3500, "note to self"),
    ] {
        assert!(ms.store_chat(&chat(&msg)).await.unwrap(), "{}", msg.id);
    }

    // history: the owner's copies with the peer, newest first, both directions.
    let h = history(s, A, B).await;
    assert_eq!(ids(&h), ["m4", "m3", "m2", "m1"]);
    assert_eq!(
        h.iter().map(|r| r.direction).collect::<Vec<_>>(),
        [0, 0, 1, 0]
    );
    assert!(h
        .iter()
        .all(|r| r.sender == "100164" && r.receiver == "100102"));
    assert_eq!(h[2].sender_jid, "100102/web");
    for r in &h {
        let id = r.id.as_deref().expect("stored rows have an id");
        assert!(
            id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
    let h = history(s, B, A).await;
    assert_eq!(ids(&h), ["m4", "m3", "m2", "m1"]);
    assert_eq!(
        h.iter().map(|r| r.direction).collect::<Vec<_>>(),
        [1, 1, 0, 1]
    );
    assert!(h
        .iter()
        .all(|r| r.sender == "100102" && r.receiver == "100164"));
    let q = HistoryQuery {
        owner: A,
        peer: B,
        limit: 100,
        ..HistoryQuery::default()
    };
    let typed = HistoryQuery {
        max_type: Some(200),
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&typed).await.unwrap()), ["m4", "m2", "m1"]);
    let typed = HistoryQuery {
        max_type: Some(2),
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&typed).await.unwrap()), ["m4", "m1"]);
    let bounded = HistoryQuery {
        start_ms: Some(2000),
        end_ms: Some(3000),
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&bounded).await.unwrap()), ["m3", "m2"]);
    let from = HistoryQuery {
        start_ms: Some(3000),
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&from).await.unwrap()), ["m4", "m3"]);
    let until = HistoryQuery {
        end_ms: Some(1999),
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&until).await.unwrap()), ["m1"]);
    let page = HistoryQuery {
        skip: 1,
        limit: 2,
        ..q.clone()
    };
    assert_eq!(ids(&ms.history(&page).await.unwrap()), ["m3", "m2"]);
    let beyond = HistoryQuery { skip: 4, ..q };
    assert!(ms.history(&beyond).await.unwrap().is_empty());
    // Self-chat is a single row; other conversations stay apart.
    let own = history(s, A, A).await;
    assert_eq!(ids(&own), ["m6"]);
    assert_eq!(own[0].direction, 0);
    assert_eq!(ids(&history(s, A, C).await), ["m5"]);
    assert_eq!(ids(&history(s, C, A).await), ["m5"]);
    assert!(history(s, B, C).await.is_empty());

    // find_copy: the owner's own copy.
    let c = ms.find_copy(A, "m2").await.unwrap().unwrap();
    assert_eq!((c.direction, c.sender.as_str()), (1, "100164"));
    assert_eq!(c.content, "图片");
    let c = ms.find_copy(B, "m2").await.unwrap().unwrap();
    assert_eq!((c.direction, c.sender.as_str()), (0, "100102"));
    assert!(ms.find_copy(C, "m1").await.unwrap().is_none());
    assert!(ms.find_copy(A, "nope").await.unwrap().is_none());

    // mark_read: the reader's received copies and the matching sender copies, nothing else.
    let read = strings(&["m1", "m4", "m5", "unknown"]);
    let unread = |rows: &[Arc<Shared<MsgRow>>]| {
        rows.iter()
            .filter(|r| ["m1", "m4"].contains(&r.message_id.as_str()) && r.is_read == 0)
            .count()
    };
    assert_eq!(unread(&history(s, A, B).await), 2, "read just before");
    assert_eq!(ms.mark_read(B, &read).await.unwrap(), 4);
    // A page read again at once shows the receipt (a kept row follows its change).
    assert_eq!(unread(&history(s, A, B).await), 0);
    assert_eq!(unread(&history(s, B, A).await), 0);
    for (owner, id) in [(A, "m1"), (B, "m1"), (A, "m4"), (B, "m4")] {
        assert_eq!(is_read(s, owner, id).await, 1, "{owner} {id}");
    }
    // m5 is A's message to C: B reading it changes nothing.
    assert_eq!(is_read(s, A, "m5").await, 0);
    assert_eq!(is_read(s, C, "m5").await, 0);
    // Already read: nothing changes.
    assert_eq!(ms.mark_read(B, &read).await.unwrap(), 0);
    // B is the sender of m2: its own receipt touches neither copy.
    assert_eq!(ms.mark_read(B, &strings(&["m2"])).await.unwrap(), 0);
    assert_eq!(is_read(s, A, "m2").await, 0);
    assert_eq!(is_read(s, B, "m2").await, 0);
    // C (another shard in the sharded layout) reads A's m5.
    assert_eq!(ms.mark_read(C, &strings(&["m5"])).await.unwrap(), 2);
    assert_eq!(is_read(s, A, "m5").await, 1);
    assert_eq!(is_read(s, C, "m5").await, 1);
    // Self-chat: the single copy.
    assert_eq!(ms.mark_read(A, &strings(&["m6"])).await.unwrap(), 1);
    assert_eq!(is_read(s, A, "m6").await, 1);
    assert_eq!(ms.mark_read(A, &[]).await.unwrap(), 0);

    // newest_copy.
    assert_eq!(
        ms.newest_copy(A, B).await.unwrap().unwrap().message_id,
        "m4"
    );
    assert_eq!(
        ms.newest_copy(C, A).await.unwrap().unwrap().message_id,
        "m5"
    );
    assert!(ms.newest_copy(C, B).await.unwrap().is_none());

    // search_copies: plain substring of the owner's copies, newest first.
    assert!(ms
        .store_chat(&chat(&m(B, A, "m7", 5000, "世界和平")))
        .await
        .unwrap());
    let found = |needle: &'static str, owner: i32, limit: u64| async move {
        let rows = s
            .messages
            .search_copies(owner, needle, limit)
            .await
            .unwrap();
        assert!(rows
            .iter()
            .all(|r| r.sender == owner.to_string() && r.content.contains(needle)));
        rows.iter()
            .map(|r| r.message_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(found("世界", A, 10).await, ["m7", "m1"]);
    assert_eq!(found("世界", A, 1).await, ["m7"]);
    assert_eq!(found("世界", B, 10).await, ["m7", "m1"]);
    assert!(found("世界", C, 10).await.is_empty());
    assert_eq!(found("价格", A, 10).await, ["m4"]);
    for literal in ["%", "_", "%_", "a.b*c", "(价格)", "*", "."] {
        assert_eq!(found(literal, A, 10).await, ["m4"], "{literal}");
    }
    for absent in [".*", "a%c", "a_b", "^50", "[价]", "\\", "world"] {
        assert!(found(absent, A, 10).await.is_empty(), "{absent}");
    }

    // Conversation rows written by store_chat: keyed per owner and peer, newest first.
    let ab = ms.get_last_chat(Some(A), "100102").await.unwrap().unwrap();
    assert_eq!((ab.message_id.as_str(), ab.ts), ("m7", 5000));
    let ba = ms.get_last_chat(Some(B), "100164").await.unwrap().unwrap();
    assert_eq!(
        (ba.content.as_str(), ba.user_id.as_str()),
        ("世界和平", "100102")
    );
    let list = ms.last_chats(A, &[], None, None, 0).await.unwrap();
    assert_eq!(jids(&list), ["100102", "100164", "200001"]);
    assert_eq!(
        jids(&ms.last_chats(C, &[], None, None, 0).await.unwrap()),
        ["100164"]
    );
    // Upsert of a single row: same row (same id) updated.
    let ab_id = ab.id.clone().expect("conversation rows have an id");
    ms.upsert_last_chat(&last(A, "100102", "m8", 6000, "later"))
        .await
        .unwrap();
    let ab2 = ms.get_last_chat(Some(A), "100102").await.unwrap().unwrap();
    assert_eq!((ab2.content.as_str(), ab2.ts), ("later", 6000));
    assert_eq!(ab2.id.as_deref(), Some(ab_id.as_str()));
    assert_eq!(ms.last_chats(A, &[], None, None, 0).await.unwrap().len(), 3);
    // Room rows: one per jid whoever sent last, visible to members only.
    ms.upsert_last_chat(&room_last("r1", B, 3800, "first"))
        .await
        .unwrap();
    let r1_id = ms
        .get_last_chat(None, "r1")
        .await
        .unwrap()
        .unwrap()
        .id
        .unwrap();
    ms.upsert_last_chat(&room_last("r1", C, 7000, "群消息"))
        .await
        .unwrap();
    ms.upsert_last_chat(&room_last("r2", A, 100, "other room"))
        .await
        .unwrap();
    let r1 = ms.get_last_chat(None, "r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.user_id.as_str(), r1.content.as_str(), r1.is_room, r1.ts),
        ("200001", "群消息", 1, 7000)
    );
    assert_eq!(r1.id.as_deref(), Some(r1_id.as_str()));
    assert!(ms.get_last_chat(Some(C), "r1").await.unwrap().is_none());
    assert!(ms.get_last_chat(None, "100102").await.unwrap().is_none());
    let rooms = strings(&["r1", "r9"]);
    let list = ms.last_chats(A, &rooms, None, None, 0).await.unwrap();
    assert_eq!(jids(&list), ["r1", "100102", "100164", "200001"]);
    assert_eq!(
        list.iter().map(|l| l.ts).collect::<Vec<_>>(),
        [7000, 6000, 3500, 2500]
    );
    assert_eq!(
        jids(&ms.last_chats(A, &rooms, None, None, 2).await.unwrap()),
        ["r1", "100102"]
    );
    assert_eq!(
        jids(
            &ms.last_chats(A, &rooms, Some(2600), Some(6000), 0)
                .await
                .unwrap()
        ),
        ["100102", "100164"]
    );
    assert_eq!(
        jids(&ms.last_chats(A, &rooms, Some(3500), None, 0).await.unwrap()),
        ["r1", "100102", "100164"]
    );
    assert_eq!(
        jids(&ms.last_chats(A, &rooms, None, Some(2500), 0).await.unwrap()),
        ["200001"]
    );
    // D has no single rows; room rows still show.
    assert_eq!(
        jids(
            &ms.last_chats(D, &strings(&["r2", "r1"]), None, None, 0)
                .await
                .unwrap()
        ),
        ["r1", "r2"]
    );
    // A page shorter than my rooms holds the newest of them.
    assert_eq!(
        jids(
            &ms.last_chats(D, &strings(&["r2", "r1"]), None, None, 1)
                .await
                .unwrap()
        ),
        ["r1"]
    );
    assert!(ms
        .last_chats(D, &[], None, None, 0)
        .await
        .unwrap()
        .is_empty());
    // delete_last_chat: single rows only, once.
    assert!(ms.delete_last_chat(A, "200001").await.unwrap());
    assert!(!ms.delete_last_chat(A, "200001").await.unwrap());
    assert!(!ms.delete_last_chat(B, "r1").await.unwrap());
    assert!(ms.get_last_chat(None, "r1").await.unwrap().is_some());
    assert_eq!(
        jids(&ms.last_chats(A, &[], None, None, 0).await.unwrap()),
        ["100102", "100164"]
    );
    assert_eq!(
        jids(&ms.last_chats(C, &[], None, None, 0).await.unwrap()),
        ["100164"]
    );

    // Deletes are per owner.
    assert_eq!(
        ms.delete_copies(A, &strings(&["m1", "m2", "nope"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(ids(&history(s, A, B).await), ["m7", "m4", "m3"]);
    assert_eq!(ids(&history(s, B, A).await), ["m7", "m4", "m3", "m2", "m1"]);
    assert_eq!(ms.delete_copies(A, &[]).await.unwrap(), 0);
    assert_eq!(ms.clear_copies(A, Some(C)).await.unwrap(), 1);
    assert!(history(s, A, C).await.is_empty());
    assert_eq!(ids(&history(s, C, A).await), ["m5"]);
    assert_eq!(ids(&history(s, A, B).await), ["m7", "m4", "m3"]);
    assert_eq!(ms.clear_copies(B, None).await.unwrap(), 5);
    assert!(history(s, B, A).await.is_empty());
    assert_eq!(ids(&history(s, A, B).await), ["m7", "m4", "m3"]);
    assert_eq!(ids(&history(s, A, A).await), ["m6"]);

    // Expiry: the owner's read copies with 0 < deleteTime < now; returns their peers.
    let expiring = |to, id, ts, delete_time| M {
        delete_time,
        ..m(A, to, id, ts, "expiring")
    };
    for msg in [
        expiring(D, "e1", 8001, 100),
        expiring(B, "e2", 8002, 999),
        expiring(D, "e3", 8003, 9_999_999_999),
        expiring(D, "e4", 8004, -1),
        expiring(C, "e5", 8005, 100),
        expiring(D, "e6", 8006, 1000),
    ] {
        assert!(ms.store_chat(&chat(&msg)).await.unwrap());
    }
    ms.mark_read(D, &strings(&["e1", "e3", "e4", "e6"]))
        .await
        .unwrap();
    ms.mark_read(B, &strings(&["e2"])).await.unwrap();
    let mut peers = ms.delete_expired(A, 1000).await.unwrap();
    peers.sort();
    assert_eq!(peers, [B, D]);
    assert_eq!(ids(&history(s, A, D).await), ["e6", "e4", "e3"]);
    assert_eq!(ids(&history(s, A, C).await), ["e5"]);
    assert!(ms.find_copy(A, "e2").await.unwrap().is_none());
    // The peers' copies are theirs.
    assert_eq!(history(s, D, A).await.len(), 4);
    assert!(ms.delete_expired(A, 1000).await.unwrap().is_empty());
    assert!(ms.delete_expired(C, 1000).await.unwrap().is_empty());

    // Offline queue: per user, in order, acknowledged up to a seq.
    let p1 = ms.enqueue_offline(A, "p1", 1).await.unwrap();
    let q1 = ms.enqueue_offline(B, "q1", 2).await.unwrap();
    let p2 = ms.enqueue_offline(A, "p2", 3).await.unwrap();
    let p3 = ms.enqueue_offline(A, "p3", 4).await.unwrap();
    assert!(p1 < q1 && q1 < p2 && p2 < p3);
    let item = |seq, user_id, payload: &str, ts| OfflineItem {
        seq,
        user_id,
        payload: payload.into(),
        ts,
    };
    assert_eq!(
        ms.peek_offline(A, 10).await.unwrap(),
        [
            item(p1, A, "p1", 1),
            item(p2, A, "p2", 3),
            item(p3, A, "p3", 4)
        ]
    );
    assert_eq!(
        ms.peek_offline(A, 2).await.unwrap(),
        [item(p1, A, "p1", 1), item(p2, A, "p2", 3)]
    );
    ms.ack_offline(A, p2).await.unwrap();
    assert_eq!(
        ms.peek_offline(A, 10).await.unwrap(),
        [item(p3, A, "p3", 4)]
    );
    ms.ack_offline(A, i64::MAX).await.unwrap();
    assert!(ms.peek_offline(A, 10).await.unwrap().is_empty());
    assert_eq!(
        ms.peek_offline(B, 10).await.unwrap(),
        [item(q1, B, "q1", 2)]
    );
    assert!(ms.peek_offline(C, 10).await.unwrap().is_empty());

    // The queue's caps: the oldest beyond the newest N items, or beyond N bytes, go.
    for i in 0..30 {
        ms.enqueue_offline(C, &format!("payload-{i:02}"), i)
            .await
            .unwrap();
    }
    ms.enqueue_offline(B, "other", 0).await.unwrap();
    assert_eq!(ms.trim_offline(C, 20, u64::MAX).await.unwrap(), 10);
    let kept = ms.peek_offline(C, 100).await.unwrap();
    assert_eq!(kept.len(), 20);
    assert_eq!(kept[0].payload, "payload-10");
    assert_eq!(ms.trim_offline(C, 20, u64::MAX).await.unwrap(), 0);
    // Each payload is 10 bytes: 55 bytes keep the newest five.
    assert_eq!(ms.trim_offline(C, 100, 55).await.unwrap(), 15);
    let kept = ms.peek_offline(C, 100).await.unwrap();
    assert_eq!(kept.len(), 5);
    assert_eq!(kept[0].payload, "payload-25");
    // Other users' queues are untouched.
    assert_eq!(ms.peek_offline(B, 10).await.unwrap().len(), 2);
    ms.ack_offline(C, i64::MAX).await.unwrap();
    ms.ack_offline(B, i64::MAX).await.unwrap();
    ms.enqueue_offline(B, "q1", 2).await.unwrap();
    let p4 = ms.enqueue_offline(A, "p4", 5).await.unwrap();
    assert!(p4 > p3);

    // New friends: one event per pair, newest modifyTime first.
    let event = |user_id, to_user_id, msg_type, modify_time| NewFriend {
        user_id,
        to_user_id,
        from: (msg_type == 500).then_some(user_id),
        direction: 0,
        msg_type,
        content: format!("{msg_type}"),
        create_time: 1,
        modify_time,
    };
    for e in [
        event(A, B, 500, 10),
        event(A, C, 508, 30),
        event(A, D, 502, 20),
        event(B, A, 500, 50),
    ] {
        ms.put_new_friend(&e).await.unwrap();
    }
    ms.put_new_friend(&event(A, B, 501, 40)).await.unwrap();
    let list = ms.new_friends(A, 0, 10).await.unwrap();
    assert_eq!(
        list,
        [
            event(A, B, 501, 40),
            event(A, C, 508, 30),
            event(A, D, 502, 20)
        ]
    );
    assert_eq!(
        ms.new_friends(A, 1, 1).await.unwrap(),
        [event(A, C, 508, 30)]
    );
    assert!(ms.new_friends(A, 3, 10).await.unwrap().is_empty());
    assert_eq!(
        ms.new_friends(B, 0, 10).await.unwrap(),
        [event(B, A, 500, 50)]
    );
    assert!(ms.new_friends(C, 0, 10).await.unwrap().is_empty());

    // Pinned dialogs: one per (user, jid), newest time first.
    let pin = |jid: &str, is_room, time| StickDialog {
        user_id: A,
        jid: jid.into(),
        is_room,
        time,
    };
    for d in [pin("100102", 0, 10), pin("r1", 1, 30), pin("200001", 0, 20)] {
        ms.put_dialog(&d).await.unwrap();
    }
    ms.put_dialog(&pin("100102", 0, 40)).await.unwrap();
    assert_eq!(
        ms.dialogs(A).await.unwrap(),
        [pin("100102", 0, 40), pin("r1", 1, 30), pin("200001", 0, 20)]
    );
    assert!(ms.delete_dialog(A, "r1").await.unwrap());
    assert!(!ms.delete_dialog(A, "r1").await.unwrap());
    assert!(!ms.delete_dialog(B, "100102").await.unwrap());
    assert_eq!(
        ms.dialogs(A).await.unwrap(),
        [pin("100102", 0, 40), pin("200001", 0, 20)]
    );
    assert!(ms.dialogs(B).await.unwrap().is_empty());
}

/// Senders and their receivers in the concurrency test; messages per sender on SQLite and on
/// MongoDB (fewer: the test server there is one Python process, and the race is the same).
const SENDERS: i32 = 8;
/// A conversation list read again at once follows every change, whoever made it (`w`, on the
/// SQLite store another store on the same file, as another node): a row beyond the page
/// moving into it, a new conversation, a deletion, a room's new message, a changed row at the
/// same time, other rooms; and which of its room messages were hidden.
async fn run_conversations_follow_changes(s: &Store, w: &Store) {
    const O: i32 = 710001;
    const ROOM: &str = "0123456789abcdef0123456789abc710";
    let page = |in_room: bool, limit: u64| async move {
        let rooms = if in_room {
            vec![ROOM.to_string()]
        } else {
            Vec::new()
        };
        let rows = s
            .messages
            .last_chats(O, &rooms, None, None, limit)
            .await
            .unwrap();
        rows.iter()
            .map(|r| format!("{}:{}", r.jid, r.content))
            .collect::<Vec<_>>()
    };
    for (peer, ts) in [("710002", 100), ("710003", 200), ("710004", 300)] {
        w.messages
            .upsert_last_chat(&last(O, peer, "m", ts, "a"))
            .await
            .unwrap();
    }
    let room = ROOM;
    w.messages
        .upsert_last_chat(&room_last(room, 710009, 150, "a"))
        .await
        .unwrap();
    assert_eq!(page(true, 2).await, ["710004:a", "710003:a"]);
    assert_eq!(page(true, 2).await, ["710004:a", "710003:a"], "again");
    // The oldest conversation gets a message: it leads the page.
    w.messages
        .upsert_last_chat(&last(O, "710002", "m", 400, "b"))
        .await
        .unwrap();
    assert_eq!(page(true, 2).await, ["710002:b", "710004:a"]);
    // A new conversation.
    w.messages
        .upsert_last_chat(&last(O, "710005", "m", 500, "c"))
        .await
        .unwrap();
    assert_eq!(page(true, 2).await, ["710005:c", "710002:b"]);
    assert!(w.messages.delete_last_chat(O, "710005").await.unwrap());
    assert_eq!(page(true, 2).await, ["710002:b", "710004:a"]);
    // The room's new message, then its row removed (the message recalled).
    w.messages
        .upsert_last_chat(&room_last(room, 710009, 600, "d"))
        .await
        .unwrap();
    assert_eq!(
        page(true, 2).await,
        [format!("{room}:d"), "710002:b".into()]
    );
    assert_eq!(
        page(false, 2).await,
        ["710002:b", "710004:a"],
        "not in the room"
    );
    assert!(w.messages.delete_room_last_chat(room).await.unwrap());
    assert_eq!(page(true, 2).await, ["710002:b", "710004:a"]);
    // Another row at the same time: shown as changed, in its place.
    w.messages
        .upsert_last_chat(&last(O, "710004", "m", 300, "e"))
        .await
        .unwrap();
    assert_eq!(page(true, 0).await, ["710002:b", "710004:e", "710003:a"]);

    let asked = vec![(room.to_string(), "r-1".to_string())];
    assert!(s.rooms.hidden_among(O, &asked).await.unwrap().is_empty());
    assert!(s.rooms.hidden_among(O, &asked).await.unwrap().is_empty());
    w.rooms.hide_muc(O, room, &strings(&["r-1"])).await.unwrap();
    assert_eq!(
        s.rooms.hidden_among(O, &asked).await.unwrap(),
        asked.iter().cloned().collect()
    );
    assert!(s
        .rooms
        .hidden_among(O + 1, &asked)
        .await
        .unwrap()
        .is_empty());
}

/// History pages are the rows as stored, in page order, whether a page lies within the
/// newest rows the store keeps of a conversation or reaches past them, with every filter, read
/// again at once, and after a message is added or deleted (by `w`: on SQLite another store on
/// the same file).
async fn run_pages_follow_changes(s: &Store, w: &Store) {
    const A: i32 = 720001;
    const B: i32 = 720002;
    // (ts, id, contentType) in the order stored: equal times in threes, ordered by storing.
    let mut sent: Vec<(i64, &'static str, i32)> = Vec::new();
    let send = |i: usize, ts: i64| {
        let id: &'static str = Box::leak(format!("h{i:03}").into_boxed_str());
        let content_type = if i.is_multiple_of(4) { 2 } else { 1 };
        let msg = M {
            content_type,
            ..m(A, B, id, ts, "x")
        };
        (msg, (ts, id, content_type))
    };
    for i in 0..130 {
        let (msg, row) = send(i, 10_000 + (i as i64 / 3) * 10);
        assert!(w.messages.store_chat(&chat(&msg)).await.unwrap());
        sent.push(row);
    }
    type Ask = (u64, u64, Option<i64>, Option<i64>, Option<i32>);
    let asks: [Ask; 10] = [
        (0, 20, None, None, None),
        (20, 20, None, None, None),
        (80, 20, None, None, None),
        (90, 20, None, None, None),
        (95, 5, None, None, None),
        (0, 20, None, None, Some(2)),
        (60, 20, None, None, Some(2)),
        (0, 20, Some(10_050), Some(10_200), None),
        (5, 30, None, Some(10_300), Some(2)),
        (100, 30, None, None, None),
    ];
    let check = |sent: Vec<(i64, &'static str, i32)>, when: &'static str| async move {
        let mut order: Vec<(usize, (i64, &str, i32))> = sent.into_iter().enumerate().collect();
        order.sort_by_key(|(i, (ts, _, _))| std::cmp::Reverse((*ts, *i)));
        for (owner, peer) in [(A, B), (B, A)] {
            for &(skip, limit, start_ms, end_ms, max_type) in &asks {
                let expected: Vec<&str> = order
                    .iter()
                    .filter(|(_, (ts, _, ct))| {
                        start_ms.is_none_or(|st| *ts >= st)
                            && end_ms.is_none_or(|e| *ts <= e)
                            && max_type.is_none_or(|mt| *ct < mt)
                    })
                    .skip(skip as usize)
                    .take(limit as usize)
                    .map(|(_, (_, id, _))| *id)
                    .collect();
                let q = HistoryQuery {
                    owner,
                    peer,
                    start_ms,
                    end_ms,
                    max_type,
                    skip,
                    limit,
                };
                for again in ["", " again"] {
                    let rows = s.messages.history(&q).await.unwrap();
                    assert_eq!(ids(&rows), expected, "{when}{again}: {q:?}");
                }
            }
        }
    };
    check(sent.clone(), "stored").await;
    let (msg, row) = send(130, 20_000);
    assert!(w.messages.store_chat(&chat(&msg)).await.unwrap());
    sent.push(row);
    check(sent.clone(), "a new message").await;
    // One message in the middle of the first page, deleted from both copies.
    let gone = sent[120].1;
    for owner in [A, B] {
        assert_eq!(
            w.messages
                .delete_copies(owner, &strings(&[gone]))
                .await
                .unwrap(),
            1
        );
    }
    sent.remove(120);
    check(sent, "a message deleted").await;
}

const PER_SENDER: usize = 500;
const PER_SENDER_MONGO: usize = 100;
const PEERS: i32 = 5;

/// A room's conversation row can be removed (its last message was recalled); single-chat rows
/// with the same jid are untouched.
async fn run_delete_room_last_chat(store: Store) {
    let m = &store.messages;
    let jid = "0123456789abcdef0123456789abcdef";
    m.upsert_last_chat(&room_last(jid, 700101, 5, "群"))
        .await
        .unwrap();
    m.upsert_last_chat(&last(700101, jid, "x", 5, "single"))
        .await
        .unwrap();
    assert!(m.get_last_chat(None, jid).await.unwrap().is_some());
    assert!(m.delete_room_last_chat(jid).await.unwrap());
    assert!(m.get_last_chat(None, jid).await.unwrap().is_none());
    assert!(!m.delete_room_last_chat(jid).await.unwrap());
    assert!(m.get_last_chat(Some(700101), jid).await.unwrap().is_some());
}

/// A message for an offline recipient is queued in the same commit as its rows; a duplicate
/// queues nothing.
async fn run_offline_with_chat(store: Store) {
    let s = &store;
    let msg = M {
        from: 700001,
        to: 700002,
        id: "offline-with-chat",
        ts: 1_000,
        content_type: 1,
        content: "离线",
        delete_time: 0,
    };
    let mut write = chat(&msg);
    write.offline = Some(OfflineEntry {
        user_id: 700002,
        payload: "p1".into(),
        ts: 1_000,
    });
    assert!(s.messages.store_chat(&write).await.unwrap());
    let queued = s.messages.peek_offline(700002, 10).await.unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|i| i.payload.as_str())
            .collect::<Vec<_>>(),
        vec!["p1"]
    );
    assert!(!s.messages.store_chat(&write).await.unwrap(), "duplicate");
    assert_eq!(s.messages.peek_offline(700002, 10).await.unwrap().len(), 1);
    assert_eq!(history(s, 700002, 700001).await.len(), 1);
}

/// 8 tasks × `per_sender` (a multiple of 50) concurrent `store_chat` calls (every 10th a
/// resend of the previous message), plus 4 tasks racing to store the same 100 messages: every
/// call answers, no row is lost, every duplicate is detected.
async fn run_concurrent(store: Store, per_sender: usize) {
    let mut tasks = Vec::new();
    for t in 0..SENDERS {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let from = 300_000 + t;
            let (mut stored, mut duplicates) = (0, 0);
            let mut previous: Option<ChatWrite> = None;
            for i in 0..per_sender {
                let write = if i % 10 == 9 {
                    previous.clone().expect("a previous message")
                } else {
                    let id: &'static str = Box::leak(format!("c{t}-{i}").into_boxed_str());
                    // Blocks of ten to one peer: 9 new messages and a resend each.
                    let to = 400_000 + ((i / 10) as i32 % PEERS);
                    chat(&m(from, to, id, 10_000 + i as i64, "并发"))
                };
                if s.messages.store_chat(&write).await.unwrap() {
                    stored += 1;
                } else {
                    duplicates += 1;
                }
                previous = Some(write);
            }
            (stored, duplicates)
        }));
    }
    let mut racers = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        racers.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for i in 0..100 {
                let id: &'static str = Box::leak(format!("race-{i}").into_boxed_str());
                let msg = m(300_100, 400_100, id, 20_000 + i, "race");
                if s.messages.store_chat(&chat(&msg)).await.unwrap() {
                    won.push(i);
                }
            }
            won
        }));
    }
    for t in tasks {
        let (stored, duplicates) = t.await.unwrap();
        assert_eq!((stored, duplicates), (per_sender * 9 / 10, per_sender / 10));
    }
    let mut won: Vec<i64> = Vec::new();
    for r in racers {
        won.extend(r.await.unwrap());
    }
    won.sort();
    assert_eq!(
        won,
        (0..100).collect::<Vec<_>>(),
        "each raced message stored once"
    );

    for t in 0..SENDERS {
        let from = 300_000 + t;
        let mut total = 0;
        for p in 0..PEERS {
            let to = 400_000 + p;
            let mine = history(&store, from, to).await;
            let theirs = history(&store, to, from).await;
            assert_eq!(
                mine.len(),
                per_sender * 9 / 10 / PEERS as usize,
                "{from} → {to}"
            );
            assert_eq!(ids(&mine), ids(&theirs));
            assert!(mine.iter().all(|r| r.direction == 0));
            assert!(theirs.iter().all(|r| r.direction == 1));
            total += mine.len();
        }
        assert_eq!(total, per_sender * 9 / 10);
        let list = store
            .messages
            .last_chats(from, &[], None, None, 0)
            .await
            .unwrap();
        assert_eq!(list.len(), PEERS as usize, "one conversation row per peer");
    }
    for p in 0..PEERS {
        let list = store
            .messages
            .last_chats(400_000 + p, &[], None, None, 0)
            .await
            .unwrap();
        assert_eq!(list.len(), SENDERS as usize);
    }
    assert_eq!(history(&store, 300_100, 400_100).await.len(), 100);
    assert_eq!(history(&store, 400_100, 300_100).await.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_delete_room_last_chat() {
    let dir = tempfile::tempdir().unwrap();
    run_delete_room_last_chat(sqlite_in(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conversations_follow_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = (sqlite_in(dir.path()), sqlite_in(dir.path()));
    run_conversations_follow_changes(&reader, &writer).await;
    let alone = tempfile::tempdir().unwrap();
    let store = sqlite_in(alone.path());
    run_conversations_follow_changes(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pages_follow_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = (sqlite_in(dir.path()), sqlite_in(dir.path()));
    run_pages_follow_changes(&reader, &writer).await;
    let alone = tempfile::tempdir().unwrap();
    let store = sqlite_in(alone.path());
    run_pages_follow_changes(&store, &store).await;
}

#[tokio::test]
async fn sqlite_offline_with_chat() {
    let dir = tempfile::tempdir().unwrap();
    run_offline_with_chat(sqlite_in(dir.path())).await;
}

#[tokio::test]
async fn sqlite_message_suite() {
    let dir = tempfile::tempdir().unwrap();
    run(sqlite_in(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_store_chat() {
    let dir = tempfile::tempdir().unwrap();
    run_concurrent(sqlite_in(dir.path()), PER_SENDER).await;
}

/// What was acknowledged is still there after the store is closed and reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, seq2) = {
        let store = sqlite_in(dir.path());
        assert!(store
            .messages
            .store_chat(&chat(&m(A, B, "kept", 1, "留下")))
            .await
            .unwrap());
        store
            .messages
            .upsert_last_chat(&room_last("r1", A, 2, "room"))
            .await
            .unwrap();
        let seq = store.messages.enqueue_offline(B, "o1", 1).await.unwrap();
        let seq2 = store.messages.enqueue_offline(B, "o2", 2).await.unwrap();
        store.messages.ack_offline(B, seq).await.unwrap();
        (seq, seq2)
    };
    let store = sqlite_in(dir.path());
    assert_eq!(ids(&history(&store, A, B).await), ["kept"]);
    assert_eq!(ids(&history(&store, B, A).await), ["kept"]);
    assert!(!store
        .messages
        .store_chat(&chat(&m(A, B, "kept", 1, "留下")))
        .await
        .unwrap());
    assert_eq!(
        store.messages.peek_offline(B, 10).await.unwrap(),
        [OfflineItem {
            seq: seq2,
            user_id: B,
            payload: "o2".into(),
            ts: 2
        }]
    );
    // Sequence numbers keep increasing across restarts (AUTOINCREMENT never reuses).
    store.messages.ack_offline(B, seq2).await.unwrap();
    assert!(store.messages.enqueue_offline(B, "o3", 3).await.unwrap() > seq2.max(seq));
    assert_eq!(
        jids(
            &store
                .messages
                .last_chats(A, &strings(&["r1"]), None, None, 0)
                .await
                .unwrap()
        ),
        ["r1", "100102"]
    );
}

/// Rough `store_chat` throughput with many concurrent senders (run with `--ignored`; prints,
/// asserts nothing about time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn sqlite_store_chat_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_in(dir.path());
    let senders: i32 = std::env::var("SENDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let per_sender: i32 = std::env::var("PER_SENDER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for t in 0..senders {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_sender {
                let id: &'static str = Box::leak(format!("t{t}-{i}").into_boxed_str());
                let msg = m(
                    500_000 + t,
                    600_000 + (i % 50),
                    id,
                    i as i64,
                    "throughput 测试",
                );
                assert!(s.messages.store_chat(&chat(&msg)).await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = senders as f64 * per_sender as f64;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{senders} senders: {n} messages in {secs:.2}s = {:.0} messages/s",
        n / secs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_delete_room_last_chat() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run_delete_room_last_chat(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn mongo_conversations_follow_changes() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run_conversations_follow_changes(&store, &store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn mongo_pages_follow_changes() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run_pages_follow_changes(&store, &store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn mongo_offline_with_chat() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run_offline_with_chat(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn mongo_reference_message_suite() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_sharded_message_suite() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Sharded).await {
        run(store).await;
        // The sharded collections are where the layout says.
        let msgs = dbs.client.database(&dbs.names[3]);
        let mut names = msgs.list_collection_names().await.unwrap();
        names.sort();
        assert_eq!(names, ["10", "20"]);
        let last = dbs.client.database(&dbs.names[4]);
        let mut names = last.list_collection_names().await.unwrap();
        names.sort();
        assert_eq!(names, ["10", "20", "lastChats_muc"]);
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_reference_concurrent_store_chat() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Reference).await
    {
        run_concurrent(store, PER_SENDER_MONGO).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_sharded_concurrent_store_chat() {
    if let Some((store, dbs)) = stores::mongo("message store suite", MessageLayout::Sharded).await {
        run_concurrent(store, PER_SENDER_MONGO).await;
        dbs.drop_all().await;
    }
}

/// `[mongodb] layout` defaults to the reference layout and reads `sharded` (file or variable).
#[test]
fn layout_setting() {
    use shiku_server::config::Config;
    let default = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    assert_eq!(default.mongodb.layout, MessageLayout::Reference);
    let env = vec![("SHIKU_MONGODB__LAYOUT".to_string(), "sharded".to_string())];
    assert_eq!(
        Config::load(None, env).unwrap().mongodb.layout,
        MessageLayout::Sharded
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shiku.toml");
    std::fs::write(&file, "[mongodb]\nlayout = \"reference\"\n").unwrap();
    assert_eq!(
        Config::load(Some(&file), Vec::<(String, String)>::new())
            .unwrap()
            .mongodb
            .layout,
        MessageLayout::Reference
    );
    std::fs::write(&file, "[mongodb]\nlayout = \"Sharded\"\n").unwrap();
    assert!(Config::load(Some(&file), Vec::<(String, String)>::new()).is_err());
}
