//! A VFS shim for the message writer's connection: SQLite writes each WAL frame as two
//! `pwrite`s (a 24-byte header, then the page), a dozen system calls per message on the hot
//! path. This shim gathers a transaction's appended frames in memory and hands them to the
//! kernel in one write when the commit frame is complete. Everything else is SQLite's default
//! (`unix`) VFS, unchanged.
//!
//! A commit must be in the file before any reader can see it: SQLite publishes a commit by
//! writing the wal-index header around an `xShmBarrier` on the database file, so the shim also
//! empties the buffer there (a safety net: the commit frame has normally flushed it already).
//! Reads, syncs, truncation, size queries and closing the WAL empty it first too. Writes that
//! do not extend the buffer (SQLite rewriting a frame or a checksum) flush it and go through.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name to open a connection with (`Connection::open_with_flags_and_vfs`).
pub(super) const NAME: &str = "shiku-wal-batch";
const NAME_C: &CStr = c"shiku-wal-batch";

/// Size of a WAL frame header; a write of exactly this size to the WAL is a frame header.
const FRAME_HEADER: usize = 24;
/// Largest write handed to the default VFS at once (it takes up to 128 KiB).
const MAX_WRITE: usize = 64 << 10;
/// Bytes gathered before they are written anyway (a large transaction spilling its cache).
const MAX_BUFFER: usize = 4 << 20;

/// Registers the shim once per process; later calls return the first outcome.
pub(super) fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| unsafe {
            let base = ffi::sqlite3_vfs_find(ptr::null());
            if base.is_null() {
                return Err("no default SQLite VFS".into());
            }
            let mut vfs: ffi::sqlite3_vfs = ptr::read(base);
            vfs.szOsFile = (std::mem::size_of::<ShimFile>() + (*base).szOsFile as usize) as c_int;
            vfs.zName = NAME_C.as_ptr();
            vfs.pNext = ptr::null_mut();
            vfs.pAppData = base.cast();
            vfs.xOpen = Some(shim_open);
            // The other methods are the default VFS's own: none of them depends on which VFS
            // object it is called through (they ignore it).
            let vfs = Box::leak(Box::new(vfs));
            match ffi::sqlite3_vfs_register(vfs, 0) {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(format!("cannot register the SQLite VFS shim: code {rc}")),
            }
        })
        .clone()
}

/// Appended WAL bytes not yet handed to the kernel.
struct Pending {
    /// File offset of `bytes[0]`.
    start: i64,
    bytes: Vec<u8>,
    /// Where the page of a buffered commit-frame header goes: writing it completes the commit.
    commit_page_at: Option<i64>,
}

impl Pending {
    fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }
}

/// Our file object: SQLite allocates `szOsFile` bytes; the default VFS's file follows it.
#[repr(C)]
struct ShimFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// Set on a WAL file.
    wal: *mut Pending,
    /// On a database file: its WAL while open (to flush at the barrier).
    linked_wal: *mut ShimFile,
    /// On a WAL file: the database file it belongs to, when opened through the shim.
    main: *mut ShimFile,
}

unsafe fn real_methods(f: *mut ShimFile) -> &'static ffi::sqlite3_io_methods {
    &*(*(*f).real).pMethods
}

unsafe extern "C" fn shim_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = (*vfs).pAppData as *mut ffi::sqlite3_vfs;
    let f = file as *mut ShimFile;
    let real = (file as *mut u8).add(std::mem::size_of::<ShimFile>()) as *mut ffi::sqlite3_file;
    ptr::write(
        f,
        ShimFile {
            base: ffi::sqlite3_file {
                pMethods: ptr::null(),
            },
            real,
            wal: ptr::null_mut(),
            linked_wal: ptr::null_mut(),
            main: ptr::null_mut(),
        },
    );
    let Some(open) = (*base).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    let rc = open(base, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
        // SQLite calls no method of a file whose pMethods is null: close what was opened.
        if let Some(close) = (*real).pMethods.as_ref().and_then(|m| m.xClose) {
            close(real);
        }
        return if rc == ffi::SQLITE_OK {
            ffi::SQLITE_CANTOPEN
        } else {
            rc
        };
    }
    if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
        (*f).wal = Box::into_raw(Box::new(Pending {
            start: 0,
            bytes: Vec::with_capacity(256 << 10),
            commit_page_at: None,
        }));
        let main = ffi::sqlite3_database_file_object(name) as *mut ShimFile;
        if !main.is_null() && ptr::eq((*main).base.pMethods, &METHODS) {
            (*main).linked_wal = f;
            (*f).main = main;
        }
    }
    (*f).base.pMethods = &METHODS;
    ffi::SQLITE_OK
}

