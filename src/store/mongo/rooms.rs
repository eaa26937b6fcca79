//! PLACEHOLDER, replaced by the room-store work in progress.

use super::*;
use crate::domain::model::{Member, MucRow, Notice, Room, Share};
use crate::store::{MemberQuery, MucQuery, RoomQuery, RoomStore};

#[async_trait]
impl RoomStore for MongoStore {
    async fn insert_room(&self, _room: &Room) -> StoreResult<String> {
        unimplemented!("insert_room")
    }
    async fn get_room(&self, _room_id: &str) -> StoreResult<Option<Room>> {
        unimplemented!("get_room")
    }
    async fn get_room_by_jid(&self, _jid: &str) -> StoreResult<Option<Room>> {
        unimplemented!("get_room_by_jid")
    }
    async fn update_room(&self, _room_id: &str, _patch: &Patch) -> StoreResult<Option<Room>> {
        unimplemented!("update_room")
    }
    async fn query_rooms(&self, _q: &RoomQuery) -> StoreResult<Vec<Room>> {
        unimplemented!("query_rooms")
    }
    async fn delete_room(&self, _room_id: &str) -> StoreResult<bool> {
        unimplemented!("delete_room")
    }
    async fn add_members(&self, _room_id: &str, _members: &[Member]) -> StoreResult<Vec<i32>> {
        unimplemented!("add_members")
    }
    async fn get_member(&self, _room_id: &str, _user_id: i32) -> StoreResult<Option<Member>> {
        unimplemented!("get_member")
    }
    async fn update_member(
        &self,
        _room_id: &str,
        _user_id: i32,
        _patch: &Patch,
    ) -> StoreResult<Option<Member>> {
        unimplemented!("update_member")
    }
    async fn update_all_members(&self, _room_id: &str, _patch: &Patch) -> StoreResult<()> {
        unimplemented!("update_all_members")
    }
    async fn remove_member(&self, _room_id: &str, _user_id: i32) -> StoreResult<bool> {
        unimplemented!("remove_member")
    }
    async fn query_members(&self, _q: &MemberQuery) -> StoreResult<Vec<Member>> {
        unimplemented!("query_members")
    }
    async fn count_members(&self, _q: &MemberQuery) -> StoreResult<u64> {
        unimplemented!("count_members")
    }
    async fn member_ids(&self, _room_id: &str) -> StoreResult<Vec<i32>> {
        unimplemented!("member_ids")
    }
    async fn room_jids_of(&self, _user_id: i32) -> StoreResult<Vec<String>> {
        unimplemented!("room_jids_of")
    }
    async fn insert_notice(&self, _notice: &Notice) -> StoreResult<String> {
        unimplemented!("insert_notice")
    }
    async fn get_notice(&self, _room_id: &str, _notice_id: &str) -> StoreResult<Option<Notice>> {
        unimplemented!("get_notice")
    }
    async fn update_notice(
        &self,
        _room_id: &str,
        _notice_id: &str,
        _patch: &Patch,
    ) -> StoreResult<Option<Notice>> {
        unimplemented!("update_notice")
    }
    async fn delete_notice(&self, _room_id: &str, _notice_id: &str) -> StoreResult<bool> {
        unimplemented!("delete_notice")
    }
    async fn notices(&self, _room_id: &str, _skip: u64, _limit: u64) -> StoreResult<Vec<Notice>> {
        unimplemented!("notices")
    }
    async fn count_notices(&self, _room_id: &str) -> StoreResult<u64> {
        unimplemented!("count_notices")
    }
    async fn insert_share(&self, _share: &Share) -> StoreResult<String> {
        unimplemented!("insert_share")
    }
    async fn get_share(&self, _room_id: &str, _share_id: &str) -> StoreResult<Option<Share>> {
        unimplemented!("get_share")
    }
    async fn delete_share(&self, _room_id: &str, _share_id: &str) -> StoreResult<bool> {
        unimplemented!("delete_share")
    }
    async fn shares(
        &self,
        _room_id: &str,
        _user_id: Option<i32>,
        _skip: u64,
        _limit: u64,
    ) -> StoreResult<Vec<Share>> {
        unimplemented!("shares")
    }
    async fn store_muc(&self, _jid: &str, _row: &MucRow) -> StoreResult<bool> {
        unimplemented!("store_muc")
    }
    async fn muc_history(&self, _q: &MucQuery) -> StoreResult<Vec<MucRow>> {
        unimplemented!("muc_history")
    }
    async fn find_muc(&self, _jid: &str, _message_id: &str) -> StoreResult<Option<MucRow>> {
        unimplemented!("find_muc")
    }
    async fn delete_muc(
        &self,
        _jid: &str,
        _message_ids: &[String],
        _sender: Option<i32>,
    ) -> StoreResult<u64> {
        unimplemented!("delete_muc")
    }
    async fn newest_muc(&self, _jid: &str) -> StoreResult<Option<MucRow>> {
        unimplemented!("newest_muc")
    }
    async fn search_muc(
        &self,
        _jids: &[String],
        _needle: &str,
        _limit: u64,
    ) -> StoreResult<Vec<MucRow>> {
        unimplemented!("search_muc")
    }
    async fn hide_muc(
        &self,
        _user_id: i32,
        _jid: &str,
        _message_ids: &[String],
    ) -> StoreResult<()> {
        unimplemented!("hide_muc")
    }
    async fn hidden_muc(&self, _user_id: i32, _jid: &str) -> StoreResult<Vec<String>> {
        unimplemented!("hidden_muc")
    }
}
