//! `MessageStore`: tables `shiku_msgs`, `shiku_last_chats`, `offline_queue`, `new_friends` and
//! `stick_dialog`.
//!
//! `store_chat` is the hot path (two rows and two conversation rows per message). Every write
//! of this port goes to a dedicated writer thread with its own connection, which commits every
//! job waiting in its queue in one transaction (group commit) and answers each caller only
//! after that commit is synced to disk (so it survives power loss; the sync runs on its own
//! thread, see `wal`): one fsync covers hundreds of writes, and message writes never wait on
//! SQLite's lock for one another (the shared connection would: a busy SQLite connection sleeps
//! milliseconds before retrying).
//! Reads use the shared connection; WAL lets them run beside the writer.
//!
//! What a commit costs is mostly the B-tree pages it dirties (each is written whole to the
//! WAL), so the schema keeps them few: two indexes on `shiku_msgs`, the unique copy index led
//! by `message_id` (both copies of a message land on one index page; it also serves the lookups
//! by owner and messageId and `mark_read`), and conversation rows whose key columns are plain
//! columns, so that updating a row rewrites neither its index entries nor any JSON.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::vfs;
use super::wal::{self, Checkpointer, CommitSignal, WalSync};
use super::*;
use crate::documents::{BodyOnce, LastChat, MsgRow, NewFriend, StickDialog};
use crate::store::{ChatWrite, HistoryQuery, MessageStore, OfflineItem, Shared};

/// Tables of the message port. Documents are the model's serde shape. The indexed columns of
/// `shiku_msgs` and `shiku_last_chats` are written with the document (never changed after the
/// insert, so they cannot drift from it), the others are generated from it: an indexed
/// generated column would parse the whole document once per index at every insert.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS shiku_msgs (
    rid INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    message_id TEXT NOT NULL,
    direction INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    content_type INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.contentType')) VIRTUAL,
    delete_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.deleteTime')) VIRTUAL,
    is_read INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.isRead')) VIRTUAL
);
CREATE UNIQUE INDEX IF NOT EXISTS shiku_msgs_copy ON shiku_msgs(message_id, sender, direction);
-- A conversation's page, newest first, with the `maxType` filter answered from the index (not
-- by parsing each row's document); it replaced `shiku_msgs_conversation (sender, receiver, ts)`.
CREATE INDEX IF NOT EXISTS shiku_msgs_page
    ON shiku_msgs(sender, receiver, ts, rid, content_type);
DROP INDEX IF EXISTS shiku_msgs_conversation;
CREATE TABLE IF NOT EXISTS shiku_last_chats (
    rid INTEGER PRIMARY KEY,
    oid TEXT NOT NULL,
    doc TEXT NOT NULL,
    user_id TEXT NOT NULL,
    jid TEXT NOT NULL,
    is_room INTEGER NOT NULL,
    ts INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS shiku_last_chats_single
    ON shiku_last_chats(user_id, jid) WHERE is_room = 0;
CREATE UNIQUE INDEX IF NOT EXISTS shiku_last_chats_room ON shiku_last_chats(jid) WHERE is_room = 1;
CREATE INDEX IF NOT EXISTS shiku_last_chats_recent ON shiku_last_chats(user_id, ts) WHERE is_room = 0;
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

/// Creates the tables, first moving a `shiku_msgs` of the earlier layout (key columns
/// generated from the document) to the current one, rows and `rid`s kept.
pub(super) fn create_schema(conn: &Connection) -> StoreResult<()> {
    let generated: bool = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_xinfo('shiku_msgs') \
             WHERE name = 'message_id' AND hidden IN (2, 3)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(backend)?
        > 0;
    if !generated {
        return conn.execute_batch(SCHEMA).map_err(backend);
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         ALTER TABLE shiku_msgs RENAME TO shiku_msgs_previous;
         DROP INDEX IF EXISTS shiku_msgs_copy;
         DROP INDEX IF EXISTS shiku_msgs_conversation;
         {SCHEMA}
         INSERT INTO shiku_msgs (rid, doc, sender, receiver, message_id, direction, ts)
             SELECT rid, doc, sender, receiver, message_id, direction, ts FROM shiku_msgs_previous;
         DROP TABLE shiku_msgs_previous;
         COMMIT;"
    ))
    .map_err(backend)
}

const MSGS: &str = "shiku_msgs";
const LAST_CHATS: &str = "shiku_lastChats";
const NEW_FRIENDS: &str = "NewFriends";
const DIALOGS: &str = "stick_dialog";

/// Most jobs committed in one transaction: bounds the time a caller waits behind others.
const MAX_BATCH: usize = 512;

