//! The hardened dialect's replay memory: which signed requests (`salt` + `secret`) were seen
//! lately and how often.

use std::time::Duration;

use moka::sync::Cache;

use crate::config::AuthConfig;

/// The signed requests of the dialect seen lately: one is accepted `auth.max_secret_uses`
/// times within the signature window (the client repeats two login steps verbatim), then
/// refused as a replay. Bounded; per node.
pub struct SignedCalls {
    seen: Cache<Box<str>, u32>,
    max_uses: u32,
}

impl SignedCalls {
    /// An empty memory sized by `auth`.
    pub fn new(auth: &AuthConfig) -> SignedCalls {
        let window = auth.signature_window_secs.max(1) as u64;
        SignedCalls {
            seen: Cache::builder()
                .max_capacity(auth.replay_entries)
                .time_to_live(Duration::from_secs(2 * window + 1))
                .build(),
            max_uses: auth.max_secret_uses.max(1),
        }
    }

    /// Counts one use of `secret`; false beyond the allowed uses.
    pub fn admit(&self, secret: &str) -> bool {
        let uses = self
            .seen
            .entry(secret.into())
            .and_upsert_with(|e| e.map_or(1, |e| e.into_value().saturating_add(1)));
        uses.into_value() <= self.max_uses
    }
}
