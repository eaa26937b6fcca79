//! Documents kept decoded between reads, for the look-ups every authenticated request makes
//! (its token's version, the caller's profile, login log and roles), for rooms' member
//! lists (read whole by every member who opens one) and for history rows (every page shows
//! rows that earlier pages showed, and both copies' readers read them again and again).
//!
//! A kept document is used only while nothing may have changed it, in this process or in any
//! other on the same database file (two nodes of one deployment, or the old and the new
//! process during a restart). That is what the **change clock** says: a small file beside the
//! database, mapped into every process's memory, of counters. Every writing connection notes,
//! through SQLite's update hook, which rows of the watched tables its statements change, and
//! once they are committed adds one to each row's counter and to its table's; a read takes the
//! counters first, then the rows, and keeps what it read under those counters. A later read
//! whose counters moved reads again. Rows share counters by hash (a collision only costs a
//! read), and a kept document is trusted for at most [`MAX_AGE`] whatever the clock says: the
//! bound for a write made by another program, or lost by a process that crashed between its
//! commit and its count.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{backend, StoreResult};

/// Counters in the clock file (8 bytes each: a 512 KiB file).
const SLOTS: usize = 1 << 16;
/// How long a kept document is trusted at most.
pub(super) const MAX_AGE: Duration = Duration::from_secs(1);
/// Documents kept per cache (cleared when full: simple and bounded).
const CAPACITY: usize = 100_000;
/// Members kept in all the member lists together (about 60 MB).
pub(super) const MEMBERS_KEPT: usize = 100_000;
/// Bytes of history rows kept, single and group chat each (documents counted thrice: the row
/// decoded and its writing for clients hold the text about three times over).
pub(super) const ROW_BYTES_KEPT: usize = 64 << 20;
/// Row changes a connection notes before it counts its tables as wholly changed instead.
const MAX_NOTED: usize = 1024;

/// The tables whose rows are kept decoded, by the name SQLite's update hook gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Watched {
    User,
    LoginLog,
    TokenVersions,
    Roles,
    /// `shiku_room_member`, counted as a whole table: a member list is kept by room, and the
    /// update hook names only the changed row.
    Members,
    /// `shiku_msgs` rows, by rowid. Counted by row only (the table's counter moves only when
    /// a connection changed too many rows to name): a new message must not unkeep every row.
    Msgs,
    /// `shiku_muc_msgs` rows, by rowid, counted as [`Watched::Msgs`].
    MucMsgs,
    /// `shiku_last_chats` rows, by rowid, counted as [`Watched::Msgs`]: a message moves its
    /// conversation's row, not everyone's list.
    LastChats,
    /// New `shiku_last_chats` rows, counted as a table: a conversation list kept whole (its
    /// rows by rowid) is read again when a conversation may have started.
    LastChatsAdded,
    /// `room_group_msg` (the room messages users hid), counted as a table.
    Hidden,
    /// `shiku_room`, counted as a table (rooms are kept by jid).
    Rooms,
    /// New messages of a conversation, by owner and peer (`history_key`), noted by the store
    /// that wrote them (the update hook names rows, not conversations).
    MsgsAdded,
    /// New messages of a room, by the room's `text_key`, noted likewise.
    MucMsgsAdded,
    /// History rows (single or group chat) deleted, counted as a table.
    HistoryRemoved,
}

impl Watched {
    fn of(table: &str) -> Option<Watched> {
        Some(match table {
            "user" => Watched::User,
            "user_login_log" => Watched::LoginLog,
            "token_versions" => Watched::TokenVersions,
            "user_roles" => Watched::Roles,
            "shiku_room_member" => Watched::Members,
            "shiku_msgs" => Watched::Msgs,
            "shiku_muc_msgs" => Watched::MucMsgs,
            "shiku_last_chats" => Watched::LastChats,
            "room_group_msg" => Watched::Hidden,
            "shiku_room" => Watched::Rooms,
            _ => return None,
        })
    }

    /// Whether a change of one row also moves the table's counter (read by
    /// [`Clock::table`]); tables read only row by row leave it for changes too many to name.
    fn moves_table(self) -> bool {
        !matches!(
            self,
            Watched::Msgs
                | Watched::MucMsgs
                | Watched::LastChats
                | Watched::LastChatsAdded
                | Watched::MsgsAdded
                | Watched::MucMsgsAdded
                | Watched::HistoryRemoved
        )
    }
}

