//! Shiku documents as the reference stores them (spec/reference-server.md section 4).
//!
//! Field names and JSON/BSON types follow the Java entities so that both stores keep the
//! reference shape. Numeric fields are read leniently because real Shiku databases hold the
//! same field as int32, int64, double or string depending on the writer's generation.

use serde::{Deserialize, Serialize};

use super::lenient;

/// A Shiku user (`user` collection, `User.java`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    #[serde(rename = "_id", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// md5(phone): the login key.
    #[serde(rename = "userKey", default, deserialize_with = "lenient::string")]
    pub user_key: String,
    /// Not serialised to clients; "" as the reference inserts it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub username: String,
    /// argon2 PHC string over the client's md5, or a legacy bare md5 (32 hex).
    #[serde(default, deserialize_with = "lenient::string")]
    pub password: String,
    #[serde(
        rename = "payPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_password: Option<String>,
    #[serde(rename = "userType", default, deserialize_with = "lenient::i32")]
    pub user_type: i32,
    /// areaCode + phone, the registration uniqueness key.
    #[serde(default, deserialize_with = "lenient::string")]
    pub telephone: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub phone: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account: String,
    #[serde(rename = "encryAccount", default, deserialize_with = "lenient::string")]
    pub encry_account: String,
    #[serde(rename = "setAccountCount", default, deserialize_with = "lenient::i32")]
    pub set_account_count: i32,
    #[serde(rename = "areaCode", default, deserialize_with = "lenient::string")]
    pub area_code: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub nickname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: String,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub birthday: i64,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub sex: i32,
    #[serde(default)]
    pub loc: Loc,
    #[serde(rename = "countryId", default, deserialize_with = "lenient::i32")]
    pub country_id: i32,
    #[serde(rename = "provinceId", default, deserialize_with = "lenient::i32")]
    pub province_id: i32,
    #[serde(rename = "cityId", default, deserialize_with = "lenient::i32")]
    pub city_id: i32,
    #[serde(rename = "areaId", default, deserialize_with = "lenient::i32")]
    pub area_id: i32,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub money: f64,
    #[serde(rename = "moneyTotal", default, deserialize_with = "lenient::f64")]
    pub money_total: f64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub balance: f64,
    #[serde(rename = "totalRecharge", default, deserialize_with = "lenient::f64")]
    pub total_recharge: f64,
    #[serde(rename = "totalConsume", default, deserialize_with = "lenient::f64")]
    pub total_consume: f64,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub level: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub vip: i32,
    #[serde(rename = "friendsCount", default, deserialize_with = "lenient::i32")]
    pub friends_count: i32,
    #[serde(rename = "fansCount", default, deserialize_with = "lenient::i32")]
    pub fans_count: i32,
    #[serde(rename = "attCount", default, deserialize_with = "lenient::i32")]
    pub att_count: i32,
    #[serde(rename = "msgNum", default, deserialize_with = "lenient::i32")]
    pub msg_num: i32,
    /// Seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    /// Seconds.
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub idcard: String,
    #[serde(rename = "idcardUrl", default, deserialize_with = "lenient::string")]
    pub idcard_url: String,
    #[serde(rename = "isAuth", default, deserialize_with = "lenient::i32")]
    pub is_auth: i32,
    /// 1 normal, -1 locked.
    #[serde(default = "one", deserialize_with = "lenient::i32")]
    pub status: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub onlinestate: i32,
    #[serde(
        rename = "regInviteCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reg_invite_code: Option<String>,
    /// Last seen, seconds.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub active: i64,
    #[serde(
        rename = "offlineNoPushMsg",
        default,
        deserialize_with = "lenient::i32"
    )]
    pub offline_no_push_msg: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(rename = "appId", default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(
        rename = "msgBackGroundUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_back_ground_url: Option<String>,
    /// Top-level copy written by `/user/update` (the reference's quirk; settings hold the real one).
    #[serde(
        rename = "multipleDevices",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i32"
    )]
    pub multiple_devices: Option<i32>,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub num: i32,
    #[serde(rename = "isPasuse", default, deserialize_with = "lenient::i32")]
    pub is_pasuse: i32,
    #[serde(default)]
    pub settings: UserSettings,
}

fn one() -> i32 {
    1
}

/// `loc` sub-document `{lng, lat}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Loc {
    #[serde(default, deserialize_with = "lenient::f64")]
    pub lng: f64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub lat: f64,
}

