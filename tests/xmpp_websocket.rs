//! RFC 7395 XMPP over WebSocket, driven with our own frames through tokio-tungstenite: the
//! `xmpp` sub-protocol, `<open/>`/`<close/>` framing, SASL PLAIN with the md5 password, binding,
//! 1:1 chat with receipts, stream errors (oversized, garbage, binary, idle) that leave the
//! server serving everyone else, and the separate any-path listener. The protocol tests run
//! over both endpoints: the API port's `/xmpp-websocket` (actix-ws) and the dedicated listener
//! (`xmpp.listen_websocket`, tokio-tungstenite).

mod common;

use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shiku_server::domain::util::md5_hex;
use shiku_server::gateway::xmpp::xml::{parse_fragment, Element};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use common::{TestApp, XmppAddrs};

const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const STREAMS_ERR: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const DOMAIN: &str = "ws.shiku.test";
/// Longest we wait for any expected frame.
const TIMEOUT: Duration = Duration::from_secs(10);

async fn server(tweak: impl FnOnce(&mut shiku_server::config::Config)) -> (TestApp, XmppAddrs) {
    common::spawn_xmpp(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        tweak(c);
    })
    .await
}

fn main_url(app: &TestApp) -> String {
    format!(
        "{}/xmpp-websocket",
        app.base.replacen("http://", "ws://", 1)
    )
}

/// Both places a client reaches RFC 7395: the API port's route and the listener of its own
/// (at the stock client's path; it accepts any).
fn endpoints(app: &TestApp, addrs: &XmppAddrs) -> [String; 2] {
    let own = addrs.websocket.expect("WebSocket listener bound");
    [main_url(app), format!("ws://{own}/websocket/")]
}

