//! RFC 7395 XMPP over WebSocket: sub-protocol `xmpp`, one element per text frame,
//! `<open/>`/`<close/>` framing in `urn:ietf:params:xml:ns:xmpp-framing`.
//!
//! One task per socket owns the [`XmppSession`] and selects between the client's frames, the
//! session's [`crate::delivery::Push`] receiver and an idle timer, so no lock is ever held
//! across I/O. The loop is written once over [`Socket`]: [`handler`] serves `/xmpp-websocket`
//! on the API port (actix-ws), [`serve`] the dedicated listener (tokio-tungstenite, lean).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::session::XmppSession;
use super::xml::{self, Element};
use super::{ns, Out, StreamError, Transport};
use crate::domain::Ctx;
use crate::gateway::ws::{self, ActixSocket, Incoming, RecvError, Socket, Upgrade};

/// The WebSocket sub-protocol RFC 7395 registers.
pub const SUBPROTOCOL: &str = "xmpp";

/// What a client that does not offer the sub-protocol is told (HTTP 400).
const REFUSAL: &str =
    "XMPP over WebSocket (RFC 7395) requires the WebSocket sub-protocol \"xmpp\" \
                       (Sec-WebSocket-Protocol: xmpp)\n";

/// HTTP handler: upgrades to an RFC 7395 XMPP WebSocket (any path it is mounted on).
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    ctx: web::Data<Ctx>,
) -> actix_web::Result<HttpResponse> {
    let offered = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok());
    if !ws::offers_subprotocol(offered, SUBPROTOCOL) {
        return Ok(HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(REFUSAL));
    }
    let (mut response, session, stream) = actix_ws::handle(&req, body)?;
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let ctx = ctx.into_inner();
    let socket = ActixSocket::new(
        session,
        stream,
        ctx.config.xmpp.max_stanza_bytes,
        Duration::from_secs(ctx.config.xmpp.write_timeout_secs),
    );
    let peer_ip = ws::actix_client_ip(&req, &ctx.config.trusted_proxies);
    // The message stream borrows actix's request payload (not `Send`): run on this worker.
    actix_web::rt::spawn(run(ctx, peer_ip, socket));
    Ok(response)
}

/// Serves RFC 7395 on a listener of its own (`xmpp.listen_websocket`, any path) until the
/// future is dropped.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let upgrade = Upgrade {
        subprotocol: Some(SUBPROTOCOL),
        refusal: REFUSAL,
        limit: ctx.config.xmpp.max_stanza_bytes,
        write_timeout: Duration::from_secs(ctx.config.xmpp.write_timeout_secs),
    };
    ws::serve(listener, ctx, upgrade, |ctx, socket, ip| {
        run(ctx, Some(ip), socket)
    })
    .await
}

/// What the connection loop does after writing an answer.
enum Next {
    Continue,
    Close,
}

/// The per-socket state the loop threads through.
struct Conn<S> {
    ws: S,
    session: XmppSession,
    ctx: Arc<Ctx>,
    /// True between a stream open and the next restart: stanzas are accepted.
    open: bool,
}

/// The protocol loop of one socket, whichever listener accepted it. The state is built before
/// the loop's future and moved into it once: an `async fn` would keep its `ws` argument in the
/// future beside the `Conn` it moved into (a few hundred bytes per idle session).
fn run<S: Socket>(ctx: Arc<Ctx>, peer_ip: Option<String>, ws: S) -> impl Future<Output = ()> {
    let (session, mut push_rx) = XmppSession::new(ctx.clone(), Transport::WebSocket, peer_ip);
    let idle = Duration::from_secs(ctx.config.xmpp.idle_timeout_secs.max(1));
    let mut conn = Conn {
        ws,
        session,
        ctx,
        open: false,
    };
    let auth_deadline =
        Instant::now() + Duration::from_secs(conn.ctx.config.xmpp.auth_timeout_secs.max(1));
    async move {
        let mut deadline = Instant::now() + idle;
        let mut pushes_open = true;
        // The protocol steps are boxed: an idle session's task then holds only this loop's state,
        // not room for the deepest message-path future (kilobytes per connection otherwise).
        loop {
            // Pushes first: a client sending flat out must not delay what it is being sent (each
            // of its messages waits for its commit before the next frame is read).
            // Before authentication the connection also has an absolute limit.
            let wake_at = if conn.session.is_authenticated() {
                deadline
            } else {
                deadline.min(auth_deadline)
            };
            let next = tokio::select! {
                biased;
                push = push_rx.recv(), if pushes_open => match push {
                    Some(p) => {
                        let outs = Box::pin(conn.session.push(p)).await;
                        Box::pin(conn.write_outs(outs)).await
                    }
                    None => {
                        pushes_open = false;
                        Next::Continue
                    }
                },
                frame = conn.ws.recv() => {
                    deadline = Instant::now() + idle;
                    match frame {
                        Some(Ok(msg)) => Box::pin(conn.frame(msg)).await,
                        Some(Err(e)) => Box::pin(conn.error(recv_error(e))).await,
                        // The client went away without a `<close/>`.
                        None => Next::Close,
                    }
                }
                _ = tokio::time::sleep_until(wake_at) => {
                    Box::pin(conn.error(StreamError::new(
                        "connection-timeout",
                        if wake_at < deadline {
                            "not authenticated in time".to_string()
                        } else {
                            format!("no traffic for {} seconds", idle.as_secs())
                        },
                    )))
                    .await
                }
            };
            if let Next::Close = next {
                break;
            }
            // One write per step, however many frames it produced.
            if conn.ws.flush().await.is_err() {
                break;
            }
        }
        Box::pin(conn.session.closed_with(&mut push_rx)).await;
        if let Some(jid) = conn.session.jid() {
            tracing::debug!(%jid, "XMPP WebSocket session ended");
        }
        Box::pin(conn.ws.close()).await;
    }
}

