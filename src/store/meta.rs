//! `MetaStore`: small server-owned values kept with the data.

use async_trait::async_trait;

use super::error::StoreResult;

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
    /// Keeps a short-lived code (a login key, an SMS or image code) under `key` for `life_ms`
    /// from `now_ms`, replacing an earlier one and its count of attempts; expired codes go.
    async fn put_code(&self, key: &str, value: &str, now_ms: i64, life_ms: i64) -> StoreResult<()>;
    /// Takes the code under `key` (it is gone afterwards) unless it expired before `now_ms`.
    async fn take_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<String>>;
    /// The code under `key` unless expired, counting one more attempt at it: the value and
    /// the attempts made so far, this one included.
    async fn try_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<(String, i64)>>;
}