/// A conversation row ready for `shiku_last_chats`.
struct LastChatRow {
    /// `_id` of the row when this write inserts it (an update keeps the stored one).
    oid: String,
    /// The document without `_id`.
    doc: String,
    user_id: String,
    jid: String,
    is_room: bool,
    ts: i64,
}

impl LastChatRow {
    fn new(row: &LastChat) -> StoreResult<LastChatRow> {
        let oid = row.id.clone().unwrap_or_else(new_id);
        let doc = if row.id.is_some() {
            let mut row = row.clone();
            row.id = None;
            encode(&row)?
        } else {
            encode(row)?
        };
        Ok(LastChatRow {
            oid,
            doc,
            user_id: row.user_id.clone(),
            jid: row.jid.clone(),
            is_room: row.is_room == 1,
            ts: row.ts,
        })
    }

    /// The row's key: (`userId`, `jid`) for single chat, `jid` for a room.
    fn key(&self) -> (bool, &str, &str) {
        if self.is_room {
            (true, "", &self.jid)
        } else {
            (false, &self.user_id, &self.jid)
        }
    }

    /// Inserts the row, or replaces the document of the row with its key.
    fn upsert(&self, conn: &Connection) -> StoreResult<()> {
        let sql = if self.is_room {
            "INSERT INTO shiku_last_chats (oid, doc, user_id, jid, is_room, ts) \
             VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (jid) WHERE is_room = 1 \
             DO UPDATE SET doc = excluded.doc, user_id = excluded.user_id, ts = excluded.ts"
        } else {
            "INSERT INTO shiku_last_chats (oid, doc, user_id, jid, is_room, ts) \
             VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT (user_id, jid) WHERE is_room = 0 \
             DO UPDATE SET doc = excluded.doc, ts = excluded.ts"
        };
        conn.prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.execute(params![self.oid, self.doc, self.user_id, self.jid, self.ts])
            })
            .map_err(backend)?;
        Ok(())
    }
}

/// A write other than `store_chat`, run by the writer inside its batch transaction. It may run
/// twice (alone, after its batch failed), so it only borrows what it captured.
type Work = Box<dyn Fn(&Connection) -> StoreResult<Box<dyn Any + Send>> + Send>;

/// One queued write, encoded by the caller so the writer thread only executes SQL.
enum Job {
    /// A `store_chat` call.
    Chat {
        /// The rows; the first one decides whether the message is a duplicate.
        rows: Vec<MsgInsert>,
        last_chats: Vec<LastChatRow>,
        /// (userId, payload, ts) queued when the rows are stored.
        offline: Option<(i32, String, i64)>,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    /// Any other write of this port.
    Work {
        work: Work,
        reply: oneshot::Sender<StoreResult<Box<dyn Any + Send>>>,
    },
}

/// What a job answers once its batch has committed.
enum Answer {
    Chat(bool),
    Work(Box<dyn Any + Send>),
}

impl Job {
    fn answer(self, result: StoreResult<Answer>) {
        match (self, result) {
            (Job::Chat { reply, .. }, Ok(Answer::Chat(stored))) => {
                let _ = reply.send(Ok(stored));
            }
            (Job::Work { reply, .. }, Ok(Answer::Work(value))) => {
                let _ = reply.send(Ok(value));
            }
            (Job::Chat { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Work { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (job, Ok(_)) => job.answer(Err(backend("message writer: mismatched answer"))),
        }
    }
}

/// The group-commit writer of the message port: a thread owning its own connection, fed by a
/// channel. Every write of this port goes through it, so message writes never wait for each
/// other's locks, and each is answered only once its commit is synced to disk. Dropping it
/// closes the channel and waits for the thread to finish its last batch. Syncing the WAL and
/// copying it back into the database run beside it (`wal`), so the writer's thread spends
/// itself on commits alone.
pub(super) struct MessageWriter {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    checkpointer: Option<Checkpointer>,
}

impl MessageWriter {
    /// Opens the writer's connection on `path` (schema already created) and starts its thread.
    pub(super) fn start(path: &Path, clock: Arc<cache::Clock>) -> StoreResult<MessageWriter> {
        // Its WAL frames reach the kernel in one write per commit (`vfs`).
        vfs::register().map_err(backend)?;
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs::NAME)
            .map_err(backend)?;
        // NORMAL: a commit does not wait for the disk; `WalSync` syncs the WAL before anyone is
        // answered, while this thread goes on with the next batch.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; \
             PRAGMA cache_size=-16000; PRAGMA wal_autocheckpoint=0;",
        )
        .map_err(backend)?;
        let changes = cache::Changes::watch(clock, &conn);
        let (checkpointer, signal) = Checkpointer::start(path, wal::LIMITS)?;
        let synced = WalSync::start(path, |(job, answer): (Job, Answer), synced| {
            job.answer(synced.map(|()| answer))
        })?;
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("shiku-msg-writer".into())
            .spawn(move || writer_loop(conn, queue, synced, signal, changes))
            .map_err(|e| backend(format!("cannot start the message writer: {e}")))?;
        Ok(MessageWriter {
            jobs: Some(jobs),
            thread: Some(thread),
            checkpointer: Some(checkpointer),
        })
    }

    fn send(&self, job: Job) -> StoreResult<()> {
        self.jobs
            .as_ref()
            .ok_or_else(|| backend("message writer stopped"))?
            .send(job)
            .map_err(|_| backend("message writer stopped"))
    }

    /// Queues a `store_chat` and waits for the commit that contains it.
    async fn chat(
        &self,
        rows: Vec<MsgInsert>,
        last_chats: Vec<LastChatRow>,
        offline: Option<(i32, String, i64)>,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Chat {
            rows,
            last_chats,
            offline,
            reply,
        })?;
        answer
            .await
            .map_err(|_| backend("message writer stopped before answering"))?
    }