/// Maps a WebSocket-level failure to the stream error the client is told.
fn recv_error(e: RecvError) -> StreamError {
    match e {
        RecvError::TooLarge(what) => {
            StreamError::new("policy-violation", format!("{what} (the stanza limit)"))
        }
        RecvError::Protocol(text) => StreamError::new("bad-format", text),
    }
}

impl<S: Socket> Conn<S> {
    /// Handles one client frame.
    async fn frame(&mut self, msg: Incoming) -> Next {
        match msg {
            Incoming::Text(bytes) => match ws::text(&bytes) {
                Some(text) => self.text(text).await,
                None => {
                    self.error(StreamError::new("bad-format", "text frame is not UTF-8"))
                        .await
                }
            },
            Incoming::Binary(_) => {
                self.error(StreamError::new(
                    "unsupported-encoding",
                    "RFC 7395 carries XMPP in text frames only",
                ))
                .await
            }
            Incoming::Ping(bytes) => {
                if self.ws.pong(bytes).await.is_err() {
                    return Next::Close;
                }
                Next::Continue
            }
            Incoming::Pong => Next::Continue,
            Incoming::Close => Next::Close,
        }
    }

    /// Handles one text frame: exactly one element.
    async fn text(&mut self, text: &str) -> Next {
        let limit = self.ctx.config.xmpp.max_stanza_bytes;
        if text.len() > limit {
            return self
                .error(StreamError::new(
                    "policy-violation",
                    format!("stanza larger than {limit} bytes"),
                ))
                .await;
        }
        // RFC 7395 3.4: whitespace-only frames are keepalives.
        if text.trim().is_empty() {
            return Next::Continue;
        }
        let element =
            match xml::parse_fragment_with(text, limit, self.ctx.config.xmpp.max_attributes) {
                Ok(e) => e,
                Err(e) => return self.error(StreamError::from(e)).await,
            };
        if element.is("open", ns::FRAMING) {
            return self.open(&element).await;
        }
        if element.is("close", ns::FRAMING) {
            let _ = self
                .send(&Element::new("close").attr("xmlns", ns::FRAMING))
                .await;
            return Next::Close;
        }
        if !self.open {
            return self
                .error(StreamError::new(
                    "bad-format",
                    "expected <open xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\"/> first",
                ))
                .await;
        }
        let outs = self.session.handle(element).await;
        self.write_outs(outs).await
    }

    /// A stream open (first, or after SASL success): header and features.
    async fn open(&mut self, open: &Element) -> Next {
        match self.session.open_stream(open.get_attr("to")) {
            Ok(s) => {
                let header = open_element(&s.id, &s.from);
                let mut features = s.features;
                if features.get_attr("xmlns:stream").is_none() {
                    features.set_attr("xmlns:stream", ns::STREAM);
                }
                if self.send(&header).await.is_err() || self.send(&features).await.is_err() {
                    return Next::Close;
                }
                self.open = true;
                Next::Continue
            }
            Err(e) => {
                // RFC 6120 4.9.1.1: a stream error before the stream is open still opens it.
                let id = uuid::Uuid::new_v4().simple().to_string();
                let header = open_element(&id, &self.ctx.config.client.xmpp_domain);
                let _ = self.send(&header).await;
                self.error(e).await
            }
        }
    }

    /// Writes what the core returned, in order.
    async fn write_outs(&mut self, outs: Vec<Out>) -> Next {
        for out in outs {
            match out {
                Out::Stanza(e) => {
                    if self.send(&e).await.is_err() {
                        return Next::Close;
                    }
                }
                Out::Restart => self.open = false,
                Out::StartTls => {
                    // The core only offers STARTTLS on TCP; reaching here is a core bug.
                    return self
                        .error(StreamError::new(
                            "unsupported-feature",
                            "STARTTLS is not available over WebSocket",
                        ))
                        .await;
                }
                Out::Error(e) => return self.error(e).await,
                Out::Close => {
                    let _ = self
                        .send(&Element::new("close").attr("xmlns", ns::FRAMING))
                        .await;
                    return Next::Close;
                }
            }
        }
        Next::Continue
    }

    /// Writes a stream error and the closing `<close/>`; the socket is then closed.
    async fn error(&mut self, e: StreamError) -> Next {
        tracing::debug!(condition = e.condition, text = ?e.text, "XMPP WebSocket stream error");
        let mut el = e.to_element();
        el.set_attr("xmlns:stream", ns::STREAM);
        if self.send(&el).await.is_ok() {
            let _ = self
                .send(&Element::new("close").attr("xmlns", ns::FRAMING))
                .await;
        }
        Next::Close
    }

    /// Writes one element as one text frame.
    async fn send(&mut self, e: &Element) -> Result<(), ws::Closed> {
        self.ws.text(e.to_xml()).await
    }
}

/// The server's `<open/>` (RFC 7395 3.3.2).
fn open_element(id: &str, from: &str) -> Element {
    Element::new("open")
        .attr("xmlns", ns::FRAMING)
        .attr("id", id)
        .attr("from", from)
        .attr("version", "1.0")
        .attr("xml:lang", "en")
}
