//! What happens to the message writer's WAL off the writer's thread: syncing it, and copying it
//! back into the database (checkpoints).
//!
//! **Syncing.** The writer's connection commits with `synchronous=NORMAL`: a commit writes its
//! frames to the WAL without waiting for the disk. [`WalSync`]'s thread then syncs the WAL file
//! and only after that answers the batch's callers, so nothing is acknowledged before it is on
//! disk, while the writer already executes the next batch; one sync covers every batch committed
//! while the previous one ran. After a power cut SQLite's recovery keeps the WAL up to its last
//! intact commit, which includes every synced (acknowledged) one.
//!
//! **Checkpoints.** With SQLite's automatic checkpoints, the connection whose commit crosses the
//! threshold copies the WAL's pages back into the database file and syncs it, inside that
//! commit: on the message path this is the group-commit writer, whose one thread bounds the
//! server's throughput. Here a checkpointer thread with its own connection does that copying
//! (PASSIVE checkpoints never block the writer), woken after every commit. Automatic checkpoints
//! are off on every connection.
//!
//! A PASSIVE checkpoint cannot restart the WAL while commits keep arriving (each round ends
//! behind the newest frames), so once the WAL is long and a round has caught up to within a few
//! frames, the writer is asked to finish the job right after its next commit: it then backfills
//! only those frames, and its following transaction starts the WAL over from the beginning.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::backend;
use crate::store::StoreResult;

/// Answers waiting for the WAL sync, handed over by the writer after each commit. `T` is the
/// writer's (job, outcome); `deliver` answers one once the sync is done, with its error if the
/// sync failed. Dropping it syncs and answers what is pending, then waits for the thread.
pub(super) struct WalSync<T: Send + 'static> {
    pending: Option<SyncSender<Vec<T>>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> WalSync<T> {
    /// Starts the sync thread for the WAL of the database at `db`.
    pub(super) fn start(
        db: &Path,
        deliver: impl Fn(T, StoreResult<()>) + Send + 'static,
    ) -> StoreResult<WalSync<T>> {
        let mut wal = PathBuf::from(db).into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        // One committed batch may wait while a sync runs; the writer's next commit then waits
        // for that sync, so jobs pile up into one larger batch instead of many small commits
        // (each rewriting the same index pages).
        let (pending, batches) = mpsc::sync_channel::<Vec<T>>(1);
        let thread = std::thread::Builder::new()
            .name("shiku-wal-sync".into())
            .spawn(move || {
                let mut file: Option<File> = None;
                while let Ok(first) = batches.recv() {
                    let mut ready = first;
                    // Every batch committed meanwhile rides on the same sync.
                    while let Ok(more) = batches.try_recv() {
                        ready.extend(more);
                    }
                    let synced = sync(&wal, &mut file);
                    for item in ready {
                        deliver(item, synced.clone().map_err(backend));
                    }
                }
            })
            .map_err(|e| backend(format!("cannot start the WAL sync thread: {e}")))?;
        Ok(WalSync {
            pending: Some(pending),
            thread: Some(thread),
        })
    }

    /// Queues answers of a committed batch: they go out after the next sync of the WAL. Blocks
    /// while a sync runs and an earlier batch already waits for the next one.
    pub(super) fn after_sync(&self, items: Vec<T>) {
        if let Some(pending) = &self.pending {
            // The thread only stops when this side is dropped.
            let _ = pending.send(items);
        }
    }
}

