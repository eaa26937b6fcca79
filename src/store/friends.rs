//! `FriendStore`: relations (`u_friends`), one document per direction.

use async_trait::async_trait;

use super::error::StoreResult;
use super::patch::Patch;
use crate::documents::Friend;

/// Filter of relation queries over the relations one user owns (`u_friends` with `userId`).
#[derive(Debug, Clone, Default)]
pub struct FriendQuery {
    /// The owner (`userId`).
    pub user_id: i32,
    /// Only relations with this `status`.
    pub status: Option<i32>,
    /// Relations whose `status` is not this (the reference's `status != 0`).
    pub exclude_status: Option<i32>,
    /// Some(true): `blacklist == 1`; Some(false): `blacklist != 1` (a missing field counts as 0).
    pub blacklisted: Option<bool>,
    /// Only relations towards users with an id at or above this (leaves system accounts out).
    pub min_to_user_id: Option<i32>,
    /// Case-insensitive substring of `toNickname` or `remarkName` (matched literally).
    pub keyword: Option<String>,
    pub skip: u64,
    /// 0 = no limit.
    pub limit: u64,
}

/// The non-empty `remarkName`s among `friends`, by their userId.
pub fn remarks_of(friends: Vec<Friend>) -> Vec<(i32, String)> {
    friends
        .into_iter()
        .filter_map(|f| Some((f.to_user_id, f.remark_name.filter(|r| !r.is_empty())?)))
        .collect()
}

/// Relations (`u_friends`), one document per direction.
#[async_trait]
pub trait FriendStore: Send + Sync {
    /// The relation owned by `user_id` towards `to_user_id`.
    async fn get_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<Option<Friend>>;
    /// Inserts the relation `(userId, toUserId)` or overwrites the fields `Friend` carries;
    /// fields written by other Shiku generations survive.
    async fn put_friend(&self, friend: &Friend) -> StoreResult<()>;
    /// How many relations `user_id` owns with this status (None = any).
    async fn count_friends(&self, user_id: i32, status: Option<i32>) -> StoreResult<u64>;
    /// Applies `patch` to every relation whose `toUserId` is this user (e.g. `toNickname`).
    async fn update_friends_to(&self, to_user_id: i32, patch: &Patch) -> StoreResult<()>;
    /// Relations matching `q`, in insertion order, paged by `q.skip` / `q.limit`.
    async fn query_friends(&self, q: &FriendQuery) -> StoreResult<Vec<Friend>>;
    /// The names `user_id` gave others (a non-empty `remarkName`), by their userId, in
    /// insertion order.
    async fn remark_names(&self, user_id: i32) -> StoreResult<Vec<(i32, String)>>;
    /// How many relations match `q` (its paging ignored).
    async fn count_matching(&self, q: &FriendQuery) -> StoreResult<u64>;
    /// Applies `patch` to the relation (`userId`, `toUserId`) and returns it updated (None when
    /// there is no such relation; nothing is created).
    async fn update_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Friend>>;
    /// Deletes the relation (`userId`, `toUserId`); returns whether it existed.
    async fn delete_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<bool>;
    /// Relations other users own towards `to_user_id` (optionally only with this status), in
    /// insertion order; `limit` 0 = no limit.
    async fn followers(
        &self,
        to_user_id: i32,
        status: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Friend>>;
    /// The users `user_id` refuses messages from: those its relations blacklist (`blacklist`
    /// 1 or `status` -1), in no particular order.
    async fn refused_senders(&self, user_id: i32) -> StoreResult<Vec<i32>>;
    /// The users who refuse messages from `user_id` (whose relation towards it blacklists it),
    /// in no particular order.
    async fn refusers_of(&self, user_id: i32) -> StoreResult<Vec<i32>>;
    /// Whether `user_id` refuses messages from `sender` (see [`FriendStore::refused_senders`]).
    async fn refuses(&self, user_id: i32, sender: i32) -> StoreResult<bool> {
        Ok(self
            .get_friend(user_id, sender)
            .await?
            .is_some_and(|rel| rel.blacklist == 1 || rel.status == -1))
    }
}
