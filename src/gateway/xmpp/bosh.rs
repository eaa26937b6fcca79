//! BOSH (XEP-0124, XMPP over BOSH XEP-0206), which the stock Strophe web client uses.
//!
//! Every BOSH session is a task owning its [`XmppSession`]; HTTP handlers find it by `sid` in
//! a concurrent map and hand it each request through a channel, with a oneshot for the answer.
//! The task orders requests by `rid`, holds up to `hold` of them for long-polling (answered when
//! stanzas arrive or after `wait` with an empty body), caches recent answers for repeated rids
//! and ends the session after `inactivity` seconds without a pending request. No lock is held
//! across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::session::XmppSession;
use super::xml::{self, Element};
use super::{ns, Out, StreamError, Transport};
use crate::delivery::PushReceiver;
use crate::domain::Ctx;
use crate::gateway::ws;

/// The BOSH protocol version this connection manager speaks.
const BOSH_VERSION: &str = "1.6";
/// The most requests a client may ask the server to hold (Strophe asks for 1).
const MAX_HOLD: u64 = 2;

/// The live BOSH sessions of this node, by `sid`.
#[derive(Default)]
pub struct BoshSessions {
    sessions: RwLock<HashMap<String, mpsc::UnboundedSender<Request>>>,
}

impl BoshSessions {
    /// An empty table.
    pub fn new() -> Arc<BoshSessions> {
        Arc::new(BoshSessions::default())
    }

    /// How many BOSH sessions are live.
    pub fn len(&self) -> usize {
        self.sessions.read().expect("bosh table").len()
    }

    /// Whether no BOSH session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, sid: &str) -> Option<mpsc::UnboundedSender<Request>> {
        self.sessions.read().expect("bosh table").get(sid).cloned()
    }

    fn insert(&self, sid: String, tx: mpsc::UnboundedSender<Request>) {
        self.sessions.write().expect("bosh table").insert(sid, tx);
    }

    fn remove(&self, sid: &str) {
        self.sessions.write().expect("bosh table").remove(sid);
    }
}

/// One HTTP request handed to a session task.
struct Request {
    rid: u64,
    body: Element,
    reply: oneshot::Sender<String>,
}

/// HTTP handler for every BOSH path: `OPTIONS` pre-flights and `POST`ed `<body/>` wrappers.
pub async fn handler(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<Ctx>,
    table: web::Data<BoshSessions>,
) -> HttpResponse {
    if req.method() == Method::OPTIONS {
        return with_cors(HttpResponse::Ok()).finish();
    }
    if req.method() != Method::POST {
        return with_cors(HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED))
            .content_type("text/plain; charset=utf-8")
            .body(
                "BOSH (XEP-0124): POST a <body xmlns=\"http://jabber.org/protocol/httpbind\"/>\n",
            );
    }
    let ctx = ctx.into_inner();
    let limit = ctx.config.xmpp.max_stanza_bytes;
    let parsed = match read_body(payload, limit).await {
        Ok(bytes) => parse_body(&bytes, limit, ctx.config.xmpp.max_attributes),
        Err(condition) => Err(condition),
    };
    let (body, rid) = match parsed {
        Ok(b) => b,
        Err(condition) => return respond(terminate(condition, Vec::new()).to_xml()),
    };
    let table = table.into_inner();
    let Some(sid) = body.get_attr("sid").map(str::to_string) else {
        let peer_ip = ws::actix_client_ip(&req, &ctx.config.trusted_proxies);
        return respond(create(ctx, table, &body, rid, peer_ip));
    };
    let Some(tx) = table.get(&sid) else {
        return respond(terminate("item-not-found", Vec::new()).to_xml());
    };
    let (reply, answer) = oneshot::channel();
    if tx.send(Request { rid, body, reply }).is_err() {
        return respond(terminate("item-not-found", Vec::new()).to_xml());
    }
    match answer.await {
        Ok(text) => respond(text),
        // The session task ended without answering: it is gone.
        Err(_) => respond(terminate("item-not-found", Vec::new()).to_xml()),
    }
}

/// Reads the request body up to `limit` bytes, or the BOSH condition to end with.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, &'static str> {
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| "bad-request")?;
        if buf.len() + chunk.len() > limit {
            return Err("policy-violation");
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A request's `<body/>` wrapper and its `rid`, or the BOSH condition to terminate with.
pub fn parse_body(
    bytes: &[u8],
    max_bytes: usize,
    max_attributes: usize,
) -> Result<(Element, u64), &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "bad-request")?;
    let body = match xml::parse_fragment_with(text, max_bytes, max_attributes) {
        Ok(b) if b.is("body", ns::HTTPBIND) => b,
        Err(e) if e.condition == "policy-violation" => return Err("policy-violation"),
        Ok(_) | Err(_) => return Err("bad-request"),
    };
    let rid = body
        .get_attr("rid")
        .and_then(|r| r.trim().parse::<u64>().ok())
        .ok_or("bad-request")?;
    Ok((body, rid))
}

