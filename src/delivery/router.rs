//! The router: this node's sessions, and (in cluster mode) the shared directory of every
//! node's sessions and the bus to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::broadcast;

use super::bus::{self, Local};
use super::push::{Delivery, Push, PushSender, SendError, SessionId};
use crate::config::ClusterConfig;
use crate::store::{SessionEntry, SessionStore, StoreResult};

struct Session {
    id: SessionId,
    resource: String,
    tx: PushSender,
}

/// What a session's close leaves behind, over every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// The user has no session left anywhere: they are offline.
    pub last: bool,
    /// Another session (a newer login on the same resource) holds the resource now.
    pub resource_taken: bool,
}

/// Where some users are connected on other nodes, as the directory said a moment ago (this
/// node's own sessions are always looked up live).
#[derive(Debug, Default)]
pub struct Located {
    remote: HashMap<i32, Vec<String>>,
}

/// What the bus tells the domain about other nodes' changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The console's `/config` values were changed on another node: reload them.
    SettingsChanged,
}

/// The cluster half of the router: the shared directory and the bus (cluster mode only).
struct Cluster {
    directory: Arc<dyn SessionStore>,
    bus: Arc<bus::Bus>,
}

/// Who is connected where: this node's sessions, and (in cluster mode) the directory of every
/// node's sessions and the bus to them. The domain and the gateways call the async methods and
/// never learn whether a session is local.
pub struct Router {
    next_id: AtomicU64,
    sessions: RwLock<HashMap<i32, Vec<Session>>>,
    /// This node's id (`cluster.node_id`).
    node: String,
    cluster: OnceLock<Cluster>,
    events: broadcast::Sender<ClusterEvent>,
}

