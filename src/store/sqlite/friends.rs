//! `FriendStore`: table `u_friends`.

use super::*;
use crate::store::FriendQuery;

/// The WHERE clause (over `u_friends`) and its arguments for a relation filter.
fn where_of(q: &FriendQuery) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("user_id = ?1");
    let mut args: Vec<rusqlite::types::Value> = vec![i64::from(q.user_id).into()];
    if let Some(s) = q.status {
        args.push(i64::from(s).into());
        sql += &format!(" AND status = ?{}", args.len());
    }
    if let Some(s) = q.exclude_status {
        // `IS NOT` so that a document without a status still counts as "not this status",
        // as MongoDB's `$ne` does.
        args.push(i64::from(s).into());
        sql += &format!(" AND status IS NOT ?{}", args.len());
    }
    if let Some(m) = q.min_to_user_id {
        args.push(i64::from(m).into());
        sql += &format!(" AND to_user_id >= ?{}", args.len());
    }
    match q.blacklisted {
        Some(true) => sql += " AND IFNULL(json_extract(doc, '$.blacklist'), 0) = 1",
        Some(false) => sql += " AND IFNULL(json_extract(doc, '$.blacklist'), 0) != 1",
        None => {}
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        args.push(like_pattern(k).into());
        let n = args.len();
        sql += &format!(
            " AND (json_extract(doc, '$.toNickname') LIKE ?{n} ESCAPE '\\' \
             OR json_extract(doc, '$.remarkName') LIKE ?{n} ESCAPE '\\')"
        );
    }
    (sql, args)
}

#[async_trait]
impl FriendStore for SqliteStore {
    async fn get_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<Option<Friend>> {
        self.read(1, move |c| {
            one_doc(
                c,
                "u_friends",
                "SELECT doc FROM u_friends WHERE user_id = ?1 AND to_user_id = ?2",
                params![user_id, to_user_id],
            )
        })
        .await
    }

    async fn put_friend(&self, friend: &Friend) -> StoreResult<()> {
        let text = encode(friend)?;
        let (a, b) = (friend.user_id, friend.to_user_id);
        self.run(move |c| {
            c.execute(
                "INSERT INTO u_friends (user_id, to_user_id, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(user_id, to_user_id) DO UPDATE SET doc = json_patch(doc, excluded.doc)",
                params![a, b, text],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn count_friends(&self, user_id: i32, status: Option<i32>) -> StoreResult<u64> {
        self.read(1, move |c| match status {
            Some(s) => count(
                c,
                "SELECT COUNT(*) FROM u_friends WHERE user_id = ?1 AND status = ?2",
                params![user_id, s],
            ),
            None => count(
                c,
                "SELECT COUNT(*) FROM u_friends WHERE user_id = ?1",
                params![user_id],
            ),
        })
        .await
    }

    async fn update_friends_to(&self, to_user_id: i32, patch: &Patch) -> StoreResult<()> {
        let patch = patch.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let owners: Vec<i64> = {
                let mut stmt = tx
                    .prepare("SELECT user_id FROM u_friends WHERE to_user_id = ?1")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![to_user_id], |r| r.get(0))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            for owner in owners {
                patch_where(
                    &tx,
                    "u_friends",
                    "user_id = ?1 AND to_user_id = ?2",
                    &[owner, to_user_id as i64],
                    &patch,
                )?;
            }
            tx.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn query_friends(&self, q: &FriendQuery) -> StoreResult<Vec<Friend>> {
        let (mut sql, mut args) = where_of(q);
        args.push(sql_limit(q.limit).into());
        args.push(i64::try_from(q.skip).unwrap_or(i64::MAX).into());
        let n = args.len();
        // rowid order is insertion order (an upsert keeps the row), as MongoDB's `_id` order.
        sql = format!(
            "SELECT doc FROM u_friends WHERE {sql} ORDER BY rowid LIMIT ?{} OFFSET ?{n}",
            n - 1
        );
        self.read(page_rows(q.limit), move |c| {
            docs(c, "u_friends", &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    async fn remark_names(&self, user_id: i32) -> StoreResult<Vec<(i32, String)>> {
        // Only the relations with a remark are decoded (a member list asks for the remarks of
        // someone with thousands of friends, of whom a few have one).
        let friends: Vec<Friend> = self
            .read(u64::MAX, move |c| {
                docs(
                    c,
                    "u_friends",
                    "SELECT doc FROM u_friends WHERE user_id = ?1 \
                     AND json_extract(doc, '$.remarkName') <> '' ORDER BY rowid",
                    params![user_id],
                )
            })
            .await?;
        Ok(crate::store::friends::remarks_of(friends))
    }

    async fn count_matching(&self, q: &FriendQuery) -> StoreResult<u64> {
        let (sql, args) = where_of(q);
        self.read(1, move |c| {
            count(
                c,
                &format!("SELECT COUNT(*) FROM u_friends WHERE {sql}"),
                rusqlite::params_from_iter(args),
            )
        })
        .await
    }

    async fn update_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Friend>> {
        let patch = patch.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let text = patch_where(
                &tx,
                "u_friends",
                "user_id = ?1 AND to_user_id = ?2",
                &[i64::from(user_id), i64::from(to_user_id)],
                &patch,
            )?;
            tx.commit().map_err(backend)?;
            text.map(|t| decode("u_friends", &t)).transpose()
        })
        .await
    }

    async fn delete_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<bool> {
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM u_friends WHERE user_id = ?1 AND to_user_id = ?2",
                    params![user_id, to_user_id],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn refused_senders(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        self.read(u64::MAX, move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT to_user_id FROM u_friends WHERE user_id = ?1 \
                     AND (status = -1 OR IFNULL(json_extract(doc, '$.blacklist'), 0) = 1)",
                )
                .map_err(backend)?;
            let ids = stmt
                .query_map(params![user_id], |r| r.get::<_, i32>(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<i32>>>()
                .map_err(backend)?;
            Ok(ids)
        })
        .await
    }

    async fn refusers_of(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        self.read(u64::MAX, move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT user_id FROM u_friends WHERE to_user_id = ?1 \
                     AND (status = -1 OR IFNULL(json_extract(doc, '$.blacklist'), 0) = 1)",
                )
                .map_err(backend)?;
            let ids = stmt
                .query_map(params![user_id], |r| r.get::<_, i32>(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<i32>>>()
                .map_err(backend)?;
            Ok(ids)
        })
        .await
    }

    async fn followers(
        &self,
        to_user_id: i32,
        status: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Friend>> {
        let mut sql = String::from("SELECT doc FROM u_friends WHERE to_user_id = ?1");
        let mut args: Vec<rusqlite::types::Value> = vec![i64::from(to_user_id).into()];
        if let Some(s) = status {
            args.push(i64::from(s).into());
            sql += &format!(" AND status = ?{}", args.len());
        }
        args.push(sql_limit(limit).into());
        args.push(i64::try_from(skip).unwrap_or(i64::MAX).into());
        let n = args.len();
        sql += &format!(" ORDER BY rowid LIMIT ?{} OFFSET ?{n}", n - 1);
        self.run(move |c| docs(c, "u_friends", &sql, rusqlite::params_from_iter(args)))
            .await
    }
}
