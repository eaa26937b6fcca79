//! The room store suite, run against both adapters: the embedded SQLite store always, MongoDB
//! when `SHIKU_TEST_MONGODB_URI` is set (it says it was skipped otherwise).

mod common;

use shiku_server::config::MessageLayout;
use shiku_server::documents::{Member, MucRow, Notice, Room, Share};
use shiku_server::store::{MemberQuery, MucQuery, Patch, RoomQuery, Store, StoreError, Val};

use common::stores::{self, sqlite};

fn room(jid: &str, name: &str, desc: &str, owner: i32, is_look: i32, s: i32, ct: i64) -> Room {
    serde_json::from_value(serde_json::json!({
        "_id": null, "jid": jid, "name": name, "desc": desc, "userId": owner,
        "nickname": "owner", "isLook": is_look, "s": s, "createTime": ct, "modifyTime": ct,
        "maxUserSize": 1000, "notice": { "time": 0, "modifyTime": 0 },
        "tags": ["t"], "adminMaxNumber": 50,
    }))
    .unwrap()
}

fn member(user_id: i32, role: i32, nickname: &str, remark: Option<&str>, ct: i64) -> Member {
    let mut v = serde_json::json!({
        "roomId": null, "userId": user_id, "nickname": nickname, "role": role,
        "createTime": ct, "active": ct, "hiding": -1,
    });
    if let Some(r) = remark {
        v["remarkName"] = r.into();
    }
    serde_json::from_value(v).unwrap()
}

fn muc(message_id: &str, sender: &str, ts: i64, content_type: i32, content: &str) -> MucRow {
    serde_json::from_value(serde_json::json!({
        "message": format!("{{\"content\":{content:?}}}"), "body": "",
        "room_jid": "j", "room_jid_id": "j", "sender_jid": format!("{sender}/web"),
        "sender": sender, "ts": ts, "contentType": content_type, "messageId": message_id,
        "timeSend": ts - 5, "deleteTime": 0, "content": content, "readCount": 0,
    }))
    .unwrap()
}

fn notice(room_id: &str, text: &str, time: i64) -> Notice {
    Notice {
        room_id: Some(room_id.to_string()),
        text: Some(text.to_string()),
        user_id: Some(100),
        nickname: Some("owner".into()),
        time,
        modify_time: time,
        ..Notice::default()
    }
}

fn share(room_id: &str, name: &str, user_id: i32, time: i64) -> Share {
    serde_json::from_value(serde_json::json!({
        "_id": null, "roomId": room_id, "name": name, "url": format!("http://f/{name}"),
        "time": time, "userId": user_id, "nickname": "n", "type": 1, "size": 1.5,
    }))
    .unwrap()
}

fn mq(room_id: &str) -> MemberQuery {
    MemberQuery {
        room_id: room_id.to_string(),
        ..MemberQuery::default()
    }
}

async fn room_ids(s: &Store, q: RoomQuery) -> Vec<String> {
    s.rooms
        .query_rooms(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.unwrap())
        .collect()
}

async fn member_users(s: &Store, q: MemberQuery) -> Vec<i32> {
    s.rooms
        .query_members(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id)
        .collect()
}

async fn history(s: &Store, q: MucQuery) -> Vec<String> {
    s.rooms
        .muc_history(&q)
        .await
        .unwrap()
        .iter()
        .map(|m| m.message_id.clone())
        .collect()
}

