//! XMPP c2s over a real TCP socket (RFC 6120): stream open and features, STARTTLS with a
//! rustls client trusting the generated certificate, SASL PLAIN, binding, presence, 1:1 chat
//! with receipts, stream errors for garbage, restricted and oversized XML while other sessions
//! keep working, idle timeout, and a client vanishing mid-stanza.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::TestApp;
use serde_json::{json, Value};
use shiku_server::config::Config;
use shiku_server::domain::util::md5_hex;
use shiku_server::gateway::xmpp::xml::{Element, StreamEvent, StreamParser};
use shiku_server::gateway::xmpp::{ns, tcp};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const WAIT: Duration = Duration::from_secs(10);

/// A server with its own XMPP TCP listener served by `tcp::serve` (STARTTLS enabled).
async fn spawn(tweak: impl FnOnce(&mut Config)) -> (TestApp, SocketAddr) {
    let app = common::spawn_with(tweak).await;
    let tls = tcp::tls_config(&app.app.config).expect("TLS config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp::serve(listener, app.app.clone(), Some(tls)));
    (app, addr)
}

fn domain(app: &TestApp) -> String {
    app.app.config.client.xmpp_domain.clone()
}

/// A hand-driven XMPP client: writes raw XML, reads through the crate's stream parser.
struct Client<S> {
    io: S,
    parser: StreamParser,
}

impl Client<TcpStream> {
    async fn connect(addr: SocketAddr) -> Client<TcpStream> {
        Client {
            io: TcpStream::connect(addr).await.expect("connect"),
            parser: StreamParser::new(1 << 20),
        }
    }

    /// `<starttls/>`, `<proceed/>`, then a TLS handshake trusting the server's generated
    /// certificate for `domain`.
    async fn starttls(
        mut self,
        app: &TestApp,
    ) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
        self.send(&format!("<starttls xmlns='{}'/>", ns::TLS)).await;
        let proceed = self.stanza().await;
        assert!(
            proceed.is("proceed", ns::TLS),
            "expected proceed: {proceed:?}"
        );
        let pem = std::fs::read(app.data_dir.path().join("tls/cert.pem")).expect("cert.pem");
        let mut roots = RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots
                .add(cert.expect("PEM certificate"))
                .expect("trust the generated certificate");
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(domain(app)).expect("server name");
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, self.io)
            .await
            .expect("TLS handshake");
        Client {
            io: tls,
            parser: StreamParser::new(1 << 20),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, xml: &str) {
        self.io.write_all(xml.as_bytes()).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// The next stream event, or `None` when the server closed the connection.
    async fn event(&mut self) -> Option<StreamEvent> {
        let fut = async {
            loop {
                if let Some(ev) = self.parser.next().expect("server sent well-formed XML") {
                    return Some(ev);
                }
                let mut buf = [0u8; 4096];
                match self.io.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.parser.feed(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(WAIT, fut)
            .await
            .expect("server answered in time")
    }

    async fn stanza(&mut self) -> Element {
        match self.event().await {
            Some(StreamEvent::Stanza(e)) => e,
            other => panic!("expected a stanza, got {other:?}"),
        }
    }

    /// The next stanza that is not a presence broadcast.
    async fn stanza_named(&mut self, name: &str) -> Element {
        loop {
            let s = self.stanza().await;
            if s.local_name() == name {
                return s;
            }
        }
    }

    /// Opens a stream; returns the server's header and features.
    async fn open(&mut self, to: &str) -> (Element, Element) {
        self.parser.reset();
        self.send(&format!(
            "<?xml version='1.0'?><stream:stream to='{to}' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        ))
        .await;
        let header = match self.event().await {
            Some(StreamEvent::Open(h)) => h,
            other => panic!("expected the stream header, got {other:?}"),
        };
        let features = self.stanza().await;
        assert_eq!(features.name, "stream:features");
        (header, features)
    }

    /// SASL PLAIN; returns the `<success/>` or `<failure/>`.
    async fn auth(&mut self, authcid: &str, password: &str) -> Element {
        let raw = format!("\0{authcid}\0{password}");
        self.send(&format!(
            "<auth xmlns='{}' mechanism='PLAIN'>{}</auth>",
            ns::SASL,
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .await;
        self.stanza().await
    }

    /// Authenticates, restarts, binds `resource`, opens a session and sends presence.
    async fn login(&mut self, to: &str, uid: i32, password: &str, resource: &str) -> String {
        let r = self.auth(&uid.to_string(), password).await;
        assert!(r.is("success", ns::SASL), "login failed: {r:?}");
        let (_, features) = self.open(to).await;
        assert!(features.find_ns("bind", ns::BIND).is_some(), "{features:?}");
        self.send(&format!(
            "<iq type='set' id='b1'><bind xmlns='{}'><resource>{resource}</resource></bind></iq>",
            ns::BIND
        ))
        .await;
        let iq = self.stanza_named("iq").await;
        assert_eq!(iq.get_attr("type"), Some("result"), "{iq:?}");
        let jid = iq
            .find("bind")
            .and_then(|b| b.find("jid"))
            .map(|j| j.text_content())
            .expect("bound jid");
        self.send(&format!(
            "<iq type='set' id='s1'><session xmlns='{}'/></iq>",
            ns::SESSION
        ))
        .await;
        let iq = self.stanza_named("iq").await;
        assert_eq!(iq.get_attr("type"), Some("result"), "{iq:?}");
        self.send("<presence/>").await;
        jid
    }

    /// Expects a stream error with `condition`, then the end of the stream and the socket.
    async fn expect_stream_error(&mut self, condition: &str) {
        let err = loop {
            let s = self.stanza().await;
            if s.name == "stream:error" {
                break s;
            }
        };
        let c = err
            .elements()
            .find(|c| c.ns() == Some(ns::STREAMS_ERR) && c.local_name() != "text")
            .map(|c| c.local_name().to_string());
        assert_eq!(c.as_deref(), Some(condition), "{err:?}");
        assert_eq!(self.event().await, Some(StreamEvent::Close));
        assert_eq!(self.event().await, None, "socket closed after the error");
    }
}

/// A registered user: (userId, md5 password).
async fn user(app: &TestApp, phone: &str) -> (i32, String) {
    let (id, _) = app.register(phone, "secret", phone).await;
    (id as i32, md5_hex("secret"))
}

/// A chat message with a JSON body, asking for a receipt.
fn chat(to: &str, id: &str, content: &str) -> String {
    let body = json!({"type": 1, "content": content, "messageId": id, "timeSend": 1_700_000_000});
    Element::new("message")
        .attr("to", to)
        .attr("type", "chat")
        .attr("id", id)
        .child(Element::new("body").text(body.to_string()))
        .child(Element::new("request").attr("xmlns", ns::RECEIPTS))
        .to_xml()
}

fn receipt_id(e: &Element) -> Option<String> {
    e.find_ns("received", ns::RECEIPTS)
        .and_then(|r| r.get_attr("id"))
        .map(str::to_string)
}

fn body_json(e: &Element) -> Value {
    serde_json::from_str(&e.find("body").expect("body").text_content()).expect("JSON body")
}

#[tokio::test]
async fn starttls_login_and_chat_both_ways_with_receipts() {
    let (app, addr) = spawn(|_| {}).await;
    let d = domain(&app);
    let (a, pa) = user(&app, "13800000001").await;
    let (b, pb) = user(&app, "13800000002").await;

    // Plain stream: STARTTLS required, no SASL offered; PLAIN is refused before TLS (the
    // password would cross in clear text).
    let mut plain = Client::connect(addr).await;
    let (header, features) = plain.open(&d).await;
    assert_eq!(header.get_attr("from"), Some(d.as_str()));
    assert_eq!(header.get_attr("version"), Some("1.0"));
    assert!(header.get_attr("id").is_some_and(|i| !i.is_empty()));
    let starttls = features
        .find_ns("starttls", ns::TLS)
        .expect("STARTTLS offered");
    assert!(starttls.find("required").is_some(), "{features:?}");
    assert!(features.find_ns("mechanisms", ns::SASL).is_none());
    let mut early = Client::connect(addr).await;
    early.open(&d).await;
    let r = early.auth(&a.to_string(), &pa).await;
    assert!(r.find("encryption-required").is_some(), "{r:?}");

    // After STARTTLS the features no longer offer it.
    let mut ca = plain.starttls(&app).await;
    let (_, features) = ca.open(&d).await;
    assert!(
        features.find_ns("starttls", ns::TLS).is_none(),
        "{features:?}"
    );
    assert!(features.find_ns("mechanisms", ns::SASL).is_some());
    let jid_a = ca.login(&d, a, &pa, "web").await;
    assert_eq!(jid_a, format!("{a}@{d}/web"));

    let mut plain = Client::connect(addr).await;
    plain.open(&d).await;
    let mut cb = plain.starttls(&app).await;
    cb.open(&d).await;
    cb.login(&d, b, &pb, "android").await;

    // Ping keeps working over TLS.
    cb.send(&format!(
        "<iq type='get' id='p1' to='{d}'><ping xmlns='{}'/></iq>",
        ns::PING
    ))
    .await;
    let pong = cb.stanza_named("iq").await;
    assert_eq!(pong.get_attr("type"), Some("result"));
    assert_eq!(pong.get_attr("id"), Some("p1"));

    // A → B, with quotes, ampersands, angle brackets and Chinese in the JSON body.
    let content = "你好 \"世界\" & <b>bold</b> 'x'";
    ca.send(&chat(&format!("{b}@{d}"), "tcp-msg-1", content))
        .await;
    let r = ca.stanza_named("message").await;
    assert_eq!(receipt_id(&r).as_deref(), Some("tcp-msg-1"), "{r:?}");
    let m = cb.stanza_named("message").await;
    assert_eq!(m.get_attr("type"), Some("chat"));
    assert!(m
        .get_attr("from")
        .unwrap_or_default()
        .starts_with(&format!("{a}@{d}")));
    assert_eq!(body_json(&m)["content"], content);

    // B → A.
    cb.send(&chat(&format!("{a}@{d}"), "tcp-msg-2", "回复"))
        .await;
    let r = cb.stanza_named("message").await;
    assert_eq!(receipt_id(&r).as_deref(), Some("tcp-msg-2"));
    let m = ca.stanza_named("message").await;
    assert_eq!(body_json(&m)["content"], "回复");

    // A closes gracefully: the server answers with its own close.
    ca.send("</stream:stream>").await;
    assert_eq!(ca.event().await, Some(StreamEvent::Close));
    assert_eq!(ca.event().await, None);
}

#[tokio::test]
async fn bad_credentials_fail_and_token_login_works_in_plaintext() {
    let (app, addr) = spawn(|c| c.xmpp.require_tls = false).await;
    let d = domain(&app);
    let (id, token) = app.register("13800000011", "secret", "tok").await;
    let mut c = Client::connect(addr).await;
    c.open(&d).await;
    let r = c.auth(&id.to_string(), &md5_hex("wrong")).await;
    assert!(r.is("failure", ns::SASL), "{r:?}");
    assert!(r.find("not-authorized").is_some(), "{r:?}");
    // The stream survives a failed attempt; the access token is accepted as the password.
    let jid = c.login(&d, id as i32, &token, "pc").await;
    assert_eq!(jid, format!("{id}@{d}/pc"));
}

#[tokio::test]
async fn wrong_host_and_namespace_get_stream_errors() {
    let (app, addr) = spawn(|c| c.xmpp.require_tls = false).await;
    let mut c = Client::connect(addr).await;
    c.send(
        "<stream:stream to='elsewhere.example' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
    )
    .await;
    assert!(matches!(c.event().await, Some(StreamEvent::Open(_))));
    c.expect_stream_error("host-unknown").await;

    let mut c = Client::connect(addr).await;
    c.send(&format!(
        "<stream:stream to='{}' xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
        domain(&app)
    ))
    .await;
    assert!(matches!(c.event().await, Some(StreamEvent::Open(_))));
    c.expect_stream_error("invalid-namespace").await;
}

#[tokio::test]
async fn bad_xml_gets_stream_errors_while_others_keep_chatting() {
    let (app, addr) = spawn(|c| {
        c.xmpp.max_stanza_bytes = 8 * 1024;
        c.xmpp.require_tls = false;
    })
    .await;
    let d = domain(&app);
    let (a, pa) = user(&app, "13800000021").await;
    let (b, pb) = user(&app, "13800000022").await;
    let mut ca = Client::connect(addr).await;
    ca.open(&d).await;
    ca.login(&d, a, &pa, "web").await;
    let mut cb = Client::connect(addr).await;
    cb.open(&d).await;
    cb.login(&d, b, &pb, "web").await;

    // Garbage before any stream: the server still opens its stream to say why.
    let mut g = Client::connect(addr).await;
    g.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(matches!(g.event().await, Some(StreamEvent::Open(_))));
    g.expect_stream_error("not-well-formed").await;

    // Mismatched tags inside a stream.
    let mut g = Client::connect(addr).await;
    g.open(&d).await;
    g.send("<message><body>x</bdy></message>").await;
    g.expect_stream_error("not-well-formed").await;

    // An entity declaration (billion laughs) is restricted XML.
    let mut g = Client::connect(addr).await;
    g.open(&d).await;
    g.send("<!DOCTYPE lol [<!ENTITY lol 'lol'>]><message>&lol;</message>")
        .await;
    g.expect_stream_error("restricted-xml").await;

    // An authenticated session sending an oversized stanza is cut off.
    let mut big = Client::connect(addr).await;
    big.open(&d).await;
    let (c_id, pc) = user(&app, "13800000023").await;
    big.login(&d, c_id, &pc, "web").await;
    big.send(&chat(
        &format!("{b}@{d}"),
        "too-big",
        &"x".repeat(20 * 1024),
    ))
    .await;
    big.expect_stream_error("policy-violation").await;

    // Everyone else is unaffected.
    ca.send(&chat(&format!("{b}@{d}"), "after-garbage", "still here"))
        .await;
    let r = ca.stanza_named("message").await;
    assert_eq!(receipt_id(&r).as_deref(), Some("after-garbage"));
    let m = cb.stanza_named("message").await;
    assert_eq!(body_json(&m)["content"], "still here");
    assert_eq!(m.get_attr("id"), Some("after-garbage"));
}

#[tokio::test]
async fn a_client_vanishing_mid_stanza_goes_offline_and_gets_its_messages_later() {
    let (app, addr) = spawn(|c| c.xmpp.require_tls = false).await;
    let d = domain(&app);
    let (a, pa) = user(&app, "13800000031").await;
    let (b, pb) = user(&app, "13800000032").await;
    let mut cb = Client::connect(addr).await;
    cb.open(&d).await;
    cb.login(&d, b, &pb, "web").await;
    let mut ca = Client::connect(addr).await;
    ca.open(&d).await;
    ca.login(&d, a, &pa, "web").await;
    // Presence is processed once a later stanza is answered.
    ca.send(&format!(
        "<iq type='get' id='p1'><ping xmlns='{}'/></iq>",
        ns::PING
    ))
    .await;
    ca.stanza_named("iq").await;
    assert!(app.app.router.is_local(a));

    // Half a message, then the socket is gone (no close, no shutdown).
    let half = chat(&format!("{b}@{d}"), "half", "never finished");
    ca.send(&half[..half.len() / 2]).await;
    drop(ca);
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.app.router.is_local(a) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session not cleaned up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The half message was never stored or delivered: B's next stanza is our own ping answer.
    cb.send(&format!(
        "<iq type='get' id='p2'><ping xmlns='{}'/></iq>",
        ns::PING
    ))
    .await;
    let next = loop {
        let s = cb.stanza().await;
        if s.local_name() != "presence" {
            break s;
        }
    };
    assert_eq!(next.local_name(), "iq", "{next:?}");

    // B writes to the now offline A; A gets it on the next login, stamped with a delay.
    cb.send(&chat(&format!("{a}@{d}"), "while-away", "你不在"))
        .await;
    let r = cb.stanza_named("message").await;
    assert_eq!(receipt_id(&r).as_deref(), Some("while-away"));
    let mut ca = Client::connect(addr).await;
    ca.open(&d).await;
    ca.login(&d, a, &pa, "web").await;
    let m = ca.stanza_named("message").await;
    assert_eq!(body_json(&m)["content"], "你不在");
    assert!(m.find_ns("delay", ns::DELAY).is_some(), "{m:?}");
}

#[tokio::test]
async fn idle_sessions_time_out() {
    let (app, addr) = spawn(|c| c.xmpp.idle_timeout_secs = 1).await;
    let mut c = Client::connect(addr).await;
    c.open(&domain(&app)).await;
    // Whitespace keepalives count as traffic.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        c.send(" ").await;
    }
    let started = tokio::time::Instant::now();
    c.expect_stream_error("connection-timeout").await;
    assert!(started.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn an_unauthenticated_connection_gets_a_short_absolute_limit() {
    let (app, addr) = spawn(|c| c.xmpp.auth_timeout_secs = 1).await;
    let mut c = Client::connect(addr).await;
    let started = tokio::time::Instant::now();
    c.open(&domain(&app)).await;
    // Keepalives do not extend the time to authenticate (the idle limit is 300 s).
    let drip = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.send(" ").await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), drip).await;
    c.expect_stream_error("connection-timeout").await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_generated_certificate_is_kept_and_bad_files_are_explained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tcp::tls_config(&config).expect("generated");
    let cert = std::fs::read(dir.path().join("tls/cert.pem")).expect("cert written");
    tcp::tls_config(&config).expect("reused");
    assert_eq!(
        std::fs::read(dir.path().join("tls/cert.pem")).expect("cert kept"),
        cert,
        "the pair is generated once"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .expect("key written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Configured files: used when valid, explained when missing or not PEM.
    config.xmpp.tls_cert = dir.path().join("tls/cert.pem").display().to_string();
    config.xmpp.tls_key = dir.path().join("tls/key.pem").display().to_string();
    tcp::tls_config(&config).expect("configured pair");
    config.xmpp.tls_key = dir.path().join("missing.pem").display().to_string();
    let e = tcp::tls_config(&config)
        .expect_err("missing key")
        .to_string();
    assert!(e.contains("missing.pem"), "{e}");
    std::fs::write(dir.path().join("junk.pem"), "not a certificate").expect("write");
    config.xmpp.tls_key = dir.path().join("tls/key.pem").display().to_string();
    config.xmpp.tls_cert = dir.path().join("junk.pem").display().to_string();
    let e = tcp::tls_config(&config).expect_err("junk cert").to_string();
    assert!(e.contains("junk.pem"), "{e}");
    config.xmpp.tls_key = String::new();
    let e = tcp::tls_config(&config)
        .expect_err("half configured")
        .to_string();
    assert!(e.contains("together"), "{e}");
}

#[tokio::test]
async fn pipelined_stanzas_and_a_conflicting_login() {
    let (app, addr) = spawn(|c| c.xmpp.require_tls = false).await;
    let d = domain(&app);
    let (a, pa) = user(&app, "13800000041").await;
    let mut first = Client::connect(addr).await;
    first.open(&d).await;
    first.login(&d, a, &pa, "android").await;

    // Everything after the restart in one write: bind, session, presence, ping.
    let mut second = Client::connect(addr).await;
    second.open(&d).await;
    let r = second.auth(&a.to_string(), &pa).await;
    assert!(r.is("success", ns::SASL), "{r:?}");
    second.open(&d).await;
    second
        .send(&format!(
            "<iq type='set' id='b'><bind xmlns='{}'><resource>android</resource></bind></iq>\
             <iq type='set' id='s'><session xmlns='{}'/></iq><presence/>\
             <iq type='get' id='p'><ping xmlns='{}'/></iq>",
            ns::BIND,
            ns::SESSION,
            ns::PING
        ))
        .await;
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let s = second.stanza().await;
        if s.local_name() == "iq" {
            assert_eq!(s.get_attr("type"), Some("result"), "{s:?}");
            ids.push(s.get_attr("id").unwrap_or_default().to_string());
        }
    }
    assert_eq!(ids, ["b", "s", "p"], "answers in order");

    // The same resource logging in again replaces the first connection.
    first.expect_stream_error("conflict").await;
    assert_eq!(app.app.router.local_resources(a), ["android"]);
}

/// SASL PLAIN over TCP goes through the login limiter: after the free failures the next attempt
/// is `temporary-auth-failure` (no hash run), unknown and wrong answer alike, and the right
/// password works once the back-off has passed.
#[tokio::test]
async fn password_guessing_is_throttled_on_tcp() {
    let (app, addr) = spawn(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 1;
        c.passwords.max_delay_secs = 1;
    })
    .await;
    let d = domain(&app);
    let (uid, pw) = user(&app, "13800000031").await;
    let mut plain = Client::connect(addr).await;
    plain.open(&d).await;
    let mut c = plain.starttls(&app).await;
    c.open(&d).await;
    let wrong = c.auth(&uid.to_string(), &md5_hex("nope")).await;
    let unknown = c.auth("99999999", &md5_hex("nope")).await;
    assert!(wrong.to_xml().contains("<not-authorized"), "{wrong:?}");
    assert_eq!(
        wrong.to_xml(),
        unknown.to_xml(),
        "unknown and wrong answer alike"
    );
    let mut c2 = {
        let mut p = Client::connect(addr).await;
        p.open(&d).await;
        p.starttls(&app).await
    };
    c2.open(&d).await;
    c2.auth(&uid.to_string(), &md5_hex("nope2")).await;
    // Third attempt on the account: refused without a check, even with the right password.
    let r = c2.auth(&uid.to_string(), &pw).await;
    assert!(r.to_xml().contains("<temporary-auth-failure"), "{r:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c2.auth(&uid.to_string(), &pw).await;
    assert!(r.is("success", ns::SASL), "{r:?}");
}
