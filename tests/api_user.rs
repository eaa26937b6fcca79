//! Black-box tests of the profile, settings and search endpoints of UserController
//! (spec/reference-server.md 3.2 and 4.2; seed 002 section 1.1).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use shiku_server::domain::auth::USER_AUDIENCE;
use shiku_server::domain::util::md5_hex;
use shiku_server::store::Patch;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_sorted(v: &Value) {
    let ks = keys(v);
    let mut s = ks.clone();
    s.sort();
    assert_eq!(ks, s, "keys are not in fastjson's alphabetical order");
}

fn assert_code(v: &Value, code: i64, msg: &str) {
    assert_eq!(v["resultCode"], code, "{v}");
    assert_eq!(v["resultMsg"], msg, "{v}");
    assert!(v.get("data").is_none(), "{v}");
}

fn assert_param_error(v: &Value, name: &str) {
    assert_eq!(v["resultCode"], 1010101, "{v}");
    let msg = v["resultMsg"].as_str().expect("resultMsg");
    assert!(msg.starts_with("请求参数验证失败"), "{msg}");
    assert!(msg.contains(name), "{msg} does not name {name}");
}

/// A token for a (fixture) user whose password we do not know.
async fn token_for(app: &common::TestApp, uid: i32) -> String {
    app.app
        .tokens
        .issue(&app.app.store, uid, USER_AUDIENCE)
        .await
        .expect("token")
}

/// Server with the fixtures and a token per fixture user (164, 158, 159, 174).
async fn fixture_app() -> (common::TestApp, [String; 4]) {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let t = [
        token_for(&app, 100164).await,
        token_for(&app, 100158).await,
        token_for(&app, 100159).await,
        token_for(&app, 100174).await,
    ];
    (app, t)
}

