//! `FavouriteStore`: users' favourites (the reference's `emoji` collection).

use async_trait::async_trait;

use super::error::StoreResult;
use crate::documents::Emoji;

/// Users' favourites, each user's own.
#[async_trait]
pub trait FavouriteStore: Send + Sync {
    /// Inserts a favourite; answers its id.
    async fn insert_favourite(&self, e: &Emoji) -> StoreResult<String>;
    /// A user's favourites of these kinds, newest first, `skip` then at most `limit`.
    async fn favourites(
        &self,
        user_id: i32,
        kinds: &[i32],
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Emoji>>;
    /// How many favourites a user keeps.
    async fn count_favourites(&self, user_id: i32) -> StoreResult<u64>;
    /// Removes one of the user's favourites and answers it (None: no such favourite of theirs).
    async fn take_favourite(&self, user_id: i32, id: &str) -> StoreResult<Option<Emoji>>;
}