/// `user.settings` (`User.UserSettings`), initial values from the system config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserSettings {
    #[serde(
        rename = "allowAtt",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_att: i32,
    #[serde(
        rename = "allowGreet",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_greet: i32,
    #[serde(
        rename = "friendsVerify",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub friends_verify: i32,
    #[serde(rename = "openService", default, deserialize_with = "lenient::i32")]
    pub open_service: i32,
    #[serde(rename = "isVibration", default, deserialize_with = "lenient::i32")]
    pub is_vibration: i32,
    #[serde(rename = "isTyping", default, deserialize_with = "lenient::i32")]
    pub is_typing: i32,
    #[serde(rename = "isUseGoogleMap", default, deserialize_with = "lenient::i32")]
    pub is_use_google_map: i32,
    #[serde(rename = "isEncrypt", default, deserialize_with = "lenient::i32")]
    pub is_encrypt: i32,
    #[serde(
        rename = "multipleDevices",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub multiple_devices: i32,
    #[serde(
        rename = "closeTelephoneFind",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub close_telephone_find: i32,
    /// Days (double); -1 keeps forever. Clients read it back as the string "-1.0".
    #[serde(
        rename = "chatRecordTimeOut",
        default = "minus_one",
        deserialize_with = "lenient::f64"
    )]
    pub chat_record_time_out: f64,
    /// Days (double).
    #[serde(
        rename = "chatSyncTimeLen",
        default = "minus_two",
        deserialize_with = "lenient::f64"
    )]
    pub chat_sync_time_len: f64,
    #[serde(
        rename = "isKeepalive",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub is_keepalive: i32,
    #[serde(
        rename = "phoneSearch",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub phone_search: i32,
    #[serde(
        rename = "nameSearch",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub name_search: i32,
    #[serde(
        rename = "showLastLoginTime",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub show_last_login_time: i32,
    #[serde(
        rename = "showTelephone",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub show_telephone: i32,
    #[serde(
        rename = "friendFromList",
        default = "friend_from_list",
        deserialize_with = "lenient::string"
    )]
    pub friend_from_list: String,
    /// Settings of other Shiku generations (`hiding`, `authSwitch`, …), kept as stored.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn minus_one() -> f64 {
    -1.0
}
fn minus_two() -> f64 {
    -2.0
}
fn friend_from_list() -> String {
    "1,2,3,4,5".into()
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings {
            allow_att: 1,
            allow_greet: 1,
            friends_verify: 1,
            open_service: 0,
            is_vibration: 0,
            is_typing: 0,
            is_use_google_map: 0,
            is_encrypt: 0,
            multiple_devices: 1,
            close_telephone_find: 1,
            chat_record_time_out: -1.0,
            chat_sync_time_len: -2.0,
            is_keepalive: 1,
            phone_search: 1,
            name_search: 1,
            show_last_login_time: 1,
            show_telephone: 1,
            friend_from_list: friend_from_list(),
            extra: serde_json::Map::new(),
        }
    }
}

/// `userLoginLog.loginLog` (and `/user/login`'s `login` object).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LoginLog {
    #[serde(rename = "isFirstLogin", default, deserialize_with = "lenient::i32")]
    pub is_first_login: i32,
    /// Seconds.
    #[serde(rename = "loginTime", default, deserialize_with = "lenient::i64")]
    pub login_time: i64,
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    #[serde(rename = "osVersion", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub latitude: f64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Seconds; 0 = never logged out.
    #[serde(rename = "offlineTime", default, deserialize_with = "lenient::i64")]
    pub offline_time: i64,
}

/// One device entry of `userLoginLog.deviceMap`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    #[serde(rename = "loginTime", default, deserialize_with = "lenient::i64")]
    pub login_time: i64,
    #[serde(rename = "deviceKey", default, deserialize_with = "lenient::string")]
    pub device_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adress: Option<String>,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub online: i32,
    #[serde(rename = "appId", default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(rename = "pushServer", default, deserialize_with = "lenient::string")]
    pub push_server: String,
    #[serde(rename = "pushToken", default, deserialize_with = "lenient::string")]
    pub push_token: String,
    #[serde(rename = "voipToken", default, skip_serializing_if = "Option::is_none")]
    pub voip_token: Option<String>,
    #[serde(rename = "offlineTime", default, deserialize_with = "lenient::i64")]
    pub offline_time: i64,
}

/// `userLoginLog` document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserLoginLog {
    #[serde(rename = "_id", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(rename = "loginLog", default)]
    pub login_log: LoginLog,
    #[serde(rename = "deviceMap", default)]
    pub device_map: std::collections::BTreeMap<String, DeviceInfo>,
}