async fn get_user(app: &common::TestApp, token: &str, user_id: &str) -> Value {
    let v = app
        .post(
            "/user/get",
            &[("access_token", token), ("userId", user_id), ("flag", "rw")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"].clone()
}

/// Seed 002 section 1.1: `GET /user/get?access_token=…&flag=rw` by 100164 itself.
const SEED_USER_GET: &str = r#"{
    "account": "100164373329", "active": 0, "areaCode": "86", "areaId": 0, "attCount": 0,
    "birthday": 0, "cityId": 0, "countryId": 0, "createTime": 1612772503, "description": "",
    "encryAccount": "ccaa643b00b40998dfb81f34ed8fdc78", "fansCount": 0, "friendsCount": 0,
    "idcard": "", "idcardUrl": "", "isAuth": 0, "isOpenResetPwd": 0, "isPasuse": 0, "level": 0,
    "loc": {"lat": 0.0, "lng": 0.0}, "modifyTime": 1612772503, "msgNum": 0, "myInviteCode": "",
    "name": "", "nickname": "张益达", "notLetSeeHim": false, "notSeeHim": false, "num": 0,
    "offlineNoPushMsg": 0, "onlinestate": 0, "password": "1a850742f81ddc04da6f7648a4af0e47",
    "payPassword": "0", "phone": "18094152050", "provinceId": 0, "realNameCertified": 0,
    "role": [2], "setAccountCount": 0,
    "settings": {
        "allowAtt": 1, "allowGreet": 1, "authSwitch": 0, "beInvitedJoinRoom": 0,
        "chatRecordTimeOut": "-1.0", "chatSyncTimeLen": 30.0, "closeTelephoneFind": 1,
        "friendFromList": "1,2,3,4,5", "friendsVerify": 1, "hiding": -1, "isKeepalive": 1,
        "isOpenPrivacyPosition": 1, "isShowMsgState": 1, "isSkidRemoveHistoryMsg": 1,
        "isTyping": 0, "isUseGoogleMap": 0, "isVibration": 0, "multipleDevices": 1,
        "nameSearch": 1, "openService": 0, "phoneSearch": 1, "showLastLoginTime": -1,
        "showTelephone": -1
    },
    "sex": 1, "showLastLoginTime": 1612835799, "status": 1, "telephone": "8618094152050",
    "totalConsume": 0.0, "totalRecharge": 0.0, "userId": 100164,
    "userKey": "aee198505eda1e401e36f36e2c0f4ab5", "userType": 2, "vip": 0, "walletUserNo": 0,
    "withdrawBurnReadTime": 0
}"#;

// ---------------------------------------------------------------------------------------------
// /user/get

#[tokio::test]
async fn get_self_matches_the_seed_sample() {
    let (app, t) = fixture_app().await;
    // Exactly the seed request: GET with access_token and flag=rw, no userId.
    let v = app
        .get("/user/get", &[("access_token", &t[0]), ("flag", "rw")])
        .await;
    assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
    let d = &v["data"];
    let seed: Value = serde_json::from_str(SEED_USER_GET).unwrap();
    for (k, want) in seed.as_object().unwrap() {
        if k == "password" {
            // The reference leaks the md5 password; we never send it (Appendix B).
            assert!(d.get("password").is_none(), "password sent: {d}");
            continue;
        }
        let got = d.get(k).unwrap_or_else(|| panic!("{k} missing: {d}"));
        if k == "settings" {
            // The repo's UserSettings also has isEncrypt, absent from the seed sample.
            for (sk, sv) in want.as_object().unwrap() {
                assert_eq!(&got[sk], sv, "settings.{sk}");
                assert_eq!(got[sk].is_f64(), sv.is_f64(), "settings.{sk}: {got}");
            }
            for sk in keys(got) {
                assert!(want.get(sk).is_some() || sk == "isEncrypt", "settings.{sk}");
            }
            continue;
        }
        assert_eq!(got, want, "{k}");
        // Same JSON type: 0.0 stays a float, "-1.0" a string.
        assert_eq!(got.is_f64(), want.is_f64(), "{k}: {got} vs {want}");
    }
    for k in keys(d) {
        assert!(
            seed.get(k).is_some() || k == "fourElements",
            "unexpected field {k} in /user/get"
        );
    }
    for k in [
        "username",
        "balance",
        "money",
        "moneyTotal",
        "google",
        "_id",
    ] {
        assert!(d.get(k).is_none(), "{k} sent: {d}");
    }
    assert_eq!(d["fourElements"], 0);
    assert_sorted(d);
    assert_sorted(&d["settings"]);
    // userId="" and userId=0 both mean me.
    assert_eq!(get_user(&app, &t[0], "").await["userId"], 100164);
    assert_eq!(get_user(&app, &t[0], "0").await["userId"], 100164);
}

#[tokio::test]
async fn get_self_of_a_new_user_has_the_reference_types() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000001", "pw", "新人").await;
    let d = get_user(&app, &token, "").await;
    assert_eq!(d["userId"], uid);
    assert_eq!(d["nickname"], "新人");
    assert_eq!(d["phone"], "13100000001");
    assert_eq!(d["telephone"], "8613100000001");
    assert_eq!(d["areaCode"], "86");
    assert_eq!(d["userKey"], md5_hex("13100000001"));
    assert_eq!(d["payPassword"], "0");
    assert_eq!(d["status"], 1);
    assert_eq!(d["userType"], 0);
    assert_eq!(d["onlinestate"], 0);
    assert!(d.get("role").is_none(), "no roles, no role field: {d}");
    for k in ["createTime", "modifyTime"] {
        let t = d[k].as_i64().unwrap_or_else(|| panic!("{k}: {d}"));
        assert!((now_secs() - t).abs() < 5, "{k} = {t} is not seconds");
    }
    let account = d["account"].as_str().unwrap();
    assert!(account.starts_with(&uid.to_string()), "{account}");
    assert_eq!(d["encryAccount"], md5_hex(account));
    for k in ["totalConsume", "totalRecharge"] {
        assert!(d[k].is_f64(), "{k} must be a double: {d}");
    }
    assert!(d["loc"]["lat"].is_f64() && d["loc"]["lng"].is_f64(), "{d}");
    for k in [
        "active",
        "areaId",
        "attCount",
        "birthday",
        "cityId",
        "countryId",
        "fansCount",
        "friendsCount",
        "isAuth",
        "level",
        "msgNum",
        "num",
        "offlineNoPushMsg",
        "provinceId",
        "setAccountCount",
        "sex",
        "vip",
        "showLastLoginTime",
    ] {
        assert!(d[k].is_i64(), "{k} must be an integer: {d}");
    }
    assert!(d.get("password").is_none());
    assert_eq!(d["settings"]["chatRecordTimeOut"], "-1.0");
    // showLastLoginTime of self = the registration's login time (seconds).
    assert!((now_secs() - d["showLastLoginTime"].as_i64().unwrap()).abs() < 5);
}