    /// Queues a write and waits for the commit that contains it. Other adapter modules may use
    /// it for their own hot writes (room messages): the closure may run twice (see [`Work`]).
    pub(super) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Work {
            work: Box::new(move |c| work(c).map(|v| Box::new(v) as Box<dyn Any + Send>)),
            reply,
        })?;
        let value = answer
            .await
            .map_err(|_| backend("message writer stopped before answering"))??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| backend("message writer: mismatched answer type"))
    }
}

impl Drop for MessageWriter {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // After the last batch: its last round copies everything.
        drop(self.checkpointer.take());
    }
}

/// Takes one job, then everything already queued, and commits them together.
fn writer_loop(
    mut conn: Connection,
    queue: mpsc::Receiver<Job>,
    synced: WalSync<(Job, Answer)>,
    checkpoints: CommitSignal,
    changes: Arc<cache::Changes>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Committed jobs are answered once the WAL is synced; failed ones at once.
        let mut committed = Vec::with_capacity(batch.len());
        match write_jobs(&mut conn, &batch) {
            Ok(answers) => committed.extend(batch.into_iter().zip(answers)),
            Err(e) if batch.len() == 1 => {
                batch.pop().expect("one job").answer(Err(e));
            }
            Err(e) => {
                // One bad job must not fail the others: each gets its own transaction and answer.
                tracing::warn!(jobs = batch.len(), error = %e, "message write batch failed, retrying one by one");
                for job in batch {
                    match write_jobs(&mut conn, std::slice::from_ref(&job)) {
                        Ok(mut answers) => committed.push((job, answers.remove(0))),
                        Err(e) => job.answer(Err(e)),
                    }
                }
            }
        }
        // Committed: counted on the change clock before anyone is answered.
        changes.publish();
        if !committed.is_empty() {
            synced.after_sync(committed);
        }
        checkpoints.committed(&conn);
    }
}

/// Writes `jobs` in one IMMEDIATE transaction, in order; one answer per job.
fn write_jobs(conn: &mut Connection, jobs: &[Job]) -> StoreResult<Vec<Answer>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut answers = Vec::with_capacity(jobs.len());
    // Of consecutive chats, only the last write of a conversation row matters (each replaces it
    // whole); rows keep the order of their first write, which orders new rows' `rid`s.
    let mut last_chats: Vec<&LastChatRow> = Vec::new();
    let mut slots: HashMap<(bool, &str, &str), usize> = HashMap::new();
    for job in jobs {
        match job {
            Job::Chat {
                rows,
                last_chats: rows_last,
                offline,
                ..
            } => {
                let stored = insert_rows(&tx, rows)?;
                if let (true, Some((user_id, payload, ts))) = (stored, offline) {
                    tx.prepare_cached(
                        "INSERT INTO offline_queue (user_id, payload, ts) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut st| st.execute(params![user_id, payload, ts]))
                    .map_err(backend)?;
                }
                if stored {
                    for row in rows_last {
                        match slots.get(&row.key()) {
                            Some(&i) => last_chats[i] = row,
                            None => {
                                slots.insert(row.key(), last_chats.len());
                                last_chats.push(row);
                            }
                        }
                    }
                }
                answers.push(Answer::Chat(stored));
            }
            Job::Work { work, .. } => {
                // Pending conversation rows first: this write may read or change them.
                for row in last_chats.drain(..) {
                    row.upsert(&tx)?;
                }
                slots.clear();
                answers.push(Answer::Work(work(&tx)?));
            }
        }
    }
    for row in last_chats {
        row.upsert(&tx)?;
    }
    tx.commit().map_err(backend)?;
    Ok(answers)
}

