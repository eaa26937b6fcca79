//! The one limiter of password guessing (README "Logins"): every password check takes a
//! [`Ticket`] here first. Attempts are counted per account and per source address; after a free
//! number within the window each further attempt must wait a doubling delay, capped, and an
//! attempt inside the delay is refused before any hash runs.
//!
//! Counting happens when the attempt is admitted (so a burst of concurrent guesses cannot all
//! pass before the first failure is recorded); a success resets the account and refunds the
//! address, an attempt that never reached a verdict (busy, an error) is refunded. The delay is a
//! back-off, never a lock: it ends on its own, and an address the account logged in from
//! successfully before is not held back by the account's delay (only by its own), so an attacker
//! elsewhere cannot keep the real user out.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::error::{Error, Result};
use crate::config::PasswordConfig;

/// Addresses a user logged in from are trusted this long (in memory).
const TRUSTED_FOR: Duration = Duration::from_secs(30 * 86_400);

/// Attempts counted against one account or one address.
#[derive(Debug, Clone, Copy)]
struct Count {
    /// Failed or unfinished attempts in the current window.
    attempts: u32,
    last: Instant,
}

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Source(IpAddr),
}

/// A counted account or address, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `account:<name>` or `address:<ip>`: what the console's clear takes back.
    pub key: String,
    /// Attempts counted in the window.
    pub failures: u32,
    /// Seconds until the next attempt is admitted (0: admitted now).
    pub retry_secs: u64,
    /// Seconds since the last counted attempt.
    pub last_secs_ago: u64,
}

/// The limiter's tables and rules.
pub struct LoginGuard {
    counts: Cache<Key, Count>,
    trusted: Cache<(String, IpAddr), ()>,
    /// Where accounts were registered from: vouches for tokenless uploads (not for logins).
    registered: Cache<(String, IpAddr), ()>,
    account_free: u32,
    source_free: u32,
    window: Duration,
    first_delay: Duration,
    max_delay: Duration,
}

/// An admitted attempt; settle it with [`Ticket::succeeded`] or [`Ticket::failed`]. Dropped
/// unsettled (busy, an error), it is refunded.
pub struct Ticket {
    guard: Arc<LoginGuard>,
    account: String,
    source: Option<IpAddr>,
    settled: bool,
}

impl LoginGuard {
    /// The limiter with the configured rules.
    pub fn new(cfg: &PasswordConfig) -> LoginGuard {
        let window = Duration::from_secs(cfg.window_secs.max(1));
        let max_delay = Duration::from_secs(cfg.max_delay_secs);
        LoginGuard {
            counts: Cache::builder()
                .max_capacity(cfg.tracked_entries)
                .time_to_idle(window + max_delay)
                .build(),
            trusted: Cache::builder()
                .max_capacity(cfg.tracked_entries)
                .time_to_live(TRUSTED_FOR)
                .build(),
            registered: Cache::builder()
                .max_capacity(cfg.tracked_entries)
                .time_to_live(TRUSTED_FOR)
                .build(),
            account_free: cfg.account_free_failures,
            source_free: cfg.source_free_failures,
            window,
            first_delay: Duration::from_secs(cfg.first_delay_secs),
            max_delay,
        }
    }

    /// When the next attempt may come, for `attempts` counted (`free` of them without delay).
    fn admitted_at(&self, c: &Count, free: u32) -> Instant {
        if c.attempts < free {
            return c.last;
        }
        let doublings = (c.attempts - free).min(30);
        let delay = self
            .first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        c.last + delay
    }

    /// The count as of `now`: attempts older than the window are forgotten.
    fn current(&self, key: &Key, now: Instant) -> Option<Count> {
        self.counts
            .get(key)
            .filter(|c| now.duration_since(c.last) <= self.window)
    }