#[tokio::test]
async fn get_other_hides_secrets_and_counters() {
    let (app, t) = fixture_app().await;
    // 100158 looks at its friend 100164 (showTelephone -1, showLastLoginTime -1).
    let d = get_user(&app, &t[1], "100164").await;
    assert_eq!(d["userId"], 100164);
    assert_eq!(d["nickname"], "张益达");
    for k in [
        "password",
        "userKey",
        "payPassword",
        "encryAccount",
        "offlineNoPushMsg",
        "role",
        "username",
        "balance",
        "money",
        "showLastLoginTime",
    ] {
        assert!(d.get(k).is_none(), "{k} shown to another user: {d}");
    }
    for k in ["areaCode", "telephone", "phone"] {
        assert_eq!(d[k], "", "{k} of a showTelephone=-1 user");
    }
    for k in ["attCount", "fansCount", "friendsCount", "msgNum"] {
        assert_eq!(d[k], 0, "{k}");
    }
    assert_eq!(d["totalConsume"], json!(0.0));
    // The relation me -> target.
    let f = &d["friends"];
    assert_eq!(f["userId"], 100158, "{f}");
    assert_eq!(f["toUserId"], 100164);
    assert_eq!(f["status"], 2);
    assert_eq!(f["isBeenBlack"], 0);
    // Settings stay visible (clients check friendsVerify before adding).
    assert_eq!(d["settings"]["friendsVerify"], 1);
    assert_sorted(&d);

    // showLastLoginTime (a top-level field) only when the target's setting allows it:
    // 100158 has 1 (everybody); 100164 had -1 above.
    let d = get_user(&app, &t[3], "100158").await;
    assert!(d["showLastLoginTime"].is_i64(), "{d}");

    // A stranger: no `friends` object.
    let d = get_user(&app, &t[3], "100164").await;
    assert!(d.get("friends").is_none(), "{d}");
    assert!(d.get("password").is_none() && d.get("userKey").is_none());
}

#[tokio::test]
async fn phone_privacy_rules() {
    let (app, t) = fixture_app().await;
    let phone = |d: &Value| {
        (
            d["areaCode"].as_str().unwrap().to_string(),
            d["telephone"].as_str().unwrap().to_string(),
            d["phone"].as_str().unwrap().to_string(),
        )
    };
    let hidden = (String::new(), String::new(), String::new());
    let shown = |p: &str| ("86".to_string(), format!("86{p}"), p.to_string());

    // 100159: showTelephone=2 (friends only). 100164 is its friend; 100158 and 100174 are not.
    assert_eq!(
        phone(&get_user(&app, &t[0], "100159").await),
        shown("13800000159")
    );
    assert_eq!(phone(&get_user(&app, &t[1], "100159").await), hidden);
    assert_eq!(phone(&get_user(&app, &t[3], "100159").await), hidden);
    // ... and it sees its own number.
    assert_eq!(
        phone(&get_user(&app, &t[2], "").await),
        shown("13800000159")
    );

    // 100174: showTelephone=-1 (nobody), even for a friend.
    assert_eq!(phone(&get_user(&app, &t[1], "100174").await), hidden);
    let mut rel = app
        .app
        .store
        .friends
        .get_friend(100158, 100164)
        .await
        .unwrap()
        .unwrap();
    rel.user_id = 100158;
    rel.to_user_id = 100174;
    app.app.store.friends.put_friend(&rel).await.unwrap();
    rel.user_id = 100174;
    rel.to_user_id = 100158;
    app.app.store.friends.put_friend(&rel).await.unwrap();
    assert_eq!(phone(&get_user(&app, &t[1], "100174").await), hidden);
    assert_eq!(
        phone(&get_user(&app, &t[3], "").await),
        shown("13800000174")
    );

    // 100158: showTelephone=1 (everybody).
    assert_eq!(
        phone(&get_user(&app, &t[3], "100158").await),
        shown("13800000158")
    );

    // 100164 (friends with 100159) stays hidden to its friend: its own setting is -1.
    assert_eq!(phone(&get_user(&app, &t[2], "100164").await), hidden);
}

#[tokio::test]
async fn get_by_user_id_or_account_and_unknown_users() {
    let (app, t) = fixture_app().await;
    assert_eq!(
        get_user(&app, &t[1], "100164373329").await["userId"],
        100164
    );
    assert_eq!(get_user(&app, &t[1], " 100159 ").await["userId"], 100159);
    // The system account every client loads (clients.md 2.3).
    let sys = get_user(&app, &t[1], "10000").await;
    assert_eq!(sys["userId"], 10000);
    assert!(sys["nickname"].is_string());
    for missing in ["99999", "nobody", "100164373328"] {
        let v = app
            .post("/user/get", &[("access_token", &t[1]), ("userId", missing)])
            .await;
        assert_code(&v, 0, "该用户不存在!");
    }
}

// ---------------------------------------------------------------------------------------------
// /user/getByAccount

