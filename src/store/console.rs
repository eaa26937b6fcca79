//! The admin console's port: queries across every user and every conversation (the client API
//! only ever looks at one user's data), admin roles, console sessions and the online samples.

use async_trait::async_trait;

use super::StoreResult;
use crate::documents::{MsgRow, MucRow, User, UserRole};

/// Filter of `/console/userList` (every field optional).
#[derive(Debug, Clone, Default)]
pub struct ConsoleUserQuery {
    /// Case-insensitive substring of `nickname` or `telephone`, matched literally.
    pub keyword: Option<String>,
    /// Exact userId (the reference's numeric `keyWorld`), OR-ed with `keyword`.
    pub user_id: Option<i32>,
    /// `onlinestate` equal to this.
    pub online: Option<i32>,
    /// Inclusive bounds on `createTime`, seconds.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// `userType` equal to this.
    pub user_type: Option<i32>,
    pub skip: u64,
    /// 0 = count only, no rows.
    pub limit: u64,
}

/// Filter of the single-chat log (`/console/chat_logs_all`): sender copies (direction 0) only,
/// so each message is listed once.
#[derive(Debug, Clone, Default)]
pub struct ChatLogQuery {
    /// Inclusive bounds on `ts`, ms.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub sender: Option<i32>,
    pub receiver: Option<i32>,
    /// Plain substring of `content` (never a regex: no injection, no ReDoS).
    pub keyword: Option<String>,
    /// Leave out rows sent by or to these users (the system sender 10005).
    pub exclude_users: Vec<i32>,
    pub skip: u64,
    /// 0 = count only.
    pub limit: u64,
}

/// Filter of a room's log (`/console/groupchat_logs_all`, `/console/roomMsgDetail`).
#[derive(Debug, Clone, Default)]
pub struct RoomLogQuery {
    pub jid: String,
    /// Inclusive bounds on `ts`, ms.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Plain substring of `content`.
    pub keyword: Option<String>,
    /// Only this `contentType`.
    pub content_type: Option<i32>,
    /// Oldest first (`roomMsgDetail`) instead of newest first.
    pub ascending: bool,
    pub skip: u64,
    /// 0 = count only.
    pub limit: u64,
}

/// Console-only storage: cross-user queries, admin roles, sessions and statistics.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Sets a server-owned value (creating or replacing it).
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
    /// Removes a server-owned value; returns whether it existed.
    async fn delete_meta(&self, key: &str) -> StoreResult<bool>;

    /// Users matching `q`, `createTime` descending (then `_id` descending), and how many match.
    async fn list_users(&self, q: &ConsoleUserQuery) -> StoreResult<(Vec<User>, u64)>;
    /// Deletes a user with its login log, roles and every relation to or from it; returns
    /// whether the user existed.
    async fn delete_user(&self, user_id: i32) -> StoreResult<bool>;

    /// `userRoles` documents whose role is in `roles`, newest first, and how many match.
    async fn list_roles(
        &self,
        roles: &[i32],
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<UserRole>, u64)>;
    /// Sets `lastLoginTime` (seconds) on a user's `userRoles` documents whose role is in `roles`.
    async fn touch_roles(&self, user_id: i32, roles: &[i32], last_login: i64) -> StoreResult<()>;
    /// Deletes a user's `userRoles` documents whose role is in `roles`; returns how many.
    async fn delete_roles(&self, user_id: i32, roles: &[i32]) -> StoreResult<u64>;

    /// Single-chat sender copies matching `q`, newest first, and how many match.
    async fn chat_logs(&self, q: &ChatLogQuery) -> StoreResult<(Vec<MsgRow>, u64)>;
    /// Deletes every copy (both directions) of the messages matching `q` (its paging ignored);
    /// returns how many rows were deleted.
    async fn delete_chat_logs(&self, q: &ChatLogQuery) -> StoreResult<u64>;
    /// Deletes single-chat rows by `_id`; returns how many.
    async fn delete_chat_rows(&self, ids: &[String]) -> StoreResult<u64>;
    /// Deletes single-chat rows whose `ts` is before this (ms); returns how many.
    async fn delete_chats_before(&self, ts_ms: i64) -> StoreResult<u64>;
    /// Keeps only the newest `keep` single-chat rows; returns how many were deleted.
    async fn trim_chats(&self, keep: u64) -> StoreResult<u64>;

    /// A room's messages matching `q`, and how many match.
    async fn room_logs(&self, q: &RoomLogQuery) -> StoreResult<(Vec<MucRow>, u64)>;
    /// Deletes a room's messages by `_id`; returns how many.
    async fn delete_room_rows(&self, jid: &str, ids: &[String]) -> StoreResult<u64>;

    /// How many rooms exist.
    async fn count_rooms(&self) -> StoreResult<u64>;

    /// Records how many users were online at `ts` (seconds; one sample per `ts`, replaced).
    async fn put_online_sample(&self, ts: i64, online: u64) -> StoreResult<()>;
    /// Samples with `ts` in `[from, to]`, oldest first.
    async fn online_samples(&self, from: i64, to: i64) -> StoreResult<Vec<(i64, u64)>>;
    /// Removes samples older than `ts`.
    async fn prune_online_samples(&self, before: i64) -> StoreResult<()>;
}
