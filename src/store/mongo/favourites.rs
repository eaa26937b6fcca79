//! `FavouriteStore` on the reference's `emoji` collection.

use super::*;
use crate::documents::Emoji;
use crate::store::favourites::FavouriteStore;

/// The reference's collection of favourites.
pub(super) const EMOJI: &str = "emoji";

fn decode_emoji(d: Document) -> StoreResult<Emoji> {
    decode_hex_id(EMOJI, d)
}

#[async_trait]
impl FavouriteStore for MongoStore {
    async fn insert_favourite(&self, e: &Emoji) -> StoreResult<String> {
        let id = bson::oid::ObjectId::new();
        let mut e = e.clone();
        e.id = None;
        let mut d = encode(EMOJI, &e)?;
        d.insert("_id", id);
        self.coll(EMOJI).insert_one(d).await.map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn favourites(
        &self,
        user_id: i32,
        kinds: &[i32],
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Emoji>> {
        let cursor = self
            .coll(EMOJI)
            .find(doc! { "userId": user_id, "type": { "$in": kinds } })
            .sort(doc! { "_id": -1 })
            .skip(skip)
            .limit(i64::from(limit))
            .await
            .map_err(backend)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        docs.into_iter().map(decode_emoji).collect()
    }

    async fn count_favourites(&self, user_id: i32) -> StoreResult<u64> {
        self.coll(EMOJI)
            .count_documents(doc! { "userId": user_id })
            .await
            .map_err(backend)
    }

    async fn take_favourite(&self, user_id: i32, id: &str) -> StoreResult<Option<Emoji>> {
        let found = self
            .coll(EMOJI)
            .find_one_and_delete(doc! { "_id": id_filter(id), "userId": user_id })
            .await
            .map_err(backend)?;
        found.map(decode_emoji).transpose()
    }
}
