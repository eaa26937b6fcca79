//! Per-address limits (README "Limits"): [`Quota`], the one rate limiter (a GCRA limiter from
//! `governor` per key, the keys in a bounded table so a flood of new addresses costs a fixed
//! amount of memory), used for anonymous uploads; and [`Slots`], the one cap on what one
//! address holds at once (connections on the dedicated listeners, requests in flight on HTTP).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota as Rate, RateLimiter};
use moka::sync::Cache;

/// Keys tracked by one quota at most (the least recently used are forgotten first).
const TRACKED: u64 = 100_000;

/// At most `per_minute` events per key, with bursts of the same size.
pub struct Quota<K: Hash + Eq + Send + Sync + 'static> {
    rate: Option<Rate>,
    keys: Cache<K, Arc<DefaultDirectRateLimiter>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Quota<K> {
    /// A quota of `per_minute` events per key; 0 = unlimited.
    pub fn per_minute(per_minute: u32) -> Quota<K> {
        Quota {
            rate: NonZeroU32::new(per_minute).map(Rate::per_minute),
            keys: Cache::builder()
                .max_capacity(TRACKED)
                // An idle key's bucket is full again after a minute: forgetting it is exact.
                .time_to_idle(Duration::from_secs(60))
                .build(),
        }
    }

    /// Takes one event of `key`'s quota; false when it is used up.
    pub fn take(&self, key: K) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        self.keys
            .get_with(key, || Arc::new(RateLimiter::direct(rate)))
            .check()
            .is_ok()
    }
}

/// At most `max` connections (or requests in flight) per address at once.
pub struct Slots {
    held: Mutex<HashMap<IpAddr, u32>>,
    max: u32,
}

/// One held slot; given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    /// `max` per address; 0 = unlimited.
    pub fn new(max: u32) -> Arc<Slots> {
        Arc::new(Slots {
            held: Mutex::new(HashMap::new()),
            max,
        })
    }

    /// Takes a slot of `ip`; None when it holds `max` already.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().expect("slots lock");
        let n = held.entry(ip).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            ip,
        })
    }

    /// Slots `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> u32 {
        self.held
            .lock()
            .expect("slots lock")
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().expect("slots lock");
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            // The table holds only addresses with something open.
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_address_and_given_back() {
        let s = Slots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let x = s.acquire(a).unwrap();
        let _y = s.acquire(a).unwrap();
        assert!(s.acquire(a).is_none());
        assert!(s.acquire(b).is_some());
        drop(x);
        assert_eq!(s.held(a), 1);
        assert!(s.acquire(a).is_some());
    }

    #[test]
    fn counts_per_key() {
        let q = Quota::per_minute(3);
        assert!((0..3).all(|_| q.take("a")));
        assert!(!q.take("a"));
        assert!(q.take("b"));
        let free = Quota::per_minute(0);
        assert!((0..1000).all(|_| free.take(1)));
    }
}
