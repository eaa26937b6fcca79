//! The relation-store methods behind the friends API, run against both adapters: the embedded
//! SQLite store always, MongoDB when `SHIKU_TEST_MONGODB_URI` is set (skipped otherwise).

mod common;

use shiku_server::config::MessageLayout;
use shiku_server::documents::Friend;
use shiku_server::store::{FriendQuery, Patch, Store, Val};

use common::stores::{self, sqlite, sqlite_in};

fn friend(a: i32, b: i32, status: i32, blacklist: i32, nickname: &str) -> Friend {
    serde_json::from_value(serde_json::json!({
        "userId": a, "toUserId": b, "toNickname": nickname, "status": status,
        "blacklist": blacklist, "createTime": 1000 + b, "chatRecordTimeOut": -1.0,
    }))
    .unwrap()
}

fn tos(rows: &[Friend]) -> Vec<i32> {
    rows.iter().map(|f| f.to_user_id).collect()
}

fn q(user_id: i32) -> FriendQuery {
    FriendQuery {
        user_id,
        ..FriendQuery::default()
    }
}

async fn run_suite(store: Store) {
    let s = &store.friends;
    // Owner 1's relations, in insertion order.
    let mut remarked = friend(1, 6, 0, 0, "路人");
    remarked.remark_name = Some("Alice".into());
    for f in [
        friend(1, 2, 2, 0, "Bob"),
        friend(1, 3, 1, 0, "测试员"),
        friend(1, 4, -1, 1, "拉黑的好友"),
        friend(1, 5, 0, 1, "拉黑的路人"),
        remarked,
        friend(1, 7, 2, 0, "100%_x.*"),
        // Others' relations never leak into owner 1's queries.
        friend(2, 1, 2, 0, "一"),
        friend(3, 1, 1, 0, "一"),
        friend(8, 1, 1, 0, "一"),
        friend(9, 1, 1, 0, "一"),
        friend(4, 1, 2, 0, "一"),
    ] {
        s.put_friend(&f).await.unwrap();
    }

    // Filters.
    let all = s.query_friends(&q(1)).await.unwrap();
    assert_eq!(tos(&all), vec![2, 3, 4, 5, 6, 7], "insertion order");
    assert_eq!(s.count_matching(&q(1)).await.unwrap(), 6);
    let friends = FriendQuery {
        status: Some(2),
        blacklisted: Some(false),
        ..q(1)
    };
    assert_eq!(tos(&s.query_friends(&friends).await.unwrap()), vec![2, 7]);
    let follows_and_friends = FriendQuery {
        exclude_status: Some(0),
        blacklisted: Some(false),
        ..q(1)
    };
    assert_eq!(
        tos(&s.query_friends(&follows_and_friends).await.unwrap()),
        vec![2, 3, 7]
    );
    let black = FriendQuery {
        blacklisted: Some(true),
        ..q(1)
    };
    assert_eq!(tos(&s.query_friends(&black).await.unwrap()), vec![4, 5]);
    assert_eq!(s.count_matching(&black).await.unwrap(), 2);
    let both = FriendQuery {
        status: Some(-1),
        exclude_status: Some(0),
        ..q(1)
    };
    assert_eq!(tos(&s.query_friends(&both).await.unwrap()), vec![4]);

    // Whom a user refuses messages from: blacklisted, or status -1 alone.
    for f in [
        friend(20, 21, -1, 0, "状态拉黑"),
        friend(20, 22, 0, 1, "标记拉黑"),
        friend(20, 23, 2, 0, "好友"),
    ] {
        s.put_friend(&f).await.unwrap();
    }
    let mut refused = s.refused_senders(20).await.unwrap();
    refused.sort_unstable();
    assert_eq!(refused, vec![21, 22]);
    assert!(s.refuses(20, 21).await.unwrap() && s.refuses(20, 22).await.unwrap());
    assert!(!s.refuses(20, 23).await.unwrap() && !s.refuses(21, 20).await.unwrap());
    let mut refused = s.refused_senders(1).await.unwrap();
    refused.sort_unstable();
    assert_eq!(refused, vec![4, 5]);

    // Keyword: case-insensitive substring of toNickname or remarkName, matched literally.
    let kw = |k: &str| FriendQuery {
        keyword: Some(k.into()),
        ..q(1)
    };
    assert_eq!(tos(&s.query_friends(&kw("bob")).await.unwrap()), vec![2]);
    assert_eq!(tos(&s.query_friends(&kw("ALI")).await.unwrap()), vec![6]);
    assert_eq!(tos(&s.query_friends(&kw("测试")).await.unwrap()), vec![3]);
    assert_eq!(
        tos(&s.query_friends(&kw("拉黑")).await.unwrap()),
        vec![4, 5]
    );
    for literal in ["%", "_x", ".*", "100%_x.*"] {
        assert_eq!(
            tos(&s.query_friends(&kw(literal)).await.unwrap()),
            vec![7],
            "{literal}"
        );
    }
    for nothing in ["(", "[", "\\", "a^", "$"] {
        assert!(
            s.query_friends(&kw(nothing)).await.unwrap().is_empty(),
            "{nothing}"
        );
    }
    assert_eq!(s.count_matching(&kw("拉黑")).await.unwrap(), 2);
    // An empty keyword is no filter.
    assert_eq!(s.count_matching(&kw("")).await.unwrap(), 6);

    // Paging: skip/limit, limit 0 = all; counts ignore paging.
    let page = |skip, limit| FriendQuery {
        skip,
        limit,
        ..q(1)
    };
    assert_eq!(
        tos(&s.query_friends(&page(1, 2)).await.unwrap()),
        vec![3, 4]
    );
    assert_eq!(
        tos(&s.query_friends(&page(4, 0)).await.unwrap()),
        vec![6, 7]
    );
    assert!(s.query_friends(&page(6, 10)).await.unwrap().is_empty());
    assert_eq!(s.count_matching(&page(4, 1)).await.unwrap(), 6);

    // Followers: others' relations towards a user, optionally by status, paged.
    let all_to_1 = s.followers(1, None, 0, 0).await.unwrap();
    assert_eq!(
        all_to_1.iter().map(|f| f.user_id).collect::<Vec<_>>(),
        vec![2, 3, 8, 9, 4]
    );
    let fans = s.followers(1, Some(1), 0, 0).await.unwrap();
    assert_eq!(
        fans.iter().map(|f| f.user_id).collect::<Vec<_>>(),
        vec![3, 8, 9]
    );
    let fans = s.followers(1, Some(1), 1, 1).await.unwrap();
    assert_eq!(fans.iter().map(|f| f.user_id).collect::<Vec<_>>(), vec![8]);
    assert!(s.followers(77, None, 0, 0).await.unwrap().is_empty());

    // update_friend: typed fields, arrays, and the rest untouched; absent → None, not created.
    let patch = Patch::new()
        .set("status", 2)
        .set("remarkName", "小测")
        .set("openTopChatTime", 1_700_000_000i64)
        .set("chatRecordTimeOut", 7.5)
        .set("toFriendsRole", Val::Json(serde_json::json!([2, 5])));
    let updated = s
        .update_friend(1, 3, &patch)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(updated.status, 2);
    assert_eq!(updated.remark_name.as_deref(), Some("小测"));
    assert_eq!(updated.open_top_chat_time, 1_700_000_000);
    assert_eq!(updated.chat_record_time_out, 7.5);
    assert_eq!(updated.to_friends_role, vec![2, 5]);
    assert_eq!(updated.to_nickname, "测试员");
    // Remarks: only the relations with a non-empty one, in insertion order.
    assert_eq!(
        s.remark_names(1).await.unwrap(),
        vec![(3, "小测".to_string()), (6, "Alice".to_string())]
    );
    s.update_friend(1, 6, &Patch::new().set("remarkName", ""))
        .await
        .unwrap();
    assert_eq!(
        s.remark_names(1).await.unwrap(),
        vec![(3, "小测".to_string())]
    );
    assert!(s.remark_names(77).await.unwrap().is_empty());
    assert_eq!(updated.create_time, 1003);
    assert_eq!(s.get_friend(1, 3).await.unwrap().unwrap(), updated);
    assert!(s.update_friend(1, 99, &patch).await.unwrap().is_none());
    assert!(s.get_friend(1, 99).await.unwrap().is_none());
    // An empty patch returns the relation unchanged.
    assert_eq!(
        s.update_friend(1, 3, &Patch::new()).await.unwrap().unwrap(),
        updated
    );
    // The patched status is what queries see.
    assert_eq!(
        tos(&s
            .query_friends(&FriendQuery {
                status: Some(2),
                ..q(1)
            })
            .await
            .unwrap()),
        vec![2, 3, 7]
    );

    // delete_friend: one direction only; false when absent.
    assert!(s.delete_friend(1, 2).await.unwrap());
    assert!(!s.delete_friend(1, 2).await.unwrap());
    assert!(s.get_friend(1, 2).await.unwrap().is_none());
    assert!(s.get_friend(2, 1).await.unwrap().is_some());
    assert_eq!(s.count_matching(&q(1)).await.unwrap(), 5);
    // Re-creating after a delete puts it last.
    s.put_friend(&friend(1, 2, 2, 0, "Bob")).await.unwrap();
    assert_eq!(
        tos(&s.query_friends(&q(1)).await.unwrap()),
        vec![3, 4, 5, 6, 7, 2]
    );
    // The pre-existing port methods agree with the new ones.
    assert_eq!(s.count_friends(1, Some(2)).await.unwrap(), 3);
}

#[tokio::test]
async fn sqlite_friend_store() {
    let (store, _dir) = sqlite();
    run_suite(store).await;
}

#[tokio::test]
async fn mongo_friend_store() {
    if let Some((store, dbs)) = stores::mongo("friend-store suite", MessageLayout::Reference).await
    {
        run_suite(store).await;
        dbs.drop_all().await;
    }
}

/// A relation survives a restart of the embedded store with its order and filters intact.
#[tokio::test]
async fn sqlite_relations_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = sqlite_in(dir.path());
        for b in [3, 2] {
            store
                .friends
                .put_friend(&friend(1, b, 2, 0, "x"))
                .await
                .unwrap();
        }
    }
    let store = sqlite_in(dir.path());
    assert_eq!(
        tos(&store.friends.query_friends(&q(1)).await.unwrap()),
        vec![3, 2]
    );
}
