//! The bounded argon2 pool: every password hash of the process runs here, on a fixed set of
//! worker threads fed by a bounded queue with a deadline, so that a login storm or a flood of
//! wrong passwords costs a known amount of CPU and memory and is answered "busy, retry" beyond it.
//!
//! Memory is the point (README "Logins"): argon2id needs `m` KiB of working memory per hash
//! (19 MiB by default). Allocated per hash on the heap, glibc's malloc raises its mmap threshold
//! after the first free and keeps every later buffer in its per-thread arenas, so each thread
//! that ever hashed held tens of MB for good. Here each worker keeps one buffer, mapped straight
//! from the OS, reuses it while work keeps coming, and unmaps it when the queue has been empty for
//! [`LINGER`]: the memory goes back at once, whatever the allocator would do.

use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::oneshot;

use super::error::{Error, Result};
use crate::config::PasswordConfig;

/// How long an idle worker keeps its working memory for the next hash.
const LINGER: Duration = Duration::from_millis(500);

/// What a worker is asked to do.
enum Work {
    /// Hash a new password with the configured parameters; answers the PHC string.
    Hash(String),
    /// Check a password against a stored PHC string; answers whether it matches.
    Verify { stored: String, password: String },
}

/// What a worker answers.
enum Done {
    Hashed(String),
    Verified(bool),
}

struct Job {
    work: Work,
    queued: Instant,
    reply: oneshot::Sender<Result<Done>>,
}

/// The pool's handle; the workers stop when it is dropped.
pub struct PasswordPool {
    tx: Sender<Job>,
    wait: Duration,
}

impl PasswordPool {
    /// Starts `cfg.workers()` threads with the argon2 parameters for new hashes.
    pub fn start(cfg: &PasswordConfig) -> Result<PasswordPool> {
        let params = Params::new(
            cfg.argon2_memory_kib,
            cfg.argon2_iterations,
            cfg.argon2_parallelism,
            None,
        )
        .map_err(|e| Error::Internal(format!("passwords.argon2_*: {e}")))?;
        let (tx, rx) = crossbeam_channel::bounded::<Job>(cfg.hash_queue.max(1));
        let wait = Duration::from_millis(cfg.hash_wait_ms);
        for i in 0..cfg.workers() {
            let rx = rx.clone();
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(rx, params, wait))
                .map_err(|e| Error::Internal(format!("argon2 worker: {e}")))?;
        }
        Ok(PasswordPool { tx, wait })
    }

    async fn run(&self, work: Work) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            queued: Instant::now(),
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Internal("argon2 pool stopped".into()))
            }
        }
        // The worker answers within the deadline or refuses; the margin covers one hash.
        match tokio::time::timeout(self.wait + Duration::from_secs(30), answer).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(Error::Internal("argon2 worker ended".into())),
            Err(_) => Err(Error::Busy),
        }
    }

    /// Hashes the client's md5 password for storage (argon2id, random salt, the configured
    /// parameters).
    pub async fn hash(&self, password: &str) -> Result<String> {
        match self.run(Work::Hash(password.to_string())).await? {
            Done::Hashed(h) => Ok(h),
            Done::Verified(_) => Err(Error::Internal("argon2 pool: wrong answer".into())),
        }
    }

    /// Whether `password` matches the stored argon2 PHC string (its own parameters).
    pub async fn verify(&self, stored: &str, password: &str) -> Result<bool> {
        let work = Work::Verify {
            stored: stored.to_string(),
            password: password.to_string(),
        };
        match self.run(work).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => Err(Error::Internal("argon2 pool: wrong answer".into())),
        }
    }
}

fn worker(rx: Receiver<Job>, params: Params, wait: Duration) {
    let mut memory: Option<Memory> = None;
    loop {
        let job = match rx.recv_timeout(LINGER) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                // Idle: give the working memory back, then wait without a deadline.
                memory = None;
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // A caller that went away (its client disconnected) needs no answer; one that waited
        // past the deadline gets "busy" without the hash being run.
        if job.reply.is_closed() {
            continue;
        }
        if job.queued.elapsed() > wait {
            let _ = job.reply.send(Err(Error::Busy));
            continue;
        }
        let done = match job.work {
            Work::Hash(password) => hash(&params, &password, &mut memory).map(Done::Hashed),
            Work::Verify { stored, password } => {
                verify(&stored, &password, &mut memory).map(Done::Verified)
            }
        };
        let _ = job.reply.send(done);
    }
}

