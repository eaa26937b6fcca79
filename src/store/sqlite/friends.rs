//! `FriendStore`: table `u_friends`.

use super::*;

#[async_trait]
impl FriendStore for SqliteStore {
    async fn get_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<Option<Friend>> {
        self.run(move |c| {
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
        self.run(move |c| {
            let n: i64 = match status {
                Some(s) => c.query_row(
                    "SELECT COUNT(*) FROM u_friends WHERE user_id = ?1 AND status = ?2",
                    params![user_id, s],
                    |r| r.get(0),
                ),
                None => c.query_row(
                    "SELECT COUNT(*) FROM u_friends WHERE user_id = ?1",
                    params![user_id],
                    |r| r.get(0),
                ),
            }
            .map_err(backend)?;
            Ok(n as u64)
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
}
