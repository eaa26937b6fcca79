//! Identity: access tokens and the reference's request signature (passwords: `passwords.rs`).
//!
//! Tokens are HS256 JWTs carrying the userId and a per-user version: bumping the version (logout, password change)
//! revokes every device's token, as the reference's single shared token did.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::util::{md5_hex, now_secs};
use crate::store::Store;

/// Audience of user access tokens (console tokens get their own).
pub const USER_AUDIENCE: &str = "shiku-user";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// userId.
    uid: i32,
    /// Token version at issue time.
    ver: i64,
    iat: i64,
    exp: i64,
    aud: String,
    /// Random id so two tokens issued in the same second differ.
    jti: String,
}

/// Tokens whose signature was verified, kept at most (cleared when full: simple and bounded).
const VERIFIED_CAPACITY: usize = 100_000;

/// What a verified token says (its signature checked once; expiry and version are checked on
/// every use).
#[derive(Clone)]
struct Verified {
    uid: i32,
    ver: i64,
    exp: i64,
    aud: String,
}

/// Issues and checks access tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
    /// Clients send the same token with every request: its HMAC and claims are checked once,
    /// not per request.
    verified: Mutex<HashMap<Box<str>, Verified>>,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Malformed, wrong signature, wrong audience or expired.
    Invalid,
    /// Valid once, revoked since (logout, password change).
    Revoked,
}

impl Tokens {
    /// Builds the token service with `secret`; tokens live `ttl_secs`.
    pub fn new(secret: &[u8], ttl_secs: i64) -> Tokens {
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
            verified: Mutex::default(),
        }
    }

    /// Token lifetime in seconds (`expires_in`).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The current version, read from the store on every check: another node (or the previous
    /// process during a rolling restart) may have revoked the user's tokens a moment ago.
    async fn version(&self, store: &Store, user_id: i32) -> Result<i64> {
        Ok(store.meta.token_version(user_id).await?)
    }

    /// Issues a token for `user_id` at its current version.
    pub async fn issue(&self, store: &Store, user_id: i32, audience: &str) -> Result<String> {
        let ver = self.version(store, user_id).await?;
        let now = now_secs();
        let claims = Claims {
            uid: user_id,
            ver,
            iat: now,
            exp: now + self.ttl_secs,
            aud: audience.to_string(),
            jti: super::util::uuid32()[..8].to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("jwt encode: {e}")))
    }

    /// Returns the userId a token stands for, if it is valid for `audience` and not revoked.
    pub async fn check(
        &self,
        store: &Store,
        token: &str,
        audience: &str,
    ) -> Result<std::result::Result<i32, TokenProblem>> {
        let claims = match self.verify(token, audience) {
            Some(claims) => claims,
            None => return Ok(Err(TokenProblem::Invalid)),
        };
        if self.version(store, claims.uid).await? != claims.ver {
            return Ok(Err(TokenProblem::Revoked));
        }
        Ok(Ok(claims.uid))
    }

    /// The claims of `token` if its signature is ours, it is for `audience` and not expired.
    fn verify(&self, token: &str, audience: &str) -> Option<Verified> {
        let now = now_secs();
        let known = self
            .verified
            .lock()
            .expect("verified tokens lock")
            .get(token)
            .cloned();
        if let Some(v) = known {
            return (v.aud == audience && v.exp >= now).then_some(v);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        let v = Verified {
            uid: claims.uid,
            ver: claims.ver,
            exp: claims.exp,
            aud: claims.aud,
        };
        let mut verified = self.verified.lock().expect("verified tokens lock");
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.into(), v.clone());
        Some(v)
    }

    /// Revokes every token of a user.
    pub async fn revoke_all(&self, store: &Store, user_id: i32) -> Result<()> {
        store.meta.bump_token_version(user_id).await?;
        Ok(())
    }
}

/// The reference signature of token calls: `md5(apiKey + time + userId + access_token)`.
pub fn token_secret(api_key: &str, time: i64, user_id: i32, token: &str) -> String {
    md5_hex(&format!("{api_key}{time}{user_id}{token}"))
}

/// The reference signature of open calls: `md5(apiKey + time)`.
pub fn open_secret(api_key: &str, time: i64) -> String {
    md5_hex(&format!("{api_key}{time}"))
}

/// True when `time` (seconds) is within `window` seconds of now.
pub fn time_in_window(time: i64, window: i64) -> bool {
    (now_secs() - time).abs() < window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_client_rule() {
        // webim.js createCommApiSecret: md5(apiKey + time + userId + access_token).
        assert_eq!(
            token_secret("k", 1600000000, 100164, "t"),
            md5_hex("k1600000000100164t")
        );
        assert_eq!(open_secret("k", 5), md5_hex("k5"));
        assert!(time_in_window(now_secs() - 100, 180));
        assert!(!time_in_window(now_secs() - 200, 180));
    }

    #[test]
    fn a_kept_verification_still_checks_expiry_and_audience() {
        let tokens = Tokens::new(b"secret", 3600);
        let now = now_secs();
        let claims = Claims {
            uid: 7,
            ver: 0,
            iat: now,
            exp: now + 3600,
            aud: USER_AUDIENCE.into(),
            jti: "x".into(),
        };
        let header = Header::new(Algorithm::HS256);
        let token = jsonwebtoken::encode(&header, &claims, &tokens.encoding).unwrap();
        assert_eq!(tokens.verify(&token, USER_AUDIENCE).map(|v| v.uid), Some(7));
        assert!(tokens.verified.lock().unwrap().contains_key(token.as_str()));
        assert!(
            tokens
                .verify(&token, super::super::console::CONSOLE_AUDIENCE)
                .is_none(),
            "kept, and still refused for another audience"
        );
        tokens
            .verified
            .lock()
            .unwrap()
            .get_mut(token.as_str())
            .unwrap()
            .exp = now - 1;
        assert!(
            tokens.verify(&token, USER_AUDIENCE).is_none(),
            "kept, and refused once expired"
        );
        // Never kept: a token signed with another key, or altered.
        let other = Tokens::new(b"other", 3600);
        assert!(other.verify(&token, USER_AUDIENCE).is_none());
        let mut altered = token.clone();
        altered.pop();
        assert!(tokens.verify(&altered, USER_AUDIENCE).is_none());
        assert_eq!(tokens.verified.lock().unwrap().len(), 1);
        assert!(other.verified.lock().unwrap().is_empty());
    }
}