/// argon2's working memory, mapped from the OS so that dropping it returns it at once.
struct Memory {
    map: memmap2::MmapMut,
    blocks: usize,
}

impl Memory {
    /// The worker's memory, grown to at least `blocks` blocks.
    fn at_least(slot: &mut Option<Memory>, blocks: usize) -> Result<&mut Memory> {
        if slot.as_ref().is_none_or(|m| m.blocks < blocks) {
            *slot = None;
            let map = memmap2::MmapMut::map_anon(blocks * Block::SIZE)
                .map_err(|e| Error::Internal(format!("argon2 memory: {e}")))?;
            *slot = Some(Memory { map, blocks });
        }
        slot.as_mut()
            .ok_or_else(|| Error::Internal("argon2 memory".into()))
    }
}

impl AsMut<[Block]> for Memory {
    fn as_mut(&mut self) -> &mut [Block] {
        // SAFETY: the map is page-aligned (a Block needs 64 bytes), exactly `blocks` Blocks
        // long, and borrowed mutably with `self`; a Block is 128 plain u64 words, so any bytes
        // (zeroes from the OS, or the previous hash's) are a valid value.
        unsafe {
            std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), self.blocks)
        }
    }
}

/// One argon2 computation into `out`, in the worker's memory.
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Option<Memory>,
) -> Result<()> {
    let blocks = Memory::at_least(memory, params.block_count())?;
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn hash(params: &Params, password: &str, memory: &mut Option<Memory>) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut raw_salt)
        .map_err(|e| Error::Internal(format!("argon2 salt: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon, params, password, raw_salt, &mut out, memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: params
            .try_into()
            .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::Internal(format!("argon2: {e}")))?),
    };
    Ok(phc.to_string())
}

fn verify(stored: &str, password: &str, memory: &mut Option<Memory>) -> Result<bool> {
    let bad = |e: argon2::password_hash::Error| Error::Internal(format!("stored hash: {e}"));
    let phc = PasswordHash::new(stored).map_err(bad)?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err(Error::Internal("stored hash without salt or hash".into()));
    };
    let algorithm = Algorithm::try_from(phc.algorithm).map_err(bad)?;
    let version = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| Error::Internal(format!("stored hash: {e}")))?
        .unwrap_or_default();
    let params = Params::try_from(&phc).map_err(bad)?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(bad)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    compute(&argon, &params, password, raw_salt, &mut out, memory)?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(bad)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordConfig {
        PasswordConfig {
            hash_workers: 2,
            argon2_memory_kib: 256,
            argon2_iterations: 1,
            ..PasswordConfig::default()
        }
    }

    #[tokio::test]
    async fn hashes_and_verifies_with_its_own_and_the_stored_parameters() {
        let pool = PasswordPool::start(&small()).unwrap();
        let h = pool.hash("abc").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{h}");
        assert!(pool.verify(&h, "abc").await.unwrap());
        assert!(!pool.verify(&h, "abd").await.unwrap());
        // A hash made by the argon2 crate itself (default parameters) still verifies.
        use argon2::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let other = Argon2::default()
            .hash_password(b"xyz", &salt)
            .unwrap()
            .to_string();
        assert!(pool.verify(&other, "xyz").await.unwrap());
        assert!(!pool.verify(&other, "abc").await.unwrap());
        assert!(pool.verify("$argon2id$garbage", "abc").await.is_err());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy() {
        let cfg = PasswordConfig {
            hash_workers: 1,
            hash_queue: 1,
            argon2_memory_kib: 8192,
            argon2_iterations: 4,
            ..PasswordConfig::default()
        };
        let pool = std::sync::Arc::new(PasswordPool::start(&cfg).unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash(&format!("p{i}")).await })
            })
            .collect();
        let mut busy = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(Error::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    }
}