/// Which counter a row (or a whole table, `row` None) has.
fn slot(table: Watched, row: Option<i64>) -> usize {
    // One array, not a chain of two iterators: a history page takes forty of these.
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(table as u64).to_le_bytes());
    bytes[8..].copy_from_slice(&row.map_or([0xff; 8], i64::to_le_bytes));
    (fnv1a(bytes) % SLOTS as u64) as usize
}

/// The key a document named by text (a room id) is kept under; keep the text beside the
/// document to tell the rare collision apart.
pub(super) fn text_key(text: &str) -> i64 {
    fnv1a(text.bytes()) as i64
}

/// FNV-1a: small, fast and spread enough for counters and keys.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The change clock of one database file, shared by every process that opens it.
pub(super) struct Clock {
    map: memmap2::MmapMut,
}

impl Clock {
    /// Maps the clock file beside the database at `db` (created zeroed when absent).
    pub(super) fn open(db: &Path) -> StoreResult<Clock> {
        let mut name = db.as_os_str().to_owned();
        name.push("-changes");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&name)
            .map_err(|e| backend(format!("change clock {}: {e}", Path::new(&name).display())))?;
        let len = (SLOTS * 8) as u64;
        if file.metadata().map_err(backend)?.len() < len {
            file.set_len(len).map_err(backend)?;
        }
        // SAFETY: the file is only ever accessed through these atomics (by every process that
        // maps it), and it is at least `len` bytes long.
        let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map_mut(&file) }
            .map_err(backend)?;
        Ok(Clock { map })
    }

    fn counter(&self, i: usize) -> &AtomicU64 {
        assert!(i < SLOTS);
        // SAFETY: the map is page-aligned and SLOTS * 8 bytes long; AtomicU64 has the size and
        // alignment of u64, and every access to the shared bytes is atomic.
        unsafe { &*(self.map.as_ptr() as *const AtomicU64).add(i) }
    }

    /// The reading of a row's counters (its own plus its table's).
    pub(super) fn row(&self, table: Watched, row: i64) -> u64 {
        self.counter(slot(table, Some(row)))
            .load(Ordering::Acquire)
            .wrapping_add(self.counter(slot(table, None)).load(Ordering::Acquire))
    }

    /// The reading of a table's counter (moves with any of its rows).
    pub(super) fn table(&self, table: Watched) -> u64 {
        self.counter(slot(table, None)).load(Ordering::Acquire)
    }

    fn advance(&self, i: usize) {
        self.counter(i).fetch_add(1, Ordering::AcqRel);
    }
}

/// The row changes one writing connection made since it last published them.
#[derive(Default)]
struct Noted {
    rows: Vec<(Watched, i64)>,
    /// Tables with more changes than [`MAX_NOTED`]: counted whole.
    tables: Vec<Watched>,
}

/// What a writing connection changed, published to the clock after its commits.
pub(super) struct Changes {
    clock: Arc<Clock>,
    noted: Mutex<Noted>,
}

impl Changes {
    /// Changes noted by hand ([`Changes::note_key`]) for the clock, of no connection.
    pub(super) fn new(clock: Arc<Clock>) -> Arc<Changes> {
        Arc::new(Changes {
            clock,
            noted: Mutex::default(),
        })
    }

    /// Starts noting the watched rows `conn`'s statements change.
    pub(super) fn watch(clock: Arc<Clock>, conn: &rusqlite::Connection) -> Arc<Changes> {
        let changes = Changes::new(clock);
        let noting = changes.clone();
        conn.update_hook(Some(
            move |action: rusqlite::hooks::Action, _: &str, table: &str, row: i64| {
                use rusqlite::hooks::Action;
                if let Some(t) = Watched::of(table) {
                    noting.note(t, row);
                    match (t, action) {
                        (Watched::LastChats, Action::SQLITE_INSERT) => {
                            noting.note_table(Watched::LastChatsAdded)
                        }
                        (Watched::Msgs | Watched::MucMsgs, Action::SQLITE_DELETE) => {
                            noting.note_table(Watched::HistoryRemoved)
                        }
                        _ => {}
                    }
                }
            },
        ));
        changes
    }