/// One WebSocket client speaking RFC 7395.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects offering the `xmpp` sub-protocol and checks the server chose it.
    async fn connect(url: &str) -> Ws {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let (stream, resp) = tokio_tungstenite::connect_async(req)
            .await
            .expect("WebSocket handshake");
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some("xmpp")
        );
        Ws { stream }
    }

    async fn send(&mut self, xml: &str) {
        self.stream
            .send(Message::text(xml.to_string()))
            .await
            .expect("frame sent");
    }

    /// Sends `xml` as one text message cut into continuation frames of `piece` bytes.
    async fn send_fragmented(&mut self, xml: &str, piece: usize) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let chunks: Vec<&[u8]> = xml.as_bytes().chunks(piece).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let last = i + 1 == chunks.len();
            let frame = Frame::message(chunk.to_vec(), opcode, last);
            // The server may close before the last piece: later sends may fail.
            if self.stream.send(Message::Frame(frame)).await.is_err() {
                return;
            }
        }
    }

    /// The next frame's text, parsed; `None` when the server closed the socket.
    async fn next(&mut self) -> Option<Element> {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("a frame within the timeout");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(parse_fragment(t.as_str(), 1 << 20).expect("server XML parses"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next element, which must exist.
    async fn recv(&mut self) -> Element {
        self.next().await.expect("server sent an element")
    }

    /// Skips elements until one satisfies `pred`.
    async fn recv_until(&mut self, pred: impl Fn(&Element) -> bool) -> Element {
        loop {
            let e = self.recv().await;
            if pred(&e) {
                return e;
            }
        }
    }

    /// Opens (or restarts) the stream; returns the features after checking the `<open/>`.
    async fn open(&mut self) -> Element {
        self.send(&format!(
            r#"<open xmlns="{FRAMING}" to="{DOMAIN}" version="1.0"/>"#
        ))
        .await;
        let open = self.recv().await;
        assert!(open.is("open", FRAMING), "{}", open.to_xml());
        assert_eq!(open.get_attr("from"), Some(DOMAIN));
        assert_eq!(open.get_attr("version"), Some("1.0"));
        assert!(open.get_attr("id").is_some_and(|i| !i.is_empty()));
        let features = self.recv().await;
        assert_eq!(features.local_name(), "features", "{}", features.to_xml());
        assert_eq!(
            features.get_attr("xmlns:stream"),
            Some("http://etherx.jabber.org/streams")
        );
        features
    }

    /// SASL PLAIN, restart, bind `resource`, initial presence; returns the bound JID.
    async fn login(&mut self, uid: i64, md5_password: &str, resource: &str) -> String {
        let f = self.open().await;
        assert!(f.find_ns("mechanisms", SASL).is_some(), "{}", f.to_xml());
        let creds =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{md5_password}"));
        self.send(&format!(
            r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#
        ))
        .await;
        let ok = self.recv().await;
        assert!(ok.is("success", SASL), "{}", ok.to_xml());
        let f = self.open().await;
        assert!(f.find_ns("bind", BIND).is_some(), "{}", f.to_xml());
        assert!(f.find_ns("mechanisms", SASL).is_none());
        self.send(&format!(
            r#"<iq xmlns="jabber:client" type="set" id="bind1"><bind xmlns="{BIND}"><resource>{resource}</resource></bind></iq>"#
        ))
        .await;
        let iq = self.recv_until(|e| e.get_attr("id") == Some("bind1")).await;
        assert_eq!(iq.get_attr("type"), Some("result"), "{}", iq.to_xml());
        let jid = iq
            .find("bind")
            .and_then(|b| b.find("jid"))
            .map(|j| j.text_content())
            .expect("bound jid");
        self.send(r#"<presence xmlns="jabber:client"/>"#).await;
        self.ping("after-presence").await;
        jid
    }

    /// A `urn:xmpp:ping` round trip (also a barrier: everything before it was handled).
    async fn ping(&mut self, id: &str) {
        self.send(&format!(
            r#"<iq xmlns="jabber:client" type="get" to="{DOMAIN}" id="{id}"><ping xmlns="urn:xmpp:ping"/></iq>"#
        ))
        .await;
        let r = self.recv_until(|e| e.get_attr("id") == Some(id)).await;
        assert_eq!(r.get_attr("type"), Some("result"), "{}", r.to_xml());
    }

    /// Expects a stream error with `condition`, then `<close/>`, then the socket closing.
    async fn expect_stream_error(&mut self, condition: &str) {
        let e = self.recv_until(|e| e.local_name() == "error").await;
        assert_eq!(e.name, "stream:error", "{}", e.to_xml());
        assert!(
            e.find_ns(condition, STREAMS_ERR).is_some(),
            "expected {condition}: {}",
            e.to_xml()
        );
        let close = self.recv().await;
        assert!(close.is("close", FRAMING), "{}", close.to_xml());
        assert!(self.next().await.is_none(), "socket closed after <close/>");
    }
}

/// A registered user and the md5 password the clients send.
async fn user(app: &TestApp, phone: &str) -> (i64, String) {
    let (uid, _) = app.register(phone, "secret-1", phone).await;
    (uid, md5_hex("secret-1"))
}

#[tokio::test]
async fn the_xmpp_subprotocol_is_required_and_answered() {
    let (app, addrs) = server(|_| {}).await;
    for url in endpoints(&app, &addrs) {
        // Without the sub-protocol: a 400 that says why.
        let req = url.as_str().into_client_request().unwrap();
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 400, "{url}");
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default());
                assert!(body.contains("sub-protocol \"xmpp\""), "{url}: {body}");
            }
            other => panic!("{url}: expected a refused handshake, got {other:?}"),
        }
        // With it (among others): accepted and answered with `xmpp` only.
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("chat, xmpp"),
        );
        let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "xmpp", "{url}");
    }
}

#[tokio::test]
async fn the_separate_listener_answers_a_plain_http_request_with_400() {
    let (app, addrs) = server(|_| {}).await;
    let addr = addrs.websocket.expect("WebSocket listener bound");
    let answer = common::plain_http_answer(addr).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("not a WebSocket upgrade"), "{answer}");
    // The listener keeps serving.
    let (uid, pw) = user(&app, "13500000051").await;
    Ws::connect(&format!("ws://{addr}/"))
        .await
        .login(uid, &pw, "web")
        .await;
}

