//! Users as the reference stores them: `user`, `userLoginLog`, `userRoles` (spec/reference-server.md
//! section 4).

use serde::{Deserialize, Serialize};

use super::lenient::{self, one};

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

/// What lists of friends, fans and new friends show of each one's current profile: the
/// user's nickname and communication account, read leniently as [`User`] reads them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct UserName {
    #[serde(rename = "_id", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(default, deserialize_with = "lenient::string")]
    pub nickname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account: String,
}

/// The hardened dialect's keys of a user, kept in the user document but never in [`User`]
/// (so no view of a user can show them): the client's RSA key pair (`publicKey`, `privateKey`:
/// the reference's fields; the private key is the client's AES-encrypted blob) and the login
/// verifier sealed under the server key (`loginVerifier`, ours). Empty: not set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoginKeys {
    #[serde(default, deserialize_with = "lenient::string")]
    pub public_key: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub private_key: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub login_verifier: String,
}

impl User {
    /// The user's [`UserName`].
    pub fn name(&self) -> UserName {
        UserName {
            user_id: self.user_id,
            nickname: self.nickname.clone(),
            account: self.account.clone(),
        }
    }
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
        default = "lenient::minus_one",
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
