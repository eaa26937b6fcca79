//! Black-box tests of the friends/relations API (spec/reference-server.md 3.3 and 4.4; seed 002
//! `/friends/page` and `/friends/add`; clients.md 2.4) and the user search of `/nearby/*`:
//! every rule and message text, the PageVO and item shapes, the notifications (510, 801), and
//! that a token only ever acts on its own relations.

mod common;

use serde_json::{json, Value};
use shiku_server::delivery::Delivery;
use shiku_server::documents::{Friend, LastChat, NewFriend};
use shiku_server::domain::auth::USER_AUDIENCE;
use shiku_server::domain::util::now_secs;
use shiku_server::store::Patch;

use common::{ok, user, TestApp, TestUser as U};

/// A token for a (fixture) user whose password we do not know.
async fn token_for(app: &TestApp, uid: i32) -> U {
    let token = app
        .app
        .tokens
        .issue(&app.app.store, uid, USER_AUDIENCE)
        .await
        .expect("token");
    U {
        id: uid as i64,
        token,
        // Fixture users are looked up by id here.
        phone: String::new(),
    }
}

/// POSTs `path` as `me` (form body, `flag=rw` as seed-002 clients send).
async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str()), ("flag", "rw")];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

/// GETs `path` as `me` (query string).
async fn get(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str()), ("flag", "rw")];
    all.extend_from_slice(pairs);
    app.get(path, &all).await
}

/// A success with exactly this resultMsg.
fn ok_msg<'a>(v: &'a Value, msg: &str) -> &'a Value {
    assert_eq!(v["resultMsg"], msg, "{v}");
    ok(v)
}

/// A failure with this integer resultCode and exact resultMsg, no data.
fn fail(v: &Value, code: i64, msg: &str) {
    assert_eq!(v["resultCode"], json!(code), "{v}");
    assert!(
        v["resultCode"].is_i64(),
        "resultCode must be an integer: {v}"
    );
    assert_eq!(v["resultMsg"], msg, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert!(v["currentTime"].is_i64(), "{v}");
}

fn param_error(v: &Value, name: &str) {
    assert_eq!(v["resultCode"], 1010101, "{v}");
    let msg = v["resultMsg"].as_str().expect("resultMsg");
    assert!(msg.starts_with("请求参数验证失败"), "{msg}");
    assert!(msg.contains(name), "{msg} does not name {name}");
}

async fn rel(app: &TestApp, a: &U, b: &U) -> Option<Friend> {
    rel_ids(app, a.uid(), b.uid()).await
}

async fn rel_ids(app: &TestApp, a: i32, b: i32) -> Option<Friend> {
    app.app.store.friends.get_friend(a, b).await.unwrap()
}

async fn set(app: &TestApp, u: &U, patch: Patch) {
    app.app
        .store
        .users
        .update_user(u.uid(), &patch)
        .await
        .unwrap()
        .expect("user exists");
}

/// Bodies of the notifications waiting in a user's offline queue.
async fn queued(app: &TestApp, uid: i32) -> Vec<Value> {
    app.app
        .store
        .messages
        .peek_offline(uid, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|item| {
            let d: Delivery = serde_json::from_str(&item.payload).expect("delivery");
            serde_json::from_str(&d.body).expect("body JSON")
        })
        .collect()
}

fn of_type(bodies: &[Value], t: i64) -> Vec<Value> {
    bodies.iter().filter(|b| b["type"] == t).cloned().collect()
}

/// `a` and `b` become friends the way clients do it: `b` asks (a follow awaiting `a`'s
/// verification, or friends at once when `a` verifies nobody), then `a` adds `b`.
async fn befriend(app: &TestApp, a: &U, b: &U) {
    let v = call(app, "/friends/attention/add", b, &[("toUserId", &a.sid())]).await;
    if ok(&v)["type"] == 2 {
        return;
    }
    ok_msg(
        &call(app, "/friends/add", a, &[("toUserId", &b.sid())]).await,
        "加好友成功",
    );
}

/// `u` turns friend verification off (anyone may add it directly).
async fn no_verification(app: &TestApp, u: &U) {
    set(app, u, Patch::new().set("settings.friendsVerify", 0)).await;
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn assert_sorted(v: &Value) {
    let ks = keys(v);
    let mut s = ks.clone();
    s.sort();
    assert_eq!(ks, s, "keys are not in fastjson's alphabetical order: {v}");
}

const PAGE_KEYS: [&str; 6] = [
    "pageCount",
    "pageData",
    "pageIndex",
    "pageSize",
    "start",
    "total",
];

fn assert_page(v: &Value, total: u64, index: u64, size: u64) {
    assert_eq!(keys(v), PAGE_KEYS, "{v}");
    assert_eq!(v["total"], total, "{v}");
    assert_eq!(v["pageIndex"], index, "{v}");
    assert_eq!(v["pageSize"], size, "{v}");
    assert_eq!(v["start"], index * size, "{v}");
    assert_eq!(v["pageCount"], total.div_ceil(size), "{v}");
}

fn ids_of(rows: &Value) -> Vec<i64> {
    rows.as_array()
        .unwrap_or_else(|| panic!("not an array: {rows}"))
        .iter()
        .map(|r| r["toUserId"].as_i64().expect("toUserId"))
        .collect()
}

#[tokio::test]
async fn add_makes_both_directions_friends() {
    let app = common::spawn().await;
    let a = user(&app, "13700000001", "甲").await;
    let b = user(&app, "13700000002", "乙").await;
    no_verification(&app, &b).await;

    let v = call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await;
    // Seed 002 shows no resultMsg, the repo "加好友成功"; clients only test resultCode.
    assert_eq!(ok_msg(&v, "加好友成功"), &Value::Null);
    assert_sorted(&v);
    for (owner, to, nick) in [(&a, &b, "乙"), (&b, &a, "甲")] {
        let f = rel(&app, owner, to).await.expect("relation");
        assert_eq!(f.status, 2);
        assert_eq!(f.blacklist, 0);
        assert_eq!(f.is_been_black, 0);
        assert_eq!(f.from_add_type, 4);
        assert_eq!(f.to_user_type, 0);
        assert_eq!(f.to_nickname, nick);
        assert_eq!(f.chat_record_time_out, -1.0);
        assert!((f.create_time - now_secs()).abs() < 60);
    }

    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", &a.sid())]).await,
        0,
        "不能添加自己",
    );
    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await,
        0,
        "对方已经是你的好友!",
    );
    // Any existing relation counts, a follow too.
    let c = user(&app, "13700000003", "丙").await;
    ok(&call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await);
    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", &c.sid())]).await,
        0,
        "对方已经是你的好友!",
    );
    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", "999999")]).await,
        0,
        "该用户不存在!",
    );
    param_error(&call(&app, "/friends/add", &a, &[]).await, "toUserId");
    param_error(
        &call(&app, "/friends/add", &a, &[("toUserId", "abc")]).await,
        "toUserId",
    );

    // Someone who blacklisted me (even as a stranger) cannot be added.
    let d = user(&app, "13700000004", "丁").await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &d,
        &[("toUserId", &a.sid())],
    )
    .await);
    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", &d.sid())]).await,
        0,
        "加好友失败",
    );
    assert!(rel(&app, &a, &d).await.is_none());

    // GET works as POST (seed 002 documents GET).
    let e = user(&app, "13700000005", "戊").await;
    no_verification(&app, &e).await;
    ok(&get(&app, "/friends/add", &a, &[("toUserId", &e.sid())]).await);
    assert_eq!(rel(&app, &e, &a).await.unwrap().status, 2);
}

