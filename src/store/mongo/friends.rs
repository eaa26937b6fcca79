//! `FriendStore` on `u_friends`.

use super::*;

#[async_trait]
impl FriendStore for MongoStore {
    async fn get_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<Option<Friend>> {
        let found = self
            .coll(FRIENDS)
            .find_one(doc! { "userId": user_id, "toUserId": to_user_id })
            .await
            .map_err(backend)?;
        found.map(|d| decode(FRIENDS, d)).transpose()
    }

    async fn put_friend(&self, friend: &Friend) -> StoreResult<()> {
        // Keyed by the pair, not `_id` (our Friend has none). `$set` rather than a replacement,
        // so fields written by other Shiku generations survive.
        let doc = encode(FRIENDS, friend)?;
        self.coll(FRIENDS)
            .update_one(
                doc! { "userId": friend.user_id, "toUserId": friend.to_user_id },
                doc! { "$set": doc },
            )
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn count_friends(&self, user_id: i32, status: Option<i32>) -> StoreResult<u64> {
        let mut filter = doc! { "userId": user_id };
        if let Some(status) = status {
            filter.insert("status", status);
        }
        self.coll(FRIENDS)
            .count_documents(filter)
            .await
            .map_err(backend)
    }

    async fn update_friends_to(&self, to_user_id: i32, patch: &Patch) -> StoreResult<()> {
        if patch.is_empty() {
            return Ok(());
        }
        self.coll(FRIENDS)
            .update_many(doc! { "toUserId": to_user_id }, patch_to_update(patch))
            .await
            .map_err(write_error)?;
        Ok(())
    }
}
