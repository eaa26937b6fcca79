//! Live delivery, below the domain: which user resources are connected, on this node and (in
//! cluster mode) on the others, and the per-session channels stanzas are handed to. It knows
//! sessions as opaque senders, never a protocol; the gateways (XMPP, Shiku's binary WebSocket)
//! translate. Other nodes are reached over the bus (`bus.rs`), found in the shared session
//! directory (`store::SessionStore`). Text messages to phones leave through `sms.rs`.

pub mod bus;
pub mod push;
pub mod router;
pub mod sms;

pub use push::{
    push_channel, ChatType, Delivery, Push, PushReceiver, PushSender, SendError, SessionId, Unacked,
};
pub use router::{Closed, ClusterEvent, Located, Router};