#[tokio::test]
async fn add_a_public_account_records_its_type_and_roles() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let a = user(&app, "13700000011", "甲").await;
    ok(&call(&app, "/friends/add", &a, &[("toUserId", "100164")]).await);
    let f = rel_ids(&app, a.uid(), 100164).await.unwrap();
    assert_eq!(f.to_user_type, 2);
    assert_eq!(f.to_friends_role, vec![2]);
    assert_eq!(f.to_nickname, "张益达");
    let back = rel_ids(&app, 100164, a.uid()).await.unwrap();
    assert_eq!(back.to_user_type, 0);
    assert_eq!(back.status, 2);
    // The owner's chatRecordTimeOut setting is copied.
    assert_eq!(back.chat_record_time_out, -1.0);
}

#[tokio::test]
async fn attention_add_checks_the_targets_friend_from_list() {
    let app = common::spawn().await;
    let a = user(&app, "13700000021", "甲").await;
    let b = user(&app, "13700000022", "乙").await;
    let follow = |t: &'static str| {
        let (app, a, b) = (&app, &a, &b);
        async move {
            call(
                app,
                "/friends/attention/add",
                a,
                &[("toUserId", &b.sid()), ("fromAddType", t)],
            )
            .await
        }
    };
    fail(
        &call(
            &app,
            "/friends/attention/add",
            &a,
            &[("toUserId", &a.sid())],
        )
        .await,
        0,
        "不能添加自己",
    );
    fail(
        &call(
            &app,
            "/friends/attention/add",
            &a,
            &[("toUserId", "999999")],
        )
        .await,
        0,
        "添加好友失败",
    );
    param_error(
        &call(&app, "/friends/attention/add", &a, &[]).await,
        "toUserId",
    );
    param_error(&follow("x").await, "fromAddType");

    set(&app, &b, Patch::new().set("settings.friendFromList", "")).await;
    fail(&follow("0").await, 0, "添加失败,该用户禁止该方式添加好友");

    set(&app, &b, Patch::new().set("settings.friendFromList", "2")).await;
    fail(&follow("1").await, 0, "用户禁止二维码添加好友");
    set(&app, &b, Patch::new().set("settings.friendFromList", "1")).await;
    fail(&follow("2").await, 0, "用户禁止名片添加好友");
    fail(&follow("3").await, 0, "用户禁止从群组中添加好友");
    fail(&follow("4").await, 0, "用户禁止手机号搜索添加好友");
    fail(&follow("5").await, 0, "用户禁止昵称搜索添加好友");
    fail(&follow("7").await, 0, "添加好友失败");
    assert!(rel(&app, &a, &b).await.is_none());
    // 0 (system) and 6 (other) always pass, as do listed ways.
    let v = follow("6").await;
    assert_eq!(ok(&v)["fromAddType"], 6);
    ok(&call(
        &app,
        "/friends/attention/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await);
    assert_eq!(ok(&follow("1").await)["fromAddType"], 1);
    ok(&call(
        &app,
        "/friends/attention/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await);
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    assert_eq!(ok(&v)["fromAddType"], 0, "fromAddType defaults to 0");
}

#[tokio::test]
async fn attention_add_refusal_is_an_integer_1100801() {
    let app = common::spawn().await;
    let a = user(&app, "13700000031", "甲").await;
    let b = user(&app, "13700000032", "乙").await;
    set(&app, &b, Patch::new().set("settings.allowAtt", 0)).await;
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    // The reference answers the string "1100801" without currentTime (a defect): here it is
    // a proper envelope with an integer code.
    fail(&v, 1100801, "关注失败，目标用户拒绝关注");
    assert_sorted(&v);
    assert!(rel(&app, &a, &b).await.is_none());
    // allowAtt only guards new follows: an existing friend can still "follow" (type 2).
    set(&app, &b, Patch::new().set("settings.allowAtt", 1)).await;
    befriend(&app, &a, &b).await;
    set(&app, &b, Patch::new().set("settings.allowAtt", 0)).await;
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    assert_eq!(ok_msg(&v, "关注成功，已互为好友")["type"], 2);
}

#[tokio::test]
async fn attention_add_with_and_without_verification() {
    let app = common::spawn().await;
    let a = user(&app, "13700000041", "甲").await;
    let b = user(&app, "13700000042", "乙").await;
    let follow = |from: &U, to: &U| {
        let (app, from, to) = (&app, from.clone(), to.clone());
        async move {
            call(
                app,
                "/friends/attention/add",
                &from,
                &[("toUserId", &to.sid()), ("fromAddType", "5")],
            )
            .await
        }
    };

    // friendsVerify 1 (the default): a one-way follow, awaiting verification.
    let v = follow(&a, &b).await;
    let d = ok_msg(&v, "关注成功，已关注目标用户");
    assert_eq!(d, &json!({"fromAddType": 5, "type": 1}));
    assert_sorted(&v);
    let ab = rel(&app, &a, &b).await.unwrap();
    assert_eq!((ab.status, ab.blacklist, ab.from_add_type), (1, 0, 5));
    assert_eq!(ab.to_nickname, "乙");
    assert!(rel(&app, &b, &a).await.is_none());
    // Again: still following.
    assert_eq!(
        ok_msg(&follow(&a, &b).await, "关注成功，已关注目标用户")["type"],
        1
    );
    // B follows back: A already follows B, so they are friends at once.
    let d = ok_msg(&follow(&b, &a).await, "关注成功，已互为好友").clone();
    assert_eq!(d, json!({"fromAddType": 5, "type": 2}));
    assert_eq!(rel(&app, &a, &b).await.unwrap().status, 2);
    assert_eq!(rel(&app, &b, &a).await.unwrap().status, 2);
    // Friends follow again: type 2, nothing changes.
    assert_eq!(
        ok_msg(&follow(&a, &b).await, "关注成功，已互为好友")["type"],
        2
    );

    // friendsVerify 0: friends at once.
    let c = user(&app, "13700000043", "丙").await;
    set(&app, &c, Patch::new().set("settings.friendsVerify", 0)).await;
    assert_eq!(
        ok_msg(&follow(&a, &c).await, "关注成功，已互为好友")["type"],
        2
    );
    let ca = rel(&app, &c, &a).await.unwrap();
    assert_eq!(
        (ca.status, ca.from_add_type, ca.to_nickname.as_str()),
        (2, 5, "甲")
    );

    // A pending follow becomes a friendship once the target switched verification off.
    let e = user(&app, "13700000044", "戊").await;
    assert_eq!(ok(&follow(&a, &e).await)["type"], 1);
    set(&app, &e, Patch::new().set("settings.friendsVerify", 0)).await;
    assert_eq!(
        ok_msg(&follow(&a, &e).await, "关注成功，已互为好友")["type"],
        2
    );
    assert_eq!(rel(&app, &e, &a).await.unwrap().status, 2);
    assert_eq!(rel(&app, &a, &e).await.unwrap().status, 2);

    // A stranger relation (a remark only) is followed like no relation.
    let g = user(&app, "13700000045", "己").await;
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &g.sid()), ("remarkName", "小己")],
    )
    .await);
    assert_eq!(rel(&app, &a, &g).await.unwrap().status, 0);
    assert_eq!(ok(&follow(&a, &g).await)["type"], 1);
    let ag = rel(&app, &a, &g).await.unwrap();
    assert_eq!(ag.status, 1);
    assert_eq!(
        ag.remark_name.as_deref(),
        Some("小己"),
        "the remark survives"
    );
}

#[tokio::test]
async fn attention_add_to_a_public_account_skips_verification() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    // 100164 is a public account (role 2) with friendsVerify 1.
    let a = user(&app, "13700000051", "甲").await;
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", "100164")],
    )
    .await;
    assert_eq!(ok_msg(&v, "关注成功，已互为好友")["type"], 2);
    let f = rel_ids(&app, a.uid(), 100164).await.unwrap();
    assert_eq!((f.status, f.to_user_type), (2, 2));
    assert_eq!(rel_ids(&app, 100164, a.uid()).await.unwrap().status, 2);
}

