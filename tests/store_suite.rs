//! One store suite, run against both adapters: the embedded SQLite store always, MongoDB when
//! `SHIKU_TEST_MONGODB_URI` is set (it says it was skipped otherwise).

mod common;

use shiku_server::config::MessageLayout;
use shiku_server::documents::{
    Friend, LastChat, Member, MsgRow, MucRow, Room, User, UserLoginLog, UserRole,
};
use shiku_server::store::{Patch, Store, StoreError, UserQuery};

use common::stores::{self, sqlite};

fn user(id: i32, phone: &str, nickname: &str) -> User {
    let mut doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/user.json"))
            .unwrap(),
    )
    .unwrap();
    let mut u: User = serde_json::from_value(doc[0].take()).unwrap();
    u.user_id = id;
    u.phone = phone.into();
    u.telephone = format!("86{phone}");
    u.user_key = shiku_server::domain::util::md5_hex(phone);
    u.account = format!("acc{id}");
    u.encry_account = shiku_server::domain::util::md5_hex(&u.account);
    u.nickname = nickname.into();
    u.birthday = id as i64;
    u.sex = id % 2;
    u
}

fn friend(a: i32, b: i32, status: i32) -> Friend {
    serde_json::from_value(serde_json::json!({
        "userId": a, "toUserId": b, "toNickname": format!("n{b}"), "status": status
    }))
    .unwrap()
}

