//! `ConsoleStore`: cross-user queries over the tables of the other ports, plus the table of
//! online samples (`console_online`).

use super::*;
use crate::documents::{MsgRow, MucRow};
use crate::store::console::{ChatLogQuery, ConsoleStore, ConsoleUserQuery, RoomLogQuery};
use rusqlite::types::Value as SqlValue;

/// The console's own table: one online-user count per sample time.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS console_online (ts INTEGER PRIMARY KEY, n INTEGER NOT NULL);
"#;

/// `WHERE` clause and arguments of a user query.
fn user_where(q: &ConsoleUserQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    match (&q.keyword, q.user_id) {
        (Some(k), id) => {
            args.push(like_pattern(k).into());
            let n = args.len();
            let mut clause = format!(
                "json_extract(doc, '$.nickname') LIKE ?{n} ESCAPE '\\' \
                 OR telephone LIKE ?{n} ESCAPE '\\'"
            );
            if let Some(id) = id {
                args.push(i64::from(id).into());
                clause += &format!(" OR id = ?{}", args.len());
            }
            sql += &format!(" AND ({clause})");
        }
        (None, Some(id)) => {
            args.push(i64::from(id).into());
            sql += &format!(" AND id = ?{}", args.len());
        }
        (None, None) => {}
    }
    if let Some(o) = q.online {
        args.push(i64::from(o).into());
        sql += &format!(
            " AND COALESCE(json_extract(doc, '$.onlinestate'), 0) = ?{}",
            args.len()
        );
    }
    if let Some(f) = q.created_from {
        args.push(f.into());
        sql += &format!(" AND json_extract(doc, '$.createTime') >= ?{}", args.len());
    }
    if let Some(t) = q.created_to {
        args.push(t.into());
        sql += &format!(" AND json_extract(doc, '$.createTime') <= ?{}", args.len());
    }
    if let Some(t) = q.user_type {
        args.push(i64::from(t).into());
        sql += &format!(
            " AND COALESCE(json_extract(doc, '$.userType'), 0) = ?{}",
            args.len()
        );
    }
    (sql, args)
}