#[tokio::test]
async fn open_features_and_close() {
    let (app, _) = server(|_| {}).await;
    let mut ws = Ws::connect(&main_url(&app)).await;
    let features = ws.open().await;
    let mechs: Vec<String> = features
        .find_ns("mechanisms", SASL)
        .expect("SASL offered")
        .elements()
        .map(|m| m.text_content())
        .collect();
    assert_eq!(mechs, ["PLAIN"]);
    ws.send(&format!(r#"<close xmlns="{FRAMING}"/>"#)).await;
    let close = ws.recv().await;
    assert!(close.is("close", FRAMING), "{}", close.to_xml());
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn a_stanza_before_open_and_an_unknown_host_are_stream_errors() {
    let (app, _) = server(|_| {}).await;
    let mut ws = Ws::connect(&main_url(&app)).await;
    ws.send(r#"<presence xmlns="jabber:client"/>"#).await;
    ws.expect_stream_error("bad-format").await;

    let mut ws = Ws::connect(&main_url(&app)).await;
    ws.send(&format!(
        r#"<open xmlns="{FRAMING}" to="elsewhere.example" version="1.0"/>"#
    ))
    .await;
    let open = ws.recv().await;
    assert!(open.is("open", FRAMING));
    ws.expect_stream_error("host-unknown").await;
}

#[tokio::test]
async fn login_with_md5_binds_and_restarts_the_stream() {
    let (app, _) = server(|_| {}).await;
    let (uid, pw) = user(&app, "13500000001").await;
    let mut ws = Ws::connect(&main_url(&app)).await;
    let jid = ws.login(uid, &pw, "web").await;
    assert_eq!(jid, format!("{uid}@{DOMAIN}/web"));

    // The REST access token is a password too (the mobile apps log in with it).
    let token = app.login("13500000001", "secret-1").await["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let mut phone = Ws::connect(&main_url(&app)).await;
    let jid = phone.login(uid, &token, "android").await;
    assert_eq!(jid, format!("{uid}@{DOMAIN}/android"));

    // A wrong password is a SASL failure, not a dropped connection.
    let mut bad = Ws::connect(&main_url(&app)).await;
    bad.open().await;
    let creds =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{}", md5_hex("nope")));
    bad.send(&format!(
        r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#
    ))
    .await;
    let f = bad.recv().await;
    assert!(f.is("failure", SASL), "{}", f.to_xml());
    assert!(f.find("not-authorized").is_some(), "{}", f.to_xml());
}

#[tokio::test]
async fn one_to_one_between_two_websocket_sessions_with_receipt() {
    let (app, addrs) = server(|_| {}).await;
    let [api, own] = endpoints(&app, &addrs);
    // Both on the API route, both on the dedicated listener, and one on each.
    let pairs = [(&api, &api), (&own, &own), (&api, &own), (&own, &api)];
    for (n, (url_a, url_b)) in pairs.into_iter().enumerate() {
        let (a, apw) = user(&app, &format!("1350000011{n}")).await;
        let (b, bpw) = user(&app, &format!("1350000012{n}")).await;
        let mut wa = Ws::connect(url_a).await;
        let mut wb = Ws::connect(url_b).await;
        wa.login(a, &apw, "web").await;
        wb.login(b, &bpw, "web").await;
        chat_with_receipt(&mut wa, a, &mut wb, b, &format!("skimweb_ws_{n}")).await;
    }
}

/// `wa` (user `a`) sends `b` a chat message asking for a receipt: the receipt comes back to
/// `wa`, the message (body intact) reaches `wb`.
async fn chat_with_receipt(wa: &mut Ws, a: i64, wb: &mut Ws, b: i64, id: &str) {
    let body = json!({"messageId": id, "fromUserId": a.to_string(), "toUserId": b.to_string(),
        "content": "hello <over> & ws", "timeSend": 1_795_291_719, "type": 1});
    let msg = Element::new("message")
        .attr("xmlns", "jabber:client")
        .attr("to", format!("{b}@{DOMAIN}"))
        .attr("type", "chat")
        .attr("id", id)
        .child(Element::new("body").text(body.to_string()))
        .child(Element::new("request").attr("xmlns", "urn:xmpp:receipts"));
    wa.send(&msg.to_xml()).await;

    let receipt = wa
        .recv_until(|e| e.find_ns("received", "urn:xmpp:receipts").is_some())
        .await;
    assert_eq!(
        receipt
            .find_ns("received", "urn:xmpp:receipts")
            .unwrap()
            .get_attr("id"),
        Some(id)
    );

    let got = wb.recv_until(|e| e.local_name() == "message").await;
    assert_eq!(got.get_attr("type"), Some("chat"));
    assert_eq!(got.get_attr("id"), Some(id));
    assert!(got
        .get_attr("from")
        .is_some_and(|f| f.starts_with(&format!("{a}@{DOMAIN}"))));
    let json: Value = serde_json::from_str(&got.find("body").unwrap().text_content()).unwrap();
    assert_eq!(json["content"], "hello <over> & ws");
    assert_eq!(json["messageId"], id);
}

#[tokio::test]
async fn oversized_garbage_and_binary_frames_end_only_their_own_stream() {
    let (app, addrs) = server(|c| c.xmpp.max_stanza_bytes = 4096).await;
    let (a, apw) = user(&app, "13500000021").await;
    let [api, own] = endpoints(&app, &addrs);
    let mut bystander = Ws::connect(&api).await;
    bystander.login(a, &apw, "web").await;
    let (b, bpw) = user(&app, "13500000022").await;
    let mut bystander_own = Ws::connect(&own).await;
    bystander_own.login(b, &bpw, "web").await;

    for url in [&api, &own] {
        // One frame over the stanza limit (the WebSocket layer refuses it).
        let mut big = Ws::connect(url).await;
        big.open().await;
        let huge = format!(
            r#"<message xmlns="jabber:client"><body>{}</body></message>"#,
            "x".repeat(10_000)
        );
        big.send(&huge).await;
        big.expect_stream_error("policy-violation").await;

        // A message over the limit in small continuation frames.
        let mut pieces = Ws::connect(url).await;
        pieces.open().await;
        pieces.send_fragmented(&huge, 1000).await;
        pieces.expect_stream_error("policy-violation").await;

        let mut garbage = Ws::connect(url).await;
        garbage.open().await;
        garbage.send("<message><body>unclosed").await;
        garbage.expect_stream_error("not-well-formed").await;

        let mut binary = Ws::connect(url).await;
        binary.open().await;
        binary
            .stream
            .send(Message::binary(b"<presence/>".to_vec()))
            .await
            .unwrap();
        binary.expect_stream_error("unsupported-encoding").await;

        // Everyone else is still served, and new sessions still open.
        bystander.ping("still-alive").await;
        bystander_own.ping("still-alive-too").await;
        let mut fresh = Ws::connect(url).await;
        fresh.open().await;
    }
}

/// `<open/>` carrying `extra` throwaway attributes besides its own three.
fn open_with_attrs(extra: usize) -> String {
    let attrs: String = (0..extra).map(|i| format!(" a{i}=\"\"")).collect();
    format!(r#"<open xmlns="{FRAMING}" to="{DOMAIN}" version="1.0"{attrs}/>"#)
}

#[tokio::test]
async fn an_open_with_thousands_of_attributes_is_refused_before_authentication() {
    // Issue 17 item 6: such an <open> was parsed (quadratically) and answered.
    let (app, addrs) = server(|_| {}).await;
    let (a, apw) = user(&app, "13500000031").await;
    let [api, own] = endpoints(&app, &addrs);
    let mut bystander = Ws::connect(&api).await;
    bystander.login(a, &apw, "web").await;
    for url in [&api, &own] {
        // 10,000 attributes (118 KB, under max_stanza_bytes): the tag is too long.
        let started = std::time::Instant::now();
        let mut flood = Ws::connect(url).await;
        flood.send(&open_with_attrs(10_000)).await;
        flood.expect_stream_error("policy-violation").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused after {:?}",
            started.elapsed()
        );
        // A short tag over the attribute cap (64 by default).
        let mut many = Ws::connect(url).await;
        many.send(&open_with_attrs(100)).await;
        many.expect_stream_error("policy-violation").await;
        // Within the cap an <open> with extra attributes is still fine.
        let mut fine = Ws::connect(url).await;
        fine.send(&open_with_attrs(20)).await;
        assert!(fine.recv().await.is("open", FRAMING));
        bystander.ping("still-alive").await;
    }
}

#[tokio::test]
async fn max_attributes_comes_from_the_configuration() {
    let (app, addrs) = server(|c| c.xmpp.max_attributes = 3).await;
    for url in endpoints(&app, &addrs) {
        let mut ws = Ws::connect(&url).await;
        ws.open().await;
        ws.send(r#"<presence xmlns="jabber:client" a="1" b="2" c="3"/>"#)
            .await;
        ws.expect_stream_error("policy-violation").await;
    }
}

#[tokio::test]
async fn ping_frames_are_answered_and_idle_sessions_time_out() {
    let (app, addrs) = server(|c| c.xmpp.idle_timeout_secs = 1).await;
    for url in endpoints(&app, &addrs) {
        let mut ws = Ws::connect(&url).await;
        ws.stream
            .send(Message::Ping(b"hi".to_vec().into()))
            .await
            .unwrap();
        let pong = tokio::time::timeout(TIMEOUT, ws.stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(pong, Message::Pong(b"hi".to_vec().into()), "{url}");
        // Exactly one pong: the next frame is the timeout's stream error.
        ws.expect_stream_error("connection-timeout").await;
    }
}

#[tokio::test]
async fn the_separate_listener_upgrades_on_any_path() {
    let (app, addrs) = server(|_| {}).await;
    let addr = addrs.websocket.expect("WebSocket listener bound");
    let (uid, pw) = user(&app, "13500000031").await;
    // The stock client's URL, and any other path.
    let mut ws = Ws::connect(&format!("ws://{addr}/websocket/")).await;
    ws.login(uid, &pw, "web").await;
    let mut other = Ws::connect(&format!("ws://{addr}/some/other/path")).await;
    other.open().await;
    // And a request without the sub-protocol is refused there too.
    let req = format!("ws://{addr}/").into_client_request().unwrap();
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

#[tokio::test]
async fn config_advertises_the_xmpp_urls() {
    let (app, _) = server(|_| {}).await;
    let v = app.get("/config", &[]).await;
    let host = app.base.trim_start_matches("http://");
    assert_eq!(v["data"]["xmppUrl"], format!("ws://{host}/xmpp-websocket"));
    assert_eq!(v["data"]["boshUrl"], format!("http://{host}/http-bind"));

    let (app, _) = server(|c| {
        c.client.xmpp_url = "wss://chat.example/ws".into();
        c.client.bosh_url = "https://chat.example/bosh".into();
    })
    .await;
    let v = app.get("/config", &[]).await;
    assert_eq!(v["data"]["xmppUrl"], "wss://chat.example/ws");
    assert_eq!(v["data"]["boshUrl"], "https://chat.example/bosh");
    assert_eq!(v["data"]["XMPPDomain"], DOMAIN);
}

#[tokio::test]
async fn a_client_vanishing_mid_stream_is_unregistered() {
    let (app, addrs) = server(|_| {}).await;
    for (n, url) in endpoints(&app, &addrs).into_iter().enumerate() {
        let (uid, pw) = user(&app, &format!("1350000004{n}")).await;
        let mut ws = Ws::connect(&url).await;
        ws.login(uid, &pw, "web").await;
        assert_eq!(app.app.router.local_resources(uid as i32), ["web"]);
        // No `<close/>`, no close frame: the TCP connection just goes away.
        drop(ws);
        let deadline = std::time::Instant::now() + TIMEOUT;
        while !app.app.router.local_resources(uid as i32).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{url}: session still registered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs the xmpp.js scenario `scenario` of `tests/interop/xmppjs.mjs` with `args`; `None` when
/// node or the npm packages are missing (a failure under `SHIKU_TEST_REQUIRE_INTEROP=1`).
async fn xmppjs(scenario: &str, args: Value) -> Option<Value> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let installed = dir.join("node_modules/@xmpp/client/package.json").is_file()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !installed {
        let hint = "node and `npm ci --prefix tests/interop` (xmpp.js)";
        assert_ne!(
            std::env::var("SHIKU_TEST_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "SHIKU_TEST_REQUIRE_INTEROP=1 but {hint} are not available"
        );
        eprintln!("skipped: needs {hint}");
        return None;
    }
    let scenario = scenario.to_string();
    let child = std::process::Command::new("node")
        .arg(dir.join("xmppjs.mjs"))
        .arg(scenario)
        .arg(args.to_string())
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node starts");
    let pid = child.id();
    // The script has its own timeout; this one only keeps a hung node from hanging the test.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .unwrap_or_else(|_| panic!("xmpp.js (pid {pid}) did not finish"))
    .expect("waited")
    .expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| json!({ "unparsed_stdout": stdout }));
    assert!(
        out.status.success(),
        "xmpp.js failed: {report}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmppjs_chats_with_receipts_over_the_separate_listener() {
    let (app, addrs) = server(|_| {}).await;
    let own = addrs.websocket.expect("WebSocket listener bound");
    let (a, apw) = user(&app, "13500000061").await;
    let (b, bpw) = user(&app, "13500000062").await;
    let who =
        |uid: i64, pw: &str| json!({ "user": uid.to_string(), "password": pw, "resource": "web" });
    let args = json!({
        "service": format!("ws://{own}/websocket/"),
        "domain": DOMAIN,
        "timeout_ms": 10000,
        "a": who(a, &apw),
        "b": who(b, &bpw),
    });
    let Some(r) = xmppjs("chat", args).await else {
        return;
    };
    // The script waited for both messages and both receipts; check what it saw arrived once.
    for (peer, id) in [("bob", &r["ab_id"]), ("alice", &r["ba_id"])] {
        let got = r["peers"][peer]["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages of {peer}: {r}"))
            .iter()
            .filter(|m| m["id"] == *id)
            .count();
        assert_eq!(got, 1, "{peer} got {id} {got} times: {r}");
    }
}

/// SASL PLAIN over WebSocket goes through the login limiter: after the free failures the next
/// attempt is `temporary-auth-failure` (no hash run); the back-off ends by itself.
#[tokio::test]
async fn password_guessing_is_throttled_on_websocket() {
    let (app, _) = server(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 1;
        c.passwords.max_delay_secs = 1;
    })
    .await;
    let (uid, pw) = user(&app, "13500000041").await;
    let mut ws = Ws::connect(&main_url(&app)).await;
    ws.open().await;
    let auth = |secret: String| {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{secret}"));
        format!(r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#)
    };
    for _ in 0..2 {
        ws.send(&auth(md5_hex("wrong"))).await;
        let f = ws.recv().await;
        assert!(f.to_xml().contains("<not-authorized"), "{}", f.to_xml());
    }
    ws.send(&auth(pw.clone())).await;
    let f = ws.recv().await;
    assert!(
        f.to_xml().contains("<temporary-auth-failure"),
        "{}",
        f.to_xml()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut ws = Ws::connect(&main_url(&app)).await;
    ws.login(uid, &pw, "web").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_ended_and_loses_nothing() {
    let (app, addrs) = server(|c| {
        c.xmpp.session_queue_bytes = 256 * 1024;
        c.xmpp.write_timeout_secs = 2;
    })
    .await;
    for (n, url) in endpoints(&app, &addrs).into_iter().enumerate() {
        let (a, apw) = user(&app, &format!("1350000031{n}")).await;
        let (b, bpw) = user(&app, &format!("1350000032{n}")).await;
        let mut wa = Ws::connect(&url).await;
        wa.login(a, &apw, "web").await;
        let mut wb = Ws::connect(&url).await;
        wb.login(b, &bpw, "web").await;
        wb.send(r#"<iq xmlns="jabber:client" type="set" id="ack1"><enable xmlns="xmpp:shiku:ack"/></iq>"#)
            .await;
        wb.recv_until(|e| e.get_attr("id") == Some("ack1")).await;
        // From here `wb` reads nothing. 400 messages of 50 KB (20 MB) are more than the
        // socket buffers and the session's queue hold.
        let filler = "x".repeat(50_000);
        let total = 400;
        for i in 0..total {
            let body = json!({"messageId": format!("slow{n}_{i}"), "fromUserId": a.to_string(),
                "toUserId": b.to_string(), "content": filler, "type": 1});
            let msg = Element::new("message")
                .attr("xmlns", "jabber:client")
                .attr("to", format!("{b}@{DOMAIN}"))
                .attr("type", "chat")
                .attr("id", format!("slow{n}_{i}"))
                .child(Element::new("body").text(body.to_string()));
            wa.send(&msg.to_xml()).await;
            if i % 50 == 49 {
                // The sender is never held back by the slow receiver.
                tokio::time::timeout(Duration::from_secs(30), wa.ping(&format!("p{i}")))
                    .await
                    .expect("the sender's session keeps answering");
            }
        }
        // The slow session is ended (queue full, or a write timed out) well within the idle
        // timeout (300 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !app.app.router.local_resources(b as i32).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{url}: the slow session is still registered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(wb);
        // Nothing is lost: what the slow session never confirmed went back to the offline
        // queue, what came after went there directly; the next login flushes it.
        // (The session requeues after it unregisters: wait for it to finish.)
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let ids = loop {
            let queued = app
                .app
                .store
                .messages
                .peek_offline(b as i32, 10_000)
                .await
                .unwrap();
            let ids: std::collections::HashSet<String> = queued
                .iter()
                .filter_map(|q| {
                    let v: Value = serde_json::from_str(&q.payload).ok()?;
                    Some(v["message_id"].as_str()?.to_string())
                })
                .collect();
            if ids.len() >= total || std::time::Instant::now() > deadline {
                break ids;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(ids.len(), total, "{url}: {} of {total} queued", ids.len());
    }
}
