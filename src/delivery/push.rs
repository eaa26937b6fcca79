//! What a session is handed: deliveries and control pushes, and the bounded channel they
//! travel on (its queue counts the bytes of undelivered messages).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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
    /// Something waits in the user's offline queue although they are connected (it was queued
    /// as they logged in, or while their node was unreachable): read it unless already reading.
    OfflineWaiting,
}

impl Push {
    /// Whether the session must close after writing this.
    pub fn ends_session(&self) -> bool {
        !matches!(
            self,
            Push::Message(_) | Push::OfflineNext | Push::OfflineWaiting
        )
    }
}

impl Push {
    /// Bytes this push holds while queued (messages only; control pushes are not counted).
    pub(crate) fn queued_bytes(&self) -> usize {
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
