//! `UserStore` on the reference collections `user`, `userLoginLog`, `userRoles`, `idx_user`.

use super::*;

#[async_trait]
impl UserStore for MongoStore {
    async fn next_user_id(&self, first: i32) -> StoreResult<i32> {
        let id = match self.increment_counter().await? {
            Some(id) => id,
            None => {
                let start = self.max_user_id().await?.max(i64::from(first) - 1);
                let start = i32::try_from(start).map_err(|_| {
                    StoreError::Backend(format!("userId counter start {start} exceeds int32"))
                })?;
                // Upsert on a fixed `_id`: concurrent creators meet on the unique `_id` index, so
                // exactly one document is created and the others just match it.
                let created = self
                    .coll(ID_COUNTER)
                    .update_one(
                        doc! { "_id": COUNTER_ID },
                        doc! { "$setOnInsert": { "id": start, "stub": "id" } },
                    )
                    .upsert(true)
                    .await;
                match created {
                    Ok(_) => {}
                    Err(e) if error_code(&e) == Some(DUPLICATE_KEY) => {}
                    Err(e) => return Err(backend(e)),
                }
                self.increment_counter().await?.ok_or_else(|| {
                    StoreError::Backend("userId counter vanished after creation".into())
                })?
            }
        };
        i32::try_from(id)
            .map_err(|_| StoreError::Backend(format!("userId counter {id} exceeds int32")))
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        // Existing Shiku databases index telephone non-uniquely, so look before inserting.
        if !user.telephone.is_empty() {
            let taken = self
                .coll(USER)
                .count_documents(doc! { "telephone": &user.telephone })
                .limit(1)
                .await
                .map_err(backend)?;
            if taken > 0 {
                return Err(StoreError::Duplicate("user.telephone".into()));
            }
        }
        let doc = encode(USER, user)?;
        self.coll(USER).insert_one(doc).await.map_err(write_error)?;
        Ok(())
    }

    async fn get_user(&self, user_id: i32) -> StoreResult<Option<User>> {
        self.find_user(doc! { "_id": user_id }).await
    }

    async fn shared_user(&self, user_id: i32) -> StoreResult<Option<std::sync::Arc<Shared<User>>>> {
        Ok(self.get_user(user_id).await?.map(Shared::new))
    }

    async fn user_names(&self, user_ids: &[i32]) -> StoreResult<Vec<Option<UserName>>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .coll(USER)
            .find(doc! { "_id": { "$in": user_ids } })
            .projection(doc! { "nickname": 1, "account": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut by_id = std::collections::HashMap::with_capacity(docs.len());
        for d in docs {
            let name: UserName = decode(USER, d)?;
            by_id.insert(name.user_id, name);
        }
        Ok(user_ids.iter().map(|id| by_id.get(id).cloned()).collect())
    }

    async fn find_by_telephone(&self, telephone: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "telephone": telephone }).await
    }

    async fn find_for_login(
        &self,
        key: &str,
        area_code: Option<&str>,
    ) -> StoreResult<Option<User>> {
        let mut filter = doc! { "$or": [ { "userKey": key }, { "encryAccount": key } ] };
        if let Some(area_code) = area_code {
            filter.insert("areaCode", area_code);
        }
        self.find_user(filter).await
    }

    async fn find_by_account(&self, account: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "account": account }).await
    }

    async fn account_taken(&self, account: &str, except: i32) -> StoreResult<bool> {
        let n = self
            .coll(USER)
            .count_documents(doc! {
                "_id": { "$ne": except },
                "$or": [ { "account": account }, { "phone": account } ],
            })
            .limit(1)
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn update_user(&self, user_id: i32, patch: &Patch) -> StoreResult<Option<User>> {
        if patch.is_empty() {
            return self.get_user(user_id).await;
        }
        let updated = self
            .coll(USER)
            .find_one_and_update(doc! { "_id": user_id }, patch_to_update(patch))
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| decode(USER, d)).transpose()
    }

    async fn mark_all_offline(&self) -> StoreResult<u64> {
        let r = self
            .coll(USER)
            .update_many(
                doc! { "onlinestate": 1 },
                doc! { "$set": { "onlinestate": 0 } },
            )
            .await
            .map_err(write_error)?;
        Ok(r.modified_count)
    }

    async fn query_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        // LIMIT 0 means no rows, as in SQL (MongoDB would read it as "no limit").
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .coll(USER)
            .find(user_query_filter(query))
            .sort(doc! { "_id": -1 })
            .limit(i64::from(query.limit))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| decode(USER, d)).collect()
    }

    async fn nearby_users(&self, query: &NearbyQuery) -> StoreResult<Vec<(User, f64)>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        const DISTANCE: &str = "_nearbyDistance";
        let pipeline = [
            nearby_stage(query, DISTANCE),
            // `$geoNear` streams nearest first: the page stops the index walk.
            doc! { "$skip": i64::try_from(query.skip).unwrap_or(i64::MAX) },
            doc! { "$limit": i64::from(query.limit) },
        ];
        let docs: Vec<Document> = self
            .coll(USER)
            .aggregate(pipeline)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter()
            .map(|mut d| {
                let distance = d.remove(DISTANCE).as_ref().and_then(bson_to_f64);
                Ok((decode(USER, d)?, distance.unwrap_or(0.0)))
            })
            .collect()
    }

    async fn get_login_log(&self, user_id: i32) -> StoreResult<Option<UserLoginLog>> {
        let found = self
            .coll(LOGIN_LOG)
            .find_one(doc! { "_id": user_id })
            .await
            .map_err(backend)?;
        found.map(|d| decode(LOGIN_LOG, d)).transpose()
    }

    async fn put_login_log(&self, log: &UserLoginLog) -> StoreResult<()> {
        let doc = encode(LOGIN_LOG, log)?;
        self.coll(LOGIN_LOG)
            .replace_one(doc! { "_id": log.user_id }, doc)
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn update_login_log(&self, user_id: i32, patch: &Patch) -> StoreResult<()> {
        if patch.is_empty() {
            return Ok(());
        }
        self.coll(LOGIN_LOG)
            .update_one(doc! { "_id": user_id }, patch_to_update(patch))
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn roles_of(&self, user_id: i32) -> StoreResult<Vec<UserRole>> {
        let docs: Vec<Document> = self
            .coll(ROLES)
            .find(doc! { "userId": user_id })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| decode(ROLES, d)).collect()
    }

    async fn insert_role(&self, role: &UserRole) -> StoreResult<()> {
        let doc = encode(ROLES, role)?;
        self.coll(ROLES)
            .insert_one(doc)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn login_keys(&self, user_id: i32) -> StoreResult<Option<LoginKeys>> {
        let found = self
            .coll(USER)
            .find_one(doc! { "_id": user_id })
            .projection(doc! { "publicKey": 1, "privateKey": 1, "loginVerifier": 1 })
            .await
            .map_err(backend)?;
        found
            .map(|d| {
                bson::from_document(d).map_err(|e| StoreError::Decode {
                    collection: USER.into(),
                    reason: format!("login keys of {user_id}: {e}"),
                })
            })
            .transpose()
    }
}
