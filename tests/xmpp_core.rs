//! The XMPP core driven directly (no sockets) on a real spawned server: SASL, binding and
//! conflicts, 1:1 and group messages through the message path, receipts, shiku-ack, the offline
//! queue, multi-device and MUC as the Shiku Strophe client uses it.

mod common;

use base64::Engine;
use common::TestApp;
use serde_json::{json, Value};
use shiku_server::delivery::PushReceiver;
use shiku_server::domain::messages;
use shiku_server::domain::util::{md5_hex, uuid32};
use shiku_server::gateway::xmpp::session::XmppSession;
use shiku_server::gateway::xmpp::xml::Element;
use shiku_server::gateway::xmpp::{ns, Out, Transport};
use shiku_server::store::Patch;

/// A registered user.
#[derive(Clone)]
struct U {
    id: i32,
    token: String,
}

async fn user(app: &TestApp, phone: &str, nickname: &str) -> U {
    let (id, token) = app.register(phone, "secret", nickname).await;
    U {
        id: id as i32,
        token,
    }
}

fn domain(app: &TestApp) -> String {
    app.app.config.client.xmpp_domain.clone()
}

fn muc_domain(app: &TestApp) -> String {
    format!("muc.{}", domain(app))
}

/// `<auth mechanism=PLAIN>` with `\0authcid\0password`.
fn plain(authcid: &str, password: &str) -> Element {
    let raw = format!("\0{authcid}\0{password}");
    Element::new("auth")
        .attr("xmlns", ns::SASL)
        .attr("mechanism", "PLAIN")
        .text(base64::engine::general_purpose::STANDARD.encode(raw))
}

