//! Favourites: the reference's `emoji` collection (seed 003 `/emoji/*`, `/collection/list`).
//! The reference documents no fields for it; these are the names its clients read (`emojiId`
//! for the id, `type`, `url`, `msg`, `msgId`, `roomJid`, `fileName`, `fileSize`, `createTime`).

use serde::{Deserialize, Serialize};

use super::lenient;

/// Favourite kinds (`type`): 1 image, 2 video, 3 file, 4 voice, 5 text, 6 sticker.
pub const FAVOURITE_KINDS: std::ops::RangeInclusive<i32> = 1..=6;
/// `type` of a sticker (`/emoji/list` lists only these).
pub const STICKER: i32 = 6;

/// One favourite of a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Emoji {
    /// Store id (ObjectId hex in MongoDB); None before insert.
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    #[serde(rename = "userId", default, deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// 1 image, 2 video, 3 file, 4 voice, 5 text, 6 sticker.
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub kind: i32,
    /// The file (a copy of the user's own when it was one of our uploads), or empty.
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: String,
    /// The text of a text favourite; the message body JSON of one made from a message.
    #[serde(default, deserialize_with = "lenient::string")]
    pub msg: String,
    #[serde(rename = "msgId", default, deserialize_with = "lenient::string")]
    pub msg_id: String,
    #[serde(rename = "roomJid", default, deserialize_with = "lenient::string")]
    pub room_jid: String,
    #[serde(rename = "fileName", default, deserialize_with = "lenient::string")]
    pub file_name: String,
    #[serde(rename = "fileSize", default, deserialize_with = "lenient::i64")]
    pub file_size: i64,
    /// Whether `url` is this favourite's own copy of an upload (deleted with it).
    #[serde(rename = "ownCopy", default, deserialize_with = "lenient::bool")]
    pub own_copy: bool,
    /// Seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
}