    fn note(&self, table: Watched, row: i64) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        if noted.tables.contains(&table) {
            return;
        }
        if noted.rows.len() >= MAX_NOTED {
            noted.rows.retain(|(t, _)| *t != table);
            noted.tables.push(table);
        } else {
            noted.rows.push((table, row));
        }
    }

    /// Notes a change the update hook cannot name (`key` of `table`, e.g. a conversation);
    /// published, like every note, only once what it names is committed.
    pub(super) fn note_key(&self, table: Watched, key: i64) {
        self.note(table, key);
    }

    /// Notes a change of `table` as a whole.
    fn note_table(&self, table: Watched) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        if !noted.tables.contains(&table) {
            noted.tables.push(table);
        }
    }

    /// Counts what was noted: called once the statements that changed it are committed (or
    /// rolled back: counting a change that did not happen only costs a read).
    pub(super) fn publish(&self) {
        let noted = std::mem::take(&mut *self.noted.lock().unwrap_or_else(|e| e.into_inner()));
        for (table, row) in noted.rows {
            self.clock.advance(slot(table, Some(row)));
            if table.moves_table() {
                self.clock.advance(slot(table, None));
            }
        }
        for table in noted.tables {
            self.clock.advance(slot(table, None));
        }
    }
}

/// Decoded documents by key, each with the clock reading it was read under.
pub(super) struct Kept<T> {
    held: Mutex<Held<T>>,
    /// The most all entries may weigh together (documents, or members for member lists).
    capacity: usize,
}

/// The entries of a [`Kept`] and what they weigh together.
struct Held<T> {
    entries: HashMap<i64, Entry<T>>,
    weight: usize,
}

/// One kept document: the clock reading and the time it was read under, and its weight.
struct Entry<T> {
    at: u64,
    when: Instant,
    doc: T,
    weight: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept::with_capacity(CAPACITY)
    }
}

impl<T> Kept<T> {
    /// An empty cache holding at most `capacity` of weight (see [`Kept::put_weighing`]).
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Kept {
            held: Mutex::new(Held {
                entries: HashMap::new(),
                weight: 0,
            }),
            capacity,
        }
    }
}

