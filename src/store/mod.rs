//! Storage ports (one trait per aggregate) and the two adapters.
//!
//! The domain talks only to these traits. `sqlite` is the embedded default; `mongo` reads and
//! writes an existing Shiku MongoDB in the reference's database, collection and document shapes.

pub mod console;
pub mod files;
pub mod messages;
pub mod mongo;
pub mod org;
pub mod patch;
pub mod relations;
pub mod rooms;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::model::{Friend, User, UserLoginLog, UserRole};
pub use console::{ChatLogQuery, ConsoleStore, ConsoleUserQuery, RoomLogQuery};
pub use files::{FileStore, Resource};
pub use messages::{ChatWrite, HistoryQuery, MessageStore, OfflineEntry, OfflineItem};
pub use org::OrgStore;
pub use patch::{Patch, Val};
pub use rooms::{MemberQuery, MucQuery, RoomQuery, RoomStore};

/// A storage failure. `Duplicate` is the only one the domain reacts to; the rest are reported.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key (e.g. `telephone`) is already taken.
    #[error("duplicate key: {0}")]
    Duplicate(String),
    /// A stored document could not be decoded into our types.
    #[error("undecodable document in {collection}: {reason}")]
    Decode { collection: String, reason: String },
    /// The backend failed (I/O, connection, SQL/driver error).
    #[error("store backend error: {0}")]
    Backend(String),
}

/// Result type of every port method.
pub type StoreResult<T> = Result<T, StoreError>;

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
}

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
    /// Case-insensitive substring of `toNickname` or `remarkName` (matched literally).
    pub keyword: Option<String>,
    pub skip: u64,
    /// 0 = no limit.
    pub limit: u64,
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
    /// Whether `user_id` refuses messages from `sender` (see [`FriendStore::refused_senders`]).
    async fn refuses(&self, user_id: i32, sender: i32) -> StoreResult<bool> {
        Ok(self
            .get_friend(user_id, sender)
            .await?
            .is_some_and(|rel| rel.blacklist == 1 || rel.status == -1))
    }
}

/// Small server-owned values (signing secret, token versions) kept with the data.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// The value under `key`.
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets `key` only if it is absent; returns the value now stored.
    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String>;
    /// The token version of a user (0 when never bumped).
    async fn token_version(&self, user_id: i32) -> StoreResult<i64>;
    /// Increments and returns the token version of a user (revokes every token).
    async fn bump_token_version(&self, user_id: i32) -> StoreResult<i64>;
}

/// The handle the app shares: one adapter behind every port.
#[derive(Clone)]
pub struct Store {
    pub users: Arc<dyn UserStore>,
    pub friends: Arc<dyn FriendStore>,
    pub meta: Arc<dyn MetaStore>,
    pub messages: Arc<dyn MessageStore>,
    pub rooms: Arc<dyn RoomStore>,
    /// Cross-user queries, admin roles, sessions and statistics of the admin console.
    pub console: Arc<dyn ConsoleStore>,
    /// Companies, departments and employees.
    pub org: Arc<dyn OrgStore>,
    /// Upload records (`resources`).
    pub files: Arc<dyn FileStore>,
    /// Human description for the start-up log line (`sqlite:/path` or `mongodb:host/db`).
    pub description: String,
}

impl Store {
    /// Builds the handle from one adapter implementing every port.
    pub fn from_adapter<A>(adapter: Arc<A>, description: String) -> Store
    where
        A: UserStore
            + FriendStore
            + MetaStore
            + MessageStore
            + RoomStore
            + FileStore
            + OrgStore
            + ConsoleStore
            + 'static,
    {
        Store {
            users: adapter.clone(),
            friends: Arc::new(relations::CachedRelations::new(adapter.clone())),
            messages: adapter.clone(),
            rooms: adapter.clone(),
            console: adapter.clone(),
            org: adapter.clone(),
            files: adapter.clone(),
            meta: adapter,
            description,
        }
    }
}
