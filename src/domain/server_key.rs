//! The server key (README "The hardened dialect"): 32 random bytes held outside the store (in
//! configuration, or a key file made on first start) that seal what must never lie in the
//! database in the clear — each user's login verifier, the one-time login keys — and derive
//! what each session needs (`httpKey`). Sealing is AES-256-GCM with a random nonce, bound to a
//! label (the userId and purpose) so a sealed value cannot be moved to another user. Earlier
//! keys stay usable after a rotation: a value sealed under one is sealed again when next used.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use crate::config::Config;

/// The sealed form's version tag: `k1.<key id>.<base64(nonce ‖ ciphertext)>`.
const VERSION: &str = "k1";

struct Key {
    /// First 4 bytes of SHA-256 of the key, in hex: names the key a value was sealed under.
    id: String,
    raw: [u8; 32],
    cipher: Aes256Gcm,
}

impl Key {
    fn new(raw: [u8; 32]) -> Key {
        Key {
            id: hex::encode(&Sha256::digest(raw)[..4]),
            cipher: Aes256Gcm::new(&raw.into()),
            raw,
        }
    }
}

/// The current server key and the earlier ones still accepted.
pub struct ServerKey {
    current: Key,
    previous: Vec<Key>,
}

/// A value opened by [`ServerKey::open`].
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub plain: String,
    /// Sealed under an earlier key: seal it again under the current one.
    pub stale: bool,
}

fn decode_key(what: &str, b64: &str) -> Result<[u8; 32]> {
    B64.decode(b64.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| Error::Internal(format!("{what}: not base64 of 32 bytes")))
}

/// Reads the key file, or makes it (readable by the owner only) when it does not exist.
fn key_from_file(path: &Path) -> Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => decode_key(&path.display().to_string(), &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut raw);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Internal(format!("{}: {e}", dir.display())))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(format!("{}\n", B64.encode(raw)).as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
                    tracing::info!(file = %path.display(), "made a new server key");
                    Ok(raw)
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_from_file(path),
                Err(e) => Err(Error::Internal(format!("{}: {e}", path.display()))),
            }
        }
        Err(e) => Err(Error::Internal(format!("{}: {e}", path.display()))),
    }
}

impl ServerKey {
    /// The key of `auth.server_key`, else of `auth.server_key_file` (default
    /// `<data_dir>/server.key`, made on first start), with `auth.previous_server_keys`.
    pub fn load(config: &Config) -> Result<ServerKey> {
        let auth = &config.auth;
        let current = if !auth.server_key.trim().is_empty() {
            decode_key("auth.server_key", &auth.server_key)?
        } else {
            let path = if auth.server_key_file.is_empty() {
                config.data_dir.join("server.key")
            } else {
                PathBuf::from(&auth.server_key_file)
            };
            key_from_file(&path)?
        };
        let previous = auth
            .previous_server_keys
            .iter()
            .map(|k| decode_key("auth.previous_server_keys", k))
            .collect::<Result<Vec<_>>>()?;
        Ok(ServerKey::from_keys(current, previous))
    }

    /// A server key from raw keys (tests).
    pub fn from_keys(current: [u8; 32], previous: Vec<[u8; 32]>) -> ServerKey {
        ServerKey {
            current: Key::new(current),
            previous: previous.into_iter().map(Key::new).collect(),
        }
    }

    /// `plain` sealed under the current key for `label` (what it is and whose).
    pub fn seal(&self, label: &str, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: label.as_bytes(),
                },
            )
            .expect("AES-GCM seals any length this server hands it");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", self.current.id, B64.encode(out))
    }

    /// A value sealed by [`ServerKey::seal`] for `label`, under the current key or an earlier
    /// one; None when it was sealed for another label, under an unknown key, or altered.
    pub fn open(&self, label: &str, sealed: &str) -> Option<Opened> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (key, stale) = if id == self.current.id {
            (&self.current, false)
        } else {
            (self.previous.iter().find(|k| k.id == id)?, true)
        };
        let bytes = B64.decode(body).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, text) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: text,
                    aad: label.as_bytes(),
                },
            )
            .ok()?;
        Some(Opened {
            plain: String::from_utf8(plain).ok()?,
            stale,
        })
    }

    /// 16 bytes derived from the current key for `label` and `data` (HMAC-SHA256): a value
    /// every node computes alike and nobody without the key can.
    pub fn derive(&self, label: &str, data: &str) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.current.raw)
            .expect("HMAC accepts any key length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(data.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_for_their_label_and_survive_a_rotation() {
        let old = ServerKey::from_keys([1; 32], vec![]);
        let sealed = old.seal("loginVerifier:7", "secret");
        assert!(!sealed.contains("secret"));
        assert_ne!(
            sealed,
            old.seal("loginVerifier:7", "secret"),
            "random nonce"
        );
        let opened = old.open("loginVerifier:7", &sealed).unwrap();
        assert_eq!((opened.plain.as_str(), opened.stale), ("secret", false));
        assert_eq!(old.open("loginVerifier:8", &sealed), None, "another user's");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(old.open("loginVerifier:7", &tampered), None);

        let rotated = ServerKey::from_keys([2; 32], vec![[1; 32]]);
        let opened = rotated.open("loginVerifier:7", &sealed).unwrap();
        assert_eq!((opened.plain.as_str(), opened.stale), ("secret", true));
        let forgotten = ServerKey::from_keys([2; 32], vec![]);
        assert_eq!(forgotten.open("loginVerifier:7", &sealed), None);
        assert_ne!(old.derive("httpKey", "t"), rotated.derive("httpKey", "t"));
        assert_eq!(old.derive("httpKey", "t"), old.derive("httpKey", "t"));
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/server.key");
        let made = key_from_file(&path).unwrap();
        assert_eq!(key_from_file(&path).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(key_from_file(&path).is_err());
    }
}