impl<T: Send + 'static> Drop for WalSync<T> {
    fn drop(&mut self) {
        drop(self.pending.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Syncs the WAL file's data to disk (the file stays open between syncs; a failure reopens it).
fn sync(wal: &Path, file: &mut Option<File>) -> Result<(), String> {
    let result = match file {
        Some(f) => f.sync_data(),
        None => File::open(wal).and_then(|f| {
            let r = f.sync_data();
            *file = Some(f);
            r
        }),
    };
    result.map_err(|e| {
        *file = None;
        tracing::error!(error = %e, wal = %wal.display(), "syncing the WAL failed");
        format!("syncing the WAL failed: {e}")
    })
}

/// When the writer is asked to finish a checkpoint.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// WAL length (frames, i.e. pages) past which the WAL should start over.
    pub restart_frames: i64,
    /// Frames still to copy after a round at or below which the writer finishes the checkpoint.
    pub catch_up_frames: i64,
}

/// About 120 MB of WAL with 4 KiB pages (SQLite's automatic checkpoint starts at 1,000 frames;
/// a longer WAL lets a page rewritten by many commits reach the database file once). At 20,000
/// messages/s that is a restart about every 1.5 s. The earlier 10,000 frames with 20 ms pauses
/// gave about 10% fewer messages/s (`benches/message_path.rs`, runs alternated back to back).
pub(super) const LIMITS: Limits = Limits {
    restart_frames: 30_000,
    catch_up_frames: 6_000,
};

/// Pause after a round: commits arriving meanwhile rewrite many of the same pages, which the
/// next round then copies once.
const ROUND_PAUSE: Duration = Duration::from_millis(60);

/// A round without any commit, for writes made on other connections.
const IDLE_ROUND: Duration = Duration::from_secs(1);

/// The checkpointer thread. Dropping it runs a last round and waits for the thread.
pub(super) struct Checkpointer {
    /// Dropped to stop the thread (every [`CommitSignal`] clone must be gone too).
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Rounds done so far (what tests wait on).
    #[cfg_attr(not(test), allow(dead_code))]
    rounds: Arc<AtomicU64>,
}

/// What a writing connection holds: [`CommitSignal::committed`] after each commit.
#[derive(Clone)]
pub(super) struct CommitSignal {
    wake: SyncSender<()>,
    catch_up: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Opens the checkpointer's connection on `path` and starts its thread.
    pub(super) fn start(path: &Path, limits: Limits) -> StoreResult<(Checkpointer, CommitSignal)> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
            .map_err(backend)?;
        // One pending wake-up is enough: a round copies everything committed before it.
        let (wake, woken) = mpsc::sync_channel(1);
        let catch_up = Arc::new(AtomicBool::new(false));
        let flag = catch_up.clone();
        let rounds = Arc::new(AtomicU64::new(0));
        let done = rounds.clone();
        let thread = std::thread::Builder::new()
            .name("shiku-checkpoint".into())
            .spawn(move || {
                // A wake-up or a quiet second: a round either way, until the writer is gone.
                while !matches!(
                    woken.recv_timeout(IDLE_ROUND),
                    Err(RecvTimeoutError::Disconnected)
                ) {
                    round(&conn, &flag, limits);
                    done.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(ROUND_PAUSE);
                }
                round(&conn, &flag, limits);
            })
            .map_err(|e| backend(format!("cannot start the WAL checkpointer: {e}")))?;
        let signal = CommitSignal {
            wake: wake.clone(),
            catch_up,
        };
        Ok((
            Checkpointer {
                wake: Some(wake),
                thread: Some(thread),
                rounds,
            },
            signal,
        ))
    }
}

impl Checkpointer {
    /// Rounds the thread has done.
    #[cfg(test)]
    fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One PASSIVE checkpoint; asks the writer to finish it when the WAL should start over.
fn round(conn: &Connection, catch_up: &AtomicBool, limits: Limits) {
    match checkpoint(conn) {
        Ok((log, copied)) => {
            if log >= limits.restart_frames && log - copied <= limits.catch_up_frames {
                catch_up.store(true, Ordering::Relaxed);
            }
        }
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
    }
}

/// A PASSIVE checkpoint: (frames in the WAL, frames copied into the database so far).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
}

