//! `MessageStore`: tables `shiku_msgs`, `shiku_last_chats`, `offline_queue`, `new_friends` and
//! `stick_dialog`.
//!
//! `store_chat` is the hot path (two rows and two conversation rows per message). It does not
//! use the shared connection: a dedicated writer thread owns its own connection
//! (`synchronous=FULL`, so a commit survives power loss) and commits every job waiting in its
//! queue in one transaction (group commit), answering each caller only after that commit.
//! One fsync then covers hundreds of messages.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::TransactionBehavior;
use tokio::sync::oneshot;

use super::*;
use crate::domain::model::{LastChat, MsgRow, NewFriend, StickDialog};
use crate::store::{ChatWrite, HistoryQuery, MessageStore, OfflineItem};

/// Tables of the message port. Documents are the model's serde shape; the columns we query are
/// generated from them.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS shiku_msgs (
    rid INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    sender TEXT GENERATED ALWAYS AS (json_extract(doc, '$.sender')) VIRTUAL,
    receiver TEXT GENERATED ALWAYS AS (json_extract(doc, '$.receiver')) VIRTUAL,
    message_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.messageId')) VIRTUAL,
    direction INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.direction')) VIRTUAL,
    ts INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.ts')) VIRTUAL,
    content_type INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.contentType')) VIRTUAL,
    delete_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.deleteTime')) VIRTUAL,
    is_read INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.isRead')) VIRTUAL
);
CREATE UNIQUE INDEX IF NOT EXISTS shiku_msgs_copy ON shiku_msgs(sender, message_id, direction);
CREATE INDEX IF NOT EXISTS shiku_msgs_conversation ON shiku_msgs(sender, receiver, ts);