async fn search(s: &Store, jids: &[&str], needle: &str, limit: u64) -> Vec<String> {
    let jids: Vec<String> = jids.iter().map(|j| j.to_string()).collect();
    s.rooms
        .search_muc(&jids, needle, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect()
}

async fn user_size(s: &Store, room_id: &str) -> i32 {
    s.rooms.get_room(room_id).await.unwrap().unwrap().user_size
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const BAD_IDS: [&str; 4] = [
    "",
    "zzz",
    "60332a72d656fd634b20f20g",
    "000000000000000000000000",
];

/// Room history pages are the rows as stored, in page order, whether a page lies within the
/// newest rows the store keeps of a room or reaches past them, with every filter and a hide
/// list, read again at once, and after a message is added or deleted (by `w`: on SQLite
/// another store on the same file).
async fn run_pages_follow_changes(s: &Store, w: &Store) {
    const JID: &str = "0123456789abcdef0123456789abc720";
    let mut sent: Vec<(i64, String, i32)> = Vec::new();
    let row = |i: usize, ts: i64| {
        (
            ts,
            format!("g{i:03}"),
            if i.is_multiple_of(4) { 2 } else { 1 },
        )
    };
    for i in 0..130 {
        let (ts, id, ct) = row(i, 10_000 + (i as i64 / 3) * 10);
        assert!(w
            .rooms
            .store_muc(JID, &muc(&id, "720001", ts, ct, "x"))
            .await
            .unwrap());
        sent.push((ts, id, ct));
    }
    type Ask = (
        u64,
        u64,
        Option<i64>,
        Option<i64>,
        Option<i32>,
        &'static [&'static str],
    );
    let asks: [Ask; 11] = [
        (0, 20, None, None, None, &[]),
        (20, 20, None, None, None, &[]),
        (80, 20, None, None, None, &[]),
        (90, 20, None, None, None, &[]),
        (95, 5, None, None, None, &[]),
        (0, 20, None, None, Some(2), &[]),
        (60, 20, None, None, Some(2), &[]),
        (0, 20, Some(10_050), Some(10_200), None, &[]),
        (5, 30, None, Some(10_300), Some(2), &[]),
        (0, 20, None, None, None, &["g129", "g127"]),
        (0, 0, None, None, None, &[]),
    ];
    let check = |sent: Vec<(i64, String, i32)>, when: &'static str| async move {
        let mut order: Vec<(usize, (i64, String, i32))> = sent.into_iter().enumerate().collect();
        order.sort_by_key(|(i, (ts, _, _))| std::cmp::Reverse((*ts, *i)));
        for &(skip, limit, start_ms, end_ms, max_type, hidden) in &asks {
            let expected: Vec<String> = order
                .iter()
                .filter(|(_, (ts, id, ct))| {
                    start_ms.is_none_or(|st| *ts >= st)
                        && end_ms.is_none_or(|e| *ts <= e)
                        && max_type.is_none_or(|mt| *ct < mt)
                        && !hidden.contains(&id.as_str())
                })
                .skip(skip as usize)
                .take(if limit == 0 {
                    usize::MAX
                } else {
                    limit as usize
                })
                .map(|(_, (_, id, _))| id.clone())
                .collect();
            let q = MucQuery {
                jid: JID.to_string(),
                start_ms,
                end_ms,
                max_type,
                hidden: hidden.iter().map(|h| h.to_string()).collect(),
                skip,
                limit,
            };
            for again in ["", " again"] {
                let got = history(s, q.clone()).await;
                assert_eq!(got, expected, "{when}{again}: {q:?}");
            }
        }
    };
    check(sent.clone(), "stored").await;
    let (ts, id, ct) = row(130, 20_000);
    assert!(w
        .rooms
        .store_muc(JID, &muc(&id, "720001", ts, ct, "x"))
        .await
        .unwrap());
    sent.push((ts, id, ct));
    check(sent.clone(), "a new message").await;
    let gone = sent.remove(120).1;
    assert_eq!(w.rooms.delete_muc(JID, &[gone], None).await.unwrap(), 1);
    check(sent, "a message deleted").await;
}

