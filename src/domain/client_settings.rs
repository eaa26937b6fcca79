//! The `/config` values an admin may change in the console, persisted under
//! `console_client_config` and applied without a restart (this node at once, other nodes within
//! a refresh period). Below both the console rules that set them and the rules that read them
//! (registration, `/config`).

use std::sync::{Arc, RwLock};

use serde_json::{json, Map, Value};

use super::error::Result;
use crate::store::Store;

/// How a settable value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Flag,
    Number,
}

/// The `/config` keys an admin may set.
pub fn settable_keys() -> impl Iterator<Item = &'static str> {
    SETTABLE.iter().map(|(k, _)| *k)
}

/// The settable keys with their kinds.
pub const SETTABLE: &[(&str, Kind)] = &[
    ("XMPPDomain", Kind::Text),
    ("XMPPHost", Kind::Text),
    ("XMPPTimeout", Kind::Int),
    ("apiUrl", Kind::Text),
    ("uploadUrl", Kind::Text),
    ("downloadUrl", Kind::Text),
    ("downloadAvatarUrl", Kind::Text),
    ("liveUrl", Kind::Text),
    ("jitsiServer", Kind::Text),
    ("xmppUrl", Kind::Text),
    ("boshUrl", Kind::Text),
    ("fileValidTime", Kind::Int),
    ("chatRecordTimeOut", Kind::Number),
    ("isOpenSMSCode", Kind::Flag),
    ("isOpenRegister", Kind::Flag),
    ("isOpenReceipt", Kind::Flag),
    ("isOpenReadReceipt", Kind::Flag),
    ("registerInviteCode", Kind::Int),
    ("regeditPhoneOrName", Kind::Flag),
    ("isOpenRoomSearch", Kind::Flag),
    ("isOpenOnlineStatus", Kind::Flag),
    ("nicknameSearchUser", Kind::Int),
    ("showContactsUser", Kind::Flag),
    ("videoLen", Kind::Text),
    ("audioLen", Kind::Text),
    ("companyName", Kind::Text),
    ("copyright", Kind::Text),
    ("website", Kind::Text),
    ("helpUrl", Kind::Text),
    ("shareUrl", Kind::Text),
    ("softUrl", Kind::Text),
    ("privacyPolicyPrefix", Kind::Text),
    ("androidVersion", Kind::Int),
    ("iosVersion", Kind::Int),
    ("androidAppUrl", Kind::Text),
    ("iosAppUrl", Kind::Text),
    ("pcAppUrl", Kind::Text),
    ("macAppUrl", Kind::Text),
];

/// Meta key of the persisted overrides.
pub const OVERRIDES_KEY: &str = "console_client_config";

/// The `/config` overrides set in the console, shared by every request of this node.
#[derive(Debug, Default, Clone)]
pub struct ClientOverrides {
    overrides: Arc<RwLock<Map<String, Value>>>,
}

impl ClientOverrides {
    /// Puts the overrides over a `/config` object (`xmppPingTime` follows `XMPPTimeout`).
    pub fn apply_overrides(&self, m: &mut Map<String, Value>) {
        let o = self.overrides.read().unwrap_or_else(|p| p.into_inner());
        for (k, v) in o.iter() {
            m.insert(k.clone(), v.clone());
        }
        if let Some(t) = o.get("XMPPTimeout").and_then(Value::as_f64) {
            m.insert("xmppPingTime".into(), json!((t / 2.5) as i32));
        }
    }

    /// An overridden integer, or `default`.
    pub fn int(&self, key: &str, default: i32) -> i32 {
        let o = self.overrides.read().unwrap_or_else(|p| p.into_inner());
        o.get(key)
            .and_then(Value::as_i64)
            .map(|v| v as i32)
            .unwrap_or(default)
    }

    /// Replaces every override (after they were checked and saved).
    pub fn replace(&self, m: Map<String, Value>) {
        *self.overrides.write().unwrap_or_else(|p| p.into_inner()) = m;
    }

    /// The overrides now in force.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ClientOverrides {
    /// Loads the persisted overrides into this node.
    pub async fn reload(&self, store: &Store) -> Result<()> {
        let m = match store.meta.get_meta(OVERRIDES_KEY).await? {
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m
                    .into_iter()
                    .filter(|(k, _)| SETTABLE.iter().any(|(s, _)| s == k))
                    .collect(),
                _ => {
                    tracing::warn!("console_client_config is not a JSON object: ignored");
                    Map::new()
                }
            },
            None => Map::new(),
        };
        self.replace(m);
        Ok(())
    }
}