/// `userRoles` document (admin and special roles).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRole {
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "lenient::i32")]
    pub role: i32,
    #[serde(default = "one", deserialize_with = "lenient::i32")]
    pub status: i32,
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "lastLoginTime", default, deserialize_with = "lenient::i64")]
    pub last_login_time: i64,
}

/// One direction of a relation (`u_friends`, `Friends.java`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Friend {
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(rename = "toUserId", deserialize_with = "lenient::i32")]
    pub to_user_id: i32,
    #[serde(rename = "toNickname", default, deserialize_with = "lenient::string")]
    pub to_nickname: String,
    #[serde(
        rename = "remarkName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub remark_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<String>,
    /// 1 attention, 2 friend, 0 stranger, -1 blacklisted.
    #[serde(deserialize_with = "lenient::i32")]
    pub status: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub blacklist: i32,
    #[serde(rename = "isBeenBlack", default, deserialize_with = "lenient::i32")]
    pub is_been_black: i32,
    #[serde(
        rename = "offlineNoPushMsg",
        default,
        deserialize_with = "lenient::i32"
    )]
    pub offline_no_push_msg: i32,
    #[serde(rename = "isOpenSnapchat", default, deserialize_with = "lenient::i32")]
    pub is_open_snapchat: i32,
    #[serde(rename = "openTopChatTime", default, deserialize_with = "lenient::i64")]
    pub open_top_chat_time: i64,
    #[serde(
        rename = "chatRecordTimeOut",
        default = "minus_one",
        deserialize_with = "lenient::f64"
    )]
    pub chat_record_time_out: f64,
    #[serde(rename = "fromAddType", default, deserialize_with = "lenient::i32")]
    pub from_add_type: i32,
    #[serde(rename = "toUserType", default, deserialize_with = "lenient::i32")]
    pub to_user_type: i32,
    #[serde(
        rename = "toFriendsRole",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to_friends_role: Vec<i32>,
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
    #[serde(rename = "lastTalkTime", default, deserialize_with = "lenient::i64")]
    pub last_talk_time: i64,
    #[serde(rename = "msgNum", default, deserialize_with = "lenient::i32")]
    pub msg_num: i32,
}

/// One owner's copy of a single-chat message (`tigase.shiku_msgs`), in the seed-002 shape:
/// a 1:1 message is stored twice, `direction` 0 owned by the sender, 1 by the receiver, and
/// `sender` is always the owner (so the receiver's copy has sender/receiver swapped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MsgRow {
    /// Store id (24-hex ObjectId in MongoDB); None before insert.
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    /// The message body JSON (the newer generation's field).
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
    /// The same JSON (the Tigase generation's field, read by the jQuery client).
    #[serde(default, deserialize_with = "lenient::string")]
    pub body: String,
    /// 0 = the owner sent it, 1 = the owner received it.
    #[serde(deserialize_with = "lenient::i32")]
    pub direction: i32,
    /// The owner's userId.
    #[serde(deserialize_with = "lenient::string")]
    pub sender: String,
    /// The other party's userId.
    #[serde(deserialize_with = "lenient::string")]
    pub receiver: String,
    /// The real sender's JID as the seed writes it (`100164/web`, `10005/Server`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub sender_jid: String,
    /// The real receiver as addressed (`100102`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub receiver_jid: String,
    /// Server time at storage, ms; orders history and bounds time ranges.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub ts: i64,
    #[serde(rename = "contentType", default, deserialize_with = "lenient::i32")]
    pub content_type: i32,
    #[serde(rename = "messageId", default, deserialize_with = "lenient::string")]
    pub message_id: String,
    /// As the client sent it: seconds (jQuery, may have a fraction) or ms (newer clients).
    #[serde(rename = "timeSend", default = "zero_number")]
    pub time_send: serde_json::Number,
    /// Expiry, seconds; 0 or -1 = never.
    #[serde(rename = "deleteTime", default, deserialize_with = "lenient::i64")]
    pub delete_time: i64,
    #[serde(rename = "isRead", default, deserialize_with = "lenient::i32")]
    pub is_read: i32,
    #[serde(rename = "isEncrypt", default, deserialize_with = "lenient::bool")]
    pub is_encrypt: bool,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
}

fn zero_number() -> serde_json::Number {
    serde_json::Number::from(0)
}

