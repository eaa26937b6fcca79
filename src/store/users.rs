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

/// A search by position (`/nearby/user`). Every adapter also leaves out locked users, users
/// without a position (`loc` absent or 0,0) and users whose `settings.isOpenPrivacyPosition`
/// is 0.
#[derive(Debug, Clone, Default)]
pub struct NearbyQuery {
    pub lat: f64,
    pub lng: f64,
    /// Metres from (`lat`, `lng`); farther users are never found.
    pub max_distance: f64,
    pub sex: Option<i32>,
    /// Birthday range, seconds.
    pub birthday_from: Option<i64>,
    pub birthday_to: Option<i64>,
    /// Only users seen (`active`) at or after this, seconds.
    pub active_since: Option<i64>,
    /// Users with `_id` at or above this (hides system users).
    pub min_user_id: i32,
    /// Never found (the caller, whom the caller blocks).
    pub except: Vec<i32>,
    pub skip: u64,
    pub limit: u32,
}

/// The mean Earth radius MongoDB's spherical queries use, metres.
pub const EARTH_RADIUS: f64 = 6_378_100.0;

/// Great-circle distance in metres between two positions in degrees (haversine, on
/// [`EARTH_RADIUS`], as MongoDB's `$geoNear` measures it).
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS * h.sqrt().min(1.0).asin()
}

/// Whether (`lat`, `lng`) is a position a user can have: in range, finite, and not 0,0 (the
/// reference's "no position").
pub fn is_position(lat: f64, lng: f64) -> bool {
    lat.is_finite()
        && lng.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
        && !(lat == 0.0 && lng == 0.0)
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
    /// A page of the users nearest a position, nearest first, each with its
    /// distance in metres; through the adapter's geo index (MongoDB `2dsphere` on `loc`,
    /// SQLite an R*Tree), never a scan of every user.
    async fn nearby_users(&self, query: &NearbyQuery) -> StoreResult<Vec<(User, f64)>>;
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
