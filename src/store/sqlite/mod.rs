//! The embedded store: SQLite (bundled, WAL) under `data_dir`. One table per Shiku collection;
//! the document itself is kept as JSON and the queried fields are generated, indexed columns,
//! so the JSON is the only source of truth.

mod cache;
mod console;
mod courses;
mod favourites;
mod files;
mod friends;
mod menus;
mod messages;
mod org;
mod readers;
mod reports;
mod rooms;
mod users;
mod vfs;
mod wal;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    FriendStore, MetaStore, NearbyQuery, Patch, Shared, StoreError, StoreResult, UserQuery,
    UserStore,
};
use crate::documents::{
    Friend, LastChat, LoginKeys, Member, MsgRow, MucRow, Room, User, UserLoginLog, UserName,
    UserRole,
};

/// The SQLite adapter.
pub struct SqliteStore {
    /// The connection serving everything but message-port writes.
    conn: Arc<Mutex<Connection>>,
    /// The group-commit writer of every message-port write (its own connection and thread).
    writer: messages::MessageWriter,
    /// Read-only connections for the queries that only read (WAL: they never wait for writers).
    readers: Arc<readers::Readers>,
    /// What the shared connection changed in the watched tables, published after its commits.
    changes: Arc<cache::Changes>,
    /// New history rows, noted by hand once committed (`cache::Watched::MsgsAdded`).
    added: Arc<cache::Changes>,
    /// The change clock every process on this file shares (`cache`).
    clock: Arc<cache::Clock>,
    /// The look-ups every request makes, kept decoded while the clock says they hold.
    kept: Arc<KeptDocs>,
    path: String,
}

/// The documents kept decoded (see `cache`), by userId.
struct KeptDocs {
    users: cache::Kept<Option<Arc<Shared<User>>>>,
    /// For lists of friends: nickname and account only.
    names: cache::Kept<Option<UserName>>,
    login_logs: cache::Kept<Option<UserLoginLog>>,
    token_versions: cache::Kept<i64>,
    roles: cache::Kept<Vec<UserRole>>,
    /// Member lists by a hash of the room id (the id kept beside to tell collisions apart).
    members: cache::Kept<(String, Arc<Vec<Member>>)>,
    /// The jids of each user's rooms, by userId, kept as member lists are.
    room_jids: cache::Kept<Arc<Vec<String>>>,
    /// History rows by rowid, with their writings for clients (`Shared`).
    msgs: cache::Kept<Arc<Shared<MsgRow>>>,
    muc_msgs: cache::Kept<Arc<Shared<MucRow>>>,
    /// Conversation-list rows by rowid, and each user's list of them in order, by userId.
    last_chats: cache::Kept<Arc<Shared<LastChat>>>,
    conversations: cache::Kept<Arc<messages::Conversations>>,
    /// Which of the room messages a user's conversation list shows they hid, by userId.
    hidden: cache::Kept<Arc<rooms::HiddenAmong>>,
    /// Rooms by jid, members by room and userId, the messages a user hid in a room: what
    /// every room history page checks first.
    rooms: cache::Kept<(String, Option<Arc<Room>>)>,
    member: cache::Kept<(String, Option<Member>)>,
    hidden_muc: cache::Kept<(String, Arc<Vec<String>>)>,
    /// The newest rows of conversations (by owner and peer) and of rooms (by jid).
    heads: cache::Kept<(String, Arc<Head>)>,
    muc_heads: cache::Kept<(String, Arc<Head>)>,
}

impl Default for KeptDocs {
    fn default() -> Self {
        KeptDocs {
            users: Default::default(),
            names: Default::default(),
            login_logs: Default::default(),
            token_versions: Default::default(),
            roles: Default::default(),
            members: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
            room_jids: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
            msgs: cache::Kept::with_capacity(cache::ROW_BYTES_KEPT),
            muc_msgs: cache::Kept::with_capacity(cache::ROW_BYTES_KEPT),
            last_chats: cache::Kept::with_capacity(cache::ROW_BYTES_KEPT),
            conversations: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
            hidden: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
            rooms: Default::default(),
            member: Default::default(),
            hidden_muc: Default::default(),
            heads: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
            muc_heads: cache::Kept::with_capacity(cache::MEMBERS_KEPT),
        }
    }
}

