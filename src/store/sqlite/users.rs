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
        Ok(self.shared_user(user_id).await?.map(|u| User::clone(&u)))
    }

    async fn shared_user(&self, user_id: i32) -> StoreResult<Option<Arc<Shared<User>>>> {
        let at = self.clock.row(cache::Watched::User, i64::from(user_id));
        self.kept(
            |k| &k.users,
            user_id,
            at,
            move |c| {
                Ok(one_doc(
                    c,
                    "user",
                    "SELECT doc FROM user WHERE id = ?1",
                    params![user_id],
                )?
                .map(Shared::new))
            },
        )
        .await
    }

    async fn user_names(&self, user_ids: &[i32]) -> StoreResult<Vec<Option<UserName>>> {
        // Each name kept while its user's row holds (`cache`); the others in one query.
        let mut out: Vec<Option<UserName>> = Vec::with_capacity(user_ids.len());
        let mut missing: Vec<(i32, u64)> = Vec::new();
        for &id in user_ids {
            let at = self.clock.row(cache::Watched::User, i64::from(id));
            match self.kept.names.get(i64::from(id), at) {
                Some(name) => out.push(name),
                None => {
                    missing.push((id, at));
                    out.push(None);
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let ids = json_list(&missing.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
        let found = self
            .read(page_rows(missing.len() as u64), move |c| {
                // The two fields as stored (their JSON types kept: the lenient reading of
                // `User` turns a numeric account into text the same way).
                docs::<UserName>(
                    c,
                    "user",
                    "SELECT json_array(id, json_extract(doc, '$.nickname'), \
                     json_extract(doc, '$.account')) \
                     FROM user WHERE id IN (SELECT value FROM json_each(?1))",
                    params![ids],
                )
            })
            .await?;
        let by_id: std::collections::HashMap<i32, UserName> =
            found.into_iter().map(|u| (u.user_id, u)).collect();
        for (&id, slot) in user_ids.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                *slot = by_id.get(&id).cloned();
            }
        }
        for (id, at) in missing {
            self.kept
                .names
                .put(i64::from(id), at, by_id.get(&id).cloned());
        }
        Ok(out)
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

    async fn nearby_users(&self, query: &NearbyQuery) -> StoreResult<Vec<(User, f64)>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let q = query.clone();
        // Candidates are thousands of rows: always on the blocking pool.
        self.read(MAX_NEARBY_CANDIDATES as u64, move |c| nearby(c, &q))
            .await
    }

    async fn get_login_log(&self, user_id: i32) -> StoreResult<Option<UserLoginLog>> {
        let at = self.clock.row(cache::Watched::LoginLog, i64::from(user_id));
        self.kept(
            |k| &k.login_logs,
            user_id,
            at,
            move |c| {
                one_doc(
                    c,
                    "userLoginLog",
                    "SELECT doc FROM user_login_log WHERE id = ?1",
                    params![user_id],
                )
            },
        )
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
        // Role rows are not keyed by user: any change to the table moves every user's reading.
        let at = self.clock.table(cache::Watched::Roles);
        self.kept(
            |k| &k.roles,
            user_id,
            at,
            move |c| {
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
            },
        )
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

    async fn login_keys(&self, user_id: i32) -> StoreResult<Option<LoginKeys>> {
        self.read(1, move |c| {
            one_doc(
                c,
                "user",
                "SELECT json_object('publicKey', json_extract(doc, '$.publicKey'), \
                 'privateKey', json_extract(doc, '$.privateKey'), \
                 'loginVerifier', json_extract(doc, '$.loginVerifier')) FROM user WHERE id = ?1",
                params![user_id],
            )
        })
        .await
    }
}

/// Fills `user_loc` from the users' documents when it is empty (a database made before the
/// index, or an import); the triggers keep it from then on.
pub(super) fn index_positions(c: &Connection) -> StoreResult<()> {
    let empty: bool = c
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM user_loc)", [], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    if empty {
        c.execute(
            "INSERT INTO user_loc SELECT id, lat, lat, lng, lng FROM (SELECT id, \
             json_extract(doc, '$.loc.lat') AS lat, json_extract(doc, '$.loc.lng') AS lng \
             FROM user) WHERE lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180 \
             AND NOT (lat = 0 AND lng = 0)",
            [],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Candidate rows one round of a nearby search reads from the R*Tree at most.
const MAX_NEARBY_CANDIDATES: usize = 20_000;
/// The first radius a nearby search tries, metres.
const FIRST_NEARBY_RADIUS: f64 = 2_000.0;
/// Rounds of a nearby search at most (each grows or halves the radius).
const MAX_NEARBY_ROUNDS: usize = 40;

/// The users within `radius` metres who pass the query's filters, nearest first, by id and
/// distance; `None` when the box held more than [`MAX_NEARBY_CANDIDATES`].
fn nearby_within(
    c: &Connection,
    q: &NearbyQuery,
    except: &str,
    radius: f64,
) -> StoreResult<Option<Vec<(i64, f64)>>> {
    // The R*Tree keeps 32-bit floats, rounded outwards: a margin of ~10 m keeps edge points in.
    const MARGIN: f64 = 1e-4;
    let delta = radius / crate::store::users::EARTH_RADIUS;
    let dlat = delta.to_degrees() + MARGIN;
    let (lat_lo, lat_hi) = (q.lat - dlat, q.lat + dlat);
    let cos = q.lat.to_radians().cos();
    let (lng_lo, lng_hi) = if lat_lo <= -90.0 || lat_hi >= 90.0 || delta.sin() >= cos {
        (-180.0, 180.0)
    } else {
        let dlng = (delta.sin() / cos).asin().to_degrees() + MARGIN;
        if q.lng - dlng < -180.0 || q.lng + dlng > 180.0 {
            (-180.0, 180.0)
        } else {
            (q.lng - dlng, q.lng + dlng)
        }
    };
    let mut st = c
        .prepare_cached(
            "SELECT l.id, json_extract(u.doc, '$.loc.lat'), json_extract(u.doc, '$.loc.lng') \
             FROM user_loc AS l JOIN user AS u ON u.id = l.id \
             WHERE l.max_lat >= ?1 AND l.min_lat <= ?2 AND l.max_lng >= ?3 AND l.min_lng <= ?4 \
             AND l.id >= ?5 AND l.id NOT IN (SELECT value FROM json_each(?6)) \
             AND coalesce(json_extract(u.doc, '$.status'), 1) <> -1 \
             AND coalesce(json_extract(u.doc, '$.settings.isOpenPrivacyPosition'), 1) <> 0 \
             AND (?7 IS NULL OR json_extract(u.doc, '$.sex') = ?7) \
             AND (?8 IS NULL OR json_extract(u.doc, '$.birthday') >= ?8) \
             AND (?9 IS NULL OR json_extract(u.doc, '$.birthday') <= ?9) \
             AND (?10 IS NULL OR json_extract(u.doc, '$.active') >= ?10) \
             LIMIT ?11",
        )
        .map_err(backend)?;
    let rows = st
        .query_map(
            params![
                lat_lo,
                lat_hi,
                lng_lo,
                lng_hi,
                q.min_user_id,
                except,
                q.sex,
                q.birthday_from,
                q.birthday_to,
                q.active_since,
                MAX_NEARBY_CANDIDATES as i64 + 1,
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                ))
            },
        )
        .map_err(backend)?;
    let mut found = Vec::new();
    let mut read = 0;
    for row in rows {
        let (id, lat, lng) = row.map_err(backend)?;
        read += 1;
        if read > MAX_NEARBY_CANDIDATES {
            return Ok(None);
        }
        let d = crate::store::users::distance_m(q.lat, q.lng, lat, lng);
        if d <= radius {
            found.push((id, d));
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(Some(found))
}

/// A nearby search on the R*Tree: the radius grows from [`FIRST_NEARBY_RADIUS`] (by the
/// density found so far) until the circle holds the page or reaches `max_distance`; every
/// user nearer than the page's last is inside that circle, so the order is exact.
fn nearby(c: &Connection, q: &NearbyQuery) -> StoreResult<Vec<(User, f64)>> {
    let need = usize::try_from(q.skip.saturating_add(u64::from(q.limit))).unwrap_or(usize::MAX);
    let except = serde_json::to_string(&q.except).map_err(backend)?;
    let mut radius = FIRST_NEARBY_RADIUS.min(q.max_distance);
    // The largest radius known to fit under the candidate cap, and the smallest known not to.
    let mut fits = 0.0_f64;
    let mut best: Vec<(i64, f64)> = Vec::new();
    for _ in 0..MAX_NEARBY_ROUNDS {
        match nearby_within(c, q, &except, radius)? {
            Some(found) => {
                fits = radius;
                let done = found.len() >= need || radius >= q.max_distance;
                best = found;
                if done {
                    break;
                }
                let factor = if best.is_empty() {
                    4.0
                } else {
                    ((need as f64 / best.len() as f64).sqrt() * 1.2).clamp(1.2, 2.0)
                };
                radius = (radius * factor).min(q.max_distance);
            }
            // Too dense: the circle between the last that fitted and this one.
            None if radius - fits > 1.0 => radius = fits + (radius - fits) / 2.0,
            None => break,
        }
    }
    let skip = usize::try_from(q.skip).unwrap_or(usize::MAX);
    let mut st = c
        .prepare_cached("SELECT doc FROM user WHERE id = ?1")
        .map_err(backend)?;
    let mut out = Vec::new();
    for (id, d) in best.into_iter().skip(skip).take(q.limit as usize) {
        let text: Option<String> = st
            .query_row(params![id], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(text) = text {
            out.push((decode("user", &text)?, d));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_read_as_leniently_as_whole_users() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        // Older archives: a numeric account, no nickname at all, a null one.
        s.run(|c| {
            c.execute_batch(
                r#"INSERT INTO user (id, doc) VALUES (7, '{"_id":7,"account":123}');
                   INSERT INTO user (id, doc) VALUES (8, '{"_id":8,"nickname":null,"account":"a"}');"#,
            )
            .map_err(backend)
        })
        .await
        .unwrap();
        for id in [7, 8] {
            let whole = s.get_user(id).await.unwrap().unwrap().name();
            let names = s.user_names(&[id]).await.unwrap();
            assert_eq!(names, [Some(whole)]);
        }
        let names = s.user_names(&[7]).await.unwrap();
        assert_eq!(names[0].as_ref().unwrap().account, "123");
    }

    #[tokio::test]
    async fn what_another_process_changes_is_read_at_once() {
        // Two stores on one file, as two nodes or the old and the new process of a restart:
        // each keeps what it read, and each sees the other's writes on its next read.
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(dir.path()).unwrap();
        let b = SqliteStore::open(dir.path()).unwrap();
        let user: User =
            serde_json::from_value(serde_json::json!({"_id": 7, "nickname": "a"})).unwrap();
        a.insert_user(&user).await.unwrap();
        for _ in 0..2 {
            assert_eq!(a.get_user(7).await.unwrap().unwrap().nickname, "a");
            assert_eq!(
                a.user_names(&[7]).await.unwrap()[0]
                    .as_ref()
                    .unwrap()
                    .nickname,
                "a"
            );
            assert!(a.get_login_log(7).await.unwrap().is_none());
            assert!(a.roles_of(7).await.unwrap().is_empty());
            assert_eq!(a.token_version(7).await.unwrap(), 0);
        }
        b.update_user(7, &Patch::new().set("nickname", "b"))
            .await
            .unwrap();
        let log: UserLoginLog = serde_json::from_value(serde_json::json!({"_id": 7})).unwrap();
        b.put_login_log(&log).await.unwrap();
        let role: UserRole =
            serde_json::from_value(serde_json::json!({"userId": 7, "role": 5})).unwrap();
        b.insert_role(&role).await.unwrap();
        b.bump_token_version(7).await.unwrap();
        assert_eq!(a.get_user(7).await.unwrap().unwrap().nickname, "b");
        assert_eq!(
            a.user_names(&[7]).await.unwrap()[0]
                .as_ref()
                .unwrap()
                .nickname,
            "b"
        );
        assert!(a.get_login_log(7).await.unwrap().is_some());
        assert_eq!(a.roles_of(7).await.unwrap().len(), 1);
        assert_eq!(a.token_version(7).await.unwrap(), 1);
        // And a deletion.
        b.run(|c| {
            c.execute("DELETE FROM user WHERE id = 7", [])
                .map_err(backend)
        })
        .await
        .unwrap();
        assert!(a.get_user(7).await.unwrap().is_none());
        assert_eq!(a.user_names(&[7]).await.unwrap(), [None]);
    }
}