async fn run_suite(store: Store) {
    let s = &store;
    // Counter: starts after max(existing ids, first - 1), then increments.
    s.users
        .insert_user(&user(200005, "13000000005", "五"))
        .await
        .unwrap();
    assert_eq!(s.users.next_user_id(200000).await.unwrap(), 200006);
    assert_eq!(s.users.next_user_id(200000).await.unwrap(), 200007);

    // Unique telephone and userId.
    let dup = s.users.insert_user(&user(200006, "13000000005", "x")).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let dup = s.users.insert_user(&user(200005, "13000000099", "x")).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    for (id, phone, nick) in [
        (200001, "13000000001", "Alice_1"),
        (200002, "13000000002", "alice%2"),
        (200003, "13000000003", "Bob"),
    ] {
        s.users.insert_user(&user(id, phone, nick)).await.unwrap();
    }

    // Lookups.
    let u = s.users.get_user(200001).await.unwrap().unwrap();
    assert_eq!(u, user(200001, "13000000001", "Alice_1"));
    assert!(s.users.get_user(1).await.unwrap().is_none());
    // Names in the order asked, a missing user as None, an id asked twice named twice.
    let names = s
        .users
        .user_names(&[200003, 1, 200001, 200003])
        .await
        .unwrap();
    let shown: Vec<Option<(i32, &str, &str)>> = names
        .iter()
        .map(|n| {
            n.as_ref()
                .map(|n| (n.user_id, n.nickname.as_str(), n.account.as_str()))
        })
        .collect();
    assert_eq!(
        shown,
        [
            Some((200003, "Bob", "acc200003")),
            None,
            Some((200001, "Alice_1", "acc200001")),
            Some((200003, "Bob", "acc200003")),
        ]
    );
    assert!(s.users.user_names(&[]).await.unwrap().is_empty());
    let by_tel = s
        .users
        .find_by_telephone("8613000000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tel.user_id, 200002);
    let key = shiku_server::domain::util::md5_hex("13000000003");
    assert_eq!(
        s.users
            .find_for_login(&key, Some("86"))
            .await
            .unwrap()
            .unwrap()
            .user_id,
        200003
    );
    assert_eq!(
        s.users
            .find_for_login(&key, None)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        200003
    );
    assert!(s
        .users
        .find_for_login(&key, Some("1"))
        .await
        .unwrap()
        .is_none());
    let by_acc = shiku_server::domain::util::md5_hex("acc200001");
    assert_eq!(
        s.users
            .find_for_login(&by_acc, Some("86"))
            .await
            .unwrap()
            .unwrap()
            .user_id,
        200001
    );
    assert_eq!(
        s.users
            .find_by_account("acc200002")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        200002
    );
    assert!(s.users.account_taken("acc200002", 200001).await.unwrap());
    assert!(!s.users.account_taken("acc200002", 200002).await.unwrap());
    assert!(s.users.account_taken("13000000003", 200001).await.unwrap());

    // Partial updates keep what they do not name.
    let p = Patch::new()
        .set("nickname", "Alicia")
        .set("settings.allowAtt", 0)
        .inc("msgNum", 2)
        .set("loc.lat", 1.5);
    let u = s.users.update_user(200001, &p).await.unwrap().unwrap();
    assert_eq!(u.nickname, "Alicia");
    assert_eq!(u.settings.allow_att, 0);
    assert_eq!(u.settings.allow_greet, 1);
    assert_eq!(u.msg_num, 2);
    assert_eq!(u.loc.lat, 1.5);
    assert_eq!(u.phone, "13000000001");
    let u = s
        .users
        .update_user(200001, &Patch::new().unset("payPassword").inc("msgNum", 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.msg_num, 3);
    assert!(s
        .users
        .update_user(1, &Patch::new().set("nickname", "x"))
        .await
        .unwrap()
        .is_none());
    // A patch to a taken telephone is refused by the unique key.
    let clash = s
        .users
        .update_user(200001, &Patch::new().set("telephone", "8613000000003"))
        .await;
    assert!(matches!(clash, Err(StoreError::Duplicate(_))), "{clash:?}");

    // Query: cursor, filters, order; LIKE/regex metacharacters are literal.
    let all = s
        .users
        .query_users(&UserQuery {
            limit: 10,
            min_user_id: 200000,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<i32> = all.iter().map(|u| u.user_id).collect();
    assert_eq!(ids, vec![200005, 200003, 200002, 200001]);
    let page = s
        .users
        .query_users(&UserQuery {
            before: Some(200003),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page[0].user_id, 200002);
    let q = s
        .users
        .query_users(&UserQuery {
            nickname: Some("ALI".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        q.iter().map(|u| u.user_id).collect::<Vec<_>>(),
        vec![200002, 200001]
    );
    let q = s
        .users
        .query_users(&UserQuery {
            nickname: Some("%".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        q.iter().map(|u| u.user_id).collect::<Vec<_>>(),
        vec![200002]
    );
    let q = s
        .users
        .query_users(&UserQuery {
            nickname: Some(".*".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(q.is_empty());
    let q = s
        .users
        .query_users(&UserQuery {
            sex: Some(1),
            birthday_from: Some(200002),
            birthday_to: Some(200005),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        q.iter().map(|u| u.user_id).collect::<Vec<_>>(),
        vec![200005, 200003]
    );

    // Login logs: upsert on update, replace on put.
    s.users
        .update_login_log(200001, &Patch::new().set("loginLog.offlineTime", 7i64))
        .await
        .unwrap();
    let l = s.users.get_login_log(200001).await.unwrap().unwrap();
    assert_eq!(l.login_log.offline_time, 7);
    let mut log = UserLoginLog {
        user_id: 200001,
        ..Default::default()
    };
    log.login_log.serial = Some("s1".into());
    s.users.put_login_log(&log).await.unwrap();
    s.users
        .update_login_log(200001, &Patch::new().set("deviceMap.web.pushToken", ""))
        .await
        .unwrap();
    let l = s.users.get_login_log(200001).await.unwrap().unwrap();
    assert_eq!(l.login_log.serial.as_deref(), Some("s1"));
    assert_eq!(l.login_log.offline_time, 0);
    assert!(l.device_map.contains_key("web"));

    // Roles.
    assert!(s.users.roles_of(200001).await.unwrap().is_empty());
    let role = UserRole {
        user_id: 200001,
        phone: None,
        role: 2,
        status: 1,
        create_time: 1,
        last_login_time: 0,
    };
    s.users.insert_role(&role).await.unwrap();
    assert_eq!(s.users.roles_of(200001).await.unwrap(), vec![role]);

    // Friends: one document per direction, replace on put.
    s.friends
        .put_friend(&friend(200001, 200002, 1))
        .await
        .unwrap();
    s.friends
        .put_friend(&friend(200001, 200002, 2))
        .await
        .unwrap();
    s.friends
        .put_friend(&friend(200003, 200002, 2))
        .await
        .unwrap();
    s.friends
        .put_friend(&friend(200001, 200003, -1))
        .await
        .unwrap();
    assert_eq!(
        s.friends
            .get_friend(200001, 200002)
            .await
            .unwrap()
            .unwrap()
            .status,
        2
    );
    assert!(s
        .friends
        .get_friend(200002, 200001)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.friends.count_friends(200001, None).await.unwrap(), 2);
    assert_eq!(s.friends.count_friends(200001, Some(2)).await.unwrap(), 1);
    s.friends
        .update_friends_to(200002, &Patch::new().set("toNickname", "new"))
        .await
        .unwrap();
    assert_eq!(
        s.friends
            .get_friend(200001, 200002)
            .await
            .unwrap()
            .unwrap()
            .to_nickname,
        "new"
    );
    assert_eq!(
        s.friends
            .get_friend(200003, 200002)
            .await
            .unwrap()
            .unwrap()
            .to_nickname,
        "new"
    );
    assert_eq!(
        s.friends
            .get_friend(200001, 200003)
            .await
            .unwrap()
            .unwrap()
            .to_nickname,
        "n200003"
    );

    // Meta and token versions.
    assert!(s.meta.get_meta("k").await.unwrap().is_none());
    assert_eq!(s.meta.init_meta("k", "a").await.unwrap(), "a");
    assert_eq!(s.meta.init_meta("k", "b").await.unwrap(), "a");
    assert_eq!(s.meta.get_meta("k").await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.meta.token_version(200001).await.unwrap(), 0);
    assert_eq!(s.meta.bump_token_version(200001).await.unwrap(), 1);
    assert_eq!(s.meta.bump_token_version(200001).await.unwrap(), 2);
    assert_eq!(s.meta.token_version(200001).await.unwrap(), 2);
    assert_eq!(s.meta.token_version(200002).await.unwrap(), 0);
}

/// Concurrent counter use never hands out the same userId twice.
async fn run_counter_race(store: Store) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.users.next_user_id(300000).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(ids[0], 300000);
}

#[tokio::test]
async fn sqlite_store_suite() {
    let (store, _dir) = sqlite();
    run_suite(store).await;
}

#[tokio::test]
async fn sqlite_counter_race() {
    let (store, _dir) = sqlite();
    run_counter_race(store).await;
}

#[tokio::test]
async fn mongo_store_suite() {
    if let Some((store, dbs)) = stores::mongo("store suite", MessageLayout::Reference).await {
        run_suite(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn mongo_counter_race() {
    if let Some((store, dbs)) = stores::mongo("store suite", MessageLayout::Reference).await {
        run_counter_race(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test]
async fn fixtures_decode_and_import() {
    let (store, _dir) = sqlite();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let r = shiku_server::fixtures::import(&store, &dir).await.unwrap();
    assert_eq!((r.users, r.login_logs, r.roles, r.friends), (5, 1, 1, 5));
    assert_eq!((r.messages, r.last_chats), (6, 3));
    assert_eq!((r.rooms, r.members, r.muc_messages), (1, 3, 6));
    let again = shiku_server::fixtures::import(&store, &dir).await.unwrap();
    assert_eq!((again.users, again.users_skipped), (0, 5));
    assert_eq!(again.messages, 0, "message copies are stored once");
    assert_eq!(
        (again.rooms, again.members, again.muc_messages),
        (0, 0, 0),
        "rooms, members and group messages are stored once"
    );
    let jid = "6c1536dbf97540d1b906d76f4272a90d";
    let room = store.rooms.get_room_by_jid(jid).await.unwrap().unwrap();
    let room_id = room.id.clone().unwrap();
    // The document's `_id` is kept: the room's 907 notifications name it.
    assert_eq!(room_id, "60210278cb36d459fe88c196");
    assert!(r.room_ids_changed.is_empty());
    assert_eq!((room.name.as_str(), room.user_id), ("测试群", 100164));
    assert_eq!(room.user_size, 3, "userSize counts the imported members");
    let mut members = store.rooms.member_ids(&room_id).await.unwrap();
    members.sort();
    assert_eq!(members, vec![100158, 100159, 100164]);
    let owner = store.rooms.get_member(&room_id, 100164).await.unwrap();
    assert_eq!(owner.unwrap().role, 1);
    let newest = store.rooms.newest_muc(jid).await.unwrap().unwrap();
    assert_eq!(newest.message_id, "skimweb_1001641613789795464562");
    assert_eq!(newest.id.as_deref(), Some("60307a5a1bb77153b4e8bbff"));
    let u = store.users.get_user(100164).await.unwrap().unwrap();
    assert_eq!(u.nickname, "张益达");
    assert_eq!(u.settings.chat_record_time_out, -1.0);
    assert_eq!(u.settings.chat_sync_time_len, 30.0);
    assert_eq!(u.password, "1a850742f81ddc04da6f7648a4af0e47");
}

/// Our documents encode back to the reference shapes: every field we write has the fixture's
/// name and value, and the only fixture fields we do not model are the newer generation's extras.
#[test]
fn fixture_documents_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let check =
        |file: &str, decode: &dyn Fn(serde_json::Value) -> serde_json::Value, extras: &[&str]| {
            let docs: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            for original in docs {
                let encoded = decode(original.clone());
                same_where_both(file, "", &encoded, &original);
                for k in original.as_object().unwrap().keys() {
                    assert!(
                        encoded.get(k).is_some() || extras.contains(&k.as_str()),
                        "{file}: field {k} is lost"
                    );
                }
            }
        };
    let user_extras = [
        "isOpenResetPwd",
        "myInviteCode",
        "notLetSeeHim",
        "notSeeHim",
        "realNameCertified",
        "walletUserNo",
        "withdrawBurnReadTime",
    ];
    check(
        "user.json",
        &|v| {
            let mut u =
                serde_json::to_value(serde_json::from_value::<User>(v.clone()).unwrap()).unwrap();
            // Settings extras of the newer generation are not modelled either.
            let s = v["settings"].as_object().unwrap();
            for (k, val) in s {
                if u["settings"].get(k).is_none() {
                    u["settings"][k] = val.clone();
                }
            }
            u
        },
        &user_extras,
    );
    check(
        "userLoginLog.json",
        &|v| serde_json::to_value(serde_json::from_value::<UserLoginLog>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "userRoles.json",
        &|v| serde_json::to_value(serde_json::from_value::<UserRole>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "u_friends.json",
        &|v| serde_json::to_value(serde_json::from_value::<Friend>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "shiku_msgs.json",
        &|v| serde_json::to_value(serde_json::from_value::<MsgRow>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "shiku_lastChats.json",
        &|v| serde_json::to_value(serde_json::from_value::<LastChat>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "shiku_room.json",
        &|v| serde_json::to_value(serde_json::from_value::<Room>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "shiku_room_member.json",
        &|v| serde_json::to_value(serde_json::from_value::<Member>(v).unwrap()).unwrap(),
        &[],
    );
    check(
        "mucmsg_6c1536dbf97540d1b906d76f4272a90d.json",
        &|v| serde_json::to_value(serde_json::from_value::<MucRow>(v).unwrap()).unwrap(),
        &[],
    );
}

/// Every field present in both documents has the same value (recursively).
fn same_where_both(file: &str, path: &str, ours: &serde_json::Value, theirs: &serde_json::Value) {
    match (ours.as_object(), theirs.as_object()) {
        (Some(a), Some(b)) => {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    same_where_both(file, &format!("{path}.{k}"), v, w);
                }
            }
        }
        _ => assert_eq!(ours, theirs, "{file}: field {path} differs"),
    }
}