fn with_cors(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    ))
    .insert_header((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    ))
    .insert_header((
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-requested-with"),
    ))
    .insert_header((
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    ));
    b
}

/// A BOSH answer: always HTTP 200 so Strophe reads the `condition` of terminate bodies.
fn respond(xml: String) -> HttpResponse {
    with_cors(HttpResponse::Ok())
        .content_type("text/xml; charset=utf-8")
        .body(xml)
}

/// An empty `<body/>` wrapper.
fn wrapper() -> Element {
    Element::new("body")
        .attr("xmlns", ns::HTTPBIND)
        .attr("xmlns:stream", ns::STREAM)
}

/// A `<body type="terminate" condition=../>` carrying `children`.
fn terminate(condition: &str, children: Vec<Element>) -> Element {
    let mut b = wrapper()
        .attr("type", "terminate")
        .attr("condition", condition);
    for c in children {
        b.push(c);
    }
    b
}

/// A numeric attribute of the creation request, or its default.
fn num_attr(body: &Element, name: &str, default: u64) -> u64 {
    body.get_attr(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Creates a session (a request without `sid`): answers the session-creation response and
/// spawns the session task.
fn create(
    ctx: Arc<Ctx>,
    table: Arc<BoshSessions>,
    body: &Element,
    rid: u64,
    peer_ip: Option<String>,
) -> String {
    let cfg = &ctx.config.xmpp;
    let wait = num_attr(body, "wait", cfg.bosh_max_wait_secs).min(cfg.bosh_max_wait_secs);
    let hold = num_attr(body, "hold", 1).min(MAX_HOLD);
    let inactivity = cfg.bosh_inactivity_secs.max(1);
    let (mut session, push_rx) = XmppSession::new(ctx.clone(), Transport::Bosh, peer_ip);
    let open = match session.open_stream(body.get_attr("to")) {
        Ok(open) => open,
        Err(e) => {
            // No task was started: the session ends here, so it is closed here.
            let err = e.to_element();
            actix_web::rt::spawn(async move { session.closed().await });
            return terminate("remote-stream-error", vec![err]).to_xml();
        }
    };
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let response = wrapper()
        .attr("sid", sid.clone())
        .attr("wait", wait.to_string())
        .attr("requests", (hold + 1).to_string())
        .attr("hold", hold.to_string())
        .attr("inactivity", inactivity.to_string())
        .attr("polling", "1")
        .attr("ver", BOSH_VERSION)
        .attr("from", open.from)
        .attr("authid", open.id)
        .attr("xmlns:xmpp", ns::XBOSH)
        .attr("xmpp:version", "1.0")
        .attr("secure", "true")
        .child(open.features)
        .to_xml();
    let (tx, rx) = mpsc::unbounded_channel();
    table.insert(sid.clone(), tx);
    let mut cache = BTreeMap::new();
    cache.insert(rid, response.clone());
    let task = Task {
        sid,
        session,
        pushes: push_rx,
        table,
        wait: Duration::from_secs(wait),
        hold: hold as usize,
        window: hold + 1,
        inactivity: Duration::from_secs(inactivity),
        last_rid: rid,
        held: VecDeque::new(),
        ahead: BTreeMap::new(),
        cache,
        pending: Vec::new(),
        ended: None,
        closed: false,
        finished: false,
        idle_since: Instant::now(),
    };
    // The session's futures stay on this worker thread (they need not be `Send`).
    actix_web::rt::spawn(task.run(rx));
    response
}

/// A request held for long-polling.
struct Held {
    rid: u64,
    reply: oneshot::Sender<String>,
    deadline: Instant,
}

/// One BOSH session's state, owned by its task.
struct Task {
    sid: String,
    session: XmppSession,
    /// What the router pushes to the session (taken back into the queue when it closes).
    pushes: PushReceiver,
    table: Arc<BoshSessions>,
    wait: Duration,
    hold: usize,
    /// `requests`: how far ahead of the last processed rid a request may be.
    window: u64,
    inactivity: Duration,
    /// The highest rid processed in order.
    last_rid: u64,
    held: VecDeque<Held>,
    /// Requests whose rid is ahead of a missing one, waiting for it.
    ahead: BTreeMap<u64, Request>,
    /// Recent answers by rid, for clients that repeat a request.
    cache: BTreeMap<u64, String>,
    /// Stanzas for the client not yet sent.
    pending: Vec<Element>,
    /// The terminate body once the session is over but no request has carried it yet.
    ended: Option<String>,
    /// Whether `XmppSession::closed` was called.
    closed: bool,
    /// The task should stop.
    finished: bool,
    /// When the last pending request was answered.
    idle_since: Instant,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut pushes_open = true;
        while !self.finished {
            let held_deadline = self.held.front().map(|h| h.deadline);
            // Requests waiting for a missing rid do not keep the session alive on their own.
            let idle_deadline = self
                .held
                .is_empty()
                .then(|| self.idle_since + self.inactivity);
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => self.request(r).await,
                    None => break,
                },
                // Pushes are taken only while a request can carry them: until then they wait in the
                // session's byte-bounded queue, not here.
                p = self.pushes.recv(), if pushes_open && self.ended.is_none() && !self.held.is_empty() => match p {
                    Some(p) => {
                        let outs = self.session.push(p).await;
                        self.apply(outs).await;
                        self.flush();
                    }
                    None => pushes_open = false,
                },
                _ = tokio::time::sleep_until(held_deadline.unwrap_or(far)), if held_deadline.is_some() => {
                    // `wait` elapsed with nothing to send: an empty body.
                    if let Some(h) = self.held.pop_front() {
                        self.answer(h.rid, h.reply, wrapper().to_xml());
                    }
                }
                _ = tokio::time::sleep_until(idle_deadline.unwrap_or(far)), if idle_deadline.is_some() => {
                    tracing::debug!(sid = %self.sid, "BOSH session inactive, ending it");
                    if self.ahead.is_empty() {
                        self.close_session().await;
                        break;
                    }
                    // The request the waiting ones need never came.
                    self.end("item-not-found", Vec::new(), None).await;
                    self.finished = true;
                }
            }
        }
        self.close_session().await;
        self.table.remove(&self.sid);
    }

    /// Closes the session the one time, taking back what was pushed but never answered.
    async fn close_session(&mut self) {
        if !self.closed {
            self.closed = true;
            self.session.closed_with(&mut self.pushes).await;
        }
    }

    /// A request for this session arrived (any rid).
    async fn request(&mut self, r: Request) {
        if let Some(body) = &self.ended {
            // The session ended while no request was pending: this one carries the news.
            let _ = r.reply.send(body.clone());
            self.finished = true;
            return;
        }
        if r.rid <= self.last_rid {
            if let Some(cached) = self.cache.get(&r.rid) {
                let _ = r.reply.send(cached.clone());
                return;
            }
            if let Some(h) = self.held.iter_mut().find(|h| h.rid == r.rid) {
                // The client retried a request we still hold: answer the new connection.
                h.reply = r.reply;
                return;
            }
            return self.end("item-not-found", Vec::new(), Some(r.reply)).await;
        }
        if r.rid > self.last_rid + self.window {
            return self.end("item-not-found", Vec::new(), Some(r.reply)).await;
        }
        if r.rid != self.last_rid + 1 {
            // Ahead of a missing request: wait for it.
            self.ahead.insert(r.rid, r);
            return;
        }
        self.process(r).await;
        while !self.finished && self.ended.is_none() {
            let Some(next) = self.ahead.remove(&(self.last_rid + 1)) else {
                break;
            };
            self.process(next).await;
        }
    }

    /// Processes the next request in rid order.
    async fn process(&mut self, r: Request) {
        self.last_rid = r.rid;
        let body = r.body;
        self.held.push_back(Held {
            rid: r.rid,
            reply: r.reply,
            deadline: Instant::now() + self.wait,
        });
        if body.get_attr("xmpp:restart") == Some("true") {
            match self.session.open_stream(body.get_attr("to")) {
                Ok(open) => self.pending.push(open.features),
                Err(e) => {
                    let err = e.to_element();
                    return self.end("remote-stream-error", vec![err], None).await;
                }
            }
        }
        for child in body.elements() {
            let outs = self.session.handle(child.clone()).await;
            self.apply(outs).await;
            if self.ended.is_some() || self.finished {
                return;
            }
        }
        if body.get_attr("type") == Some("terminate") {
            // The client ended the session; its final stanzas were handled above.
            self.close_session().await;
            let mut b = wrapper().attr("type", "terminate");
            for s in self.pending.drain(..) {
                b.push(s);
            }
            let text = b.to_xml();
            self.answer_all(text, None);
            self.finished = true;
            return;
        }
        self.flush();
    }

    /// Applies what the core returned.
    async fn apply(&mut self, outs: Vec<Out>) {
        for out in outs {
            match out {
                Out::Stanza(e) => self.pending.push(e),
                // The client restarts with `xmpp:restart="true"` on its next request.
                Out::Restart => {}
                Out::StartTls => {
                    let e = StreamError::new(
                        "unsupported-feature",
                        "STARTTLS is not available over BOSH",
                    );
                    return self
                        .end("remote-stream-error", vec![e.to_element()], None)
                        .await;
                }
                Out::Error(e) => {
                    return self
                        .end("remote-stream-error", vec![e.to_element()], None)
                        .await;
                }
                Out::Close => {
                    self.close_session().await;
                    let mut b = wrapper().attr("type", "terminate");
                    for s in self.pending.drain(..) {
                        b.push(s);
                    }
                    return self.deliver_end(b.to_xml(), None);
                }
            }
        }
    }

    /// Ends the session server-side with `condition` (pending stanzas, then `extra`).
    async fn end(
        &mut self,
        condition: &str,
        extra: Vec<Element>,
        also: Option<oneshot::Sender<String>>,
    ) {
        tracing::debug!(sid = %self.sid, condition, "BOSH session terminated");
        self.close_session().await;
        let mut children: Vec<Element> = self.pending.drain(..).collect();
        children.extend(extra);
        let text = terminate(condition, children).to_xml();
        self.deliver_end(text, also);
    }

    /// Answers every waiting request with the final body; keeps it for the next request when
    /// none was waiting (so a kicked client still learns why).
    fn deliver_end(&mut self, text: String, also: Option<oneshot::Sender<String>>) {
        let seen = !self.held.is_empty() || !self.ahead.is_empty() || also.is_some();
        self.answer_all(text.clone(), also);
        if seen {
            self.finished = true;
        } else {
            self.ended = Some(text);
            self.idle_since = Instant::now();
        }
    }

    fn answer_all(&mut self, text: String, also: Option<oneshot::Sender<String>>) {
        while let Some(h) = self.held.pop_front() {
            self.answer(h.rid, h.reply, text.clone());
        }
        for (rid, r) in std::mem::take(&mut self.ahead) {
            self.answer(rid, r.reply, text.clone());
        }
        if let Some(reply) = also {
            let _ = reply.send(text);
        }
    }

    /// Sends pending stanzas on the oldest held requests, and releases requests beyond `hold`.
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            if let Some(h) = self.held.pop_front() {
                let mut b = wrapper();
                for s in self.pending.drain(..) {
                    b.push(s);
                }
                self.answer(h.rid, h.reply, b.to_xml());
            }
        }
        while self.held.len() > self.hold {
            if let Some(h) = self.held.pop_front() {
                self.answer(h.rid, h.reply, wrapper().to_xml());
            }
        }
    }

    /// Answers request `rid`, remembering the answer for a repeat of it.
    fn answer(&mut self, rid: u64, reply: oneshot::Sender<String>, text: String) {
        self.cache.insert(rid, text.clone());
        let oldest_kept = self.last_rid.saturating_sub(self.window);
        self.cache = self.cache.split_off(&oldest_kept.max(1));
        // A dropped receiver (client gone) is fine: the client may repeat the rid.
        let _ = reply.send(text);
        if self.held.is_empty() {
            self.idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_are_parsed_or_refused_with_a_condition() {
        let ok = format!(
            r#"<body xmlns="{}" rid=" 42 " sid="s"><presence/></body>"#,
            ns::HTTPBIND
        );
        let (body, rid) = parse_body(ok.as_bytes(), 1024, 64).expect("parses");
        assert_eq!((rid, body.get_attr("sid")), (42, Some("s")));
        assert_eq!(body.elements().count(), 1);
        let attrs: String = (0..65).map(|i| format!(" a{i}=''")).collect();
        for (bad, condition) in [
            (b"\xff<body/>".to_vec(), "bad-request"),
            (b"<body xmlns='wrong' rid='1'/>".to_vec(), "bad-request"),
            (
                format!("<body xmlns='{}' rid='x'/>", ns::HTTPBIND).into_bytes(),
                "bad-request",
            ),
            (
                format!("<body xmlns='{}'/>", ns::HTTPBIND).into_bytes(),
                "bad-request",
            ),
            (ok.repeat(100).into_bytes(), "policy-violation"),
            (
                format!("<body xmlns='{}' rid='1'{attrs}/>", ns::HTTPBIND).into_bytes(),
                "policy-violation",
            ),
        ] {
            assert_eq!(
                parse_body(&bad, 1024, 64).map(|_| ()),
                Err(condition),
                "{}",
                String::from_utf8_lossy(&bad)
            );
        }
    }
}
