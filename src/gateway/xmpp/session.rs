//! The XMPP protocol core, the same for every transport: stream features, SASL PLAIN, resource
//! binding, presence, 1:1 and group messages through `domain::messages::send`, receipts,
//! `xmpp:shiku:ack`, offline delivery, MUC as the Shiku clients use it.
//!
//! A session is owned by its transport's task (no lock is held across I/O); the router reaches
//! it through the [`Push`] channel returned by [`XmppSession::new`].

use std::sync::Arc;

use tokio::sync::mpsc;

use super::xml::Element;
use super::{Out, StreamError, StreamOpen, Transport};
use crate::delivery::{Push, PushSender};
use crate::domain::Ctx;

/// One client's XMPP session, from the first stream open to the end of the connection.
pub struct XmppSession {
    ctx: Arc<Ctx>,
    transport: Transport,
    peer_ip: Option<String>,
    tx: PushSender,
}

impl XmppSession {
    /// A new session before any stream; what the router pushes to it arrives on the receiver.
    pub fn new(
        ctx: Arc<Ctx>,
        transport: Transport,
        peer_ip: Option<String>,
    ) -> (XmppSession, mpsc::UnboundedReceiver<Push>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            XmppSession {
                ctx,
                transport,
                peer_ip,
                tx,
            },
            rx,
        )
    }

    /// STARTTLS completed on a TCP transport.
    pub fn set_tls(&mut self) {
        if let Transport::Tcp { tls, .. } = &mut self.transport {
            *tls = true;
        }
    }

    /// The client opened a stream (`to` = its `to` attribute): the header values and features
    /// for the current stage, or a stream error (`host-unknown`, ...).
    pub fn open_stream(&mut self, to: Option<&str>) -> Result<StreamOpen, StreamError> {
        let _ = (to, &self.ctx, &self.peer_ip, &self.tx);
        todo!("XMPP core in progress")
    }

    /// Handles one top-level element from the client.
    pub async fn handle(&mut self, element: Element) -> Vec<Out> {
        let _ = element;
        todo!("XMPP core in progress")
    }

    /// Renders what the router pushed to this session.
    pub async fn push(&mut self, push: Push) -> Vec<Out> {
        let _ = push;
        todo!("XMPP core in progress")
    }

    /// The connection ended (for any reason): called exactly once by the transport.
    pub async fn closed(&mut self) {
        todo!("XMPP core in progress")
    }

    /// The bound full JID (`<userId>@<domain>/<resource>`), for logs.
    pub fn jid(&self) -> Option<String> {
        None
    }
}
