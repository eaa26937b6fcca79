//! Message ports: single-chat history (`shiku_msgs`), the conversation list (`shiku_lastChats`),
//! the offline queue, friend-protocol events (`NewFriends`) and pinned dialogs (`stick_dialog`).

use std::sync::Arc;

use async_trait::async_trait;

use super::{Shared, StoreResult};
use crate::documents::{LastChat, MsgRow, NewFriend, StickDialog};

/// Both copies of one 1:1 message and the conversation rows it updates, written together.
#[derive(Debug, Clone)]
pub struct ChatWrite {
    /// Direction 0 (sender's copy) first, then direction 1 (receiver's); one row for self-chat.
    pub rows: Vec<MsgRow>,
    /// Upserted by (`userId`, `jid`) for single chat.
    pub last_chats: Vec<LastChat>,
    /// Queued for an offline recipient in the same commit (one durable write per message).
    pub offline: Option<OfflineEntry>,
}

/// An item to append to a user's offline queue.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineEntry {
    pub user_id: i32,
    /// The delivery, serialised by the delivery layer (opaque here).
    pub payload: String,
    /// When it was queued, ms.
    pub ts: i64,
}

/// One owner's view of a conversation with a peer.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// The copy owner (`sender` of the rows).
    pub owner: i32,
    /// The other party (`receiver` of the rows).
    pub peer: i32,
    /// Inclusive bounds on `ts`, ms.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Only `contentType < max_type` when set.
    pub max_type: Option<i32>,
    pub skip: u64,
    pub limit: u64,
}

/// A message waiting for a user who was offline, in the order it was queued.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineItem {
    /// Queue position (increasing per store); acknowledging `seq` removes it and everything before.
    pub seq: i64,
    pub user_id: i32,
    /// The delivery, serialised by the delivery layer (opaque here).
    pub payload: String,
    /// When it was queued, ms.
    pub ts: i64,
}

/// Single-chat storage.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Writes a message's rows, conversation rows and offline-queue item in one commit.
    /// Returns false, writing nothing, when the first row's owner already has a copy with that `messageId` and
    /// direction (a client resending after a timeout). Concurrent calls may be committed
    /// together; each returns only after its own rows are durable.
    async fn store_chat(&self, write: &ChatWrite) -> StoreResult<bool>;
    /// One owner's copies with a peer, newest (`ts`) first, shared with other readers.
    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<Arc<Shared<MsgRow>>>>;
    /// The copy of `message_id` owned by `owner`.
    async fn find_copy(&self, owner: i32, message_id: &str) -> StoreResult<Option<MsgRow>>;
    /// Sets `isRead` 1 on every copy of these messages that `reader` received (its direction-1
    /// copy) and on the matching sender copies. Returns the number of rows changed.
    async fn mark_read(&self, reader: i32, message_ids: &[String]) -> StoreResult<u64>;
    /// Deletes `owner`'s copies of these messages; returns how many were deleted.
    async fn delete_copies(&self, owner: i32, message_ids: &[String]) -> StoreResult<u64>;
    /// Deletes the copies `owner` received from `peer` of these messages (a recall reaches no
    /// message the owner sent); returns how many were deleted.
    async fn delete_received(
        &self,
        owner: i32,
        peer: i32,
        message_ids: &[String],
    ) -> StoreResult<u64>;
    /// Deletes all of `owner`'s copies, or only those with `peer`; returns how many.
    async fn clear_copies(&self, owner: i32, peer: Option<i32>) -> StoreResult<u64>;
    /// Deletes `owner`'s read copies whose `deleteTime` is in (0, now_secs); returns the peers
    /// whose conversations changed.
    async fn delete_expired(&self, owner: i32, now_secs: i64) -> StoreResult<Vec<i32>>;
    /// `owner`'s newest copy with `peer`, for re-pointing the conversation row.
    async fn newest_copy(&self, owner: i32, peer: i32) -> StoreResult<Option<MsgRow>>;
    /// `owner`'s copies whose `content` contains `needle` (plain substring, any script),
    /// newest first.
    async fn search_copies(&self, owner: i32, needle: &str, limit: u64)
        -> StoreResult<Vec<MsgRow>>;

    /// Inserts or updates a conversation row, keyed by (`userId`, `jid`) when `isRoom` is 0 and
    /// by `jid` when it is 1.
    async fn upsert_last_chat(&self, row: &LastChat) -> StoreResult<()>;
    /// The single-chat rows of `user_id` plus the rows of `room_jids`, newest (`ts`) first;
    /// optional bounds on `ts` (ms); `limit` 0 = all. Shared like history rows.
    async fn last_chats(
        &self,
        user_id: i32,
        room_jids: &[String],
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u64,
    ) -> StoreResult<Vec<Arc<Shared<LastChat>>>>;
    /// The single-chat row (`user_id`, `jid`), or the room row of `jid` when `user_id` is None.
    async fn get_last_chat(&self, user_id: Option<i32>, jid: &str)
        -> StoreResult<Option<LastChat>>;
    /// Deletes the single-chat row (`user_id`, `jid`); returns whether one existed.
    async fn delete_last_chat(&self, user_id: i32, jid: &str) -> StoreResult<bool>;
    /// Deletes the room row of `jid` (after its last message was recalled); returns whether one
    /// existed.
    async fn delete_room_last_chat(&self, jid: &str) -> StoreResult<bool>;

    /// Appends to a user's offline queue and returns its `seq`.
    async fn enqueue_offline(&self, user_id: i32, payload: &str, ts: i64) -> StoreResult<i64>;
    /// The oldest `limit` queued items of a user (not removed).
    async fn peek_offline(&self, user_id: i32, limit: u64) -> StoreResult<Vec<OfflineItem>>;
    /// Removes a user's queued items up to and including `seq`.
    async fn ack_offline(&self, user_id: i32, seq: i64) -> StoreResult<()>;
    /// Removes a user's oldest queued items beyond the newest `max_items`, and beyond the
    /// newest that together hold at most `max_bytes` of payload; returns how many went.
    async fn trim_offline(&self, user_id: i32, max_items: u64, max_bytes: u64) -> StoreResult<u64>;

    /// Inserts or replaces the friend event of the pair (`userId`, `toUserId`).
    async fn put_new_friend(&self, event: &NewFriend) -> StoreResult<()>;
    /// The friend event of the pair (`userId`, `toUserId`): the latest of their handshake.
    async fn get_new_friend(&self, user_id: i32, to_user_id: i32)
        -> StoreResult<Option<NewFriend>>;
    /// A user's friend events, `modifyTime` descending.
    async fn new_friends(&self, user_id: i32, skip: u64, limit: u64)
        -> StoreResult<Vec<NewFriend>>;

    /// Inserts or updates the pin (`userId`, `jid`).
    async fn put_dialog(&self, dialog: &StickDialog) -> StoreResult<()>;
    /// Removes a pin; returns whether it existed.
    async fn delete_dialog(&self, user_id: i32, jid: &str) -> StoreResult<bool>;
    /// A user's pins, `time` descending.
    async fn dialogs(&self, user_id: i32) -> StoreResult<Vec<StickDialog>>;
}