/// `WHERE` clause and arguments of a single-chat log query (sender copies only).
fn chat_where(q: &ChatLogQuery) -> StoreResult<(String, Vec<SqlValue>)> {
    let mut sql = String::from(" WHERE direction = 0");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(s) = q.start_ms {
        args.push(s.into());
        sql += &format!(" AND ts >= ?{}", args.len());
    }
    if let Some(e) = q.end_ms {
        args.push(e.into());
        sql += &format!(" AND ts <= ?{}", args.len());
    }
    if let Some(s) = q.sender {
        args.push(s.to_string().into());
        sql += &format!(" AND sender = ?{}", args.len());
    }
    if let Some(r) = q.receiver {
        args.push(r.to_string().into());
        sql += &format!(" AND receiver = ?{}", args.len());
    }
    if let Some(k) = &q.keyword {
        args.push(like_pattern(k).into());
        sql += &format!(
            " AND json_extract(doc, '$.content') LIKE ?{} ESCAPE '\\'",
            args.len()
        );
    }
    if !q.exclude_users.is_empty() {
        let ids: Vec<String> = q.exclude_users.iter().map(|u| u.to_string()).collect();
        args.push(serde_json::to_string(&ids).map_err(backend)?.into());
        let n = args.len();
        sql += &format!(
            " AND sender NOT IN (SELECT value FROM json_each(?{n})) \
             AND receiver NOT IN (SELECT value FROM json_each(?{n}))"
        );
    }
    Ok((sql, args))
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let (k, v) = (key.to_string(), value.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO server_meta (k, v) VALUES (?1, ?2) \
                 ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                params![k, v],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete_meta(&self, key: &str) -> StoreResult<bool> {
        let k = key.to_string();
        self.run(move |c| {
            let n = c
                .execute("DELETE FROM server_meta WHERE k = ?1", params![k])
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_users(&self, q: &ConsoleUserQuery) -> StoreResult<(Vec<User>, u64)> {
        let q = q.clone();
        self.run(move |c| {
            let (wh, args) = user_where(&q);
            let total = count(
                c,
                &format!("SELECT COUNT(*) FROM user{wh}"),
                rusqlite::params_from_iter(args.clone()),
            )?;
            if q.limit == 0 {
                return Ok((Vec::new(), total));
            }
            let mut args = args;
            args.push(sql_int(q.limit).into());
            args.push(sql_int(q.skip).into());
            let n = args.len();
            let sql = format!(
                "SELECT doc FROM user{wh} \
                 ORDER BY json_extract(doc, '$.createTime') DESC, id DESC LIMIT ?{} OFFSET ?{n}",
                n - 1
            );
            Ok((
                docs(c, "user", &sql, rusqlite::params_from_iter(args))?,
                total,
            ))
        })
        .await
    }

    async fn delete_user(&self, user_id: i32) -> StoreResult<bool> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .execute("DELETE FROM user WHERE id = ?1", params![user_id])
                .map_err(backend)?;
            for sql in [
                "DELETE FROM user_login_log WHERE id = ?1",
                "DELETE FROM user_roles WHERE user_id = ?1",
                "DELETE FROM u_friends WHERE user_id = ?1 OR to_user_id = ?1",
            ] {
                tx.execute(sql, params![user_id]).map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_roles(
        &self,
        roles: &[i32],
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<UserRole>, u64)> {
        let list = serde_json::to_string(roles).map_err(backend)?;
        self.run(move |c| {
            let wh = " WHERE json_extract(doc, '$.role') IN (SELECT value FROM json_each(?1))";
            let total = count(
                c,
                &format!("SELECT COUNT(*) FROM user_roles{wh}"),
                params![list.clone()],
            )?;
            let rows = docs(
                c,
                "userRoles",
                &format!("SELECT doc FROM user_roles{wh} ORDER BY rid DESC LIMIT ?2 OFFSET ?3"),
                params![list, sql_int(limit), sql_int(skip)],
            )?;
            Ok((rows, total))
        })
        .await
    }

    async fn touch_roles(&self, user_id: i32, roles: &[i32], last_login: i64) -> StoreResult<()> {
        let list = serde_json::to_string(roles).map_err(backend)?;
        self.run(move |c| {
            c.execute(
                "UPDATE user_roles SET doc = json_set(doc, '$.lastLoginTime', ?3) \
                 WHERE user_id = ?1 \
                 AND json_extract(doc, '$.role') IN (SELECT value FROM json_each(?2))",
                params![user_id, list, last_login],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete_roles(&self, user_id: i32, roles: &[i32]) -> StoreResult<u64> {
        let list = serde_json::to_string(roles).map_err(backend)?;
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM user_roles WHERE user_id = ?1 \
                     AND json_extract(doc, '$.role') IN (SELECT value FROM json_each(?2))",
                    params![user_id, list],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn chat_logs(&self, q: &ChatLogQuery) -> StoreResult<(Vec<MsgRow>, u64)> {
        let q = q.clone();
        self.run(move |c| {
            let (wh, args) = chat_where(&q)?;
            let total = count(
                c,
                &format!("SELECT COUNT(*) FROM shiku_msgs{wh}"),
                rusqlite::params_from_iter(args.clone()),
            )?;
            if q.limit == 0 {
                return Ok((Vec::new(), total));
            }
            let mut args = args;
            args.push(sql_int(q.limit).into());
            args.push(sql_int(q.skip).into());
            let n = args.len();
            let sql = format!(
                "SELECT doc FROM shiku_msgs{wh} ORDER BY rid DESC LIMIT ?{} OFFSET ?{n}",
                n - 1
            );
            let rows: Vec<MsgRow> = docs(c, "shiku_msgs", &sql, rusqlite::params_from_iter(args))?;
            let rows = rows
                .into_iter()
                .map(super::messages::with_message)
                .collect();
            Ok((rows, total))
        })
        .await
    }

    async fn delete_chat_logs(&self, q: &ChatLogQuery) -> StoreResult<u64> {
        let q = q.clone();
        self.run(move |c| {
            let (wh, args) = chat_where(&q)?;
            // Both copies of each matching message go: the filter selects sender copies.
            let sql = format!(
                "DELETE FROM shiku_msgs WHERE message_id IN \
                 (SELECT message_id FROM shiku_msgs{wh})"
            );
            let n = c
                .execute(&sql, rusqlite::params_from_iter(args))
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_chat_rows(&self, ids: &[String]) -> StoreResult<u64> {
        let list = serde_json::to_string(ids).map_err(backend)?;
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_msgs WHERE json_extract(doc, '$._id') IN \
                     (SELECT value FROM json_each(?1))",
                    params![list],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_chats_before(&self, ts_ms: i64) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .execute("DELETE FROM shiku_msgs WHERE ts < ?1", params![ts_ms])
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn trim_chats(&self, keep: u64) -> StoreResult<u64> {
        let keep = sql_int(keep);
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_msgs WHERE rid NOT IN \
                     (SELECT rid FROM shiku_msgs ORDER BY rid DESC LIMIT ?1)",
                    params![keep],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn room_logs(&self, q: &RoomLogQuery) -> StoreResult<(Vec<MucRow>, u64)> {
        let q = q.clone();
        self.run(move |c| {
            let mut wh = String::from(" WHERE jid = ?1");
            let mut args: Vec<SqlValue> = vec![q.jid.clone().into()];
            if let Some(s) = q.start_ms {
                args.push(s.into());
                wh += &format!(" AND ts >= ?{}", args.len());
            }
            if let Some(e) = q.end_ms {
                args.push(e.into());
                wh += &format!(" AND ts <= ?{}", args.len());
            }
            if let Some(k) = &q.keyword {
                args.push(like_pattern(k).into());
                wh += &format!(
                    " AND json_extract(doc, '$.content') LIKE ?{} ESCAPE '\\'",
                    args.len()
                );
            }
            if let Some(t) = q.content_type {
                args.push(i64::from(t).into());
                wh += &format!(" AND content_type = ?{}", args.len());
            }
            let total = count(
                c,
                &format!("SELECT COUNT(*) FROM shiku_muc_msgs{wh}"),
                rusqlite::params_from_iter(args.clone()),
            )?;
            if q.limit == 0 {
                return Ok((Vec::new(), total));
            }
            args.push(sql_int(q.limit).into());
            args.push(sql_int(q.skip).into());
            let n = args.len();
            let order = if q.ascending { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT doc FROM shiku_muc_msgs{wh} ORDER BY ts {order}, rid {order} \
                 LIMIT ?{} OFFSET ?{n}",
                n - 1
            );
            Ok((
                super::rooms::muc_rows(c, &sql, rusqlite::params_from_iter(args))?,
                total,
            ))
        })
        .await
    }

    async fn delete_room_rows(&self, jid: &str, ids: &[String]) -> StoreResult<u64> {
        let jid = jid.to_string();
        let list = serde_json::to_string(ids).map_err(backend)?;
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_muc_msgs WHERE jid = ?1 AND json_extract(doc, '$._id') IN \
                     (SELECT value FROM json_each(?2))",
                    params![jid, list],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn count_rooms(&self) -> StoreResult<u64> {
        self.run(|c| count(c, "SELECT COUNT(*) FROM shiku_room", []))
            .await
    }

    async fn put_online_sample(&self, ts: i64, online: u64) -> StoreResult<()> {
        let n = sql_int(online);
        self.run(move |c| {
            c.execute(
                "INSERT INTO console_online (ts, n) VALUES (?1, ?2) \
                 ON CONFLICT(ts) DO UPDATE SET n = excluded.n",
                params![ts, n],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn online_samples(&self, from: i64, to: i64) -> StoreResult<Vec<(i64, u64)>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare("SELECT ts, n FROM console_online WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![from, to], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (ts, n) = row.map_err(backend)?;
                out.push((ts, n.max(0) as u64));
            }
            Ok(out)
        })
        .await
    }

    async fn prune_online_samples(&self, before: i64) -> StoreResult<()> {
        self.run(move |c| {
            c.execute("DELETE FROM console_online WHERE ts < ?1", params![before])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