/// Inserts a message's rows unless its first row is already stored (then writes nothing).
fn insert_rows(conn: &Connection, rows: &[MsgInsert]) -> StoreResult<bool> {
    let Some((first, rest)) = rows.split_first() else {
        return Ok(true);
    };
    let mut insert = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO shiku_msgs (doc, sender, receiver, message_id, direction, ts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?;
    let mut put = |r: &MsgInsert| {
        insert
            .execute(params![
                r.doc,
                r.sender,
                r.receiver,
                r.message_id,
                r.direction,
                r.ts
            ])
            .map_err(backend)
    };
    // The unique (message_id, sender, direction) index turns a resend into a no-op insert.
    if put(first)? == 0 {
        return Ok(false);
    }
    for row in rest {
        put(row)?;
    }
    Ok(true)
}

/// A `shiku_msgs` row ready to insert: the document and its indexed columns.
struct MsgInsert {
    doc: String,
    sender: String,
    receiver: String,
    message_id: String,
    direction: i32,
    ts: i64,
}

impl MsgInsert {
    fn new(row: &MsgRow) -> StoreResult<MsgInsert> {
        Ok(MsgInsert {
            doc: encode_row(row)?,
            sender: row.sender.clone(),
            receiver: row.receiver.clone(),
            message_id: row.message_id.clone(),
            direction: row.direction,
            ts: row.ts,
        })
    }
}

/// The stored document (the body JSON once: [`BodyOnce`]), which keeps the row, and the WAL
/// bytes of its insert, a third smaller.
fn encode_row(row: &MsgRow) -> StoreResult<String> {
    let mut row = row.stored();
    if row.id.is_none() {
        row.id = Some(new_id());
    }
    encode(&row)
}

/// A stored row as clients read it: `message` carries the body JSON, as `body` does.
pub(super) fn with_message(row: MsgRow) -> MsgRow {
    row.read_back()
}

/// `shiku_msgs` rows of a query selecting `doc`.
fn msg_rows(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<MsgRow>> {
    Ok(docs::<MsgRow>(conn, MSGS, sql, p)?
        .into_iter()
        .map(with_message)
        .collect())
}

/// The query of a history page's rowids and its arguments (`shiku_msgs_page` answers it
/// whole, without reading a document).
fn history_sql(q: &HistoryQuery) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("SELECT rid FROM shiku_msgs WHERE sender = ?1 AND receiver = ?2");
    let mut args: Vec<rusqlite::types::Value> =
        vec![q.owner.to_string().into(), q.peer.to_string().into()];
    history_bounds(&mut sql, &mut args, q.start_ms, q.end_ms, q.max_type);
    args.push(sql_int(q.limit).into());
    args.push(sql_int(q.skip).into());
    sql += &format!(
        " ORDER BY ts DESC, rid DESC LIMIT ?{} OFFSET ?{}",
        args.len() - 1,
        args.len()
    );
    (sql, args)
}

/// What a conversation's head is kept and counted under (`Head`): its owner and peer.
fn history_name(owner: &str, peer: &str) -> String {
    format!("{owner}/{peer}")
}

/// The first `shiku_msgs` row of a query selecting `doc`.
fn msg_row(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Option<MsgRow>> {
    Ok(one_doc::<MsgRow>(conn, MSGS, sql, p)?.map(with_message))
}

/// Conversations kept per user as an ordered list of rowids; a user with more reads each page
/// from the indexes instead.
const CONVERSATIONS_KEPT: u64 = 1000;

/// The (`ts`, rowid) of my single-chat conversation rows and of my rooms' rows, newest first,
/// within the bounds (ms), at most `limit` (0: all).
fn conversation_keys(
    conn: &Connection,
    user_id: i32,
    rooms: &[String],
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    limit: u64,
) -> StoreResult<Vec<(i64, i64)>> {
    // Two reads merged here rather than one `OR` query: that one sorted every matching row in
    // a temporary b-tree. My single-chat rows come newest first from `shiku_last_chats_recent`
    // (which holds `ts` and the rowid: nothing is read from the table) and stop at `limit`;
    // my rooms' newest `limit` rows (one per room) are merged here by the same key.
    let mut bounds = String::new();
    let mut args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Null];
    if let Some(start) = start_ms {
        args.push(start.into());
        bounds += &format!(" AND ts >= ?{}", args.len());
    }
    if let Some(end) = end_ms {
        args.push(end.into());
        bounds += &format!(" AND ts <= ?{}", args.len());
    }
    let limited = |sql: &mut String, args: &mut Vec<rusqlite::types::Value>| {
        if limit > 0 {
            args.push(sql_int(limit).into());
            *sql += &format!(" LIMIT ?{}", args.len());
        }
    };
    let keys = |sql: &str, args: Vec<rusqlite::types::Value>| -> StoreResult<Vec<(i64, i64)>> {
        let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    };
    let mut single_args = args.clone();
    single_args[0] = user_id.to_string().into();
    let mut single_sql = format!(
        "SELECT ts, rid FROM shiku_last_chats \
         WHERE user_id = ?1 AND is_room = 0{bounds} ORDER BY ts DESC, rid DESC"
    );
    limited(&mut single_sql, &mut single_args);
    let mut found = keys(&single_sql, single_args)?;
    if !rooms.is_empty() {
        args[0] = json_list(rooms)?.into();
        // At most `limit` of them too: a member of thousands of rooms reads a page, not every
        // room's row.
        let mut room_sql = format!(
            "SELECT ts, rid FROM shiku_last_chats WHERE is_room = 1 \
             AND jid IN (SELECT value FROM json_each(?1)){bounds} ORDER BY ts DESC, rid DESC"
        );
        limited(&mut room_sql, &mut args);
        found.extend(keys(&room_sql, args)?);
    }
    found.sort_unstable_by_key(|r| std::cmp::Reverse(*r));
    if limit > 0 {
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(found)
}

/// Every conversation of a user, in order ([`conversation_keys`] unbounded), and what it was
/// read under: kept by userId while no conversation started anywhere (the clock's
/// [`cache::Watched::LastChatsAdded`], the key's reading), none of these rows changed (the
/// sum of their readings) and the user is in the same rooms.
pub(super) struct Conversations {
    rooms: Vec<String>,
    rows: Vec<(i64, i64)>,
    readings: u64,
}

/// The sum of the rows' clock readings: counters only grow, so it moves when any does.
fn readings_of(clock: &cache::Clock, rows: &[(i64, i64)]) -> u64 {
    rows.iter().fold(0u64, |sum, &(_, rid)| {
        sum.wrapping_add(clock.row(cache::Watched::LastChats, rid))
    })
}

/// [`Conversations`] of `user_id` in `rooms`, kept or read; None when there are more than
/// [`CONVERSATIONS_KEPT`] or they changed while read (the caller reads its page instead).
fn conversations(
    conn: &Connection,
    clock: &cache::Clock,
    kept: &cache::Kept<Arc<Conversations>>,
    user_id: i32,
    rooms: &[String],
) -> StoreResult<Option<Arc<Conversations>>> {
    let added = clock.table(cache::Watched::LastChatsAdded);
    let key = i64::from(user_id);
    if let Some(all) = kept.get(key, added) {
        if all.rooms == rooms && all.readings == readings_of(clock, &all.rows) {
            return Ok(Some(all));
        }
    }
    let read = || conversation_keys(conn, user_id, rooms, None, None, CONVERSATIONS_KEPT + 1);
    let rows = read()?;
    if rows.len() as u64 > CONVERSATIONS_KEPT {
        return Ok(None);
    }
    // The rowids are known only after the read, so their readings come after it: a change
    // committed after the read but counted before the readings would go unseen. Reading
    // again after the readings closes that gap (such a change shows in the second read).
    let readings = readings_of(clock, &rows);
    if read()? != rows {
        return Ok(None);
    }
    let weight = rows.len() + rooms.len();
    let all = Arc::new(Conversations {
        rooms: rooms.to_vec(),
        rows,
        readings,
    });
    kept.put_weighing(key, added, all.clone(), weight);
    Ok(Some(all))
}

/// Reads conversation rows from a query selecting `doc, oid`.
fn last_chat_rows(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<LastChat>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(p, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, oid) = row.map_err(backend)?;
        let mut chat: LastChat = decode(LAST_CHATS, &doc)?;
        chat.id = Some(oid);
        out.push(chat);
    }
    Ok(out)
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn store_chat(&self, write: &ChatWrite) -> StoreResult<bool> {
        let rows = write
            .rows
            .iter()
            .map(MsgInsert::new)
            .collect::<StoreResult<Vec<_>>>()?;
        let last_chats = write
            .last_chats
            .iter()
            .map(LastChatRow::new)
            .collect::<StoreResult<Vec<_>>>()?;
        let offline = write
            .offline
            .as_ref()
            .map(|o| (o.user_id, o.payload.clone(), o.ts));
        let names: Vec<String> = rows
            .iter()
            .map(|r| history_name(&r.sender, &r.receiver))
            .collect();
        let stored = self.writer.chat(rows, last_chats, offline).await?;
        // Committed: the conversations' kept heads are read again (counted before anyone is
        // answered; a reader that saw the rows before this only reads once more).
        if stored {
            for name in &names {
                self.added
                    .note_key(cache::Watched::MsgsAdded, cache::text_key(name));
            }
            self.added.publish();
        }
        Ok(stored)
    }

    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<Arc<Shared<MsgRow>>>> {
        let (owner, peer) = (q.owner.to_string(), q.peer.to_string());
        let name = history_name(&owner, &peer);
        let at = head_reading(&self.clock, cache::Watched::MsgsAdded, &name);
        let ask = PageAsk {
            start_ms: q.start_ms,
            end_ms: q.end_ms,
            max_type: q.max_type,
            skip: q.skip,
            limit: q.limit,
        };
        let (sql, args) = history_sql(q);
        let (clock, kept) = (self.clock.clone(), self.kept.clone());
        self.read(page_rows(q.limit), move |c| {
            let head = HeadOf {
                kept: &kept.heads,
                name: &name,
                at,
                sql: "SELECT ts, rid, content_type FROM shiku_msgs \
                      WHERE sender = ?1 AND receiver = ?2 ORDER BY ts DESC, rid DESC LIMIT ?3",
                args: vec![owner.into(), peer.into()],
            };
            let rids = page_rids(c, head, &ask, &sql, args)?;
            rows_by_rid(
                c,
                &rids,
                &clock,
                cache::Watched::Msgs,
                &kept.msgs,
                "SELECT doc FROM shiku_msgs WHERE rid = ?1",
                |doc, _| decode(MSGS, doc).map(with_message),
            )
        })
        .await
    }

    async fn find_copy(&self, owner: i32, message_id: &str) -> StoreResult<Option<MsgRow>> {
        let id = message_id.to_string();
        self.read(1, move |c| {
            msg_row(
                c,
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
        self.writer
            .write(move |c| {
                // Every copy of these messages (the copy index leads with message_id); of
                // those, the reader's received ones and the senders' ones addressed to it.
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
        self.writer
            .write(move |c| {
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

    async fn delete_received(
        &self,
        owner: i32,
        peer: i32,
        message_ids: &[String],
    ) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let ids = json_list(message_ids)?;
        self.writer
            .write(move |c| {
                let n = c
                    .execute(
                        "DELETE FROM shiku_msgs WHERE sender = ?1 AND receiver = ?2 \
                         AND direction = 1 AND message_id IN (SELECT value FROM json_each(?3))",
                        params![owner.to_string(), peer.to_string(), ids],
                    )
                    .map_err(backend)?;
                Ok(n as u64)
            })
            .await
    }

    async fn clear_copies(&self, owner: i32, peer: Option<i32>) -> StoreResult<u64> {
        self.writer
            .write(move |c| {
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
        self.writer
            .write(move |c| {
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
        self.read(1, move |c| {
            msg_row(
                c,
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
            msg_rows(
                c,
                "SELECT doc FROM shiku_msgs WHERE sender = ?1 \
                 AND instr(json_extract(doc, '$.content'), ?2) > 0 \
                 ORDER BY ts DESC, rid DESC LIMIT ?3",
                params![owner.to_string(), needle, sql_int(limit)],
            )
        })
        .await
    }

    async fn upsert_last_chat(&self, row: &LastChat) -> StoreResult<()> {
        let row = LastChatRow::new(row)?;
        self.writer.write(move |c| row.upsert(c)).await
    }

    async fn last_chats(
        &self,
        user_id: i32,
        room_jids: &[String],
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u64,
    ) -> StoreResult<Vec<Arc<Shared<LastChat>>>> {
        let rooms = room_jids.to_vec();
        let (clock, kept) = (self.clock.clone(), self.kept.clone());
        self.read(page_rows(limit), move |c| {
            let wanted = |&(ts, _): &(i64, i64)| {
                start_ms.is_none_or(|s| ts >= s) && end_ms.is_none_or(|e| ts <= e)
            };
            let take = if limit == 0 {
                usize::MAX
            } else {
                usize::try_from(limit).unwrap_or(usize::MAX)
            };
            let rids: Vec<i64> =
                match conversations(c, &clock, &kept.conversations, user_id, &rooms)? {
                    Some(all) => all
                        .rows
                        .iter()
                        .filter(|r| wanted(r))
                        .take(take)
                        .map(|r| r.1)
                        .collect(),
                    None => conversation_keys(c, user_id, &rooms, start_ms, end_ms, limit)?
                        .into_iter()
                        .map(|r| r.1)
                        .collect(),
                };
            rows_by_rid(
                c,
                &rids,
                &clock,
                cache::Watched::LastChats,
                &kept.last_chats,
                "SELECT doc, oid FROM shiku_last_chats WHERE rid = ?1",
                |doc, oid| {
                    let mut chat: LastChat = decode(LAST_CHATS, doc)?;
                    chat.id = oid;
                    Ok(chat)
                },
            )
        })
        .await
    }

    async fn get_last_chat(
        &self,
        user_id: Option<i32>,
        jid: &str,
    ) -> StoreResult<Option<LastChat>> {
        let jid = jid.to_string();
        let rows = self
            .read(1, move |c| match user_id {
                Some(user) => last_chat_rows(
                    c,
                    "SELECT doc, oid FROM shiku_last_chats \
                     WHERE user_id = ?1 AND jid = ?2 AND is_room = 0",
                    params![user.to_string(), jid],
                ),
                None => last_chat_rows(
                    c,
                    "SELECT doc, oid FROM shiku_last_chats WHERE jid = ?1 AND is_room = 1",
                    params![jid],
                ),
            })
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn delete_last_chat(&self, user_id: i32, jid: &str) -> StoreResult<bool> {
        let jid = jid.to_string();
        self.writer
            .write(move |c| {
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

    async fn delete_room_last_chat(&self, jid: &str) -> StoreResult<bool> {
        let jid = jid.to_string();
        self.writer
            .write(move |c| {
                let n = c
                    .execute(
                        "DELETE FROM shiku_last_chats WHERE jid = ?1 AND is_room = 1",
                        params![jid],
                    )
                    .map_err(backend)?;
                Ok(n > 0)
            })
            .await
    }

    async fn enqueue_offline(&self, user_id: i32, payload: &str, ts: i64) -> StoreResult<i64> {
        let payload = payload.to_string();
        self.writer.write(move |c| {
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
                .query_map(params![user_id, sql_int(limit)], |r| {
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
        self.writer
            .write(move |c| {
                c.execute(
                    "DELETE FROM offline_queue WHERE user_id = ?1 AND seq <= ?2",
                    params![user_id, seq],
                )
                .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn trim_offline(&self, user_id: i32, max_items: u64, max_bytes: u64) -> StoreResult<u64> {
        self.writer
            .write(move |c| {
                // The newest item that no longer fits, by count or by the running payload size
                // (newest first); it and everything older go.
                let cut: Option<i64> = c
                    .query_row(
                        "SELECT seq FROM (SELECT seq,                              ROW_NUMBER() OVER (ORDER BY seq DESC) AS n,                              SUM(length(payload)) OVER (ORDER BY seq DESC) AS bytes                            FROM offline_queue WHERE user_id = ?1)                          WHERE n > ?2 OR bytes > ?3 ORDER BY seq DESC LIMIT 1",
                        params![user_id, sql_int(max_items), sql_int(max_bytes)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                let Some(cut) = cut else {
                    return Ok(0);
                };
                let n = c
                    .execute(
                        "DELETE FROM offline_queue WHERE user_id = ?1 AND seq <= ?2",
                        params![user_id, cut],
                    )
                    .map_err(backend)?;
                Ok(n as u64)
            })
            .await
    }

    async fn put_new_friend(&self, event: &NewFriend) -> StoreResult<()> {
        let doc = encode(event)?;
        let (a, b) = (event.user_id, event.to_user_id);
        self.writer
            .write(move |c| {
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

    async fn get_new_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
    ) -> StoreResult<Option<NewFriend>> {
        self.run(move |c| {
            docs(
                c,
                NEW_FRIENDS,
                "SELECT doc FROM new_friends WHERE user_id = ?1 AND to_user_id = ?2",
                params![user_id, to_user_id],
            )
        })
        .await
        .map(|rows: Vec<NewFriend>| rows.into_iter().next())
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
                params![user_id, sql_int(limit), sql_int(skip)],
            )
        })
        .await
    }

    async fn put_dialog(&self, dialog: &StickDialog) -> StoreResult<()> {
        let doc = encode(dialog)?;
        let (user, jid) = (dialog.user_id, dialog.jid.clone());
        self.writer
            .write(move |c| {
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
        self.writer
            .write(move |c| {
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
        self.read(u64::MAX, move |c| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_rows(id: &str) -> Vec<MsgInsert> {
        [("1", "2", 0), ("2", "1", 1)]
            .iter()
            .map(|&(owner, peer, direction)| MsgInsert {
                doc: serde_json::json!({
                    "_id": new_id(), "direction": direction, "sender": owner, "receiver": peer,
                    "messageId": id, "ts": 1, "contentType": 1, "content": "x",
                })
                .to_string(),
                sender: owner.into(),
                receiver: peer.into(),
                message_id: id.into(),
                direction,
                ts: 1,
            })
            .collect()
    }

    /// A history page is read from `shiku_msgs_page` alone: in order (no sort), and the
    /// `maxType` filter from the index (no document parsed for it).
    #[test]
    fn a_history_page_reads_the_index_alone_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        create_schema(&conn).unwrap();
        let q = HistoryQuery {
            owner: 1,
            peer: 2,
            start_ms: Some(1),
            end_ms: Some(2),
            max_type: Some(200),
            skip: 0,
            limit: 20,
        };
        let (sql, args) = history_sql(&q);
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(args.clone()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("INDEX shiku_msgs_page")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
        // (opcode, p1, p4): no function call, and no column read from the table's own cursor
        // (opened with a column count, not an index's key info `k(..)`): the index alone.
        let ops: Vec<(String, i64, Option<String>)> = conn
            .prepare(&format!("EXPLAIN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, Option<String>>(5).ok().flatten(),
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !ops.iter().any(|(op, ..)| op.contains("Function")),
            "{ops:?}"
        );
        let table_cursors: Vec<i64> = ops
            .iter()
            .filter(|(op, _, p4)| {
                op == "OpenRead" && !p4.as_deref().unwrap_or("").starts_with("k(")
            })
            .map(|(_, p1, _)| *p1)
            .collect();
        assert!(
            !ops.iter()
                .any(|(op, p1, _)| op == "Column" && table_cursors.contains(p1)),
            "{ops:?}"
        );
    }

    /// The body JSON is stored once; reading gives it back in `message` too. A row whose two
    /// fields differ (imported) keeps both.
    #[test]
    fn message_is_stored_once_and_read_back_like_body() {
        let row = |message: &str| -> MsgRow {
            serde_json::from_value(serde_json::json!({
                "direction": 0, "sender": "1", "receiver": "2",
                "body": "{\"content\":\"你好\"}", "message": message,
            }))
            .unwrap()
        };
        let same = row("{\"content\":\"你好\"}");
        let doc = encode_row(&same).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(stored["message"], "", "{doc}");
        assert_eq!(stored["body"], same.body);
        let read = with_message(decode::<MsgRow>(MSGS, &doc).unwrap());
        assert_eq!(read.message, same.body);
        assert_eq!(read.body, same.body);
        let other = row("{\"content\":\"old\"}");
        let read = with_message(decode::<MsgRow>(MSGS, &encode_row(&other).unwrap()).unwrap());
        assert_eq!(read.message, other.message);
    }

    /// A failing job in a batch gets its error; the others are committed and answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_job_does_not_fail_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        // Hold the writer so that everything below is queued into one batch.
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let started_tx = Mutex::new(started_tx);
        let blocker = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .writer
                    .write(move |_| {
                        let _ = started_tx.lock().unwrap().send(());
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        Ok(())
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        // join_all polls in order, so the copies are queued before their resend.
        let chats = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut calls: Vec<_> = (0..10).map(|i| chat_rows(&format!("m{i}"))).collect();
                calls.push(chat_rows("m0"));
                futures_util::future::join_all(
                    calls
                        .into_iter()
                        .map(|rows| store.writer.chat(rows, Vec::new(), None)),
                )
                .await
            })
        };
        let failing = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .writer
                    .write(|c| {
                        c.execute("INSERT INTO no_such_table VALUES (1)", [])
                            .map_err(backend)
                    })
                    .await
            })
        };
        blocker.await.unwrap().unwrap();
        let answers: Vec<bool> = chats
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.unwrap())
            .collect();
        let mut expected = vec![true; 10];
        expected.push(false);
        assert_eq!(answers, expected);
        assert!(failing.await.unwrap().is_err());
        let n: i64 = store
            .run(|c| {
                c.query_row("SELECT COUNT(*) FROM shiku_msgs", [], |r| r.get(0))
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(n, 20);
    }

    #[test]
    fn earlier_generated_layout_is_moved_with_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE shiku_msgs (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL,
               sender TEXT GENERATED ALWAYS AS (json_extract(doc, '$.sender')) VIRTUAL,
               receiver TEXT GENERATED ALWAYS AS (json_extract(doc, '$.receiver')) VIRTUAL,
               message_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.messageId')) VIRTUAL,
               direction INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.direction')) VIRTUAL,
               ts INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.ts')) VIRTUAL);
             CREATE UNIQUE INDEX shiku_msgs_copy ON shiku_msgs(message_id, sender, direction);
             INSERT INTO shiku_msgs (rid, doc) VALUES (7,
               '{\"sender\":\"1\",\"receiver\":\"2\",\"messageId\":\"m\",\"direction\":0,\"ts\":5,\"isRead\":1}');",
        )
        .unwrap();
        create_schema(&conn).unwrap();
        let row: (i64, String, String, String, i64, i64, i64) = conn
            .query_row(
                "SELECT rid, sender, receiver, message_id, direction, ts, is_read FROM shiku_msgs",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, (7, "1".into(), "2".into(), "m".into(), 0, 5, 1));
        // The new layout takes explicit key columns, and is left alone on the next start.
        create_schema(&conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM shiku_msgs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
