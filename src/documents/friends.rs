//! Relations and friend-protocol events: `u_friends` (one document per direction) and
//! `NewFriends`.

use serde::{Deserialize, Serialize};

use super::lenient;

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
        default = "lenient::minus_one",
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

/// A friend-protocol event (`NewFriends`), one per ordered pair, from the owner's view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewFriend {
    #[serde(rename = "userId", deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(rename = "toUserId", deserialize_with = "lenient::i32")]
    pub to_user_id: i32,
    /// The requester of the handshake: on its 500 and on the 501/502 answering it.
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