fn stanzas(outs: &[Out]) -> Vec<&Element> {
    outs.iter()
        .filter_map(|o| match o {
            Out::Stanza(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn stream_error(outs: &[Out]) -> Option<&'static str> {
    outs.iter().find_map(|o| match o {
        Out::Error(e) => Some(e.condition),
        _ => None,
    })
}

/// The condition element inside a stanza's `<error/>`.
fn error_condition(e: &Element) -> Option<String> {
    let err = e.find("error")?;
    err.elements()
        .find(|c| c.ns() == Some(ns::STANZAS_ERR) && c.local_name() != "text")
        .map(|c| c.local_name().to_string())
}

fn error_text(e: &Element) -> String {
    e.find("error")
        .and_then(|err| err.find("text"))
        .map(|t| t.text_content())
        .unwrap_or_default()
}

fn body_json(e: &Element) -> Value {
    serde_json::from_str(&e.find("body").expect("body").text_content()).expect("JSON body")
}

/// A client session driven directly.
struct Client {
    s: XmppSession,
    rx: PushReceiver,
    uid: i32,
    jid: String,
}

impl Client {
    /// Everything the router pushed so far, rendered.
    async fn pushed(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        while let Some(p) = self.rx.try_recv() {
            out.extend(self.s.push(p).await);
        }
        out
    }

    async fn send(&mut self, e: Element) -> Vec<Out> {
        self.s.handle(e).await
    }

    /// A 1:1 chat stanza with a Shiku JSON body, as Strophe sends it.
    fn chat(&self, app: &TestApp, to: i32, id: &str, text: &str) -> Element {
        let body = json!({"messageId": id, "type": 1, "content": text, "timeSend": 1_700_000_000});
        Element::new("message")
            .attr("xmlns", ns::CLIENT)
            .attr("to", format!("{to}@{}", domain(app)))
            .attr("type", "chat")
            .attr("id", id)
            .child(Element::new("body").text(body.to_string()))
            .child(Element::new("request").attr("xmlns", ns::RECEIPTS))
    }

    fn groupchat(&self, app: &TestApp, room: &str, id: &str, text: &str) -> Element {
        let body = json!({"messageId": id, "type": 1, "content": text});
        Element::new("message")
            .attr("to", format!("{room}@{}", muc_domain(app)))
            .attr("type", "groupchat")
            .attr("id", id)
            .child(Element::new("body").text(body.to_string()))
    }

    fn iq(&self, kind: &str, to: Option<&str>, child: Element) -> Element {
        let mut iq = Element::new("iq")
            .attr("type", kind)
            .attr("id", format!("q{}", &uuid32()[..6]))
            .child(child);
        if let Some(t) = to {
            iq.set_attr("to", t);
        }
        iq
    }

    async fn presence(&mut self) -> Vec<Out> {
        self.send(Element::new("presence")).await
    }

    async fn enable_ack(&mut self, app: &TestApp) {
        let iq = self.iq(
            "set",
            Some(&domain(app)),
            Element::new("enable")
                .attr("xmlns", ns::SHIKU_ACK)
                .text("enable"),
        );
        let out = self.send(iq).await;
        let st = stanzas(&out);
        assert_eq!(st[0].get_attr("type"), Some("result"));
        let first = st[0].elements().next().expect("enable echoed");
        assert!(first.is("enable", ns::SHIKU_ACK));
    }

    async fn ack(&mut self, app: &TestApp, ids: &str) -> Vec<Out> {
        let iq = self.iq(
            "set",
            Some(&domain(app)),
            Element::new("body").attr("xmlns", ns::SHIKU_ACK).text(ids),
        );
        self.send(iq).await
    }

    async fn join(&mut self, app: &TestApp, room: &str, seconds: Option<&str>) -> Vec<Out> {
        let mut x = Element::new("x").attr("xmlns", ns::MUC);
        if let Some(s) = seconds {
            x.push(Element::new("history").attr("seconds", s));
        }
        let p = Element::new("presence")
            .attr("id", "join1")
            .attr("to", format!("{room}@{}/{}", muc_domain(app), self.uid))
            .child(x);
        self.send(p).await
    }
}

/// Authenticates and binds `resource` (None: the server picks one).
async fn connect_with(app: &TestApp, u: &U, secret: &str, resource: Option<&str>) -> Client {
    let (mut s, rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    let open = s.open_stream(Some(&domain(app))).expect("stream opens");
    assert!(open.features.find_ns("mechanisms", ns::SASL).is_some());
    let out = s.handle(plain(&u.id.to_string(), secret)).await;
    assert!(
        matches!(&out[..], [Out::Stanza(ok), Out::Restart] if ok.is("success", ns::SASL)),
        "{out:?}"
    );
    let open = s.open_stream(Some(&domain(app))).expect("stream reopens");
    assert!(open.features.find_ns("bind", ns::BIND).is_some());
    let session = open
        .features
        .find_ns("session", ns::SESSION)
        .expect("session");
    assert!(session.find("optional").is_some());
    let mut bind = Element::new("bind").attr("xmlns", ns::BIND);
    if let Some(r) = resource {
        bind.push(Element::new("resource").text(r));
    }
    let out = s
        .handle(
            Element::new("iq")
                .attr("type", "set")
                .attr("id", "bind1")
                .child(bind),
        )
        .await;
    let st = stanzas(&out);
    assert_eq!(st[0].get_attr("type"), Some("result"), "{out:?}");
    let jid = st[0]
        .find("bind")
        .and_then(|b| b.find("jid"))
        .expect("bound jid")
        .text_content();
    if let Some(r) = resource {
        assert_eq!(jid, format!("{}@{}/{r}", u.id, domain(app)));
    }
    assert_eq!(s.jid().as_deref(), Some(jid.as_str()));
    Client {
        s,
        rx,
        uid: u.id,
        jid,
    }
}

async fn connect(app: &TestApp, u: &U, resource: &str) -> Client {
    connect_with(app, u, &md5_hex("secret"), Some(resource)).await
}

/// A room made over REST by `owner` with `members`; returns (roomId, jid).
async fn room(app: &TestApp, owner: &U, members: &[&U]) -> (String, String) {
    let jid = uuid32();
    room_with_jid(app, owner, members, &jid).await
}

async fn room_with_jid(app: &TestApp, owner: &U, members: &[&U], jid: &str) -> (String, String) {
    let ids: Vec<i32> = members.iter().map(|u| u.id).collect();
    let text = serde_json::to_string(&ids).unwrap();
    let v = app
        .get(
            "/room/add",
            &[
                ("access_token", &owner.token),
                ("jid", jid),
                ("name", "群"),
                ("desc", "d"),
                ("text", &text),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    (
        v["data"]["id"].as_str().unwrap().to_string(),
        jid.to_string(),
    )
}

/// The received-receipt among `outs` for `id`.
fn receipt<'a>(outs: &'a [Out], id: &str) -> Option<&'a Element> {
    stanzas(outs).into_iter().find(|e| {
        e.find_ns("received", ns::RECEIPTS)
            .is_some_and(|r| r.get_attr("id") == Some(id))
    })
}

fn messages_of<'a>(outs: &'a [Out], kind: &str) -> Vec<&'a Element> {
    stanzas(outs)
        .into_iter()
        .filter(|e| e.local_name() == "message" && e.get_attr("type") == Some(kind))
        .collect()
}

#[tokio::test]
async fn sasl_md5_token_and_refusals() {
    let app = common::spawn().await;
    let a = user(&app, "13800000001", "alice").await;
    let d = domain(&app);

    // md5 password and userId@domain as authcid.
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::Bosh, None);
    s.open_stream(None).unwrap();
    let out = s
        .handle(plain(&format!("{}@{d}", a.id), &md5_hex("secret")))
        .await;
    assert!(matches!(out.last(), Some(Out::Restart)), "{out:?}");
    assert!(s.is_authenticated());
    assert_eq!(s.user_id(), a.id);

    // The REST access token.
    let c = connect_with(&app, &a, &a.token, Some("web")).await;
    assert!(c.jid.ends_with("/web"));

    // Unknown host.
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    assert_eq!(
        s.open_stream(Some("example.org")).unwrap_err().condition,
        "host-unknown"
    );
    let host = app.app.config.client.xmpp_host.clone();
    assert!(s.open_stream(Some(&host)).is_ok());

    // Anything but SASL before authentication is a stream error.
    let out = s.handle(Element::new("presence")).await;
    assert_eq!(stream_error(&out), Some("not-authorized"));

    // Bad password: retry allowed, the third failure ends the stream.
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    s.open_stream(Some(&d)).unwrap();
    for attempt in 1..=3 {
        let out = s.handle(plain(&a.id.to_string(), &md5_hex("wrong"))).await;
        let f = stanzas(&out)[0];
        assert!(f.is("failure", ns::SASL));
        assert!(f.find("not-authorized").is_some());
        assert!(!f.find("text").unwrap().text_content().is_empty());
        assert_eq!(
            stream_error(&out).is_some(),
            attempt == 3,
            "attempt {attempt}: {out:?}"
        );
    }
    // A token of another user, and garbage, are refused too.
    let b = user(&app, "13800000002", "bob").await;
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    s.open_stream(Some(&d)).unwrap();
    let out = s.handle(plain(&a.id.to_string(), &b.token)).await;
    assert!(stanzas(&out)[0].find("not-authorized").is_some());
    let out = s
        .handle(
            Element::new("auth")
                .attr("xmlns", ns::SASL)
                .attr("mechanism", "PLAIN")
                .text("%%%not base64"),
        )
        .await;
    assert!(stanzas(&out)[0].find("incorrect-encoding").is_some());
    // Other mechanisms.
    let out = s
        .handle(
            Element::new("auth")
                .attr("xmlns", ns::SASL)
                .attr("mechanism", "SCRAM-SHA-1"),
        )
        .await;
    assert!(stanzas(&out)[0].find("invalid-mechanism").is_some());

    // A locked account.
    app.app
        .store
        .users
        .update_user(b.id, &Patch::new().set("status", -1))
        .await
        .unwrap();
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    s.open_stream(Some(&d)).unwrap();
    let out = s.handle(plain(&b.id.to_string(), &md5_hex("secret"))).await;
    assert!(
        stanzas(&out)[0].find("account-disabled").is_some(),
        "{out:?}"
    );
    assert!(!s.is_authenticated());
}

#[tokio::test]
async fn starttls_is_offered_on_plain_tcp_only() {
    let app = common::spawn().await;
    let d = domain(&app);
    let (mut s, _rx) = XmppSession::new(
        app.app.clone(),
        Transport::Tcp {
            tls: false,
            tls_available: true,
        },
        Some("127.0.0.1".into()),
    );
    let open = s.open_stream(Some(&d)).unwrap();
    assert!(open.features.find_ns("starttls", ns::TLS).is_some());
    assert_eq!(open.from, d);
    let out = s
        .handle(Element::new("starttls").attr("xmlns", ns::TLS))
        .await;
    assert!(matches!(&out[..], [Out::Stanza(p), Out::StartTls] if p.is("proceed", ns::TLS)));
    s.set_tls();
    let open2 = s.open_stream(Some(&d)).unwrap();
    assert!(open2.features.find_ns("starttls", ns::TLS).is_none());
    assert_ne!(open.id, open2.id);

    let (mut ws, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    let open = ws.open_stream(Some(&d)).unwrap();
    assert!(open.features.find_ns("starttls", ns::TLS).is_none());
    let out = ws
        .handle(Element::new("starttls").attr("xmlns", ns::TLS))
        .await;
    assert!(matches!(out.last(), Some(Out::Close)));
}

#[tokio::test]
async fn bind_iqs_and_conflict() {
    let app = common::spawn().await;
    let a = user(&app, "13800000011", "alice").await;
    let d = domain(&app);
    let mut first = connect(&app, &a, "web").await;

    // Generated resource.
    let mut other = connect_with(&app, &a, &md5_hex("secret"), None).await;
    assert!(other.jid.starts_with(&format!("{}@{d}/", a.id)));
    assert!(first.pushed().await.is_empty());

    // Legacy session, ping, disco, roster, unknown iq.
    let out = first
        .send(first.iq(
            "set",
            None,
            Element::new("session").attr("xmlns", ns::SESSION),
        ))
        .await;
    assert_eq!(stanzas(&out)[0].get_attr("type"), Some("result"));
    let ping = first.iq(
        "get",
        Some(&d),
        Element::new("ping").attr("xmlns", ns::PING),
    );
    let ping_id = ping.get_attr("id").unwrap().to_string();
    let out = first.send(ping).await;
    assert_eq!(stanzas(&out)[0].get_attr("type"), Some("result"));
    assert_eq!(stanzas(&out)[0].get_attr("id"), Some(ping_id.as_str()));
    let out = first
        .send(first.iq(
            "get",
            Some(&d),
            Element::new("query").attr("xmlns", ns::DISCO_INFO),
        ))
        .await;
    let q = stanzas(&out)[0].find("query").unwrap();
    let ident = q.find("identity").unwrap();
    assert_eq!(ident.get_attr("category"), Some("server"));
    assert_eq!(ident.get_attr("type"), Some("im"));
    let features: Vec<&str> = q.elements().filter_map(|f| f.get_attr("var")).collect();
    for f in [ns::PING, ns::RECEIPTS, ns::MUC, ns::DISCO_INFO] {
        assert!(features.contains(&f), "{features:?}");
    }
    let out = first
        .send(first.iq(
            "get",
            Some(&muc_domain(&app)),
            Element::new("query").attr("xmlns", ns::DISCO_INFO),
        ))
        .await;
    let ident = stanzas(&out)[0]
        .find("query")
        .unwrap()
        .find("identity")
        .unwrap();
    assert_eq!(ident.get_attr("category"), Some("conference"));
    assert_eq!(ident.get_attr("type"), Some("text"));
    let out = first
        .send(first.iq(
            "get",
            Some(&d),
            Element::new("query").attr("xmlns", ns::DISCO_ITEMS),
        ))
        .await;
    let items = stanzas(&out)[0].find("query").unwrap();
    assert_eq!(
        items.find("item").unwrap().get_attr("jid"),
        Some(muc_domain(&app).as_str())
    );
    let out = first
        .send(first.iq("get", None, Element::new("query").attr("xmlns", ns::ROSTER)))
        .await;
    let roster = stanzas(&out)[0].find_ns("query", ns::ROSTER).unwrap();
    assert_eq!(roster.elements().count(), 0);
    let out = first
        .send(first.iq(
            "get",
            Some(&d),
            Element::new("vCard").attr("xmlns", "vcard-temp"),
        ))
        .await;
    assert_eq!(stanzas(&out)[0].get_attr("type"), Some("error"));
    assert_eq!(
        error_condition(stanzas(&out)[0]).as_deref(),
        Some("service-unavailable")
    );
    // Results from the client are ignored.
    let out = first
        .send(Element::new("iq").attr("type", "result").attr("id", "x"))
        .await;
    assert!(out.is_empty());

    // A second login on the same resource replaces the first.
    let mut second = connect(&app, &a, "web").await;
    let out = first.pushed().await;
    assert!(
        matches!(&out[..], [Out::Error(e)] if e.condition == "conflict"
            && e.text.as_deref() == Some("Replaced by new connection")),
        "{out:?}"
    );
    first.s.closed().await;
    first.s.closed().await; // idempotent
    assert!(other.pushed().await.is_empty());
    let mut resources = app.app.router.local_resources(a.id);
    resources.sort();
    assert_eq!(resources.len(), 2, "{resources:?}");
    assert!(resources.contains(&"web".to_string()));
    second.s.closed().await;
    other.s.closed().await;
    assert!(!app.app.router.is_local(a.id));
}

#[tokio::test]
async fn single_device_users_keep_one_session() {
    let app = common::spawn().await;
    let a = user(&app, "13800000021", "alice").await;
    app.app
        .store
        .users
        .update_user(a.id, &Patch::new().set("settings.multipleDevices", 0))
        .await
        .unwrap();
    let mut phone = connect(&app, &a, "android").await;
    let _web = connect(&app, &a, "web").await;
    let out = phone.pushed().await;
    assert_eq!(stream_error(&out), Some("conflict"));
    assert_eq!(
        app.app.router.local_resources(a.id),
        vec!["web".to_string()]
    );
}

#[tokio::test]
async fn chat_both_ways_with_receipts_and_history() {
    let app = common::spawn().await;
    let a = user(&app, "13800000031", "alice").await;
    let b = user(&app, "13800000032", "bob").await;
    let d = domain(&app);
    let mut ca = connect(&app, &a, "web").await;
    let mut cb = connect(&app, &b, "web").await;
    ca.presence().await;
    cb.presence().await;

    let m = ca.chat(&app, b.id, "msg-ab-1", "hello bob");
    let out = ca.send(m).await;
    let r = receipt(&out, "msg-ab-1").expect("receipt to the sender");
    assert_eq!(r.get_attr("from"), Some(d.as_str()));
    assert_eq!(r.get_attr("to"), Some(ca.jid.as_str()));
    // Stored before the receipt: both copies are in history.
    let copy = app
        .app
        .store
        .messages
        .find_copy(b.id, "msg-ab-1")
        .await
        .unwrap();
    assert!(copy.is_some());
    assert!(app
        .app
        .store
        .messages
        .find_copy(a.id, "msg-ab-1")
        .await
        .unwrap()
        .is_some());

    let out = cb.pushed().await;
    let got = messages_of(&out, "chat");
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(
        got[0].get_attr("from"),
        Some(format!("{}@{d}/web", a.id).as_str())
    );
    assert_eq!(got[0].get_attr("to"), Some(cb.jid.as_str()));
    assert_eq!(got[0].get_attr("id"), Some("msg-ab-1"));
    assert!(got[0].find("delay").is_none());
    let body = body_json(got[0]);
    assert_eq!(body["content"], "hello bob");
    assert_eq!(body["fromUserId"], a.id.to_string());
    assert!(ca.pushed().await.is_empty());

    // The other way, with the messageId taken from the stanza id.
    let m = Element::new("message")
        .attr("to", format!("{}@{d}", a.id))
        .attr("type", "chat")
        .attr("id", "msg-ba-1")
        .child(Element::new("body").text(r#"{"type":1,"content":"hi alice"}"#));
    let out = cb.send(m).await;
    assert!(receipt(&out, "msg-ba-1").is_some(), "{out:?}");
    let got = ca.pushed().await;
    let got = messages_of(&got, "chat");
    assert_eq!(body_json(got[0])["messageId"], "msg-ba-1");

    // A resend of the same id is acknowledged again and not stored twice.
    let out = ca.send(ca.chat(&app, b.id, "msg-ab-1", "hello bob")).await;
    assert!(receipt(&out, "msg-ab-1").is_some());
    assert!(cb.pushed().await.is_empty());

    // Bodies that are not JSON objects, chat states without a body.
    let bad = Element::new("message")
        .attr("to", format!("{}@{d}", b.id))
        .attr("type", "chat")
        .attr("id", "bad1")
        .child(Element::new("body").text("plain text"));
    let out = ca.send(bad).await;
    let e = stanzas(&out)[0];
    assert_eq!(e.get_attr("type"), Some("error"));
    assert_eq!(e.get_attr("id"), Some("bad1"));
    assert_eq!(error_condition(e).as_deref(), Some("bad-request"));
    let state = Element::new("message")
        .attr("to", format!("{}@{d}", b.id))
        .attr("type", "chat")
        .child(Element::new("composing").attr("xmlns", "http://jabber.org/protocol/chatstates"));
    assert!(ca.send(state).await.is_empty());
    // An unknown user.
    let out = ca.send(ca.chat(&app, 99_999_999, "nobody1", "x")).await;
    assert_eq!(
        error_condition(stanzas(&out)[0]).as_deref(),
        Some("item-not-found")
    );
    assert!(receipt(&out, "nobody1").is_none());
}

#[tokio::test]
async fn blacklisted_sender_gets_an_error_and_no_receipt() {
    let app = common::spawn().await;
    let a = user(&app, "13800000041", "alice").await;
    let b = user(&app, "13800000042", "bob").await;
    let v = app
        .get(
            "/friends/blacklist/add",
            &[("access_token", &b.token), ("toUserId", &a.id.to_string())],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let mut ca = connect(&app, &a, "web").await;
    let mut cb = connect(&app, &b, "web").await;
    cb.presence().await;
    let out = ca.send(ca.chat(&app, b.id, "blocked-1", "hello?")).await;
    assert!(receipt(&out, "blocked-1").is_none(), "{out:?}");
    let e = stanzas(&out)[0];
    assert_eq!(e.get_attr("type"), Some("error"));
    assert_eq!(e.get_attr("id"), Some("blocked-1"));
    assert_eq!(error_condition(e).as_deref(), Some("forbidden"));
    assert_eq!(error_text(e), "你已被对方拉黑，消息发送失败");
    assert!(cb.pushed().await.is_empty());
    assert!(app
        .app
        .store
        .messages
        .find_copy(b.id, "blocked-1")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn offline_messages_arrive_in_order_with_delay_then_leave_the_queue() {
    let app = common::spawn().await;
    let a = user(&app, "13800000051", "alice").await;
    let b = user(&app, "13800000052", "bob").await;
    let mut ca = connect(&app, &a, "web").await;
    for i in 1..=3 {
        let id = format!("off-{i}");
        let out = ca.send(ca.chat(&app, b.id, &id, &format!("n{i}"))).await;
        assert!(receipt(&out, &id).is_some());
    }
    assert_eq!(
        messages::offline_queue(&app.app, b.id, 10)
            .await
            .unwrap()
            .len(),
        3
    );

    let mut cb = connect(&app, &b, "web").await;
    // Nothing before the first presence.
    assert!(cb.pushed().await.is_empty());
    let mut out = cb.presence().await;
    // The batch leaves the queue once written: the session's reminder comes after the write.
    out.extend(cb.pushed().await);
    let got = messages_of(&out, "chat");
    let ids: Vec<&str> = got.iter().filter_map(|m| m.get_attr("id")).collect();
    assert_eq!(ids, ["off-1", "off-2", "off-3"]);
    for m in &got {
        let delay = m.find_ns("delay", ns::DELAY).expect("delay stamp");
        assert_eq!(delay.get_attr("from"), Some(domain(&app).as_str()));
        let stamp = delay.get_attr("stamp").unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z'),
            "{stamp}"
        );
        assert_eq!(stamp.len(), "2026-01-01T00:00:00.000Z".len());
    }
    assert!(messages::offline_queue(&app.app, b.id, 10)
        .await
        .unwrap()
        .is_empty());

    // Online now, in the REST view too; offline again when the last resource goes.
    let v = app
        .get(
            "/user/getOnLine",
            &[("access_token", &a.token), ("userId", &b.id.to_string())],
        )
        .await;
    assert_eq!(v["data"], 1, "{v}");
    let log = app
        .app
        .store
        .users
        .get_login_log(b.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.device_map.get("web").map(|d| d.online), Some(1));
    cb.s.closed().await;
    let u = app.app.store.users.get_user(b.id).await.unwrap().unwrap();
    assert_eq!(u.onlinestate, 0);
    let log = app
        .app
        .store
        .users
        .get_login_log(b.id)
        .await
        .unwrap()
        .unwrap();
    assert!(log.login_log.offline_time > 0);
    assert_eq!(log.device_map.get("web").map(|d| d.online), Some(0));
}

#[tokio::test]
async fn shiku_ack_keeps_unacked_messages_for_the_next_login() {
    let app = common::spawn().await;
    let a = user(&app, "13800000061", "alice").await;
    let b = user(&app, "13800000062", "bob").await;
    let mut ca = connect(&app, &a, "web").await;

    // One message waits offline before bob connects with shiku-ack.
    ca.send(ca.chat(&app, b.id, "ack-0", "queued")).await;
    let mut cb = connect(&app, &b, "web").await;
    cb.enable_ack(&app).await;
    let out = cb.presence().await;
    assert_eq!(messages_of(&out, "chat")[0].get_attr("id"), Some("ack-0"));
    // Handed out, but not acked yet: still queued.
    assert_eq!(
        messages::offline_queue(&app.app, b.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    cb.ack(&app, "ack-0,").await;
    assert!(messages::offline_queue(&app.app, b.id, 10)
        .await
        .unwrap()
        .is_empty());

    // Two live messages; only the first is acked before the connection drops.
    ca.send(ca.chat(&app, b.id, "ack-1", "one")).await;
    ca.send(ca.chat(&app, b.id, "ack-2", "two")).await;
    let out = cb.pushed().await;
    assert_eq!(messages_of(&out, "chat").len(), 2);
    let out = cb.ack(&app, "ack-1,").await;
    assert_eq!(stanzas(&out)[0].get_attr("type"), Some("result"));
    cb.s.closed().await;
    let queued = messages::offline_queue(&app.app, b.id, 10).await.unwrap();
    let ids: Vec<&str> = queued.iter().map(|(_, d)| d.message_id.as_str()).collect();
    assert_eq!(ids, ["ack-2"]);

    // The next login gets it again, marked delayed; history holds it once.
    let mut cb = connect(&app, &b, "web").await;
    let out = cb.presence().await;
    let got = messages_of(&out, "chat");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].get_attr("id"), Some("ack-2"));
    assert!(got[0].find_ns("delay", ns::DELAY).is_some());
    let hist = app
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", &b.token),
                ("receiver", &a.id.to_string()),
                ("pageSize", "100"),
            ],
        )
        .await;
    let rows = hist["data"].as_array().cloned().unwrap_or_default();
    let twos = rows.iter().filter(|r| r["messageId"] == "ack-2").count();
    assert_eq!(twos, 1, "{hist}");
}

#[tokio::test]
async fn multi_device_delivery() {
    let app = common::spawn().await;
    let a = user(&app, "13800000071", "alice").await;
    let b = user(&app, "13800000072", "bob").await;
    let d = domain(&app);
    let mut a_web = connect(&app, &a, "web").await;
    let mut a_phone = connect(&app, &a, "android").await;
    let mut b_web = connect(&app, &b, "web").await;
    let mut b_phone = connect(&app, &b, "ios").await;
    for c in [&mut a_web, &mut a_phone, &mut b_web, &mut b_phone] {
        c.presence().await;
    }
    let out = a_web.send(a_web.chat(&app, b.id, "md-1", "to all")).await;
    assert!(receipt(&out, "md-1").is_some());
    for c in [&mut b_web, &mut b_phone] {
        let out = c.pushed().await;
        let got = messages_of(&out, "chat");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].get_attr("to"), Some(c.jid.as_str()));
    }
    // The sender's other device sees what it sent, addressed to the peer.
    let out = a_phone.pushed().await;
    let got = messages_of(&out, "chat");
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].get_attr("from"),
        Some(format!("{}@{d}/web", a.id).as_str())
    );
    assert_eq!(
        got[0].get_attr("to"),
        Some(format!("{}@{d}", b.id).as_str())
    );
    assert!(a_web.pushed().await.is_empty());

    // One device leaving keeps the user online.
    b_phone.s.closed().await;
    let u = app.app.store.users.get_user(b.id).await.unwrap().unwrap();
    assert_eq!(u.onlinestate, 1);
    b_web.s.closed().await;
    let u = app.app.store.users.get_user(b.id).await.unwrap().unwrap();
    assert_eq!(u.onlinestate, 0);
}

