//! Room ports (`imRoom`): rooms, members, notices, shares, the per-user room-jid index and the
//! per-room message collections `mucmsg_<jid>`.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Patch, Shared, StoreResult};
use crate::documents::{Member, MucRow, Notice, Room, Share};

/// Which members to list, and in which order.
#[derive(Debug, Clone, Default)]
pub struct MemberQuery {
    pub room_id: String,
    /// Only members whose role is in this list (empty = any).
    pub roles: Vec<i32>,
    /// Case-insensitive substring of `nickname` or `remarkName`.
    pub keyword: Option<String>,
    pub skip: u64,
    /// 0 = all.
    pub limit: u64,
}

/// Which rooms to list.
#[derive(Debug, Clone, Default)]
pub struct RoomQuery {
    /// Rooms this user is a member of (with `roles` restricting the user's role).
    pub member: Option<i32>,
    pub roles: Vec<i32>,
    /// Public rooms only (`isLook` 0).
    pub public_only: bool,
    /// Case-insensitive substring of `name` or `desc`.
    pub keyword: Option<String>,
    /// Only rooms with this status `s` (e.g. 1 normal).
    pub status: Option<i32>,
    pub skip: u64,
    /// 0 = all.
    pub limit: u64,
}

/// Group-message history filter.
#[derive(Debug, Clone, Default)]
pub struct MucQuery {
    pub jid: String,
    /// Inclusive bounds on `ts`, ms.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Only `contentType < max_type` when set.
    pub max_type: Option<i32>,
    /// Leave out these messageIds (a user's "delete for me" hide list).
    pub hidden: Vec<String>,
    pub skip: u64,
    /// 0 = all.
    pub limit: u64,
}