#[tokio::test]
async fn attention_add_and_blacklists() {
    let app = common::spawn().await;
    let a = user(&app, "13700000061", "甲").await;
    let b = user(&app, "13700000062", "乙").await;
    let c = user(&app, "13700000063", "丙").await;

    // B blacklisted A while friends: A cannot follow B.
    befriend(&app, &a, &b).await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &b,
        &[("toUserId", &a.sid())],
    )
    .await);
    fail(
        &call(
            &app,
            "/friends/attention/add",
            &a,
            &[("toUserId", &b.sid())],
        )
        .await,
        0,
        "加好友失败",
    );
    // C blacklisted A as a stranger: the same.
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &c,
        &[("toUserId", &a.sid())],
    )
    .await);
    fail(
        &call(
            &app,
            "/friends/attention/add",
            &a,
            &[("toUserId", &c.sid())],
        )
        .await,
        0,
        "加好友失败",
    );
    assert!(rel(&app, &a, &c).await.is_none());
    assert_eq!(rel(&app, &c, &a).await.unwrap().blacklist, 1);

    // B follows A again, whom B blacklisted: the reference answers an empty body and leaves
    // status -1; here the blacklist is lifted and the follow answered properly.
    let v = call(
        &app,
        "/friends/attention/add",
        &b,
        &[("toUserId", &a.sid())],
    )
    .await;
    assert_eq!(ok_msg(&v, "关注成功，已互为好友")["type"], 2);
    let ba = rel(&app, &b, &a).await.unwrap();
    assert_eq!((ba.status, ba.blacklist), (2, 0));
    assert_eq!(rel(&app, &a, &b).await.unwrap().is_been_black, 0);
    let g = ok(&call(&app, "/friends/get", &a, &[("toUserId", &b.sid())]).await).clone();
    assert_eq!(g["isBeenBlack"], 0);

    // Blacklisted stranger followed again: A → D pending follow, the flag gone.
    let d = user(&app, "13700000064", "丁").await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &d.sid())],
    )
    .await);
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &d.sid())],
    )
    .await;
    assert_eq!(ok(&v)["type"], 1);
    let ad = rel(&app, &a, &d).await.unwrap();
    assert_eq!((ad.status, ad.blacklist), (1, 0));
}

#[tokio::test]
async fn batch_add_befriends_and_notifies_with_510() {
    let app = common::spawn().await;
    let a = user(&app, "13700000071", "甲").await;
    let b = user(&app, "13700000072", "乙").await;
    let c = user(&app, "13700000073", "丙").await;
    let refuses = user(&app, "13700000074", "丁").await;
    set(&app, &refuses, Patch::new().set("settings.allowAtt", 0)).await;
    // Only users /friends/add would befriend at once are added: b and c need no verification,
    // `verifies` (the default) is skipped.
    let verifies = user(&app, "13700000077", "庚").await;
    for u in [&b, &c] {
        set(&app, u, Patch::new().set("settings.friendsVerify", 0)).await;
    }

    let list = format!(
        "{}, {},10000,{},999999,{},{}",
        b.id, c.id, a.id, refuses.id, verifies.id
    );
    let v = call(
        &app,
        "/friends/attention/batchAdd",
        &a,
        &[("toUserIds", &list)],
    )
    .await;
    assert_eq!(ok(&v), &json!([b.id, c.id]));
    for peer in [&b, &c] {
        for (x, y) in [(&a, peer), (peer, &a)] {
            let f = rel(&app, x, y).await.unwrap();
            assert_eq!((f.status, f.blacklist, f.from_add_type), (2, 0, 4));
        }
        let notes = of_type(&queued(&app, peer.uid()).await, 510);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let n = &notes[0];
        assert_eq!(n["fromUserId"], a.sid());
        assert_eq!(n["fromUserName"], "甲");
        assert_eq!(n["toUserId"], peer.sid());
        assert_eq!(n["content"], json!(peer.id));
        assert_eq!(n["messageId"].as_str().unwrap().len(), 32);
    }
    assert!(rel(&app, &a, &refuses).await.is_none());
    assert!(of_type(&queued(&app, refuses.uid()).await, 510).is_empty());
    assert!(rel(&app, &a, &verifies).await.is_none());
    assert!(rel(&app, &verifies, &a).await.is_none());
    assert!(of_type(&queued(&app, verifies.uid()).await, 510).is_empty());
    // 10000 and myself are skipped.
    assert!(rel_ids(&app, a.uid(), a.uid()).await.is_none());

    // A pending follow is turned into a friendship: e asked (its follow awaits a's verification),
    // which is consent even though e verifies friends itself.
    let e = user(&app, "13700000075", "戊").await;
    ok(&call(
        &app,
        "/friends/attention/add",
        &e,
        &[("toUserId", &a.sid())],
    )
    .await);
    let v = call(
        &app,
        "/friends/attention/batchAdd",
        &a,
        &[("toUserIds", &e.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!([e.id]));
    assert_eq!(rel(&app, &e, &a).await.unwrap().status, 2);
    assert_eq!(rel(&app, &a, &e).await.unwrap().status, 2);

    // Everybody refused because they blacklisted me.
    let f = user(&app, "13700000076", "己").await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &f,
        &[("toUserId", &a.sid())],
    )
    .await);
    fail(
        &call(
            &app,
            "/friends/attention/batchAdd",
            &a,
            &[("toUserIds", &f.sid())],
        )
        .await,
        0,
        "已被对方添加到黑名单",
    );
    param_error(
        &call(&app, "/friends/attention/batchAdd", &a, &[]).await,
        "toUserIds",
    );
    param_error(
        &call(
            &app,
            "/friends/attention/batchAdd",
            &a,
            &[("toUserIds", "1,x")],
        )
        .await,
        "toUserIds",
    );
}

#[tokio::test]
async fn attention_delete_removes_my_side_only() {
    let app = common::spawn().await;
    let a = user(&app, "13700000081", "甲").await;
    let b = user(&app, "13700000082", "乙").await;
    befriend(&app, &a, &b).await;
    let v = call(
        &app,
        "/friends/attention/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    assert_eq!(ok_msg(&v, "取消关注成功"), &Value::Null);
    assert!(rel(&app, &a, &b).await.is_none());
    assert_eq!(rel(&app, &b, &a).await.unwrap().status, 2);
    // Nothing to remove: still a success.
    ok_msg(
        &call(
            &app,
            "/friends/attention/delete",
            &a,
            &[("toUserId", &b.sid())],
        )
        .await,
        "取消关注成功",
    );
    fail(
        &call(
            &app,
            "/friends/attention/delete",
            &a,
            &[("toUserId", &a.sid())],
        )
        .await,
        0,
        "不能操作自己",
    );
    param_error(
        &call(&app, "/friends/attention/delete", &a, &[]).await,
        "toUserId",
    );
}

async fn put_last_chat(app: &TestApp, owner: &U, peer: &U) {
    app.app
        .store
        .messages
        .upsert_last_chat(&LastChat {
            id: None,
            msg_type: 1,
            message_id: format!("m{}{}", owner.id, peer.id),
            time_send: 1.into(),
            content: "hi".into(),
            user_id: owner.sid(),
            jid: peer.sid(),
            is_room: 0,
            is_encrypt: false,
            encrypt_type: 0,
            from: format!("{}/web", owner.id),
            to: peer.sid(),
            from_user_name: String::new(),
            to_user_name: String::new(),
            ts: 1,
        })
        .await
        .unwrap();
}

async fn has_last_chat(app: &TestApp, owner: &U, peer: &U) -> bool {
    app.app
        .store
        .messages
        .get_last_chat(Some(owner.uid()), &peer.sid())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn delete_ends_both_directions_and_both_conversations() {
    let app = common::spawn().await;
    let a = user(&app, "13700000091", "甲").await;
    let b = user(&app, "13700000092", "乙").await;
    let c = user(&app, "13700000093", "丙").await;
    befriend(&app, &a, &b).await;
    befriend(&app, &a, &c).await;
    put_last_chat(&app, &a, &b).await;
    put_last_chat(&app, &b, &a).await;
    put_last_chat(&app, &a, &c).await;

    let v = call(&app, "/friends/delete", &a, &[("toUserId", &b.sid())]).await;
    assert_eq!(ok_msg(&v, "删除好友成功"), &Value::Null);
    assert!(rel(&app, &a, &b).await.is_none());
    assert!(rel(&app, &b, &a).await.is_none());
    assert!(!has_last_chat(&app, &a, &b).await);
    assert!(!has_last_chat(&app, &b, &a).await);
    assert!(
        has_last_chat(&app, &a, &c).await,
        "other conversations stay"
    );
    // No notification: clients send 505 themselves.
    assert!(of_type(&queued(&app, b.uid()).await, 505).is_empty());

    fail(
        &call(&app, "/friends/delete", &a, &[("toUserId", &b.sid())]).await,
        0,
        "对方不是你的好友!",
    );
    fail(
        &call(&app, "/friends/delete", &a, &[("toUserId", &a.sid())]).await,
        0,
        "不能操作自己",
    );
    param_error(&call(&app, "/friends/delete", &a, &[]).await, "toUserId");

    // C blacklisted A; A deleting the friendship does not lift C's blacklist.
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &c,
        &[("toUserId", &a.sid())],
    )
    .await);
    ok(&call(&app, "/friends/delete", &a, &[("toUserId", &c.sid())]).await);
    assert!(rel(&app, &a, &c).await.is_none());
    let ca = rel(&app, &c, &a)
        .await
        .expect("C keeps its blacklist entry");
    assert_eq!((ca.status, ca.blacklist), (0, 1));
    fail(
        &call(&app, "/friends/add", &a, &[("toUserId", &c.sid())]).await,
        0,
        "加好友失败",
    );
    // C can still release A.
    ok(&call(
        &app,
        "/friends/blacklist/delete",
        &c,
        &[("toUserId", &a.sid())],
    )
    .await);
    assert!(rel(&app, &c, &a).await.is_none());
}