#[tokio::test]
async fn get_by_account_hides_others_phone_numbers() {
    let (app, t) = fixture_app().await;
    let v = app
        .post(
            "/user/getByAccount",
            &[("access_token", &t[3]), ("account", "100158644641")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let d = &v["data"];
    assert_eq!(d["userId"], 100158);
    // Even though 100158's showTelephone is 1.
    assert_eq!(d["telephone"], "");
    assert_eq!(d["phone"], "");
    assert!(d.get("password").is_none() && d.get("userKey").is_none());
    // Self, by numeric userId: visible.
    let v = app
        .get(
            "/user/getByAccount",
            &[("access_token", &t[1]), ("account", "100158")],
        )
        .await;
    assert_eq!(v["data"]["userId"], 100158, "{v}");
    assert_eq!(v["data"]["phone"], "13800000158");

    let v = app
        .post("/user/getByAccount", &[("access_token", &t[1])])
        .await;
    assert_param_error(&v, "account");
    let v = app
        .post(
            "/user/getByAccount",
            &[("access_token", &t[1]), ("account", "nobody")],
        )
        .await;
    assert_code(&v, 0, "该用户不存在!");
}

// ---------------------------------------------------------------------------------------------
// /user/update

#[tokio::test]
async fn update_profile_fields() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000002", "pw", "before").await;
    let created = get_user(&app, &token, "").await["createTime"]
        .as_i64()
        .unwrap();
    let v = app
        .post(
            "/user/update",
            &[
                ("access_token", &token),
                ("nickname", "after"),
                ("description", "个性签名"),
                ("sex", "1"),
                ("birthday", "946684800"),
                ("cityId", "440300"),
                ("name", "Real Name"),
                ("latitude", "22.5"),
                ("longitude", "114.1"),
                ("flag", "rw"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let d = &v["data"];
    assert_eq!(d["userId"], uid);
    assert_eq!(d["nickname"], "after");
    assert_eq!(d["description"], "个性签名");
    assert_eq!(d["sex"], 1);
    assert_eq!(d["birthday"], 946684800);
    assert_eq!(d["cityId"], 440300);
    assert_eq!(d["name"], "Real Name");
    assert_eq!(d["loc"], json!({"lat": 22.5, "lng": 114.1}));
    assert_eq!(d["payPassword"], "0");
    assert!(d.get("password").is_none());
    assert_eq!(d["createTime"], created);
    assert!((now_secs() - d["modifyTime"].as_i64().unwrap()).abs() < 5);

    // Persisted (the profile read just before is not shown again), and what others see.
    assert_eq!(get_user(&app, &token, "").await["nickname"], "after");
    let (_, other) = app.register("13100000003", "pw", "other").await;
    let seen = get_user(&app, &other, &uid.to_string()).await;
    assert_eq!(seen["nickname"], "after");
    assert_eq!(seen["description"], "个性签名");

    // Empty values are "not sent": nothing changes.
    let v = app
        .post(
            "/user/update",
            &[
                ("access_token", &token),
                ("nickname", ""),
                ("description", ""),
                ("sex", ""),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["nickname"], "after");
    assert_eq!(v["data"]["description"], "个性签名");
    assert_eq!(v["data"]["sex"], 1);

    // A blank nickname and a mistyped number are refused, naming the parameter.
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("nickname", "   ")],
        )
        .await;
    assert_param_error(&v, "nickname");
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("birthday", "yesterday")],
        )
        .await;
    assert_param_error(&v, "birthday");
    assert_eq!(get_user(&app, &token, "").await["nickname"], "after");
}

#[tokio::test]
async fn becoming_a_public_account_updates_roles_and_relations() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000020", "pw", "pub").await;
    let f = app
        .app
        .store
        .friends
        .get_friend(10000, uid as i32)
        .await
        .unwrap();
    assert_eq!(f.unwrap().to_user_type, 0);
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("userType", "2")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userType"], 2);
    assert_eq!(v["data"]["role"], json!([2]));
    // Everybody's relation to me now says I am a public account.
    let f = app
        .app
        .store
        .friends
        .get_friend(10000, uid as i32)
        .await
        .unwrap();
    assert_eq!(f.unwrap().to_user_type, 2);
    // Doing it twice does not duplicate the role.
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("userType", "2")],
        )
        .await;
    assert_eq!(v["data"]["role"], json!([2]), "{v}");
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("userType", "5")],
        )
        .await;
    assert_param_error(&v, "userType");
}

#[tokio::test]
async fn pay_password_is_reported_as_set_never_shown() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000021", "pw", "pay").await;
    let (_, other) = app.register("13100000022", "pw", "viewer").await;
    app.app
        .store
        .users
        .update_user(
            uid as i32,
            &Patch::new().set("payPassword", md5_hex("888888")),
        )
        .await
        .unwrap();
    // /user/get of self: the string "1"; to others: absent.
    assert_eq!(get_user(&app, &token, "").await["payPassword"], "1");
    let seen = get_user(&app, &other, &uid.to_string()).await;
    assert!(seen.get("payPassword").is_none(), "{seen}");
    // /user/login: the int 1; /user/login/auto: the string "1".
    let v = app.login("13100000021", "pw").await;
    assert_eq!(v["data"]["payPassword"], 1, "{v}");
    let t = v["data"]["access_token"].as_str().unwrap();
    let v = app.post("/user/login/auto", &[("access_token", t)]).await;
    assert_eq!(v["data"]["payPassword"], "1", "{v}");
    let body = v.to_string() + &seen.to_string();
    assert!(
        !body.contains(&md5_hex("888888")),
        "the pay password leaked"
    );
}

