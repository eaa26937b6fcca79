//! The server binary as a child process (so its memory can be read from `/proc`) and a bare
//! RFC 7395 client that reports failures instead of panicking: shared by tests that measure the
//! server from outside (`tests/overload.rs`) and by `benches/attack.rs` (included by path).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The XMPP domain the child servers are given.
pub const DOMAIN: &str = "child.shiku.test";

/// A running server process; killed when dropped.
pub struct ChildServer {
    child: Child,
    /// The API listener, `host:port`.
    pub base: String,
    log: PathBuf,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl ChildServer {
    /// Starts `binary` on `dir` and a free port with `SHIKU_*` overrides `env`, and waits until
    /// it answers HTTP.
    pub async fn start(binary: &Path, dir: &Path, env: &[(&str, String)]) -> Result<Self, String> {
        let port = free_port();
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(binary);
        cmd.current_dir(dir)
            .env("SHIKU_LISTEN", format!("127.0.0.1:{port}"))
            .env("SHIKU_DATA_DIR", dir)
            .env("SHIKU_CLIENT__XMPP_DOMAIN", DOMAIN)
            // Per-request access logs would measure the log, not the server.
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let server = ChildServer {
            child,
            base: format!("127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
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
                return Err(format!("server did not come up:\n{}", server.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `kB` field of the server's `/proc/<pid>/status` (`VmRSS`, `VmHWM`), bytes.
    pub fn status_bytes(&self, field: &str) -> u64 {
        status_bytes(self.pid(), field)
    }

    /// Resets the kernel's peak-RSS mark (`VmHWM`), so it covers only what follows.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last 30 lines of the server's log.
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SecantusDB started by a bench; killed when dropped.
pub struct Secantus(pub Child);

impl Drop for Secantus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The MongoDB a bench runs on: `SHIKU_TEST_MONGODB_URI`, else a SecantusDB (`SECANTUSD`, or
/// the one in `target/interop-venv`) started here in memory, returned with its URI.
pub async fn bench_mongodb(log_dir: &Path) -> Result<(String, Option<Secantus>), String> {
    if let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") {
        return Ok((uri, None));
    }
    let bin = std::env::var("SECANTUSD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/secantusd-py")
        });
    if !bin.is_file() {
        return Err(format!(
            "set SHIKU_TEST_MONGODB_URI, or make the SecantusDB venv ({} not found; README \
             \"Testing on MongoDB\" shows how)",
            bin.display()
        ));
    }
    let port = free_port();
    let log = std::fs::File::create(log_dir.join("secantusdb.log")).map_err(|e| e.to_string())?;
    let proc = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--storage-path", ":memory:", "--log-level", "WARNING"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let db = Secantus(proc);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err(format!("SecantusDB did not listen on {port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The options CI uses with SecantusDB (README "Testing on MongoDB").
    let uri = format!(
        "mongodb://127.0.0.1:{port}/?retryWrites=false&connectTimeoutMS=60000&\
         serverSelectionTimeoutMS=60000"
    );
    Ok((uri, Some(db)))
}

/// A `kB` field of `/proc/<pid>/status`, bytes (0 when unreadable).
pub fn status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// The highest `VmRSS` of a process while it runs, sampled every 10 ms.
pub struct PeakRss {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl PeakRss {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(status_bytes(pid, "VmRSS"));
                if flag.load(Ordering::Relaxed) {
                    return peak;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        PeakRss { stop, task }
    }

    /// Stops sampling; the peak seen.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0)
    }
}

/// Client number `n`'s address, told to the server (which trusts loopback as a proxy) in
/// `X-Forwarded-For`, so per-address limits see each client as a real deployment would.
pub fn client_address(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

/// Registers `phone` (password md5 `password`) from address `xff`; `(userId, access_token)`.
pub async fn register(
    http: &reqwest::Client,
    base: &str,
    phone: &str,
    password: &str,
    xff: &str,
) -> Result<(i64, String), String> {
    let v: serde_json::Value = http
        .post(format!("http://{base}/user/register"))
        .header("X-Forwarded-For", xff)
        .form(&[
            ("telephone", phone),
            ("areaCode", "86"),
            ("password", password),
            ("nickname", phone),
            ("access_token", ""),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    match (
        v["data"]["userId"].as_i64(),
        v["data"]["access_token"].as_str(),
    ) {
        (Some(id), Some(t)) => Ok((id, t.to_string())),
        _ => Err(format!("register {phone}: {v}")),
    }
}

/// The WebSocket stream type.
pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare RFC 7395 client: one stanza per text frame.
pub struct Xmpp {
    /// The connection; tests may split or hold it unread.
    pub ws: WsStream,
}

/// The framing `<open/>` for [`DOMAIN`].
pub fn open_frame() -> String {
    format!(r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0"/>"#)
}

impl Xmpp {
    /// Opens a WebSocket to `url` offering the `xmpp` sub-protocol, from address `xff`.
    pub async fn connect(url: &str, xff: &str) -> Result<Xmpp, String> {
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        let h = req.headers_mut();
        h.insert("Sec-WebSocket-Protocol", "xmpp".parse().expect("header"));
        h.insert("X-Forwarded-For", xff.parse().map_err(|_| "bad address")?);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Xmpp { ws })
    }

    /// Connects and logs in: open, SASL PLAIN (`secret` is the md5 password or the REST
    /// token), restart, bind `resource`, presence.
    pub async fn login(
        url: &str,
        xff: &str,
        uid: i64,
        secret: &str,
        resource: &str,
    ) -> Result<Xmpp, String> {
        let mut c = Xmpp::connect(url, xff).await?;
        c.send(&open_frame()).await?;
        c.until(|f| f.contains("mechanisms")).await?;
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("\0{uid}\0{secret}"),
        );
        c.send(&format!(
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{b64}</auth>"#
        ))
        .await?;
        let f = c
            .until(|f| f.contains("<success") || f.contains("<failure"))
            .await?;
        if !f.contains("<success") {
            return Err(format!("SASL refused for {uid}: {f}"));
        }
        c.send(&open_frame()).await?;
        c.until(|f| f.contains("urn:ietf:params:xml:ns:xmpp-bind"))
            .await?;
        c.send(&format!(
            r#"<iq type="set" id="bind_1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>{resource}</resource></bind></iq>"#
        ))
        .await?;
        let f = c.until(|f| f.contains("bind_1")).await?;
        if !f.contains(r#"type="result""#) {
            return Err(format!("bind refused: {f}"));
        }
        c.send("<presence/>").await?;
        Ok(c)
    }

    /// Sends one text frame.
    pub async fn send(&mut self, frame: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next text frame; `Ok(None)` when nothing came within `wait`, an error when the
    /// connection closed.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<String>, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(Some(Ok(Message::Text(t)))) => return Ok(Some(t.to_string())),
                Ok(Some(Ok(Message::Close(c)))) => return Err(format!("closed: {c:?}")),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => return Err("connection ended".into()),
            }
        }
    }

    /// Skips frames until one satisfies `pred` (10 s at most).
    pub async fn until(&mut self, pred: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(f) if pred(&f) => return Ok(f),
                Some(_) => {}
                None => return Err("timed out waiting for a frame".into()),
            }
        }
    }
}

/// A 1:1 chat stanza from `from` to `to` with id `id`, `content` as its text, asking for a
/// receipt.
pub fn chat(from: i64, to: i64, id: &str, content: &str) -> String {
    let body = serde_json::json!({"messageId": id, "fromUserId": from.to_string(),
        "toUserId": to.to_string(), "content": content, "type": 1});
    let body = body
        .to_string()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<message to="{to}@{DOMAIN}" type="chat" id="{id}"><body>{body}</body><request xmlns="urn:xmpp:receipts"/></message>"#
    )
}

/// The value of attribute `name` in the first tag of `frame` that has one.
pub fn attr(frame: &str, name: &str) -> Option<String> {
    for q in ['"', '\''] {
        let pat = format!(" {name}={q}");
        if let Some(i) = frame.find(&pat) {
            let rest = &frame[i + pat.len()..];
            return rest.find(q).map(|j| rest[..j].to_string());
        }
    }
    None
}

/// The id a `<received/>` receipt confirms, if `frame` is one.
pub fn receipt_id(frame: &str) -> Option<String> {
    let i = frame.find("<received")?;
    attr(&frame[i..], "id")
}
