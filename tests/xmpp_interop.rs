//! The XMPP gateway driven by independent clients, not by our own frames: xmpp.js
//! (`@xmpp/client`, node) over RFC 7395 WebSocket on `/xmpp-websocket`, and slixmpp (python)
//! over TCP c2s with STARTTLS. The clients live in `tests/interop/`; each scenario runs as a
//! subprocess with the addresses, credentials and expectations as a JSON argument, prints one
//! JSON report and exits 0 when its expectations held. These tests assert on both, then check
//! the server side (history, offline queue) over REST and the domain.
//!
//! Set-up (`.ci/run` does it): `npm ci --prefix tests/interop` and
//! `python3 -m venv target/interop-venv && target/interop-venv/bin/pip install -r
//! tests/interop/requirements.txt`. Without them the tests report themselves skipped, unless
//! `SHIKU_TEST_REQUIRE_INTEROP=1`, which turns a missing client into a failure.
//!
//! TLS: the server is configured with a certificate generated here for the XMPP domain, and
//! slixmpp trusts exactly that certificate (verification and host name check on).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shiku_server::domain::messages;
use shiku_server::domain::util::{md5_hex, uuid32};

use common::TestApp;

/// The XMPP domain of every server here (the certificate is made for it).
const DOMAIN: &str = "interop.shiku.test";
/// Longest a client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

const SETUP_HINT: &str = "run `npm ci --prefix tests/interop` and `python3 -m venv \
     target/interop-venv && target/interop-venv/bin/pip install -r tests/interop/requirements.txt`";

/// Handles a missing client: a failure under `SHIKU_TEST_REQUIRE_INTEROP=1`, a skip otherwise.
fn missing(what: &str) -> Option<PathBuf> {
    if std::env::var("SHIKU_TEST_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("SHIKU_TEST_REQUIRE_INTEROP=1 but {what} is not available: {SETUP_HINT}");
    }
    eprintln!("skipped: {SETUP_HINT} ({what} is not available)");
    None
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `node` when it and `tests/interop/node_modules/@xmpp/client` are installed.
fn node() -> Option<PathBuf> {
    let node = PathBuf::from("node");
    if !runs(&node, &["--version"]) {
        return missing("node (for xmpp.js)");
    }
    if !interop_dir()
        .join("node_modules/@xmpp/client/package.json")
        .is_file()
    {
        return missing("tests/interop/node_modules (xmpp.js)");
    }
    Some(node)
}

/// A python that imports slixmpp: `SHIKU_INTEROP_PYTHON`, the venv `.ci/run` makes, `python3`.
fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("SHIKU_INTEROP_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates
        .push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    for p in candidates {
        if runs(&p, &["-c", "import slixmpp"]) {
            return Some(p);
        }
    }
    missing("python with slixmpp")
}

/// What a client script reported.
struct Report {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

impl Report {
    /// Asserts the script met its own expectations; returns its report.
    fn ok(self) -> Value {
        // Shown with --nocapture (and on failure): what the independent client saw.
        eprintln!("client report: {}", self.json);
        assert_eq!(
            self.code,
            Some(0),
            "client script failed: {}\nstderr:\n{}",
            self.json,
            self.stderr
        );
        self.json
    }
}

/// Runs `program script scenario json`, killing it after [`SCRIPT_TIMEOUT`].
async fn run_script(program: &Path, script: &str, scenario: &str, args: &Value) -> Report {
    let mut child = Command::new(program)
        .arg(interop_dir().join(script))
        .arg(scenario)
        .arg(args.to_string())
        .current_dir(interop_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    // Read both pipes on threads so a chatty client never blocks on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("child status") {
            break Some(s);
        }
        if start.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let json = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| json!({ "unparsed_stdout": stdout }));
    Report {
        code: status.and_then(|s| s.code()),
        json,
        stderr,
    }
}

/// A server with the XMPP TCP listener and a certificate for [`DOMAIN`].
struct Server {
    app: TestApp,
    tcp_port: u16,
    cafile: PathBuf,
    _tls: tempfile::TempDir,
}

/// A port nobody listens on right now (the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn server() -> Server {
    let tls = tempfile::tempdir().expect("temp dir");
    let ck = rcgen::generate_simple_self_signed(vec![DOMAIN.to_string()]).expect("certificate");
    let cafile = tls.path().join("cert.pem");
    let keyfile = tls.path().join("key.pem");
    std::fs::write(&cafile, ck.cert.pem()).expect("write cert");
    std::fs::write(&keyfile, ck.signing_key.serialize_pem()).expect("write key");
    let tcp_port = free_port();
    let (cert, key) = (cafile.clone(), keyfile.clone());
    let app = common::spawn_with(move |c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.xmpp.listen_tcp = Some(format!("127.0.0.1:{tcp_port}"));
        c.xmpp.tls_cert = cert.display().to_string();
        c.xmpp.tls_key = key.display().to_string();
    })
    .await;
    Server {
        app,
        tcp_port,
        cafile,
        _tls: tls,
    }
}

