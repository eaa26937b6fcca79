//! The embedded store: SQLite (bundled, WAL) under `data_dir`. One table per Shiku collection;
//! the document itself is kept as JSON and the queried fields are generated, indexed columns,
//! so the JSON is the only source of truth.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{FriendStore, MetaStore, Patch, StoreError, StoreResult, UserQuery, UserStore};
use crate::domain::model::{Friend, User, UserLoginLog, UserRole};

/// The SQLite adapter.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS user (
    id INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    telephone TEXT GENERATED ALWAYS AS (json_extract(doc, '$.telephone')) VIRTUAL,
    user_key TEXT GENERATED ALWAYS AS (json_extract(doc, '$.userKey')) VIRTUAL,
    encry_account TEXT GENERATED ALWAYS AS (json_extract(doc, '$.encryAccount')) VIRTUAL,
    account TEXT GENERATED ALWAYS AS (json_extract(doc, '$.account')) VIRTUAL,
    phone TEXT GENERATED ALWAYS AS (json_extract(doc, '$.phone')) VIRTUAL,
    area_code TEXT GENERATED ALWAYS AS (json_extract(doc, '$.areaCode')) VIRTUAL
);
CREATE UNIQUE INDEX IF NOT EXISTS user_telephone ON user(telephone);
CREATE INDEX IF NOT EXISTS user_user_key ON user(user_key);
CREATE INDEX IF NOT EXISTS user_encry_account ON user(encry_account);
CREATE INDEX IF NOT EXISTS user_account ON user(account);
CREATE INDEX IF NOT EXISTS user_phone ON user(phone);
CREATE TABLE IF NOT EXISTS user_login_log (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_roles (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS user_roles_user ON user_roles(user_id);
CREATE TABLE IF NOT EXISTS idx_user (k TEXT PRIMARY KEY, id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS u_friends (
    user_id INTEGER NOT NULL,
    to_user_id INTEGER NOT NULL,
    doc TEXT NOT NULL,
    status INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL,
    PRIMARY KEY (user_id, to_user_id)
);
CREATE INDEX IF NOT EXISTS u_friends_to ON u_friends(to_user_id);
CREATE TABLE IF NOT EXISTS server_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS token_versions (user_id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
"#;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn encode<T: Serialize>(doc: &T) -> StoreResult<String> {
    serde_json::to_string(doc).map_err(backend)
}

fn decode<T: DeserializeOwned>(collection: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        collection: collection.to_string(),
        reason: e.to_string(),
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

impl SqliteStore {
    /// Opens (creating) `shiku.db` in `dir`.
    pub fn open(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("shiku.db");
        let conn = Connection::open(&path).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )
        .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.display().to_string(),
        })
    }

    /// `sqlite:<path>` for the start-up log line.
    pub fn description(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    /// Runs `f` on the connection off the async runtime.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| backend("sqlite connection poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

/// Reads one document column.
fn one_doc<T: DeserializeOwned>(
    conn: &Connection,
    collection: &str,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    let text: Option<String> = conn
        .query_row(sql, p, |r| r.get(0))
        .optional()
        .map_err(backend)?;
    text.map(|t| decode(collection, &t)).transpose()
}

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
        self.run(move |c| {
            one_doc(
                c,
                "user",
                "SELECT doc FROM user WHERE id = ?1",
                params![user_id],
            )
        })
        .await
    }

    async fn find_by_telephone(&self, telephone: &str) -> StoreResult<Option<User>> {
        let t = telephone.to_string();
        self.run(move |c| {
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
        self.run(move |c| match area {
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
        self.run(move |c| {
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
        self.run(move |c| {
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM user WHERE (account = ?1 OR phone = ?1) AND id != ?2",
                    params![a, except],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn update_user(&self, user_id: i32, patch: &Patch) -> StoreResult<Option<User>> {
        let patch = patch.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let text = patch_by_id(&tx, "user", "id", user_id as i64, &patch)?;
            tx.commit().map_err(backend)?;
            text.map(|t| decode("user", &t)).transpose()
        })
        .await
    }

    async fn query_users(&self, q: &UserQuery) -> StoreResult<Vec<User>> {
        let q = q.clone();
        self.run(move |c| {
            let mut sql = String::from("SELECT doc FROM user WHERE id >= ?1");
            let mut args: Vec<rusqlite::types::Value> = vec![(q.min_user_id as i64).into()];
            if let Some(b) = q.before {
                args.push((b as i64).into());
                sql += &format!(" AND id < ?{}", args.len());
            }
            if let Some(n) = &q.nickname {
                let escaped = n
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                args.push(format!("%{escaped}%").into());
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
            let mut stmt = c.prepare(&sql).map_err(backend)?;
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
        self.run(move |c| {
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
        let patch = patch.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            tx.execute(
                "INSERT OR IGNORE INTO user_login_log (id, doc) VALUES (?1, ?2)",
                params![user_id, serde_json::json!({"_id": user_id}).to_string()],
            )
            .map_err(backend)?;
            patch_by_id(&tx, "user_login_log", "id", user_id as i64, &patch)?;
            tx.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn roles_of(&self, user_id: i32) -> StoreResult<Vec<UserRole>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare("SELECT doc FROM user_roles WHERE user_id = ?1 ORDER BY rid")
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

/// Patches the row of `table` whose integer `key` column equals `id`.
fn patch_by_id(
    tx: &rusqlite::Transaction,
    table: &str,
    key: &str,
    id: i64,
    patch: &Patch,
) -> StoreResult<Option<String>> {
    patch_where(tx, table, &format!("{key} = ?1"), &[id], patch)
}

/// Patches the row of `table` matching `where_sql` over integer parameters `ids`.
fn patch_where(
    tx: &rusqlite::Transaction,
    table: &str,
    where_sql: &str,
    ids: &[i64],
    patch: &Patch,
) -> StoreResult<Option<String>> {
    let text: Option<String> = tx
        .query_row(
            &format!("SELECT doc FROM {table} WHERE {where_sql}"),
            rusqlite::params_from_iter(ids),
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    let Some(text) = text else { return Ok(None) };
    if patch.is_empty() {
        return Ok(Some(text));
    }
    let mut doc: serde_json::Value = decode(table, &text)?;
    patch.apply_to_json(&mut doc);
    let new_text = doc.to_string();
    let mut args: Vec<rusqlite::types::Value> = ids.iter().map(|i| (*i).into()).collect();
    args.push(new_text.clone().into());
    tx.execute(
        &format!(
            "UPDATE {table} SET doc = ?{} WHERE {where_sql}",
            ids.len() + 1
        ),
        rusqlite::params_from_iter(args),
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Duplicate(format!("{table}: {e}"))
        } else {
            backend(e)
        }
    })?;
    Ok(Some(new_text))
}

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

#[async_trait]
impl MetaStore for SqliteStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let k = key.to_string();
        self.run(move |c| {
            c.query_row("SELECT v FROM server_meta WHERE k = ?1", params![k], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        let (k, v) = (key.to_string(), value.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO server_meta (k, v) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(backend)?;
            c.query_row("SELECT v FROM server_meta WHERE k = ?1", params![k], |r| {
                r.get(0)
            })
            .map_err(backend)
        })
        .await
    }

    async fn token_version(&self, user_id: i32) -> StoreResult<i64> {
        self.run(move |c| {
            let v: Option<i64> = c
                .query_row(
                    "SELECT v FROM token_versions WHERE user_id = ?1",
                    params![user_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            Ok(v.unwrap_or(0))
        })
        .await
    }

    async fn bump_token_version(&self, user_id: i32) -> StoreResult<i64> {
        self.run(move |c| {
            c.query_row(
                "INSERT INTO token_versions (user_id, v) VALUES (?1, 1) \
                 ON CONFLICT(user_id) DO UPDATE SET v = v + 1 RETURNING v",
                params![user_id],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }
}
