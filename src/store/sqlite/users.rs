//! `UserStore`: tables `user`, `user_login_log`, `user_roles`, `idx_user`.

use super::*;

#[async_trait]
impl UserStore for SqliteStore {
    async fn next_user_id(&self, first: i32) -> StoreResult<i32> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let current: Option<i64> = tx
                .query_row("SELECT id FROM idx_user WHERE k = 'user'", [], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let last = match current {
                Some(v) => v,
                None => {
                    let max: Option<i64> = tx
                        .query_row("SELECT MAX(id) FROM user", [], |r| r.get(0))
                        .map_err(backend)?;
                    max.unwrap_or(0).max(first as i64 - 1)
                }
            };
            let next = last + 1;
            if next > i32::MAX as i64 {
                return Err(backend("userId counter exhausted"));
            }
            tx.execute(
                "INSERT INTO idx_user (k, id) VALUES ('user', ?1) ON CONFLICT(k) DO UPDATE SET id = excluded.id",
                params![next],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(next as i32)
        })
        .await
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let text = encode(user)?;
        let id = user.user_id;
        self.run(move |c| {
            c.execute(
                "INSERT INTO user (id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate(format!("user {id}: {e}"))
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, user_id: i32) -> StoreResult<Option<User>> {
        self.read(1, move |c| {
            one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE id = ?1",
                params![user_id],
            )
        })
        .await
    }

    async fn get_users(&self, user_ids: &[i32]) -> StoreResult<Vec<Option<User>>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_list(user_ids)?;
        let wanted = user_ids.to_vec();
        self.read(page_rows(wanted.len() as u64), move |c| {
            let found: Vec<User> = docs(
                c,
                "user",
                "SELECT doc FROM user WHERE id IN (SELECT value FROM json_each(?1))",
                params![ids],
            )?;
            let mut by_id: std::collections::HashMap<i32, User> =
                found.into_iter().map(|u| (u.user_id, u)).collect();
            // An id asked twice gets the user twice.
            let mut placed = std::collections::HashMap::new();
            let mut out: Vec<Option<User>> = Vec::with_capacity(wanted.len());
            for id in &wanted {
                let user = match by_id.remove(id) {
                    Some(u) => {
                        placed.insert(*id, out.len());
                        Some(u)
                    }
                    None => placed.get(id).and_then(|&i| out[i].clone()),
                };
                out.push(user);
            }
            Ok(out)
        })
        .await
    }

    async fn find_by_telephone(&self, telephone: &str) -> StoreResult<Option<User>> {
        let t = telephone.to_string();
        self.read(1, move |c| {
            one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE telephone = ?1",
                params![t],
            )
        })
        .await
    }

    async fn find_for_login(
        &self,
        key: &str,
        area_code: Option<&str>,
    ) -> StoreResult<Option<User>> {
        let key = key.to_string();
        let area = area_code.map(str::to_string);
        self.read(1, move |c| match area {
            Some(a) => one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE (user_key = ?1 OR encry_account = ?1) AND area_code = ?2 ORDER BY id LIMIT 1",
                params![key, a],
            ),
            None => one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE user_key = ?1 OR encry_account = ?1 ORDER BY id LIMIT 1",
                params![key],
            ),
        })
        .await
    }

    async fn find_by_account(&self, account: &str) -> StoreResult<Option<User>> {
        let a = account.to_string();
        self.read(1, move |c| {
            one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE account = ?1 ORDER BY id LIMIT 1",
                params![a],
            )
        })
        .await
    }

    async fn account_taken(&self, account: &str, except: i32) -> StoreResult<bool> {
        let a = account.to_string();
        self.read(1, move |c| {
            let n = count(
                c,
                "SELECT COUNT(*) FROM user WHERE (account = ?1 OR phone = ?1) AND id != ?2",
                params![a, except],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn update_user(&self, user_id: i32, patch: &Patch) -> StoreResult<Option<User>> {
        // Through the group-commit writer: logins and presence changes patch users in bursts,
        // and one fsync then covers many of them.
        let patch = patch.clone();
        let text = self
            .writer
            .write(move |c| patch_by_id(c, "user", "id", user_id as i64, &patch))
            .await?;
        text.map(|t| decode("user", &t)).transpose()
    }

    async fn mark_all_offline(&self) -> StoreResult<u64> {
        self.writer
            .write(|c| {
                c.execute(
                    "UPDATE user SET doc = json_set(doc, '$.onlinestate', 0) \
                     WHERE json_extract(doc, '$.onlinestate') = 1",
                    [],
                )
                .map(|n| n as u64)
                .map_err(backend)
            })
            .await
    }

    async fn query_users(&self, q: &UserQuery) -> StoreResult<Vec<User>> {
        let q = q.clone();
        self.read(page_rows(u64::from(q.limit)), move |c| {
            let mut sql = String::from("SELECT doc FROM user WHERE id >= ?1");
            let mut args: Vec<rusqlite::types::Value> = vec![(q.min_user_id as i64).into()];
            if let Some(b) = q.before {
                args.push((b as i64).into());
                sql += &format!(" AND id < ?{}", args.len());
            }
            if let Some(n) = &q.nickname {
                args.push(like_pattern(n).into());
                sql += &format!(
                    " AND json_extract(doc, '$.nickname') LIKE ?{} ESCAPE '\\'",
                    args.len()
                );
            }
            if let Some(s) = q.sex {
                args.push((s as i64).into());
                sql += &format!(" AND json_extract(doc, '$.sex') = ?{}", args.len());
            }
            if let Some(f) = q.birthday_from {
                args.push(f.into());
                sql += &format!(" AND json_extract(doc, '$.birthday') >= ?{}", args.len());
            }
            if let Some(t) = q.birthday_to {
                args.push(t.into());
                sql += &format!(" AND json_extract(doc, '$.birthday') <= ?{}", args.len());
            }
            args.push((q.limit as i64).into());
            sql += &format!(" ORDER BY id DESC LIMIT ?{}", args.len());
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode("user", &row.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_login_log(&self, user_id: i32) -> StoreResult<Option<UserLoginLog>> {
        self.read(1, move |c| {
            one_doc(
                c,
                "userLoginLog",
                "SELECT doc FROM user_login_log WHERE id = ?1",
                params![user_id],
            )
        })
        .await
    }

    async fn put_login_log(&self, log: &UserLoginLog) -> StoreResult<()> {
        let text = encode(log)?;
        let id = log.user_id;
        self.run(move |c| {
            c.execute(
                "INSERT INTO user_login_log (id, doc) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                params![id, text],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn update_login_log(&self, user_id: i32, patch: &Patch) -> StoreResult<()> {
        // Group-committed like `update_user` (every login and presence change writes here).
        let patch = patch.clone();
        self.writer
            .write(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO user_login_log (id, doc) VALUES (?1, ?2)",
                    params![user_id, serde_json::json!({"_id": user_id}).to_string()],
                )
                .map_err(backend)?;
                patch_by_id(c, "user_login_log", "id", user_id as i64, &patch)?;
                Ok(())
            })
            .await
    }

    async fn roles_of(&self, user_id: i32) -> StoreResult<Vec<UserRole>> {
        self.read(1, move |c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM user_roles WHERE user_id = ?1 ORDER BY rid")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![user_id], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode("userRoles", &row.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn insert_role(&self, role: &UserRole) -> StoreResult<()> {
        let text = encode(role)?;
        let id = role.user_id;
        self.run(move |c| {
            c.execute(
                "INSERT INTO user_roles (user_id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
