//! The organisation: `company`, `department` and `employee` (spec/reference-server.md, org).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;

/// A company (`company`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Company {
    #[serde(
        rename = "_id",
        default,
        deserialize_with = "lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(rename = "companyName", default, deserialize_with = "lenient::string")]
    pub company_name: String,
    #[serde(rename = "createUserId", default, deserialize_with = "lenient::i32")]
    pub create_user_id: i32,
    /// 0 while active; the deleter's userId after a (soft) delete.
    #[serde(rename = "deleteUserId", default, deserialize_with = "lenient::i32")]
    pub delete_user_id: i32,
    /// The root department ids.
    #[serde(rename = "rootDpartId", default, deserialize_with = "lenient::id_list")]
    pub root_dpart_id: Vec<String>,
    /// Seconds.
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "deleteTime", default, deserialize_with = "lenient::i64")]
    pub delete_time: i64,
    #[serde(
        rename = "noticeContent",
        default,
        deserialize_with = "lenient::string"
    )]
    pub notice_content: String,
    #[serde(rename = "noticeTime", default, deserialize_with = "lenient::i64")]
    pub notice_time: i64,
    #[serde(rename = "empNum", default, deserialize_with = "lenient::i32")]
    pub emp_num: i32,
    /// 0 normal, 5 demo company.
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub kind: i32,
    /// Fields of other Shiku generations, kept as stored.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A department (`department`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Department {
    #[serde(
        rename = "_id",
        default,
        deserialize_with = "lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(rename = "companyId", default, deserialize_with = "lenient::opt_id")]
    pub company_id: Option<String>,
    /// None for a root department.
    #[serde(rename = "parentId", default, deserialize_with = "lenient::opt_id")]
    pub parent_id: Option<String>,
    #[serde(rename = "departName", default, deserialize_with = "lenient::string")]
    pub depart_name: String,
    #[serde(rename = "createUserId", default, deserialize_with = "lenient::i32")]
    pub create_user_id: i32,
    #[serde(rename = "createTime", default, deserialize_with = "lenient::i64")]
    pub create_time: i64,
    #[serde(rename = "empNum", default, deserialize_with = "lenient::i32")]
    pub emp_num: i32,
    /// 0 normal, 1 root, 2 branch, 4/5 demo, 6 customer service.
    #[serde(rename = "type", default, deserialize_with = "lenient::i32")]
    pub kind: i32,
    /// Fields of other Shiku generations, kept as stored.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An employee (`employee`): one per user and company.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Employee {
    #[serde(
        rename = "_id",
        default,
        deserialize_with = "lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(rename = "userId", default, deserialize_with = "lenient::i32")]
    pub user_id: i32,
    #[serde(rename = "departmentId", default, deserialize_with = "lenient::opt_id")]
    pub department_id: Option<String>,
    #[serde(rename = "companyId", default, deserialize_with = "lenient::opt_id")]
    pub company_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::i32")]
    pub role: i32,
    #[serde(default, deserialize_with = "lenient::string")]
    pub position: String,
    #[serde(rename = "chatNum", default, deserialize_with = "lenient::i32")]
    pub chat_num: i32,
    #[serde(rename = "isPause", default, deserialize_with = "lenient::i32")]
    pub is_pause: i32,
    /// Fields of other Shiku generations, kept as stored.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
