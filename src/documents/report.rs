//! Reports of users and rooms (seed 003 `/user/report`; the reference's `Report` collection,
//! whose fields the spec does not document: these follow the seed's parameters — `userId` the
//! reporter, `toUserId` or `roomId` the reported, `reason` — with the review's state).

use serde::{Deserialize, Serialize};

use super::lenient;

/// One report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Store id (ObjectId hex in MongoDB); None before insert.
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    /// The reporter.
    #[serde(rename = "userId", default, deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// The reported user (0 for a room).
    #[serde(rename = "toUserId", default, deserialize_with = "lenient::i32")]
    pub to_user_id: i32,
    /// The reported room's id ("" for a user).
    #[serde(rename = "roomId", default, deserialize_with = "lenient::string")]
    pub room_id: String,
    /// The reason's id (the client's list).
    #[serde(default, deserialize_with = "lenient::i32")]
    pub reason: i32,
    /// When reported, seconds.
    #[serde(default, deserialize_with = "lenient::i64")]
    pub time: i64,
    /// 0 waiting for review, 1 handled.
    #[serde(default, deserialize_with = "lenient::i32")]
    pub status: i32,
    /// When handled, seconds (0 while waiting).
    #[serde(rename = "handleTime", default, deserialize_with = "lenient::i64")]
    pub handle_time: i64,
    /// The console user who handled it.
    #[serde(default, deserialize_with = "lenient::i32")]
    pub handler: i32,
    /// What the review did: 0 nothing, 1 locked the user or room.
    #[serde(default, deserialize_with = "lenient::i32")]
    pub action: i32,
}