async fn run(store: Store) {
    let s = &store;
    let (j1, j2, j3) = (
        "f6c9eb95fc1048b7bba4b3c7e9249de1",
        "6c1536dbf97540d1b906d76f4272a90d",
        "0123456789abcdef0123456789abcdef",
    );

    // ---- rooms ----
    let r1 = room(j1, "测试群 50%_off", "first", 100, 1, 1, 1000);
    let id1 = s.rooms.insert_room(&r1).await.unwrap();
    assert_eq!(id1.len(), 24);
    assert!(id1.chars().all(|c| c.is_ascii_hexdigit()));
    let id2 = s
        .rooms
        .insert_room(&room(
            j2,
            "Public Chat",
            "公开 (regex) [x]",
            101,
            0,
            1,
            2000,
        ))
        .await
        .unwrap();
    let id3 = s
        .rooms
        .insert_room(&room(j3, "Locked", "", 100, 0, -1, 3000))
        .await
        .unwrap();
    assert!(id1 != id2 && id2 != id3);
    let dup = s
        .rooms
        .insert_room(&room(j1, "again", "", 5, 1, 1, 1))
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");

    let mut expected = r1.clone();
    expected.id = Some(id1.clone());
    assert_eq!(
        s.rooms.get_room(&id1).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(s.rooms.get_room_by_jid(j1).await.unwrap(), Some(expected));
    assert_eq!(
        s.rooms.get_room_by_jid(j2).await.unwrap().unwrap().id,
        Some(id2.clone())
    );
    assert!(s.rooms.get_room_by_jid("nope").await.unwrap().is_none());
    for bad in BAD_IDS {
        assert!(s.rooms.get_room(bad).await.unwrap().is_none(), "{bad}");
        let p = Patch::new().set("name", "x");
        assert!(s.rooms.update_room(bad, &p).await.unwrap().is_none());
        assert!(!s.rooms.delete_room(bad).await.unwrap());
        assert!(s
            .rooms
            .add_members(bad, &[member(1, 3, "x", None, 1)])
            .await
            .unwrap()
            .is_empty());
        assert!(s.rooms.get_member(bad, 1).await.unwrap().is_none());
        assert!(s.rooms.update_member(bad, 1, &p).await.unwrap().is_none());
        s.rooms.update_all_members(bad, &p).await.unwrap();
        assert!(!s.rooms.remove_member(bad, 1).await.unwrap());
        assert!(s.rooms.query_members(&mq(bad)).await.unwrap().is_empty());
        assert_eq!(s.rooms.count_members(&mq(bad)).await.unwrap(), 0);
        assert!(s.rooms.member_ids(bad).await.unwrap().is_empty());
        assert!(s.rooms.get_notice(&id1, bad).await.unwrap().is_none());
        assert!(s.rooms.get_notice(bad, bad).await.unwrap().is_none());
        assert!(s
            .rooms
            .update_notice(&id1, bad, &p)
            .await
            .unwrap()
            .is_none());
        assert!(!s.rooms.delete_notice(&id1, bad).await.unwrap());
        assert!(s.rooms.notices(bad, 0, 0).await.unwrap().is_empty());
        assert_eq!(s.rooms.count_notices(bad).await.unwrap(), 0);
        assert!(s.rooms.get_share(&id1, bad).await.unwrap().is_none());
        assert!(!s.rooms.delete_share(&id1, bad).await.unwrap());
        assert!(s.rooms.shares(bad, None, 0, 0).await.unwrap().is_empty());
    }

    // Partial updates keep what they do not name; a taken jid is a duplicate.
    let notice_doc = serde_json::json!({
        "roomId": id1, "text": "置顶", "userId": 100, "nickname": "owner",
        "time": 7, "modifyTime": 7,
    });
    let updated = s
        .rooms
        .update_room(
            &id1,
            &Patch::new()
                .set("name", "新名字")
                .set("talkTime", 99_i64)
                .set("notice", Val::Json(notice_doc))
                .unset("desc"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "新名字");
    assert_eq!(updated.talk_time, 99);
    assert_eq!(updated.desc, "");
    assert_eq!(updated.notice.text.as_deref(), Some("置顶"));
    assert_eq!(updated.notice.room_id.as_deref(), Some(id1.as_str()));
    assert_eq!(updated.jid, j1);
    assert_eq!(updated.tags, ["t"]);
    assert_eq!(
        updated.extra.get("adminMaxNumber"),
        Some(&serde_json::json!(50))
    );
    assert_eq!(s.rooms.get_room(&id1).await.unwrap(), Some(updated.clone()));
    let same = s.rooms.update_room(&id1, &Patch::new()).await.unwrap();
    assert_eq!(same, Some(updated));
    let taken = s
        .rooms
        .update_room(&id1, &Patch::new().set("jid", j2))
        .await;
    assert!(matches!(taken, Err(StoreError::Duplicate(_))), "{taken:?}");
    s.rooms
        .update_room(
            &id1,
            &Patch::new()
                .set("name", "测试群 50%_off")
                .set("desc", "first"),
        )
        .await
        .unwrap();

    // Queries: newest first, filters, paging; keywords match literally.
    let all = RoomQuery::default();
    assert_eq!(
        room_ids(s, all.clone()).await,
        [id3.as_str(), id2.as_str(), id1.as_str()]
    );
    let public = RoomQuery {
        public_only: true,
        ..all.clone()
    };
    assert_eq!(
        room_ids(s, public.clone()).await,
        [id3.as_str(), id2.as_str()]
    );
    let normal_public = RoomQuery {
        status: Some(1),
        ..public.clone()
    };
    assert_eq!(room_ids(s, normal_public).await, [id2.as_str()]);
    let locked = RoomQuery {
        status: Some(-1),
        ..all.clone()
    };
    assert_eq!(room_ids(s, locked).await, [id3.as_str()]);
    for (keyword, want) in [
        ("50%_", vec![id1.as_str()]),
        ("%", vec![id1.as_str()]),
        ("_", vec![id1.as_str()]),
        ("群 5", vec![id1.as_str()]),
        ("PUBLIC", vec![id2.as_str()]),
        ("(regex) [", vec![id2.as_str()]),
        ("公开", vec![id2.as_str()]),
        ("first", vec![id1.as_str()]),
        (".*", vec![]),
        ("^L", vec![]),
        ("", vec![id3.as_str(), id2.as_str(), id1.as_str()]),
    ] {
        let q = RoomQuery {
            keyword: Some(keyword.into()),
            ..all.clone()
        };
        assert_eq!(room_ids(s, q).await, want, "keyword {keyword:?}");
    }
    let page = RoomQuery {
        skip: 1,
        limit: 1,
        ..all.clone()
    };
    assert_eq!(room_ids(s, page).await, [id2.as_str()]);
    let tail = RoomQuery {
        skip: 2,
        limit: 0,
        ..all.clone()
    };
    assert_eq!(room_ids(s, tail).await, [id1.as_str()]);

    // ---- members ----
    let added = s
        .rooms
        .add_members(
            &id1,
            &[
                member(100, 1, "Owner", None, 10),
                member(200, 3, "张三", None, 12),
                member(201, 3, "李四_x", Some("老李%"), 11),
                member(202, 2, "Admin", None, 13),
            ],
        )
        .await
        .unwrap();
    assert_eq!(added, [100, 200, 201, 202]);
    assert_eq!(user_size(s, &id1).await, 4);
    let added = s
        .rooms
        .add_members(
            &id1,
            &[
                member(200, 3, "again", None, 20),
                member(203, 3, "王五", None, 14),
                member(203, 3, "twice", None, 14),
            ],
        )
        .await
        .unwrap();
    assert_eq!(added, [203]);
    assert_eq!(user_size(s, &id1).await, 5);
    assert!(s.rooms.add_members(&id1, &[]).await.unwrap().is_empty());
    assert_eq!(user_size(s, &id1).await, 5);

    let mut want = member(200, 3, "张三", None, 12);
    want.room_id = Some(id1.clone());
    assert_eq!(s.rooms.get_member(&id1, 200).await.unwrap(), Some(want));
    assert!(s.rooms.get_member(&id1, 999).await.unwrap().is_none());
    assert!(s.rooms.get_member(&id2, 200).await.unwrap().is_none());

    // Role, then join time, then join order.
    assert_eq!(member_users(s, mq(&id1)).await, [100, 202, 201, 200, 203]);
    let members3 = MemberQuery {
        roles: vec![3],
        ..mq(&id1)
    };
    assert_eq!(member_users(s, members3.clone()).await, [201, 200, 203]);
    assert_eq!(s.rooms.count_members(&members3).await.unwrap(), 3);
    let page = MemberQuery {
        skip: 1,
        limit: 1,
        ..members3.clone()
    };
    assert_eq!(member_users(s, page.clone()).await, [200]);
    assert_eq!(s.rooms.count_members(&page).await.unwrap(), 3);
    let staff = MemberQuery {
        roles: vec![1, 2],
        ..mq(&id1)
    };
    assert_eq!(member_users(s, staff).await, [100, 202]);
    for (keyword, want) in [
        ("老李%", vec![201]),
        ("_", vec![201]),
        ("%", vec![201]),
        ("admin", vec![202]),
        ("张", vec![200]),
        ("o", vec![100]),
        (".", vec![]),
        ("[", vec![]),
    ] {
        let q = MemberQuery {
            keyword: Some(keyword.into()),
            ..mq(&id1)
        };
        assert_eq!(
            member_users(s, q.clone()).await,
            want,
            "keyword {keyword:?}"
        );
        assert_eq!(
            s.rooms.count_members(&q).await.unwrap(),
            want.len() as u64,
            "keyword {keyword:?}"
        );
    }
    assert_eq!(s.rooms.count_members(&mq(&id1)).await.unwrap(), 5);
    let mut ids = s.rooms.member_ids(&id1).await.unwrap();
    ids.sort_unstable();
    assert_eq!(ids, [100, 200, 201, 202, 203]);

    let m = s
        .rooms
        .update_member(
            &id1,
            200,
            &Patch::new().set("talkTime", 99_i64).set("remarkName", "r"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.talk_time, m.remark_name.as_deref(), m.nickname.as_str()),
        (99, Some("r"), "张三")
    );
    assert!(s
        .rooms
        .update_member(&id1, 999, &Patch::new().set("role", 2))
        .await
        .unwrap()
        .is_none());

    // Other rooms' memberships; a user's rooms.
    assert_eq!(
        s.rooms
            .add_members(
                &id2,
                &[
                    member(200, 3, "z", None, 30),
                    member(101, 1, "o2", None, 30)
                ]
            )
            .await
            .unwrap(),
        [200, 101]
    );
    assert_eq!(
        s.rooms
            .add_members(&id3, &[member(100, 1, "o3", None, 40)])
            .await
            .unwrap(),
        [100]
    );
    s.rooms
        .update_all_members(&id1, &Patch::new().set("offlineNoPushMsg", 1))
        .await
        .unwrap();
    for m in s.rooms.query_members(&mq(&id1)).await.unwrap() {
        assert_eq!(m.offline_no_push_msg, 1, "{}", m.user_id);
        assert_eq!(m.room_id.as_deref(), Some(id1.as_str()));
    }
    for m in s.rooms.query_members(&mq(&id2)).await.unwrap() {
        assert_eq!(m.offline_no_push_msg, 0, "{}", m.user_id);
    }
    assert_eq!(s.rooms.room_jids_of(200).await.unwrap(), strings(&[j1, j2]));
    assert_eq!(s.rooms.room_jids_of(100).await.unwrap(), strings(&[j1, j3]));
    assert!(s.rooms.room_jids_of(999).await.unwrap().is_empty());

    let of = |user: i32, roles: Vec<i32>| RoomQuery {
        member: Some(user),
        roles,
        ..RoomQuery::default()
    };
    assert_eq!(
        room_ids(s, of(200, vec![])).await,
        [id2.as_str(), id1.as_str()]
    );
    assert!(room_ids(s, of(200, vec![1])).await.is_empty());
    assert_eq!(
        room_ids(s, of(100, vec![1])).await,
        [id3.as_str(), id1.as_str()]
    );
    assert_eq!(
        room_ids(s, of(100, vec![1, 2, 3])).await,
        [id3.as_str(), id1.as_str()]
    );
    let q = RoomQuery {
        public_only: true,
        ..of(100, vec![])
    };
    assert_eq!(room_ids(s, q).await, [id3.as_str()]);
    let q = RoomQuery {
        keyword: Some("%".into()),
        ..of(200, vec![3])
    };
    assert_eq!(room_ids(s, q).await, [id1.as_str()]);
    assert!(room_ids(s, of(999, vec![])).await.is_empty());

    assert!(s.rooms.remove_member(&id1, 203).await.unwrap());
    assert!(!s.rooms.remove_member(&id1, 203).await.unwrap());
    assert!(!s.rooms.remove_member(&id1, 999).await.unwrap());
    assert_eq!(user_size(s, &id1).await, 4);
    assert!(s.rooms.room_jids_of(203).await.unwrap().is_empty());
    assert!(s.rooms.remove_member(&id2, 200).await.unwrap());
    assert_eq!(s.rooms.room_jids_of(200).await.unwrap(), strings(&[j1]));
    assert_eq!(user_size(s, &id2).await, 1);
    assert_eq!(
        s.rooms
            .add_members(&id2, &[member(200, 3, "back", None, 31)])
            .await
            .unwrap(),
        [200]
    );
    assert_eq!(s.rooms.room_jids_of(200).await.unwrap(), strings(&[j1, j2]));
    assert_eq!(user_size(s, &id2).await, 2);

    // ---- notices ----
    let n1 = s.rooms.insert_notice(&notice(&id1, "a", 10)).await.unwrap();
    let n2 = s.rooms.insert_notice(&notice(&id1, "b", 30)).await.unwrap();
    let n3 = s.rooms.insert_notice(&notice(&id1, "c", 20)).await.unwrap();
    let n4 = s
        .rooms
        .insert_notice(&notice(&id2, "other", 40))
        .await
        .unwrap();
    assert_eq!(n1.len(), 24);
    let texts = |v: Vec<Notice>| v.into_iter().map(|n| n.id.unwrap()).collect::<Vec<_>>();
    assert_eq!(
        texts(s.rooms.notices(&id1, 0, 0).await.unwrap()),
        [n2.as_str(), n3.as_str(), n1.as_str()]
    );
    assert_eq!(
        texts(s.rooms.notices(&id1, 1, 1).await.unwrap()),
        [n3.as_str()]
    );
    assert_eq!(
        texts(s.rooms.notices(&id1, 0, 2).await.unwrap()),
        [n2.as_str(), n3.as_str()]
    );
    assert_eq!(
        texts(s.rooms.notices(&id2, 0, 0).await.unwrap()),
        [n4.as_str()]
    );
    assert_eq!(s.rooms.count_notices(&id1).await.unwrap(), 3);
    let mut want = notice(&id1, "a", 10);
    want.id = Some(n1.clone());
    assert_eq!(s.rooms.get_notice(&id1, &n1).await.unwrap(), Some(want));
    assert!(s.rooms.get_notice(&id2, &n1).await.unwrap().is_none());
    let n = s
        .rooms
        .update_notice(
            &id1,
            &n1,
            &Patch::new().set("text", "a2").set("modifyTime", 11_i64),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.text.as_deref(), n.modify_time, n.time),
        (Some("a2"), 11, 10)
    );
    assert!(s
        .rooms
        .update_notice(&id2, &n1, &Patch::new().set("text", "x"))
        .await
        .unwrap()
        .is_none());
    assert!(!s.rooms.delete_notice(&id2, &n1).await.unwrap());
    assert!(s.rooms.delete_notice(&id1, &n1).await.unwrap());
    assert!(!s.rooms.delete_notice(&id1, &n1).await.unwrap());
    assert_eq!(s.rooms.count_notices(&id1).await.unwrap(), 2);

    // ---- shares ----
    let s1 = s
        .rooms
        .insert_share(&share(&id1, "a.pdf", 100, 5))
        .await
        .unwrap();
    let s2 = s
        .rooms
        .insert_share(&share(&id1, "b.pdf", 200, 7))
        .await
        .unwrap();
    let s3 = s
        .rooms
        .insert_share(&share(&id1, "c.pdf", 100, 6))
        .await
        .unwrap();
    let s4 = s
        .rooms
        .insert_share(&share(&id2, "d.pdf", 100, 8))
        .await
        .unwrap();
    let ids_of = |v: Vec<Share>| v.into_iter().map(|x| x.id.unwrap()).collect::<Vec<_>>();
    assert_eq!(
        ids_of(s.rooms.shares(&id1, None, 0, 0).await.unwrap()),
        [s2.as_str(), s3.as_str(), s1.as_str()]
    );
    assert_eq!(
        ids_of(s.rooms.shares(&id1, Some(100), 0, 0).await.unwrap()),
        [s3.as_str(), s1.as_str()]
    );
    assert_eq!(
        ids_of(s.rooms.shares(&id1, None, 1, 1).await.unwrap()),
        [s3.as_str()]
    );
    assert!(s
        .rooms
        .shares(&id1, Some(999), 0, 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids_of(s.rooms.shares(&id2, None, 0, 0).await.unwrap()),
        [s4.as_str()]
    );
    let mut want = share(&id1, "a.pdf", 100, 5);
    want.id = Some(s1.clone());
    assert_eq!(s.rooms.get_share(&id1, &s1).await.unwrap(), Some(want));
    assert!(s.rooms.get_share(&id2, &s1).await.unwrap().is_none());
    assert!(!s.rooms.delete_share(&id2, &s1).await.unwrap());
    assert!(s.rooms.delete_share(&id1, &s1).await.unwrap());
    assert!(!s.rooms.delete_share(&id1, &s1).await.unwrap());

    // ---- group messages ----
    let m1 = muc("m1", "100", 1000, 1, "你好 50%_off");
    assert!(s.rooms.store_muc(j1, &m1).await.unwrap());
    assert!(
        !s.rooms.store_muc(j1, &m1).await.unwrap(),
        "a resend is not stored again"
    );
    let mut changed = m1.clone();
    changed.content = "changed".into();
    assert!(!s.rooms.store_muc(j1, &changed).await.unwrap());
    for m in [
        muc("m2", "100", 2000, 907, "通知"),
        muc("m3", "200", 3000, 1, "a.b*c (x)"),
        muc("m4", "100", 4000, 1, "hello"),
    ] {
        assert!(s.rooms.store_muc(j1, &m).await.unwrap());
    }
    assert!(s
        .rooms
        .store_muc(j2, &muc("m5", "200", 3500, 1, "你好 again"))
        .await
        .unwrap());
    // The same messageId in another room is another message.
    assert!(s
        .rooms
        .store_muc(j2, &muc("m1", "200", 500, 1, "other room"))
        .await
        .unwrap());

    let stored = s.rooms.find_muc(j1, "m1").await.unwrap().unwrap();
    let oid = stored.id.clone().unwrap();
    assert_eq!(oid.len(), 24);
    let mut plain = stored.clone();
    plain.id = None;
    assert_eq!(plain, m1);
    assert!(s.rooms.find_muc(j1, "m5").await.unwrap().is_none());
    assert!(s.rooms.find_muc(j3, "m1").await.unwrap().is_none());

    let hq = |jid: &str| MucQuery {
        jid: jid.to_string(),
        ..MucQuery::default()
    };
    assert_eq!(history(s, hq(j1)).await, ["m4", "m3", "m2", "m1"]);
    assert_eq!(history(s, hq(j2)).await, ["m5", "m1"]);
    assert!(history(s, hq(j3)).await.is_empty());
    assert!(history(s, hq("")).await.is_empty());
    assert!(history(s, hq("a$b")).await.is_empty());
    let q = MucQuery {
        start_ms: Some(2000),
        end_ms: Some(3000),
        ..hq(j1)
    };
    assert_eq!(history(s, q).await, ["m3", "m2"]);
    let q = MucQuery {
        start_ms: Some(2001),
        ..hq(j1)
    };
    assert_eq!(history(s, q).await, ["m4", "m3"]);
    let q = MucQuery {
        max_type: Some(100),
        ..hq(j1)
    };
    assert_eq!(history(s, q).await, ["m4", "m3", "m1"]);
    let q = MucQuery {
        hidden: strings(&["m3", "nope"]),
        ..hq(j1)
    };
    assert_eq!(history(s, q).await, ["m4", "m2", "m1"]);
    let q = MucQuery {
        skip: 1,
        limit: 2,
        ..hq(j1)
    };
    assert_eq!(history(s, q).await, ["m3", "m2"]);

    assert_eq!(
        s.rooms.newest_muc(j1).await.unwrap().unwrap().message_id,
        "m4"
    );
    assert_eq!(
        s.rooms.newest_muc(j2).await.unwrap().unwrap().message_id,
        "m5"
    );
    assert!(s.rooms.newest_muc(j3).await.unwrap().is_none());

    assert_eq!(search(s, &[j1, j2], "50%_", 0).await, ["m1"]);
    assert_eq!(search(s, &[j1, j2], "%", 0).await, ["m1"]);
    assert_eq!(search(s, &[j1, j2], "_", 0).await, ["m1"]);
    assert!(search(s, &[j1, j2], ".*", 0).await.is_empty());
    assert_eq!(search(s, &[j1, j2], "a.b*c (x)", 0).await, ["m3"]);
    assert_eq!(search(s, &[j1, j2], "(x)", 0).await, ["m3"]);
    assert!(search(s, &[j1, j2], "HELLO", 0).await.is_empty());
    assert_eq!(search(s, &[j1, j2], "你好", 0).await, ["m5", "m1"]);
    assert_eq!(search(s, &[j1, j2], "你好", 1).await, ["m5"]);
    assert_eq!(search(s, &[j1], "你好", 0).await, ["m1"]);
    assert_eq!(search(s, &[j1, j2, j3], "o", 0).await, ["m4", "m1", "m1"]);
    assert!(search(s, &[], "你好", 0).await.is_empty());

    // Only the named sender's, whether stored as a string or not.
    assert_eq!(
        s.rooms
            .delete_muc(j1, &strings(&["m3", "m4"]), Some(100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.rooms
            .delete_muc(j1, &strings(&["m3"]), None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.rooms
            .delete_muc(j1, &strings(&["m3"]), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.rooms.delete_muc(j1, &[], None).await.unwrap(), 0);
    assert_eq!(history(s, hq(j1)).await, ["m2", "m1"]);
    assert_eq!(history(s, hq(j2)).await, ["m5", "m1"]);

    // ---- hide lists ----
    s.rooms
        .hide_muc(100, j1, &strings(&["m1", "m2"]))
        .await
        .unwrap();
    s.rooms
        .hide_muc(100, j1, &strings(&["m2", "m9"]))
        .await
        .unwrap();
    s.rooms.hide_muc(100, j1, &[]).await.unwrap();
    s.rooms.hide_muc(100, j2, &strings(&["m5"])).await.unwrap();
    assert_eq!(
        s.rooms.hidden_muc(100, j1).await.unwrap(),
        strings(&["m1", "m2", "m9"])
    );
    assert_eq!(s.rooms.hidden_muc(100, j2).await.unwrap(), strings(&["m5"]));
    assert!(s.rooms.hidden_muc(200, j1).await.unwrap().is_empty());
    // A long list (longer than a read on the calling thread takes): whole, in order.
    let many: Vec<String> = (0..450).map(|i| format!("x{i:03}")).collect();
    s.rooms.hide_muc(300, j1, &many).await.unwrap();
    assert_eq!(s.rooms.hidden_muc(300, j1).await.unwrap(), many);
    // The batch form: only the pairs asked about, each room's own ids.
    let asked = [(j1, "m2"), (j1, "m5"), (j2, "m5"), (j2, "m1")]
        .map(|(j, m)| (j.to_string(), m.to_string()));
    let among = s.rooms.hidden_among(100, &asked).await.unwrap();
    let mut among: Vec<_> = among.into_iter().collect();
    among.sort();
    let mut expected = vec![asked[0].clone(), asked[2].clone()];
    expected.sort();
    assert_eq!(among, expected);
    assert!(s.rooms.hidden_among(200, &asked).await.unwrap().is_empty());
    assert!(s.rooms.hidden_among(100, &[]).await.unwrap().is_empty());
    let hidden = s.rooms.hidden_muc(100, j1).await.unwrap();
    let q = MucQuery { hidden, ..hq(j1) };
    assert!(history(s, q).await.is_empty());

    // ---- delete_room leaves nothing behind ----
    assert!(s.rooms.delete_room(&id1).await.unwrap());
    assert!(!s.rooms.delete_room(&id1).await.unwrap());
    assert!(s.rooms.get_room(&id1).await.unwrap().is_none());
    assert!(s.rooms.get_room_by_jid(j1).await.unwrap().is_none());
    assert!(s.rooms.query_members(&mq(&id1)).await.unwrap().is_empty());
    assert_eq!(s.rooms.count_members(&mq(&id1)).await.unwrap(), 0);
    assert!(s.rooms.member_ids(&id1).await.unwrap().is_empty());
    assert!(s.rooms.get_member(&id1, 100).await.unwrap().is_none());
    assert!(s.rooms.notices(&id1, 0, 0).await.unwrap().is_empty());
    assert_eq!(s.rooms.count_notices(&id1).await.unwrap(), 0);
    assert!(s.rooms.get_notice(&id1, &n2).await.unwrap().is_none());
    assert!(s.rooms.shares(&id1, None, 0, 0).await.unwrap().is_empty());
    assert!(s.rooms.get_share(&id1, &s2).await.unwrap().is_none());
    assert!(history(s, hq(j1)).await.is_empty());
    assert!(s.rooms.newest_muc(j1).await.unwrap().is_none());
    assert!(s.rooms.find_muc(j1, "m1").await.unwrap().is_none());
    assert!(search(s, &[j1], "你好", 0).await.is_empty());
    assert!(s.rooms.hidden_muc(100, j1).await.unwrap().is_empty());
    assert_eq!(s.rooms.room_jids_of(200).await.unwrap(), strings(&[j2]));
    assert_eq!(s.rooms.room_jids_of(100).await.unwrap(), strings(&[j3]));
    assert!(s.rooms.room_jids_of(201).await.unwrap().is_empty());
    assert_eq!(
        room_ids(s, RoomQuery::default()).await,
        [id3.as_str(), id2.as_str()]
    );
    assert_eq!(room_ids(s, of(200, vec![])).await, [id2.as_str()]);
    // The other rooms keep theirs.
    assert_eq!(history(s, hq(j2)).await, ["m5", "m1"]);
    assert_eq!(s.rooms.hidden_muc(100, j2).await.unwrap(), strings(&["m5"]));
    assert_eq!(s.rooms.count_notices(&id2).await.unwrap(), 1);
    assert_eq!(s.rooms.shares(&id2, None, 0, 0).await.unwrap().len(), 1);
    assert_eq!(s.rooms.count_members(&mq(&id2)).await.unwrap(), 2);

    // The jid is free again, with an empty history that works as before.
    let again = s
        .rooms
        .insert_room(&room(j1, "reborn", "", 100, 1, 1, 5000))
        .await
        .unwrap();
    assert!(again != id1);
    assert_eq!(user_size(s, &again).await, 0);
    assert!(history(s, hq(j1)).await.is_empty());
    assert!(s.rooms.store_muc(j1, &m1).await.unwrap());
    assert!(!s.rooms.store_muc(j1, &m1).await.unwrap());
    assert_eq!(history(s, hq(j1)).await, ["m1"]);
    assert!(s.rooms.delete_room(&again).await.unwrap());
}

/// Concurrent adds and removes from several tasks keep `userSize` equal to the memberships.
async fn run_concurrent(store: Store) {
    let id = store
        .rooms
        .insert_room(&room(
            "c0ffee00c0ffee00c0ffee00c0ffee00",
            "busy",
            "",
            1,
            1,
            1,
            1,
        ))
        .await
        .unwrap();
    const TASKS: i32 = 8;
    const OWN: i32 = 20;
    // Phase 1: each task adds its own users in batches, plus ten users every task adds too.
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (s, id) = (store.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            let mut added = Vec::new();
            for batch in 0..(OWN / 5) {
                let mut list: Vec<Member> = (0..5)
                    .map(|i| member(1000 + t * 100 + batch * 5 + i, 3, "u", None, 1))
                    .collect();
                list.push(member(9000 + (batch + t) % 10, 3, "shared", None, 1));
                list.push(member(9000 + (batch + t + 5) % 10, 3, "shared", None, 1));
                added.extend(s.rooms.add_members(&id, &list).await.unwrap());
            }
            added
        }));
    }
    let mut all_added = Vec::new();
    for h in handles {
        all_added.extend(h.await.unwrap());
    }
    all_added.sort_unstable();
    let mut unique = all_added.clone();
    unique.dedup();
    assert_eq!(all_added, unique, "no user counted as added twice");
    let expected = (TASKS * OWN + 10) as usize;
    assert_eq!(all_added.len(), expected);
    assert_eq!(user_size(&store, &id).await as usize, expected);

    // Phase 2: each task removes half of its own users; every task races for the same five.
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (s, id) = (store.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            let mut removed = 0;
            for i in 0..(OWN / 2) {
                assert!(s
                    .rooms
                    .remove_member(&id, 1000 + t * 100 + i)
                    .await
                    .unwrap());
                if i < 5 && s.rooms.remove_member(&id, 9000 + i).await.unwrap() {
                    removed += 1;
                }
            }
            removed
        }));
    }
    let mut shared_removed = 0;
    for h in handles {
        shared_removed += h.await.unwrap();
    }
    assert_eq!(shared_removed, 5, "each shared user removed exactly once");
    let expected = (TASKS * OWN / 2 + 5) as u64;
    assert_eq!(store.rooms.count_members(&mq(&id)).await.unwrap(), expected);
    assert_eq!(
        store.rooms.member_ids(&id).await.unwrap().len() as u64,
        expected
    );
    assert_eq!(user_size(&store, &id).await as u64, expected);
    assert!(store.rooms.room_jids_of(9000).await.unwrap().is_empty());
    assert_eq!(
        store.rooms.room_jids_of(9005).await.unwrap(),
        strings(&["c0ffee00c0ffee00c0ffee00c0ffee00"])
    );
    assert!(store.rooms.delete_room(&id).await.unwrap());
    assert!(store.rooms.room_jids_of(9005).await.unwrap().is_empty());
}

