//! Live delivery, below the domain: which user resources are connected on this node, and the
//! per-session channels stanzas are handed to. It knows sessions as opaque senders, never a
//! protocol; the gateways (XMPP, Shiku's binary WebSocket) translate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// A session's own reminder to write the next batch of its offline queue: it arrives after
    /// the previous batch was written, so that batch can leave the queue.
    OfflineNext,
    /// The session's queue outgrew `xmpp.session_queue_bytes` (its client does not read fast
    /// enough); the session is already unregistered and must close. Messages that did not fit
    /// were not counted as delivered, so they went to the offline queue.
    Overflow,
}

impl Push {
    /// Whether the session must close after writing this.
    pub fn ends_session(&self) -> bool {
        !matches!(self, Push::Message(_) | Push::OfflineNext)
    }
}

impl Push {
    /// Bytes this push holds while queued (messages only; control pushes are not counted).
    fn queued_bytes(&self) -> usize {
        match self {
            Push::Message(d) => {
                // The fixed part of a delivery and its strings.
                128 + d.body.len() + d.from.len() + d.to.len() + d.message_id.len()
            }
            _ => 0,
        }
    }
}

/// 1:1 deliveries a session wrote and its client has not confirmed yet (XMPP stream
/// management, Shiku receipts), counted and sized: a session that holds more than its limits
/// is ended and they go back to the offline queue.
#[derive(Debug, Default)]
pub struct Unacked {
    items: std::collections::VecDeque<Delivery>,
    bytes: usize,
}

impl Unacked {
    /// Remembers `d` until it is confirmed.
    pub fn push(&mut self, d: Delivery) {
        self.bytes += d.body.len();
        self.items.push_back(d);
    }

    /// Forgets the deliveries whose messageId is in `ids`.
    pub fn confirm(&mut self, ids: &std::collections::HashSet<&str>) {
        self.items.retain(|d| !ids.contains(d.message_id.as_str()));
        self.bytes = self.items.iter().map(|d| d.body.len()).sum();
    }

    /// Whether more than `count` deliveries or `bytes` of bodies wait.
    pub fn over(&self, count: usize, bytes: usize) -> bool {
        self.items.len() > count || self.bytes > bytes
    }

    /// Everything still unconfirmed, oldest first.
    pub fn take(&mut self) -> Vec<Delivery> {
        self.bytes = 0;
        std::mem::take(&mut self.items).into()
    }
}

/// What the two halves of a session's channel share.
struct Queue {
    /// Bytes of messages sent and not yet received.
    bytes: AtomicUsize,
    /// Set once a message did not fit: nothing more is accepted.
    overflowed: AtomicBool,
    limit: usize,
}

/// Why a push was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is gone.
    Closed,
    /// The session's queue is full (its client is too slow); it has been told to close.
    Full,
}

/// The sending half a session registers with: queues pushes up to a number of bytes.
#[derive(Clone)]
pub struct PushSender {
    tx: mpsc::UnboundedSender<Push>,
    queue: Arc<Queue>,
}

/// The receiving half a session reads its pushes from.
pub struct PushReceiver {
    rx: mpsc::UnboundedReceiver<Push>,
    queue: Arc<Queue>,
}

/// A session's push channel holding at most `limit_bytes` of undelivered messages.
pub fn push_channel(limit_bytes: usize) -> (PushSender, PushReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Queue {
        bytes: AtomicUsize::new(0),
        overflowed: AtomicBool::new(false),
        limit: limit_bytes,
    });
    (
        PushSender {
            tx,
            queue: queue.clone(),
        },
        PushReceiver { rx, queue },
    )
}

impl PushSender {
    /// Queues `push`. A message that would take the queue over its limit is refused, and the
    /// session is sent [`Push::Overflow`] instead (once); control pushes always go through.
    pub fn send(&self, push: Push) -> Result<(), SendError> {
        let size = push.queued_bytes();
        if size > 0 {
            if self.queue.overflowed.load(Ordering::Acquire) {
                return Err(SendError::Full);
            }
            let before = self.queue.bytes.fetch_add(size, Ordering::AcqRel);
            if before + size > self.queue.limit {
                self.queue.bytes.fetch_sub(size, Ordering::AcqRel);
                if !self.queue.overflowed.swap(true, Ordering::AcqRel) {
                    let _ = self.tx.send(Push::Overflow);
                }
                return Err(SendError::Full);
            }
        }
        self.tx.send(push).map_err(|e| {
            self.queue
                .bytes
                .fetch_sub(e.0.queued_bytes(), Ordering::AcqRel);
            SendError::Closed
        })
    }
}

impl PushReceiver {
    /// The next push; `None` once every sender is gone (or after [`PushReceiver::close`]).
    pub async fn recv(&mut self) -> Option<Push> {
        let p = self.rx.recv().await?;
        self.taken(&p);
        Some(p)
    }

    /// The next push if one is queued.
    pub fn try_recv(&mut self) -> Option<Push> {
        let p = self.rx.try_recv().ok()?;
        self.taken(&p);
        Some(p)
    }

    /// Refuses further pushes; those already queued can still be taken.
    pub fn close(&mut self) {
        self.rx.close();
    }

    fn taken(&self, p: &Push) {
        self.queue
            .bytes
            .fetch_sub(p.queued_bytes(), Ordering::AcqRel);
    }
}

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
    /// Sessions whose channel is closed, or full (a client that stopped reading), are dropped:
    /// what they did not take is not counted, so a 1:1 message goes to the offline queue.
    pub fn deliver(&self, user_id: i32, d: &Delivery, except: Option<SessionId>) -> usize {
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
        let (tx1, mut rx1) = push_channel(usize::MAX);
        let (tx2, mut rx2) = push_channel(usize::MAX);
        let a = r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        assert_eq!(r.deliver(2, &d(), Some(a)), 1);
        assert!(rx1.try_recv().is_none());
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
    fn a_full_queue_drops_the_session_and_counts_nothing() {
        let r = Router::new();
        let size = Push::Message(Box::new(d())).queued_bytes();
        let (tx, mut rx) = push_channel(size * 2);
        r.register(2, "web", tx);
        assert_eq!(r.deliver(2, &d(), None), 1);
        assert_eq!(r.deliver(2, &d(), None), 1);
        // The third does not fit: not delivered, the session is unregistered and told.
        assert_eq!(r.deliver(2, &d(), None), 0);
        assert!(!r.is_online(2));
        assert!(matches!(rx.try_recv(), Some(Push::Message(_))));
        assert!(matches!(rx.try_recv(), Some(Push::Message(_))));
        assert_eq!(rx.try_recv(), Some(Push::Overflow));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn kick_ends_the_named_resource_or_all() {
        let r = Router::new();
        let (tx1, mut rx1) = push_channel(usize::MAX);
        let (tx2, mut rx2) = push_channel(usize::MAX);
        let (tx3, mut rx3) = push_channel(usize::MAX);
        r.register(2, "web", tx1);
        r.register(2, "android", tx2);
        let c = r.register(2, "web", tx3);
        assert_eq!(r.kick(2, Some("web"), Some(c)), 1);
        assert_eq!(rx1.try_recv().unwrap(), Push::Conflict);
        assert!(rx3.try_recv().is_none());
        assert_eq!(r.kick(2, None, Some(c)), 1);
        assert_eq!(rx2.try_recv().unwrap(), Push::Conflict);
        assert_eq!(r.resources(2), vec!["web".to_string()]);
    }
}
