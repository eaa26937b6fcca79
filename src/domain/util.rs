//! Small shared helpers: clocks and the md5 hex the Shiku protocol uses everywhere.

use md5::{Digest, Md5};

/// Current time in seconds (the unit of Shiku `createTime`, `loginTime`, ...).
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Current time in milliseconds (`currentTime`, `ts`).
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Lower-case hex md5 of a string, as Shiku clients compute it.
pub fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// True for a 32-character lower- or upper-case hex string (an md5 the client computed).
pub fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A 32-hex random id (the reference's dash-less UUID).
pub fn uuid32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn md5_matches_clients() {
        // md5("123456"), the value in clients.md 2.3's observed login body.
        assert_eq!(super::md5_hex("123456"), "e10adc3949ba59abbe56e057f20f883e");
        assert!(super::is_md5_hex("e10adc3949ba59abbe56e057f20f883e"));
        assert!(!super::is_md5_hex("123456"));
        assert_eq!(super::uuid32().len(), 32);
    }
}
