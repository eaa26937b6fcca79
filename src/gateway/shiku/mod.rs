//! Shiku's own binary WebSocket protocol (spec/clients.md 5.1–5.3), the live channel of the H5
//! and Vue clients of seed 002's generation: `[1-byte command][protobuf payload]` frames on
//! `ws://<XMPPHost>:5260` (any path) and `/im-websocket` on the API port.
//!
//! The same layering as [`super::xmpp`]: [`frame`] splits and builds frames, [`body`] maps
//! `ChatMessage` to and from the JSON body every other path stores, [`session`] is the protocol
//! core on the shared delivery router and domain, [`websocket`] is the transport.

pub mod body;
pub mod frame;
pub mod session;
pub mod websocket;

/// The protobuf messages of `proto/shiku.proto` (`package Message`), generated at build time.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/message.rs"));
}
