//! RFC 6120 client-to-server XMPP over TCP, with STARTTLS (rustls, ring backend).
//!
//! One task per connection owns its [`XmppSession`]; it waits on the socket, the session's
//! push channel and an idle timer at once, and writes what the session returns in one flush
//! per batch. Nothing is preallocated per connection: the read buffer lives only for the
//! duration of a single poll and the write buffer only for one batch, so an idle session costs
//! its task, its parser (empty buffers) and its session state.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::session::XmppSession;
use super::xml::{escape_into, write_element, Element, StreamEvent, StreamParser};
use super::{ns, Out, StreamError, Transport};
use crate::config::Config;
use crate::delivery::{Push, PushReceiver};
use crate::domain::Ctx;

/// Bytes read from the socket per poll (a stack buffer, never kept while idle).
const READ_CHUNK: usize = 4096;
/// A client that does not take our output for this long is dropped (it must not hold
/// undelivered pushes forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long, and how much, a closed connection's remaining input is drained.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
/// Longest TLS handshake after `<proceed/>`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the STARTTLS configuration could not be made (shown to the operator at start).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

impl From<String> for TlsError {
    fn from(text: String) -> TlsError {
        TlsError(text)
    }
}

impl From<&str> for TlsError {
    fn from(text: &str) -> TlsError {
        TlsError(text.to_string())
    }
}

/// The STARTTLS server configuration: the configured PEM certificate chain and key, or a
/// self-signed pair for the XMPP domain and host generated once under `data_dir/tls/`.
pub fn tls_config(config: &Config) -> Result<Arc<ServerConfig>, TlsError> {
    let x = &config.xmpp;
    let (cert_path, key_path) = match (x.tls_cert.is_empty(), x.tls_key.is_empty()) {
        (true, true) => self_signed(config)?,
        (false, false) => (PathBuf::from(&x.tls_cert), PathBuf::from(&x.tls_key)),
        _ => {
            return Err(
                "xmpp.tls_cert and xmpp.tls_key must be set together (or both left empty \
                 for a generated self-signed certificate)"
                    .into(),
            )
        }
    };
    let certs = load_certs(&cert_path)?;
    let key = load_key(&key_path)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "TLS certificate {} and key {} do not form a usable pair: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
    Ok(Arc::new(server))
}

/// Paths of the generated pair, creating it on first use.
fn self_signed(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = config.data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut names = vec![config.client.xmpp_domain.clone()];
    if !config.client.xmpp_host.is_empty() && config.client.xmpp_host != config.client.xmpp_domain {
        names.push(config.client.xmpp_host.clone());
    }
    let generated = rcgen::generate_simple_self_signed(names.clone())
        .map_err(|e| format!("cannot generate a certificate for {names:?}: {e}"))?;
    write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, generated.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))?;
    tracing::info!(
        "generated a self-signed XMPP certificate for {names:?} in {}",
        dir.display()
    );
    Ok((cert, key))
}

/// Writes a file readable by its owner only (a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read TLS certificate {}: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM in TLS certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", path.display()).into());
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read TLS key {}: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| format!("invalid PEM in TLS key {}: {e}", path.display()))?
        .ok_or_else(|| format!("no private key found in {}", path.display()).into())
}

/// Accepts c2s connections until the listener is dropped; a failed accept (e.g. too many open
/// files) is logged and retried, never fatal.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, tls: Option<Arc<ServerConfig>>) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                let Ok(slot) = crate::gateway::ws::admit(&ctx, peer.ip()) else {
                    continue;
                };
                let _ = sock.set_nodelay(true);
                let conn = connection(sock, peer, ctx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    conn.await;
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!("XMPP TCP accept failed: {e}");
                // Back off briefly so a persistent condition does not spin the loop.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The socket, before or after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while the handshake owns the socket.
    Gone,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Reads what is available straight into the parser; `Ok(0)` is end of stream. The buffer is
/// on the stack of one poll, so a connection waiting for input holds no read buffer.
fn read_into<'a>(
    conn: &'a mut Conn,
    parser: &'a mut StreamParser,
) -> impl std::future::Future<Output = io::Result<usize>> + 'a {
    poll_fn(move |cx| {
        let mut chunk = [0u8; READ_CHUNK];
        let mut rb = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *conn).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                parser.feed(rb.filled());
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}