impl<T: Clone> Kept<T> {
    /// The document kept for `key` if it was read under the reading `now`, recently.
    pub(super) fn get(&self, key: i64, now: u64) -> Option<T> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let e = held.entries.get(&key)?;
        (e.at == now && e.when.elapsed() < MAX_AGE).then(|| e.doc.clone())
    }

    /// [`Kept::get`] of each (key, reading), under one lock (a page's rows).
    pub(super) fn get_many(&self, wanted: &[(i64, u64)]) -> Vec<Option<T>> {
        let now = Instant::now();
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        wanted
            .iter()
            .map(|(key, at)| {
                let e = held.entries.get(key)?;
                (e.at == *at && now.duration_since(e.when) < MAX_AGE).then(|| e.doc.clone())
            })
            .collect()
    }

    /// Keeps `doc`, read after the clock read `at`.
    pub(super) fn put(&self, key: i64, at: u64, doc: T) {
        self.put_weighing(key, at, doc, 1);
    }

    /// Keeps `doc` of `weight` (a list's length), read after the clock read `at`; the cache is
    /// cleared when it would pass its capacity (simple and bounded), and a document heavier
    /// than the whole capacity is not kept.
    pub(super) fn put_weighing(&self, key: i64, at: u64, doc: T, weight: usize) {
        let weight = weight.max(1);
        if weight > self.capacity {
            return;
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = held.entries.remove(&key) {
            held.weight -= old.weight;
        }
        if held.weight + weight > self.capacity {
            held.entries.clear();
            held.weight = 0;
        }
        let entry = Entry {
            at,
            when: Instant::now(),
            doc,
            weight,
        };
        held.entries.insert(key, entry);
        held.weight += weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_published_in_one_mapping_moves_the_reading_of_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shiku.db");
        let a = Arc::new(Clock::open(&db).unwrap());
        let b = Clock::open(&db).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE user (id INTEGER PRIMARY KEY, doc TEXT)")
            .unwrap();
        let changes = Changes::watch(a.clone(), &conn);
        let (row7, row8, table) = (
            b.row(Watched::User, 7),
            b.row(Watched::User, 8),
            b.table(Watched::User),
        );
        conn.execute("INSERT INTO user (id, doc) VALUES (7, '{}')", [])
            .unwrap();
        assert_eq!(b.row(Watched::User, 7), row7, "not before it is published");
        changes.publish();
        assert_ne!(b.row(Watched::User, 7), row7);
        assert_ne!(b.table(Watched::User), table);
        assert_eq!(
            b.row(Watched::User, 8) - row8,
            1,
            "another row: its table's count"
        );
        assert_eq!(b.row(Watched::LoginLog, 7), 0);
    }

    #[test]
    fn slots_stay_where_earlier_versions_put_them() {
        // Two versions share one clock file while one replaces the other: the same rows must
        // count on the same counters.
        let chained = |table: Watched, row: Option<i64>| {
            let bytes = (table as u64)
                .to_le_bytes()
                .into_iter()
                .chain(row.map_or([0xff; 8], i64::to_le_bytes));
            (fnv1a(bytes) % SLOTS as u64) as usize
        };
        for table in [Watched::User, Watched::Members, Watched::Msgs] {
            for row in [None, Some(0), Some(7), Some(-1), Some(i64::MAX)] {
                assert_eq!(slot(table, row), chained(table, row));
            }
        }
    }

    #[test]
    fn a_message_row_change_moves_only_that_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shiku.db");
        let clock = Arc::new(Clock::open(&db).unwrap());
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE shiku_msgs (rid INTEGER PRIMARY KEY, doc TEXT); \
             INSERT INTO shiku_msgs (rid, doc) VALUES (1, '{}'), (2, '{}')",
        )
        .unwrap();
        let changes = Changes::watch(clock.clone(), &conn);
        let (one, two) = (clock.row(Watched::Msgs, 1), clock.row(Watched::Msgs, 2));
        conn.execute("INSERT INTO shiku_msgs (rid, doc) VALUES (3, '{}')", [])
            .unwrap();
        conn.execute("UPDATE shiku_msgs SET doc = '[]' WHERE rid = 1", [])
            .unwrap();
        changes.publish();
        assert_ne!(clock.row(Watched::Msgs, 1), one, "the changed row");
        assert_eq!(clock.row(Watched::Msgs, 2), two, "a new row moves no other");
        let removed = clock.table(Watched::HistoryRemoved);
        assert_eq!(clock.table(Watched::HistoryRemoved), removed);
        conn.execute("DELETE FROM shiku_msgs WHERE rid = 3", [])
            .unwrap();
        let three = clock.row(Watched::Msgs, 3);
        changes.publish();
        assert_ne!(clock.row(Watched::Msgs, 3), three, "a deleted row moves");
        assert_ne!(
            clock.table(Watched::HistoryRemoved),
            removed,
            "and the history's deletions"
        );
    }

    #[test]
    fn many_changes_count_the_table_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shiku.db");
        let clock = Arc::new(Clock::open(&db).unwrap());
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE user_roles (rid INTEGER PRIMARY KEY, doc TEXT)")
            .unwrap();
        let changes = Changes::watch(clock.clone(), &conn);
        let before = clock.row(Watched::Roles, 5000);
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             INSERT INTO user_roles (rid, doc) SELECT i, '{}' FROM n",
        )
        .unwrap();
        assert_eq!(changes.noted.lock().unwrap().rows.len(), 0);
        changes.publish();
        assert_eq!(clock.row(Watched::Roles, 5000), before + 1);
    }

    #[test]
    fn kept_documents_follow_the_reading_and_age() {
        let kept = Kept::default();
        kept.put(1, 10, "a");
        assert_eq!(kept.get(1, 10), Some("a"));
        assert_eq!(kept.get(1, 11), None);
        assert_eq!(kept.get(2, 10), None);
        std::thread::sleep(MAX_AGE + Duration::from_millis(50));
        assert_eq!(kept.get(1, 10), None, "trusted for MAX_AGE at most");
    }

    #[test]
    fn many_are_found_as_each_would_be() {
        let kept = Kept::default();
        kept.put(1, 10, "a");
        kept.put(2, 10, "b");
        assert_eq!(
            kept.get_many(&[(1, 10), (2, 11), (3, 10), (2, 10)]),
            [Some("a"), None, None, Some("b")]
        );
    }

    #[test]
    fn kept_lists_stay_within_their_weight() {
        let kept = Kept::with_capacity(10);
        kept.put_weighing(1, 0, "six", 6);
        kept.put_weighing(1, 0, "six again", 6);
        assert_eq!(
            kept.get(1, 0),
            Some("six again"),
            "a replaced entry weighs once"
        );
        kept.put_weighing(2, 0, "four", 4);
        assert_eq!(kept.get(1, 0), Some("six again"));
        kept.put_weighing(3, 0, "one", 1);
        assert_eq!(
            kept.get(1, 0),
            None,
            "cleared rather than passing the capacity"
        );
        assert_eq!(kept.get(3, 0), Some("one"));
        kept.put_weighing(4, 0, "eleven", 11);
        assert_eq!(
            kept.get(4, 0),
            None,
            "heavier than the whole capacity: not kept"
        );
        assert_eq!(kept.get(3, 0), Some("one"));
    }
}
