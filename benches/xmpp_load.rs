//! XMPP load generator: the release server binary as a separate process on a temporary data
//! directory, N authenticated RFC 7395 WebSocket sessions (REST tokens as SASL PLAIN
//! passwords) exchanging 1:1 messages in pairs, every message with a receipt request.
//!
//! Run (cargo builds the server with the optimised bench profile first):
//!
//! ```text
//! cargo bench --bench xmpp_load -- --sessions 100 --rate 500,2000,0 --seconds 10
//! ```
//!
//! Options: `--sessions N` messaging sessions, even (default 100); `--rate R[,R...]` total
//! messages/s over all senders, 0 = flat out, each rate one run (default `500,2000,0`);
//! `--seconds S` sending time per run (default 10); `--window W` unreceipted messages a sender
//! may have in flight (default 64; paced runs stop pacing when a sender hits it); `--idle I`
//! idle sessions for the memory and login measurement, 0 skips it (default 1000); `--hold S`
//! keeps them open S more seconds after it, e.g. to take a heap profile (default 0);
//! `--concurrency C` logins in flight while opening them (default 50); `--server PATH` another
//! server binary; `--protocol xmpp|shiku` the client protocol (default xmpp); `--endpoint
//! dedicated|api` where the sessions connect (default dedicated): the protocol's listener of
//! its own, as deployments use it (`xmpp.listen_websocket`, reference port 5290, or
//! `xmpp.listen_shiku_ws`, 5260; the bench gives the server free ports for both), or the API
//! port's route (`/xmpp-websocket`, `/im-websocket`). Needs about `sessions + idle + 100` file
//! descriptors (`ulimit -n`).
//!
//! Logins (README "Logins"): `--login token|password` what the idle sessions log in with
//! (default token; `password` is the md5 the stock clients send, so every first login costs an
//! argon2 hash); `--storm` then cuts every idle session at once and reconnects them all, reporting
//! the time until all are back and the server's peak and final memory; `--wrong N` then runs N
//! concurrent wrong-password logins (N users, each client from its own address) and reports the
//! server's peak memory above what it held before, `/getCurrentTime` latency of a logged-in user
//! and the login time of other users meanwhile. Every client connects with its own address in
//! `X-Forwarded-For` (the server trusts loopback as a proxy), as clients of a real deployment.
//!
//! Measured: delivered msgs/s (first deliveries over the time from the first send to the last
//! delivery), sender-to-receiver latency p50/p99/max (the send time travels in the body),
//! receipt round trip p99, losses (receipted but never delivered), duplicates (delivered twice),
//! unreceipted sends; server RSS (`/proc/<pid>/status`) before and after opening the idle
//! sessions, divided by their number; wall time of the idle sessions' token logins.
//!
//! `--protocol shiku` takes the same measurements over Shiku's binary WebSocket protocol
//! (`[command byte][protobuf]` frames): login is cmd 5
//! AUTH_REQ with the REST token answered by cmd 6; a message is a cmd 10 `ChatMessage` with
//! chatType 1 whose `content` carries the send time; the receipt measured is the server's
//! status-1 cmd 11 (message stored); receivers confirm what they got with status-2 cmd 11
//! receipts batched as `id1,id2,` the way the H5/Vue clients do (every 3 s, here also once
//! [`RECEIPT_BATCH_MAX`] ids are pending), so the server has nothing to requeue at close.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use shiku_server::domain::util::md5_hex;
use shiku_server::gateway::shiku::frame::{self as shiku_frame, chat_type, cmd};
use shiku_server::gateway::shiku::proto::{
    AuthMessage, AuthRespMessageProBuf, ChatMessage, CommonErrorProBuf, MessageHead,
    MessageReceiptStatusProBuf,
};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const DOMAIN: &str = "load.shiku.test";
/// Every generated user's password (the clients send its md5).
const PASSWORD: &str = "load-pw";
/// Longest any login step or the drain after a run may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Resource of the messaging sessions.
const RUN_RESOURCE: &str = "load";
/// How long a Shiku binary-protocol client collects received ids before it sends them as one
/// status-2 receipt (spec 5.3 item 6).
const RECEIPT_BATCH_INTERVAL: Duration = Duration::from_secs(3);
/// Pending received ids that make a batch go out early: well below the server's cap on
/// unreceipted messages per session, which flat-out runs could otherwise reach in 3 s.
const RECEIPT_BATCH_MAX: usize = 1000;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Error = Box<dyn std::error::Error + Send + Sync>;

/// The client protocol the sessions speak.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// RFC 7395 XMPP over WebSocket (`/xmpp-websocket`).
    Xmpp,
    /// Shiku's binary protocol (`/im-websocket`).
    Shiku,
}

/// Where the sessions connect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// The protocol's listener of its own (any path).
    Dedicated,
    /// The API port's route.
    Api,
}

/// Command-line settings.
struct Opts {
    protocol: Protocol,
    endpoint: Endpoint,
    sessions: usize,
    rates: Vec<u64>,
    seconds: f64,
    window: usize,
    idle: usize,
    /// Seconds the idle sessions stay open after the measurement (to attach a profiler).
    hold: f64,
    concurrency: usize,
    server: PathBuf,
    /// What the idle sessions log in with.
    cred: Cred,
    /// After the idle sessions: cut them all at once and measure their reconnection.
    storm: bool,
    /// Then: this many concurrent wrong-password logins, with REST calls and other logins
    /// measured beside them.
    wrong: usize,
}