    fn free(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.account_free,
            Key::Source(_) => self.source_free,
        }
    }

    /// Seconds `key` must still wait (0: admitted).
    fn wait(&self, key: &Key, now: Instant) -> u64 {
        let Some(c) = self.current(key, now) else {
            return 0;
        };
        let at = self.admitted_at(&c, self.free(key));
        at.checked_duration_since(now)
            .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }

    fn add(&self, key: Key, delta: i64, now: Instant) {
        let window = self.window;
        let entry = self.counts.entry(key.clone()).and_upsert_with(|old| {
            let old = old
                .map(|e| e.into_value())
                .filter(|c| now.duration_since(c.last) <= window);
            let attempts = old.map_or(0, |c| i64::from(c.attempts)) + delta;
            Count {
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                // A refund does not move the window.
                last: if delta > 0 {
                    now
                } else {
                    old.map_or(now, |c| c.last)
                },
            }
        });
        // A refunded count of nothing is not kept (every successful login would leave one).
        // An attempt counted in between may be lost with it: at most one per success.
        if delta < 0 && entry.into_value().attempts == 0 {
            self.counts.invalidate(&key);
        }
    }

    /// Admits a password attempt on `account` from `source`, or refuses it with the seconds to
    /// wait. `account` names the account as the caller resolved it (`user:<id>`, or what the
    /// client typed when no account matched).
    pub fn admit(self: &Arc<Self>, account: &str, source: Option<IpAddr>) -> Result<Ticket> {
        let now = Instant::now();
        let by_source = source.map_or(0, |ip| self.wait(&Key::Source(ip), now));
        let trusted =
            source.is_some_and(|ip| self.trusted.contains_key(&(account.to_string(), ip)));
        let by_account = if trusted {
            0
        } else {
            self.wait(&Key::Account(account.to_string()), now)
        };
        let retry_secs = by_source.max(by_account);
        if retry_secs > 0 {
            return Err(Error::TooManyAttempts { retry_secs });
        }
        self.add(Key::Account(account.to_string()), 1, now);
        if let Some(ip) = source {
            self.add(Key::Source(ip), 1, now);
        }
        Ok(Ticket {
            guard: self.clone(),
            account: account.to_string(),
            source,
            settled: false,
        })
    }

    /// The accounts and addresses with counted attempts, most recent first, at most `limit`.
    pub fn blocks(&self, limit: usize) -> Vec<Block> {
        let now = Instant::now();
        let mut out: Vec<(Instant, Block)> = self
            .counts
            .iter()
            .filter(|(_, c)| c.attempts > 0 && now.duration_since(c.last) <= self.window)
            .map(|(k, c)| {
                let key = match k.as_ref() {
                    Key::Account(a) => format!("account:{a}"),
                    Key::Source(ip) => format!("address:{ip}"),
                };
                let block = Block {
                    key,
                    failures: c.attempts,
                    retry_secs: self.wait(&k, now),
                    last_secs_ago: now.duration_since(c.last).as_secs(),
                };
                (c.last, block)
            })
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b.0));
        out.into_iter().take(limit).map(|(_, b)| b).collect()
    }

    /// Forgets the counted attempts of `key` (as [`Block::key`] names it); false when unknown.
    pub fn clear(&self, key: &str) -> bool {
        let k = if let Some(a) = key.strip_prefix("account:") {
            Key::Account(a.to_string())
        } else if let Some(ip) = key.strip_prefix("address:") {
            match ip.parse() {
                Ok(ip) => Key::Source(ip),
                Err(_) => return false,
            }
        } else {
            return false;
        };
        self.counts.remove(&k).is_some()
    }

    /// Whether user `user_id` logged in with a password, or registered, from `ip` within the
    /// trusted period (a tokenless upload from there may act for them).
    pub fn trusts(&self, user_id: i32, ip: IpAddr) -> bool {
        let key = (account_key(user_id), ip);
        self.trusted.contains_key(&key) || self.registered.contains_key(&key)
    }

    /// Records that user `user_id` registered from `ip` (vouches for uploads; the login delay
    /// still applies there).
    pub fn registered_from(&self, user_id: i32, ip: IpAddr) {
        self.registered.insert((account_key(user_id), ip), ());
    }

    /// Forgets every counted attempt.
    pub fn clear_all(&self) {
        self.counts.invalidate_all();
    }
}

