//! XMPP for Shiku clients (the Tigase replacement): one protocol core ([`session`]) and three
//! front-ends that only frame bytes — RFC 7395 WebSocket ([`websocket`]), BOSH XEP-0124/0206
//! ([`bosh`]) and TCP c2s with STARTTLS ([`tcp`]). [`xml`] parses and writes the stanzas.
//!
//! A transport drives a session like this:
//! 1. on every stream open (first, after STARTTLS, after SASL success) it calls
//!    [`session::XmppSession::open_stream`] and writes the header/`<open/>` and the features;
//! 2. every top-level element from the client goes to [`session::XmppSession::handle`];
//! 3. every [`crate::delivery::Push`] from the session's receiver goes to
//!    [`session::XmppSession::push`];
//! 4. it writes what those return ([`Out`]) in order, and calls
//!    [`session::XmppSession::closed`] exactly once when the connection ends for any reason.

pub mod bosh;
pub mod muc;
pub mod ns;
pub mod session;
pub mod tcp;
pub mod websocket;
pub mod xml;

use xml::Element;
pub use xml::StreamError;

/// Which front-end carries a session (the core offers STARTTLS only on plain TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP c2s; `tls` once STARTTLS completed, `tls_available` when a certificate is loaded.
    Tcp {
        tls: bool,
        tls_available: bool,
    },
    WebSocket,
    Bosh,
}

/// What a transport must do after the core handled an input, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Write this element.
    Stanza(Element),
    /// STARTTLS accepted (`<proceed/>` is the preceding `Stanza`): upgrade the connection, then
    /// expect a new stream header. Only ever returned on [`Transport::Tcp`].
    StartTls,
    /// SASL succeeded (`<success/>` precedes it): the client opens a new stream next (TCP: reset
    /// the parser; WebSocket: a new `<open/>`; BOSH: `xmpp:restart`).
    Restart,
    /// Write the stream error and close.
    Error(StreamError),
    /// Close the stream gracefully (the client closed, or the session was ended).
    Close,
}

/// The session's answer to a stream open: the transport writes the header then `features`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOpen {
    /// Stream id (`id` attribute; BOSH uses its sid instead).
    pub id: String,
    /// The server's domain (`from` attribute).
    pub from: String,
    /// `<stream:features>` for the current stage.
    pub features: Element,
}