impl Server {
    fn ws(&self) -> String {
        format!(
            "{}/xmpp-websocket",
            self.app.base.replacen("http://", "ws://", 1)
        )
    }

    /// Arguments every xmpp.js scenario takes.
    fn js_args(&self, extra: Value) -> Value {
        let mut v = json!({ "service": self.ws(), "domain": DOMAIN, "timeout_ms": 10000 });
        merge(&mut v, extra);
        v
    }

    /// Arguments every slixmpp scenario takes.
    fn py_args(&self, extra: Value) -> Value {
        let mut v = json!({
            "host": "127.0.0.1",
            "port": self.tcp_port,
            "domain": DOMAIN,
            "cafile": self.cafile.display().to_string(),
            "timeout": 10,
        });
        merge(&mut v, extra);
        v
    }
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
}

/// A registered user: id, plain password, REST token.
struct User {
    id: i64,
    password: String,
    token: String,
}

impl User {
    /// The client's XMPP credentials with the md5 password.
    fn md5(&self, resource: &str) -> Value {
        json!({ "user": self.id.to_string(), "password": md5_hex(&self.password), "resource": resource })
    }

    /// The client's XMPP credentials with the REST access token as password.
    fn with_token(&self, resource: &str) -> Value {
        json!({ "user": self.id.to_string(), "password": self.token, "resource": resource })
    }

    fn jid(&self) -> String {
        format!("{}@{DOMAIN}", self.id)
    }
}

async fn user(app: &TestApp, phone: &str, nickname: &str) -> User {
    let password = format!("pw-{phone}");
    let (id, token) = app.register(phone, &password, nickname).await;
    User {
        id,
        password,
        token,
    }
}

/// The messages a client received with stanza id `id`.
fn received<'a>(report: &'a Value, peer: &str, id: &str) -> Vec<&'a Value> {
    report["peers"][peer]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages of {peer}: {report}"))
        .iter()
        .filter(|m| m["id"] == id)
        .collect()
}

fn receipts(report: &Value, peer: &str) -> Vec<String> {
    report["peers"][peer]["receipts"]
        .as_array()
        .unwrap_or_else(|| panic!("no receipts of {peer}: {report}"))
        .iter()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect()
}