CREATE TABLE IF NOT EXISTS shiku_last_chats (
    rid INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    user_id TEXT NOT NULL,
    jid TEXT NOT NULL,
    is_room INTEGER NOT NULL,
    ts INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS shiku_last_chats_single
    ON shiku_last_chats(user_id, jid) WHERE is_room = 0;
CREATE UNIQUE INDEX IF NOT EXISTS shiku_last_chats_room ON shiku_last_chats(jid) WHERE is_room = 1;
CREATE TABLE IF NOT EXISTS offline_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_queue_user ON offline_queue(user_id, seq);
CREATE TABLE IF NOT EXISTS new_friends (
    user_id INTEGER NOT NULL,
    to_user_id INTEGER NOT NULL,
    doc TEXT NOT NULL,
    modify_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.modifyTime')) VIRTUAL,
    PRIMARY KEY (user_id, to_user_id)
);
CREATE INDEX IF NOT EXISTS new_friends_time ON new_friends(user_id, modify_time);
CREATE TABLE IF NOT EXISTS stick_dialog (
    user_id INTEGER NOT NULL,
    jid TEXT NOT NULL,
    doc TEXT NOT NULL,
    time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.time')) VIRTUAL,
    PRIMARY KEY (user_id, jid)
);
"#;

const MSGS: &str = "shiku_msgs";
const LAST_CHATS: &str = "shiku_lastChats";
const NEW_FRIENDS: &str = "NewFriends";
const DIALOGS: &str = "stick_dialog";

/// Most jobs committed in one transaction: bounds the time a caller waits behind others.
const MAX_BATCH: usize = 512;

/// One `store_chat` call, encoded by the caller so the writer thread only executes SQL.
struct ChatJob {
    /// Row documents; the first one decides whether the message is a duplicate.
    rows: Vec<String>,
    /// Conversation documents and whether each is a room row.
    last_chats: Vec<(String, bool)>,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The group-commit writer of `store_chat`: a thread owning its own connection, fed by a
/// channel. Dropping it closes the channel and waits for the thread to finish its last batch.
pub(super) struct ChatWriter {
    jobs: Option<mpsc::Sender<ChatJob>>,
    thread: Option<JoinHandle<()>>,
}

impl ChatWriter {
    /// Opens the writer's connection on `path` (schema already created) and starts its thread.
    pub(super) fn start(path: &Path) -> StoreResult<ChatWriter> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; \
             PRAGMA cache_size=-16000; PRAGMA wal_autocheckpoint=0;",
        )
        .map_err(backend)?;
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("shiku-chat-writer".into())
            .spawn(move || writer_loop(conn, queue))
            .map_err(|e| backend(format!("cannot start the chat writer: {e}")))?;
        Ok(ChatWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues a job and waits for the commit that contains it.
    async fn submit(
        &self,
        rows: Vec<String>,
        last_chats: Vec<(String, bool)>,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let job = ChatJob {
            rows,
            last_chats,
            reply,
        };
        self.jobs
            .as_ref()
            .ok_or_else(|| backend("chat writer stopped"))?
            .send(job)
            .map_err(|_| backend("chat writer stopped"))?;
        answer
            .await
            .map_err(|_| backend("chat writer stopped before answering"))?
    }
}

impl Drop for ChatWriter {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Takes one job, then everything already queued, and commits them together.
fn writer_loop(mut conn: Connection, queue: mpsc::Receiver<ChatJob>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_jobs(&mut conn, &batch) {
            Ok(answers) => {
                for (job, stored) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(stored));
                }
            }
            Err(e) if batch.len() == 1 => {
                let job = batch.pop().expect("one job");
                let _ = job.reply.send(Err(e));
            }
            Err(e) => {
                // One bad job must not fail the others: each gets its own transaction and answer.
                tracing::warn!(jobs = batch.len(), error = %e, "chat batch failed, retrying one by one");
                for job in batch {
                    let result = write_jobs(&mut conn, std::slice::from_ref(&job)).map(|a| a[0]);
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// Writes `jobs` in one IMMEDIATE transaction; one answer per job (false = duplicate).
fn write_jobs(conn: &mut Connection, jobs: &[ChatJob]) -> StoreResult<Vec<bool>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut answers = Vec::with_capacity(jobs.len());
    {
        let mut insert = tx
            .prepare_cached("INSERT OR IGNORE INTO shiku_msgs (doc) VALUES (?1)")
            .map_err(backend)?;
        for job in jobs {
            let stored = match job.rows.split_first() {
                None => true,
                Some((first, rest)) => {
                    // The unique (sender, message_id, direction) index turns a resend into a
                    // no-op insert; then nothing else of the job is written.
                    if insert.execute([first]).map_err(backend)? == 0 {
                        false
                    } else {
                        for row in rest {
                            insert.execute([row]).map_err(backend)?;
                        }
                        true
                    }
                }
            };
            if stored {
                for (doc, is_room) in &job.last_chats {
                    upsert_last_chat_on(&tx, doc, *is_room)?;
                }
            }
            answers.push(stored);
        }
    }
    tx.commit().map_err(backend)?;
    Ok(answers)
}

/// Inserts a conversation row or merges it into the existing one (keeping its `_id` and any
/// field we do not model), keyed by (`userId`, `jid`) or, for a room, by `jid`.
fn upsert_last_chat_on(conn: &Connection, doc: &str, is_room: bool) -> StoreResult<()> {
    let sql = if is_room {
        "INSERT INTO shiku_last_chats (doc, user_id, jid, is_room, ts) VALUES (?1, json_extract(?1, '$.userId'), json_extract(?1, '$.jid'), 1, json_extract(?1, '$.ts')) ON CONFLICT (jid) WHERE is_room = 1 \
         DO UPDATE SET doc = json_patch(doc, json_remove(excluded.doc, '$._id')), ts = excluded.ts, user_id = excluded.user_id"
    } else {
        "INSERT INTO shiku_last_chats (doc, user_id, jid, is_room, ts) VALUES (?1, json_extract(?1, '$.userId'), json_extract(?1, '$.jid'), 0, json_extract(?1, '$.ts')) ON CONFLICT (user_id, jid) WHERE is_room = 0 \
         DO UPDATE SET doc = json_patch(doc, json_remove(excluded.doc, '$._id')), ts = excluded.ts"
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([doc]))
        .map_err(backend)?;
    Ok(())
}

/// A fresh 24-hex id, the shape MongoDB gives these documents (clients show `_id`).
fn new_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

fn encode_row(row: &MsgRow) -> StoreResult<String> {
    if row.id.is_some() {
        return encode(row);
    }
    let mut row = row.clone();
    row.id = Some(new_id());
    encode(&row)
}

fn encode_last_chat(row: &LastChat) -> StoreResult<String> {
    if row.id.is_some() {
        return encode(row);
    }
    let mut row = row.clone();
    row.id = Some(new_id());
    encode(&row)
}

/// Reads every document column of a query.
fn docs<T: DeserializeOwned>(
    conn: &Connection,
    collection: &str,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(p, |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(decode(collection, &row.map_err(backend)?)?);
    }
    Ok(out)
}

/// A list bound as one JSON parameter (`IN (SELECT value FROM json_each(?))`).
fn json_list(items: &[String]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(backend)
}

/// SQL `LIMIT` from a u64 count.
fn sql_limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn store_chat(&self, write: &ChatWrite) -> StoreResult<bool> {
        let rows = write
            .rows
            .iter()
            .map(encode_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let last_chats = write
            .last_chats
            .iter()
            .map(|l| Ok((encode_last_chat(l)?, l.is_room == 1)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.chat_writer.submit(rows, last_chats).await
    }

    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<MsgRow>> {
        let q = q.clone();
        self.run(move |c| {
            let mut sql =
                String::from("SELECT doc FROM shiku_msgs WHERE sender = ?1 AND receiver = ?2");
            let mut args: Vec<rusqlite::types::Value> =
                vec![q.owner.to_string().into(), q.peer.to_string().into()];
            if let Some(start) = q.start_ms {
                args.push(start.into());
                sql += &format!(" AND ts >= ?{}", args.len());
            }
            if let Some(end) = q.end_ms {
                args.push(end.into());
                sql += &format!(" AND ts <= ?{}", args.len());
            }
            if let Some(max) = q.max_type {
                args.push(i64::from(max).into());
                sql += &format!(" AND content_type < ?{}", args.len());
            }
            args.push(sql_limit(q.limit).into());
            args.push(sql_limit(q.skip).into());
            sql += &format!(
                " ORDER BY ts DESC, rid DESC LIMIT ?{} OFFSET ?{}",
                args.len() - 1,
                args.len()
            );
            docs(c, MSGS, &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    async fn find_copy(&self, owner: i32, message_id: &str) -> StoreResult<Option<MsgRow>> {
        let id = message_id.to_string();
        self.run(move |c| {
            one_doc(
                c,
                MSGS,
                "SELECT doc FROM shiku_msgs WHERE sender = ?1 AND message_id = ?2 \
                 ORDER BY direction LIMIT 1",
                params![owner.to_string(), id],
            )
        })
        .await
    }

    async fn mark_read(&self, reader: i32, message_ids: &[String]) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let ids = json_list(message_ids)?;
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE shiku_msgs SET doc = json_set(doc, '$.isRead', 1) \
                     WHERE message_id IN (SELECT value FROM json_each(?2)) \
                     AND ((sender = ?1 AND direction = 1) OR (receiver = ?1 AND direction = 0)) \
                     AND is_read IS NOT 1",
                    params![reader.to_string(), ids],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_copies(&self, owner: i32, message_ids: &[String]) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let ids = json_list(message_ids)?;
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_msgs WHERE sender = ?1 \
                     AND message_id IN (SELECT value FROM json_each(?2))",
                    params![owner.to_string(), ids],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn clear_copies(&self, owner: i32, peer: Option<i32>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = match peer {
                Some(peer) => c.execute(
                    "DELETE FROM shiku_msgs WHERE sender = ?1 AND receiver = ?2",
                    params![owner.to_string(), peer.to_string()],
                ),
                None => c.execute(
                    "DELETE FROM shiku_msgs WHERE sender = ?1",
                    params![owner.to_string()],
                ),
            }
            .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_expired(&self, owner: i32, now_secs: i64) -> StoreResult<Vec<i32>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "DELETE FROM shiku_msgs WHERE sender = ?1 AND delete_time > 0 \
                     AND delete_time < ?2 AND is_read = 1 RETURNING receiver",
                )
                .map_err(backend)?;
            let peers = stmt
                .query_map(params![owner.to_string(), now_secs], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .map_err(backend)?;
            let mut out = BTreeSet::new();
            for peer in peers {
                if let Some(p) = peer.map_err(backend)?.and_then(|p| p.parse::<i32>().ok()) {
                    out.insert(p);
                }
            }
            Ok(out.into_iter().collect())
        })
        .await
    }

    async fn newest_copy(&self, owner: i32, peer: i32) -> StoreResult<Option<MsgRow>> {
        self.run(move |c| {
            one_doc(
                c,
                MSGS,
                "SELECT doc FROM shiku_msgs WHERE sender = ?1 AND receiver = ?2 \
                 ORDER BY ts DESC, rid DESC LIMIT 1",
                params![owner.to_string(), peer.to_string()],
            )
        })
        .await
    }

    async fn search_copies(
        &self,
        owner: i32,
        needle: &str,
        limit: u64,
    ) -> StoreResult<Vec<MsgRow>> {
        let needle = needle.to_string();
        self.run(move |c| {
            // instr() is a plain substring test: no pattern characters, any script.
            docs(
                c,
                MSGS,
                "SELECT doc FROM shiku_msgs WHERE sender = ?1 \
                 AND instr(json_extract(doc, '$.content'), ?2) > 0 \
                 ORDER BY ts DESC, rid DESC LIMIT ?3",
                params![owner.to_string(), needle, sql_limit(limit)],
            )
        })
        .await
    }

    async fn upsert_last_chat(&self, row: &LastChat) -> StoreResult<()> {
        let doc = encode_last_chat(row)?;
        let is_room = row.is_room == 1;
        self.run(move |c| upsert_last_chat_on(c, &doc, is_room))
            .await
    }

    async fn last_chats(
        &self,
        user_id: i32,
        room_jids: &[String],
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u64,
    ) -> StoreResult<Vec<LastChat>> {
        let rooms = json_list(room_jids)?;
        self.run(move |c| {
            let mut sql = String::from(
                "SELECT doc FROM shiku_last_chats WHERE ((user_id = ?1 AND is_room = 0) \
                 OR (is_room = 1 AND jid IN (SELECT value FROM json_each(?2))))",
            );
            let mut args: Vec<rusqlite::types::Value> =
                vec![user_id.to_string().into(), rooms.into()];
            if let Some(start) = start_ms {
                args.push(start.into());
                sql += &format!(" AND ts >= ?{}", args.len());
            }
            if let Some(end) = end_ms {
                args.push(end.into());
                sql += &format!(" AND ts <= ?{}", args.len());
            }
            sql += " ORDER BY ts DESC, rid DESC";
            if limit > 0 {
                args.push(sql_limit(limit).into());
                sql += &format!(" LIMIT ?{}", args.len());
            }
            docs(c, LAST_CHATS, &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    async fn get_last_chat(
        &self,
        user_id: Option<i32>,
        jid: &str,
    ) -> StoreResult<Option<LastChat>> {
        let jid = jid.to_string();
        self.run(move |c| match user_id {
            Some(user) => one_doc(
                c,
                LAST_CHATS,
                "SELECT doc FROM shiku_last_chats WHERE user_id = ?1 AND jid = ?2 AND is_room = 0",
                params![user.to_string(), jid],
            ),
            None => one_doc(
                c,
                LAST_CHATS,
                "SELECT doc FROM shiku_last_chats WHERE jid = ?1 AND is_room = 1",
                params![jid],
            ),
        })
        .await
    }

    async fn delete_last_chat(&self, user_id: i32, jid: &str) -> StoreResult<bool> {
        let jid = jid.to_string();
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM shiku_last_chats WHERE user_id = ?1 AND jid = ?2 AND is_room = 0",
                    params![user_id.to_string(), jid],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn enqueue_offline(&self, user_id: i32, payload: &str, ts: i64) -> StoreResult<i64> {
        let payload = payload.to_string();
        self.run(move |c| {
            c.query_row(
                "INSERT INTO offline_queue (user_id, payload, ts) VALUES (?1, ?2, ?3) RETURNING seq",
                params![user_id, payload, ts],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn peek_offline(&self, user_id: i32, limit: u64) -> StoreResult<Vec<OfflineItem>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, user_id, payload, ts FROM offline_queue WHERE user_id = ?1 \
                     ORDER BY seq LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![user_id, sql_limit(limit)], |r| {
                    Ok(OfflineItem {
                        seq: r.get(0)?,
                        user_id: r.get(1)?,
                        payload: r.get(2)?,
                        ts: r.get(3)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn ack_offline(&self, user_id: i32, seq: i64) -> StoreResult<()> {
        self.run(move |c| {
            c.execute(
                "DELETE FROM offline_queue WHERE user_id = ?1 AND seq <= ?2",
                params![user_id, seq],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn put_new_friend(&self, event: &NewFriend) -> StoreResult<()> {
        let doc = encode(event)?;
        let (a, b) = (event.user_id, event.to_user_id);
        self.run(move |c| {
            c.execute(
                "INSERT INTO new_friends (user_id, to_user_id, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id, to_user_id) DO UPDATE SET doc = excluded.doc",
                params![a, b, doc],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn new_friends(
        &self,
        user_id: i32,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<NewFriend>> {
        self.run(move |c| {
            docs(
                c,
                NEW_FRIENDS,
                "SELECT doc FROM new_friends WHERE user_id = ?1 \
                 ORDER BY modify_time DESC, rowid DESC LIMIT ?2 OFFSET ?3",
                params![user_id, sql_limit(limit), sql_limit(skip)],
            )
        })
        .await
    }

    async fn put_dialog(&self, dialog: &StickDialog) -> StoreResult<()> {
        let doc = encode(dialog)?;
        let (user, jid) = (dialog.user_id, dialog.jid.clone());
        self.run(move |c| {
            c.execute(
                "INSERT INTO stick_dialog (user_id, jid, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id, jid) DO UPDATE SET doc = excluded.doc",
                params![user, jid, doc],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete_dialog(&self, user_id: i32, jid: &str) -> StoreResult<bool> {
        let jid = jid.to_string();
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM stick_dialog WHERE user_id = ?1 AND jid = ?2",
                    params![user_id, jid],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn dialogs(&self, user_id: i32) -> StoreResult<Vec<StickDialog>> {
        self.run(move |c| {
            docs(
                c,
                DIALOGS,
                "SELECT doc FROM stick_dialog WHERE user_id = ?1 ORDER BY time DESC, rowid DESC",
                params![user_id],
            )
        })
        .await
    }
}