#[tokio::test]
async fn server_notices_come_from_the_system_user() {
    let app = common::spawn().await;
    let a = user(&app, "13800000081", "alice").await;
    let d = domain(&app);
    let mut ca = connect(&app, &a, "web").await;
    ca.presence().await;
    let notice = messages::Notice {
        msg_type: 1,
        content: json!("hello from the console"),
        ..Default::default()
    };
    let sent = messages::notify_user(&app.app, a.id, &notice)
        .await
        .unwrap();
    let out = ca.pushed().await;
    let got = messages_of(&out, "chat");
    assert_eq!(
        got[0].get_attr("from"),
        Some(format!("10005@{d}/Server").as_str())
    );
    assert_eq!(got[0].get_attr("id"), Some(sent.message_id.as_str()));
}

#[tokio::test]
async fn room_creation_join_history_and_groupchat() {
    let app = common::spawn().await;
    let a = user(&app, "13800000091", "alice").await;
    let b = user(&app, "13800000092", "bob").await;
    let c = user(&app, "13800000093", "carol").await;
    let x = user(&app, "13800000094", "xavier").await;
    let muc = muc_domain(&app);
    let mut ca = connect(&app, &a, "web").await;
    ca.presence().await;

    // The creation handshake the client runs before /room/add.
    let jid = uuid32();
    let out = ca.join(&app, &jid, Some("0")).await;
    let p = stanzas(&out)[0];
    assert_eq!(p.local_name(), "presence");
    assert_eq!(
        p.get_attr("from"),
        Some(format!("{jid}@{muc}/{}", a.id).as_str())
    );
    let codes: Vec<&str> = p
        .find_ns("x", ns::MUC_USER)
        .unwrap()
        .elements()
        .filter_map(|s| s.get_attr("code"))
        .collect();
    assert_eq!(codes, ["110", "201"]);
    let room_jid = format!("{jid}@{muc}");
    let out = ca
        .send(ca.iq(
            "get",
            Some(&room_jid),
            Element::new("query").attr("xmlns", ns::MUC_OWNER),
        ))
        .await;
    let form = stanzas(&out)[0]
        .find_ns("query", ns::MUC_OWNER)
        .and_then(|q| q.find_ns("x", ns::DATA))
        .expect("form");
    assert_eq!(form.get_attr("type"), Some("form"));
    let submit = Element::new("query").attr("xmlns", ns::MUC_OWNER).child(
        Element::new("x")
            .attr("xmlns", ns::DATA)
            .attr("type", "submit")
            .child(
                Element::new("field")
                    .attr("var", "muc#roomconfig_roomname")
                    .child(Element::new("value").text("群")),
            ),
    );
    let out = ca.send(ca.iq("set", Some(&room_jid), submit.clone())).await;
    assert_eq!(stanzas(&out)[0].get_attr("type"), Some("result"));
    // Someone else cannot configure it.
    let mut cx = connect(&app, &x, "web").await;
    let out = cx.send(cx.iq("set", Some(&room_jid), submit)).await;
    assert_eq!(
        error_condition(stanzas(&out)[0]).as_deref(),
        Some("forbidden")
    );

    let (room_id, _) = room_with_jid(&app, &a, &[&b, &c], &jid).await;

    // Alice speaks: reflected to her, receipt, delivered to online members.
    let mut cb = connect(&app, &b, "web").await;
    cb.presence().await;
    cb.pushed().await;
    let out = ca.send(ca.groupchat(&app, &jid, "g-1", "hi all")).await;
    let reflected = messages_of(&out, "groupchat");
    assert_eq!(reflected.len(), 1, "{out:?}");
    assert_eq!(
        reflected[0].get_attr("from"),
        Some(format!("{room_jid}/{}", a.id).as_str())
    );
    assert_eq!(reflected[0].get_attr("id"), Some("g-1"));
    assert!(receipt(&out, "g-1").is_some());
    let out = cb.pushed().await;
    let got = messages_of(&out, "groupchat");
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(
        got[0].get_attr("from"),
        Some(format!("{room_jid}/{}", a.id).as_str())
    );
    assert_eq!(body_json(got[0])["content"], "hi all");
    // Bob got it live before joining: his join history does not repeat it.
    let out = cb.join(&app, &jid, Some("3600")).await;
    let ids: Vec<&str> = messages_of(&out, "groupchat")
        .iter()
        .filter_map(|m| m.get_attr("id"))
        .collect();
    assert!(!ids.contains(&"g-1"), "{ids:?}");

    // Carol joins later with history: the stored message, delayed, oldest first.
    let mut cc = connect(&app, &c, "web").await;
    cc.presence().await;
    cc.pushed().await;
    let out = cc.join(&app, &jid, Some("3600")).await;
    let st = stanzas(&out);
    assert_eq!(st[0].local_name(), "presence");
    let item = st[0]
        .find_ns("x", ns::MUC_USER)
        .unwrap()
        .find("item")
        .unwrap();
    assert_eq!(item.get_attr("affiliation"), Some("member"));
    assert_eq!(item.get_attr("role"), Some("participant"));
    let hist = messages_of(&out, "groupchat");
    let ids: Vec<&str> = hist.iter().filter_map(|m| m.get_attr("id")).collect();
    assert!(ids.contains(&"g-1"), "{ids:?}");
    assert_eq!(ids.last(), Some(&"g-1"));
    let g1 = hist
        .iter()
        .find(|m| m.get_attr("id") == Some("g-1"))
        .unwrap();
    assert_eq!(
        g1.get_attr("from"),
        Some(format!("{room_jid}/{}", a.id).as_str())
    );
    assert!(g1.find_ns("delay", ns::DELAY).is_some());
    // No history asked: only the self presence.
    let out = cc.join(&app, &jid, Some("0")).await;
    assert_eq!(stanzas(&out).len(), 1);
    // Leaving.
    let out = cc
        .send(
            Element::new("presence")
                .attr("type", "unavailable")
                .attr("to", format!("{room_jid}/{}", c.id)),
        )
        .await;
    let p = stanzas(&out)[0];
    assert_eq!(p.get_attr("type"), Some("unavailable"));
    let codes: Vec<&str> = p
        .find_ns("x", ns::MUC_USER)
        .unwrap()
        .elements()
        .filter_map(|s| s.get_attr("code"))
        .collect();
    assert_eq!(codes, ["110"]);

    // Not a member: join refused, sending refused.
    let out = cx.join(&app, &jid, Some("0")).await;
    let e = stanzas(&out)[0];
    assert_eq!(e.get_attr("type"), Some("error"));
    assert_eq!(error_condition(e).as_deref(), Some("registration-required"));
    assert!(!error_text(e).is_empty());
    let out = cx.send(cx.groupchat(&app, &jid, "x-1", "let me in")).await;
    assert_eq!(
        error_condition(stanzas(&out)[0]).as_deref(),
        Some("forbidden")
    );
    assert!(receipt(&out, "x-1").is_none());

    // Muted member: refused with the Shiku text, nothing delivered.
    let v = app
        .get(
            "/room/member/update",
            &[
                ("access_token", &a.token),
                ("roomId", &room_id),
                ("userId", &b.id.to_string()),
                ("talkTime", "4102444800"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    ca.pushed().await;
    cc.pushed().await;
    let out = cb.send(cb.groupchat(&app, &jid, "muted-1", "can I?")).await;
    let e = stanzas(&out)[0];
    assert_eq!(e.get_attr("type"), Some("error"));
    assert_eq!(error_condition(e).as_deref(), Some("forbidden"));
    assert_eq!(error_text(e), "你已被禁言");
    assert!(receipt(&out, "muted-1").is_none());
    assert!(messages_of(&ca.pushed().await, "groupchat").is_empty());
}

#[tokio::test]
async fn messages_before_bind_are_refused() {
    let app = common::spawn().await;
    let a = user(&app, "13800000101", "alice").await;
    let (mut s, _rx) = XmppSession::new(app.app.clone(), Transport::WebSocket, None);
    s.open_stream(None).unwrap();
    s.handle(plain(&a.id.to_string(), &md5_hex("secret"))).await;
    let out = s
        .handle(
            Element::new("message")
                .attr("to", "1@x")
                .child(Element::new("body").text("{}")),
        )
        .await;
    assert_eq!(stream_error(&out), Some("not-authorized"));
    s.closed().await;
    assert!(!app.app.router.is_local(a.id));
    // A room created on another path gets the same owner-only refusal for non-owners.
    let b = user(&app, "13800000102", "bob").await;
    let (_, jid) = room(&app, &a, &[&b]).await;
    let mut cb = connect(&app, &b, "web").await;
    let out = cb
        .send(cb.iq(
            "get",
            Some(&format!("{jid}@{}", muc_domain(&app))),
            Element::new("query").attr("xmlns", ns::MUC_OWNER),
        ))
        .await;
    assert_eq!(
        error_condition(stanzas(&out)[0]).as_deref(),
        Some("forbidden")
    );
}

#[tokio::test]
async fn pushes_never_written_go_back_to_the_queue() {
    let app = common::spawn().await;
    let a = user(&app, "13800000111", "alice").await;
    let b = user(&app, "13800000112", "bob").await;
    let d = domain(&app);
    let mut ca = connect(&app, &a, "web").await;

    // Strophe's PLAIN carries the bare JID as authzid.
    let (mut s, mut rx) = XmppSession::new(app.app.clone(), Transport::Bosh, None);
    s.open_stream(Some(&d)).unwrap();
    let raw = format!("{}@{d}\0{}\0{}", b.id, b.id, md5_hex("secret"));
    let auth = Element::new("auth")
        .attr("xmlns", ns::SASL)
        .attr("mechanism", "PLAIN")
        .text(base64::engine::general_purpose::STANDARD.encode(raw));
    assert!(matches!(s.handle(auth).await.last(), Some(Out::Restart)));
    s.open_stream(Some(&d)).unwrap();
    let bind = Element::new("iq")
        .attr("type", "set")
        .attr("id", "b")
        .child(
            Element::new("bind")
                .attr("xmlns", ns::BIND)
                .child(Element::new("resource").text("web")),
        );
    s.handle(bind).await;
    s.handle(Element::new("presence")).await;

    // Routed to bob's channel, but the connection ends before the transport wrote it.
    let out = ca.send(ca.chat(&app, b.id, "lost-1", "still there?")).await;
    assert!(receipt(&out, "lost-1").is_some());
    assert!(messages::offline_queue(&app.app, b.id, 10)
        .await
        .unwrap()
        .is_empty());
    s.closed_with(&mut rx).await;
    let queued = messages::offline_queue(&app.app, b.id, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].1.message_id, "lost-1");
    assert!(queued[0].1.offline);
}

#[tokio::test]
async fn offline_queue_is_flushed_in_batches() {
    let app = common::spawn_with(|c| c.xmpp.offline_batch = 2).await;
    let a = user(&app, "13800000121", "alice").await;
    let b = user(&app, "13800000122", "bob").await;
    let mut ca = connect(&app, &a, "web").await;
    for i in 1..=5 {
        ca.send(ca.chat(&app, b.id, &format!("batch-{i}"), "x"))
            .await;
    }
    // Without shiku-ack: one batch per step, each leaving the queue only after it was
    // written (the session's reminder follows the write), until the queue is empty.
    let mut cb = connect(&app, &b, "web").await;
    let out = cb.presence().await;
    let first: Vec<&str> = messages_of(&out, "chat")
        .iter()
        .filter_map(|m| m.get_attr("id"))
        .collect();
    assert_eq!(first, ["batch-1", "batch-2"]);
    assert_eq!(
        messages::offline_queue(&app.app, b.id, 10)
            .await
            .unwrap()
            .len(),
        5
    );
    let rest = cb.pushed().await;
    let ids: Vec<&str> = messages_of(&rest, "chat")
        .iter()
        .filter_map(|m| m.get_attr("id"))
        .collect();
    assert_eq!(ids, ["batch-3", "batch-4", "batch-5"]);
    assert!(messages::offline_queue(&app.app, b.id, 10)
        .await
        .unwrap()
        .is_empty());
    cb.s.closed().await;

    // With shiku-ack: one batch, the next after the acks; an out-of-order ack keeps the gap.
    for i in 6..=10 {
        ca.send(ca.chat(&app, b.id, &format!("batch-{i}"), "x"))
            .await;
    }
    let mut cb = connect(&app, &b, "web").await;
    cb.enable_ack(&app).await;
    let ids = |out: &[Out]| -> Vec<String> {
        messages_of(out, "chat")
            .iter()
            .filter_map(|m| m.get_attr("id").map(str::to_string))
            .collect()
    };
    let out = cb.presence().await;
    assert_eq!(ids(&out), ["batch-6", "batch-7"]);
    // Acking only the second removes nothing (the first is still missing).
    let out = cb.ack(&app, "batch-7,").await;
    assert!(ids(&out).is_empty());
    assert_eq!(
        messages::offline_queue(&app.app, b.id, 10)
            .await
            .unwrap()
            .len(),
        5
    );
    let out = cb.ack(&app, "batch-6,").await;
    assert_eq!(ids(&out), ["batch-8", "batch-9"]);
    assert_eq!(
        messages::offline_queue(&app.app, b.id, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    let out = cb.ack(&app, "batch-8,batch-9,").await;
    assert_eq!(ids(&out), ["batch-10"]);
    let out = cb.ack(&app, "batch-10,").await;
    assert!(ids(&out).is_empty());
    assert!(messages::offline_queue(&app.app, b.id, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn legacy_md5_rows_log_in_and_are_upgraded() {
    let app = common::spawn().await;
    let a = user(&app, "13800000131", "alice").await;
    // An imported Shiku row holds the bare md5.
    app.app
        .store
        .users
        .update_user(a.id, &Patch::new().set("password", md5_hex("secret")))
        .await
        .unwrap();
    let c = connect(&app, &a, "web").await;
    assert!(c.jid.ends_with("/web"));
    let u = app.app.store.users.get_user(a.id).await.unwrap().unwrap();
    assert!(u.password.starts_with("$argon2"), "{}", u.password);
    // And the upgraded hash keeps working.
    connect(&app, &a, "android").await;
}
