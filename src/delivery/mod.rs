//! Live delivery, below the domain: which user resources are connected on this node, and the
//! per-session channels stanzas are handed to. It knows sessions as opaque senders, never a
//! protocol; the gateways (XMPP, Shiku's binary WebSocket) translate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Single chat or room chat (`messageHead.chatType` 1 / 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatType {
    Single,
    Group,
}

/// One message on its way to a session, protocol-neutral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub chat_type: ChatType,
    /// The sender as `<userId>/<resource>` (`10005/Server` for notifications).
    pub from: String,
    /// The addressee: a userId, or a room jid for group messages.
    pub to: String,
    pub message_id: String,
    /// The message body JSON, as stored.
    pub body: String,
    /// True when it comes out of the offline queue.
    pub offline: bool,
    /// Server time it was accepted, ms.
    pub ts: i64,
}

/// Identifies one connected session on this node.
pub type SessionId = u64;

/// What the router hands a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// A message to write to the client (boxed: the channel allocates its slots for the
    /// largest variant up front, 32 at a time, for every connected session).
    Message(Box<Delivery>),
    /// Another login took this session's place (XMPP `conflict`, Shiku `LOGIN_CONFLICT`); the
    /// session is already unregistered and must close.
    Conflict,
    /// The server is stopping: the session tells its client (XMPP `system-shutdown`) and closes.
    Shutdown,
}

impl Push {
    /// Whether the session must close after writing this.
    pub fn ends_session(&self) -> bool {
        !matches!(self, Push::Message(_))
    }
}

/// The sending half a session registers with.
pub type PushSender = mpsc::UnboundedSender<Push>;

struct Session {
    id: SessionId,
    resource: String,
    tx: PushSender,
}

/// Who is connected where, on this node.
#[derive(Default)]
pub struct Router {
    next_id: AtomicU64,
    sessions: RwLock<HashMap<i32, Vec<Session>>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Arc<Router> {
        Arc::new(Router::default())
    }

    /// Registers a connected resource of `user_id`; deliveries arrive on `tx`.
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

    /// Forgets a session; returns true when it was the user's last one on this node.
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

    /// Hands `d` to every live session of `user_id` except `except`; returns how many took it.
    /// Sessions whose channel is closed are dropped.
    pub fn deliver(&self, user_id: i32, d: &Delivery, except: Option<SessionId>) -> usize {
        let mut dead = Vec::new();
        let mut n = 0;
        if let Some(list) = self.sessions.read().expect("router lock").get(&user_id) {
            for s in list.iter().filter(|s| Some(s.id) != except) {
                if s.tx.send(Push::Message(Box::new(d.clone()))).is_ok() {
                    n += 1;
                } else {
                    dead.push(s.id);
                }
            }
        }
        for id in dead {
            self.unregister(user_id, id);
        }
        n
    }

    /// Ends the sessions of `user_id` on `resource` (every resource when `None`), except
    /// `except`: each is unregistered and told [`Push::Conflict`]. Returns how many ended.
    pub fn kick(&self, user_id: i32, resource: Option<&str>, except: Option<SessionId>) -> usize {
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
    pub fn resources(&self, user_id: i32) -> Vec<String> {
        self.sessions
            .read()
            .expect("router lock")
            .get(&user_id)
            .map(|l| l.iter().map(|s| s.resource.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `user_id` has a session on this node.
    pub fn is_online(&self, user_id: i32) -> bool {
        self.sessions
            .read()
            .expect("router lock")
            .contains_key(&user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = Router::new();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let a = r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        assert_eq!(r.deliver(2, &d(), Some(a)), 1);
        assert!(rx1.try_recv().is_err());
        assert_eq!(rx2.try_recv().unwrap(), Push::Message(Box::new(d())));
        assert_eq!(r.deliver(3, &d(), None), 0);
        assert_eq!(r.resources(2).len(), 2);
        drop(rx2);
        assert_eq!(r.deliver(2, &d(), None), 1);
        assert_eq!(r.resources(2), vec!["web".to_string()]);
        assert!(r.unregister(2, a));
        assert!(!r.is_online(2));
    }

    #[test]
    fn kick_ends_the_named_resource_or_all() {
        let r = Router::new();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let (tx3, mut rx3) = mpsc::unbounded_channel();
        r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        let c = r.register(2, "web", tx3);
        assert_eq!(r.kick(2, Some("web"), Some(c)), 1);
        assert_eq!(rx1.try_recv().unwrap(), Push::Conflict);
        assert!(rx3.try_recv().is_err());
        assert_eq!(r.kick(2, None, Some(c)), 1);
        assert_eq!(rx2.try_recv().unwrap(), Push::Conflict);
        assert_eq!(r.resources(2), vec!["web".to_string()]);
    }
}
