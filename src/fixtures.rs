//! `shiku-server import DIR`: loads Shiku documents (one JSON array per reference collection,
//! file name = collection name) into the configured store through the same ports the server
//! uses. Existing users are left alone.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::domain::model::{Friend, LastChat, MsgRow, User, UserLoginLog, UserRole};
use crate::store::{ChatWrite, Store, StoreError};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub users: usize,
    pub users_skipped: usize,
    pub login_logs: usize,
    pub roles: usize,
    pub friends: usize,
    pub messages: usize,
    pub last_chats: usize,
}

type ImportResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn read<T: DeserializeOwned>(dir: &Path, collection: &str) -> ImportResult<Vec<T>> {
    let path = dir.join(format!("{collection}.json"));
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Imports every known collection file found in `dir`.
pub async fn import(store: &Store, dir: &Path) -> ImportResult<ImportReport> {
    let mut report = ImportReport::default();
    for u in read::<User>(dir, "user")? {
        match store.users.insert_user(&u).await {
            Ok(()) => report.users += 1,
            Err(StoreError::Duplicate(_)) => report.users_skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    for l in read::<UserLoginLog>(dir, "userLoginLog")? {
        store.users.put_login_log(&l).await?;
        report.login_logs += 1;
    }
    for r in read::<UserRole>(dir, "userRoles")? {
        let existing = store.users.roles_of(r.user_id).await?;
        if !existing.iter().any(|e| e.role == r.role) {
            store.users.insert_role(&r).await?;
            report.roles += 1;
        }
    }
    for f in read::<Friend>(dir, "u_friends")? {
        store.friends.put_friend(&f).await?;
        report.friends += 1;
    }
    for row in read::<MsgRow>(dir, "shiku_msgs")? {
        let write = ChatWrite {
            rows: vec![row],
            last_chats: Vec::new(),
        };
        if store.messages.store_chat(&write).await? {
            report.messages += 1;
        }
    }
    for mut row in read::<LastChat>(dir, "shiku_lastChats")? {
        // Rows written by the Java server have no `ts`: order them by their `timeSend`.
        if row.ts == 0 {
            row.ts = crate::domain::messages::time_send_millis(&row.time_send);
        }
        store.messages.upsert_last_chat(&row).await?;
        report.last_chats += 1;
    }
    Ok(report)
}
