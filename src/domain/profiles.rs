//! A short-lived cache of the user documents the message path reads for every message (sender
//! and receiver: existence, lock status, nicknames). Entries live one second, so a lock, a
//! nickname change or a new user made on another node is seen within that second; everything
//! else reads the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::documents::User;
use crate::store::{Store, StoreResult};

/// How long a cached user document is trusted.
const TTL: Duration = Duration::from_secs(1);
/// Entries kept at most (the cache is cleared when full: simple and bounded).
const CAPACITY: usize = 100_000;

/// When an entry was read, and the user (None: no such user).
type Entry = (Instant, Option<Arc<User>>);

/// The cache; one per process, in `Ctx`.
#[derive(Default)]
pub struct Profiles {
    entries: Mutex<HashMap<i32, Entry>>,
}

impl Profiles {
    /// The user (or its absence) as stored at most a second ago.
    pub async fn get(&self, store: &Store, user_id: i32) -> StoreResult<Option<Arc<User>>> {
        if let Some((at, user)) = self.entries.lock().expect("profiles lock").get(&user_id) {
            if at.elapsed() < TTL {
                return Ok(user.clone());
            }
        }
        let user = store.users.get_user(user_id).await?.map(Arc::new);
        let mut entries = self.entries.lock().expect("profiles lock");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(user_id, (Instant::now(), user.clone()));
        Ok(user)
    }

    /// Forgets a user (after a change made on this node).
    pub fn forget(&self, user_id: i32) {
        self.entries.lock().expect("profiles lock").remove(&user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::Patch;

    #[tokio::test]
    async fn caches_for_a_second_and_forgets_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let d = s.description();
        let store = Store::from_adapter(Arc::new(s), d);
        let user: User =
            serde_json::from_value(serde_json::json!({"_id": 7, "nickname": "a"})).unwrap();
        store.users.insert_user(&user).await.unwrap();
        let p = Profiles::default();
        assert_eq!(p.get(&store, 7).await.unwrap().unwrap().nickname, "a");
        assert!(p.get(&store, 8).await.unwrap().is_none());
        let patch = Patch::new().set("nickname", "b");
        store.users.update_user(7, &patch).await.unwrap();
        assert_eq!(p.get(&store, 7).await.unwrap().unwrap().nickname, "a");
        p.forget(7);
        assert_eq!(p.get(&store, 7).await.unwrap().unwrap().nickname, "b");
        store
            .users
            .update_user(7, &Patch::new().set("nickname", "c"))
            .await
            .unwrap();
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert_eq!(p.get(&store, 7).await.unwrap().unwrap().nickname, "c");
    }
}
