//! `FriendStore` on `u_friends`.

use super::*;
use crate::store::FriendQuery;

/// The filter of a relation query, in the reference's field names.
pub fn friend_filter(q: &FriendQuery) -> Document {
    let mut filter = doc! { "userId": q.user_id };
    match (q.status, q.exclude_status) {
        (Some(s), Some(x)) => {
            filter.insert("status", doc! { "$eq": s, "$ne": x });
        }
        (Some(s), None) => {
            filter.insert("status", s);
        }
        (None, Some(x)) => {
            filter.insert("status", doc! { "$ne": x });
        }
        (None, None) => {}
    }
    if let Some(m) = q.min_to_user_id {
        filter.insert("toUserId", doc! { "$gte": m });
    }
    match q.blacklisted {
        Some(true) => {
            filter.insert("blacklist", 1);
        }
        // `$ne` also matches documents without the field, which count as 0.
        Some(false) => {
            filter.insert("blacklist", doc! { "$ne": 1 });
        }
        None => {}
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        let re = escape_regex(k);
        filter.insert(
            "$or",
            vec![
                doc! { "toNickname": { "$regex": &re, "$options": "i" } },
                doc! { "remarkName": { "$regex": &re, "$options": "i" } },
            ],
        );
    }
    filter
}

/// MongoDB's limit for a `limit` where 0 means none (which is also MongoDB's reading of 0).
fn mongo_limit(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

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

    async fn query_friends(&self, q: &FriendQuery) -> StoreResult<Vec<Friend>> {
        // `_id` order is creation order, the order the reference lists relations in.
        let docs: Vec<Document> = self
            .coll(FRIENDS)
            .find(friend_filter(q))
            .sort(doc! { "_id": 1 })
            .skip(q.skip)
            .limit(mongo_limit(q.limit))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| decode(FRIENDS, d)).collect()
    }

    async fn remark_names(&self, user_id: i32) -> StoreResult<Vec<(i32, String)>> {
        // Only the relations with a remark leave the server.
        let docs: Vec<Document> = self
            .coll(FRIENDS)
            .find(doc! { "userId": user_id, "remarkName": { "$nin": [null, ""] } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let friends = docs
            .into_iter()
            .map(|d| decode(FRIENDS, d))
            .collect::<StoreResult<Vec<Friend>>>()?;
        Ok(crate::store::friends::remarks_of(friends))
    }

    async fn count_matching(&self, q: &FriendQuery) -> StoreResult<u64> {
        self.coll(FRIENDS)
            .count_documents(friend_filter(q))
            .await
            .map_err(backend)
    }

    async fn update_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Friend>> {
        let filter = doc! { "userId": user_id, "toUserId": to_user_id };
        if patch.is_empty() {
            return self.get_friend(user_id, to_user_id).await;
        }
        let updated = self
            .coll(FRIENDS)
            .find_one_and_update(filter, patch_to_update(patch))
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| decode(FRIENDS, d)).transpose()
    }

    async fn delete_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<bool> {
        // `delete_many`: a database written by the Java server can hold duplicates of a pair
        // (its batch add inserts without checking), and all of them are the relation.
        let r = self
            .coll(FRIENDS)
            .delete_many(doc! { "userId": user_id, "toUserId": to_user_id })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn refused_senders(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        let docs: Vec<Document> = self
            .coll(FRIENDS)
            .find(doc! {
                "userId": user_id,
                "$or": [{ "blacklist": 1 }, { "status": -1 }],
            })
            .projection(doc! { "toUserId": 1, "_id": 0 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get("toUserId").and_then(bson_to_i64))
            .filter_map(|id| i32::try_from(id).ok())
            .collect())
    }

    async fn refusers_of(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        let docs: Vec<Document> = self
            .coll(FRIENDS)
            .find(doc! {
                "toUserId": user_id,
                "$or": [{ "blacklist": 1 }, { "status": -1 }],
            })
            .projection(doc! { "userId": 1, "_id": 0 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get("userId").and_then(bson_to_i64))
            .filter_map(|id| i32::try_from(id).ok())
            .collect())
    }

    async fn followers(
        &self,
        to_user_id: i32,
        status: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Friend>> {
        let mut filter = doc! { "toUserId": to_user_id };
        if let Some(s) = status {
            filter.insert("status", s);
        }
        let docs: Vec<Document> = self
            .coll(FRIENDS)
            .find(filter)
            .sort(doc! { "_id": 1 })
            .skip(skip)
            .limit(mongo_limit(limit))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| decode(FRIENDS, d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_use_the_reference_field_names() {
        let q = FriendQuery {
            user_id: 7,
            status: Some(2),
            blacklisted: Some(false),
            keyword: Some("a.b*".into()),
            ..FriendQuery::default()
        };
        assert_eq!(
            friend_filter(&q),
            doc! {
                "userId": 7,
                "status": 2,
                "blacklist": { "$ne": 1 },
                "$or": [
                    { "toNickname": { "$regex": "a\\.b\\*", "$options": "i" } },
                    { "remarkName": { "$regex": "a\\.b\\*", "$options": "i" } },
                ],
            }
        );
        let q = FriendQuery {
            user_id: 7,
            exclude_status: Some(0),
            blacklisted: Some(true),
            keyword: Some(String::new()),
            ..FriendQuery::default()
        };
        assert_eq!(
            friend_filter(&q),
            doc! { "userId": 7, "status": { "$ne": 0 }, "blacklist": 1 }
        );
        let q = FriendQuery {
            user_id: 7,
            status: Some(-1),
            exclude_status: Some(0),
            ..FriendQuery::default()
        };
        assert_eq!(
            friend_filter(&q),
            doc! { "userId": 7, "status": { "$eq": -1, "$ne": 0 } }
        );
        assert_eq!(mongo_limit(0), 0, "0 is MongoDB's 'no limit' too");
    }
}