#[tokio::test]
async fn blacklist_add_and_delete() {
    let app = common::spawn().await;
    let a = user(&app, "13700000101", "甲").await;
    let b = user(&app, "13700000102", "乙").await;
    befriend(&app, &a, &b).await;
    put_last_chat(&app, &a, &b).await;
    put_last_chat(&app, &b, &a).await;

    let v = call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    let d = ok_msg(&v, "加入黑名单成功").clone();
    assert_sorted(&v);
    assert_sorted(&d);
    assert_eq!(d["userId"], a.id);
    assert_eq!(d["toUserId"], b.id);
    assert_eq!(d["status"], -1);
    assert_eq!(d["blacklist"], 1);
    assert_eq!(d["toNickname"], "乙");
    assert_eq!(rel(&app, &b, &a).await.unwrap().is_been_black, 1);
    assert_eq!(
        rel(&app, &b, &a).await.unwrap().status,
        2,
        "their status stays"
    );
    assert!(!has_last_chat(&app, &a, &b).await);
    assert!(
        has_last_chat(&app, &b, &a).await,
        "only my conversation goes"
    );

    fail(
        &call(
            &app,
            "/friends/blacklist/add",
            &a,
            &[("toUserId", &b.sid())],
        )
        .await,
        0,
        "不能重复拉黑好友",
    );
    fail(
        &call(
            &app,
            "/friends/blacklist/add",
            &a,
            &[("toUserId", &a.sid())],
        )
        .await,
        0,
        "不能操作自己",
    );
    param_error(
        &call(&app, "/friends/blacklist/add", &a, &[]).await,
        "toUserId",
    );

    // The lists.
    let list = ok(&call(&app, "/friends/blacklist", &a, &[]).await).clone();
    assert_eq!(ids_of(&list), vec![b.id]);
    let page = ok(&call(&app, "/friends/queryBlacklistWeb", &a, &[]).await).clone();
    assert_page(&page, 1, 0, 10);
    assert_eq!(ids_of(&page["pageData"]), vec![b.id]);
    let black = call(
        &app,
        "/friends/friendsAndAttention",
        &a,
        &[("userId", &a.sid()), ("type", "blackList")],
    )
    .await;
    assert_eq!(ok(&black), &json!([b.id]));
    let friends = call(
        &app,
        "/friends/friendsAndAttention",
        &a,
        &[("userId", &a.sid()), ("type", "friendList")],
    )
    .await;
    assert_eq!(ok(&friends), &json!([10000]));
    // B sees that A blacklisted it.
    let g = ok(&call(&app, "/friends/get", &b, &[("toUserId", &a.sid())]).await).clone();
    assert_eq!(g["isBeenBlack"], 1);

    // Release: friends again.
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    let d = ok_msg(&v, "取消拉黑成功");
    assert_eq!(d["status"], 2);
    assert_eq!(d["blacklist"], 0);
    assert_eq!(rel(&app, &b, &a).await.unwrap().is_been_black, 0);
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    fail(&v, 0, &format!("好友：{}不在我的黑名单中", b.id));
    param_error(
        &call(&app, "/friends/blacklist/delete", &a, &[]).await,
        "toUserId",
    );

    // A stranger: a {status 0, blacklist 1} entry, removed on release.
    let c = user(&app, "13700000103", "丙").await;
    let v = call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await;
    let d = ok_msg(&v, "加入黑名单成功");
    assert_eq!(
        (d["status"].clone(), d["blacklist"].clone()),
        (json!(0), json!(1))
    );
    fail(
        &call(
            &app,
            "/friends/blacklist/add",
            &a,
            &[("toUserId", &c.sid())],
        )
        .await,
        0,
        "不能重复拉黑好友",
    );
    fail(
        &call(
            &app,
            "/friends/blacklist/add",
            &a,
            &[("toUserId", "999999")],
        )
        .await,
        0,
        "该用户不存在!",
    );
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await;
    assert_eq!(ok_msg(&v, "取消拉黑成功"), &Value::Null);
    assert!(rel(&app, &a, &c).await.is_none());

    // A remarked stranger stays a stranger while blacklisted and keeps the remark after.
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &c.sid()), ("remarkName", "路人丙")],
    )
    .await);
    let v = call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await;
    assert_eq!(ok(&v)["status"], 0);
    assert_eq!(ok(&v)["blacklist"], 1);
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await;
    let d = ok_msg(&v, "取消拉黑成功");
    assert_eq!(
        (d["status"].clone(), d["blacklist"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(d["remarkName"], "路人丙");

    // A user I only followed comes back as a follow, not as a one-sided friend.
    let e = user(&app, "13700000104", "戊").await;
    let v = call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &e.sid())],
    )
    .await;
    assert_eq!(ok(&v)["type"], 1);
    let v = call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &e.sid())],
    )
    .await;
    assert_eq!(ok(&v)["status"], -1);
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &e.sid())],
    )
    .await;
    assert_eq!(ok(&v)["status"], 1);
    assert_eq!(ok(&v)["blacklist"], 0);
}

#[tokio::test]
async fn blacklist_pages() {
    let app = common::spawn().await;
    let a = user(&app, "13700000111", "甲").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let u = user(&app, &format!("1370000012{i}"), &format!("u{i}")).await;
        ok(&call(
            &app,
            "/friends/blacklist/add",
            &a,
            &[("toUserId", &u.sid())],
        )
        .await);
        ids.push(u.id);
    }
    let p = [("pageIndex", "1"), ("pageSize", "2")];
    let list = ok(&call(&app, "/friends/blacklist", &a, &p).await).clone();
    assert_eq!(ids_of(&list), ids[2..4].to_vec());
    let page = ok(&call(&app, "/friends/queryBlacklistWeb", &a, &p).await).clone();
    assert_page(&page, 5, 1, 2);
    assert_eq!(ids_of(&page["pageData"]), ids[2..4].to_vec());
    let last = ok(&call(
        &app,
        "/friends/queryBlacklistWeb",
        &a,
        &[("pageIndex", "2"), ("pageSize", "2")],
    )
    .await)
    .clone();
    assert_eq!(ids_of(&last["pageData"]), ids[4..].to_vec());
}