/// The limiter's account key of a known user (`credentials::check_password` uses it).
pub fn account_key(user_id: i32) -> String {
    format!("user:{user_id}")
}

impl Ticket {
    /// The right password: the account starts afresh and trusts this address; the address is
    /// refunded (an office behind one address logs many people in).
    pub fn succeeded(mut self) {
        self.settled = true;
        self.guard
            .counts
            .invalidate(&Key::Account(self.account.clone()));
        if let Some(ip) = self.source {
            self.guard.add(Key::Source(ip), -1, Instant::now());
            self.guard.trusted.insert((self.account.clone(), ip), ());
        }
    }

    /// A wrong password (or an unknown account): the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled {
            let now = Instant::now();
            self.guard.add(Key::Account(self.account.clone()), -1, now);
            if let Some(ip) = self.source {
                self.guard.add(Key::Source(ip), -1, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(first_delay_secs: u64) -> Arc<LoginGuard> {
        Arc::new(LoginGuard::new(&PasswordConfig {
            account_free_failures: 3,
            source_free_failures: 5,
            first_delay_secs,
            max_delay_secs: 60,
            ..PasswordConfig::default()
        }))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn free_failures_then_a_doubling_delay_then_a_success_resets() {
        let g = guard(2);
        for _ in 0..3 {
            g.admit("user:1", ip("10.0.0.1")).unwrap().failed();
        }
        match g.admit("user:1", ip("10.0.0.2")) {
            Err(Error::TooManyAttempts { retry_secs }) => assert_eq!(retry_secs, 2),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Another account from the same address is still admitted (the address has 3 of 5).
        g.admit("user:2", ip("10.0.0.1")).unwrap().failed();
        assert!(g
            .blocks(usize::MAX)
            .iter()
            .any(|b| b.key == "address:10.0.0.1" && b.failures == 4 && b.retry_secs == 0));
        assert!(g.clear("account:user:1"));
        let t = g.admit("user:1", ip("10.0.0.1")).unwrap();
        t.succeeded();
        assert!(g
            .blocks(usize::MAX)
            .iter()
            .all(|b| b.key != "account:user:1"));
    }

    #[test]
    fn the_account_s_own_address_is_not_held_back_by_others_guessing() {
        let g = guard(30);
        g.admit("user:7", ip("192.0.2.1")).unwrap().succeeded();
        for i in 0..3 {
            g.admit("user:7", ip(&format!("198.51.100.{i}")))
                .unwrap()
                .failed();
        }
        assert!(g.admit("user:7", ip("198.51.100.99")).is_err());
        g.admit("user:7", ip("192.0.2.1")).unwrap().succeeded();
    }

    #[test]
    fn the_address_is_limited_across_accounts_and_unsettled_attempts_are_refunded() {
        let g = guard(30);
        for i in 0..5 {
            g.admit(&format!("nobody{i}"), ip("203.0.113.5"))
                .unwrap()
                .failed();
        }
        assert!(matches!(
            g.admit("nobody9", ip("203.0.113.5")),
            Err(Error::TooManyAttempts { .. })
        ));
        // Busy or broken attempts do not count.
        for _ in 0..10 {
            drop(g.admit("user:3", ip("203.0.113.6")).unwrap());
        }
        g.admit("user:3", ip("203.0.113.6")).unwrap().failed();
        assert!(g.clear("address:203.0.113.5"));
        g.admit("nobody9", ip("203.0.113.5")).unwrap().failed();
    }

    #[test]
    fn the_back_off_expires() {
        let g = Arc::new(LoginGuard::new(&PasswordConfig {
            account_free_failures: 1,
            first_delay_secs: 1,
            max_delay_secs: 1,
            ..PasswordConfig::default()
        }));
        g.admit("user:5", None).unwrap().failed();
        assert!(g.admit("user:5", None).is_err());
        std::thread::sleep(Duration::from_millis(1100));
        g.admit("user:5", None).unwrap().succeeded();
    }
}