/// Opens the shared connection.
fn open_shared(path: &Path) -> StoreResult<Connection> {
    let mut conn = Connection::open(path).map_err(backend)?;
    // synchronous=FULL: a write acknowledged to a client survives a power cut, not only a crash.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
    )
    .map_err(backend)?;
    // Checkpoints are the checkpointer thread's (see `checkpoint`), never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(readers::STATEMENT_CACHE);
    // The message writer is a second writing connection: a deferred transaction that reads
    // first would fail with SQLITE_BUSY_SNAPSHOT instead of waiting when the writer commits in
    // between, so this one takes the write lock at BEGIN (and waits for it).
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    Ok(conn)
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
-- `/nearby/user`: each user's position (`loc`) in an R*Tree, kept by triggers whatever writes
-- the document; users without a possible position (absent, out of range, 0,0) are left out.
CREATE VIRTUAL TABLE IF NOT EXISTS user_loc USING rtree(id, min_lat, max_lat, min_lng, max_lng);
CREATE TRIGGER IF NOT EXISTS user_loc_insert AFTER INSERT ON user BEGIN
    INSERT INTO user_loc SELECT new.id, lat, lat, lng, lng FROM (
        SELECT json_extract(new.doc, '$.loc.lat') AS lat, json_extract(new.doc, '$.loc.lng') AS lng)
    WHERE lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180 AND NOT (lat = 0 AND lng = 0);
END;
CREATE TRIGGER IF NOT EXISTS user_loc_update AFTER UPDATE OF doc ON user
WHEN json_extract(new.doc, '$.loc') IS NOT json_extract(old.doc, '$.loc') BEGIN
    DELETE FROM user_loc WHERE id = new.id;
    INSERT INTO user_loc SELECT new.id, lat, lat, lng, lng FROM (
        SELECT json_extract(new.doc, '$.loc.lat') AS lat, json_extract(new.doc, '$.loc.lng') AS lng)
    WHERE lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180 AND NOT (lat = 0 AND lng = 0);
END;
CREATE TRIGGER IF NOT EXISTS user_loc_delete AFTER DELETE ON user BEGIN
    DELETE FROM user_loc WHERE id = old.id;
END;
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
-- Counts and pages by status read the status from here, not from each document.
CREATE INDEX IF NOT EXISTS u_friends_user_status ON u_friends(user_id, status);
-- The few relations of a user that carry a remark (member lists show them), without reading
-- the others.
CREATE INDEX IF NOT EXISTS u_friends_remarked ON u_friends(user_id)
    WHERE json_extract(doc, '$.remarkName') <> '';
