//! Public-account menus (seed 003 `/public/menu/list`: `id`, `name`, `parentId`, `url`,
//! `userId`, children in `menuList`). The spec documents no collection for them; this one is
//! `menu`, one document per entry, ids numeric as the seed shows them (kept below 2^53 so web
//! clients read them exactly).

use serde::{Deserialize, Serialize};

use super::lenient;

/// One menu entry of a public account: a top entry (`parentId` 0) or one of its children.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Menu {
    #[serde(rename = "_id", deserialize_with = "lenient::i64")]
    pub id: i64,
    /// The public account.
    #[serde(rename = "userId", default, deserialize_with = "lenient::i32")]
    pub user_id: i32,
    /// 0 for a top entry.
    #[serde(rename = "parentId", default, deserialize_with = "lenient::i64")]
    pub parent_id: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: String,
    /// Order among siblings (ascending).
    #[serde(default, deserialize_with = "lenient::i32")]
    pub index: i32,
}
