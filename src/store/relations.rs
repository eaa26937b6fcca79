//! A read-through cache in front of the relation port. The message path asks, for every 1:1
//! message, whether the receiver blacklisted the sender; without the cache that is one store
//! round trip per message. It keeps, per receiver, the few users it refuses (one query answers
//! every sender), and single relations for the other callers. Every write through the port
//! forgets what it may change, so a change made on this node is seen at once; one made by
//! another node within [`TTL`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{FriendQuery, FriendStore, Patch, StoreResult};
use crate::documents::Friend;

/// How long a cached relation is trusted.
pub const TTL: Duration = Duration::from_secs(1);
/// Entries kept at most (cleared when full: simple and bounded).
const CAPACITY: usize = 100_000;

/// When a relation was read, and the relation (None: there is none).
type Entry = (Instant, Option<Friend>);

/// What is cached, under one lock so that a write forgets both kinds at once.
#[derive(Default)]
struct Entries {
    /// Single relations by (`userId`, `toUserId`).
    relations: HashMap<(i32, i32), Entry>,
    /// Per user: when read, and the users it refuses messages from (sorted).
    refusals: HashMap<i32, (Instant, Arc<[i32]>)>,
}

/// [`FriendStore`] with `get_friend` and `refuses` cached; see the module documentation.
pub struct CachedRelations {
    inner: Arc<dyn FriendStore>,
    entries: Mutex<Entries>,
    /// Bumped by every write: a read that overlapped a write does not fill the cache.
    generation: AtomicU64,
}

impl CachedRelations {
    /// Wraps a relation port.
    pub fn new(inner: Arc<dyn FriendStore>) -> CachedRelations {
        CachedRelations {
            inner,
            entries: Mutex::new(Entries::default()),
            generation: AtomicU64::new(0),
        }
    }

    fn forget(&self, key: Option<(i32, i32)>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.lock().expect("relations lock");
        match key {
            Some(k) => {
                entries.relations.remove(&k);
                entries.refusals.remove(&k.0);
            }
            None => *entries = Entries::default(),
        }
    }
}

