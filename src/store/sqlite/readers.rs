//! Read-only connections for the queries that only read. The shared connection serialises
//! everything behind one lock and a hop to the blocking pool; in WAL mode any number of readers
//! run beside the writers on their own connections, each reading the last commit. A connection
//! is taken from the idle list for one query and put back (at most [`MAX_IDLE`] are kept), so
//! there are never more open than reads running at once: short reads on the calling thread (at
//! most one per worker thread), long ones on the blocking pool, at most [`MAX_LONG_READS`] at a
//! time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::{backend, StoreResult};

/// Rows up to which a read runs on the calling thread rather than the blocking pool (a page
/// of the sizes clients ask for; a look-up is 1).
pub(super) const INLINE_ROWS: u64 = 200;
/// Prepared statements each connection keeps (the hot paths use a few dozen distinct ones;
/// rusqlite's default of 16 re-prepared them on every request).
pub(super) const STATEMENT_CACHE: usize = 256;
/// Idle reader connections kept open.
const MAX_IDLE: usize = 16;
/// Long reads running on the blocking pool at once; more wait their turn (each holds a
/// connection and a blocking thread).
pub(super) const MAX_LONG_READS: usize = 16;

/// The pool of reader connections of one database file.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Turns for the long reads (see [`MAX_LONG_READS`]).
    pub(super) long_reads: Arc<Semaphore>,
}

impl Readers {
    /// Readers of the database at `path` (opened on first use).
    pub(super) fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            long_reads: Arc::new(Semaphore::new(MAX_LONG_READS)),
        }
    }

    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        // A reader waits (rarely: only while another connection rebuilds the WAL index) rather
        // than failing with SQLITE_BUSY.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Without the planner's stability guarantee SQLite re-prepares a cached statement
        // whenever a value bound to its LIMIT (or any parameter the planner looked at) changes:
        // every page read paid a full re-parse. No query here gains from plans tuned to values
        // (no statistics are gathered, LIKE patterns start with `%`, partial indexes are chosen
        // by literals).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(backend)?;
        Ok(conn)
    }

    /// Runs `f` on an idle reader connection (opening one when none is idle).
    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.take();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        // A connection left inside a transaction (it never is: every read is one statement or
        // commits its own) would pin an old snapshot; such a one is dropped.
        if conn.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
        out
    }

    fn take(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }
}
