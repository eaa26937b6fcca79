//! PLACEHOLDER, replaced by the message-store work in progress.

use super::*;
use crate::domain::model::{LastChat, MsgRow, NewFriend, StickDialog};
use crate::store::{ChatWrite, HistoryQuery, MessageStore, OfflineItem};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn store_chat(&self, _write: &ChatWrite) -> StoreResult<bool> {
        unimplemented!("store_chat")
    }
    async fn history(&self, _q: &HistoryQuery) -> StoreResult<Vec<MsgRow>> {
        unimplemented!("history")
    }
    async fn find_copy(&self, _owner: i32, _message_id: &str) -> StoreResult<Option<MsgRow>> {
        unimplemented!("find_copy")
    }
    async fn mark_read(&self, _reader: i32, _message_ids: &[String]) -> StoreResult<u64> {
        unimplemented!("mark_read")
    }
    async fn delete_copies(&self, _owner: i32, _message_ids: &[String]) -> StoreResult<u64> {
        unimplemented!("delete_copies")
    }
    async fn clear_copies(&self, _owner: i32, _peer: Option<i32>) -> StoreResult<u64> {
        unimplemented!("clear_copies")
    }
    async fn delete_expired(&self, _owner: i32, _now_secs: i64) -> StoreResult<Vec<i32>> {
        unimplemented!("delete_expired")
    }
    async fn newest_copy(&self, _owner: i32, _peer: i32) -> StoreResult<Option<MsgRow>> {
        unimplemented!("newest_copy")
    }
    async fn search_copies(
        &self,
        _owner: i32,
        _needle: &str,
        _limit: u64,
    ) -> StoreResult<Vec<MsgRow>> {
        unimplemented!("search_copies")
    }
    async fn upsert_last_chat(&self, _row: &LastChat) -> StoreResult<()> {
        unimplemented!("upsert_last_chat")
    }
    async fn last_chats(
        &self,
        _user_id: i32,
        _room_jids: &[String],
        _start_ms: Option<i64>,
        _end_ms: Option<i64>,
        _limit: u64,
    ) -> StoreResult<Vec<LastChat>> {
        unimplemented!("last_chats")
    }
    async fn get_last_chat(
        &self,
        _user_id: Option<i32>,
        _jid: &str,
    ) -> StoreResult<Option<LastChat>> {
        unimplemented!("get_last_chat")
    }
    async fn delete_last_chat(&self, _user_id: i32, _jid: &str) -> StoreResult<bool> {
        unimplemented!("delete_last_chat")
    }
    async fn enqueue_offline(&self, _user_id: i32, _payload: &str, _ts: i64) -> StoreResult<i64> {
        unimplemented!("enqueue_offline")
    }
    async fn peek_offline(&self, _user_id: i32, _limit: u64) -> StoreResult<Vec<OfflineItem>> {
        unimplemented!("peek_offline")
    }
    async fn ack_offline(&self, _user_id: i32, _seq: i64) -> StoreResult<()> {
        unimplemented!("ack_offline")
    }
    async fn put_new_friend(&self, _event: &NewFriend) -> StoreResult<()> {
        unimplemented!("put_new_friend")
    }
    async fn new_friends(
        &self,
        _user_id: i32,
        _skip: u64,
        _limit: u64,
    ) -> StoreResult<Vec<NewFriend>> {
        unimplemented!("new_friends")
    }
    async fn put_dialog(&self, _dialog: &StickDialog) -> StoreResult<()> {
        unimplemented!("put_dialog")
    }
    async fn delete_dialog(&self, _user_id: i32, _jid: &str) -> StoreResult<bool> {
        unimplemented!("delete_dialog")
    }
    async fn dialogs(&self, _user_id: i32) -> StoreResult<Vec<StickDialog>> {
        unimplemented!("dialogs")
    }
}