#[tokio::test]
async fn remark_sets_names_and_tells_my_other_devices() {
    let app = common::spawn().await;
    let a = user(&app, "13700000131", "甲").await;
    let b = user(&app, "13700000132", "乙").await;
    befriend(&app, &a, &b).await;
    let v = call(
        &app,
        "/friends/remark",
        &a,
        &[
            ("toUserId", &b.sid()),
            ("remarkName", "Zed"),
            ("describe", "同事"),
        ],
    )
    .await;
    assert_eq!(ok(&v), &Value::Null);
    assert!(v.get("resultMsg").is_none(), "{v}");
    let f = rel(&app, &a, &b).await.unwrap();
    assert_eq!(f.remark_name.as_deref(), Some("Zed"));
    assert_eq!(f.describe.as_deref(), Some("同事"));
    assert_eq!(f.status, 2);
    assert!(f.modify_time > 0);
    // 801 to myself (multipleDevices is 1 by default).
    let notes = of_type(&queued(&app, a.uid()).await, 801);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["fromUserId"], a.sid());
    assert_eq!(notes[0]["fromUserName"], "甲");
    assert_eq!(notes[0]["toUserName"], "乙");
    assert_eq!(notes[0]["toUserId"], b.sid(), "801 names the friend");
    assert!(of_type(&queued(&app, b.uid()).await, 801).is_empty());
    // The display name (and its orderKey) follows the remark.
    let page = call(&app, "/friends/page", &a, &[("userId", &a.sid())]).await;
    let row = ok(&page)["pageData"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["toUserId"] == b.id)
        .unwrap()
        .clone();
    assert_eq!(row["remarkName"], "Zed");
    assert_eq!(row["orderKey"], "Z");

    // Parameters default to "": the remark is cleared.
    ok(&call(&app, "/friends/remark", &a, &[("toUserId", &b.sid())]).await);
    let f = rel(&app, &a, &b).await.unwrap();
    assert_eq!(f.remark_name.as_deref(), Some(""));
    assert_eq!(f.describe.as_deref(), Some(""));

    // A stranger: a status-0 relation holds the remark.
    let c = user(&app, "13700000133", "丙").await;
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &c.sid()), ("remarkName", "路人")],
    )
    .await);
    let f = rel(&app, &a, &c).await.unwrap();
    assert_eq!((f.status, f.remark_name.as_deref()), (0, Some("路人")));
    assert!(rel(&app, &c, &a).await.is_none());

    // multipleDevices off: no 801.
    set(&app, &a, Patch::new().set("settings.multipleDevices", 0)).await;
    let before = of_type(&queued(&app, a.uid()).await, 801).len();
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &b.sid()), ("remarkName", "x")],
    )
    .await);
    assert_eq!(of_type(&queued(&app, a.uid()).await, 801).len(), before);

    fail(
        &call(&app, "/friends/remark", &a, &[("toUserId", "999999")]).await,
        0,
        "该用户不存在!",
    );
    param_error(&call(&app, "/friends/remark", &a, &[]).await, "toUserId");
    let long = "长".repeat(65);
    param_error(
        &call(
            &app,
            "/friends/remark",
            &a,
            &[("toUserId", &b.sid()), ("remarkName", &long)],
        )
        .await,
        "remarkName",
    );
}

#[tokio::test]
async fn update_sets_chat_record_time_out() {
    let app = common::spawn().await;
    let a = user(&app, "13700000141", "甲").await;
    let b = user(&app, "13700000142", "乙").await;
    fail(
        &call(&app, "/friends/update", &a, &[("toUserId", &b.sid())]).await,
        0,
        "好友不存在!",
    );
    befriend(&app, &a, &b).await;
    let v = call(
        &app,
        "/friends/update",
        &a,
        &[("toUserId", &b.sid()), ("chatRecordTimeOut", "7")],
    )
    .await;
    assert_eq!(ok(&v), &Value::Null);
    assert_eq!(rel(&app, &a, &b).await.unwrap().chat_record_time_out, 7.0);
    assert_eq!(rel(&app, &b, &a).await.unwrap().chat_record_time_out, -1.0);
    ok(&call(
        &app,
        "/friends/update",
        &a,
        &[("toUserId", &b.sid()), ("chatRecordTimeOut", "0.5")],
    )
    .await);
    assert_eq!(rel(&app, &a, &b).await.unwrap().chat_record_time_out, 0.5);
    // 0 leaves it unchanged (the reference skips zero); the default is -1 (forever).
    ok(&call(
        &app,
        "/friends/update",
        &a,
        &[("toUserId", &b.sid()), ("chatRecordTimeOut", "0")],
    )
    .await);
    assert_eq!(rel(&app, &a, &b).await.unwrap().chat_record_time_out, 0.5);
    ok(&call(&app, "/friends/update", &a, &[("toUserId", &b.sid())]).await);
    assert_eq!(rel(&app, &a, &b).await.unwrap().chat_record_time_out, -1.0);
    for bad in ["abc", "NaN", "inf"] {
        param_error(
            &call(
                &app,
                "/friends/update",
                &a,
                &[("toUserId", &b.sid()), ("chatRecordTimeOut", bad)],
            )
            .await,
            "chatRecordTimeOut",
        );
    }
    param_error(&call(&app, "/friends/update", &a, &[]).await, "toUserId");
}

#[tokio::test]
async fn offline_no_push_msg_types() {
    let app = common::spawn().await;
    let a = user(&app, "13700000151", "甲").await;
    let b = user(&app, "13700000152", "乙").await;
    let set_flag = |value: &'static str, kind: &'static str| {
        let (app, a, b) = (&app, a.clone(), b.clone());
        async move {
            call(
                app,
                "/friends/update/OfflineNoPushMsg",
                &a,
                &[
                    ("userId", &a.sid()),
                    ("toUserId", &b.sid()),
                    ("offlineNoPushMsg", value),
                    ("type", kind),
                ],
            )
            .await
        }
    };
    fail(&set_flag("1", "0").await, 0, "好友不存在!");
    befriend(&app, &a, &b).await;

    let v = set_flag("1", "0").await;
    let d = ok(&v);
    assert_sorted(d);
    assert_eq!(d["offlineNoPushMsg"], 1);
    assert_eq!(d["toUserId"], b.id);
    assert_eq!(rel(&app, &a, &b).await.unwrap().offline_no_push_msg, 1);
    assert_eq!(rel(&app, &b, &a).await.unwrap().offline_no_push_msg, 0);

    assert_eq!(ok(&set_flag("1", "1").await)["isOpenSnapchat"], 1);
    let pinned = ok(&set_flag("1", "2").await)["openTopChatTime"]
        .as_i64()
        .unwrap();
    assert!((pinned - now_secs()).abs() < 60, "seconds: {pinned}");
    assert_eq!(ok(&set_flag("0", "2").await)["openTopChatTime"], 0);
    assert_eq!(ok(&set_flag("0", "0").await)["offlineNoPushMsg"], 0);
    // Each change tells my other devices (801).
    assert_eq!(of_type(&queued(&app, a.uid()).await, 801).len(), 5);

    param_error(&set_flag("1", "3").await, "type");
    param_error(&set_flag("2", "0").await, "offlineNoPushMsg");
    // userId is required as in the reference (its value is ignored).
    param_error(
        &call(
            &app,
            "/friends/update/OfflineNoPushMsg",
            &a,
            &[("toUserId", &b.sid()), ("offlineNoPushMsg", "1")],
        )
        .await,
        "userId",
    );
    param_error(
        &call(
            &app,
            "/friends/update/OfflineNoPushMsg",
            &a,
            &[("userId", &a.sid())],
        )
        .await,
        "toUserId",
    );
}

