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
pub mod session;
pub mod tcp;
pub mod websocket;
pub mod xml;

use xml::Element;

/// Namespaces the gateway speaks.
pub mod ns {
    pub const CLIENT: &str = "jabber:client";
    pub const STREAM: &str = "http://etherx.jabber.org/streams";
    pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
    pub const STREAMS_ERR: &str = "urn:ietf:params:xml:ns:xmpp-streams";
    pub const STANZAS_ERR: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
    pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
    pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
    pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
    pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
    pub const PING: &str = "urn:xmpp:ping";
    pub const RECEIPTS: &str = "urn:xmpp:receipts";
    pub const DELAY: &str = "urn:xmpp:delay";
    pub const SHIKU_ACK: &str = "xmpp:shiku:ack";
    pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
    pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
    pub const ROSTER: &str = "jabber:iq:roster";
    pub const MUC: &str = "http://jabber.org/protocol/muc";
    pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
    pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
    pub const DATA: &str = "jabber:x:data";
    pub const HTTPBIND: &str = "http://jabber.org/protocol/httpbind";
    pub const XBOSH: &str = "urn:xmpp:xbosh";
}

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

/// A stream-level error (RFC 6120 4.9): the transport writes it and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// Defined condition, e.g. `conflict`, `not-well-formed`, `policy-violation`.
    pub condition: &'static str,
    pub text: Option<String>,
}

impl StreamError {
    /// An error with a condition and an explanatory text.
    pub fn new(condition: &'static str, text: impl Into<String>) -> StreamError {
        StreamError {
            condition,
            text: Some(text.into()),
        }
    }

    /// The `<stream:error>` element (prefix `stream`, as every framing writes it).
    pub fn to_element(&self) -> Element {
        let mut e = Element::new("stream:error");
        e.push(Element::new(self.condition).attr("xmlns", ns::STREAMS_ERR));
        if let Some(t) = &self.text {
            e.push(
                Element::new("text")
                    .attr("xmlns", ns::STREAMS_ERR)
                    .text(t.clone()),
            );
        }
        e
    }
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