/// Hands the buffered bytes of a WAL file to the kernel.
unsafe fn flush(f: *mut ShimFile) -> c_int {
    let Some(p) = (*f).wal.as_mut() else {
        return ffi::SQLITE_OK;
    };
    p.commit_page_at = None;
    if p.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let write = real_methods(f).xWrite.expect("xWrite");
    let mut rc = ffi::SQLITE_OK;
    let mut offset = p.start;
    // The default VFS writes at most 128 KiB per call (it masks larger amounts).
    for chunk in p.bytes.chunks(MAX_WRITE) {
        rc = write(
            (*f).real,
            chunk.as_ptr().cast(),
            chunk.len() as c_int,
            offset,
        );
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    p.bytes.clear();
    rc
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file as *mut ShimFile;
    let flushed = flush(f);
    if !(*f).wal.is_null() {
        drop(Box::from_raw((*f).wal));
        (*f).wal = ptr::null_mut();
        if let Some(main) = (*f).main.as_mut() {
            if ptr::eq(main.linked_wal, f) {
                main.linked_wal = ptr::null_mut();
            }
        }
    }
    if let Some(wal) = (*f).linked_wal.as_mut() {
        wal.main = ptr::null_mut();
    }
    let closed = real_methods(f)
        .xClose
        .map_or(ffi::SQLITE_OK, |c| c((*f).real));
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    real_methods(f).xRead.expect("xRead")((*f).real, buf, amount, offset)
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let f = file as *mut ShimFile;
    let Some(p) = (*f).wal.as_mut() else {
        return real_methods(f).xWrite.expect("xWrite")((*f).real, buf, amount, offset);
    };
    let data = std::slice::from_raw_parts(buf as *const u8, amount.max(0) as usize);
    if !p.bytes.is_empty() && offset != p.end() {
        // Not an append to what is gathered: what is gathered goes first, then this.
        let rc = flush(f);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        return real_methods(f).xWrite.expect("xWrite")((*f).real, buf, amount, offset);
    }
    if p.bytes.is_empty() {
        p.start = offset;
    }
    p.bytes.extend_from_slice(data);
    if data.len() == FRAME_HEADER && u32::from_be_bytes([data[4], data[5], data[6], data[7]]) != 0 {
        // A commit frame's header ("database size after commit" set): the transaction is
        // whole once the frame's page follows it.
        p.commit_page_at = Some(p.end());
        return ffi::SQLITE_OK;
    }
    if p.commit_page_at == Some(offset) {
        return flush(f);
    }
    if p.bytes.len() >= MAX_BUFFER {
        return flush(f);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    real_methods(f).xTruncate.expect("xTruncate")((*f).real, size)
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    real_methods(f).xSync.expect("xSync")((*f).real, flags)
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    real_methods(f).xFileSize.expect("xFileSize")((*f).real, size)
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let f = file as *mut ShimFile;
    real_methods(f).xLock.expect("xLock")((*f).real, level)
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let f = file as *mut ShimFile;
    real_methods(f).xUnlock.expect("xUnlock")((*f).real, level)
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let f = file as *mut ShimFile;
    real_methods(f)
        .xCheckReservedLock
        .expect("xCheckReservedLock")((*f).real, out)
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    real_methods(f).xFileControl.expect("xFileControl")((*f).real, op, arg)
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file as *mut ShimFile;
    real_methods(f).xSectorSize.map_or(4096, |s| s((*f).real))
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file as *mut ShimFile;
    real_methods(f)
        .xDeviceCharacteristics
        .map_or(0, |d| d((*f).real))
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let f = file as *mut ShimFile;
    match real_methods(f).xShmMap {
        Some(m) => m((*f).real, region, size, extend, out),
        None => ffi::SQLITE_IOERR,
    }
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let f = file as *mut ShimFile;
    match real_methods(f).xShmLock {
        Some(l) => l((*f).real, offset, n, flags),
        None => ffi::SQLITE_IOERR,
    }
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let f = file as *mut ShimFile;
    if let Some(wal) = (*f).linked_wal.as_mut() {
        // The wal-index header is about to publish a commit: its frames must be in the file.
        if flush(wal) != ffi::SQLITE_OK && flush(wal) != ffi::SQLITE_OK {
            // Readers would see a commit whose frames are not in the file; stopping the
            // process leaves the WAL as recovery expects (no answer was given for it yet).
            tracing::error!("cannot write the WAL before publishing a commit; stopping");
            std::process::abort();
        }
    }
    if let Some(b) = real_methods(f).xShmBarrier {
        b((*f).real)
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let f = file as *mut ShimFile;
    match real_methods(f).xShmUnmap {
        Some(u) => u((*f).real, delete),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let f = file as *mut ShimFile;
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match real_methods(f).xFetch {
        Some(x) => x((*f).real, offset, amount, out),
        None => {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_unfetch(file: *mut ffi::sqlite3_file, offset: i64, p: *mut c_void) -> c_int {
    let f = file as *mut ShimFile;
    match real_methods(f).xUnfetch {
        Some(x) => x((*f).real, offset, p),
        None => ffi::SQLITE_OK,
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::{params, Connection, OpenFlags};

    use super::*;

    fn shim(path: &Path) -> Connection {
        register().unwrap();
        let c = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);",
        )
        .unwrap();
        c
    }

    /// Inserts `n` rows of `size` bytes from `first` in one transaction.
    fn insert(c: &mut Connection, first: i64, n: i64, size: usize) {
        let tx = c.transaction().unwrap();
        for id in first..first + n {
            tx.execute(
                "INSERT INTO t (id, v) VALUES (?1, ?2)",
                params![id, vec![(id % 251) as u8; size]],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    fn rows(c: &Connection) -> (i64, i64) {
        c.query_row(
            "SELECT count(*), coalesce(sum(length(v)), 0) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    /// What a crash leaves: the database and WAL files as they are now, opened elsewhere
    /// (recovery reads the WAL from disk, frame checksums and all).
    fn crash_copy(db: &Path, to: &Path) -> Connection {
        std::fs::copy(db, to.join("copy.db")).unwrap();
        let wal = format!("{}-wal", db.display());
        std::fs::copy(wal, to.join("copy.db-wal")).unwrap();
        let c = Connection::open(to.join("copy.db")).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        c
    }

    #[test]
    fn every_commit_is_in_the_file_when_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let mut w = shim(&db);
        let reader = Connection::open(&db).unwrap();
        let mut expected = (0, 0);
        // Small commits, one past the default VFS's largest write (128 KiB) and one past the
        // gathering limit, each read back at once by another connection.
        for (i, (n, size)) in [(1, 10), (3, 3000), (40, 4000), (1200, 4000), (2, 100)]
            .into_iter()
            .enumerate()
        {
            insert(&mut w, i as i64 * 10_000, n, size);
            expected = (expected.0 + n, expected.1 + n * size as i64);
            assert_eq!(rows(&reader), expected);
        }
        let copy_dir = tempfile::tempdir().unwrap();
        assert_eq!(rows(&crash_copy(&db, copy_dir.path())), expected);
    }

    #[test]
    fn a_rolled_back_spill_leaves_only_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let mut w = shim(&db);
        // A tiny cache makes the big transaction write frames before it fails.
        w.execute_batch("PRAGMA cache_size=10").unwrap();
        insert(&mut w, 1, 5, 1000);
        {
            let tx = w.transaction().unwrap();
            for id in 100..600 {
                tx.execute(
                    "INSERT INTO t (id, v) VALUES (?1, ?2)",
                    params![id, vec![7u8; 4000]],
                )
                .unwrap();
            }
            assert!(tx
                .execute("INSERT INTO t (id, v) VALUES (1, x'00')", [])
                .is_err());
            // Dropped: rolled back.
        }
        insert(&mut w, 1000, 3, 500);
        assert_eq!(rows(&Connection::open(&db).unwrap()), (8, 6500));
        let copy_dir = tempfile::tempdir().unwrap();
        assert_eq!(rows(&crash_copy(&db, copy_dir.path())), (8, 6500));
    }

    #[test]
    fn the_wal_starts_over_after_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let mut w = shim(&db);
        for round in 0..3 {
            insert(&mut w, round * 100, 50, 2000);
            let (busy, _, _): (i64, i64, i64) = w
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .unwrap();
            assert_eq!(busy, 0);
        }
        insert(&mut w, 1000, 1, 10);
        assert_eq!(rows(&Connection::open(&db).unwrap()), (151, 300_010));
        let copy_dir = tempfile::tempdir().unwrap();
        assert_eq!(rows(&crash_copy(&db, copy_dir.path())), (151, 300_010));
    }
}
