//! `RoomStore`: tables `shiku_room`, `shiku_room_member`, `shiku_room_notice`,
//! `shiku_room_share`, `shiku_muc_msgs` and `room_group_msg`.
//!
//! The reference keeps one `mucmsg_<jid>` collection per room; here every room's messages share
//! one table keyed by `jid` (a table per room would grow the schema without bound). The
//! per-user room-jid index (`shiku_roomJids_userId`) is not stored: it is the member table read
//! by `user_id`, so it can never disagree with the memberships.

use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;

use super::*;
use crate::documents::{BodyOnce, Member, MucRow, Notice, Room, Share};
use crate::store::{MemberQuery, MucQuery, RoomQuery, RoomStore, Shared};

/// The jids of a user's rooms in joining order, read from `shiku_room_id_jid` (not from the
/// rooms' documents).
const ROOM_JIDS_OF: &str = "SELECT r.jid FROM shiku_room_member m \
     JOIN shiku_room r INDEXED BY shiku_room_id_jid ON r.id = m.room_id \
     WHERE m.user_id = ?1 ORDER BY m.rowid LIMIT ?2";

/// Tables of the room port. Documents are the model's serde shape; the queried fields are
/// generated columns except the keys a row is written under (`id`, `room_id`, `user_id`, `jid`,
/// `message_id`), which never change after insert.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS shiku_room (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    jid TEXT GENERATED ALWAYS AS (json_extract(doc, '$.jid')) VIRTUAL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL,
    is_look INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.isLook')) VIRTUAL,
    s INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.s')) VIRTUAL,
    create_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.createTime')) VIRTUAL
);
CREATE UNIQUE INDEX IF NOT EXISTS shiku_room_jid ON shiku_room(jid);
CREATE INDEX IF NOT EXISTS shiku_room_user ON shiku_room(user_id);
CREATE INDEX IF NOT EXISTS shiku_room_look ON shiku_room(is_look, s);
CREATE INDEX IF NOT EXISTS shiku_room_time ON shiku_room(create_time);
-- A room's jid by its id without parsing its document (`room_jids_of`, named by INDEXED BY:
-- the planner prefers the primary key and then extracts the jid from the document).
CREATE INDEX IF NOT EXISTS shiku_room_id_jid ON shiku_room(id, jid);
CREATE TABLE IF NOT EXISTS shiku_room_member (
    room_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    doc TEXT NOT NULL,
    role INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.role')) VIRTUAL,
    create_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.createTime')) VIRTUAL,
    UNIQUE (room_id, user_id)
);
CREATE INDEX IF NOT EXISTS shiku_room_member_order
    ON shiku_room_member(room_id, role, create_time);
