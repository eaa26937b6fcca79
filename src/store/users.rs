//! `UserStore`: users, their login logs and roles.

use std::sync::Arc;

use async_trait::async_trait;

use super::error::StoreResult;
use super::patch::Patch;
use super::shared::Shared;
use crate::documents::{LoginKeys, User, UserLoginLog, UserName, UserRole};

/// Filter of `/user/query` (reference `UserQueryExample`).
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Cursor: only users with `_id < before`.
    pub before: Option<i32>,
    /// Case-insensitive substring of the nickname.
    pub nickname: Option<String>,
    pub sex: Option<i32>,
    /// Birthday range, seconds.
    pub birthday_from: Option<i64>,
    pub birthday_to: Option<i64>,
    /// Users with `_id` at or above this (hides system users from searches).
    pub min_user_id: i32,
    pub limit: u32,
}

/// Users, their login logs and roles (`user`, `userLoginLog`, `userRoles`, `idx_user`).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Allocates the next userId from the `idx_user` counter. When the counter does not exist it
    /// starts after `max(existing userIds, first - 1)`, as the reference does.
    async fn next_user_id(&self, first: i32) -> StoreResult<i32>;
    /// Inserts a new user; `Duplicate` when the userId or telephone already exists.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// The user with this userId.
    async fn get_user(&self, user_id: i32) -> StoreResult<Option<User>>;
    /// [`UserStore::get_user`] shared with other readers: a store that keeps profiles hands
    /// out the same one while it is unchanged, so what is made of it for clients is made once.
    async fn shared_user(&self, user_id: i32) -> StoreResult<Option<Arc<Shared<User>>>>;
    /// The nicknames and accounts of these userIds in one query, in the order given (None where
    /// no such user exists): lists of friends, fans and new friends show each one's current
    /// name, and reading only those two fields spares decoding whole profiles.
    async fn user_names(&self, user_ids: &[i32]) -> StoreResult<Vec<Option<UserName>>>;
    /// The user whose `telephone` (areaCode + phone) is this.
    async fn find_by_telephone(&self, telephone: &str) -> StoreResult<Option<User>>;
    /// The user for `/user/login`: `userKey == key` or `encryAccount == key`, and `areaCode`
    /// equal when given.
    async fn find_for_login(&self, key: &str, area_code: Option<&str>)
        -> StoreResult<Option<User>>;
    /// The user whose communication `account` is this.
    async fn find_by_account(&self, account: &str) -> StoreResult<Option<User>>;
    /// Whether another user (not `except`) has this string as `account` or `phone`.
    async fn account_taken(&self, account: &str, except: i32) -> StoreResult<bool>;
    /// Applies a partial update and returns the updated user (None when absent).
    async fn update_user(&self, user_id: i32, patch: &Patch) -> StoreResult<Option<User>>;
    /// Sets `onlinestate` to 0 on every user marked online; answers how many there were.
    async fn mark_all_offline(&self) -> StoreResult<u64>;
    /// Users matching a `/user/query` filter, `_id` descending.
    async fn query_users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;
    /// The login log of a user.
    async fn get_login_log(&self, user_id: i32) -> StoreResult<Option<UserLoginLog>>;
    /// Inserts or replaces a login log.
    async fn put_login_log(&self, log: &UserLoginLog) -> StoreResult<()>;
    /// Applies a partial update to a login log (creating it when absent).
    async fn update_login_log(&self, user_id: i32, patch: &Patch) -> StoreResult<()>;
    /// The `userRoles` documents of a user.
    async fn roles_of(&self, user_id: i32) -> StoreResult<Vec<UserRole>>;
    /// Inserts a `userRoles` document.
    async fn insert_role(&self, role: &UserRole) -> StoreResult<()>;
    /// The hardened dialect's keys kept in a user's document (None: no such user).
    async fn login_keys(&self, user_id: i32) -> StoreResult<Option<LoginKeys>>;
}