/// A 1000-member room, added in one call and in overlapping batches.
async fn run_big_room(store: Store) {
    let s = &store;
    let people: Vec<Member> = (0..1000)
        .map(|i| {
            member(
                500_000 + i,
                if i == 0 { 1 } else { 3 },
                &format!("成员{i}"),
                None,
                77,
            )
        })
        .collect();
    let expected: Vec<i32> = (0..1000).map(|i| 500_000 + i).collect();

    let one = s
        .rooms
        .insert_room(&room(
            "b16b16b16b16b16b16b16b16b16b16b1",
            "big",
            "",
            500_000,
            1,
            1,
            1,
        ))
        .await
        .unwrap();
    assert_eq!(s.rooms.add_members(&one, &people).await.unwrap(), expected);
    assert!(s.rooms.add_members(&one, &people).await.unwrap().is_empty());

    let batched = s
        .rooms
        .insert_room(&room(
            "b16b16b16b16b16b16b16b16b16b16b2",
            "big2",
            "",
            500_000,
            1,
            1,
            2,
        ))
        .await
        .unwrap();
    let mut added = Vec::new();
    for start in (0..1000).step_by(50) {
        // Each batch repeats the previous batch's last member: skipped, not counted.
        let from = if start == 0 { 0 } else { start - 1 };
        added.extend(
            s.rooms
                .add_members(&batched, &people[from..start + 50])
                .await
                .unwrap(),
        );
    }
    assert_eq!(added, expected);

    for id in [&one, &batched] {
        assert_eq!(user_size(s, id).await, 1000);
        assert_eq!(s.rooms.count_members(&mq(id)).await.unwrap(), 1000);
        let mut ids = s.rooms.member_ids(id).await.unwrap();
        assert_eq!(ids.len(), 1000);
        ids.sort_unstable();
        assert_eq!(ids, expected);
        let mut paged = Vec::new();
        for page in 0..10 {
            let q = MemberQuery {
                skip: page * 100,
                limit: 100,
                ..mq(id)
            };
            let got = member_users(s, q).await;
            assert_eq!(got.len(), 100);
            paged.extend(got);
        }
        assert_eq!(paged, expected);
        let q = MemberQuery {
            skip: 990,
            limit: 100,
            ..mq(id)
        };
        assert_eq!(member_users(s, q).await, &expected[990..]);
        let q = MemberQuery {
            roles: vec![3],
            skip: 300,
            limit: 3,
            ..mq(id)
        };
        assert_eq!(member_users(s, q).await, [500_301, 500_302, 500_303]);
        let q = MemberQuery {
            keyword: Some("成员99".into()),
            ..mq(id)
        };
        assert_eq!(s.rooms.count_members(&q).await.unwrap(), 11);
        assert_eq!(member_users(s, mq(id)).await, expected);
    }
    assert_eq!(
        s.rooms.room_jids_of(500_999).await.unwrap(),
        strings(&[
            "b16b16b16b16b16b16b16b16b16b16b1",
            "b16b16b16b16b16b16b16b16b16b16b2"
        ])
    );
    assert!(s.rooms.delete_room(&one).await.unwrap());
    assert!(s.rooms.delete_room(&batched).await.unwrap());
    assert!(s.rooms.room_jids_of(500_999).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_room_suite() {
    let (store, _dir) = sqlite();
    run(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pages_follow_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = (stores::sqlite_in(dir.path()), stores::sqlite_in(dir.path()));
    run_pages_follow_changes(&reader, &writer).await;
    let (store, _dir) = sqlite();
    run_pages_follow_changes(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_members() {
    let (store, _dir) = sqlite();
    run_concurrent(store).await;
}

#[tokio::test]
async fn sqlite_big_room() {
    let (store, _dir) = sqlite();
    run_big_room(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_room_suite() {
    if let Some((store, dbs)) = stores::mongo("room store suite", MessageLayout::Reference).await {
        run(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_pages_follow_changes() {
    if let Some((store, dbs)) = stores::mongo("room store suite", MessageLayout::Reference).await {
        run_pages_follow_changes(&store, &store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_concurrent_members() {
    if let Some((store, dbs)) = stores::mongo("room store suite", MessageLayout::Reference).await {
        run_concurrent(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_big_room() {
    if let Some((store, dbs)) = stores::mongo("room store suite", MessageLayout::Reference).await {
        run_big_room(store).await;
        dbs.drop_all().await;
    }
}