impl Opts {
    fn how(&self, cred: Cred) -> How {
        How {
            protocol: self.protocol,
            cred,
        }
    }
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        protocol: Protocol::Xmpp,
        endpoint: Endpoint::Dedicated,
        sessions: 100,
        rates: vec![500, 2000, 0],
        seconds: 10.0,
        window: 64,
        idle: 1000,
        hold: 0.0,
        concurrency: 50,
        server: PathBuf::from(env!("CARGO_BIN_EXE_shiku-server")),
        cred: Cred::Token,
        storm: false,
        wrong: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        // `cargo bench` appends `--bench`; nothing else here is a flag without a value.
        if a == "--bench" {
            continue;
        }
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            "--sessions" => o.sessions = num(value()?)?,
            "--protocol" => {
                o.protocol = match value()?.as_str() {
                    "xmpp" => Protocol::Xmpp,
                    "shiku" => Protocol::Shiku,
                    other => return Err(format!("--protocol {other}: xmpp or shiku")),
                }
            }
            "--endpoint" => {
                o.endpoint = match value()?.as_str() {
                    "dedicated" => Endpoint::Dedicated,
                    "api" => Endpoint::Api,
                    other => return Err(format!("--endpoint {other}: dedicated or api")),
                }
            }
            "--seconds" => {
                let v = value()?;
                o.seconds = v.parse().map_err(|e| format!("--seconds {v}: {e}"))?;
            }
            "--rate" => {
                o.rates = value()?
                    .split(',')
                    .map(|r| {
                        r.trim()
                            .parse::<u64>()
                            .map_err(|e| format!("--rate {r}: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--window" => o.window = num(value()?)?.max(1),
            "--idle" => o.idle = num(value()?)?,
            "--hold" => {
                let v = value()?;
                o.hold = v.parse().map_err(|e| format!("--hold {v}: {e}"))?;
            }
            "--concurrency" => o.concurrency = num(value()?)?.max(1),
            "--login" => {
                o.cred = match value()?.as_str() {
                    "token" => Cred::Token,
                    "password" => Cred::Password,
                    other => return Err(format!("--login {other}: token or password")),
                }
            }
            "--storm" => o.storm = true,
            "--wrong" => o.wrong = num(value()?)?,
            // Absolute, as the server runs in its data directory.
            "--server" => {
                let v = value()?;
                o.server = std::path::absolute(&v).map_err(|e| format!("--server {v}: {e}"))?;
            }
            "-h" | "--help" => {
                return Err("usage: cargo bench --bench xmpp_load -- [--sessions N] \
                     [--rate R[,R..]] [--seconds S] [--window W] [--idle I] [--hold S] \
                     [--concurrency C] [--server PATH] [--protocol xmpp|shiku] \
                     [--endpoint dedicated|api] [--login token|password] [--storm] [--wrong N]"
                    .into())
            }
            other => return Err(format!("unknown option {other} (try --help)")),
        }
    }
    if o.sessions % 2 == 1 {
        return Err("--sessions must be even (sessions talk in pairs)".into());
    }
    Ok(o)
}

/// The server process; killed when dropped.
struct Server {
    child: Child,
    /// The API listener, `host:port`.
    base: String,
    /// The dedicated XMPP WebSocket listener (`xmpp.listen_websocket`), `host:port`.
    xmpp_ws: String,
    /// The dedicated binary-protocol listener (`xmpp.listen_shiku_ws`), `host:port`.
    shiku_ws: String,
    log: PathBuf,
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    /// Starts the server on `dir` (a free port, the log in `dir/<log_name>`) and waits until
    /// it answers HTTP.
    async fn start(binary: &Path, dir: &Path, log_name: &str) -> Result<Server, Error> {
        let (port, xmpp_ws, shiku_ws) = (free_port()?, free_port()?, free_port()?);
        let log = dir.join(log_name);
        let out = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .current_dir(dir)
            .env("SHIKU_LISTEN", format!("127.0.0.1:{port}"))
            .env("SHIKU_DATA_DIR", dir)
            .env("SHIKU_CLIENT__XMPP_DOMAIN", DOMAIN)
            .env(
                "SHIKU_XMPP__LISTEN_WEBSOCKET",
                format!("127.0.0.1:{xmpp_ws}"),
            )
            .env(
                "SHIKU_XMPP__LISTEN_SHIKU_WS",
                format!("127.0.0.1:{shiku_ws}"),
            )
            // Per-request access logs would measure the terminal, not the server.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let server = Server {
            child,
            base: format!("127.0.0.1:{port}"),
            xmpp_ws: format!("127.0.0.1:{xmpp_ws}"),
            shiku_ws: format!("127.0.0.1:{shiku_ws}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let up = http
                .get(format!("http://{}/config", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("server did not come up:\n{}", server.log_tail()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The WebSocket URL the sessions of `protocol` connect to at `endpoint`.
    fn ws_url(&self, protocol: Protocol, endpoint: Endpoint) -> String {
        match (protocol, endpoint) {
            // The stock web client's path; the listener accepts any.
            (Protocol::Xmpp, Endpoint::Dedicated) => format!("ws://{}/websocket/", self.xmpp_ws),
            (Protocol::Xmpp, Endpoint::Api) => format!("ws://{}/xmpp-websocket", self.base),
            (Protocol::Shiku, Endpoint::Dedicated) => format!("ws://{}/", self.shiku_ws),
            (Protocol::Shiku, Endpoint::Api) => format!("ws://{}/im-websocket", self.base),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size of the server, bytes.
    fn rss(&self) -> Result<u64, Error> {
        self.status_bytes("VmRSS")
    }

    /// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`, `RssFile`, `RssShmem`), bytes.
    fn status_bytes(&self, field: &str) -> Result<u64, Error> {
        status_bytes(self.pid(), field)
    }

    /// Anonymous (heap, stacks) and file-backed/shared (SQLite's mapped files) resident bytes.
    fn rss_parts(&self) -> Result<(u64, u64), Error> {
        let file = self.status_bytes("RssFile")? + self.status_bytes("RssShmem")?;
        Ok((self.status_bytes("RssAnon")?, file))
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registered user.
#[derive(Clone)]
struct User {
    id: i64,
    token: String,
}

/// Registers `n` users over REST (argon2 makes this the slow part, so a few at a time).
async fn register(base: &str, n: usize) -> Result<Vec<User>, Error> {
    let http = reqwest::Client::new();
    let password = md5_hex(PASSWORD);
    let results: Vec<Result<User, Error>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let http = http.clone();
            let password = password.clone();
            async move {
                let phone = format!("137{i:08}");
                let v: serde_json::Value = http
                    .post(format!("http://{base}/user/register"))
                    .form(&[
                        ("telephone", phone.as_str()),
                        ("areaCode", "86"),
                        ("password", password.as_str()),
                        ("nickname", &format!("load{i}")),
                        ("access_token", ""),
                    ])
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = v["data"]["userId"].as_i64();
                let token = v["data"]["access_token"].as_str();
                match (id, token) {
                    (Some(id), Some(t)) => Ok(User {
                        id,
                        token: t.to_string(),
                    }),
                    _ => Err(format!("register {phone}: {v}").into()),
                }
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect()
}

/// The next text frame within [`STEP_TIMEOUT`].
async fn next_text(ws: &mut Ws) -> Result<String, Error> {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, ws.next()).await {
            Err(_) => return Err("timed out waiting for the server".into()),
            Ok(None) => return Err("connection closed".into()),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(Message::Close(c)))) => return Err(format!("closed: {c:?}").into()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

async fn until(ws: &mut Ws, what: &str, pred: impl Fn(&str) -> bool) -> Result<String, Error> {
    loop {
        let f = next_text(ws)
            .await
            .map_err(|e| format!("waiting for {what}: {e}"))?;
        if pred(&f) {
            return Ok(f);
        }
    }
}

/// What a login presents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cred {
    /// The REST access token.
    Token,
    /// The md5 password, as the stock clients log in.
    Password,
    /// A wrong md5 password.
    Wrong,
}

/// How the sessions log in.
#[derive(Clone, Copy)]
struct How {
    protocol: Protocol,
    cred: Cred,
}

impl How {
    fn secret(&self, u: &User) -> String {
        match self.cred {
            Cred::Token => u.token.clone(),
            Cred::Password => md5_hex(PASSWORD),
            Cred::Wrong => md5_hex("not-the-password"),
        }
    }
}

/// The address user `id`'s client connects from, told to the server (which trusts loopback as a
/// proxy) in `X-Forwarded-For`: every client its own, as in a real deployment, so the login
/// limiter's per-address count sees what it would there.
fn client_address(id: i64) -> String {
    format!("10.{}.{}.{}", (id >> 16) & 255, (id >> 8) & 255, id & 255)
}

/// A WebSocket request to `url` from user `id`'s address.
fn ws_request(
    url: &str,
    id: i64,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, Error> {
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("X-Forwarded-For", client_address(id).parse()?);
    Ok(req)
}

/// One login in `how`; returns the authenticated connection.
async fn login(url: &str, u: &User, resource: &str, how: How) -> Result<Ws, Error> {
    let secret = how.secret(u);
    match how.protocol {
        Protocol::Xmpp => login_xmpp(url, u, resource, &secret).await,
        Protocol::Shiku => login_shiku(url, u, resource, &secret, how.cred).await,
    }
}

/// The next binary frame within [`STEP_TIMEOUT`], split into its command and payload.
async fn next_binary(ws: &mut Ws) -> Result<(i8, Vec<u8>), Error> {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, ws.next()).await {
            Err(_) => return Err("timed out waiting for the server".into()),
            Ok(None) => return Err("connection closed".into()),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Message::Binary(b)))) => match shiku_frame::split(&b) {
                Some(f) => return Ok((f.command, f.payload.to_vec())),
                None => continue,
            },
            Ok(Some(Ok(Message::Close(c)))) => return Err(format!("closed: {c:?}").into()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// A `MessageHead` as the binary-protocol clients write it.
fn shiku_head(from: &str, to: &str, message_id: &str, chat_type: i32) -> Option<MessageHead> {
    Some(MessageHead {
        from: from.to_string(),
        to: to.to_string(),
        message_id: message_id.to_string(),
        chat_type,
        offline: false,
    })
}

/// One token login as the Shiku H5/Vue clients do it on the binary protocol: WebSocket, cmd 5
/// AUTH_REQ with the REST access token, cmd 6 AUTH_RESP with status 1.
async fn login_shiku(
    url: &str,
    u: &User,
    resource: &str,
    secret: &str,
    cred: Cred,
) -> Result<Ws, Error> {
    let req = ws_request(url, u.id)?;
    // TCP_NODELAY as in the XMPP mode (browsers set it).
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let from = format!("{}/{resource}", u.id);
    let auth = AuthMessage {
        message_head: shiku_head(&from, "server", &format!("auth-{}", u.id), chat_type::AUTH),
        // Older builds sent the md5 password in `password` instead of the token.
        token: if cred == Cred::Token {
            secret.to_string()
        } else {
            String::new()
        },
        password: if cred == Cred::Token {
            String::new()
        } else {
            secret.to_string()
        },
        device_id: format!("load-{}", u.id),
    };
    ws.send(Message::binary(shiku_frame::encode(cmd::AUTH_REQ, &auth)))
        .await?;
    loop {
        let (command, payload) = next_binary(&mut ws)
            .await
            .map_err(|e| format!("waiting for AUTH_RESP: {e}"))?;
        match command {
            cmd::AUTH_RESP => {
                let r: AuthRespMessageProBuf = shiku_frame::decode(&payload, "AUTH_RESP")?;
                if r.status != 1 {
                    return Err(format!("login refused for {}: {}", u.id, r.arg).into());
                }
                return Ok(ws);
            }
            cmd::ERROR => {
                let e: CommonErrorProBuf = shiku_frame::decode(&payload, "ERROR")?;
                return Err(format!("login of {} answered by an error: {}", u.id, e.arg).into());
            }
            _ => continue,
        }
    }
}

/// One token login as a Shiku XMPP client does it: WebSocket, open, SASL PLAIN, open, bind,
/// presence. Returns the authenticated connection.
async fn login_xmpp(url: &str, u: &User, resource: &str, secret: &str) -> Result<Ws, Error> {
    let mut req = ws_request(url, u.id)?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "xmpp".parse()?);
    // TCP_NODELAY as browsers set it: with Nagle on, a small frame waits for the server's
    // delayed ACK (~40 ms), which would be measured as server latency.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let open = format!(
        r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0"/>"#
    );
    ws.send(Message::text(open.clone())).await?;
    until(&mut ws, "SASL features", |f| f.contains("mechanisms")).await?;
    let creds = format!("\0{}\0{secret}", u.id);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, creds);
    ws.send(Message::text(format!(
        r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{b64}</auth>"#
    )))
    .await?;
    let f = until(&mut ws, "SASL outcome", |f| {
        f.contains("<success") || f.contains("<failure")
    })
    .await?;
    if !f.contains("<success") {
        return Err(format!("SASL refused for {}: {f}", u.id).into());
    }
    ws.send(Message::text(open)).await?;
    until(&mut ws, "bind feature", |f| {
        f.contains("urn:ietf:params:xml:ns:xmpp-bind")
    })
    .await?;
    ws.send(Message::text(format!(
        r#"<iq type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>{resource}</resource></bind></iq>"#
    )))
    .await?;
    let f = until(&mut ws, "bind result", |f| f.contains(r#""b1""#)).await?;
    if !f.contains(r#"type="result""#) {
        return Err(format!("bind refused: {f}").into());
    }
    ws.send(Message::text("<presence/>")).await?;
    Ok(ws)
}

/// Opens one session per user, `concurrency` logins in flight; the sessions and the wall time.
async fn login_all(
    url: &str,
    users: &[User],
    resource: &str,
    concurrency: usize,
    how: How,
) -> Result<(Vec<Ws>, Duration), Error> {
    let start = Instant::now();
    let results: Vec<Result<Ws, Error>> = futures_util::stream::iter(users.iter())
        .map(|u| login(url, u, resource, how))
        // In order: session i is user i.
        .buffered(concurrency)
        .collect()
        .await;
    let took = start.elapsed();
    Ok((results.into_iter().collect::<Result<_, _>>()?, took))
}

async fn close_all(sessions: Vec<Ws>, protocol: Protocol) {
    let closes = sessions.into_iter().map(|mut ws| async move {
        let bye = match protocol {
            Protocol::Xmpp => {
                Message::text(r#"<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>"#)
            }
            // cmd 7 CLOSE needs no payload.
            Protocol::Shiku => Message::binary(vec![cmd::CLOSE as u8]),
        };
        let _ = ws.send(bye).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    });
    futures_util::future::join_all(closes).await;
}

/// The value of attribute `name` in `tag` (the text from a tag's `<` on).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let end = tag.find('>').unwrap_or(tag.len());
    let tag = &tag[..end];
    for q in ['"', '\''] {
        let pat = format!(" {name}={q}");
        if let Some(i) = tag.find(&pat) {
            let rest = &tag[i + pat.len()..];
            return rest.find(q).map(|j| &rest[..j]);
        }
    }
    None
}

/// `(run, sender, seq)` from a generator message id `r<run>_<sender>_<seq>`.
fn parse_id(id: &str) -> Option<(u64, i64, u64)> {
    let mut p = id.strip_prefix('r')?.split('_');
    let run = p.next()?.parse().ok()?;
    let sender = p.next()?.parse().ok()?;
    let seq = p.next()?.parse().ok()?;
    Some((run, sender, seq))
}

/// What one session saw during a run.
#[derive(Default)]
struct SessionStats {
    sent: u64,
    /// Seqs of own messages the server receipted.
    receipted: HashSet<u64>,
    receipt_rtt_us: Vec<u64>,
    /// Seqs delivered from the peer, with how often.
    delivered: HashMap<u64, u32>,
    latency_us: Vec<u64>,
    last_delivery_us: u64,
    error: Option<String>,
}

/// Counters the driver watches to know when a run has drained.
#[derive(Default)]
struct Progress {
    outstanding: AtomicI64,
    receipted: AtomicU64,
    delivered: AtomicU64,
}

/// One run's parameters, shared by every session task.
struct RunSpec {
    protocol: Protocol,
    run: u64,
    epoch: Instant,
    /// Per-session gap between sends; zero = flat out.
    interval: Duration,
    send_until: Instant,
    window: usize,
    progress: Arc<Progress>,
}

/// Received 1:1 message ids a binary-protocol session has not confirmed yet.
struct ReceiptBatch {
    /// `id1,id2,` as the clients send it.
    ids: String,
    count: usize,
    /// When the batch goes out.
    due: Instant,
}

impl ReceiptBatch {
    fn new() -> ReceiptBatch {
        ReceiptBatch {
            ids: String::new(),
            count: 0,
            due: Instant::now(),
        }
    }

    fn add(&mut self, id: &str) {
        if self.count == 0 {
            self.due = Instant::now() + RECEIPT_BATCH_INTERVAL;
        }
        self.ids.push_str(id);
        self.ids.push(',');
        self.count += 1;
    }

    /// Sends the pending ids as one status-2 cmd 11 receipt from `from` (`<userId>/<resource>`).
    async fn flush(&mut self, sink: &mut SplitSink<Ws, Message>, from: &str) -> Result<(), Error> {
        if self.count == 0 {
            return Ok(());
        }
        let ids = std::mem::take(&mut self.ids);
        self.count = 0;
        let r = MessageReceiptStatusProBuf {
            message_head: shiku_head(from, DOMAIN, "", chat_type::CHAT),
            status: 2,
            message_id: ids,
        };
        sink.send(Message::binary(shiku_frame::encode(
            cmd::MESSAGE_RECEIPT,
            &r,
        )))
        .await?;
        Ok(())
    }
}

/// Drives one session: sends to `peer` on schedule (or flat out within the window), reads
/// receipts and deliveries, until `stop` turns true.
async fn session_task(
    ws: Ws,
    me: i64,
    peer: i64,
    offset: Duration,
    spec: Arc<RunSpec>,
    mut stop: watch::Receiver<bool>,
) -> (Ws, SessionStats) {
    let (mut sink, mut stream) = ws.split();
    let mut st = SessionStats::default();
    let mut in_flight: HashMap<u64, u64> = HashMap::new();
    let mut next_send = Instant::now() + offset;
    let mut seq = 0u64;
    // Binary protocol only: ids to confirm with a status-2 receipt, and this session's id.
    let mut receipts = ReceiptBatch::new();
    let me_full = format!("{me}/{RUN_RESOURCE}");
    let result: Result<(), Error> = async {
        loop {
            let sending = Instant::now() < spec.send_until;
            let may_send = sending && in_flight.len() < spec.window;
            let pace = tokio::time::sleep_until(next_send.into());
            let batch_due = tokio::time::sleep_until(receipts.due.into());
            tokio::select! {
                biased;
                frame = stream.next() => {
                    let Some(frame) = frame else { return Err("server closed the session".into()) };
                    match frame? {
                        Message::Text(t) => on_frame(&t, &spec, me, &mut st, &mut in_flight),
                        Message::Binary(b) => {
                            on_shiku_frame(&b, &spec, me, &mut st, &mut in_flight, &mut receipts);
                            if receipts.count >= RECEIPT_BATCH_MAX {
                                receipts.flush(&mut sink, &me_full).await?;
                            }
                        }
                        _ => {}
                    }
                }
                _ = stop.changed() => {
                    // What arrived is confirmed before the session closes, as a client would.
                    receipts.flush(&mut sink, &me_full).await?;
                    return Ok(());
                }
                _ = batch_due, if receipts.count > 0 => receipts.flush(&mut sink, &me_full).await?,
                _ = pace, if may_send => {
                    // The run may have ended while this task waited for a core.
                    if Instant::now() >= spec.send_until {
                        continue;
                    }
                    send_one(&mut sink, &spec, me, peer, seq, &mut in_flight).await?;
                    seq += 1;
                    st.sent += 1;
                    next_send = if spec.interval.is_zero() {
                        Instant::now()
                    } else {
                        // Keep the schedule (catch up after a stall) but never run ahead.
                        next_send + spec.interval
                    };
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        st.error = Some(e.to_string());
    }
    let ws = sink.reunite(stream).expect("halves of one stream");
    (ws, st)
}

async fn send_one(
    sink: &mut SplitSink<Ws, Message>,
    spec: &RunSpec,
    me: i64,
    peer: i64,
    seq: u64,
    in_flight: &mut HashMap<u64, u64>,
) -> Result<(), Error> {
    let id = format!("r{}_{me}_{seq}", spec.run);
    let t = spec.epoch.elapsed().as_micros() as u64;
    let frame = match spec.protocol {
        Protocol::Xmpp => {
            let now_s = chrono::Utc::now().timestamp();
            // The body is a Shiku text message; `content` carries the send time in µs.
            let stanza = format!(
                r#"<message to="{peer}@{DOMAIN}" type="chat" id="{id}"><body>{{"messageId":"{id}","fromUserId":"{me}","fromUserName":"load{me}","toUserId":"{peer}","content":"{t}","timeSend":{now_s},"type":1}}</body><request xmlns="urn:xmpp:receipts"/></message>"#
            );
            Message::text(stanza)
        }
        Protocol::Shiku => {
            // A text message as the binary-protocol clients send it (timeSend in ms);
            // `content` carries the send time in µs.
            let m = ChatMessage {
                message_head: shiku_head(
                    &format!("{me}/{RUN_RESOURCE}"),
                    &peer.to_string(),
                    &id,
                    chat_type::CHAT,
                ),
                from_user_id: me.to_string(),
                from_user_name: format!("load{me}"),
                to_user_id: peer.to_string(),
                time_send: chrono::Utc::now().timestamp_millis(),
                r#type: 1,
                content: t.to_string(),
                ..Default::default()
            };
            Message::binary(shiku_frame::encode(cmd::CHAT, &m))
        }
    };
    in_flight.insert(seq, t);
    spec.progress.outstanding.fetch_add(1, Ordering::Relaxed);
    sink.send(frame).await?;
    Ok(())
}

fn on_frame(
    frame: &str,
    spec: &RunSpec,
    me: i64,
    st: &mut SessionStats,
    in_flight: &mut HashMap<u64, u64>,
) {
    let now = spec.epoch.elapsed().as_micros() as u64;
    if !frame.starts_with("<message") {
        return;
    }
    if let Some(i) = frame.find("<received") {
        let Some((run, sender, seq)) = attr(&frame[i..], "id").and_then(parse_id) else {
            return;
        };
        if run == spec.run && sender == me {
            if let Some(t) = in_flight.remove(&seq) {
                st.receipt_rtt_us.push(now.saturating_sub(t));
                spec.progress.outstanding.fetch_sub(1, Ordering::Relaxed);
                spec.progress.receipted.fetch_add(1, Ordering::Relaxed);
            }
            st.receipted.insert(seq);
        }
        return;
    }
    let Some((run, _sender, seq)) = attr(frame, "id").and_then(parse_id) else {
        return;
    };
    if run != spec.run {
        return; // left over from an earlier run (offline queue)
    }
    let count = st.delivered.entry(seq).or_insert(0);
    *count += 1;
    if *count > 1 {
        return;
    }
    spec.progress.delivered.fetch_add(1, Ordering::Relaxed);
    st.last_delivery_us = now;
    if let Some(sent) = body_content(frame).and_then(|c| c.parse::<u64>().ok()) {
        st.latency_us.push(now.saturating_sub(sent));
    }
}

/// [`on_frame`] for a binary-protocol frame: the status-1 receipt (cmd 11) of an own message,
/// or a delivered chat (cmd 10), whose id joins `receipts` to be confirmed as the clients do.
/// An error frame is recorded as the session's error.
fn on_shiku_frame(
    data: &[u8],
    spec: &RunSpec,
    me: i64,
    st: &mut SessionStats,
    in_flight: &mut HashMap<u64, u64>,
    receipts: &mut ReceiptBatch,
) {
    let now = spec.epoch.elapsed().as_micros() as u64;
    let Some(f) = shiku_frame::split(data) else {
        return;
    };
    match f.command {
        cmd::MESSAGE_RECEIPT => {
            let Ok(r) = shiku_frame::decode::<MessageReceiptStatusProBuf>(f.payload, "receipt")
            else {
                return;
            };
            if r.status != 1 {
                return;
            }
            let Some((run, sender, seq)) = parse_id(&r.message_id) else {
                return;
            };
            if run == spec.run && sender == me {
                if let Some(t) = in_flight.remove(&seq) {
                    st.receipt_rtt_us.push(now.saturating_sub(t));
                    spec.progress.outstanding.fetch_sub(1, Ordering::Relaxed);
                    spec.progress.receipted.fetch_add(1, Ordering::Relaxed);
                }
                st.receipted.insert(seq);
            }
        }
        cmd::CHAT => {
            let Ok(m) = shiku_frame::decode::<ChatMessage>(f.payload, "chat") else {
                return;
            };
            let head = m.message_head.unwrap_or_default();
            // Every 1:1 message is confirmed, earlier runs' too (spec 5.3 item 6: all but
            // types 86-93, which the generator never sends).
            if head.chat_type == chat_type::CHAT && !head.message_id.is_empty() {
                receipts.add(&head.message_id);
            }
            let Some((run, _sender, seq)) = parse_id(&head.message_id) else {
                return;
            };
            if run != spec.run {
                return; // left over from an earlier run (offline queue)
            }
            let count = st.delivered.entry(seq).or_insert(0);
            *count += 1;
            if *count > 1 {
                return;
            }
            spec.progress.delivered.fetch_add(1, Ordering::Relaxed);
            st.last_delivery_us = now;
            if let Ok(sent) = m.content.parse::<u64>() {
                st.latency_us.push(now.saturating_sub(sent));
            }
        }
        cmd::ERROR | cmd::LOGIN_CONFLICT if st.error.is_none() => {
            let arg = shiku_frame::decode::<CommonErrorProBuf>(f.payload, "error")
                .map(|e| e.arg)
                .unwrap_or_default();
            st.error = Some(format!("error frame {}: {arg}", f.command));
        }
        _ => {}
    }
}

/// The `content` of the JSON body of a message stanza.
fn body_content(frame: &str) -> Option<String> {
    let start = frame.find("<body")?;
    let open_end = start + frame[start..].find('>')? + 1;
    let close = open_end + frame[open_end..].find("</body>")?;
    let text = quick_xml::escape::unescape(&frame[open_end..close]).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    match &v["content"] {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// One row of the summary.
struct RunResult {
    label: String,
    sent: u64,
    receipted: u64,
    delivered: u64,
    rate: f64,
    p50: u64,
    p99: u64,
    max: u64,
    receipt_p99: u64,
    lost: u64,
    duplicates: u64,
    errors: Vec<String>,
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run_messages(
    url: &str,
    users: &[User],
    rate: u64,
    run: u64,
    opts: &Opts,
) -> Result<RunResult, Error> {
    let (sessions, _) = login_all(
        url,
        users,
        RUN_RESOURCE,
        opts.concurrency,
        opts.how(Cred::Token),
    )
    .await?;
    let progress = Arc::new(Progress::default());
    let n = sessions.len();
    let interval = if rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(n as f64 / rate as f64)
    };
    let start = Instant::now() + Duration::from_millis(200);
    let spec = Arc::new(RunSpec {
        protocol: opts.protocol,
        run,
        epoch: Instant::now(),
        interval,
        send_until: start + Duration::from_secs_f64(opts.seconds),
        window: opts.window,
        progress: progress.clone(),
    });
    let first_send_us = (start - spec.epoch).as_micros() as u64;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(n);
    for (i, ws) in sessions.into_iter().enumerate() {
        let me = users[i].id;
        let peer = users[i ^ 1].id;
        // Spread the senders' first sends over one interval so the load is even.
        let offset = (start - Instant::now()) + interval.mul_f64(i as f64 / n as f64);
        tasks.push(tokio::spawn(session_task(
            ws,
            me,
            peer,
            offset,
            spec.clone(),
            stop_rx.clone(),
        )));
    }
    // A moment past the end, so no send is still on its way when the drain starts counting.
    tokio::time::sleep_until((spec.send_until + Duration::from_millis(100)).into()).await;
    // Drain: every receipt back and every receipted message delivered, or give up.
    let deadline = Instant::now() + STEP_TIMEOUT;
    while Instant::now() < deadline {
        let p = &progress;
        if p.outstanding.load(Ordering::Relaxed) <= 0
            && p.delivered.load(Ordering::Relaxed) >= p.receipted.load(Ordering::Relaxed)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if Instant::now() >= deadline {
        eprintln!(
            "  not drained after {} s: {} unreceipted, {} receipted, {} delivered",
            STEP_TIMEOUT.as_secs(),
            progress.outstanding.load(Ordering::Relaxed),
            progress.receipted.load(Ordering::Relaxed),
            progress.delivered.load(Ordering::Relaxed)
        );
    }
    // A little longer so late duplicates are seen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop_tx.send(true);
    let mut stats = Vec::with_capacity(n);
    let mut wss = Vec::with_capacity(n);
    for t in tasks {
        let (ws, st) = t.await?;
        wss.push(ws);
        stats.push(st);
    }
    close_all(wss, opts.protocol).await;

    let mut r = RunResult {
        label: if rate == 0 {
            "flat out".into()
        } else {
            format!("{rate}/s")
        },
        sent: 0,
        receipted: 0,
        delivered: 0,
        rate: 0.0,
        p50: 0,
        p99: 0,
        max: 0,
        receipt_p99: 0,
        lost: 0,
        duplicates: 0,
        errors: Vec::new(),
    };
    let mut lat = Vec::new();
    let mut rtt = Vec::new();
    let mut last = first_send_us;
    for (i, st) in stats.iter().enumerate() {
        let peer = &stats[i ^ 1];
        r.sent += st.sent;
        r.receipted += st.receipted.len() as u64;
        r.delivered += st.delivered.len() as u64;
        r.duplicates += st
            .delivered
            .values()
            .map(|c| u64::from(c.saturating_sub(1)))
            .sum::<u64>();
        let mut lost: Vec<u64> = st
            .receipted
            .iter()
            .filter(|s| !peer.delivered.contains_key(s))
            .copied()
            .collect();
        if !lost.is_empty() {
            lost.sort_unstable();
            eprintln!(
                "  lost from {} to {} ({} sent): r{run}_{}_<seq> for seq {:?}",
                users[i].id,
                users[i ^ 1].id,
                st.sent,
                users[i].id,
                &lost[..lost.len().min(12)]
            );
        }
        r.lost += lost.len() as u64;
        lat.extend_from_slice(&st.latency_us);
        rtt.extend_from_slice(&st.receipt_rtt_us);
        last = last.max(st.last_delivery_us);
        if let Some(e) = &st.error {
            r.errors.push(format!("session {}: {e}", users[i].id));
        }
    }
    lat.sort_unstable();
    rtt.sort_unstable();
    let span = (last.saturating_sub(first_send_us)) as f64 / 1e6;
    r.rate = if span > 0.0 {
        r.delivered as f64 / span
    } else {
        0.0
    };
    r.p50 = pct(&lat, 0.50);
    r.p99 = pct(&lat, 0.99);
    r.max = lat.last().copied().unwrap_or(0);
    r.receipt_p99 = pct(&rtt, 0.99);
    Ok(r)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A `kB` field of `/proc/<pid>/status`, bytes.
fn status_bytes(pid: u32, field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| format!("no {field} in /proc/<pid>/status"))?;
    Ok(kb * 1024)
}

/// The server's highest RSS while a phase runs, sampled every 10 ms.
struct PeakRss {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl PeakRss {
    fn start(pid: u32) -> PeakRss {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(status_bytes(pid, "VmRSS").unwrap_or(0));
                if flag.load(Ordering::Relaxed) {
                    return peak;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        PeakRss { stop, task }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0)
    }
}

/// `--wrong N`: N concurrent wrong-password logins (N users, each from its own address, as a
/// distributed guesser would), while one logged-in user calls `/getCurrentTime` in a loop and
/// other users log in with their password. Reports the server's memory and both latencies.
async fn wrong_logins(
    server: &Server,
    url: &str,
    users: &[User],
    opts: &Opts,
) -> Result<Vec<String>, Error> {
    let n = opts.wrong.min(users.len());
    let others = &users[n..users.len().min(n + 20)];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss()?;
    let peak = PeakRss::start(server.pid());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rest = {
        let (done, base, token) = (done.clone(), server.base.clone(), users[0].token.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = http
                    .get(format!("http://{base}/getCurrentTime"))
                    .query(&[("access_token", token.as_str())])
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    lat.push(t.elapsed().as_micros() as u64);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            lat
        })
    };
    let start = Instant::now();
    let how = opts.how(Cred::Wrong);
    let attempts = futures_util::future::join_all(
        users[..n]
            .iter()
            .map(|u| async move { login(url, u, "wrong", how).await.is_err() }),
    );
    let logins = async {
        let mut lat = Vec::new();
        let mut failed = 0;
        for u in others {
            let t = Instant::now();
            match login(url, u, "other", opts.how(Cred::Password)).await {
                Ok(ws) => {
                    lat.push(t.elapsed().as_micros() as u64);
                    drop(ws);
                }
                Err(_) => failed += 1,
            }
        }
        (lat, failed)
    };
    let (refused, (mut login_lat, login_failed)) = tokio::join!(attempts, logins);
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let mut rest_lat = rest.await.unwrap_or_default();
    let peak = peak.finish().await;
    rest_lat.sort_unstable();
    login_lat.sort_unstable();
    Ok(vec![
        format!(
            "{n} concurrent wrong-password logins   {:.3} s, {} refused; RSS {:.1} MB before, peak {:.1} MB (+{:.1} MB)",
            took.as_secs_f64(),
            refused.iter().filter(|r| **r).count(),
            mb(before),
            mb(peak),
            mb(peak.saturating_sub(before))
        ),
        format!(
            "  meanwhile /getCurrentTime      {} calls, p50 {} ms, p99 {} ms, max {} ms",
            rest_lat.len(),
            ms(pct(&rest_lat, 0.50)),
            ms(pct(&rest_lat, 0.99)),
            ms(rest_lat.last().copied().unwrap_or(0))
        ),
        format!(
            "  meanwhile {} password logins  one after another: p50 {} ms, max {} ms, {} failed",
            others.len(),
            ms(pct(&login_lat, 0.50)),
            ms(login_lat.last().copied().unwrap_or(0)),
            login_failed
        ),
    ])
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

async fn bench(opts: Opts) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&opts.server, dir.path(), "register.log").await?;
    let needed = opts.idle.max(opts.sessions);
    eprintln!(
        "server pid {} on {}; registering {needed} users over REST...",
        server.pid(),
        server.base
    );
    let t = Instant::now();
    let users = register(&server.base, needed).await?;
    eprintln!("registered in {:.1} s", t.elapsed().as_secs_f64());
    // Registration hashes passwords with argon2, whose large buffers the allocator keeps; a
    // fresh process on the same data (the token key is stored there) measures sessions only.
    drop(server);
    let server = Server::start(&opts.server, dir.path(), "server.log").await?;
    let url = server.ws_url(opts.protocol, opts.endpoint);
    eprintln!(
        "restarted: server pid {} on {}; sessions connect to {url}",
        server.pid(),
        server.base
    );

    let mut summary = Vec::new();
    if opts.idle > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = server.rss()?;
        let (anon_before, file_before) = server.rss_parts()?;
        let peak = PeakRss::start(server.pid());
        let (mut idle, took) = login_all(
            &url,
            &users[..opts.idle],
            "idle",
            opts.concurrency,
            opts.how(opts.cred),
        )
        .await?;
        let peak = peak.finish().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = server.rss()?;
        let (anon_after, file_after) = server.rss_parts()?;
        let kind = if opts.cred == Cred::Token {
            "token"
        } else {
            "password"
        };
        summary.push(format!(
            "{} {kind} logins ({} in flight)   {:.3} s  ({:.0} logins/s; peak RSS {:.1} MB)",
            opts.idle,
            opts.concurrency,
            took.as_secs_f64(),
            opts.idle as f64 / took.as_secs_f64(),
            mb(peak)
        ));
        summary.push(format!(
            "idle memory per session         {:.1} kB  (server RSS {:.1} MB -> {:.1} MB, {} sessions)",
            after.saturating_sub(before) as f64 / opts.idle as f64 / 1024.0,
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            opts.idle
        ));
        let per = |a: u64, b: u64| (a as f64 - b as f64) / opts.idle as f64 / 1024.0;
        summary.push(format!(
            "  of which anonymous {:.1} kB, file-backed/shared {:.1} kB per session",
            per(anon_after, anon_before),
            per(file_after, file_before)
        ));
        if opts.storm {
            // Every connection cut at once (no close), then every client back at once.
            drop(idle);
            let cut = Instant::now();
            let peak = PeakRss::start(server.pid());
            let (again, took) = login_all(
                &url,
                &users[..opts.idle],
                "idle",
                opts.concurrency,
                opts.how(opts.cred),
            )
            .await?;
            let peak = peak.finish().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            summary.push(format!(
                "reconnect storm: {} {kind} logins   all back in {:.3} s ({:.3} s after the cut); peak RSS {:.1} MB, 1 s later {:.1} MB",
                opts.idle,
                took.as_secs_f64(),
                cut.elapsed().as_secs_f64() - 1.0,
                mb(peak),
                mb(server.rss()?)
            ));
            idle = again;
        }
        if opts.wrong > 0 {
            summary.extend(wrong_logins(&server, &url, &users, &opts).await?);
        }
        if opts.hold > 0.0 {
            eprintln!("holding {} idle sessions for {} s...", opts.idle, opts.hold);
            tokio::time::sleep(Duration::from_secs_f64(opts.hold)).await;
        }
        close_all(idle, opts.protocol).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let mut rows = Vec::new();
    if opts.sessions > 0 {
        for (run, rate) in opts.rates.iter().enumerate() {
            eprintln!(
                "run {}: {} sessions, rate {}, {} s...",
                run + 1,
                opts.sessions,
                if *rate == 0 {
                    "flat out".to_string()
                } else {
                    format!("{rate}/s")
                },
                opts.seconds
            );
            let r = run_messages(&url, &users[..opts.sessions], *rate, run as u64, &opts).await?;
            for e in r.errors.iter().take(5) {
                eprintln!("  {e}");
            }
            rows.push(r);
        }
    }

    println!();
    let protocol = match opts.protocol {
        Protocol::Xmpp => "XMPP load: RFC 7395 WebSocket",
        Protocol::Shiku => "Shiku binary-protocol load: WebSocket",
    };
    let endpoint = match opts.endpoint {
        Endpoint::Dedicated => "dedicated listener",
        Endpoint::Api => "API port route",
    };
    println!(
        "shiku-server {protocol}, 1:1 messages with receipts, {} cores, server and generator on one machine",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("endpoint: {endpoint} {url}");
    for line in &summary {
        println!("{line}");
    }
    if !rows.is_empty() {
        println!(
            "{:<10} {:>8} {:>8} {:>9} {:>9} {:>12} {:>8} {:>8} {:>8} {:>11} {:>6} {:>5} {:>7}",
            "rate",
            "sessions",
            "sent",
            "receipted",
            "delivered",
            "delivered/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "rcpt p99 ms",
            "lost",
            "dup",
            "errors"
        );
        for r in &rows {
            println!(
                "{:<10} {:>8} {:>8} {:>9} {:>9} {:>12.0} {:>8} {:>8} {:>8} {:>11} {:>6} {:>5} {:>7}",
                r.label,
                opts.sessions,
                r.sent,
                r.receipted,
                r.delivered,
                r.rate,
                ms(r.p50),
                ms(r.p99),
                ms(r.max),
                ms(r.receipt_p99),
                r.lost,
                r.duplicates,
                r.errors.len()
            );
        }
    }
    Ok(())
}

fn main() {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(bench(opts)) {
        eprintln!("xmpp_load: {e}");
        std::process::exit(1);
    }
}