CREATE TABLE IF NOT EXISTS server_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS token_versions (user_id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS short_codes (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL,
    expires INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS short_codes_expires ON short_codes(expires);
"#;

/// A fresh 24-hex id shaped like a MongoDB ObjectId (seconds, then process-unique bytes), so
/// documents look alike whichever adapter made them (clients show `_id`) and sort by creation.
fn new_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

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
        let clock = Arc::new(cache::Clock::open(&path)?);
        let conn = open_shared(&path)?;
        let changes = cache::Changes::watch(clock.clone(), &conn);
        conn.execute_batch(SCHEMA).map_err(backend)?;
        users::index_positions(&conn)?;
        messages::create_schema(&conn)?;
        conn.execute_batch(rooms::SCHEMA).map_err(backend)?;
        conn.execute_batch(org::SCHEMA).map_err(backend)?;
        conn.execute_batch(console::SCHEMA).map_err(backend)?;
        conn.execute_batch(files::SCHEMA).map_err(backend)?;
        conn.execute_batch(favourites::SCHEMA).map_err(backend)?;
        conn.execute_batch(courses::SCHEMA).map_err(backend)?;
        conn.execute_batch(reports::SCHEMA).map_err(backend)?;
        conn.execute_batch(menus::SCHEMA).map_err(backend)?;
        // A newer schema may have rewritten documents another process keeps.
        changes.publish();
        let writer = messages::MessageWriter::start(&path, clock.clone())?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            writer,
            readers: Arc::new(readers::Readers::new(&path)),
            changes,
            added: cache::Changes::new(clock.clone()),
            clock,
            kept: Arc::default(),
            path: path.display().to_string(),
        })
    }

    /// `sqlite:<path>` for the start-up log line.
    pub fn description(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    /// Runs `f` on the shared connection off the async runtime.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let changes = self.changes.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| backend("sqlite connection poisoned"))?;
            let out = f(&mut guard);
            // Every statement of `f` is committed (or rolled back) by now.
            changes.publish();
            out
        })
        .await
        .map_err(backend)?
    }

    /// A look-up of one document by userId, kept decoded (`cache`): `at` is the clock's reading
    /// for it, taken before the read, and `f` the read.
    async fn kept<T, F>(
        &self,
        pick: fn(&KeptDocs) -> &cache::Kept<T>,
        user_id: i32,
        at: u64,
        f: F,
    ) -> StoreResult<T>
    where
        T: Clone + Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let key = i64::from(user_id);
        if let Some(doc) = pick(&self.kept).get(key, at) {
            return Ok(doc);
        }
        let doc = self.read(1, f).await?;
        pick(&self.kept).put(key, at, doc.clone());
        Ok(doc)
    }

    /// [`SqliteStore::kept`] for a document named by text (a room's jid): kept beside its name,
    /// which tells the rare collision of keys apart; `rows` bounds the read as for
    /// [`SqliteStore::read`] and weighs what is kept.
    async fn kept_by_name<T, F>(
        &self,
        pick: fn(&KeptDocs) -> &cache::Kept<(String, T)>,
        name: String,
        at: u64,
        rows: u64,
        f: F,
    ) -> StoreResult<T>
    where
        T: Clone + Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let key = cache::text_key(&name);
        if let Some((kept, doc)) = pick(&self.kept).get(key, at) {
            if kept == name {
                return Ok(doc);
            }
        }
        let doc = self.read(rows, f).await?;
        pick(&self.kept).put_weighing(key, at, (name, doc.clone()), 1);
        Ok(doc)
    }

    /// Runs a query that only reads, on a reader connection: right here when it returns at
    /// most [`readers::INLINE_ROWS`] rows (`rows`, the caller's bound: 1 for a look-up, the page
    /// size for a page), which costs less than the hop to the blocking pool; larger ones on
    /// the blocking pool, so a long page never holds up the other requests of this worker, at
    /// most [`readers::MAX_LONG_READS`] at a time.
    async fn read<T, F>(&self, rows: u64, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        if rows <= readers::INLINE_ROWS {
            return self.readers.with(f);
        }
        let turn = self
            .readers
            .long_reads
            .clone()
            .acquire_owned()
            .await
            .map_err(backend)?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            readers.with(f)
        })
        .await
        .map_err(backend)?
    }

    /// The first column of a query's rows, for a list that is short for almost everyone (the
    /// messages I hid in a room): read here up to [`readers::INLINE_ROWS`], and only when it
    /// is longer, again whole on the blocking pool. `sql` ends with `LIMIT ?n`, `n` one past
    /// `args`.
    async fn short_list<T>(
        &self,
        sql: &'static str,
        args: Vec<rusqlite::types::Value>,
    ) -> StoreResult<Vec<T>>
    where
        T: rusqlite::types::FromSql + Send + 'static,
    {
        let list = |c: &Connection, args: Vec<rusqlite::types::Value>, limit: i64| {
            let mut stmt = c.prepare_cached(sql).map_err(backend)?;
            let params = args.into_iter().chain([limit.into()]);
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), |r| r.get(0))
                .map_err(backend)?;
            rows.collect::<Result<Vec<T>, _>>().map_err(backend)
        };
        let inline = readers::INLINE_ROWS;
        let first_args = args.clone();
        let first = self
            .read(inline, move |c| list(c, first_args, sql_int(inline + 1)))
            .await?;
        if first.len() as u64 <= inline {
            return Ok(first);
        }
        self.read(u64::MAX, move |c| list(c, args, -1)).await
    }
}

