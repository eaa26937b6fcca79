//! Courses: room messages a user saved as a named lecture (seed 003 `/course/add`). The spec
//! documents no fields for the reference's `course` collection; these are chosen in its style
//! (`courseId` to clients, `courseName`, `roomJid`, `messageIds`, times in seconds), with the
//! messages' bodies kept in the course so a lecture outlives the room's history.

use serde::{Deserialize, Serialize};

use super::lenient;

/// One message of a course: its id and its body JSON as the room stored it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CourseMessage {
    #[serde(rename = "messageId", default, deserialize_with = "lenient::string")]
    pub message_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
}

/// A course of a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Course {
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
    #[serde(rename = "courseName", default, deserialize_with = "lenient::string")]
    pub course_name: String,
    #[serde(rename = "roomJid", default, deserialize_with = "lenient::string")]
    pub room_jid: String,
    /// Seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    /// Seconds.
    #[serde(rename = "updateTime", default, deserialize_with = "lenient::i64")]
    pub update_time: i64,
    /// The messages in the order the user gave them.
    #[serde(default)]
    pub messages: Vec<CourseMessage>,
}
