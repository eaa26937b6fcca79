//! WebSocket plumbing the gateways share: a small transport abstraction ([`Socket`]: frames in,
//! frames out) with two adapters, and the lean dedicated listener.
//!
//! * [`ActixSocket`] serves the API port's routes (`/xmpp-websocket`, `/im-websocket`) through
//!   actix-web + actix-ws, next to the REST handlers.
//! * [`TungSocket`] serves the dedicated listeners (`xmpp.listen_websocket`, port 5290, and
//!   `xmpp.listen_shiku_ws`, port 5260) with tokio-tungstenite on a plain tokio
//!   [`TcpListener`] ([`serve`]). Real deployments point their clients there, so it is built to
//!   keep an idle session small: a read buffer of [`READ_BUFFER`] bytes, an output buffer that
//!   only grows with what is written, no HTTP machinery once upgraded.
//!
//! The protocol loops (`xmpp::websocket`, `shiku::websocket`) are written once over [`Socket`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderMap, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{error::CapacityError, Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::domain::quota::Slot;
use crate::domain::{peer, Ctx};

/// Bytes the dedicated listener reads from a socket at a time; also the read buffer an idle
/// session keeps. Login frames and most stanzas fit; a bigger frame grows the buffer to its
/// size (and tungstenite keeps that capacity).
pub const READ_BUFFER: usize = 256;
/// Output tungstenite collects before it writes to the socket. Zero: every frame is written
/// as it is queued, so the output buffer an idle session keeps is one frame, not a batch (the
/// loops queue one or two frames per step anyway).
const WRITE_BUFFER: usize = 0;
/// Bounds writes before a session exists (refusals, the close); sessions use
/// `xmpp.write_timeout_secs`.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest WebSocket upgrade request on the dedicated listeners (actix's default too).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, and how much, a closed connection's remaining input is drained, so the peer reads
/// our last frames instead of a reset.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

/// A frame from the client, whichever library read it.
#[derive(Debug)]
pub enum Incoming {
    /// A text message (UTF-8, checked by the adapter; read it with [`text`]).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping: answer with [`Socket::pong`].
    Ping(Bytes),
    /// A pong (nothing to do).
    Pong,
    /// The client closed the WebSocket.
    Close,
}

/// The payload of [`Incoming::Text`] as a string (`None` only if an adapter broke its promise).
pub fn text(bytes: &Bytes) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// Why a frame could not be read: the stream cannot be resynchronised after either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// A frame, or a message reassembled from continuations, is over the configured limit.
    TooLarge(&'static str),
    /// The WebSocket framing itself is broken.
    Protocol(String),
}

/// The connection is gone: nothing more can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// One upgraded WebSocket, as the protocol loops see it. Writes may be buffered until
/// [`Socket::flush`], which a loop calls at the end of every batch.
pub trait Socket {
    /// The next frame; `None` when the connection ended without a close frame.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Incoming, RecvError>>>;
    /// Queues a text frame.
    fn text(&mut self, text: String) -> impl Future<Output = Result<(), Closed>>;
    /// Queues a binary frame.
    fn binary(&mut self, data: Vec<u8>) -> impl Future<Output = Result<(), Closed>>;
    /// Answers a ping (some libraries queue the pong themselves; then this only flushes).
    fn pong(&mut self, data: Bytes) -> impl Future<Output = Result<(), Closed>>;
    /// Writes everything queued.
    fn flush(&mut self) -> impl Future<Output = Result<(), Closed>>;
    /// Sends a normal close frame and releases the connection.
    fn close(self) -> impl Future<Output = ()>;
}

// ---- actix-ws (API port) --------------------------------------------------------------------

/// A WebSocket upgraded by actix-ws on an actix-web route.
pub struct ActixSocket {
    session: actix_ws::Session,
    stream: actix_ws::AggregatedMessageStream,
    /// A client that does not take a frame for this long is dropped: its loop must not block
    /// in a write while pushes pile up and the idle deadline goes unchecked.
    write_timeout: Duration,
}

impl ActixSocket {
    /// Wraps what `actix_ws::handle` returned; frames and reassembled continuations are both
    /// capped at `limit` bytes, so a client cannot make the server buffer more than that.
    pub fn new(
        session: actix_ws::Session,
        stream: actix_ws::MessageStream,
        limit: usize,
        write_timeout: Duration,
    ) -> ActixSocket {
        let stream = stream
            .max_frame_size(limit)
            .aggregate_continuations()
            .max_continuation_size(limit);
        ActixSocket {
            session,
            stream,
            write_timeout,
        }
    }

