//! BOSH (XEP-0124/0206) driven with reqwest as Strophe drives it: session creation, SASL
//! PLAIN, `xmpp:restart`, binding, long-polls answered by stanzas or empty after `wait`, rid
//! ordering and the answer cache, terminate conditions (unknown sid, kick, client terminate,
//! bad and oversized bodies), CORS, and the separate any-path listener.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;
use shiku_server::domain::util::md5_hex;
use shiku_server::gateway::xmpp::xml::{parse_fragment, Element};

use common::{TestApp, XmppAddrs};

const HTTPBIND: &str = "http://jabber.org/protocol/httpbind";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const STREAMS_ERR: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const DOMAIN: &str = "bosh.shiku.test";

async fn server(tweak: impl FnOnce(&mut shiku_server::config::Config)) -> (TestApp, XmppAddrs) {
    common::spawn_xmpp(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.xmpp.bosh_max_wait_secs = 2;
        tweak(c);
    })
    .await
}

/// POSTs `xml` to `url`; returns the raw answer after checking status and headers.
async fn post_raw(client: &reqwest::Client, url: &str, xml: String) -> String {
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        client
            .post(url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(xml)
            .send(),
    )
    .await
    .expect("answer within 20 s")
    .expect("request sent");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    r.text().await.unwrap()
}

/// POSTs and parses the `<body/>` answer.
async fn post(client: &reqwest::Client, url: &str, xml: String) -> Element {
    let text = post_raw(client, url, xml).await;
    let b = parse_fragment(&text, 1 << 20).expect("answer parses");
    assert!(b.is("body", HTTPBIND), "{text}");
    b
}

/// One BOSH session as Strophe runs it.
struct Bosh {
    client: reqwest::Client,
    url: String,
    sid: String,
    rid: u64,
}

impl Bosh {
    /// Creates a session asking for `wait`; returns it and the creation answer.
    async fn create(url: &str, wait: u64) -> (Bosh, Element) {
        let client = reqwest::Client::new();
        let rid = 1_000_000;
        let b = post(
            &client,
            url,
            format!(
                r#"<body xmlns="{HTTPBIND}" content="text/xml; charset=utf-8" hold="1" rid="{rid}" to="{DOMAIN}" ver="1.6" wait="{wait}" xml:lang="en" xmpp:version="1.0" xmlns:xmpp="urn:xmpp:xbosh"/>"#
            ),
        )
        .await;
        let sid = b.get_attr("sid").expect("sid").to_string();
        (
            Bosh {
                client,
                url: url.to_string(),
                sid,
                rid,
            },
            b,
        )
    }

    /// The next request's body text with `attrs` and `payload`.
    fn next_body(&mut self, attrs: &str, payload: &str) -> (u64, String) {
        self.rid += 1;
        (
            self.rid,
            format!(
                r#"<body xmlns="{HTTPBIND}" rid="{}" sid="{}" {attrs}>{payload}</body>"#,
                self.rid, self.sid
            ),
        )
    }

    /// Sends the next request and waits for its answer.
    async fn send(&mut self, attrs: &str, payload: &str) -> Element {
        let (_, body) = self.next_body(attrs, payload);
        post(&self.client, &self.url, body).await
    }

    /// A request sent on its own task (a long-poll), answered later.
    fn spawn(&mut self, attrs: &str, payload: &str) -> tokio::task::JoinHandle<Element> {
        let (_, body) = self.next_body(attrs, payload);
        let (client, url) = (self.client.clone(), self.url.clone());
        tokio::spawn(async move { post(&client, &url, body).await })
    }

