//! The seed-002 room fixtures (`shiku_room`, `shiku_room_member`,
//! `mucmsg_6c1536dbf97540d1b906d76f4272a90d`) imported and read back through the client
//! endpoints in the seed's shape: `/tigase/shiku_muc_msgs` (seed 002 1.6), `/room/list/his`
//! (1.3) and `/room/get` (1.8), by a member; an outsider is refused.

mod common;

use serde_json::{json, Value};

use common::{ok, TestApp};

const JID: &str = "6c1536dbf97540d1b906d76f4272a90d";
const ROOM_ID: &str = "60210278cb36d459fe88c196";

async fn login(app: &TestApp, phone: &str) -> String {
    let v = app.login(phone, "123456").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"]["access_token"].as_str().unwrap().to_string()
}

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token), ("flag", "rw")];
    all.extend_from_slice(pairs);
    app.get(path, &all).await
}

/// The seed's `/tigase/shiku_muc_msgs` sample rows (the fixture is a verbatim copy).
fn seed_rows() -> Vec<Value> {
    let path = common::fixtures_dir().join(format!("mucmsg_{JID}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The seed's `/room/list/his` room (seed 002 1.3) without the request-specific `member`,
/// `notices` and `id`.
fn seed_room() -> Value {
    json!({
        "adminMaxNumber": 50,
        "allowConference": 1,
        "allowHostUpdate": 1,
        "allowInviteFriend": 1,
        "allowOpenLive": 1,
        "allowSendCard": 1,
        "allowSpeakCourse": 1,
        "allowUploadFile": 1,
        "chatRecordTimeOut": -1.0,
        "createTime": 1612776056,
        "desc": "测试",
        "encryptType": 0,
        "inGroup": false,
        "isAttritionNotice": 1,
        "isLook": 1,
        "isNeedVerify": 0,
        "isSecretGroup": 0,
        "jid": JID,
        "liveStatus": 0,
        "loc": { "lat": 0.0, "lng": 0.0 },
        "maxUserSize": 1000,
        "meetingStatus": 0,
        "modifyTime": 1612776056,
        "name": "测试群",
        "nickname": "张益达",
        "notice": { "modifyTime": 0, "time": 0 },
        "s": 1,
        "showMember": 1,
        "showRead": 0,
        "subject": "",
        "tags": [],
        "talkTime": 0,
        "userId": 100164,
        "userSize": 3,
        "withdrawTime": 0
    })
}

fn same_fields(what: &str, got: &Value, want: &Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&got[k], v, "{what}: field {k}: {got}");
    }
}

/// The room's id as the member's room list gives it.
async fn room_id(app: &TestApp, token: &str) -> String {
    let v = call(app, "/room/list/his", token, &[("pageSize", "50")]).await;
    let rooms = ok(&v).as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{v}");
    same_fields("/room/list/his", &rooms[0], &seed_room());
    assert_eq!(rooms[0]["member"]["userId"], 100158);
    assert_eq!(rooms[0]["member"]["role"], 3);
    rooms[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn seed_room_reads_back_as_the_seed_shows_it() {
    // Seed 002's deployment: its clients read `timeSend` as sent (README "Times").
    let app = common::spawn_with(|c| {
        c.client.history_time_unit = shiku_server::config::HistoryTimeUnit::AsSent
    })
    .await;
    app.import_fixtures().await;
    let token = login(&app, "13800000158").await;

    // Group history: the seed's six rows, newest first, field by field.
    let v = call(
        &app,
        "/tigase/shiku_muc_msgs",
        &token,
        &[("roomId", JID), ("pageIndex", "0"), ("pageSize", "50000")],
    )
    .await;
    assert_eq!(v["resultMsg"], "", "{v}");
    let rows = ok(&v).as_array().unwrap().clone();
    let seed = seed_rows();
    assert_eq!(rows.len(), 6, "{v}");
    for (got, want) in rows.iter().zip(&seed) {
        same_fields("/tigase/shiku_muc_msgs", got, want);
        assert_eq!(got["body"], want["message"], "body and message agree");
    }
    let types: Vec<i64> = rows
        .iter()
        .map(|r| r["contentType"].as_i64().unwrap())
        .collect();
    assert_eq!(types, vec![1, 1, 915, 915, 907, 907], "newest first");
    let ts: Vec<i64> = rows.iter().map(|r| r["ts"].as_i64().unwrap()).collect();
    assert_eq!(
        ts,
        vec![
            1613789786560,
            1613789762558,
            1612925645916,
            1612925643916,
            1612776059065,
            1612776059064
        ]
    );
    let time_send: Vec<i64> = rows
        .iter()
        .map(|r| r["timeSend"].as_i64().unwrap())
        .collect();
    assert_eq!(
        time_send,
        vec![
            1613789795464,
            1613789771972,
            1612925644963,
            1612925642804,
            1612776057333,
            1612776057321
        ]
    );
    for r in &rows {
        assert_eq!(r["room_jid"], JID);
        assert_eq!(r["sender"], "100164");
        assert_eq!(r["readCount"], 0);
        assert_eq!(r["message"], r["body"]);
        assert!(r.get("room_jid_id").is_none(), "{r}");
    }
    for r in &rows[..2] {
        assert_eq!(r["sender_jid"], "100164/web");
    }
    for r in &rows[2..] {
        assert_eq!(r["sender_jid"], "10005/Server");
    }
    assert_eq!(rows[0]["_id"], "60307a5a1bb77153b4e8bbff");
    assert_eq!(rows[0]["content"], "不好");
    assert_eq!(rows[2]["content"], "0");
    assert_eq!(rows[3]["content"], "1");
    let body: Value = serde_json::from_str(rows[5]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], 907);
    assert_eq!(body["fileName"], ROOM_ID);
    assert_eq!(body["objectId"], JID);
    assert_eq!(body["toUserId"], "100158");
    assert_eq!(body["messageHead"]["from"], "10005/Server");
    let other: Value = serde_json::from_str(body["other"].as_str().unwrap()).unwrap();
    assert_eq!(other["maxUserSize"], 1000);

    // The room as the seed shows it, to a member.
    let id = room_id(&app, &token).await;
    let v = call(&app, "/room/get", &token, &[("roomId", &id)]).await;
    let room = ok(&v);
    same_fields("/room/get", room, &seed_room());
    assert_eq!(room["id"], id.as_str());
    assert_eq!(room["notices"], json!([]));
    let members: Vec<(i64, i64)> = room["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["userId"].as_i64().unwrap(), m["role"].as_i64().unwrap()))
        .collect();
    assert_eq!(members.len(), 3, "{room}");
    assert_eq!(members[0], (100164, 1), "the owner first");
    let mut rest = members[1..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![(100158, 3), (100159, 3)]);
    let owner = &room["members"][0];
    assert_eq!(owner["nickname"], "张益达");
    assert_eq!(owner["createTime"], 1612776056);
    assert_eq!(owner["active"], 1612776056);
    assert_eq!(owner["sub"], 1);
    assert_eq!(owner["hiding"], 0);
    assert_eq!(room["member"]["userId"], 100158);
    assert_eq!(room["member"]["nickname"], "测试001");
    assert_eq!(room["member"]["role"], 3);

    // An outsider sees neither.
    let outsider = login(&app, "13800000174").await;
    let v = call(
        &app,
        "/tigase/shiku_muc_msgs",
        &outsider,
        &[("roomId", JID)],
    )
    .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "不是群成员 权限不足!", "{v}");
    assert!(v.get("data").is_none(), "{v}");
    let v = call(&app, "/room/get", &outsider, &[("roomId", &id)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "不是群成员 权限不足!", "{v}");
}

/// The room keeps the seed's id, which its 907 notifications (`fileName`) name.
#[tokio::test]
async fn seed_room_keeps_its_id() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    let token = login(&app, "13800000158").await;
    assert_eq!(room_id(&app, &token).await, ROOM_ID);
    let v = call(&app, "/room/get", &token, &[("roomId", ROOM_ID)]).await;
    let room = ok(&v);
    same_fields("/room/get", room, &seed_room());
    assert_eq!(room["id"], ROOM_ID);
}