#[tokio::test]
async fn phone_change_moves_the_login_key() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000010", "pw", "p").await;
    app.register("13100000011", "pw", "q").await;
    // Taken by another user.
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("phone", "13100000011")],
        )
        .await;
    assert_code(&v, 0, "手机号已被注册");
    let v = app
        .post(
            "/user/update",
            &[("access_token", &token), ("phone", "1310000001x")],
        )
        .await;
    assert_param_error(&v, "phone");

    let v = app
        .post(
            "/user/update",
            &[
                ("access_token", &token),
                ("phone", "13100000012"),
                ("areaCode", "852"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["phone"], "13100000012");
    assert_eq!(v["data"]["areaCode"], "852");
    assert_eq!(v["data"]["telephone"], "85213100000012");
    assert_eq!(v["data"]["userKey"], md5_hex("13100000012"));
    // Log in with the new number (and its area code); the old one is gone.
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex("13100000012")),
                ("password", &md5_hex("pw")),
                ("areaCode", "852"),
            ],
        )
        .await;
    assert_eq!(v["data"]["userId"], uid, "{v}");
    assert_code(&app.login("13100000010", "pw").await, 0, "帐号或密码错误");
    // The old number is free again, the new one taken.
    let v = app
        .post("/verify/telephone", &[("telephone", "13100000010")])
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let v = app
        .post(
            "/verify/telephone",
            &[("telephone", "13100000012"), ("areaCode", "852")],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

#[tokio::test]
async fn nickname_change_propagates_to_friends_to_nickname() {
    let (app, t) = fixture_app().await;
    for owner in [100158, 100159] {
        let f = app
            .app
            .store
            .friends
            .get_friend(owner, 100164)
            .await
            .unwrap();
        assert_eq!(f.unwrap().to_nickname, "张益达");
    }
    let v = app
        .post(
            "/user/update",
            &[("access_token", &t[0]), ("nickname", "张益达二号")],
        )
        .await;
    assert_eq!(v["data"]["nickname"], "张益达二号", "{v}");
    for owner in [100158, 100159] {
        let f = app
            .app
            .store
            .friends
            .get_friend(owner, 100164)
            .await
            .unwrap();
        assert_eq!(
            f.unwrap().to_nickname,
            "张益达二号",
            "u_friends {owner}->100164"
        );
    }
    // Relations owned by 100164 are untouched.
    let f = app
        .app
        .store
        .friends
        .get_friend(100164, 100158)
        .await
        .unwrap();
    assert_eq!(f.unwrap().to_nickname, "测试001");
    // The friend's view of the relation carries the new name too.
    let d = get_user(&app, &t[1], "100164").await;
    assert_eq!(d["nickname"], "张益达二号");
    assert_eq!(d["friends"]["toNickname"], "张益达二号");
}

#[tokio::test]
async fn account_can_be_changed_once() {
    let (app, t) = fixture_app().await;
    let v = app
        .post(
            "/user/update",
            &[
                ("access_token", &t[1]),
                ("account", "zhang_san01"),
                ("nickname", "ignored on the account path"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let d = &v["data"];
    assert_eq!(d["account"], "zhang_san01");
    assert_eq!(d["encryAccount"], md5_hex("zhang_san01"));
    assert_eq!(d["setAccountCount"], 1);
    assert_eq!(d["nickname"], "测试001", "the account path returns at once");

    // The new account finds the user and logs in (md5 of it as `telephone`).
    assert_eq!(get_user(&app, &t[3], "zhang_san01").await["userId"], 100158);
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex("zhang_san01")),
                ("password", &md5_hex("123456")),
                ("areaCode", "86"),
            ],
        )
        .await;
    assert_eq!(v["data"]["userId"], 100158, "{v}");

    // Once only.
    let v = app
        .post(
            "/user/update",
            &[("access_token", &t[1]), ("account", "another_one")],
        )
        .await;
    assert_code(&v, 0, "通讯号只能修改一次");
    // Unique against other users' accounts and phones.
    for taken in ["zhang_san01", "100164373329", "13800000158"] {
        let v = app
            .post(
                "/user/update",
                &[("access_token", &t[3]), ("account", taken)],
            )
            .await;
        assert_code(&v, 0, "该通讯号已存在");
    }
    // At most 18 characters, and a plain identifier.
    for bad in ["a234567890123456789", "has space", "中文账号"] {
        let v = app
            .post("/user/update", &[("access_token", &t[3]), ("account", bad)])
            .await;
        assert_param_error(&v, "account");
    }
    let u = app.app.store.users.get_user(100174).await.unwrap().unwrap();
    assert_eq!(u.account, "100174228371");
    assert_eq!(u.set_account_count, 0);
}

// ---------------------------------------------------------------------------------------------
// /user/settings and /user/settings/update

#[tokio::test]
async fn settings_of_a_new_user_and_of_others() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let (_, token) = app.register("13100000004", "pw", "s").await;
    let v = app
        .post(
            "/user/settings",
            &[("access_token", &token), ("userId", "0")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(
        v["data"],
        json!({
            "allowAtt": 1, "allowGreet": 1, "authSwitch": 0, "beInvitedJoinRoom": 0,
            "chatRecordTimeOut": "-1.0", "chatSyncTimeLen": -2.0, "closeTelephoneFind": 1,
            "friendFromList": "1,2,3,4,5", "friendsVerify": 1, "hiding": -1, "isEncrypt": 0,
            "isKeepalive": 1, "isOpenPrivacyPosition": 1, "isShowMsgState": 1,
            "isSkidRemoveHistoryMsg": 1, "isTyping": 0, "isUseGoogleMap": 0, "isVibration": 0,
            "multipleDevices": 1, "nameSearch": 1, "openService": 0, "phoneSearch": 1,
            "showLastLoginTime": 1, "showTelephone": 2
        })
    );
    assert_sorted(&v["data"]);
    assert!(v["data"]["chatSyncTimeLen"].is_f64());

    // Another user's settings (the seed's values, numbers as stored).
    let v = app
        .get(
            "/user/settings",
            &[("access_token", &token), ("userId", "100164")],
        )
        .await;
    assert_eq!(v["data"]["chatSyncTimeLen"], json!(30.0), "{v}");
    assert_eq!(v["data"]["chatRecordTimeOut"], "-1.0");
    assert_eq!(v["data"]["showTelephone"], -1);

    let v = app
        .post("/user/settings", &[("access_token", &token)])
        .await;
    assert_param_error(&v, "userId");
    let v = app
        .post(
            "/user/settings",
            &[("access_token", &token), ("userId", "me")],
        )
        .await;
    assert_param_error(&v, "userId");
    let v = app
        .post(
            "/user/settings",
            &[("access_token", &token), ("userId", "99999")],
        )
        .await;
    assert_code(&v, 0, "该用户不存在!");
}

async fn settings_update(app: &common::TestApp, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut p = vec![("access_token", token)];
    p.extend_from_slice(pairs);
    let v = app.post("/user/settings/update", &p).await;
    assert_eq!(v["resultCode"], 1, "{pairs:?}: {v}");
    // The answer is the updated User object.
    assert!(v["data"]["userId"].is_i64(), "{v}");
    assert!(v["data"].get("password").is_none());
    v["data"]["settings"].clone()
}

#[tokio::test]
async fn settings_update_follows_the_reference_rule() {
    let app = common::spawn().await;
    let (_, token) = app.register("13100000005", "pw", "s").await;
    let s = settings_update(
        &app,
        &token,
        &[
            ("allowAtt", "0"),
            ("allowGreet", "0"),
            ("openService", "1"),
            ("closeTelephoneFind", "1"),
            ("friendsVerify", "0"),
            ("isTyping", "1"),
            ("isEncrypt", "1"),
            ("multipleDevices", "0"),
            ("showTelephone", "-1"),
            ("showLastLoginTime", "2"),
            ("phoneSearch", "0"),
            ("nameSearch", "0"),
            ("isKeepalive", "0"),
            ("isUseGoogleMap", "1"),
            ("chatRecordTimeOut", "7天"),
            ("chatSyncTimeLen", "30"),
            ("friendFromList", "1,2"),
        ],
    )
    .await;
    assert_eq!(s["allowAtt"], 0);
    assert_eq!(s["allowGreet"], 0);
    assert_eq!(s["openService"], 1);
    assert_eq!(s["closeTelephoneFind"], 1);
    assert_eq!(s["friendsVerify"], 0);
    assert_eq!(s["isTyping"], 1);
    assert_eq!(s["isEncrypt"], 1);
    assert_eq!(s["multipleDevices"], 0);
    assert_eq!(s["showTelephone"], -1);
    assert_eq!(s["showLastLoginTime"], 2);
    assert_eq!(s["phoneSearch"], 0);
    assert_eq!(s["nameSearch"], 0);
    assert_eq!(s["isKeepalive"], 0);
    assert_eq!(s["isUseGoogleMap"], 1);
    // "天" stripped, stored as a double, read back as Java's Double.toString.
    assert_eq!(s["chatRecordTimeOut"], "7.0");
    assert_eq!(s["chatSyncTimeLen"], json!(30.0));
    assert_eq!(s["friendFromList"], "1,2");

    // Only isVibration sent: allowAtt/allowGreet/openService/closeTelephoneFind reset to
    // 1/1/-1/0, multipleDevices to its default 1; every "-1/0 = unchanged" field keeps its value.
    let s = settings_update(&app, &token, &[("isVibration", "1")]).await;
    assert_eq!(s["isVibration"], 1);
    assert_eq!(s["allowAtt"], 1);
    assert_eq!(s["allowGreet"], 1);
    assert_eq!(s["openService"], -1);
    assert_eq!(s["closeTelephoneFind"], 0);
    assert_eq!(s["multipleDevices"], 1);
    assert_eq!(s["friendsVerify"], 0);
    assert_eq!(s["isTyping"], 1);
    assert_eq!(s["isEncrypt"], 1);
    assert_eq!(s["showTelephone"], -1);
    assert_eq!(s["showLastLoginTime"], 2);
    assert_eq!(s["phoneSearch"], 0);
    assert_eq!(s["nameSearch"], 0);
    assert_eq!(s["isKeepalive"], 0);
    assert_eq!(s["isUseGoogleMap"], 1);
    assert_eq!(s["chatRecordTimeOut"], "7.0");
    assert_eq!(s["chatSyncTimeLen"], json!(30.0));
    assert_eq!(s["friendFromList"], "1,2");

    // Explicit "unchanged" values change nothing.
    let s = settings_update(
        &app,
        &token,
        &[
            ("friendsVerify", "-1"),
            ("isTyping", "-1"),
            ("showTelephone", "0"),
            ("chatRecordTimeOut", "0"),
            ("chatSyncTimeLen", "0"),
            ("allowAtt", "0"),
        ],
    )
    .await;
    assert_eq!(s["friendsVerify"], 0);
    assert_eq!(s["isTyping"], 1);
    assert_eq!(s["showTelephone"], -1);
    assert_eq!(s["chatRecordTimeOut"], "7.0");
    assert_eq!(s["chatSyncTimeLen"], json!(30.0));
    assert_eq!(s["allowAtt"], 0);

    // Fractions of a day and "永久" (-1) as the clients send them.
    let s = settings_update(&app, &token, &[("chatRecordTimeOut", "0.04")]).await;
    assert_eq!(s["chatRecordTimeOut"], "0.04");
    let s = settings_update(&app, &token, &[("chatRecordTimeOut", "-1")]).await;
    assert_eq!(s["chatRecordTimeOut"], "-1.0");

    // Read back through /user/settings (openService reset to -1 by the calls without it).
    let v = app
        .post(
            "/user/settings",
            &[("access_token", &token), ("userId", "0")],
        )
        .await;
    assert_eq!(v["data"]["openService"], -1, "{v}");
    assert_eq!(v["data"]["allowAtt"], 1, "{v}");
    assert_eq!(v["data"]["chatRecordTimeOut"], "-1.0");

    // Mistyped values are refused, naming the parameter, and change nothing (a partial
    // apply would reset allowAtt and openService).
    settings_update(&app, &token, &[("allowAtt", "0"), ("openService", "1")]).await;
    for (k, bad) in [
        ("allowAtt", "yes"),
        ("chatRecordTimeOut", "forever"),
        ("chatRecordTimeOut", "NaN"),
        ("chatRecordTimeOut", "inf天"),
        ("chatRecordTimeOut", "1e309"),
        ("chatSyncTimeLen", "NaN"),
    ] {
        let v = app
            .post(
                "/user/settings/update",
                &[("access_token", &token), (k, bad)],
            )
            .await;
        assert_param_error(&v, k);
    }
    let v = app
        .post(
            "/user/settings",
            &[("access_token", &token), ("userId", "0")],
        )
        .await;
    assert_eq!(v["data"]["allowAtt"], 0, "{v}");
    assert_eq!(v["data"]["openService"], 1, "{v}");
}

// ---------------------------------------------------------------------------------------------
// /user/query

async fn query_ids(app: &common::TestApp, token: &str, pairs: &[(&str, &str)]) -> Vec<i64> {
    let mut p = vec![("access_token", token)];
    p.extend_from_slice(pairs);
    let v = app.post("/user/query", &p).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("data is not an array: {v}"))
        .iter()
        .map(|u| {
            // Stripped from every row, the caller's own included (reference UserQueryExample).
            for k in ["password", "userKey", "status", "money", "moneyTotal"] {
                assert!(u.get(k).is_none(), "{k} in a /user/query row: {u}");
            }
            u["userId"].as_i64().expect("userId")
        })
        .collect()
}

#[tokio::test]
async fn query_pages_by_user_id_cursor_descending() {
    let (app, t) = fixture_app().await;
    // Not a directory: without a nickname nobody is listed.
    assert!(query_ids(&app, &t[1], &[]).await.is_empty());
    assert!(query_ids(&app, &t[1], &[("sex", "1")]).await.is_empty());
    let all = query_ids(&app, &t[1], &[("nickname", "0")]).await;
    assert_eq!(all, [100174, 100159, 100158, 100102]);

    let page1 = query_ids(&app, &t[1], &[("pageSize", "2"), ("nickname", "0")]).await;
    assert_eq!(page1, [100174, 100159]);
    let cursor = page1.last().unwrap().to_string();
    let page2 = query_ids(
        &app,
        &t[1],
        &[("pageSize", "2"), ("userId", &cursor), ("nickname", "0")],
    )
    .await;
    assert_eq!(page2, [100158, 100102]);

    let by_name = query_ids(&app, &t[1], &[("nickname", "测试")]).await;
    assert_eq!(by_name, [100174, 100158]);
    let by_sex = query_ids(
        &app,
        &t[1],
        &[("sex", "1"), ("userId", "100160"), ("nickname", "0")],
    )
    .await;
    assert_eq!(by_sex, [100159, 100158, 100102]);
    // Every fixture user has sex 1; the system users (sex 0) are never listed.
    let by_sex = query_ids(&app, &t[1], &[("sex", "0"), ("nickname", "0")]).await;
    assert!(by_sex.is_empty(), "{by_sex:?}");

    // Rows are what other users may see: privacy applies.
    let v = app
        .post(
            "/user/query",
            &[("access_token", &t[1]), ("nickname", "测试002")],
        )
        .await;
    assert_eq!(v["data"][0]["userId"], 100174, "{v}");
    assert_eq!(v["data"][0]["phone"], "");

    let v = app
        .post(
            "/user/query",
            &[("access_token", &t[1]), ("pageSize", "ten")],
        )
        .await;
    assert_param_error(&v, "pageSize");
}

// ---------------------------------------------------------------------------------------------
// /user/getOnLine, /user/update/OfflineNoPushMsg, /user/outtime

#[tokio::test]
async fn get_online_is_an_integer_flag() {
    let (app, t) = fixture_app().await;
    for pairs in [vec![], vec![("userId", "100164")], vec![("userId", "0")]] {
        let mut p = vec![("access_token", t[1].as_str())];
        p.extend(pairs);
        let v = app.post("/user/getOnLine", &p).await;
        assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
        assert_eq!(v["data"], 0, "nobody is connected: {v}");
    }
    app.app
        .store
        .users
        .update_user(100164, &Patch::new().set("onlinestate", 1))
        .await
        .unwrap();
    let v = app
        .get(
            "/user/getOnLine",
            &[("access_token", &t[1]), ("userId", "100164")],
        )
        .await;
    assert_eq!(v["data"], 1, "{v}");
    let v = app
        .post(
            "/user/getOnLine",
            &[("access_token", &t[1]), ("userId", "99999")],
        )
        .await;
    assert_code(&v, 0, "该用户不存在!");
    let v = app
        .post(
            "/user/getOnLine",
            &[("access_token", &t[1]), ("userId", "x")],
        )
        .await;
    assert_param_error(&v, "userId");
}

#[tokio::test]
async fn offline_no_push_msg_is_set_and_reported() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000006", "pw", "push").await;
    let v = app
        .post(
            "/user/update/OfflineNoPushMsg",
            &[("access_token", &token), ("offlineNoPushMsg", "1")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid);
    assert_eq!(v["data"]["offlineNoPushMsg"], 1);
    let u = app
        .app
        .store
        .users
        .get_user(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.offline_no_push_msg, 1);
    assert_eq!(
        app.login("13100000006", "pw").await["data"]["offlineNoPushMsg"],
        1
    );

    let v = app
        .get(
            "/user/update/OfflineNoPushMsg",
            &[("access_token", &token), ("offlineNoPushMsg", "0")],
        )
        .await;
    assert_eq!(v["data"]["offlineNoPushMsg"], 0, "{v}");

    for bad in [
        vec![],
        vec![("offlineNoPushMsg", "2")],
        vec![("offlineNoPushMsg", "on")],
    ] {
        let mut p = vec![("access_token", token.as_str())];
        p.extend(bad);
        let v = app.post("/user/update/OfflineNoPushMsg", &p).await;
        assert_param_error(&v, "offlineNoPushMsg");
    }
    assert_eq!(get_user(&app, &token, "").await["offlineNoPushMsg"], 0);
}

#[tokio::test]
async fn outtime_records_the_offline_time() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13100000007", "pw", "out").await;
    let before = app
        .app
        .store
        .users
        .get_login_log(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.login_log.offline_time, 0);
    let v = app
        .post(
            "/user/outtime",
            &[("access_token", &token), ("userId", &uid.to_string())],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    let after = app
        .app
        .store
        .users
        .get_login_log(uid as i32)
        .await
        .unwrap()
        .unwrap();
    assert!((now_secs() - after.login_log.offline_time).abs() < 5);
    // The token is not revoked by outtime.
    assert_eq!(get_user(&app, &token, "").await["userId"], uid);
    // The next login reports it as login.offlineTime (the web client's MUC history window).
    let v = app.login("13100000007", "pw").await;
    assert_eq!(
        v["data"]["login"]["offlineTime"],
        after.login_log.offline_time
    );
}
