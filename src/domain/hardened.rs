//! The primitives of the newest Vue clients' hardened dialect (../shared/spec/hardened-login.md):
//! AES-128-CBC with a fixed IV, HMAC-MD5 in base64, the login verifier `loginPwdHex`, the sorted
//! parameter values every `secret` and `mac` covers, and RSA PKCS#1 v1.5 encryption to a
//! client's public key. Pure functions; the endpoints and the caller check use them.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};

/// The dialect's fixed IV: the bytes 1 to 16.
const IV: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// The apiKey the client uses unless `/config` names another (spec "apiKey").
pub const CLIENT_API_KEY: &str = "5e29f483c48848";

/// Why a value of the dialect could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not base64")]
    Base64,
    #[error("not AES-128-CBC ciphertext under this key")]
    Cipher,
    #[error("not a 32-hex md5")]
    Md5,
    #[error("not an RSA public key (base64 X.509 SubjectPublicKeyInfo)")]
    PublicKey,
}

/// AES-128-CBC, PKCS#7, the fixed IV.
pub fn aes_encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes128>::new(key.into(), &IV.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain)
}

/// [`aes_encrypt`] undone; a wrong key or a tampered text fails (bad padding).
pub fn aes_decrypt(key: &[u8; 16], cipher: &[u8]) -> Result<Vec<u8>, Malformed> {
    cbc::Decryptor::<aes::Aes128>::new(key.into(), &IV.into())
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .map_err(|_| Malformed::Cipher)
}

/// HMAC-MD5 of `msg` (UTF-8) under `key`, in standard base64.
pub fn hmac_md5_b64(key: &[u8], msg: &str) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `given` (base64) is the HMAC-MD5 of `msg` under `key`, compared in constant time.
pub fn hmac_md5_verify(key: &[u8], msg: &str, given: &str) -> bool {
    let Ok(given) = B64.decode(given.trim()) else {
        return false;
    };
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// MD5 of `bytes`, raw.
pub fn md5_raw(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// The login verifier of a password whose md5 (hex) is `pwd_md5`:
/// `hex(MD5(AES(key = MD5(pwd), plaintext = MD5(pwd))))`. Password-equivalent in this dialect.
pub fn login_pwd_hex(pwd_md5: &str) -> Result<String, Malformed> {
    let raw: [u8; 16] = hex::decode(pwd_md5.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Malformed::Md5)?;
    Ok(hex::encode(md5_raw(&aes_encrypt(&raw, &raw))))
}

/// The values of `params` in the byte order of their names, concatenated without separators;
/// values that are empty after trimming, `null` or `undefined` are left out (the client's
/// `paramKeySort`).
pub fn param_key_sort<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(_, v)| {
            let v = v.trim();
            !v.is_empty() && v != "null" && v != "undefined"
        })
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept.into_iter().map(|(_, v)| v).collect()
}

/// The `secret` of a call made before login: keyed with MD5(apiKey).
pub fn secret_before_login(api_key: &str, sorted_values: &str, salt: &str) -> String {
    hmac_md5_b64(
        &md5_raw(api_key.as_bytes()),
        &format!("{api_key}{sorted_values}{salt}"),
    )
}

/// The `secret` of a call made after login: keyed with the session's `httpKey` (raw bytes).
pub fn secret_after_login(
    http_key: &[u8],
    api_key: &str,
    user_id: i32,
    access_token: &str,
    sorted_values: &str,
    salt: &str,
) -> String {
    hmac_md5_b64(
        http_key,
        &format!("{api_key}{user_id}{access_token}{sorted_values}{salt}"),
    )
}

/// Whether `public_key_b64` is an RSA public key the dialect can use (base64 X.509
/// SubjectPublicKeyInfo DER, 1024 to 4096 bits).
pub fn check_public_key(public_key_b64: &str) -> Result<(), Malformed> {
    use rsa::traits::PublicKeyParts;
    let der = B64
        .decode(public_key_b64.trim())
        .map_err(|_| Malformed::Base64)?;
    let key = RsaPublicKey::from_public_key_der(&der).map_err(|_| Malformed::PublicKey)?;
    if !(1024..=4096).contains(&(key.size() * 8)) {
        return Err(Malformed::PublicKey);
    }
    Ok(())
}