/// Reads the `doc` column of every row a query returns.
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

/// Runs a `SELECT COUNT(*) ...`.
fn count(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut st| st.query_row(p, |r| r.get(0)))
        .map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `LIKE … ESCAPE '\'` pattern matching `s` literally anywhere (`%`, `_`, `\` escaped).
fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Adds the bounds history pages share, numbered after the parameters in `args`: `ts` within
/// `start..=end` (ms) and `content_type < max_type`.
fn history_bounds(
    sql: &mut String,
    args: &mut Vec<rusqlite::types::Value>,
    start: Option<i64>,
    end: Option<i64>,
    max_type: Option<i32>,
) {
    if let Some(start) = start {
        args.push(start.into());
        *sql += &format!(" AND ts >= ?{}", args.len());
    }
    if let Some(end) = end {
        args.push(end.into());
        *sql += &format!(" AND ts <= ?{}", args.len());
    }
    if let Some(max) = max_type {
        args.push(i64::from(max).into());
        *sql += &format!(" AND content_type < ?{}", args.len());
    }
}

/// A list bound as one JSON parameter (`IN (SELECT value FROM json_each(?))`).
fn json_list<T: Serialize>(items: &[T]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(backend)
}

/// An SQL integer from a count (saturating).
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The rows a page of `limit` may return (0: no limit), for [`SqliteStore::read`].
fn page_rows(limit: u64) -> u64 {
    if limit == 0 {
        u64::MAX
    } else {
        limit
    }
}

/// Rows of a conversation or room kept as its head: pages within them (the first pages, which
/// clients read again and again) need no query.
const HEAD_ROWS: u64 = 100;

/// The newest rows of a conversation or a room, newest first as pages are: (`ts`, rowid,
/// `contentType`). Kept while no row was added to it and no history row deleted anywhere
/// (the only changes of rows that move them: a receipt changes a document, not its place).
pub(super) struct Head {
    rows: Vec<(i64, i64, Option<i64>)>,
    /// Whether these are all of its rows.
    complete: bool,
}

/// What a history page asks of its rows besides whose they are.
pub(super) struct PageAsk {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub max_type: Option<i32>,
    pub skip: u64,
    /// 0: all.
    pub limit: u64,
}

/// The clock's reading for the head of `name` (taken before any read): rows added to it
/// (`added`, noted by the store that wrote them) and history rows deleted anywhere.
fn head_reading(clock: &cache::Clock, added: cache::Watched, name: &str) -> u64 {
    clock
        .row(added, cache::text_key(name))
        .wrapping_add(clock.table(cache::Watched::HistoryRemoved))
}

impl PageAsk {
    /// Whether a head can answer it at all (a page within [`HEAD_ROWS`]).
    fn within_head(&self) -> bool {
        self.limit > 0 && self.skip.saturating_add(self.limit) <= HEAD_ROWS
    }
}

impl Head {
    /// The head read by `sql` (selecting `ts, rid, content_type` newest first and ending with
    /// `LIMIT ?n`, `n` one past `args`).
    fn read(
        conn: &Connection,
        sql: &str,
        mut args: Vec<rusqlite::types::Value>,
    ) -> StoreResult<Head> {
        args.push(sql_int(HEAD_ROWS + 1).into());
        let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
        let mut rows: Vec<(i64, i64, Option<i64>)> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        let complete = rows.len() as u64 <= HEAD_ROWS;
        rows.truncate(HEAD_ROWS as usize);
        Ok(Head { rows, complete })
    }

    /// The rowids of the page `ask` names, as the page query would give them; None when the
    /// page reaches past the head.
    fn page(&self, ask: &PageAsk) -> Option<Vec<i64>> {
        let limit = usize::try_from(ask.limit).unwrap_or(usize::MAX);
        let mut skip = ask.skip;
        let mut out = Vec::with_capacity(limit.min(self.rows.len()));
        for &(ts, rid, content_type) in &self.rows {
            if out.len() == limit {
                return Some(out);
            }
            // As SQL compares: a row without a contentType never passes `maxType`.
            let shown = ask.start_ms.is_none_or(|s| ts >= s)
                && ask.end_ms.is_none_or(|e| ts <= e)
                && ask
                    .max_type
                    .is_none_or(|m| content_type.is_some_and(|c| c < i64::from(m)));
            if !shown {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push(rid);
        }
        (self.complete || out.len() == limit).then_some(out)
    }
}

/// Where a page's head is kept and how it is read.
struct HeadOf<'a> {
    kept: &'a cache::Kept<(String, Arc<Head>)>,
    /// The conversation or room it is kept under.
    name: &'a str,
    /// The clock's reading for it, taken before any read.
    at: u64,
    /// Selects `ts, rid, content_type` newest first and ends with `LIMIT ?n`, `n` one past
    /// `args`.
    sql: &'static str,
    args: Vec<rusqlite::types::Value>,
}

/// A history page's rowids: from its head (kept, or read and kept) when the page lies within
/// it, else from `sql` (selecting `rid`) with `args`.
fn page_rids(
    conn: &Connection,
    head: HeadOf,
    ask: &PageAsk,
    sql: &str,
    args: Vec<rusqlite::types::Value>,
) -> StoreResult<Vec<i64>> {
    if ask.within_head() {
        let key = cache::text_key(head.name);
        let kept = head
            .kept
            .get(key, head.at)
            .filter(|(name, _)| name == head.name)
            .map(|(_, kept)| kept);
        let kept = match kept {
            Some(kept) => kept,
            None => {
                let read = Arc::new(Head::read(conn, head.sql, head.args)?);
                let weight = read.rows.len();
                head.kept
                    .put_weighing(key, head.at, (head.name.to_string(), read.clone()), weight);
                read
            }
        };
        if let Some(rids) = kept.page(ask) {
            return Ok(rids);
        }
    }
    rids_of(conn, sql, args)
}

/// The rowids a query selecting `rid` names, in its order.
fn rids_of(
    conn: &Connection,
    sql: &str,
    args: Vec<rusqlite::types::Value>,
) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| r.get(0))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// The rows of `table` with these rowids, in their order: each the one kept under the change
/// clock's reading of its row (`kept`), else read by `by_rid` (selecting `doc`, and optionally
/// an id beside it, of rowid ?1), decoded by `decode` and kept. A row deleted meanwhile is
/// left out, as if deleted just before.
fn rows_by_rid<T>(
    conn: &Connection,
    rids: &[i64],
    clock: &cache::Clock,
    table: cache::Watched,
    kept: &cache::Kept<Arc<Shared<T>>>,
    by_rid: &str,
    decode: impl Fn(&str, Option<String>) -> StoreResult<T>,
) -> StoreResult<Vec<Arc<Shared<T>>>> {
    // The readings before the documents: a change after them moves the reading.
    let wanted: Vec<(i64, u64)> = rids
        .iter()
        .map(|&rid| (rid, clock.row(table, rid)))
        .collect();
    let found = kept.get_many(&wanted);
    let mut out = Vec::with_capacity(rids.len());
    let mut read_doc = None;
    for ((rid, at), found) in wanted.into_iter().zip(found) {
        if let Some(row) = found {
            out.push(row);
            continue;
        }
        let stmt = match &mut read_doc {
            Some(stmt) => stmt,
            None => read_doc.insert(conn.prepare_cached(by_rid).map_err(backend)?),
        };
        let with_id = stmt.column_count() > 1;
        let doc: Option<(String, Option<String>)> = stmt
            .query_row([rid], |r| {
                Ok((r.get(0)?, if with_id { r.get(1)? } else { None }))
            })
            .optional()
            .map_err(backend)?;
        let Some((doc, id)) = doc else { continue };
        let row = Shared::new(decode(&doc, id)?);
        kept.put_weighing(rid, at, row.clone(), 3 * doc.len());
        out.push(row);
    }
    Ok(out)
}

/// SQLite's LIMIT for a `limit` where 0 means none.
fn sql_limit(limit: u64) -> i64 {
    if limit == 0 {
        -1
    } else {
        sql_int(limit)
    }
}

/// Reads one document column.
fn one_doc<T: DeserializeOwned>(
    conn: &Connection,
    collection: &str,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    // Cached statements: these look-ups run on every message (sender, receiver, relation).
    let text: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut st| st.query_row(p, |r| r.get(0)).optional())
        .map_err(backend)?;
    text.map(|t| decode(collection, &t)).transpose()
}

/// Patches the row of `table` whose integer `key` column equals `id` (inside the caller's
/// transaction: a `Transaction`, or the writer's batch).
fn patch_by_id(
    tx: &Connection,
    table: &str,
    key: &str,
    id: i64,
    patch: &Patch,
) -> StoreResult<Option<String>> {
    patch_where(tx, table, &format!("{key} = ?1"), &[id], patch)
}

/// Patches the row of `table` matching `where_sql` over integer parameters `ids`.
fn patch_where(
    tx: &Connection,
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
impl MetaStore for SqliteStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let k = key.to_string();
        self.read(1, move |c| {
            c.prepare_cached("SELECT v FROM server_meta WHERE k = ?1")
                .and_then(|mut st| st.query_row(params![k], |r| r.get(0)).optional())
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
        // Kept only while the change clock holds: another process on the same file (the old
        // one during a restart) may have revoked the user's tokens a moment ago.
        let at = self
            .clock
            .row(cache::Watched::TokenVersions, i64::from(user_id));
        self.kept(
            |k| &k.token_versions,
            user_id,
            at,
            move |c| {
                let v: Option<i64> = c
                    .prepare_cached("SELECT v FROM token_versions WHERE user_id = ?1")
                    .and_then(|mut st| st.query_row(params![user_id], |r| r.get(0)).optional())
                    .map_err(backend)?;
                Ok(v.unwrap_or(0))
            },
        )
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

    async fn put_code(&self, key: &str, value: &str, now_ms: i64, life_ms: i64) -> StoreResult<()> {
        let (k, v) = (key.to_string(), value.to_string());
        let (now, expires_ms) = (now_ms, now_ms.saturating_add(life_ms));
        self.run(move |c| {
            c.execute("DELETE FROM short_codes WHERE expires < ?1", params![now])
                .map_err(backend)?;
            c.execute(
                "INSERT INTO short_codes (k, v, expires, attempts) VALUES (?1, ?2, ?3, 0) \
                 ON CONFLICT(k) DO UPDATE SET v = ?2, expires = ?3, attempts = 0",
                params![k, v, expires_ms],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn take_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<String>> {
        let k = key.to_string();
        self.run(move |c| {
            c.query_row(
                "DELETE FROM short_codes WHERE k = ?1 RETURNING v, expires",
                params![k],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map(|found| found.filter(|(_, exp)| *exp >= now_ms).map(|(v, _)| v))
            .map_err(backend)
        })
        .await
    }

    async fn try_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<(String, i64)>> {
        let k = key.to_string();
        self.run(move |c| {
            c.query_row(
                "UPDATE short_codes SET attempts = attempts + 1 WHERE k = ?1 AND expires >= ?2 \
                 RETURNING v, attempts",
                params![k, now_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }
}