/// One conversation-list row (`tigase.shiku_lastChats`), field order as the seed shows it.
/// Single chat: one row per owner (`userId`) and peer (`jid`), `isRoom` 0. Room: one row per
/// room `jid`, `isRoom` 1, `userId` = last sender.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LastChat {
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub msg_type: i32,
    #[serde(rename = "messageId", default, deserialize_with = "lenient::string")]
    pub message_id: String,
    /// As the message carried it (see `MsgRow::time_send`).
    #[serde(rename = "timeSend", default = "zero_number")]
    pub time_send: serde_json::Number,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(rename = "userId", deserialize_with = "lenient::string")]
    pub user_id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub jid: String,
    #[serde(rename = "isRoom", default, deserialize_with = "lenient::i32")]
    pub is_room: i32,
    #[serde(rename = "isEncrypt", default, deserialize_with = "lenient::bool")]
    pub is_encrypt: bool,
    #[serde(rename = "encryptType", default, deserialize_with = "lenient::i32")]
    pub encrypt_type: i32,
    /// The sender as `<userId>/<resource>`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub from: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub to: String,
    #[serde(rename = "fromUserName", default, deserialize_with = "lenient::string")]
    pub from_user_name: String,
    #[serde(rename = "toUserName", default, deserialize_with = "lenient::string")]
    pub to_user_name: String,
    /// Server ms of the message (ours; orders the list across clients' units).
    #[serde(default, deserialize_with = "lenient::i64")]
    pub ts: i64,
}

/// A friend-protocol event (`NewFriends`), one per ordered pair, from the owner's view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewFriend {
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(rename = "toUserId", deserialize_with = "lenient::i32")]
    pub to_user_id: i32,
    /// Only for type 500 (the greeting's sender).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i32"
    )]
    pub from: Option<i32>,
    /// 0 sent by the owner, 1 received.
    #[serde(deserialize_with = "lenient::i32")]
    pub direction: i32,
    /// The 5xx code.
    #[serde(rename = "type", deserialize_with = "lenient::i32")]
    pub msg_type: i32,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
}

/// A pinned conversation (`stick_dialog`, seed 002).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StickDialog {
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(deserialize_with = "lenient::string")]
    pub jid: String,
    /// 0 a user jid, 1 a room jid.
    #[serde(rename = "isRoom", default, deserialize_with = "lenient::i32")]
    pub is_room: i32,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub time: i64,
}

/// A room's latest notice embedded in the room (`{time:0, modifyTime:0}` when none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Notice {
    /// Notice id (ObjectId hex), absent on the empty notice.
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    /// The room's id (ObjectId hex).
    #[serde(
        rename = "roomId",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(
        rename = "userId",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i32"
    )]
    pub user_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub time: i64,
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
}

/// A room (`imRoom.shiku_room`, `Room.java`). Two ids: `id` (ObjectId, the `roomId` of every
/// `/room/*` call) and the client-generated 32-hex `jid` (MUC name, `mucmsg_<jid>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Room {
    #[serde(rename = "_id", deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub jid: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub desc: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub subject: String,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub category: i32,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub call: i32,
    #[serde(rename = "videoMeetingNo", default, deserialize_with = "lenient::i32")]
    pub video_meeting_no: i32,
    #[serde(default)]
    pub notice: Notice,
    /// Members, maintained with `$inc`.
    #[serde(rename = "userSize", default, deserialize_with = "lenient::i32")]
    pub user_size: i32,
    #[serde(rename = "maxUserSize", default, deserialize_with = "lenient::i32")]
    pub max_user_size: i32,
    #[serde(rename = "countryId", default, deserialize_with = "lenient::i32")]
    pub country_id: i32,
    #[serde(rename = "provinceId", default, deserialize_with = "lenient::i32")]
    pub province_id: i32,
    #[serde(rename = "cityId", default, deserialize_with = "lenient::i32")]
    pub city_id: i32,
    #[serde(rename = "areaId", default, deserialize_with = "lenient::i32")]
    pub area_id: i32,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub longitude: f64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub latitude: f64,
    /// The owner.
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// The owner's nickname.
    #[serde(default, deserialize_with = "lenient::string")]
    pub nickname: String,
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i32"
    )]
    pub modifier: Option<i32>,
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
    /// 1 normal, -1 locked by the console.
    #[serde(default = "one", deserialize_with = "lenient::i32")]
    pub s: i32,
    /// 1 private (not searchable), 0 public.
    #[serde(rename = "isLook", default = "one", deserialize_with = "lenient::i32")]
    pub is_look: i32,
    #[serde(rename = "showRead", default, deserialize_with = "lenient::i32")]
    pub show_read: i32,
    #[serde(rename = "isNeedVerify", default, deserialize_with = "lenient::i32")]
    pub is_need_verify: i32,
    #[serde(
        rename = "showMember",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub show_member: i32,
    #[serde(
        rename = "allowSendCard",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_send_card: i32,
    #[serde(
        rename = "allowHostUpdate",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_host_update: i32,
    #[serde(
        rename = "allowInviteFriend",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_invite_friend: i32,
    #[serde(
        rename = "allowUploadFile",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_upload_file: i32,
    #[serde(
        rename = "allowConference",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_conference: i32,
    #[serde(
        rename = "allowSpeakCourse",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub allow_speak_course: i32,
    #[serde(
        rename = "isAttritionNotice",
        default = "one",
        deserialize_with = "lenient::i32"
    )]
    pub is_attrition_notice: i32,
    /// Mute-all until (seconds); 0 = not muted.
    #[serde(rename = "talkTime", default, deserialize_with = "lenient::i64")]
    pub talk_time: i64,
    /// Days; -1 keeps forever.
    #[serde(
        rename = "chatRecordTimeOut",
        default = "minus_one",
        deserialize_with = "lenient::f64"
    )]
    pub chat_record_time_out: f64,
    #[serde(
        rename = "redPacketLock",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub red_packet_lock: Option<String>,
    /// Fields of other Shiku generations, kept as stored.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A room membership (`imRoom.shiku_room_member`). Roles: 1 owner, 2 admin, 3 member,