    /// Runs an actix-ws write within the write timeout.
    async fn timed<T, E>(&self, f: impl Future<Output = Result<T, E>>) -> Result<T, Closed> {
        match tokio::time::timeout(self.write_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            _ => Err(Closed),
        }
    }
}

/// Maps actix-ws's read errors.
fn actix_error(e: &ProtocolError) -> RecvError {
    match e {
        ProtocolError::Overflow => RecvError::TooLarge("frame larger than the limit"),
        ProtocolError::Io(io) if io.to_string().contains("continuation size") => {
            RecvError::TooLarge("message larger than the limit")
        }
        other => RecvError::Protocol(format!("WebSocket protocol error: {other}")),
    }
}

impl Socket for ActixSocket {
    async fn recv(&mut self) -> Option<Result<Incoming, RecvError>> {
        Some(match self.stream.recv().await? {
            Ok(AggregatedMessage::Text(t)) => Ok(Incoming::Text(t.into_bytes())),
            Ok(AggregatedMessage::Binary(b)) => Ok(Incoming::Binary(b)),
            Ok(AggregatedMessage::Ping(b)) => Ok(Incoming::Ping(b)),
            Ok(AggregatedMessage::Pong(_)) => Ok(Incoming::Pong),
            Ok(AggregatedMessage::Close(_)) => Ok(Incoming::Close),
            Err(e) => Err(actix_error(&e)),
        })
    }

    async fn text(&mut self, text: String) -> Result<(), Closed> {
        let mut session = self.session.clone();
        self.timed(session.text(text)).await
    }

    async fn binary(&mut self, data: Vec<u8>) -> Result<(), Closed> {
        let mut session = self.session.clone();
        self.timed(session.binary(data)).await
    }

    async fn pong(&mut self, data: Bytes) -> Result<(), Closed> {
        let mut session = self.session.clone();
        self.timed(session.pong(&data)).await
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        // actix-ws hands every frame to the HTTP dispatcher at once.
        Ok(())
    }

    async fn close(self) {
        let _ = tokio::time::timeout(
            self.write_timeout,
            self.session
                .close(Some(CloseReason::from(CloseCode::Normal))),
        )
        .await;
    }
}

// ---- tokio-tungstenite (dedicated listeners) ------------------------------------------------

/// A WebSocket accepted by [`serve`] on a dedicated listener.
pub struct TungSocket {
    ws: WebSocketStream<TcpStream>,
    /// A client that does not take our output for this long is dropped.
    write_timeout: Duration,
}

/// Maps tungstenite's read errors; `None` when the connection is simply gone.
fn tung_error(e: WsError) -> Option<RecvError> {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => None,
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Some(RecvError::TooLarge("message larger than the limit"))
        }
        WsError::Capacity(_) => Some(RecvError::TooLarge("frame larger than the limit")),
        WsError::Utf8(_) => Some(RecvError::Protocol(
            "WebSocket protocol error: a text frame is not valid UTF-8".into(),
        )),
        other => Some(RecvError::Protocol(format!(
            "WebSocket protocol error: {other}"
        ))),
    }
}

impl TungSocket {
    /// Writes with the write timeout; any failure means the connection is unusable.
    async fn timed<F: Future<Output = Result<(), WsError>>>(
        limit: Duration,
        f: F,
    ) -> Result<(), Closed> {
        match tokio::time::timeout(limit, f).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Closed),
        }
    }
}

impl Socket for TungSocket {
    async fn recv(&mut self) -> Option<Result<Incoming, RecvError>> {
        loop {
            return Some(match self.ws.next().await? {
                Ok(Message::Text(t)) => Ok(Incoming::Text(t.into())),
                Ok(Message::Binary(b)) => Ok(Incoming::Binary(b)),
                Ok(Message::Ping(b)) => Ok(Incoming::Ping(b)),
                Ok(Message::Pong(_)) => Ok(Incoming::Pong),
                Ok(Message::Close(_)) => Ok(Incoming::Close),
                // Raw frames are only produced when writing; never read.
                Ok(Message::Frame(_)) => continue,
                Err(e) => Err(tung_error(e)?),
            });
        }
    }

    async fn text(&mut self, text: String) -> Result<(), Closed> {
        Self::timed(self.write_timeout, self.ws.feed(Message::text(text))).await
    }

    async fn binary(&mut self, data: Vec<u8>) -> Result<(), Closed> {
        Self::timed(self.write_timeout, self.ws.feed(Message::binary(data))).await
    }