    /// SASL PLAIN, restart, bind, presence (with a ping so the answer is immediate).
    async fn login(&mut self, uid: i64, md5_password: &str, resource: &str) {
        let creds =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{md5_password}"));
        let b = self
            .send(
                "",
                &format!(r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#),
            )
            .await;
        assert!(b.find_ns("success", SASL).is_some(), "{}", b.to_xml());
        let b = self
            .send(
                &format!(
                    r#"to="{DOMAIN}" xml:lang="en" xmpp:restart="true" xmlns:xmpp="urn:xmpp:xbosh""#
                ),
                "",
            )
            .await;
        let f = b.find("features").expect("features after restart");
        assert!(f.find_ns("bind", BIND).is_some(), "{}", b.to_xml());
        let b = self
            .send(
                "",
                &format!(
                    r#"<iq xmlns="jabber:client" type="set" id="bind1"><bind xmlns="{BIND}"><resource>{resource}</resource></bind></iq>"#
                ),
            )
            .await;
        let iq = b.find("iq").expect("bind result");
        assert_eq!(iq.get_attr("type"), Some("result"), "{}", b.to_xml());
        let b = self
            .send(
                "",
                &format!(
                    r#"<presence xmlns="jabber:client"/><iq xmlns="jabber:client" type="get" id="p1" to="{DOMAIN}"><ping xmlns="urn:xmpp:ping"/></iq>"#
                ),
            )
            .await;
        assert!(
            b.elements().any(|e| e.get_attr("id") == Some("p1")),
            "{}",
            b.to_xml()
        );
    }
}

async fn user(app: &TestApp, phone: &str) -> (i64, String) {
    let (uid, _) = app.register(phone, "secret-1", phone).await;
    (uid, md5_hex("secret-1"))
}

fn main_url(app: &TestApp) -> String {
    format!("{}/http-bind", app.base)
}

#[tokio::test]
async fn session_creation_answers_the_negotiated_attributes_and_features() {
    let (app, _) = server(|_| {}).await;
    // Asking for more than the server allows gets the server's maximum.
    let (_, b) = Bosh::create(&main_url(&app), 60).await;
    assert_eq!(b.get_attr("wait"), Some("2"));
    assert_eq!(b.get_attr("hold"), Some("1"));
    assert_eq!(b.get_attr("requests"), Some("2"));
    assert_eq!(b.get_attr("ver"), Some("1.6"));
    assert_eq!(b.get_attr("from"), Some(DOMAIN));
    assert_eq!(b.get_attr("xmpp:version"), Some("1.0"));
    assert_eq!(b.get_attr("xmlns:xmpp"), Some("urn:xmpp:xbosh"));
    assert!(b.get_attr("inactivity").is_some() && b.get_attr("polling").is_some());
    let f = b.find("features").expect("stream features");
    assert!(f.find_ns("mechanisms", SASL).is_some(), "{}", b.to_xml());
    // Asking for less keeps the client's value.
    let (_, b) = Bosh::create(&main_url(&app), 1).await;
    assert_eq!(b.get_attr("wait"), Some("1"));
}

#[tokio::test]
async fn login_long_poll_delivers_a_message_from_another_session() {
    let (app, _) = server(|_| {}).await;
    let (a, apw) = user(&app, "13600000001").await;
    let (b, bpw) = user(&app, "13600000002").await;
    let (mut ba, _) = Bosh::create(&main_url(&app), 2).await;
    ba.login(a, &apw, "web").await;
    let (mut bb, _) = Bosh::create(&main_url(&app), 2).await;
    bb.login(b, &bpw, "web").await;

    // A's long-poll is held; B's message answers it.
    let poll = ba.spawn("", "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = "skimweb_bosh_1";
    let body = json!({"messageId": id, "content": "via bosh", "type": 1,
        "fromUserId": b.to_string(), "toUserId": a.to_string(), "timeSend": 1_795_291_719});
    let msg = Element::new("message")
        .attr("xmlns", "jabber:client")
        .attr("to", format!("{a}@{DOMAIN}"))
        .attr("type", "chat")
        .attr("id", id)
        .child(Element::new("body").text(body.to_string()))
        .child(Element::new("request").attr("xmlns", "urn:xmpp:receipts"));
    let answer = bb.send("", &msg.to_xml()).await;
    let receipt = answer
        .elements()
        .find_map(|m| m.find_ns("received", "urn:xmpp:receipts"))
        .unwrap_or_else(|| panic!("receipt in {}", answer.to_xml()));
    assert_eq!(receipt.get_attr("id"), Some(id));

    let started = Instant::now();
    let got = poll.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered by the message, not by wait"
    );
    let m = got
        .find("message")
        .unwrap_or_else(|| panic!("{}", got.to_xml()));
    assert_eq!(m.get_attr("id"), Some(id));
    assert_eq!(m.get_attr("type"), Some("chat"));
    let json: serde_json::Value =
        serde_json::from_str(&m.find("body").unwrap().text_content()).unwrap();
    assert_eq!(json["content"], "via bosh");
}

#[tokio::test]
async fn an_idle_poll_gets_an_empty_body_after_wait() {
    let (app, _) = server(|_| {}).await;
    let (mut s, _) = Bosh::create(&main_url(&app), 1).await;
    let started = Instant::now();
    let b = s.send("", "").await;
    let took = started.elapsed();
    assert!(
        b.children.is_empty() && b.get_attr("type").is_none(),
        "{}",
        b.to_xml()
    );
    assert!(
        took >= Duration::from_millis(900),
        "held for wait: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "not longer than wait: {took:?}"
    );
}

#[tokio::test]
async fn rid_ordering_cache_and_window() {
    let (app, _) = server(|_| {}).await;
    let (uid, pw) = user(&app, "13600000011").await;
    let (mut s, _) = Bosh::create(&main_url(&app), 2).await;
    // A repeated rid gets exactly the cached answer.
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{pw}"));
    let (rid, auth) = s.next_body(
        "",
        &format!(r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#),
    );
    let first = post_raw(&s.client, &s.url, auth.clone()).await;
    assert!(first.contains("<success"), "{first}");
    let again = post_raw(&s.client, &s.url, auth).await;
    assert_eq!(first, again, "rid {rid} repeated");

    // A request ahead of a missing rid waits for it, then both are processed in order.
    let restart = format!(r#"to="{DOMAIN}" xmpp:restart="true" xmlns:xmpp="urn:xmpp:xbosh""#);
    let (_, missing) = s.next_body(&restart, "");
    let ahead = s.spawn(
        "",
        &format!(
            r#"<iq xmlns="jabber:client" type="set" id="bind1"><bind xmlns="{BIND}"><resource>web</resource></bind></iq>"#
        ),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!ahead.is_finished(), "rid ahead of a gap must wait");
    let restarted = post(&s.client, &s.url, missing).await;
    let ahead = ahead.await.unwrap();
    // The features (restart) and the bind result (the later rid) both arrive.
    let all = format!("{}{}", restarted.to_xml(), ahead.to_xml());
    assert!(all.contains(BIND) && all.contains(r#"id="bind1""#), "{all}");

    // An rid far outside the window ends the session with item-not-found.
    s.rid += 50;
    let b = s.send("", "").await;
    assert_eq!(b.get_attr("type"), Some("terminate"));
    assert_eq!(b.get_attr("condition"), Some("item-not-found"));
    let b = s.send("", "").await;
    assert_eq!(
        b.get_attr("condition"),
        Some("item-not-found"),
        "session is gone"
    );
}

#[tokio::test]
async fn unknown_sid_bad_and_oversized_bodies_are_terminated_with_a_condition() {
    let (app, _) = server(|c| c.xmpp.max_stanza_bytes = 2048).await;
    let client = reqwest::Client::new();
    let url = main_url(&app);
    let b = post(
        &client,
        &url,
        format!(r#"<body xmlns="{HTTPBIND}" rid="5" sid="no-such-sid"/>"#),
    )
    .await;
    assert_eq!(b.get_attr("type"), Some("terminate"));
    assert_eq!(b.get_attr("condition"), Some("item-not-found"));

    for bad in [
        "not xml at all".to_string(),
        r#"<body xmlns="wrong:ns" rid="1"/>"#.to_string(),
        format!(r#"<body xmlns="{HTTPBIND}" rid="x"/>"#),
        format!(r#"<body xmlns="{HTTPBIND}" rid="1"><unclosed></body>"#),
    ] {
        let b = post(&client, &url, bad.clone()).await;
        assert_eq!(b.get_attr("type"), Some("terminate"), "{bad}");
        assert_eq!(b.get_attr("condition"), Some("bad-request"), "{bad}");
    }

    let huge = format!(
        r#"<body xmlns="{HTTPBIND}" rid="1">{}</body>"#,
        "<presence/>".repeat(500)
    );
    let b = post(&client, &url, huge).await;
    assert_eq!(b.get_attr("condition"), Some("policy-violation"));

    // The server still serves new sessions.
    let (_, b) = Bosh::create(&url, 1).await;
    assert!(b.get_attr("sid").is_some());
}

#[tokio::test]
async fn bodies_with_too_many_attributes_are_a_policy_violation() {
    // Issue 17 item 6: attributes per element are capped before any per-attribute work.
    let (app, _) = server(|_| {}).await;
    let client = reqwest::Client::new();
    let url = main_url(&app);
    for extra in [100, 10_000] {
        let attrs: String = (0..extra).map(|i| format!(" a{i}=\"\"")).collect();
        let b = post(
            &client,
            &url,
            format!(r#"<body xmlns="{HTTPBIND}" rid="1"{attrs}/>"#),
        )
        .await;
        assert_eq!(b.get_attr("type"), Some("terminate"), "{extra}");
        assert_eq!(b.get_attr("condition"), Some("policy-violation"), "{extra}");
    }
    let (_, b) = Bosh::create(&url, 1).await;
    assert!(b.get_attr("sid").is_some());
}

#[tokio::test]
async fn a_second_login_kicks_the_bosh_session_with_remote_stream_error_conflict() {
    let (app, _) = server(|_| {}).await;
    let (uid, pw) = user(&app, "13600000021").await;
    let (mut first, _) = Bosh::create(&main_url(&app), 2).await;
    first.login(uid, &pw, "web").await;
    let poll = first.spawn("", "");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (mut second, _) = Bosh::create(&main_url(&app), 2).await;
    second.login(uid, &pw, "web").await;

    let b = poll.await.unwrap();
    assert_eq!(b.get_attr("type"), Some("terminate"), "{}", b.to_xml());
    assert_eq!(b.get_attr("condition"), Some("remote-stream-error"));
    let err = b.find("error").expect("stream:error inside");
    assert_eq!(err.name, "stream:error");
    assert!(
        err.find_ns("conflict", STREAMS_ERR).is_some(),
        "{}",
        b.to_xml()
    );
    // Strophe's check: a `conflict` element anywhere in the body.
    assert!(b.to_xml().contains("<conflict"));
}

#[tokio::test]
async fn client_terminate_ends_the_session() {
    let (app, _) = server(|_| {}).await;
    let (uid, pw) = user(&app, "13600000031").await;
    let (mut s, _) = Bosh::create(&main_url(&app), 2).await;
    s.login(uid, &pw, "web").await;
    let b = s
        .send(
            r#"type="terminate""#,
            r#"<presence xmlns="jabber:client" type="unavailable"/>"#,
        )
        .await;
    assert_eq!(b.get_attr("type"), Some("terminate"), "{}", b.to_xml());
    let b = s.send("", "").await;
    assert_eq!(b.get_attr("condition"), Some("item-not-found"));
}

#[tokio::test]
async fn inactivity_ends_the_session() {
    let (app, _) = server(|c| c.xmpp.bosh_inactivity_secs = 1).await;
    let (uid, pw) = user(&app, "13600000051").await;
    let (mut s, b) = Bosh::create(&main_url(&app), 1).await;
    assert_eq!(b.get_attr("inactivity"), Some("1"));
    s.login(uid, &pw, "web").await;
    assert_eq!(app.app.router.local_resources(uid as i32), ["web"]);
    // No request pending for longer than `inactivity`: the session ends and goes offline.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(app.app.router.local_resources(uid as i32).is_empty());
    let b = s.send("", "").await;
    assert_eq!(b.get_attr("condition"), Some("item-not-found"));
}

#[tokio::test]
async fn cors_preflight_and_the_separate_any_path_listener() {
    let (app, addrs) = server(|_| {}).await;
    let client = reqwest::Client::new();
    for url in [
        main_url(&app),
        format!("http://{}/http-bind/", addrs.bosh.unwrap()),
    ] {
        let r = client
            .request(reqwest::Method::OPTIONS, &url)
            .header("Origin", "http://web.example")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
    }
    let (uid, pw) = user(&app, "13600000041").await;
    let url = format!("http://{}/", addrs.bosh.unwrap());
    let (mut s, _) = Bosh::create(&url, 1).await;
    s.login(uid, &pw, "web").await;
    let (_, b) = Bosh::create(&format!("http://{}/any/where", addrs.bosh.unwrap()), 1).await;
    assert!(b.find("features").is_some());
}

/// SASL PLAIN over BOSH goes through the login limiter: after the free failures the next attempt
/// is `temporary-auth-failure` (no hash run); the back-off ends by itself.
#[tokio::test]
async fn password_guessing_is_throttled_on_bosh() {
    let (app, _) = server(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 1;
        c.passwords.max_delay_secs = 1;
    })
    .await;
    let (uid, pw) = user(&app, "13500000042").await;
    let auth = |secret: &str| {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{secret}"));
        format!(r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#)
    };
    let (mut b, _) = Bosh::create(&main_url(&app), 1).await;
    for _ in 0..2 {
        let f = b.send("", &auth(&md5_hex("wrong"))).await;
        assert!(f.to_xml().contains("<not-authorized"), "{}", f.to_xml());
    }
    let f = b.send("", &auth(&pw)).await;
    assert!(
        f.to_xml().contains("<temporary-auth-failure"),
        "{}",
        f.to_xml()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (mut b, _) = Bosh::create(&main_url(&app), 1).await;
    b.login(uid, &pw, "web").await;
}
