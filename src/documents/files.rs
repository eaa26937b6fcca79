//! Upload records: the reference's `resources.resources` collection (spec/reference-server.md
//! 7.2–7.4).

use serde::{Deserialize, Serialize};

use super::lenient;

/// `type` of a file kept on the local disk (2 = FastDFS, never written here).
pub const RESOURCE_LOCAL: i32 = 1;

/// One stored file, in the reference's document shape plus the uploader (`userId`, which the
/// reference does not record; legacy documents without it are owned by the `u/<n>/<userId>/`
/// directory they sit in).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    /// Store id (ObjectId hex in MongoDB); None before insert.
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_id"
    )]
    pub id: Option<String>,
    /// Upload time, seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    /// Expiry, seconds; -1 (or 0) = never.
    #[serde(rename = "endTime", default, deserialize_with = "lenient::i64")]
    pub end_time: i64,
    /// The URL handed to the client.
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: String,
    /// Absolute file path (`<root>/<url path>`), the key every lookup uses.
    #[serde(default, deserialize_with = "lenient::string")]
    pub path: String,
    /// 1 local disk, 2 FastDFS.
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub kind: i32,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub status: i32,
    /// The uploader (or the copier, for a copy); absent in the reference's documents.
    #[serde(
        rename = "userId",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i32"
    )]
    pub user_id: Option<i32>,
}