#[tokio::test]
async fn get_list_and_attention_list() {
    let app = common::spawn().await;
    let a = user(&app, "13700000161", "甲").await;
    let b = user(&app, "13700000162", "乙").await;
    let c = user(&app, "13700000163", "丙").await;
    let d = user(&app, "13700000164", "丁").await;
    befriend(&app, &a, &b).await;
    ok(&call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &c.sid())],
    )
    .await);
    befriend(&app, &a, &d).await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &a,
        &[("toUserId", &d.sid())],
    )
    .await);

    let v = call(&app, "/friends/get", &a, &[("toUserId", &b.sid())]).await;
    let g = ok(&v);
    assert_sorted(g);
    assert_eq!(g["userId"], a.id);
    assert_eq!(g["toUserId"], b.id);
    assert_eq!(g["status"], 2);
    assert_eq!(g["toNickname"], "乙");
    assert_eq!(g["orderKey"], "Y");
    let v = call(&app, "/friends/get", &b, &[("toUserId", &c.sid())]).await;
    assert_eq!(ok(&v), &Value::Null, "no relation: data omitted");
    assert!(v.get("data").is_none());
    param_error(&call(&app, "/friends/get", &a, &[]).await, "toUserId");

    // Friends only: status 2 and not blacklisted (10000 included).
    let list = ok(&call(&app, "/friends/list", &a, &[]).await).clone();
    assert_eq!(ids_of(&list), vec![10000, b.id]);
    let att = ok(&call(&app, "/friends/attention/list", &a, &[]).await).clone();
    assert_eq!(ids_of(&att), vec![10000, b.id], "status 0 means friends");
    let att = call(&app, "/friends/attention/list", &a, &[("status", "1")]).await;
    assert_eq!(ids_of(ok(&att)), vec![c.id]);
    let att = call(&app, "/friends/attention/list", &a, &[("status", "-1")]).await;
    assert_eq!(ids_of(ok(&att)), vec![d.id]);

    // friendList: friends and follows, not blacklisted, not strangers.
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &c.sid()), ("remarkName", "x")],
    )
    .await);
    let e = user(&app, "13700000165", "戊").await;
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &e.sid()), ("remarkName", "stranger")],
    )
    .await);
    let v = call(
        &app,
        "/friends/friendsAndAttention",
        &a,
        &[("userId", &a.sid()), ("type", "friendList")],
    )
    .await;
    assert_eq!(ok(&v), &json!([10000, b.id, c.id]));
    fail(
        &call(
            &app,
            "/friends/friendsAndAttention",
            &a,
            &[("userId", &a.sid()), ("type", "fans")],
        )
        .await,
        0,
        "无法识别的参数",
    );
    fail(
        &call(
            &app,
            "/friends/friendsAndAttention",
            &a,
            &[("userId", &a.sid())],
        )
        .await,
        0,
        "无法识别的参数",
    );
    param_error(
        &call(
            &app,
            "/friends/friendsAndAttention",
            &a,
            &[("type", "friendList")],
        )
        .await,
        "userId",
    );
}

/// The seed-002 `/friends/page` sample, item for item (fixtures hold the same relations).
#[tokio::test]
async fn page_has_the_seed_002_shape() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let me = token_for(&app, 100164).await;
    let v = get(
        &app,
        "/friends/page",
        &me,
        &[("pageIndex", "0"), ("pageSize", "15"), ("userId", "100164")],
    )
    .await;
    assert_sorted(&v);
    let d = ok(&v);
    assert_page(d, 3, 0, 15);
    let seed = json!([
        {"account": "10000451059", "blacklist": 0, "chatRecordTimeOut": -1.0, "createTime": 1612772503,
         "encryptType": 0, "fromAddType": 4, "hideChatSwitch": 0, "hiding": -1, "isBeenBlack": 0,
         "isOpenSnapchat": 0, "lastTalkTime": 0, "modifyTime": 0, "msgNum": 0, "offlineNoPushMsg": 0,
         "openTopChatTime": 0, "orderKey": "K", "status": 2, "toFriendsRole": [2],
         "toNickname": "客服公众号", "toUserId": 10000, "toUserType": 2, "userId": 100164},
        {"account": "100158644641", "blacklist": 0, "chatRecordTimeOut": -1.0, "createTime": 1612776011,
         "encryptType": 0, "fromAddType": 4, "hideChatSwitch": 0, "hiding": -1, "isBeenBlack": 0,
         "isOpenSnapchat": 0, "lastTalkTime": 0, "modifyTime": 0, "msgNum": 0, "offlineNoPushMsg": 0,
         "openTopChatTime": 0, "orderKey": "C", "status": 2, "toFriendsRole": [2],
         "toNickname": "测试001", "toUserId": 100158, "toUserType": 2, "userId": 100164},
        {"account": "100159916320", "blacklist": 0, "chatRecordTimeOut": -1.0, "createTime": 1612776025,
         "encryptType": 0, "fromAddType": 4, "hideChatSwitch": 0, "hiding": -1, "isBeenBlack": 0,
         "isOpenSnapchat": 0, "lastTalkTime": 0, "modifyTime": 0, "msgNum": 0, "offlineNoPushMsg": 0,
         "openTopChatTime": 0, "orderKey": "P", "status": 2, "toFriendsRole": [2],
         "toNickname": "朋友001", "toUserId": 100159, "toUserType": 2, "userId": 100164}
    ]);
    let rows = d["pageData"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (row, want) in rows.iter().zip(seed.as_array().unwrap()) {
        assert_sorted(row);
        assert_eq!(keys(row), keys(want), "{row}");
        let mut row = row.clone();
        let mut want = want.clone();
        if row["toUserId"] == 10000 {
            // Our system account 10000 is created at start-up with account "10000"; the seed
            // deployment's has its own random suffix.
            assert_eq!(row["account"], "10000");
            row["account"] = Value::Null;
            want["account"] = Value::Null;
        }
        assert_eq!(row, want);
    }
    // chatRecordTimeOut is a JSON double, as fastjson writes it.
    assert!(rows[0]["chatRecordTimeOut"].is_f64());
}

#[tokio::test]
async fn page_filters_keyword_status_and_pages() {
    let app = common::spawn().await;
    let a = user(&app, "13700000171", "甲").await;
    let alice = user(&app, "13700000172", "Alice").await;
    let bob = user(&app, "13700000173", "bob").await;
    let c = user(&app, "13700000174", "测试员").await;
    let d = user(&app, "13700000175", "1号").await;
    for u in [&alice, &bob, &c, &d] {
        befriend(&app, &a, u).await;
    }
    let e = user(&app, "13700000176", "追随者").await;
    ok(&call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &e.sid())],
    )
    .await);
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[("toUserId", &bob.sid()), ("remarkName", "老鲍")],
    )
    .await);
    let page = |extra: Vec<(&'static str, String)>| {
        let (app, a) = (&app, a.clone());
        async move {
            let mut pairs: Vec<(&str, &str)> = vec![("userId", "0")];
            for (k, v) in &extra {
                pairs.push((k, v.as_str()));
            }
            ok(&call(app, "/friends/page", &a, &pairs).await).clone()
        }
    };

    // Default: status 2, page 0 of 10.
    let p = page(vec![]).await;
    assert_page(&p, 5, 0, 10);
    assert_eq!(
        ids_of(&p["pageData"]),
        vec![10000, alice.id, bob.id, c.id, d.id]
    );
    let keys: Vec<String> = p["pageData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["orderKey"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["K", "A", "L", "C", "#"]);
    // Keyword: case-insensitive, nickname or remark.
    let p = page(vec![("keyword", "ALI".into())]).await;
    assert_eq!(ids_of(&p["pageData"]), vec![alice.id]);
    assert_eq!(p["total"], 1);
    let p = page(vec![("keyword", "老鲍".into())]).await;
    assert_eq!(ids_of(&p["pageData"]), vec![bob.id]);
    let p = page(vec![("keyword", "测试".into())]).await;
    assert_eq!(ids_of(&p["pageData"]), vec![c.id]);
    // Regex/LIKE metacharacters match literally.
    for k in [".*", "%", "_"] {
        let p = page(vec![("keyword", k.into())]).await;
        assert_eq!(p["total"], 0, "{k}");
    }
    // Status: 1 = follows; 0 or less = any.
    let p = page(vec![("status", "1".into())]).await;
    assert_eq!(ids_of(&p["pageData"]), vec![e.id]);
    let p = page(vec![("status", "0".into())]).await;
    assert_eq!(p["total"], 6);
    // Paging.
    let p = page(vec![("pageIndex", "1".into()), ("pageSize", "2".into())]).await;
    assert_page(&p, 5, 1, 2);
    assert_eq!(ids_of(&p["pageData"]), vec![bob.id, c.id]);
    let p = page(vec![("pageIndex", "9".into()), ("pageSize", "2".into())]).await;
    assert_eq!(p["pageData"], json!([]));
    assert_eq!(p["total"], 5);
    // The web client's huge page sizes are honoured.
    let p = page(vec![("pageSize", "50000".into())]).await;
    assert_page(&p, 5, 0, 50000);
    // userId is required (its value is ignored).
    param_error(&call(&app, "/friends/page", &a, &[]).await, "userId");
}

