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
}