/// One connection from accept to close; the session is closed exactly once at the end, taking
/// back what was pushed to it but never written.
async fn connection(sock: TcpStream, peer: SocketAddr, ctx: Arc<Ctx>, tls: Option<TlsAcceptor>) {
    let transport = Transport::Tcp {
        tls: false,
        tls_available: tls.is_some(),
    };
    let (session, rx) = XmppSession::new(ctx.clone(), transport, Some(peer.ip().to_string()));
    let mut c = Connection {
        conn: Conn::Plain(sock),
        parser: StreamParser::with_limits(
            ctx.config.xmpp.max_stanza_bytes,
            ctx.config.xmpp.max_attributes,
        ),
        session,
        rx,
        tls,
        out: String::new(),
        header_sent: false,
        domain: ctx.config.client.xmpp_domain.clone(),
        idle: Duration::from_secs(ctx.config.xmpp.idle_timeout_secs),
    };
    // A bug in the protocol core must not skip the cleanup (the router would keep a dead
    // session registered), so the driver runs under catch_unwind.
    let ended = std::panic::AssertUnwindSafe(c.run()).catch_unwind().await;
    if ended.is_err() {
        tracing::error!("XMPP TCP session from {peer} panicked");
        // Best effort: the peer learns why before the socket goes.
        let e = StreamError::new("internal-server-error", "internal error");
        let _ = c.finish(Some(e)).await;
    }
    tracing::debug!(
        "XMPP TCP connection from {peer} ({}) ended",
        c.session.jid().unwrap_or_default()
    );
    if std::panic::AssertUnwindSafe(Box::pin(c.session.closed_with(&mut c.rx)))
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!("XMPP session cleanup for {peer} panicked");
    }
    Box::pin(c.linger()).await;
}

/// A boxed I/O step of a connection.
type BoxIo<'a> = Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send + 'a>>;

/// How a batch of session output ended.
enum Flow {
    Continue,
    /// The stream is over (error or close written).
    End,
}

/// What woke the connection up.
enum Wake {
    Read(io::Result<usize>),
    Push(Push),
    Idle,
}

/// Everything one connection owns; only the task driving it touches it.
struct Connection {
    conn: Conn,
    parser: StreamParser,
    session: XmppSession,
    rx: PushReceiver,
    tls: Option<TlsAcceptor>,
    /// Output of the current batch, written and released at its end.
    out: String,
    /// Our stream header was written for the current stream (a stream error needs one first).
    header_sent: bool,
    domain: String,
    idle: Duration,
}

