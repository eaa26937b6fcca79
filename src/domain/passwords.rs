//! Password hashes and checks (README "Logins"). Clients send `md5(password)`; we keep an
//! argon2id hash of that md5 and still accept legacy rows holding the bare md5 (existing Shiku
//! data), which the caller upgrades at the next login.
//!
//! Every hash runs in the bounded [`PasswordPool`]. A successful check is remembered, in memory
//! only, as a keyed verifier (HMAC-SHA256 under a key made at start and never stored, over the
//! userId, the stored hash and the md5), so the same client reconnecting with the same password
//! skips the slow hash; a password change alters the stored hash and with it every verifier, and
//! logout, lock and reset forget the user's explicitly. Unknown accounts are checked against a
//! dummy hash of the same cost, so they answer like a wrong password in about the same time.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use moka::sync::Cache;
use rand::RngCore;
use sha2::Sha256;

use super::error::Result;
use super::login_guard::LoginGuard;
use super::password_pool::PasswordPool;
use crate::config::PasswordConfig;

type Verifier = Hmac<Sha256>;

/// Outcome of a password check.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Wrong password (or no such account).
    Mismatch,
    /// Right password, stored as argon2.
    Ok,
    /// Right password, stored as a legacy bare md5: rehash and store.
    OkLegacy,
}

/// The pool, the limiter and the verifiers of repeat logins.
pub struct Passwords {
    pool: PasswordPool,
    guard: Arc<LoginGuard>,
    verifiers: Option<Cache<i32, [u8; 32]>>,
    key: [u8; 32],
    /// A hash of a random password with the configured parameters, checked for unknown
    /// accounts and legacy mismatches so that they cost what a real check costs.
    dummy: String,
}

impl Passwords {
    /// Starts the hashing pool and prepares the dummy hash.
    pub async fn start(cfg: &PasswordConfig) -> Result<Passwords> {
        let pool = PasswordPool::start(cfg)?;
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let dummy = pool.hash(&hex::encode(&key[..16])).await?;
        let verifiers = (cfg.verifier_ttl_secs > 0).then(|| {
            Cache::builder()
                .max_capacity(cfg.verifier_entries)
                .time_to_live(Duration::from_secs(cfg.verifier_ttl_secs))
                .build()
        });
        Ok(Passwords {
            pool,
            guard: Arc::new(LoginGuard::new(cfg)),
            verifiers,
            key,
            dummy,
        })
    }

    /// The limiter every password check goes through.
    pub fn guard(&self) -> &Arc<LoginGuard> {
        &self.guard
    }

    /// Hashes the client's md5 password for storage.
    pub async fn hash(&self, client_md5: &str) -> Result<String> {
        self.pool.hash(&client_md5.to_ascii_lowercase()).await
    }

    fn verifier(&self, user_id: i32, stored: &str, md5: &str) -> Verifier {
        let mut mac = Verifier::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&user_id.to_be_bytes());
        mac.update(stored.as_bytes());
        mac.update(&[0]);
        mac.update(md5.as_bytes());
        mac
    }

    /// Remembers a successful check of `user_id` against `stored`.
    pub fn remember(&self, user_id: i32, stored: &str, client_md5: &str) {
        if let Some(v) = &self.verifiers {
            let md5 = client_md5.to_ascii_lowercase();
            let tag = self.verifier(user_id, stored, &md5).finalize().into_bytes();
            v.insert(user_id, tag.into());
        }
    }

    /// Forgets the user's remembered check (logout, lock, password change or reset).
    pub fn forget(&self, user_id: i32) {
        if let Some(v) = &self.verifiers {
            v.invalidate(&user_id);
        }
    }

    /// Whether a successful check of the user is remembered (the console and tests ask).
    pub fn remembers(&self, user_id: i32) -> bool {
        self.verifiers
            .as_ref()
            .is_some_and(|v| v.contains_key(&user_id))
    }

    /// Checks the client's md5 against the stored value of `user` (`(userId, password)`), or
    /// against the dummy when there is no such user.
    pub async fn verify(
        &self,
        user: Option<(i32, &str)>,
        client_md5: &str,
    ) -> Result<PasswordCheck> {
        let md5 = client_md5.to_ascii_lowercase();
        let Some((user_id, stored)) = user else {
            self.pool.verify(&self.dummy, &md5).await?;
            return Ok(PasswordCheck::Mismatch);
        };
        if let Some(tag) = self.verifiers.as_ref().and_then(|v| v.get(&user_id)) {
            // Constant-time comparison (hmac's verify).
            if self
                .verifier(user_id, stored, &md5)
                .verify_slice(&tag)
                .is_ok()
            {
                return Ok(PasswordCheck::Ok);
            }
        }
        if stored.starts_with("$argon2") {
            let ok = self.pool.verify(stored, &md5).await?;
            if ok {
                self.remember(user_id, stored, &md5);
                return Ok(PasswordCheck::Ok);
            }
            return Ok(PasswordCheck::Mismatch);
        }
        // Legacy Shiku rows: the md5 itself. Compared without early exit; a mismatch costs a
        // hash like any other (a match is rehashed by the caller).
        let a = stored.to_ascii_lowercase();
        let same = a.len() == md5.len()
            && !stored.is_empty()
            && a.bytes()
                .zip(md5.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        if same {
            return Ok(PasswordCheck::OkLegacy);
        }
        self.pool.verify(&self.dummy, &md5).await?;
        Ok(PasswordCheck::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::util::md5_hex;

    fn small() -> PasswordConfig {
        PasswordConfig {
            hash_workers: 1,
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..PasswordConfig::default()
        }
    }

    #[tokio::test]
    async fn argon2_legacy_unknown_and_remembered_checks() {
        let p = Passwords::start(&small()).await.unwrap();
        let md5 = md5_hex("secret");
        let h = p.hash(&md5).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            p.verify(Some((1, &h)), &md5).await.unwrap(),
            PasswordCheck::Ok
        );
        assert_eq!(
            p.verify(Some((1, &h)), &md5_hex("other")).await.unwrap(),
            PasswordCheck::Mismatch
        );
        assert_eq!(
            p.verify(Some((1, &md5)), &md5.to_uppercase())
                .await
                .unwrap(),
            PasswordCheck::OkLegacy
        );
        assert_eq!(
            p.verify(Some((1, "")), "").await.unwrap(),
            PasswordCheck::Mismatch
        );
        assert_eq!(p.verify(None, &md5).await.unwrap(), PasswordCheck::Mismatch);
    }

    #[tokio::test]
    async fn a_remembered_check_is_keyed_to_the_stored_hash_and_the_user() {
        let p = Passwords::start(&small()).await.unwrap();
        let md5 = md5_hex("pw");
        // A remembered verifier answers without the pool: a stored value that is not even a
        // valid hash proves it.
        p.remember(5, "$argon2id$not-a-hash", &md5);
        assert_eq!(
            p.verify(Some((5, "$argon2id$not-a-hash")), &md5)
                .await
                .unwrap(),
            PasswordCheck::Ok
        );
        // Another password, another stored hash (a password change) or another user: no.
        assert!(p
            .verify(Some((5, "$argon2id$not-a-hash")), &md5_hex("x"))
            .await
            .is_err());
        assert!(p
            .verify(Some((5, "$argon2id$changed")), &md5)
            .await
            .is_err());
        assert!(p
            .verify(Some((6, "$argon2id$not-a-hash")), &md5)
            .await
            .is_err());
        p.forget(5);
        assert!(p
            .verify(Some((5, "$argon2id$not-a-hash")), &md5)
            .await
            .is_err());
    }
}