/// Room storage. Ids are ObjectId hex strings; the store assigns them on insert.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Inserts a room and returns its id: a given 24-hex `id` is kept (imports), otherwise one is
    /// assigned. `Duplicate` when the jid or the id already exists.
    async fn insert_room(&self, room: &Room) -> StoreResult<String>;
    /// The room with this id.
    async fn get_room(&self, room_id: &str) -> StoreResult<Option<Room>>;
    /// The room with this jid.
    async fn get_room_by_jid(&self, jid: &str) -> StoreResult<Option<Room>>;
    /// Applies a partial update; returns the updated room. Never changes `jid` (callers do not,
    /// and the message collection is named after it).
    async fn update_room(&self, room_id: &str, patch: &Patch) -> StoreResult<Option<Room>>;
    /// Rooms matching a query, newest (`_id`/createTime) first.
    async fn query_rooms(&self, q: &RoomQuery) -> StoreResult<Vec<Room>>;
    /// Deletes a room with its members, notices, shares, room-jid index entries, its
    /// `mucmsg_<jid>` messages and the hide lists of its messages. Returns whether the room
    /// existed.
    async fn delete_room(&self, room_id: &str) -> StoreResult<bool>;

    /// Adds members (skipping users already in the room) and `$inc`s `userSize` by the number
    /// added — exact under concurrency (one transaction in SQLite; counted upserts in MongoDB,
    /// which has no multi-document transaction on a standalone server); also adds the jid to
    /// each new member's room-jid index. Returns the userIds actually added (none when the room
    /// does not exist).
    async fn add_members(&self, room_id: &str, members: &[Member]) -> StoreResult<Vec<i32>>;
    /// One membership.
    async fn get_member(&self, room_id: &str, user_id: i32) -> StoreResult<Option<Member>>;
    /// Applies a partial update to one membership; returns it.
    async fn update_member(
        &self,
        room_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Member>>;
    /// Applies a partial update to every membership of a room.
    async fn update_all_members(&self, room_id: &str, patch: &Patch) -> StoreResult<()>;
    /// Removes a membership, `$inc`s `userSize` by -1 and updates the room-jid index; returns
    /// whether it existed.
    async fn remove_member(&self, room_id: &str, user_id: i32) -> StoreResult<bool>;
    /// Members of a room, ordered by role then `createTime` (join order).
    async fn query_members(&self, q: &MemberQuery) -> StoreResult<Vec<Member>>;
    /// Every member of a room, in the order of an unfiltered [`RoomStore::query_members`],
    /// shared: a store that keeps lists hands out the same `Arc` while the list is unchanged
    /// (so what is made of it can be kept as long); one that does not, a new one each time.
    async fn all_members(&self, room_id: &str) -> StoreResult<Arc<Vec<Member>>> {
        let q = MemberQuery {
            room_id: room_id.to_string(),
            ..MemberQuery::default()
        };
        Ok(Arc::new(self.query_members(&q).await?))
    }
    /// How many members match (same filters as `query_members`, no paging).
    async fn count_members(&self, q: &MemberQuery) -> StoreResult<u64>;
    /// userIds of every member of a room (for fan-out).
    async fn member_ids(&self, room_id: &str) -> StoreResult<Vec<i32>>;
    /// jids of the rooms a user belongs to (`shiku_roomJids_userId`).
    async fn room_jids_of(&self, user_id: i32) -> StoreResult<Vec<String>>;

    /// Inserts a notice (id assigned and returned).
    async fn insert_notice(&self, notice: &Notice) -> StoreResult<String>;
    /// One notice of a room.
    async fn get_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<Option<Notice>>;
    /// Applies a partial update to a notice; returns it.
    async fn update_notice(
        &self,
        room_id: &str,
        notice_id: &str,
        patch: &Patch,
    ) -> StoreResult<Option<Notice>>;
    /// Deletes a notice; returns whether it existed.
    async fn delete_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<bool>;
    /// Notices of a room, `time` descending; limit 0 = all.
    async fn notices(&self, room_id: &str, skip: u64, limit: u64) -> StoreResult<Vec<Notice>>;
    /// How many notices a room has.
    async fn count_notices(&self, room_id: &str) -> StoreResult<u64>;

    /// Inserts a share (id assigned and returned).
    async fn insert_share(&self, share: &Share) -> StoreResult<String>;
    /// One share of a room.
    async fn get_share(&self, room_id: &str, share_id: &str) -> StoreResult<Option<Share>>;
    /// Deletes a share; returns whether it existed.
    async fn delete_share(&self, room_id: &str, share_id: &str) -> StoreResult<bool>;
    /// Shares of a room, `time` descending, optionally only one uploader's; limit 0 = all.
    async fn shares(
        &self,
        room_id: &str,
        user_id: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Share>>;

    /// Stores a group message in `mucmsg_<jid>`; false (nothing written) when that
    /// messageId is already there.
    async fn store_muc(&self, jid: &str, row: &MucRow) -> StoreResult<bool>;
    /// Group history, newest (`ts`) first, shared with other readers.
    async fn muc_history(&self, q: &MucQuery) -> StoreResult<Vec<Arc<Shared<MucRow>>>>;
    /// One group message.
    async fn find_muc(&self, jid: &str, message_id: &str) -> StoreResult<Option<MucRow>>;
    /// Deletes group messages (optionally only those sent by `sender`); an empty list deletes
    /// nothing. Returns how many.
    async fn delete_muc(
        &self,
        jid: &str,
        message_ids: &[String],
        sender: Option<i32>,
    ) -> StoreResult<u64>;
    /// The newest group message of a room.
    async fn newest_muc(&self, jid: &str) -> StoreResult<Option<MucRow>>;
    /// Group messages of these rooms whose `content` contains `needle` (case-sensitive plain
    /// substring, like `search_copies`), newest first; limit 0 = all.
    async fn search_muc(
        &self,
        jids: &[String],
        needle: &str,
        limit: u64,
    ) -> StoreResult<Vec<MucRow>>;

    /// Adds messageIds to a user's hide list of a room ("delete for me", seed 002's
    /// `room_group_msg`).
    async fn hide_muc(&self, user_id: i32, jid: &str, message_ids: &[String]) -> StoreResult<()>;
    /// A user's hidden messageIds of a room.
    async fn hidden_muc(&self, user_id: i32, jid: &str) -> StoreResult<Vec<String>>;
    /// Which of `messages` (room jid, messageId) a user has hidden, in one query (the
    /// conversation list asks for one message of every room).
    async fn hidden_among(
        &self,
        user_id: i32,
        messages: &[(String, String)],
    ) -> StoreResult<HashSet<(String, String)>>;
}