/// The messageIds of `me`'s 1:1 history with `peer`, over REST.
async fn history_ids(app: &TestApp, me: &User, peer: &User) -> Vec<String> {
    let v = app
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", &me.token),
                ("receiver", &peer.id.to_string()),
                ("pageSize", "100"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"]
        .as_array()
        .expect("history rows")
        .iter()
        .filter_map(|r| r["messageId"].as_str().map(str::to_string))
        .collect()
}

/// Asserts a live 1:1 delivery: once, as chat, from `from`, the JSON body intact, no delay.
fn assert_live_chat(report: &Value, peer: &str, id: &str, from: &User) {
    let got = received(report, peer, id);
    assert_eq!(
        got.len(),
        1,
        "{peer} got {id} {} times: {report}",
        got.len()
    );
    let m = got[0];
    assert_eq!(m["type"], "chat", "{m}");
    assert!(
        m["from"]
            .as_str()
            .is_some_and(|f| f.starts_with(&from.jid())),
        "from {}: {m}",
        from.jid()
    );
    assert_eq!(m["body"]["messageId"], id, "{m}");
    assert_eq!(m["body"]["fromUserId"], from.id.to_string(), "{m}");
    assert!(m["delay"].is_null(), "a live message has no delay: {m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_logs_in_with_md5_and_token_and_is_refused_bad_credentials() {
    let Some(node) = node() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000001", "alice").await;

    for (how, who) in [("md5", a.md5("web")), ("token", a.with_token("web"))] {
        let r = run_script(
            &node,
            "xmppjs.mjs",
            "login",
            &s.js_args(json!({ "who": who, "expect": "ok" })),
        )
        .await
        .ok();
        assert_eq!(r["ok"], true, "{how}: {r}");
        assert_eq!(r["jid"], format!("{}/web", a.jid()), "{how}: {r}");
        assert_eq!(r["ping"], "result", "{how}: {r}");
    }

    let bad = [
        json!({ "user": a.id.to_string(), "password": md5_hex("wrong"), "resource": "web" }),
        json!({ "user": a.id.to_string(), "password": "not.a.token", "resource": "web" }),
        json!({ "user": "99999999", "password": md5_hex(&a.password), "resource": "web" }),
    ];
    for who in bad {
        let r = run_script(
            &node,
            "xmppjs.mjs",
            "login",
            &s.js_args(json!({ "who": who, "expect": "fail" })),
        )
        .await
        .ok();
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["condition"], "not-authorized", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_chats_both_ways_with_receipts_and_history() {
    let Some(node) = node() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000011", "alice").await;
    let b = user(&s.app, "13900000012", "bob").await;

    let r = run_script(
        &node,
        "xmppjs.mjs",
        "chat",
        // One logs in with the md5 password, the other with the token, as web and app do.
        &s.js_args(json!({ "a": a.md5("web"), "b": b.with_token("web") })),
    )
    .await
    .ok();
    let ab = r["ab_id"].as_str().expect("ab_id").to_string();
    let ba = r["ba_id"].as_str().expect("ba_id").to_string();
    assert_live_chat(&r, "bob", &ab, &a);
    assert_live_chat(&r, "alice", &ba, &b);
    assert_eq!(
        receipts(&r, "alice").iter().filter(|id| **id == ab).count(),
        1,
        "{r}"
    );
    assert_eq!(
        receipts(&r, "bob").iter().filter(|id| **id == ba).count(),
        1,
        "{r}"
    );
    // Both messages are in both sides' history: a receipt means stored.
    for (me, peer) in [(&a, &b), (&b, &a)] {
        let ids = history_ids(&s.app, me, peer).await;
        assert!(
            ids.contains(&ab) && ids.contains(&ba),
            "history of {}: {ids:?}",
            me.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_multi_device_gets_messages_on_every_resource_and_own_copies() {
    let Some(node) = node() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000071", "alice").await;
    let b = user(&s.app, "13900000072", "bob").await;

    let r = run_script(
        &node,
        "xmppjs.mjs",
        "multidevice",
        &s.js_args(json!({ "a": a.md5("web"), "a2": a.with_token("android"), "b": b.md5("web") })),
    )
    .await
    .ok();
    let ba = r["ba_id"].as_str().expect("ba_id").to_string();
    let ab = r["ab_id"].as_str().expect("ab_id").to_string();
    // B's message reaches both of A's resources, once each.
    assert_live_chat(&r, "alice", &ba, &b);
    assert_live_chat(&r, "alice2", &ba, &b);
    // A's message reaches B, and A's other resource gets a copy; the sending resource does not.
    assert_live_chat(&r, "bob", &ab, &a);
    assert_eq!(received(&r, "alice2", &ab).len(), 1, "{r}");
    assert!(
        received(&r, "alice", &ab).is_empty(),
        "no echo to the sender: {r}"
    );
    assert!(receipts(&r, "alice").contains(&ab), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_gets_offline_messages_with_a_delay_stamp_on_login() {
    let Some(node) = node() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000021", "alice").await;
    let b = user(&s.app, "13900000022", "bob").await;

    let r = run_script(
        &node,
        "xmppjs.mjs",
        "offline",
        &s.js_args(json!({ "a": a.with_token("web"), "b": b.md5("web") })),
    )
    .await
    .ok();
    let id = r["id"].as_str().expect("id").to_string();
    assert!(receipts(&r, "alice").contains(&id), "{r}");
    let got = received(&r, "bob", &id);
    assert_eq!(got.len(), 1, "{r}");
    assert_eq!(got[0]["type"], "chat", "{r}");
    assert_eq!(got[0]["body"]["content"], "while you were away", "{r}");
    let stamp = got[0]["delay"].as_str().expect("delay stamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "XEP-0082 stamp: {stamp}"
    );
    // Delivered, so it left the queue (the removal may trail the delivery by a moment).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let q = messages::offline_queue(&s.app.app, b.id as i32, 100)
            .await
            .expect("offline queue");
        if q.iter().all(|(_, d)| d.message_id != id) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still queued after delivery: {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(history_ids(&s.app, &b, &a).await.contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_joins_a_room_with_history_sends_and_gets_reflection_and_receipt() {
    let Some(node) = node() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000031", "alice").await;
    let b = user(&s.app, "13900000032", "bob").await;
    let jid = uuid32();
    let v = s
        .app
        .get(
            "/room/add",
            &[
                ("access_token", &a.token),
                ("jid", &jid),
                ("name", "interop"),
                ("desc", "xmpp.js room"),
                ("text", &format!("[{}]", b.id)),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let room = format!("{jid}@muc.{DOMAIN}");

    let r = run_script(
        &node,
        "xmppjs.mjs",
        "room",
        &s.js_args(json!({
            "a": a.md5("web"),
            "b": b.with_token("web"),
            "room": room,
            "history_seconds": 600,
        })),
    )
    .await
    .ok();
    let id = r["id"].as_str().expect("id").to_string();
    // The sender sees its own message reflected by the room, the other member gets it, both
    // as groupchat from the room (with the sender's nick as resource).
    for peer in ["alice", "bob"] {
        let got = received(&r, peer, &id);
        assert_eq!(got.len(), 1, "{peer}: {r}");
        assert_eq!(got[0]["type"], "groupchat", "{peer}: {r}");
        let from = got[0]["from"].as_str().unwrap_or_default();
        assert!(from.starts_with(&room), "{peer}: from {from}");
        assert_eq!(got[0]["body"]["content"], "hello room from xmpp.js", "{r}");
    }
    assert!(receipts(&r, "alice").contains(&id), "{r}");
    // B's message from before A joined: live (reflected) at B, history with a stamp at A.
    let early = r["early_id"].as_str().expect("early_id").to_string();
    let at_b = received(&r, "bob", &early);
    assert_eq!(at_b.len(), 1, "{r}");
    assert!(at_b[0]["delay"].is_null(), "{r}");
    let at_a = received(&r, "alice", &early);
    assert_eq!(at_a.len(), 1, "history once: {r}");
    assert_eq!(at_a[0]["type"], "groupchat", "{r}");
    assert!(
        at_a[0]["delay"].is_string(),
        "history is delay-stamped: {r}"
    );
    assert_eq!(at_a[0]["body"]["content"], "before alice came", "{r}");
    // Stored in the room's history.
    let h = s
        .app
        .get(
            "/tigase/shiku_muc_msgs",
            &[
                ("access_token", &b.token),
                ("roomId", &jid),
                ("pageSize", "100"),
            ],
        )
        .await;
    assert_eq!(h["resultCode"], 1, "{h}");
    assert!(
        h["data"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|row| row["messageId"] == id),
        "{h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slixmpp_chats_over_starttls_with_receipts() {
    let Some(python) = python() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000041", "alice").await;
    let b = user(&s.app, "13900000042", "bob").await;

    let r = run_script(
        &python,
        "slix.py",
        "chat",
        &s.py_args(json!({ "a": a.md5("phone"), "b": b.with_token("phone") })),
    )
    .await
    .ok();
    for peer in ["alice", "bob"] {
        let tls = r["peers"][peer]["tls"].as_str().unwrap_or_default();
        assert!(tls.starts_with("TLS"), "{peer} not on TLS: {r}");
    }
    let ab = r["ab_id"].as_str().expect("ab_id").to_string();
    let ba = r["ba_id"].as_str().expect("ba_id").to_string();
    assert_live_chat(&r, "bob", &ab, &a);
    assert_live_chat(&r, "alice", &ba, &b);
    assert!(receipts(&r, "alice").contains(&ab), "{r}");
    assert!(receipts(&r, "bob").contains(&ba), "{r}");
    assert!(history_ids(&s.app, &a, &b).await.contains(&ab));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_over_websocket_and_slixmpp_over_tcp_talk_to_each_other() {
    let (Some(node), Some(python)) = (node(), python()) else {
        return;
    };
    let s = server().await;
    let a = user(&s.app, "13900000081", "alice").await;
    let b = user(&s.app, "13900000082", "bob").await;

    // B (slixmpp, TCP) answers the first message it gets; A (xmpp.js, WebSocket) asks. Which
    // one logs in first does not matter: a question to an offline B waits in its queue.
    let js_args = s.js_args(json!({ "a": a.md5("web"), "peer": b.jid() }));
    let py_args = s.py_args(json!({ "a": b.with_token("phone") }));
    let (js, py) = tokio::join!(
        run_script(&node, "xmppjs.mjs", "ask", &js_args),
        run_script(&python, "slix.py", "echo", &py_args),
    );
    let (js, py) = (js.ok(), py.ok());
    let question = js["id"].as_str().expect("question id");
    assert_eq!(py["echoed_id"], question, "{py}");
    assert_eq!(
        py["peers"]["echo"]["tls"]
            .as_str()
            .map(|t| t.starts_with("TLS")),
        Some(true),
        "{py}"
    );
    let reply = py["reply_id"].as_str().expect("reply id");
    let got = received(&js, "asker", reply);
    assert_eq!(got.len(), 1, "{js}");
    assert_eq!(got[0]["type"], "chat", "{js}");
    assert_eq!(
        got[0]["body"]["content"], "echo: ping from xmpp.js over WebSocket",
        "{js}"
    );
    assert!(
        got[0]["from"]
            .as_str()
            .is_some_and(|f| f.starts_with(&b.jid())),
        "{js}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slixmpp_second_login_on_the_same_resource_kicks_the_first_with_conflict() {
    let Some(python) = python() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000051", "alice").await;

    let r = run_script(
        &python,
        "slix.py",
        "conflict",
        &s.py_args(json!({ "a": a.with_token("phone") })),
    )
    .await
    .ok();
    assert_eq!(
        r["peers"]["first"]["stream_errors"],
        json!(["conflict"]),
        "{r}"
    );
    assert_eq!(r["peers"]["first"]["ended"], true, "{r}");
    assert_eq!(r["second_alive"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slixmpp_wrong_password_is_refused() {
    let Some(python) = python() else { return };
    let s = server().await;
    let a = user(&s.app, "13900000061", "alice").await;

    let wrong =
        json!({ "user": a.id.to_string(), "password": md5_hex("nope"), "resource": "phone" });
    let r = run_script(
        &python,
        "slix.py",
        "bad_login",
        &s.py_args(json!({ "a": wrong })),
    )
    .await
    .ok();
    assert_eq!(r["peers"]["bad"]["failed_auth"], true, "{r}");
}