#[tokio::test]
async fn fans_are_users_following_me() {
    let app = common::spawn().await;
    let a = user(&app, "13700000181", "甲").await;
    let b = user(&app, "13700000182", "乙").await;
    let c = user(&app, "13700000183", "丙").await;
    assert_eq!(
        ok(&call(&app, "/friends/fans/list", &a, &[]).await),
        &json!([])
    );
    for u in [&b, &c] {
        let v = call(
            &app,
            "/friends/attention/add",
            u,
            &[("toUserId", &a.sid()), ("fromAddType", "5")],
        )
        .await;
        assert_eq!(ok(&v)["type"], 1);
    }
    let v = call(&app, "/friends/fans/list", &a, &[]).await;
    let fans = ok(&v).as_array().unwrap().clone();
    assert_eq!(fans.len(), 2);
    assert_sorted(&fans[0]);
    assert_eq!(fans[0]["userId"], a.id);
    assert_eq!(fans[0]["toUserId"], b.id);
    assert_eq!(fans[0]["toNickname"], "乙");
    assert_eq!(fans[0]["status"], 1);
    assert_eq!(fans[0]["fromAddType"], 5);
    assert!(fans[0]["account"].is_string());
    // Accepting (following back) makes B a friend, no longer a pending fan.
    ok(&call(
        &app,
        "/friends/attention/add",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await);
    let v = call(
        &app,
        "/friends/fans/list",
        &a,
        &[("pageIndex", "0"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(ids_of(ok(&v)), vec![c.id]);
    // Nobody else's fans: B's list is its own.
    assert_eq!(
        ok(&call(&app, "/friends/fans/list", &b, &[("userId", &a.sid())]).await),
        &json!([])
    );
}

async fn put_event(app: &TestApp, owner: &U, peer: &U, msg_type: i32, direction: i32, t: i64) {
    app.app
        .store
        .messages
        .put_new_friend(&NewFriend {
            user_id: owner.uid(),
            to_user_id: peer.uid(),
            from: (msg_type == 500).then_some(peer.uid()),
            direction,
            msg_type,
            content: "你好".into(),
            create_time: t,
            modify_time: t,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn new_friend_lists() {
    let app = common::spawn().await;
    let a = user(&app, "13700000191", "甲").await;
    let b = user(&app, "13700000192", "乙").await;
    let c = user(&app, "13700000193", "丙").await;
    put_event(&app, &a, &b, 500, 1, 100).await;
    put_event(&app, &a, &c, 508, 0, 200).await;
    put_event(&app, &b, &c, 500, 0, 300).await;
    befriend(&app, &a, &c).await;

    let v = call(&app, "/friends/newFriend/list", &a, &[("userId", &a.sid())]).await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert_eq!(ids_of(&json!(rows)), vec![c.id, b.id], "newest first");
    assert_sorted(&rows[0]);
    assert_eq!(rows[0]["toNickname"], "丙");
    assert_eq!(rows[0]["status"], 2);
    assert_eq!(rows[0]["type"], 508);
    assert_eq!(rows[0]["direction"], 0);
    assert_eq!(rows[1]["toNickname"], "乙");
    assert_eq!(rows[1]["status"], 0, "no relation");
    assert_eq!(rows[1]["from"], b.id);
    assert_eq!(rows[1]["content"], "你好");
    assert!(rows[0].get("_id").is_none());

    let v = call(
        &app,
        "/friends/newFriendListWeb",
        &a,
        &[("userId", &a.sid()), ("pageIndex", "0"), ("pageSize", "1")],
    )
    .await;
    let p = ok(&v);
    assert_eq!(keys(p), PAGE_KEYS);
    assert_eq!(ids_of(&p["pageData"]), vec![c.id]);
    assert_eq!(p["pageCount"], 2, "a next page exists: {p}");
    let v = call(
        &app,
        "/friends/newFriendListWeb",
        &a,
        &[("userId", &a.sid()), ("pageIndex", "1"), ("pageSize", "1")],
    )
    .await;
    let p = ok(&v);
    assert_page(p, 2, 1, 1);
    assert_eq!(ids_of(&p["pageData"]), vec![b.id]);
    param_error(
        &call(&app, "/friends/newFriend/list", &a, &[]).await,
        "userId",
    );
    param_error(
        &call(&app, "/friends/newFriendListWeb", &a, &[]).await,
        "userId",
    );
}

#[tokio::test]
async fn add_all_friends_sys_befriends_every_public_account() {
    let app = common::spawn().await;
    let public = user(&app, "13700000201", "公众号").await;
    ok(&call(&app, "/user/update", &public, &[("userType", "2")]).await);
    let a = user(&app, "13700000202", "甲").await;
    // Registration already made A a friend of 10000.
    let v = call(&app, "/friends/addAllFriendsSys", &a, &[]).await;
    assert_eq!(ok(&v), &json!([public.id]));
    for (x, y) in [(a.uid(), public.uid()), (public.uid(), a.uid())] {
        let f = rel_ids(&app, x, y).await.unwrap();
        assert_eq!((f.status, f.blacklist), (2, 0));
    }
    assert_eq!(
        rel_ids(&app, a.uid(), public.uid())
            .await
            .unwrap()
            .to_user_type,
        2
    );
    assert_eq!(
        ok(&call(&app, "/friends/addAllFriendsSys", &a, &[]).await),
        &json!([])
    );
    // A blacklist is respected either way.
    let b = user(&app, "13700000203", "乙").await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &b,
        &[("toUserId", &public.sid())],
    )
    .await);
    assert_eq!(
        ok(&call(&app, "/friends/addAllFriendsSys", &b, &[]).await),
        &json!([])
    );
    // 10000 is befriended again after being removed.
    ok(&call(&app, "/friends/delete", &b, &[("toUserId", "10000")]).await);
    assert_eq!(
        ok(&call(&app, "/friends/addAllFriendsSys", &b, &[]).await),
        &json!([10000])
    );
    assert_eq!(rel_ids(&app, b.uid(), 10000).await.unwrap().status, 2);
}

#[tokio::test]
async fn nearby_search_by_account_phone_and_nickname() {
    let app = common::spawn().await;
    let me = user(&app, "13700000211", "我").await;
    let alice = user(&app, "13700000212", "Alice").await;
    let alice2 = user(&app, "13700000213", "alice二号").await;
    let bob = user(&app, "13700000214", "Bob").await;
    let search = |text: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("nickname".to_string(), text.to_string())];
        for (k, v) in extra {
            pairs.push((k.to_string(), v.to_string()));
        }
        let (app, me) = (&app, me.clone());
        async move {
            let p: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            ok(&call(app, "/nearby/nearbyUserWeb", &me, &p).await).clone()
        }
    };
    let user_ids = |page: &Value| -> Vec<i64> {
        page["pageData"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userId"].as_i64().unwrap())
            .collect()
    };

    // Nickname substring, case-insensitive, newest users first.
    let p = search("ALICE", &[]).await;
    assert_page(&p, 2, 0, 10);
    assert_eq!(user_ids(&p), vec![alice2.id, alice.id]);
    let row = &p["pageData"][0];
    assert_sorted(row);
    assert_eq!(row["nickname"], "alice二号");
    for secret in [
        "password",
        "userKey",
        "payPassword",
        "encryAccount",
        "username",
    ] {
        assert!(row.get(secret).is_none(), "{secret} leaked: {row}");
    }
    // Exact phone and exact communication account.
    let p = search("13700000214", &[]).await;
    assert_eq!(user_ids(&p), vec![bob.id]);
    let account = app
        .app
        .store
        .users
        .get_user(bob.uid())
        .await
        .unwrap()
        .unwrap()
        .account;
    assert_eq!(user_ids(&search(&account, &[]).await), vec![bob.id]);
    // A partial phone finds nobody.
    assert_eq!(search("1370000021", &[]).await["total"], 0);

    // The users' own settings: nameSearch 0 hides from nickname search, phoneSearch 0 from
    // phone search; the account still finds them.
    set(&app, &alice, Patch::new().set("settings.nameSearch", 0)).await;
    assert_eq!(user_ids(&search("alice", &[]).await), vec![alice2.id]);
    set(&app, &bob, Patch::new().set("settings.phoneSearch", 0)).await;
    assert_eq!(search("13700000214", &[]).await["total"], 0);
    assert_eq!(user_ids(&search("Bob", &[]).await), vec![bob.id]);
    assert_eq!(user_ids(&search(&account, &[]).await), vec![bob.id]);

    // Paging and filters.
    set(&app, &alice, Patch::new().set("settings.nameSearch", 1)).await;
    let p = search("alice", &[("pageIndex", "1"), ("pageSize", "1")]).await;
    assert_page(&p, 2, 1, 1);
    assert_eq!(user_ids(&p), vec![alice.id]);
    let p = search("alice", &[("userId", &alice.sid())]).await;
    assert_eq!(user_ids(&p), vec![alice.id]);

    // System accounts are never found; no keyword finds nobody.
    assert_eq!(search("客服", &[]).await["total"], 0);
    assert_eq!(search("10000", &[]).await["total"], 0);
    assert_page(&search("", &[]).await, 0, 0, 10);

    // A friend's row carries the relation, as /user/get shows it.
    befriend(&app, &me, &bob).await;
    let p = search("Bob", &[]).await;
    assert_eq!(p["pageData"][0]["friends"]["status"], 2);

    // /nearby/user: the same search as a plain list.
    let v = call(&app, "/nearby/user", &me, &[("nickname", "alice")]).await;
    let list = ok(&v).as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["userId"], alice2.id);
    param_error(
        &call(
            &app,
            "/nearby/user",
            &me,
            &[("nickname", "a"), ("userId", "x")],
        )
        .await,
        "userId",
    );
}

#[tokio::test]
async fn nearby_search_honours_the_server_switches() {
    let app = common::spawn_with(|c| {
        c.client.telephone_search_user = 0;
        c.client.nickname_search_user = 1;
    })
    .await;
    let me = user(&app, "13700000221", "我").await;
    let alice = user(&app, "13700000222", "Alice").await;
    let s = |text: &'static str| {
        let (app, me) = (&app, me.clone());
        async move { ok(&call(app, "/nearby/nearbyUserWeb", &me, &[("nickname", text)]).await).clone() }
    };
    // Phone search off; nickname search exact only.
    assert_eq!(s("13700000222").await["total"], 0);
    assert_eq!(s("Ali").await["total"], 0);
    assert_eq!(s("Alice").await["pageData"][0]["userId"], alice.id);
}

/// A token acts on its owner's relations only: `userId` parameters never select another user.
#[tokio::test]
async fn nobody_reads_or_changes_another_users_relations() {
    let app = common::spawn().await;
    let a = user(&app, "13700000231", "甲").await;
    let b = user(&app, "13700000232", "乙").await;
    let c = user(&app, "13700000233", "丙").await;
    befriend(&app, &b, &c).await;
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &b,
        &[("toUserId", &a.sid())],
    )
    .await);
    let bc_before = rel(&app, &b, &c).await.unwrap();

    // Reads with B's userId answer A's own relations.
    let p = call(&app, "/friends/page", &a, &[("userId", &b.sid())]).await;
    assert_eq!(ids_of(&ok(&p)["pageData"]), vec![10000]);
    let l = call(&app, "/friends/list", &a, &[("userId", &b.sid())]).await;
    assert_eq!(ids_of(ok(&l)), vec![10000]);
    let f = call(
        &app,
        "/friends/friendsAndAttention",
        &a,
        &[("userId", &b.sid()), ("type", "blackList")],
    )
    .await;
    assert_eq!(ok(&f), &json!([]));
    let g = call(
        &app,
        "/friends/get",
        &a,
        &[("userId", &b.sid()), ("toUserId", &c.sid())],
    )
    .await;
    assert!(ok(&g).is_null());
    let att = call(&app, "/friends/attention/list", &a, &[("userId", &b.sid())]).await;
    assert_eq!(ids_of(ok(&att)), vec![10000]);
    assert_eq!(
        ok(&call(&app, "/friends/blacklist", &a, &[("userId", &b.sid())]).await),
        &json!([])
    );

    // Writes with B's userId touch A's relations only.
    let v = call(
        &app,
        "/friends/update/OfflineNoPushMsg",
        &a,
        &[
            ("userId", &b.sid()),
            ("toUserId", &c.sid()),
            ("offlineNoPushMsg", "1"),
        ],
    )
    .await;
    fail(&v, 0, "好友不存在!");
    ok(&call(
        &app,
        "/friends/remark",
        &a,
        &[
            ("userId", &b.sid()),
            ("toUserId", &c.sid()),
            ("remarkName", "x"),
        ],
    )
    .await);
    ok(&call(
        &app,
        "/friends/attention/delete",
        &a,
        &[("userId", &b.sid()), ("toUserId", &c.sid())],
    )
    .await);
    fail(
        &call(
            &app,
            "/friends/delete",
            &a,
            &[("userId", &b.sid()), ("toUserId", &c.sid())],
        )
        .await,
        0,
        "对方不是你的好友!",
    );
    fail(
        &call(
            &app,
            "/friends/update",
            &a,
            &[("userId", &b.sid()), ("toUserId", &c.sid())],
        )
        .await,
        0,
        "好友不存在!",
    );
    // A cannot lift B's blacklist of A.
    let v = call(
        &app,
        "/friends/blacklist/delete",
        &a,
        &[("toUserId", &b.sid())],
    )
    .await;
    fail(&v, 0, &format!("好友：{}不在我的黑名单中", b.id));

    assert_eq!(rel(&app, &b, &c).await.unwrap(), bc_before);
    assert_eq!(rel(&app, &b, &a).await.unwrap().blacklist, 1);
    assert_eq!(rel(&app, &c, &b).await.unwrap().status, 2);

    // Without a token nothing is answered.
    for path in [
        "/friends/page",
        "/friends/get",
        "/friends/add",
        "/friends/attention/add",
        "/friends/blacklist/add",
        "/nearby/nearbyUserWeb",
    ] {
        let v = app
            .post(path, &[("toUserId", &c.sid()), ("userId", &b.sid())])
            .await;
        assert_eq!(v["resultCode"], 1030101, "{path}: {v}");
    }
}