/// `data` encrypted with RSAES-PKCS1-v1_5 to a client's public key (base64 X.509
/// SubjectPublicKeyInfo DER), in base64.
pub fn rsa_encrypt_b64(public_key_b64: &str, data: &[u8]) -> Result<String, Malformed> {
    let der = B64
        .decode(public_key_b64.trim())
        .map_err(|_| Malformed::Base64)?;
    let key = RsaPublicKey::from_public_key_der(&der).map_err(|_| Malformed::PublicKey)?;
    let sealed = key
        .encrypt(&mut rand::thread_rng(), Pkcs1v15Encrypt, data)
        .map_err(|_| Malformed::PublicKey)?;
    Ok(B64.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's vectors, computed with Node's crypto and checked against the client's forge.
    #[test]
    fn the_specs_vectors_reproduce() {
        assert_eq!(
            login_pwd_hex("e10adc3949ba59abbe56e057f20f883e").unwrap(),
            "7ba1bd982b33ac731c2c3bca90e77be9"
        );
        // Step 3 of the login: apiKey, userId "100100", salt 1700000000000, K = 00 01 .. 0f.
        let k: [u8; 16] = std::array::from_fn(|i| i as u8);
        let sorted = param_key_sort([
            ("deviceId", "web"),
            ("userId", "100100"),
            ("salt", "1700000000000"),
        ]);
        let msg = format!(
            "{CLIENT_API_KEY}100100{sorted}1700000000000{}",
            login_pwd_hex("e10adc3949ba59abbe56e057f20f883e").unwrap()
        );
        assert_eq!(
            msg,
            "5e29f483c48848100100web170000000000010010017000000000007ba1bd982b33ac731c2c3bca90e77be9"
        );
        let mac = hmac_md5_b64(&k, &msg);
        assert_eq!(mac, "0i/ODhlwOSMbCgHSGzW8cw==");
        assert!(hmac_md5_verify(&k, &msg, &mac));
        assert!(!hmac_md5_verify(&k, &format!("{msg}x"), &mac));
        let json =
            format!(r#"{{"deviceId":"web","userId":"100100","salt":1700000000000,"mac":"{mac}"}}"#);
        let data = B64.encode(aes_encrypt(&k, json.as_bytes()));
        assert_eq!(
            data,
            "gPApyMECBlvHr4rFInunTo4Jyg89wTEEsTxxKQz3lPa3aUGHUY1nWBq2JoV5ayHUCfcDVhzFWmSNIzJgJXVAELTrMH3iQfaBaFqhHMr8v+li4Q1QrabwnwDBNAWIXplG"
        );
        assert_eq!(
            aes_decrypt(&k, &B64.decode(&data).unwrap()).unwrap(),
            json.as_bytes()
        );
        // `GET /config` before login, no parameters, salt 1700000000000.
        assert_eq!(
            secret_before_login(CLIENT_API_KEY, &param_key_sort([]), "1700000000000"),
            "DphFcTcWZ/dlMnAriTd7Xw=="
        );
    }

    #[test]
    fn sorted_values_skip_what_the_client_skips() {
        assert_eq!(
            param_key_sort([
                ("b", "2"),
                ("a", "1"),
                ("C", "0"),
                ("e", " "),
                ("f", "null"),
                ("g", "undefined"),
                ("d", ""),
            ]),
            "012"
        );
    }

    #[test]
    fn a_wrong_key_or_a_tampered_text_does_not_decrypt() {
        let k = [7u8; 16];
        let sealed = aes_encrypt(&k, b"{\"userId\":1}");
        // A wrong key fails, or (valid padding by chance) gives another text.
        assert_ne!(
            aes_decrypt(&[8u8; 16], &sealed).ok(),
            Some(b"{\"userId\":1}".to_vec())
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_ne!(
            aes_decrypt(&k, &tampered).ok(),
            Some(b"{\"userId\":1}".to_vec())
        );
        assert_eq!(login_pwd_hex("xyz"), Err(Malformed::Md5));
    }

    #[test]
    fn rsa_encryption_opens_with_the_clients_private_key() {
        use rsa::pkcs8::EncodePublicKey;
        use rsa::RsaPrivateKey;
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let public = B64.encode(
            private
                .to_public_key()
                .to_public_key_der()
                .unwrap()
                .as_bytes(),
        );
        let k = [9u8; 16];
        let sealed = B64.decode(rsa_encrypt_b64(&public, &k).unwrap()).unwrap();
        assert_eq!(private.decrypt(Pkcs1v15Encrypt, &sealed).unwrap(), k);
        assert_eq!(rsa_encrypt_b64("!!", &k), Err(Malformed::Base64));
        assert_eq!(rsa_encrypt_b64("AAAA", &k), Err(Malformed::PublicKey));
    }
}