impl CommitSignal {
    /// After a commit on `conn`: finishes a nearly done checkpoint when asked (so the next
    /// transaction restarts the WAL), and wakes the checkpointer.
    pub(super) fn committed(&self, conn: &Connection) {
        if self.catch_up.swap(false, Ordering::Relaxed) {
            if let Err(e) = checkpoint(conn) {
                tracing::warn!(error = %e, "WAL checkpoint on the writer failed");
            }
        }
        let _ = self.wake.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database with table `t`, automatic checkpoints off, and one commit writing rows
    /// at scattered keys (several pages each).
    fn writer(path: &Path) -> Connection {
        let writer = Connection::open(path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);",
            )
            .unwrap();
        writer
    }

    fn commit(writer: &Connection, i: i64) {
        let tx = writer.unchecked_transaction().unwrap();
        for j in 0..8i64 {
            tx.execute(
                "INSERT OR REPLACE INTO t (k, v) VALUES (?1, zeroblob(200))",
                [(i * 7_919 + j * 104_729) % 20_000],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    /// Frames the WAL file has room for (it only grows when frames go past its end).
    fn wal_file_frames(path: &Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(PathBuf::from(wal)).unwrap().len() / (4096 + 24)
    }

    /// The decision of a round, with no thread involved: a long WAL copied up to the end asks
    /// the writer to finish; the writer's check then lets its next transaction start the WAL
    /// over; a short WAL asks nothing.
    #[test]
    fn a_round_on_a_long_wal_asks_the_writer_to_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let w = writer(&path);
        let ck = Connection::open(&path).unwrap();
        for i in 0..100 {
            commit(&w, i);
        }
        let flag = AtomicBool::new(false);
        let long = Limits {
            restart_frames: 100_000,
            catch_up_frames: 100_000,
        };
        round(&ck, &flag, long);
        assert!(
            !flag.load(Ordering::Relaxed),
            "a short WAL asked for a restart"
        );
        let limits = Limits {
            restart_frames: 300,
            catch_up_frames: 300,
        };
        round(&ck, &flag, limits);
        assert!(
            flag.load(Ordering::Relaxed),
            "a long WAL did not ask for a restart"
        );
        let (before, copied) = checkpoint(&ck).unwrap();
        assert!(
            before >= 300 && copied == before,
            "{before} frames, {copied} copied"
        );
        // The writer finishes (nothing left) and clears the request; its next commit writes
        // from the start of the WAL.
        let (wake, _woken) = mpsc::sync_channel(1);
        let signal = CommitSignal {
            wake,
            catch_up: Arc::new(AtomicBool::new(true)),
        };
        signal.committed(&w);
        assert!(!signal.catch_up.load(Ordering::Relaxed));
        commit(&w, 1_000);
        let (after, _) = checkpoint(&ck).unwrap();
        assert!(
            after < before / 4,
            "the WAL did not start over: {after} frames after {before}"
        );
    }

    /// The thread under a stream of commits: every time it has had a round, the WAL starts
    /// over, so the file stays a fraction of what was written, and the last round (at drop)
    /// leaves nothing uncopied.
    #[test]
    fn the_wal_stays_short_while_commits_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let w = writer(&path);
        let limits = Limits {
            restart_frames: 300,
            catch_up_frames: 300,
        };
        let (checkpointer, signal) = Checkpointer::start(&path, limits).unwrap();
        // Some 40,000 frames in all, many times what the WAL may hold.
        let commits = 5_000i64;
        for i in 0..commits {
            commit(&w, i);
            signal.committed(&w);
            if i % 200 == 199 {
                // However busy the machine, wait for two rounds after this commit: the first
                // copies everything, the second may already find the WAL started over.
                let start = checkpointer.rounds();
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while checkpointer.rounds() < start + 2 && std::time::Instant::now() < deadline {
                    let _ = signal.wake.try_send(());
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        drop(signal);
        drop(checkpointer);
        let frames = wal_file_frames(&path);
        assert!(
            frames < 10 * limits.restart_frames as u64,
            "the WAL grew to {frames} frames for {commits} commits"
        );
        let n: i64 = w
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert!(n > 15_000, "{n} rows");
        let ck = Connection::open(&path).unwrap();
        let (log, copied) = checkpoint(&ck).unwrap();
        assert_eq!(log, copied, "the last round copied everything");
    }
}
