//! Rooms: `imRoom.shiku_room`, its members, notices and shares, and the group messages
//! (`mucmsg_<jid>`).

use serde::{Deserialize, Serialize};

use super::lenient::{self, one};

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
        default = "lenient::minus_one",
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
    #[serde(rename = "timeSend", default = "lenient::zero_number")]
    pub time_send: serde_json::Number,
    #[serde(rename = "deleteTime", default, deserialize_with = "lenient::i64")]
    pub delete_time: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(rename = "readCount", default, deserialize_with = "lenient::i32")]
    pub read_count: i32,
}

super::messages::body_once!(MucRow);

/// Member role: the owner.
pub const ROLE_OWNER: i32 = 1;
/// Member role: an admin.
pub const ROLE_ADMIN: i32 = 2;
/// Member role: an ordinary member.
pub const ROLE_MEMBER: i32 = 3;
