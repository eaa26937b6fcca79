//! A message acknowledged to its sender is never lost: the real server binary runs as a child
//! process on a temporary data directory; user A sends 1:1 messages over XMPP WebSocket (raw
//! RFC 7395 frames, SASL PLAIN with the REST token) to offline user B, and the moment the last
//! `<received/>` receipt arrives the server is killed with SIGKILL (no shutdown, no flush).
//! Restarted on the same data directory, it must show every receipted message in A's history
//! and deliver every one to B at B's next XMPP login, from the offline queue (delay-stamped), in
//! order, once. Users the killed process had online are offline in the new one.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shiku_server::domain::util::md5_hex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const DOMAIN: &str = "durable.shiku.test";
/// How long any single expected frame may take.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// The server binary as a child process; killed when dropped so a failed test leaves nothing.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    /// Starts `shiku-server` on `data_dir` and a free port, and waits until it answers HTTP.
    async fn start(data_dir: &Path, log_name: &str) -> ServerProcess {
        let port = free_port();
        let log = std::fs::File::create(data_dir.join(log_name)).expect("log file");
        // Under SHIKU_TEST_STORE=mongodb the binary runs on MongoDB too (a restart on the same
        // dir finds the same databases; the test holds their guard).
        let store = common::stores::child_env(data_dir);
        let child = Command::new(env!("CARGO_BIN_EXE_shiku-server"))
            .envs(store)
            .current_dir(data_dir)
            .env("SHIKU_LISTEN", format!("127.0.0.1:{port}"))
            .env("SHIKU_DATA_DIR", data_dir)
            .env("SHIKU_CLIENT__XMPP_DOMAIN", DOMAIN)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start shiku-server");
        let server = ServerProcess {
            child,
            base: format!("127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = client
                .get(format!("http://{}/config", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "server did not come up; log:\n{}",
                std::fs::read_to_string(data_dir.join(log_name)).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: the process gets no chance to flush or shut down.
    fn kill(mut self) {
        self.child.kill().expect("kill server");
        self.child.wait().expect("reap server");
    }

    /// SIGTERM, then the exit status (the process must stop by itself within 15 s).
    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        reqwest::Client::new()
            .post(format!("http://{}{path}", self.base))
            .form(pairs)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON answer")
    }

    async fn get(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        reqwest::Client::new()
            .get(format!("http://{}{path}", self.base))
            .query(pairs)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON answer")
    }

    async fn register(&self, phone: &str, password: &str, nickname: &str) -> i64 {
        let v = self
            .post(
                "/user/register",
                &[
                    ("telephone", phone),
                    ("areaCode", "86"),
                    ("password", &md5_hex(password)),
                    ("nickname", nickname),
                    ("access_token", ""),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "register: {v}");
        v["data"]["userId"].as_i64().expect("userId")
    }

    /// `/user/login` as the web client does; the access token.
    async fn login(&self, phone: &str, password: &str) -> String {
        let v = self
            .post(
                "/user/login",
                &[
                    ("telephone", &md5_hex(phone)),
                    ("password", &md5_hex(password)),
                    ("areaCode", "86"),
                    ("access_token", ""),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "login: {v}");
        v["data"]["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare RFC 7395 client: one stanza per text frame.
struct XmppWs {
    ws: Ws,
}

impl XmppWs {
    /// Connects to `/xmpp-websocket`, authenticates with SASL PLAIN, binds `resource` and sends
    /// initial presence.
    async fn login(base: &str, user: i64, password: &str, resource: &str) -> XmppWs {
        let mut req = format!("ws://{base}/xmpp-websocket")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "xmpp".parse().expect("header"));
        let (ws, resp) = tokio_tungstenite::connect_async(req)
            .await
            .expect("WebSocket connect");
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some("xmpp"),
            "sub-protocol"
        );
        let mut c = XmppWs { ws };
        let open = format!(
            r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0"/>"#
        );
        c.send(&open).await;
        c.until(|f| f.contains("mechanisms")).await;
        let creds = format!("\0{user}\0{password}");
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, creds);
        c.send(&format!(
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{b64}</auth>"#
        ))
        .await;
        let outcome = c
            .until(|f| f.contains("<success") || f.contains("<failure"))
            .await;
        assert!(outcome.contains("<success"), "SASL: {outcome}");
        c.send(&open).await;
        c.until(|f| f.contains("urn:ietf:params:xml:ns:xmpp-bind"))
            .await;
        c.send(&format!(
            r#"<iq type="set" id="bind_1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>{resource}</resource></bind></iq>"#
        ))
        .await;
        let bound = c.until(|f| f.contains("bind_1")).await;
        assert!(bound.contains(r#"type="result""#), "bind: {bound}");
        c.send("<presence/>").await;
        c
    }

    async fn send(&mut self, frame: &str) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("send frame");
    }

    /// The next text frame, or None when nothing came within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<String> {
        loop {
            let m = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            match m {
                Some(Ok(Message::Text(t))) => return Some(t.to_string()),
                Some(Ok(Message::Close(c))) => panic!("server closed the WebSocket: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("WebSocket error: {e}"),
                None => panic!("WebSocket ended"),
            }
        }
    }

    /// Skips frames until one satisfies `pred`.
    async fn until(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let f = self
                .next(FRAME_TIMEOUT)
                .await
                .expect("timed out waiting for a frame");
            if pred(&f) {
                return f;
            }
        }
    }
}

/// The value of attribute `name` in the first tag of `frame` that has one.
fn attr(frame: &str, name: &str) -> Option<String> {
    for q in ['"', '\''] {
        let pat = format!(" {name}={q}");
        if let Some(i) = frame.find(&pat) {
            let rest = &frame[i + pat.len()..];
            return rest.find(q).map(|j| rest[..j].to_string());
        }
    }
    None
}

/// The messageIds in `me`'s 1:1 history with `peer`.
/// `/user/getOnLine` of `user_id`, asked by the holder of `token`.
async fn online(s: &ServerProcess, token: &str, user_id: i64) -> Value {
    let v = s
        .get(
            "/user/getOnLine",
            &[("access_token", token), ("userId", &user_id.to_string())],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"].clone()
}

async fn history_ids(s: &ServerProcess, token: &str, peer: i64) -> Vec<String> {
    let v = s
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", token),
                ("receiver", &peer.to_string()),
                ("pageSize", "1000"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["messageId"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipted_messages_survive_sigkill_in_history_and_offline_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _databases = common::stores::databases(dir.path());
    let s = ServerProcess::start(dir.path(), "first.log").await;
    let a = s.register("13800000001", "alice-pw", "alice").await;
    let b = s.register("13800000002", "bob-pw", "bob").await;
    let a_token = s.login("13800000001", "alice-pw").await;

    // A sends a burst to offline B and waits for every receipt; the last one is the signal.
    let mut alice = XmppWs::login(&s.base, a, &a_token, "web").await;
    const N: usize = 50;
    let ids: Vec<String> = (0..N).map(|i| format!("durable_{a}_{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let body = json!({
            "messageId": id,
            "fromUserId": a.to_string(),
            "fromUserName": "alice",
            "toUserId": b.to_string(),
            "content": format!("survive {i}"),
            "timeSend": chrono::Utc::now().timestamp(),
            "type": 1,
        });
        let body = body.to_string().replace('&', "&amp;").replace('<', "&lt;");
        alice
            .send(&format!(
                r#"<message to="{b}@{DOMAIN}" type="chat" id="{id}"><body>{body}</body><request xmlns="urn:xmpp:receipts"/></message>"#
            ))
            .await;
    }
    let mut receipted = std::collections::HashSet::new();
    while receipted.len() < N {
        let f = alice
            .until(|f| f.contains("urn:xmpp:receipts") && f.contains("<received"))
            .await;
        let received = &f[f.find("<received").expect("received")..];
        receipted.insert(attr(received, "id").expect("receipt id"));
    }
    assert_eq!(
        online(&s, &a_token, a).await,
        1,
        "A is online while connected"
    );
    s.kill();
    drop(alice);
    assert!(ids.iter().all(|id| receipted.contains(id)));

    // Same data, new process. Tokens are re-issued by a fresh REST login.
    let s = ServerProcess::start(dir.path(), "second.log").await;
    let a_token = s.login("13800000001", "alice-pw").await;
    let b_token = s.login("13800000002", "bob-pw").await;
    // The killed process never closed A's session: the new one starts with nobody online.
    assert_eq!(
        online(&s, &b_token, a).await,
        0,
        "A still online after a restart"
    );
    let history = history_ids(&s, &a_token, b).await;
    for id in &ids {
        assert!(
            history.contains(id),
            "{id} missing from A's history: {history:?}"
        );
    }

    // B's first XMPP login drains the offline queue: all of them, in order, delay-stamped.
    let mut bob = XmppWs::login(&s.base, b, &b_token, "web").await;
    let mut got = Vec::new();
    while got.len() < N {
        let f = bob
            .until(|f| f.starts_with("<message") && f.contains("<body"))
            .await;
        assert!(
            f.contains("urn:xmpp:delay") && f.contains("stamp="),
            "offline message without a delay stamp: {f}"
        );
        got.push(attr(&f, "id").expect("message id"));
    }
    assert_eq!(got, ids, "offline messages out of order or wrong");
    // Nothing more (no duplicate) within a short grace period.
    while let Some(f) = bob.next(Duration::from_millis(500)).await {
        if let Some(id) = attr(&f, "id") {
            assert!(!ids.contains(&id) || !f.contains("<body"), "duplicate: {f}");
        }
    }
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_sessions_system_shutdown_then_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _databases = common::stores::databases(dir.path());
    let mut s = ServerProcess::start(dir.path(), "term.log").await;
    let a = s.register("13800000021", "alice-pw", "alice").await;
    let token = s.login("13800000021", "alice-pw").await;
    let mut alice = XmppWs::login(&s.base, a, &token, "web").await;
    // The initial presence is handled after the login returns: wait for it.
    let deadline = Instant::now() + FRAME_TIMEOUT;
    while online(&s, &token, a).await != 1 {
        assert!(Instant::now() < deadline, "A never came online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The reader runs beside the stop: the notice comes while the process is stopping.
    let notice = tokio::spawn(async move {
        alice
            .until(|f| f.contains("<stream:error") || f.contains("xmpp-streams"))
            .await
    });
    let status = tokio::task::spawn_blocking(move || s.terminate())
        .await
        .expect("terminate");
    let frame = notice.await.expect("reader");
    assert!(frame.contains("<system-shutdown"), "{frame}");
    assert!(status.success(), "exit status {status:?}");
    // The session's own close marked A offline before the process ended (read from the store
    // itself: a restart would clear it anyway).
    let state = match common::stores::chosen(dir.path()) {
        Some(m) => {
            let client = mongodb::Client::with_uri_str(&m.uri).await.unwrap();
            let user = client
                .database(&m.api_db)
                .collection::<mongodb::bson::Document>("user")
                .find_one(mongodb::bson::doc! { "_id": a })
                .await
                .unwrap()
                .expect("A's document");
            user.get("onlinestate")
                .and_then(mongodb::bson::Bson::as_i32)
                .map(i64::from)
                .or_else(|| user.get_i64("onlinestate").ok())
                .expect("onlinestate")
        }
        None => {
            let db = rusqlite::Connection::open(dir.path().join("shiku.db")).expect("database");
            db.query_row(
                "SELECT json_extract(doc, '$.onlinestate') FROM user WHERE id = ?1",
                [a],
                |r| r.get(0),
            )
            .expect("A's row")
        }
    };
    assert_eq!(state, 0, "A still marked online after the stop");
    let log = std::fs::read_to_string(dir.path().join("term.log")).unwrap_or_default();
    assert!(log.contains("closing sessions"), "{log}");
}