CREATE INDEX IF NOT EXISTS shiku_room_member_user ON shiku_room_member(user_id, role);
CREATE TABLE IF NOT EXISTS shiku_room_notice (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.time')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS shiku_room_notice_room ON shiku_room_notice(room_id, time);
CREATE TABLE IF NOT EXISTS shiku_room_share (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL,
    time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.time')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS shiku_room_share_room ON shiku_room_share(room_id, time);
CREATE INDEX IF NOT EXISTS shiku_room_share_user ON shiku_room_share(user_id);
CREATE TABLE IF NOT EXISTS shiku_muc_msgs (
    rid INTEGER PRIMARY KEY,
    jid TEXT NOT NULL,
    message_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    ts INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.ts')) VIRTUAL,
    content_type INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.contentType')) VIRTUAL,
    sender TEXT GENERATED ALWAYS AS (json_extract(doc, '$.sender')) VIRTUAL,
    UNIQUE (jid, message_id)
);
CREATE INDEX IF NOT EXISTS shiku_muc_msgs_ts ON shiku_muc_msgs(jid, ts);
CREATE TABLE IF NOT EXISTS room_group_msg (
    user_id INTEGER NOT NULL,
    jid TEXT NOT NULL,
    message_id TEXT NOT NULL,
    UNIQUE (user_id, jid, message_id)
);
CREATE INDEX IF NOT EXISTS room_group_msg_jid ON room_group_msg(jid);
"#;

const ROOMS: &str = "shiku_room";
const MEMBERS: &str = "shiku_room_member";
const NOTICES: &str = "shiku_room_notice";
const SHARES: &str = "shiku_room_share";
const MUC: &str = "shiku_muc_msgs";

/// `shiku_muc_msgs` rows of a query selecting `doc`, as clients read them ([`BodyOnce`]).
pub(super) fn muc_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<MucRow>> {
    Ok(docs::<MucRow>(conn, MUC, sql, p)?
        .into_iter()
        .map(BodyOnce::read_back)
        .collect())
}

/// The first `shiku_muc_msgs` row of a query selecting `doc`.
fn muc_row(
    conn: &rusqlite::Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<MucRow>> {
    Ok(one_doc::<MucRow>(conn, MUC, sql, p)?.map(BodyOnce::read_back))
}

fn sql_offset(skip: u64) -> i64 {
    i64::try_from(skip).unwrap_or(i64::MAX)
}

/// Patches the one row of `table` matching `where_sql` (over `args`) and returns its new text.
fn patch_row(
    tx: &rusqlite::Transaction,
    table: &str,
    where_sql: &str,
    args: &[SqlValue],
    patch: &Patch,
) -> StoreResult<Option<String>> {
    let text: Option<String> = tx
        .query_row(
            &format!("SELECT doc FROM {table} WHERE {where_sql}"),
            rusqlite::params_from_iter(args.iter()),
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
    let mut all: Vec<SqlValue> = args.to_vec();
    all.push(new_text.clone().into());
    tx.execute(
        &format!("UPDATE {table} SET doc = ?{} WHERE {where_sql}", all.len()),
        rusqlite::params_from_iter(all),
    )
    .map_err(|e| unique_or_backend(table, e))?;
    Ok(Some(new_text))
}

fn unique_or_backend(table: &str, e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(format!("{table}: {e}"))
    } else {
        backend(e)
    }
}

/// Adds `delta` to the room's `userSize` inside the caller's transaction.
fn inc_user_size(tx: &rusqlite::Transaction, room_id: &str, delta: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE shiku_room SET doc = json_set(doc, '$.userSize', \
         IFNULL(json_extract(doc, '$.userSize'), 0) + ?1) WHERE id = ?2",
        params![delta, room_id],
    )
    .map_err(backend)?;
    Ok(())
}

/// The WHERE clause (over `shiku_room_member`) of a member filter, and its arguments.
fn member_where(q: &MemberQuery) -> StoreResult<(String, Vec<SqlValue>)> {
    let mut sql = String::from("room_id = ?1");
    let mut args: Vec<SqlValue> = vec![q.room_id.clone().into()];
    if !q.roles.is_empty() {
        args.push(json_list(&q.roles)?.into());
        sql += &format!(
            " AND role IN (SELECT value FROM json_each(?{}))",
            args.len()
        );
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        args.push(like_pattern(k).into());
        let n = args.len();
        sql += &format!(
            " AND (json_extract(doc, '$.nickname') LIKE ?{n} ESCAPE '\\' \
             OR json_extract(doc, '$.remarkName') LIKE ?{n} ESCAPE '\\')"
        );
    }
    Ok((sql, args))
}

/// The WHERE clause (over `shiku_room`) of a room filter, and its arguments.
fn room_where(q: &RoomQuery) -> StoreResult<(String, Vec<SqlValue>)> {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(user) = q.member {
        args.push(i64::from(user).into());
        let mut sub = format!(
            "id IN (SELECT room_id FROM shiku_room_member WHERE user_id = ?{}",
            args.len()
        );
        if !q.roles.is_empty() {
            args.push(json_list(&q.roles)?.into());
            sub += &format!(
                " AND role IN (SELECT value FROM json_each(?{}))",
                args.len()
            );
        }
        conds.push(sub + ")");
    }
    if q.public_only {
        conds.push("is_look = 0".into());
    }
    if let Some(s) = q.status {
        args.push(i64::from(s).into());
        conds.push(format!("s = ?{}", args.len()));
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        args.push(like_pattern(k).into());
        let n = args.len();
        conds.push(format!(
            "(json_extract(doc, '$.name') LIKE ?{n} ESCAPE '\\' \
             OR json_extract(doc, '$.desc') LIKE ?{n} ESCAPE '\\')"
        ));
    }
    let sql = if conds.is_empty() {
        "1".to_string()
    } else {
        conds.join(" AND ")
    };
    Ok((sql, args))
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn insert_room(&self, room: &Room) -> StoreResult<String> {
        // A given ObjectId-shaped id is kept (imported rooms: their notifications name it).
        let id = match room.id.as_deref() {
            Some(given) if given.len() == 24 && given.bytes().all(|b| b.is_ascii_hexdigit()) => {
                given.to_ascii_lowercase()
            }
            _ => new_id(),
        };
        let mut room = room.clone();
        room.id = Some(id.clone());
        let text = encode(&room)?;
        let jid = room.jid.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO shiku_room (id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate(format!("room jid {jid} or id"))
                } else {
                    backend(e)
                }
            })?;
            Ok(id)
        })
        .await
    }

    async fn get_room(&self, room_id: &str) -> StoreResult<Option<Room>> {
        let id = room_id.to_string();
        self.read(1, move |c| {
            one_doc(
                c,
                ROOMS,
                "SELECT doc FROM shiku_room WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn get_room_by_jid(&self, jid: &str) -> StoreResult<Option<Room>> {
        // Kept while no room changed (`cache`): every room history page checks its room.
        let at = self.clock.table(cache::Watched::Rooms);
        let name = jid.to_string();
        let jid = jid.to_string();
        let room = self
            .kept_by_name(
                |k| &k.rooms,
                name,
                at,
                1,
                move |c| {
                    let room: Option<Room> = one_doc(
                        c,
                        ROOMS,
                        "SELECT doc FROM shiku_room WHERE jid = ?1",
                        params![jid],
                    )?;
                    Ok(room.map(Arc::new))
                },
            )
            .await?;
        Ok(room.map(|r| (*r).clone()))
    }

    async fn update_room(&self, room_id: &str, patch: &Patch) -> StoreResult<Option<Room>> {
        let (id, patch) = (room_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let text = patch_row(&tx, ROOMS, "id = ?1", &[id.into()], &patch)?;
            tx.commit().map_err(backend)?;
            text.map(|t| decode(ROOMS, &t)).transpose()
        })
        .await
    }

    async fn query_rooms(&self, q: &RoomQuery) -> StoreResult<Vec<Room>> {
        let (sql, mut args) = room_where(q)?;
        args.push(sql_limit(q.limit).into());
        args.push(sql_offset(q.skip).into());
        let n = args.len();
        // rowid is insertion order, the order of MongoDB's ObjectId `_id`.
        let sql = format!(
            "SELECT doc FROM shiku_room WHERE {sql} ORDER BY rowid DESC LIMIT ?{} OFFSET ?{n}",
            n - 1
        );
        self.read(page_rows(q.limit), move |c| {
            docs(c, ROOMS, &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    async fn delete_room(&self, room_id: &str) -> StoreResult<bool> {
        let id = room_id.to_string();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let jid: Option<String> = tx
                .query_row(
                    "SELECT jid FROM shiku_room WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(jid) = jid else { return Ok(false) };
            for sql in [
                "DELETE FROM shiku_room_member WHERE room_id = ?1",
                "DELETE FROM shiku_room_notice WHERE room_id = ?1",
                "DELETE FROM shiku_room_share WHERE room_id = ?1",
                "DELETE FROM shiku_room WHERE id = ?1",
            ] {
                tx.execute(sql, params![id]).map_err(backend)?;
            }
            for sql in [
                "DELETE FROM shiku_muc_msgs WHERE jid = ?1",
                "DELETE FROM room_group_msg WHERE jid = ?1",
            ] {
                tx.execute(sql, params![jid]).map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(true)
        })
        .await
    }

    async fn add_members(&self, room_id: &str, members: &[Member]) -> StoreResult<Vec<i32>> {
        let id = room_id.to_string();
        let mut rows = Vec::with_capacity(members.len());
        for m in members {
            let mut m = m.clone();
            m.room_id = Some(id.clone());
            rows.push((m.user_id, encode(&m)?));
        }
        self.run(move |c| {
            // One transaction: the memberships and the `userSize` they add commit together, and
            // the immediate transaction serialises concurrent adds and removes.
            let tx = c.transaction().map_err(backend)?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM shiku_room WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?;
            if exists.is_none() {
                return Ok(Vec::new());
            }
            let mut added = Vec::new();
            {
                let mut insert = tx
                    .prepare(
                        "INSERT INTO shiku_room_member (room_id, user_id, doc) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(room_id, user_id) DO NOTHING",
                    )
                    .map_err(backend)?;
                for (user_id, text) in &rows {
                    if insert
                        .execute(params![id, user_id, text])
                        .map_err(backend)?
                        == 1
                    {
                        added.push(*user_id);
                    }
                }
            }
            if !added.is_empty() {
                inc_user_size(&tx, &id, added.len() as i64)?;
            }
            tx.commit().map_err(backend)?;
            Ok(added)
        })
        .await
    }

    async fn get_member(&self, room_id: &str, user_id: i32) -> StoreResult<Option<Member>> {
        // Kept while no member row changed (`cache`), like member lists.
        let at = self.clock.table(cache::Watched::Members);
        let name = format!("{room_id}/{user_id}");
        let id = room_id.to_string();
        self.kept_by_name(
            |k| &k.member,
            name,
            at,
            1,
            move |c| {
                one_doc(
                    c,
                    MEMBERS,
                    "SELECT doc FROM shiku_room_member WHERE room_id = ?1 AND user_id = ?2",
                    params![id, user_id],
                )
            },
        )
        .await
    }

    async fn update_member(
        &self,
        room_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Member>> {
        let (id, patch) = (room_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let text = patch_row(
                &tx,
                MEMBERS,
                "room_id = ?1 AND user_id = ?2",
                &[id.into(), i64::from(user_id).into()],
                &patch,
            )?;
            tx.commit().map_err(backend)?;
            text.map(|t| decode(MEMBERS, &t)).transpose()
        })
        .await
    }

    async fn update_all_members(&self, room_id: &str, patch: &Patch) -> StoreResult<()> {
        if patch.is_empty() {
            return Ok(());
        }
        let (id, patch) = (room_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let users: Vec<i64> = {
                let mut stmt = tx
                    .prepare("SELECT user_id FROM shiku_room_member WHERE room_id = ?1")
                    .map_err(backend)?;
                let rows = stmt.query_map(params![id], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            for user in users {
                patch_row(
                    &tx,
                    MEMBERS,
                    "room_id = ?1 AND user_id = ?2",
                    &[id.clone().into(), user.into()],
                    &patch,
                )?;
            }
            tx.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, room_id: &str, user_id: i32) -> StoreResult<bool> {
        let id = room_id.to_string();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .execute(
                    "DELETE FROM shiku_room_member WHERE room_id = ?1 AND user_id = ?2",
                    params![id, user_id],
                )
                .map_err(backend)?;
            if n > 0 {
                inc_user_size(&tx, &id, -1)?;
            }
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn query_members(&self, q: &MemberQuery) -> StoreResult<Vec<Member>> {
        let (sql, mut args) = member_where(q)?;
        args.push(sql_limit(q.limit).into());
        args.push(sql_offset(q.skip).into());
        let n = args.len();
        // rowid (join order) breaks ties between members who joined in the same second.
        let sql = format!(
            "SELECT doc FROM shiku_room_member WHERE {sql} \
             ORDER BY role, create_time, rowid LIMIT ?{} OFFSET ?{n}",
            n - 1
        );
        self.read(page_rows(q.limit), move |c| {
            docs(c, MEMBERS, &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    async fn all_members(&self, room_id: &str) -> StoreResult<Arc<Vec<Member>>> {
        // Kept while no member row of any room changed (`cache`): every member who opens a
        // large room reads the same list.
        let at = self.clock.table(cache::Watched::Members);
        let key = cache::text_key(room_id);
        if let Some((id, list)) = self.kept.members.get(key, at) {
            if id == room_id {
                return Ok(list);
            }
        }
        let q = MemberQuery {
            room_id: room_id.to_string(),
            ..MemberQuery::default()
        };
        let list = Arc::new(self.query_members(&q).await?);
        let weight = list.len();
        self.kept
            .members
            .put_weighing(key, at, (room_id.to_string(), list.clone()), weight);
        Ok(list)
    }

    async fn count_members(&self, q: &MemberQuery) -> StoreResult<u64> {
        let (sql, args) = member_where(q)?;
        let sql = format!("SELECT COUNT(*) FROM shiku_room_member WHERE {sql}");
        self.read(1, move |c| count(c, &sql, rusqlite::params_from_iter(args)))
            .await
    }

    async fn member_ids(&self, room_id: &str) -> StoreResult<Vec<i32>> {
        let id = room_id.to_string();
        self.read(u64::MAX, move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT user_id FROM shiku_room_member WHERE room_id = ?1 ORDER BY rowid",
                )
                .map_err(backend)?;
            let rows = stmt.query_map(params![id], |r| r.get(0)).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn room_jids_of(&self, user_id: i32) -> StoreResult<Vec<String>> {
        // Kept while no member row changed (`cache`): the conversation list asks on every call.
        let at = self.clock.table(cache::Watched::Members);
        let key = i64::from(user_id);
        if let Some(jids) = self.kept.room_jids.get(key, at) {
            return Ok(jids.to_vec());
        }
        let jids: Arc<Vec<String>> =
            Arc::new(self.short_list(ROOM_JIDS_OF, vec![user_id.into()]).await?);
        let weight = jids.len();
        self.kept
            .room_jids
            .put_weighing(key, at, jids.clone(), weight);
        Ok(jids.to_vec())
    }

    async fn insert_notice(&self, notice: &Notice) -> StoreResult<String> {
        let room_id = notice
            .room_id
            .clone()
            .ok_or_else(|| backend("a notice needs its roomId"))?;
        let id = new_id();
        let mut notice = notice.clone();
        notice.id = Some(id.clone());
        let text = encode(&notice)?;
        self.run(move |c| {
            c.execute(
                "INSERT INTO shiku_room_notice (id, room_id, doc) VALUES (?1, ?2, ?3)",
                params![id, room_id, text],
            )
            .map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn get_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<Option<Notice>> {
        let (room, id) = (room_id.to_string(), notice_id.to_string());
        self.read(1, move |c| {
            one_doc(
                c,
                NOTICES,
                "SELECT doc FROM shiku_room_notice WHERE id = ?1 AND room_id = ?2",
                params![id, room],
            )
        })
        .await
    }

    async fn update_notice(
        &self,
        room_id: &str,
        notice_id: &str,
        patch: &Patch,
    ) -> StoreResult<Option<Notice>> {
        let (room, id, patch) = (room_id.to_string(), notice_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let text = patch_row(
                &tx,
                NOTICES,
                "id = ?1 AND room_id = ?2",
                &[id.into(), room.into()],
                &patch,
            )?;
            tx.commit().map_err(backend)?;
            text.map(|t| decode(NOTICES, &t)).transpose()
        })
        .await
    }

    async fn delete_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<bool> {
        let (room, id) = (room_id.to_string(), notice_id.to_string());
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_room_notice WHERE id = ?1 AND room_id = ?2",
                    params![id, room],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn notices(&self, room_id: &str, skip: u64, limit: u64) -> StoreResult<Vec<Notice>> {
        let args: Vec<SqlValue> = vec![
            room_id.to_string().into(),
            sql_limit(limit).into(),
            sql_offset(skip).into(),
        ];
        self.run(move |c| {
            docs(
                c,
                NOTICES,
                "SELECT doc FROM shiku_room_notice WHERE room_id = ?1 \
                 ORDER BY time DESC, rowid DESC LIMIT ?2 OFFSET ?3",
                rusqlite::params_from_iter(args),
            )
        })
        .await
    }

    async fn count_notices(&self, room_id: &str) -> StoreResult<u64> {
        let args: Vec<SqlValue> = vec![room_id.to_string().into()];
        self.read(1, move |c| {
            count(
                c,
                "SELECT COUNT(*) FROM shiku_room_notice WHERE room_id = ?1",
                rusqlite::params_from_iter(args),
            )
        })
        .await
    }

    async fn insert_share(&self, share: &Share) -> StoreResult<String> {
        let room_id = share
            .room_id
            .clone()
            .ok_or_else(|| backend("a share needs its roomId"))?;
        let id = new_id();
        let mut share = share.clone();
        share.id = Some(id.clone());
        let text = encode(&share)?;
        self.run(move |c| {
            c.execute(
                "INSERT INTO shiku_room_share (id, room_id, doc) VALUES (?1, ?2, ?3)",
                params![id, room_id, text],
            )
            .map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn get_share(&self, room_id: &str, share_id: &str) -> StoreResult<Option<Share>> {
        let (room, id) = (room_id.to_string(), share_id.to_string());
        self.read(1, move |c| {
            one_doc(
                c,
                SHARES,
                "SELECT doc FROM shiku_room_share WHERE id = ?1 AND room_id = ?2",
                params![id, room],
            )
        })
        .await
    }

    async fn delete_share(&self, room_id: &str, share_id: &str) -> StoreResult<bool> {
        let (room, id) = (room_id.to_string(), share_id.to_string());
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_room_share WHERE id = ?1 AND room_id = ?2",
                    params![id, room],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn shares(
        &self,
        room_id: &str,
        user_id: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Share>> {
        let mut sql = String::from("SELECT doc FROM shiku_room_share WHERE room_id = ?1");
        let mut args: Vec<SqlValue> = vec![room_id.to_string().into()];
        if let Some(u) = user_id {
            args.push(i64::from(u).into());
            sql += &format!(" AND user_id = ?{}", args.len());
        }
        args.push(sql_limit(limit).into());
        args.push(sql_offset(skip).into());
        let n = args.len();
        sql += &format!(
            " ORDER BY time DESC, rowid DESC LIMIT ?{} OFFSET ?{n}",
            n - 1
        );
        self.run(move |c| docs(c, SHARES, &sql, rusqlite::params_from_iter(args)))
            .await
    }

    async fn store_muc(&self, jid: &str, row: &MucRow) -> StoreResult<bool> {
        let mut row = row.stored();
        if row.id.is_none() {
            row.id = Some(new_id());
        }
        let text = encode(&row)?;
        let key = cache::text_key(jid);
        let (jid, message_id) = (jid.to_string(), row.message_id.clone());
        let stored = self
            .run(move |c| {
                // The unique (jid, message_id) key turns a resend into a no-op.
                let n = c
                    .execute(
                        "INSERT INTO shiku_muc_msgs (jid, message_id, doc) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(jid, message_id) DO NOTHING",
                        params![jid, message_id, text],
                    )
                    .map_err(backend)?;
                Ok(n == 1)
            })
            .await?;
        // Committed: the room's kept head is read again (see `store_chat`).
        if stored {
            self.added.note_key(cache::Watched::MucMsgsAdded, key);
            self.added.publish();
        }
        Ok(stored)
    }

    async fn muc_history(&self, q: &MucQuery) -> StoreResult<Vec<Arc<Shared<MucRow>>>> {
        let mut sql = String::from("SELECT rid FROM shiku_muc_msgs WHERE jid = ?1");
        let mut args: Vec<SqlValue> = vec![q.jid.clone().into()];
        history_bounds(&mut sql, &mut args, q.start_ms, q.end_ms, q.max_type);
        if !q.hidden.is_empty() {
            args.push(json_list(&q.hidden)?.into());
            sql += &format!(
                " AND message_id NOT IN (SELECT value FROM json_each(?{}))",
                args.len()
            );
        }
        args.push(sql_limit(q.limit).into());
        args.push(sql_offset(q.skip).into());
        let n = args.len();
        sql += &format!(" ORDER BY ts DESC, rid DESC LIMIT ?{} OFFSET ?{n}", n - 1);
        // A page leaving out messages I hid is read from the index.
        let at = head_reading(&self.clock, cache::Watched::MucMsgsAdded, &q.jid);
        let ask = PageAsk {
            start_ms: q.start_ms,
            end_ms: q.end_ms,
            max_type: q.max_type,
            skip: q.skip,
            limit: if q.hidden.is_empty() { q.limit } else { 0 },
        };
        let jid = q.jid.clone();
        let (clock, kept) = (self.clock.clone(), self.kept.clone());
        self.read(page_rows(q.limit), move |c| {
            let head = HeadOf {
                kept: &kept.muc_heads,
                name: &jid,
                at,
                sql: "SELECT ts, rid, content_type FROM shiku_muc_msgs WHERE jid = ?1 \
                      ORDER BY ts DESC, rid DESC LIMIT ?2",
                args: vec![jid.clone().into()],
            };
            let rids = page_rids(c, head, &ask, &sql, args)?;
            rows_by_rid(
                c,
                &rids,
                &clock,
                cache::Watched::MucMsgs,
                &kept.muc_msgs,
                "SELECT doc FROM shiku_muc_msgs WHERE rid = ?1",
                |doc, _| decode::<MucRow>(MUC, doc).map(BodyOnce::read_back),
            )
        })
        .await
    }

    async fn find_muc(&self, jid: &str, message_id: &str) -> StoreResult<Option<MucRow>> {
        let (jid, id) = (jid.to_string(), message_id.to_string());
        self.read(1, move |c| {
            muc_row(
                c,
                "SELECT doc FROM shiku_muc_msgs WHERE jid = ?1 AND message_id = ?2",
                params![jid, id],
            )
        })
        .await
    }

    async fn delete_muc(
        &self,
        jid: &str,
        message_ids: &[String],
        sender: Option<i32>,
    ) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let mut sql = String::from(
            "DELETE FROM shiku_muc_msgs WHERE jid = ?1 \
             AND message_id IN (SELECT value FROM json_each(?2))",
        );
        let mut args: Vec<SqlValue> = vec![jid.to_string().into(), json_list(message_ids)?.into()];
        if let Some(s) = sender {
            // The TEXT column holds a numeric `sender` (legacy rows) as its decimal text too.
            args.push(s.to_string().into());
            sql += " AND sender = ?3";
        }
        self.run(move |c| {
            let n = c
                .execute(&sql, rusqlite::params_from_iter(args))
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn newest_muc(&self, jid: &str) -> StoreResult<Option<MucRow>> {
        let jid = jid.to_string();
        self.read(1, move |c| {
            muc_row(
                c,
                "SELECT doc FROM shiku_muc_msgs WHERE jid = ?1 ORDER BY ts DESC, rid DESC LIMIT 1",
                params![jid],
            )
        })
        .await
    }

    async fn search_muc(
        &self,
        jids: &[String],
        needle: &str,
        limit: u64,
    ) -> StoreResult<Vec<MucRow>> {
        if jids.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<SqlValue> = vec![
            json_list(jids)?.into(),
            needle.to_string().into(),
            sql_limit(limit).into(),
        ];
        self.run(move |c| {
            // instr() is a plain substring test: no pattern characters, any script.
            muc_rows(
                c,
                "SELECT doc FROM shiku_muc_msgs \
                 WHERE jid IN (SELECT value FROM json_each(?1)) \
                 AND instr(json_extract(doc, '$.content'), ?2) > 0 \
                 ORDER BY ts DESC, rid DESC LIMIT ?3",
                rusqlite::params_from_iter(args),
            )
        })
        .await
    }

    async fn hide_muc(&self, user_id: i32, jid: &str, message_ids: &[String]) -> StoreResult<()> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let (jid, ids) = (jid.to_string(), message_ids.to_vec());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            {
                let mut insert = tx
                    .prepare(
                        "INSERT INTO room_group_msg (user_id, jid, message_id) VALUES (?1, ?2, ?3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .map_err(backend)?;
                for id in &ids {
                    insert.execute(params![user_id, jid, id]).map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn hidden_muc(&self, user_id: i32, jid: &str) -> StoreResult<Vec<String>> {
        // Kept while no one hid a room message (`cache`); usually none, so read without the
        // hop to the blocking pool unless there are many.
        let at = self.clock.table(cache::Watched::Hidden);
        let key = cache::text_key(&format!("{user_id}/{jid}"));
        let name = format!("{user_id}/{jid}");
        if let Some((kept, ids)) = self.kept.hidden_muc.get(key, at) {
            if kept == name {
                return Ok(ids.to_vec());
            }
        }
        let ids = Arc::new(
            self.short_list(
                "SELECT message_id FROM room_group_msg WHERE user_id = ?1 AND jid = ?2 \
                 ORDER BY rowid LIMIT ?3",
                vec![user_id.into(), jid.to_string().into()],
            )
            .await?,
        );
        let weight = ids.len();
        self.kept
            .hidden_muc
            .put_weighing(key, at, (name, ids.clone()), weight);
        Ok(ids.to_vec())
    }

    async fn hidden_among(
        &self,
        user_id: i32,
        messages: &[(String, String)],
    ) -> StoreResult<HashSet<(String, String)>> {
        if messages.is_empty() {
            return Ok(HashSet::new());
        }
        // Asked again and again with the same rows (a conversation list's rooms): kept while
        // no one hid or unhid a room message.
        let at = self.clock.table(cache::Watched::Hidden);
        let key = i64::from(user_id);
        if let Some(kept) = self.kept.hidden.get(key, at) {
            if kept.asked == messages {
                return Ok(kept.hidden.clone());
            }
        }
        let pairs = serde_json::to_string(messages).map_err(backend)?;
        let hidden: HashSet<(String, String)> = self
            .read(messages.len() as u64, move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT jid, message_id FROM room_group_msg WHERE user_id = ?1 AND \
                         (jid, message_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![user_id, pairs], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)
            })
            .await?;
        let kept = HiddenAmong {
            asked: messages.to_vec(),
            hidden: hidden.clone(),
        };
        self.kept
            .hidden
            .put_weighing(key, at, Arc::new(kept), messages.len());
        Ok(hidden)
    }
}

/// What [`RoomStore::hidden_among`] was asked of a user's room messages and answered.
pub(super) struct HiddenAmong {
    asked: Vec<(String, String)>,
    hidden: HashSet<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_jids_come_from_the_index_not_the_documents() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let ops: Vec<String> = conn
            .prepare(&format!("EXPLAIN {ROOM_JIDS_OF}"))
            .unwrap()
            .query_map([1, 10], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!ops.iter().any(|op| op.contains("Func")), "{ops:?}");
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("测试"), "%测试%");
    }

    #[test]
    fn ids_look_like_object_ids() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a < b, "ids sort by creation");
    }
}