impl Connection {
    /// Drives the connection until the stream ends or the peer goes away.
    async fn run(&mut self) {
        let idle = if self.idle.is_zero() {
            Duration::from_secs(365 * 24 * 3600)
        } else {
            self.idle
        };
        let timer = tokio::time::sleep(idle);
        tokio::pin!(timer);
        // Before authentication a connection gets a short, absolute limit: trickling bytes
        // does not extend it.
        let auth_deadline =
            Instant::now() + Duration::from_secs(self.session.auth_timeout_secs().max(1));
        loop {
            // Pushes first: a client sending flat out must not delay what it is being sent
            // (each of its messages waits for its commit before the next is read).
            let wake = tokio::select! {
                biased;
                Some(p) = self.rx.recv() => Wake::Push(p),
                r = read_into(&mut self.conn, &mut self.parser) => Wake::Read(r),
                _ = &mut timer => Wake::Idle,
                _ = tokio::time::sleep_until(auth_deadline), if !self.session.is_authenticated() => {
                    Wake::Idle
                }
            };
            let flow = match wake {
                Wake::Read(Ok(0)) | Wake::Read(Err(_)) => return, // the client went away
                Wake::Read(Ok(_)) => {
                    timer.as_mut().reset(Instant::now() + idle);
                    Box::pin(self.parsed()).await
                }
                Wake::Push(p) => {
                    let outs = Box::pin(self.session.push(p)).await;
                    self.apply(outs).await
                }
                Wake::Idle => {
                    let e = StreamError::new(
                        "connection-timeout",
                        format!("no traffic for {} seconds", idle.as_secs()),
                    );
                    let _ = self.finish(Some(e)).await;
                    return;
                }
            };
            let flow = match flow {
                Flow::Continue => self.flush().await.map(|_| Flow::Continue),
                end => Ok(end),
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::End) | Err(_) => return,
            }
        }
    }

    /// Handles every complete event the parser has.
    async fn parsed(&mut self) -> Flow {
        loop {
            match self.parser.next() {
                Ok(None) => return Flow::Continue,
                Ok(Some(StreamEvent::Open(header))) => {
                    if let Flow::End = self.open(&header).await {
                        return Flow::End;
                    }
                }
                Ok(Some(StreamEvent::Stanza(el))) => {
                    let outs = Box::pin(self.session.handle(el)).await;
                    if let Flow::End = self.apply(outs).await {
                        return Flow::End;
                    }
                }
                Ok(Some(StreamEvent::Close)) => {
                    let _ = self.finish(None).await;
                    return Flow::End;
                }
                Err(e) => {
                    let _ = self.finish(Some(e.into())).await;
                    return Flow::End;
                }
            }
        }
    }

    /// The client opened a stream: our header and the features, or a stream error.
    async fn open(&mut self, header: &Element) -> Flow {
        if let Some(content) = header.ns() {
            if content != ns::CLIENT {
                let e = StreamError::new(
                    "invalid-namespace",
                    format!("this is a client service: use xmlns='{}'", ns::CLIENT),
                );
                let _ = self.finish(Some(e)).await;
                return Flow::End;
            }
        }
        match self.session.open_stream(header.get_attr("to")) {
            Ok(open) => {
                self.write_header(&open.id, &open.from);
                write_into(&open.features, &mut self.out);
                Flow::Continue
            }
            Err(e) => {
                let _ = self.finish(Some(e)).await;
                Flow::End
            }
        }
    }

    /// Applies what the session returned, in order.
    async fn apply(&mut self, outs: Vec<Out>) -> Flow {
        for out in outs {
            match out {
                Out::Stanza(el) => write_into(&el, &mut self.out),
                Out::StartTls => {
                    if self.flush().await.is_err() || self.start_tls().await.is_err() {
                        return Flow::End;
                    }
                }
                Out::Restart => {
                    self.parser.reset();
                    self.header_sent = false;
                }
                Out::Error(e) => {
                    let _ = self.finish(Some(e)).await;
                    return Flow::End;
                }
                Out::Close => {
                    let _ = self.finish(None).await;
                    return Flow::End;
                }
            }
        }
        Flow::Continue
    }

    /// Upgrades the socket after `<proceed/>` was flushed; the client then opens a new stream.
    fn start_tls(&mut self) -> BoxIo<'_> {
        Box::pin(self.start_tls_inner())
    }

    async fn start_tls_inner(&mut self) -> io::Result<()> {
        let (Some(acceptor), Conn::Plain(_)) = (&self.tls, &self.conn) else {
            // The core only offers STARTTLS on plain TCP with a certificate loaded.
            return Err(io::ErrorKind::Unsupported.into());
        };
        let acceptor = acceptor.clone();
        let Conn::Plain(sock) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            unreachable!("checked above")
        };
        let tls = timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        self.conn = Conn::Tls(Box::new(tls));
        self.session.set_tls();
        // Anything sent in plaintext after <starttls/> is discarded (RFC 6120 5.4.3.3).
        self.parser.reset();
        self.header_sent = false;
        Ok(())
    }

    /// Appends our stream header for the current stream.
    fn write_header(&mut self, id: &str, from: &str) {
        let s = &mut self.out;
        s.push_str("<?xml version='1.0'?><stream:stream xmlns='");
        s.push_str(ns::CLIENT);
        s.push_str("' xmlns:stream='");
        s.push_str(ns::STREAM);
        s.push_str("' id='");
        escape_into(id, s, true);
        s.push_str("' from='");
        escape_into(from, s, true);
        s.push_str("' version='1.0' xml:lang='en'>");
        self.header_sent = true;
    }

    /// Ends the stream: the error (after a header if none was sent yet), `</stream:stream>`,
    /// then a clean shutdown of the socket.
    fn finish(&mut self, error: Option<StreamError>) -> BoxIo<'_> {
        // Boxed (here and in `flush`, `start_tls`): a future is as large as its largest await
        // state, and every idle connection would otherwise carry room for these.
        Box::pin(self.finish_inner(error))
    }

    async fn finish_inner(&mut self, error: Option<StreamError>) -> io::Result<()> {
        if let Some(e) = error {
            tracing::debug!(
                "XMPP TCP stream error {} ({:?}) for {:?}",
                e.condition,
                e.text,
                self.session.jid()
            );
            if !self.header_sent {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let domain = self.domain.clone();
                self.write_header(&id, &domain);
            }
            write_into(&e.to_element(), &mut self.out);
        }
        self.out.push_str("</stream:stream>");
        self.flush().await?;
        let _ = timeout(WRITE_TIMEOUT, self.conn.shutdown()).await;
        Ok(())
    }

    /// After our close: reads and discards what the client still sends for a moment, so the
    /// kernel does not answer unread input with a reset that would destroy the stream error
    /// before the client has read it.
    async fn linger(&mut self) {
        let conn = &mut self.conn;
        let _ = timeout(LINGER, async move {
            let mut drained = 0usize;
            let mut scratch = [0u8; 1024];
            while drained < LINGER_BYTES {
                match conn.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }

    /// Writes the batch; a client that does not read within the timeout is dropped.
    fn flush(&mut self) -> BoxIo<'_> {
        Box::pin(self.flush_inner())
    }

    async fn flush_inner(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let conn = &mut self.conn;
        let written = timeout(WRITE_TIMEOUT, async move {
            conn.write_all(out.as_bytes()).await?;
            conn.flush().await
        })
        .await;
        match written {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// Serialises `el` onto the batch.
fn write_into(el: &Element, out: &mut String) {
    write_element(el, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what an async fn returns, without calling it.
    fn future_size<F, A, B, C, D, R>(_: F) -> usize
    where
        F: FnOnce(A, B, C, D) -> R,
    {
        std::mem::size_of::<R>()
    }

    #[test]
    fn an_idle_connection_task_is_small() {
        let n = future_size(connection);
        // Measured at about 1.3 kB (connection state, parser, session, timer); the per-stanza
        // work is boxed so it does not widen every idle task.
        assert!(n < 1536, "connection future is {n} bytes");
    }
}