    async fn pong(&mut self, _data: Bytes) -> Result<(), Closed> {
        // tungstenite queued the pong when it read the ping; it only needs writing.
        Self::timed(self.write_timeout, self.ws.flush()).await
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        Self::timed(self.write_timeout, self.ws.flush()).await
    }

    async fn close(mut self) {
        let _ = Self::timed(self.write_timeout, self.ws.close(None)).await;
        // RFC 6455 7.1.1: the server closes TCP first; the FIN also ends a client that waits.
        let _ = tokio::time::timeout(self.write_timeout, self.ws.get_mut().shutdown()).await;
        linger(self.ws.get_mut()).await;
    }
}

/// Reads and discards what the peer still sends for a while (bounded), so closing a socket
/// with unread input does not reset the connection before the peer read our last frames.
async fn linger(sock: &mut TcpStream) {
    let drain = async {
        let mut chunk = [0u8; 1024];
        let mut total = 0;
        while total < LINGER_BYTES {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// What a dedicated listener requires of the upgrade request.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade {
    /// The WebSocket sub-protocol the client must offer, and which the server then answers
    /// (`None`: no sub-protocol is negotiated).
    pub subprotocol: Option<&'static str>,
    /// The plain-text body of the 400 a client gets when it does not offer it.
    pub refusal: &'static str,
    /// Frames and messages over this many bytes end the connection.
    pub limit: usize,
    /// A client that does not take a write for this long is dropped.
    pub write_timeout: Duration,
}

/// Whether `headers` offer `protocol` (`Sec-WebSocket-Protocol` is a comma-separated list and
/// may be repeated).
pub fn offers_subprotocol<'a>(headers: impl IntoIterator<Item = &'a str>, protocol: &str) -> bool {
    headers
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(protocol))
}

/// The client's address of a request on the API port's routes (`domain::peer`'s rule).
pub fn actix_client_ip(req: &actix_web::HttpRequest, trusted: &[IpAddr]) -> Option<String> {
    let peer = req.peer_addr()?;
    let values = |name| {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
    };
    Some(
        peer::client_ip(
            trusted,
            peer.ip(),
            values(actix_web::http::header::FORWARDED),
            values(actix_web::http::header::X_FORWARDED_FOR),
        )
        .to_string(),
    )
}

/// A connection from an address that holds `limits.max_connections_per_address` already.
#[derive(Debug)]
pub struct TooManyConnections;

/// Admits a new connection of a dedicated listener from `ip`: its slot (given back when the
/// connection ends), none for a trusted proxy (its clients are many), or a refusal; a refused
/// socket is simply closed.
pub fn admit(ctx: &Ctx, ip: IpAddr) -> Result<Option<Slot>, TooManyConnections> {
    if ctx.config.trusted_proxies.contains(&ip) {
        return Ok(None);
    }
    match ctx.connections.acquire(ip) {
        Some(slot) => Ok(Some(slot)),
        None => {
            tracing::debug!(%ip, "connection refused: too many from this address");
            Err(TooManyConnections)
        }
    }
}

/// The client's address of an upgrade request from `peer` (`domain::peer`'s rule).
pub fn real_ip(headers: &HeaderMap, peer: SocketAddr, trusted: &[IpAddr]) -> String {
    let values = |name| headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    peer::client_ip(
        trusted,
        peer.ip(),
        values(header::FORWARDED),
        values(header::HeaderName::from_static("x-forwarded-for")),
    )
    .to_string()
}

/// The tungstenite settings of a dedicated listener: small buffers, the frame limit.
fn ws_config(limit: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // Backpressure: a client that reads nothing cannot make us buffer without bound.
        .max_write_buffer_size(WRITE_BUFFER + 4 * limit.max(1))
        .max_frame_size(Some(limit))
        .max_message_size(Some(limit))
}