/// 4 invisible, 5 guardian.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    /// The room's id (ObjectId hex).
    #[serde(rename = "roomId", deserialize_with = "lenient::opt_id")]
    pub room_id: Option<String>,
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// Group nickname.
    #[serde(default, deserialize_with = "lenient::string")]
    pub nickname: String,
    #[serde(
        rename = "remarkName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub remark_name: Option<String>,
    #[serde(deserialize_with = "lenient::i32")]
    pub role: i32,
    #[serde(default = "one", deserialize_with = "lenient::i32")]
    pub sub: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub call: i32,
    #[serde(rename = "videoMeetingNo", default, deserialize_with = "lenient::i32")]
    pub video_meeting_no: i32,
    #[serde(
        rename = "offlineNoPushMsg",
        default,
        deserialize_with = "lenient::i32"
    )]
    pub offline_no_push_msg: i32,
    /// Muted until (seconds); 0 = not muted.
    #[serde(rename = "talkTime", default, deserialize_with = "lenient::i64")]
    pub talk_time: i64,
    #[serde(default, deserialize_with = "lenient::i64")]
    pub active: i64,
    /// Join time, seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "modifyTime", default, deserialize_with = "lenient::i64")]
    pub modify_time: i64,
    #[serde(rename = "isOpenTopChat", default, deserialize_with = "lenient::i32")]
    pub is_open_top_chat: i32,
    #[serde(rename = "openTopChatTime", default, deserialize_with = "lenient::i64")]
    pub open_top_chat_time: i64,
    /// Fields of other Shiku generations, kept as stored.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A room notice (`imRoom.shiku_room_notice`) — the same shape as [`Notice`].
pub type RoomNotice = Notice;

/// A shared file of a room (`imRoom.shiku_room_share`); `_id` is the `shareId`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Share {
    #[serde(rename = "_id", deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    #[serde(rename = "roomId", deserialize_with = "lenient::opt_id")]
    pub room_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: String,
    #[serde(default, deserialize_with = "lenient::i64")]
    pub time: i64,
    #[serde(rename = "userId", default, deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(default, deserialize_with = "lenient::string")]
    pub nickname: String,
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub share_type: i32,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub size: f64,
}

/// One group message (`imRoom.mucmsg_<jid>`), in the seed-002 shape plus the reference's
/// `room_jid_id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MucRow {
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub body: String,
    /// The bare room jid.
    #[serde(default, deserialize_with = "lenient::string")]
    pub room_jid: String,
    /// The bare room jid (the repo generation's field).
    #[serde(default, deserialize_with = "lenient::string")]
    pub room_jid_id: String,
    /// `<userId>/<resource>` of the sending session (`10005/Server` for notifications).
    #[serde(default, deserialize_with = "lenient::string")]
    pub sender_jid: String,
    /// The acting user (body `fromUserId`).
    #[serde(deserialize_with = "lenient::string")]
    pub sender: String,
    /// Server ms.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub ts: i64,
    #[serde(rename = "contentType", default, deserialize_with = "lenient::i32")]
    pub content_type: i32,
    #[serde(rename = "messageId", default, deserialize_with = "lenient::string")]
    pub message_id: String,
    #[serde(rename = "timeSend", default = "zero_number")]
    pub time_send: serde_json::Number,
    #[serde(rename = "deleteTime", default, deserialize_with = "lenient::i64")]
    pub delete_time: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(rename = "readCount", default, deserialize_with = "lenient::i32")]
    pub read_count: i32,
}