#[async_trait]
impl FriendStore for CachedRelations {
    async fn get_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<Option<Friend>> {
        let key = (user_id, to_user_id);
        if let Some((at, f)) = self
            .entries
            .lock()
            .expect("relations lock")
            .relations
            .get(&key)
        {
            if at.elapsed() < TTL {
                return Ok(f.clone());
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let f = self.inner.get_friend(user_id, to_user_id).await?;
        let mut entries = self.entries.lock().expect("relations lock");
        if self.generation.load(Ordering::SeqCst) == generation {
            if entries.relations.len() >= CAPACITY {
                entries.relations.clear();
            }
            entries.relations.insert(key, (Instant::now(), f.clone()));
        }
        Ok(f)
    }

    async fn refused_senders(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        self.inner.refused_senders(user_id).await
    }

    async fn refusers_of(&self, user_id: i32) -> StoreResult<Vec<i32>> {
        self.inner.refusers_of(user_id).await
    }

    async fn refuses(&self, user_id: i32, sender: i32) -> StoreResult<bool> {
        let cached = self
            .entries
            .lock()
            .expect("relations lock")
            .refusals
            .get(&user_id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, ids)| ids.clone());
        let ids = match cached {
            Some(ids) => ids,
            None => {
                let generation = self.generation.load(Ordering::SeqCst);
                let mut ids = self.inner.refused_senders(user_id).await?;
                ids.sort_unstable();
                ids.dedup();
                let ids: Arc<[i32]> = ids.into();
                let mut entries = self.entries.lock().expect("relations lock");
                if self.generation.load(Ordering::SeqCst) == generation {
                    if entries.refusals.len() >= CAPACITY {
                        entries.refusals.clear();
                    }
                    entries
                        .refusals
                        .insert(user_id, (Instant::now(), ids.clone()));
                }
                ids
            }
        };
        Ok(ids.binary_search(&sender).is_ok())
    }

    async fn put_friend(&self, friend: &Friend) -> StoreResult<()> {
        let r = self.inner.put_friend(friend).await;
        self.forget(Some((friend.user_id, friend.to_user_id)));
        r
    }

    async fn count_friends(&self, user_id: i32, status: Option<i32>) -> StoreResult<u64> {
        self.inner.count_friends(user_id, status).await
    }

    async fn update_friends_to(&self, to_user_id: i32, patch: &Patch) -> StoreResult<()> {
        let r = self.inner.update_friends_to(to_user_id, patch).await;
        self.forget(None);
        r
    }

    async fn query_friends(&self, q: &FriendQuery) -> StoreResult<Vec<Friend>> {
        self.inner.query_friends(q).await
    }

    async fn remark_names(&self, user_id: i32) -> StoreResult<Vec<(i32, String)>> {
        self.inner.remark_names(user_id).await
    }

    async fn count_matching(&self, q: &FriendQuery) -> StoreResult<u64> {
        self.inner.count_matching(q).await
    }

    async fn update_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Friend>> {
        let r = self.inner.update_friend(user_id, to_user_id, patch).await;
        self.forget(Some((user_id, to_user_id)));
        r
    }

    async fn delete_friend(&self, user_id: i32, to_user_id: i32) -> StoreResult<bool> {
        let r = self.inner.delete_friend(user_id, to_user_id).await;
        self.forget(Some((user_id, to_user_id)));
        r
    }

    async fn followers(
        &self,
        to_user_id: i32,
        status: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Friend>> {
        self.inner.followers(to_user_id, status, skip, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn friend(user_id: i32, to_user_id: i32, blacklist: i32) -> Friend {
        let mut f: Friend = serde_json::from_value(serde_json::json!({
            "userId": user_id, "toUserId": to_user_id, "status": 2
        }))
        .unwrap();
        f.blacklist = blacklist;
        f
    }

    #[tokio::test]
    async fn writes_through_the_cache_are_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let cached = CachedRelations::new(adapter.clone());
        assert!(cached.get_friend(1, 2).await.unwrap().is_none());
        cached.put_friend(&friend(1, 2, 0)).await.unwrap();
        assert_eq!(cached.get_friend(1, 2).await.unwrap().unwrap().blacklist, 0);
        cached
            .update_friend(1, 2, &Patch::new().set("blacklist", 1))
            .await
            .unwrap();
        assert_eq!(cached.get_friend(1, 2).await.unwrap().unwrap().blacklist, 1);
        // A change behind the cache's back (another node) shows once the entry expires.
        adapter.delete_friend(1, 2).await.unwrap();
        assert!(cached.get_friend(1, 2).await.unwrap().is_some());
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert!(cached.get_friend(1, 2).await.unwrap().is_none());
        cached.put_friend(&friend(1, 2, 0)).await.unwrap();
        cached.delete_friend(1, 2).await.unwrap();
        assert!(cached.get_friend(1, 2).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refusals_follow_blacklist_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let cached = CachedRelations::new(adapter.clone());
        assert!(!cached.refuses(1, 2).await.unwrap());
        cached.put_friend(&friend(1, 2, 1)).await.unwrap();
        let mut blocked = friend(1, 3, 0);
        blocked.status = -1;
        cached.put_friend(&blocked).await.unwrap();
        cached.put_friend(&friend(1, 4, 0)).await.unwrap();
        assert!(cached.refuses(1, 2).await.unwrap());
        assert!(cached.refuses(1, 3).await.unwrap());
        assert!(!cached.refuses(1, 4).await.unwrap());
        assert!(!cached.refuses(2, 1).await.unwrap());
        assert_eq!(adapter.refused_senders(1).await.unwrap().len(), 2);
        // The uncached port answers the same.
        for (user, sender) in [(1, 2), (1, 3), (1, 4), (2, 1)] {
            assert_eq!(
                adapter.refuses(user, sender).await.unwrap(),
                cached.refuses(user, sender).await.unwrap()
            );
        }
        // A write through the cache is seen at once, one behind it after the TTL.
        cached
            .update_friend(1, 2, &Patch::new().set("blacklist", 0))
            .await
            .unwrap();
        assert!(!cached.refuses(1, 2).await.unwrap());
        adapter.put_friend(&friend(1, 4, 1)).await.unwrap();
        assert!(!cached.refuses(1, 4).await.unwrap());
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert!(cached.refuses(1, 4).await.unwrap());
    }
}
