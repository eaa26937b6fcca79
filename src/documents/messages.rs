//! Single-chat history and conversations: `tigase.shiku_msgs` (seed-002 shape),
//! `shiku_lastChats` and `stick_dialog`.

use serde::{Deserialize, Serialize};

use super::lenient;

/// History rows carry the body JSON twice (`message` and `body`, the seed's two generations).
/// Both stores keep it once: `message` is stored empty when it repeats `body` and filled again
/// on reading, so a copy costs one body and not two (issue 17: a page held each body four times).
pub trait BodyOnce: Sized {
    /// The row as stored: `message` emptied when it repeats `body`.
    fn stored(&self) -> Self;
    /// The row as clients read it: an empty `message` carries `body` again.
    fn read_back(self) -> Self;
}

/// Implements [`BodyOnce`] for a row type with `message` and `body` fields.
macro_rules! body_once {
    ($row:ty) => {
        impl $crate::documents::messages::BodyOnce for $row {
            fn stored(&self) -> Self {
                let mut row = self.clone();
                if row.message == row.body {
                    row.message.clear();
                }
                row
            }
            fn read_back(mut self) -> Self {
                if self.message.is_empty() {
                    self.message.clone_from(&self.body);
                }
                self
            }
        }
    };
}
pub(crate) use body_once;

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
    #[serde(rename = "timeSend", default = "lenient::zero_number")]
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

body_once!(MsgRow);

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
    #[serde(rename = "timeSend", default = "lenient::zero_number")]
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
