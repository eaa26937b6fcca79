//! The one per-key rate limiter (README "Limits"): a GCRA limiter (`governor`) per key, the keys
//! kept in a bounded in-memory table so a flood of new addresses costs a fixed amount of memory.
//! Used for what anonymous callers may do (uploads) and per-address connection attempts.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
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

#[cfg(test)]
mod tests {
    use super::*;

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