impl Router {
    /// A router for one node, no cluster yet.
    pub fn new(node: &str) -> Arc<Router> {
        Arc::new(Router {
            next_id: AtomicU64::new(0),
            sessions: RwLock::default(),
            node: node.to_string(),
            cluster: OnceLock::new(),
            events: broadcast::channel(16).0,
        })
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Joins the cluster: sessions are recorded in `directory`, traffic for other nodes goes
    /// over NATS (`cluster.nats_url`). The bus connects in the background when NATS is not
    /// reachable yet; until then other nodes' users get their messages through the offline
    /// queue.
    pub async fn join_cluster(
        self: &Arc<Self>,
        cfg: &ClusterConfig,
        directory: Arc<dyn SessionStore>,
    ) -> Result<(), String> {
        let local: Arc<dyn Local> = self.clone();
        let bus = bus::Bus::connect(cfg, &self.node, Arc::downgrade(&local)).await?;
        self.cluster
            .set(Cluster { directory, bus })
            .map_err(|_| "the router joined a cluster twice".to_string())
    }

    /// Whether this node is one of several.
    pub fn clustered(&self) -> bool {
        self.cluster.get().is_some()
    }

    /// Whether the bus is connected (always true for a single node).
    pub fn bus_connected(&self) -> bool {
        self.cluster.get().is_none_or(|c| c.bus.connected())
    }

    /// Events other nodes sent (settings changed).
    pub fn events(&self) -> broadcast::Receiver<ClusterEvent> {
        self.events.subscribe()
    }

    // ---- sessions opening and closing -----------------------------------------------------

    /// Registers a connected resource of `user_id` (deliveries arrive on `tx`) and ends the
    /// older sessions it replaces on every node: the same resource, or every other one when
    /// the user allows one device. Registered first, then the others end: a message sent
    /// meanwhile reaches one of them rather than falling between the two.
    pub async fn open(
        &self,
        user_id: i32,
        resource: &str,
        tx: PushSender,
        single_device: bool,
    ) -> StoreResult<SessionId> {
        let me = self.register(user_id, resource, tx);
        if let Some(c) = self.cluster.get() {
            let entry = SessionEntry {
                node: self.node.clone(),
                session: me,
                user_id,
                resource: resource.to_string(),
                since: now_ms(),
            };
            if let Err(e) = c.directory.put_session(&entry).await {
                self.unregister(user_id, me);
                return Err(e);
            }
        }
        let resource = (!single_device).then_some(resource);
        self.kick_local(user_id, resource, Some(me));
        if let Some(c) = self.cluster.get() {
            c.bus.kick(user_id, resource).await;
        }
        Ok(me)
    }

    /// Forgets a session and tells what it leaves behind, over every node.
    pub async fn close(&self, user_id: i32, id: SessionId, resource: &str) -> Closed {
        self.unregister(user_id, id);
        let local = self.local_resources(user_id);
        let mut closed = Closed {
            last: local.is_empty(),
            resource_taken: local.iter().any(|r| r == resource),
        };
        if let Some(c) = self.cluster.get() {
            if let Err(e) = c.directory.remove_session(&self.node, id).await {
                // The dead-node sweep cannot clear it while this node lives: it would stay
                // online. Logged; the next close of the user's sessions tries again.
                tracing::error!(error = %e, user_id, "session not removed from the directory");
            }
            match c.directory.sessions_of(&[user_id]).await {
                Ok(all) => {
                    let others = all.iter().filter(|e| e.node != self.node);
                    for e in others {
                        closed.last = false;
                        closed.resource_taken |= e.resource == resource;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "directory not readable: user left online");
                    closed.last = false;
                }
            }
        }
        closed
    }

    /// The resources `user_id` is connected with, on every node.
    pub async fn resources(&self, user_id: i32) -> Vec<String> {
        let mut all = self.local_resources(user_id);
        if let Some(c) = self.cluster.get() {
            match c.directory.sessions_of(&[user_id]).await {
                Ok(entries) => all.extend(
                    entries
                        .into_iter()
                        .filter(|e| e.node != self.node)
                        .map(|e| e.resource),
                ),
                Err(e) => tracing::warn!(error = %e, "directory not readable"),
            }
        }
        all
    }

    /// Ends every session of `user_id` on `resource` (every resource when `None`) on every
    /// node (console lock, delete, kick). Returns how many ended on this node.
    pub async fn kick(&self, user_id: i32, resource: Option<&str>) -> usize {
        let n = self.kick_local(user_id, resource, None);
        if let Some(c) = self.cluster.get() {
            c.bus.kick(user_id, resource).await;
        }
        n
    }

    /// Tells the other nodes that the console's settings changed.
    pub async fn settings_changed(&self) {
        if let Some(c) = self.cluster.get() {
            c.bus.settings_changed().await;
        }
    }

    // ---- delivery -------------------------------------------------------------------------

    /// Looks up which other nodes hold sessions of `users` (nothing to look up on one node).
    pub async fn locate(&self, users: &[i32]) -> StoreResult<Located> {
        let mut at = Located::default();
        if let Some(c) = self.cluster.get() {
            for e in c.directory.sessions_of(users).await? {
                if e.node != self.node {
                    let nodes = at.remote.entry(e.user_id).or_default();
                    if !nodes.contains(&e.node) {
                        nodes.push(e.node);
                    }
                }
            }
        }
        Ok(at)
    }

    /// Whether `user_id` has a session here, or had one elsewhere when `at` was looked up.
    pub fn is_online(&self, at: &Located, user_id: i32) -> bool {
        self.is_local(user_id) || at.remote.contains_key(&user_id)
    }

    /// Hands `d` to every session of `user_id` on every node, except the session `except` (on
    /// this node); returns how many took it. A node that does not answer counts nothing.
    pub async fn deliver(
        &self,
        at: &Located,
        user_id: i32,
        d: &Delivery,
        except: Option<SessionId>,
    ) -> usize {
        let mut n = self.deliver_local(user_id, d, except);
        if let (Some(c), Some(nodes)) = (self.cluster.get(), at.remote.get(&user_id)) {
            let users = [user_id];
            let asks = nodes.iter().map(|node| c.bus.deliver(node, &users, d));
            n += futures_util::future::join_all(asks)
                .await
                .into_iter()
                .sum::<usize>();
        }
        n
    }

    /// [`Router::deliver`] to each of `users` (a room's members), one request per other node
    /// that holds any of them.
    pub async fn deliver_each(
        &self,
        at: &Located,
        users: &[i32],
        d: &Delivery,
        except: Option<SessionId>,
    ) -> usize {
        let mut n = 0;
        let mut by_node: HashMap<&str, Vec<i32>> = HashMap::new();
        for &u in users {
            n += self.deliver_local(u, d, except);
            for node in at.remote.get(&u).into_iter().flatten() {
                by_node.entry(node.as_str()).or_default().push(u);
            }
        }
        if let Some(c) = self.cluster.get() {
            let asks = by_node
                .iter()
                .map(|(node, users)| c.bus.deliver(node, users, d));
            n += futures_util::future::join_all(asks)
                .await
                .into_iter()
                .sum::<usize>();
        }
        n
    }

    /// Something was queued for `user_id` while they may be connected (they logged in as it
    /// was stored, or their node did not answer): their sessions, on every node, read their
    /// offline queue again.
    pub async fn offline_waiting(&self, user_id: i32) {
        self.wake_local(user_id);
        if let Some(c) = self.cluster.get() {
            match c.directory.sessions_of(&[user_id]).await {
                Ok(entries) => {
                    let mut nodes: Vec<&str> = entries
                        .iter()
                        .map(|e| e.node.as_str())
                        .filter(|n| *n != self.node)
                        .collect();
                    nodes.sort_unstable();
                    nodes.dedup();
                    for node in nodes {
                        c.bus.offline_waiting(node, user_id).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "directory not readable"),
            }
        }
    }

    /// Re-records every session of this node in the directory (after a survivor declared the
    /// node dead while it was only slow); answers what it recorded.
    pub async fn rewrite_directory(&self) -> StoreResult<Vec<SessionEntry>> {
        let Some(c) = self.cluster.get() else {
            return Ok(Vec::new());
        };
        let entries: Vec<SessionEntry> = {
            let map = self.sessions.read().expect("router lock");
            let since = now_ms();
            map.iter()
                .flat_map(|(uid, list)| {
                    list.iter().map(move |s| SessionEntry {
                        node: self.node.clone(),
                        session: s.id,
                        user_id: *uid,
                        resource: s.resource.clone(),
                        since,
                    })
                })
                .collect()
        };
        for e in &entries {
            c.directory.put_session(e).await?;
        }
        Ok(entries)
    }

    // ---- this node ------------------------------------------------------------------------

    /// Registers a connected resource of `user_id` on this node; deliveries arrive on `tx`.
    pub fn register(&self, user_id: i32, resource: &str, tx: PushSender) -> SessionId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.sessions
            .write()
            .expect("router lock")
            .entry(user_id)
            // Most users have one resource: room for one, not the default first growth of four.
            .or_insert_with(|| Vec::with_capacity(1))
            .push(Session {
                id,
                resource: resource.to_string(),
                tx,
            });
        id
    }

    /// Forgets a session of this node; returns true when it was the user's last one here.
    pub fn unregister(&self, user_id: i32, id: SessionId) -> bool {
        let mut map = self.sessions.write().expect("router lock");
        if let Some(list) = map.get_mut(&user_id) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                map.remove(&user_id);
                return true;
            }
            return false;
        }
        true
    }

    /// Hands `d` to every session of `user_id` on this node except `except`; returns how many
    /// took it. Sessions whose channel is closed, or full (a client that stopped reading), are
    /// dropped: what they did not take is not counted, so a 1:1 message goes to the offline
    /// queue.
    pub fn deliver_local(&self, user_id: i32, d: &Delivery, except: Option<SessionId>) -> usize {
        let mut dead = Vec::new();
        let mut n = 0;
        if let Some(list) = self.sessions.read().expect("router lock").get(&user_id) {
            for s in list.iter().filter(|s| Some(s.id) != except) {
                match s.tx.send(Push::Message(Box::new(d.clone()))) {
                    Ok(()) => n += 1,
                    Err(SendError::Full) => {
                        tracing::info!(user_id, resource = %s.resource, "session too slow: closed");
                        dead.push(s.id);
                    }
                    Err(SendError::Closed) => dead.push(s.id),
                }
            }
        }
        for id in dead {
            self.unregister(user_id, id);
        }
        n
    }

    /// Ends the sessions of `user_id` on this node on `resource` (every resource when `None`),
    /// except `except`: each is unregistered and told [`Push::Conflict`]. Returns how many.
    pub fn kick_local(
        &self,
        user_id: i32,
        resource: Option<&str>,
        except: Option<SessionId>,
    ) -> usize {
        let mut map = self.sessions.write().expect("router lock");
        let Some(list) = map.get_mut(&user_id) else {
            return 0;
        };
        let mut n = 0;
        list.retain(|s| {
            let hit = Some(s.id) != except && resource.is_none_or(|r| r == s.resource);
            if hit {
                let _ = s.tx.send(Push::Conflict);
                n += 1;
            }
            !hit
        });
        if list.is_empty() {
            map.remove(&user_id);
        }
        n
    }

    /// Tells the sessions of `user_id` on this node to read their offline queue.
    fn wake_local(&self, user_id: i32) {
        if let Some(list) = self.sessions.read().expect("router lock").get(&user_id) {
            for s in list {
                let _ = s.tx.send(Push::OfflineWaiting);
            }
        }
    }

    /// Tells every session on this node to read its offline queue (the bus came back: what
    /// other nodes queued meanwhile is there).
    fn wake_all_local(&self) {
        for s in self
            .sessions
            .read()
            .expect("router lock")
            .values()
            .flatten()
        {
            let _ = s.tx.send(Push::OfflineWaiting);
        }
    }

    /// Tells every session on this node that the server is stopping ([`Push::Shutdown`]); each
    /// unregisters itself as it closes. Returns how many were told.
    pub fn shutdown_all(&self) -> usize {
        let map = self.sessions.read().expect("router lock");
        let mut n = 0;
        for s in map.values().flatten() {
            if s.tx.send(Push::Shutdown).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Sessions registered on this node.
    pub fn session_count(&self) -> usize {
        self.sessions
            .read()
            .expect("router lock")
            .values()
            .map(Vec::len)
            .sum()
    }

    /// The resources `user_id` is connected with on this node.
    pub fn local_resources(&self, user_id: i32) -> Vec<String> {
        self.sessions
            .read()
            .expect("router lock")
            .get(&user_id)
            .map(|l| l.iter().map(|s| s.resource.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `user_id` has a session on this node.
    pub fn is_local(&self, user_id: i32) -> bool {
        self.sessions
            .read()
            .expect("router lock")
            .contains_key(&user_id)
    }
}

impl Local for Router {
    fn deliver(&self, user_id: i32, d: &Delivery) -> usize {
        self.deliver_local(user_id, d, None)
    }

    fn kick(&self, user_id: i32, resource: Option<&str>) {
        self.kick_local(user_id, resource, None);
    }

    fn wake(&self, user_id: i32) {
        self.wake_local(user_id);
    }

    fn wake_all(&self) {
        self.wake_all_local();
    }

    fn settings_changed(&self) {
        let _ = self.events.send(ClusterEvent::SettingsChanged);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::push::{push_channel, ChatType};

    fn d() -> Delivery {
        Delivery {
            chat_type: ChatType::Single,
            from: "1/web".into(),
            to: "2".into(),
            message_id: "m".into(),
            body: "{}".into(),
            offline: false,
            ts: 0,
        }
    }

    #[test]
    fn delivers_to_every_resource_but_the_origin() {
        let r = Router::new("n1");
        let (tx1, mut rx1) = push_channel(usize::MAX);
        let (tx2, mut rx2) = push_channel(usize::MAX);
        let a = r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        assert_eq!(r.deliver_local(2, &d(), Some(a)), 1);
        assert!(rx1.try_recv().is_none());
        assert_eq!(rx2.try_recv().unwrap(), Push::Message(Box::new(d())));
        assert_eq!(r.deliver_local(3, &d(), None), 0);
        assert_eq!(r.local_resources(2).len(), 2);
        drop(rx2);
        assert_eq!(r.deliver_local(2, &d(), None), 1);
        assert_eq!(r.local_resources(2), vec!["web".to_string()]);
        assert!(r.unregister(2, a));
        assert!(!r.is_local(2));
    }

    #[test]
    fn a_full_queue_drops_the_session_and_counts_nothing() {
        let r = Router::new("n1");
        let size = Push::Message(Box::new(d())).queued_bytes();
        let (tx, mut rx) = push_channel(size * 2);
        r.register(2, "web", tx);
        assert_eq!(r.deliver_local(2, &d(), None), 1);
        assert_eq!(r.deliver_local(2, &d(), None), 1);
        // The third does not fit: not delivered, the session is unregistered and told.
        assert_eq!(r.deliver_local(2, &d(), None), 0);
        assert!(!r.is_local(2));
        assert!(matches!(rx.try_recv(), Some(Push::Message(_))));
        assert!(matches!(rx.try_recv(), Some(Push::Message(_))));
        assert_eq!(rx.try_recv(), Some(Push::Overflow));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn kick_ends_the_named_resource_or_all() {
        let r = Router::new("n1");
        let (tx1, mut rx1) = push_channel(usize::MAX);
        let (tx2, mut rx2) = push_channel(usize::MAX);
        let (tx3, mut rx3) = push_channel(usize::MAX);
        r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        let c = r.register(2, "web", tx3);
        assert_eq!(r.kick_local(2, Some("web"), Some(c)), 1);
        assert_eq!(rx1.try_recv().unwrap(), Push::Conflict);
        assert!(rx3.try_recv().is_none());
        assert_eq!(r.kick_local(2, None, Some(c)), 1);
        assert_eq!(rx2.try_recv().unwrap(), Push::Conflict);
        assert_eq!(r.local_resources(2), vec!["web".to_string()]);
    }
}