/// A plain-text HTTP error answered instead of the upgrade.
fn refuse(status: StatusCode, body: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Accepts WebSocket connections on `listener` (any path) until the returned future is
/// dropped, running `session(ctx, socket, peer_ip)` for each upgraded one on its own task. A
/// failed accept (e.g. too many open files) is logged and retried, never fatal.
pub async fn serve<H, F>(listener: TcpListener, ctx: Arc<Ctx>, upgrade: Upgrade, session: H)
where
    H: Fn(Arc<Ctx>, TungSocket, String) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let session = Arc::new(session);
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                // Frames are small and latency-bound: Nagle would hold each behind the
                // client's delayed ACK (~40 ms).
                let Ok(slot) = admit(&ctx, peer.ip()) else {
                    continue;
                };
                let _ = sock.set_nodelay(true);
                let (ctx, session) = (ctx.clone(), session.clone());
                tokio::spawn(async move {
                    // The session gets a task of its own once upgraded: an idle session then
                    // holds only its loop's state, not room for the handshake beside it.
                    let trusted = &ctx.config.trusted_proxies;
                    match accept(sock, peer, trusted, upgrade).await {
                        Ok((socket, ip)) => drop(tokio::spawn(async move {
                            session(ctx, socket, ip).await;
                            drop(slot);
                        })),
                        Err(e) => tracing::debug!("WebSocket upgrade from {peer} failed: {e}"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!("WebSocket accept failed: {e}");
                // Back off briefly so a persistent condition does not spin the loop.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The upgrade of one connection: the request checked, the sub-protocol answered, the client's
/// address taken from it. A request that is no WebSocket upgrade gets a 400 too.
async fn accept(
    mut sock: TcpStream,
    peer: SocketAddr,
    trusted: &[IpAddr],
    upgrade: Upgrade,
) -> Result<(TungSocket, String), String> {
    let mut ip = None;
    // The signature is tungstenite's `Callback`; the large error is its HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        ip = Some(real_ip(req.headers(), peer, trusted));
        if let Some(protocol) = upgrade.subprotocol {
            let offered = req
                .headers()
                .get_all(header::SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .filter_map(|v| v.to_str().ok());
            if !offers_subprotocol(offered, protocol) {
                return Err(refuse(StatusCode::BAD_REQUEST, upgrade.refusal));
            }
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        Ok(resp)
    };
    // The handshake borrows the socket so that a request tungstenite rejects before the
    // callback (not a WebSocket upgrade at all) can still be answered; its WebSocket is then
    // rebuilt over the owned socket (nothing is buffered past the request: tungstenite refuses
    // bytes after it).
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        &mut sock,
        callback,
        Some(ws_config(upgrade.limit)),
    );
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(borrowed)) => drop(borrowed),
        Ok(Err(WsError::Http(resp))) => return Err(format!("refused: {}", resp.status())),
        Ok(Err(WsError::Io(e))) => return Err(e.to_string()),
        Ok(Err(e)) => {
            let body = format!("not a WebSocket upgrade: {e}\n");
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = write_all(&mut sock, resp.as_bytes()).await;
            linger(&mut sock).await;
            return Err(e.to_string());
        }
        Err(_) => return Err("no upgrade request in time".into()),
    }
    let ws =
        WebSocketStream::from_raw_socket(sock, Role::Server, Some(ws_config(upgrade.limit))).await;
    Ok((
        TungSocket {
            ws,
            write_timeout: upgrade.write_timeout,
        },
        ip.unwrap_or_else(|| peer.ip().to_string()),
    ))
}

/// Writes `bytes` with the write timeout.
async fn write_all(sock: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, sock.write_all(bytes))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn real_ip_trusts_only_configured_proxies() {
        let peer: SocketAddr = "10.0.0.9:5555".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "1.2.3.4, 5.6.7.8")]);
        assert_eq!(real_ip(&headers(&[]), peer, &[]), "10.0.0.9");
        assert_eq!(real_ip(&xff, peer, &[]), "10.0.0.9");
        assert_eq!(real_ip(&xff, peer, &[peer.ip()]), "5.6.7.8");
        let fwd = headers(&[("forwarded", "proto=http;for=7.7.7.7:80")]);
        assert_eq!(real_ip(&fwd, peer, &[peer.ip()]), "7.7.7.7");
        // X-Real-IP is not consulted.
        assert_eq!(
            real_ip(&headers(&[("x-real-ip", "3.3.3.3")]), peer, &[peer.ip()]),
            "10.0.0.9"
        );
    }

    #[test]
    fn subprotocol_offers_are_a_list() {
        assert!(offers_subprotocol(["chat, XMPP"], "xmpp"));
        assert!(offers_subprotocol(["chat", "xmpp"], "xmpp"));
        assert!(!offers_subprotocol(["chat, xmpp2"], "xmpp"));
        assert!(!offers_subprotocol([], "xmpp"));
    }

    #[test]
    fn oversized_reads_map_to_too_large() {
        let e = WsError::Capacity(CapacityError::MessageTooLong {
            size: 10,
            max_size: 5,
        });
        assert!(matches!(tung_error(e), Some(RecvError::TooLarge(_))));
        assert_eq!(tung_error(WsError::ConnectionClosed), None);
    }
}
