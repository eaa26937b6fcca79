//! The XMPP protocol core, the same for every transport: stream features, SASL PLAIN, resource
//! binding, presence, 1:1 and group messages through `domain::messages::send`, receipts,
//! `xmpp:shiku:ack`, offline delivery, MUC as the Shiku clients use it.
//!
//! A session is owned by its transport's task (no lock is held across I/O); the router reaches
//! it through the [`Push`] channel returned by [`XmppSession::new`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value};

use super::muc::{self, HistoryRequest};
use super::xml::Element;
use super::{ns, Out, StreamError, StreamOpen, Transport};
use crate::delivery::{
    push_channel, ChatType, Delivery, Push, PushReceiver, PushSender, SessionId, Unacked,
};
use crate::domain::credentials;
use crate::domain::messages::{self, Outgoing, Target};
use crate::domain::presence::{self, Refusal};
use crate::domain::times::{self, TimeUnit};
use crate::domain::util::uuid32;
use crate::domain::{Code, Ctx, Error};

/// SASL failures allowed before the stream is closed.
const MAX_AUTH_FAILURES: u8 = 3;
/// Longest resource accepted (RFC 7622 allows 1023 bytes).
const MAX_RESOURCE: usize = 1023;
/// Live messages a shiku-ack client may leave unacknowledged before the session is ended
/// (they go back to the offline queue): bounds the memory a silent client can pin.
const MAX_UNACKED: usize = 5000;

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before SASL success.
    Connected,
    /// SASL succeeded; no resource bound yet.
    Authenticated,
    /// A resource is bound and registered with the router.
    Bound,
    /// `closed` ran.
    Closed,
}

/// An offline-queue item handed to the client that waits for its shiku-ack.
struct PendingOffline {
    seq: i64,
    message_id: String,
    acked: bool,
}

/// One client's XMPP session, from the first stream open to the end of the connection.
pub struct XmppSession {
    ctx: Arc<Ctx>,
    transport: Transport,
    peer_ip: Option<String>,
    tx: PushSender,
    stage: Stage,
    auth_failures: u8,
    /// SASL PLAIN without an initial response: the next `<response/>` carries it.
    awaiting_response: bool,
    user_id: i32,
    resource: String,
    session_id: Option<SessionId>,
    /// The first available presence was handled (the user is online, the queue flushed).
    available: bool,
    /// `xmpp:shiku:ack` enabled: deliveries wait for the client's batched acks.
    ack_enabled: bool,
    /// Live 1:1 deliveries to this user not yet acked (shiku-ack), in push order; requeued
    /// when the session ends.
    unacked: Unacked,
    /// Offline items written and waiting for acks (shiku-ack), in queue order.
    pending_offline: VecDeque<PendingOffline>,
    /// Highest offline `seq` handed to the client.
    offline_sent: i64,
    /// Without shiku-ack: the last `seq` of the batch being written, acked at the next step.
    offline_unwritten: Option<i64>,
    /// Room jids this session is creating (joined before they exist, awaiting `/room/add`).
    creating: HashSet<String>,
    /// Rooms this session joined (MUC presence).
    joined: HashSet<String>,
    /// Group messages pushed live for rooms not joined yet (every member session gets them,
    /// joined or not): the join's history leaves these out, so nothing arrives twice.
    live_unjoined: HashMap<String, VecDeque<String>>,
    /// The unit this client reads `timeSend` in: seconds (the jQuery client, the one XMPP web
    /// client) until the client's own messages show otherwise (`domain::times`).
    time_unit: TimeUnit,
}

/// Message ids remembered per unjoined room (the join history window the client asks for is
/// seconds; more than this many live messages in it is not a realistic join delay).
const LIVE_UNJOINED_PER_ROOM: usize = 256;
/// Unjoined rooms remembered at most.
const LIVE_UNJOINED_ROOMS: usize = 1024;
/// Rooms one session may have in creation at once (joined over XMPP, awaiting `/room/add`).
const MAX_CREATING: usize = 16;

/// A parsed JID.
struct Jid<'a> {
    local: Option<&'a str>,
    domain: &'a str,
    resource: Option<&'a str>,
}

fn parse_jid(s: &str) -> Option<Jid<'_>> {
    let (bare, resource) = match s.split_once('/') {
        Some((b, r)) if !r.is_empty() => (b, Some(r)),
        Some(_) => return None,
        None => (s, None),
    };
    let (local, domain) = match bare.split_once('@') {
        Some((l, d)) if !l.is_empty() => (Some(l), d),
        Some(_) => return None,
        None => (None, bare),
    };
    if domain.is_empty() {
        return None;
    }
    Some(Jid {
        local,
        domain,
        resource,
    })
}

/// The error `type` RFC 6120 8.3.2 gives each condition used here.
fn error_type(condition: &str) -> &'static str {
    match condition {
        "bad-request" | "not-acceptable" | "jid-malformed" => "modify",
        "forbidden" | "not-authorized" | "registration-required" => "auth",
        "internal-server-error" => "wait",
        _ => "cancel",
    }
}

/// `<error type=..><condition/><text/></error>`.
fn stanza_error(condition: &str, text: Option<&str>) -> Element {
    let mut e = Element::new("error")
        .attr("type", error_type(condition))
        .child(Element::new(condition).attr("xmlns", ns::STANZAS_ERR));
    if let Some(t) = text {
        e.push(Element::new("text").attr("xmlns", ns::STANZAS_ERR).text(t));
    }
    e
}

/// The stanza error a domain refusal becomes, with the Shiku `resultMsg` as its text.
fn domain_error(e: &Error) -> (&'static str, String) {
    let condition = match e {
        Error::Param { name, .. } if name == "body" => "not-acceptable",
        Error::Param { .. } | Error::TooLarge { .. } => "bad-request",
        Error::Code(Code::AccountNotExist) => "item-not-found",
        Error::Code(_) | Error::CodeMsg { .. } => "forbidden",
        // Shiku refusals are coded 0 with a text; the "does not exist" family is a missing item.
        Error::Failure(msg) if msg.contains("不存在") => "item-not-found",
        Error::Failure(_) => "forbidden",
        // RFC 6120 8.3.3.13: a temporary condition, retry later.
        Error::Busy | Error::TooManyAttempts { .. } => "resource-constraint",
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "message path failed");
            "internal-server-error"
        }
    };
    (condition, e.to_string())
}

/// An ISO-8601 UTC stamp with milliseconds (XEP-0082), for `urn:xmpp:delay`.
fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn delay(from: &str, ms: i64) -> Element {
    Element::new("delay")
        .attr("xmlns", ns::DELAY)
        .attr("from", from)
        .attr("stamp", stamp(ms))
}

/// The userId part of a delivery's `from` (`<userId>/<resource>`).
fn sender_of(from: &str) -> &str {
    from.split('/').next().unwrap_or(from)
}

impl XmppSession {
    /// A new session before any stream; what the router pushes to it arrives on the receiver.
    pub fn new(
        ctx: Arc<Ctx>,
        transport: Transport,
        peer_ip: Option<String>,
    ) -> (XmppSession, PushReceiver) {
        let (tx, rx) = push_channel(ctx.config.xmpp.session_queue_bytes);
        (
            XmppSession {
                ctx,
                transport,
                peer_ip,
                tx,
                stage: Stage::Connected,
                auth_failures: 0,
                awaiting_response: false,
                user_id: 0,
                resource: String::new(),
                session_id: None,
                available: false,
                ack_enabled: false,
                unacked: Unacked::default(),
                pending_offline: VecDeque::new(),
                offline_sent: 0,
                offline_unwritten: None,
                creating: HashSet::new(),
                joined: HashSet::new(),
                live_unjoined: HashMap::new(),
                time_unit: TimeUnit::Seconds,
            },
            rx,
        )
    }

    /// Whether this stream must STARTTLS before authenticating (`xmpp.require_tls` on a TCP
    /// stream that can still upgrade).
    fn tls_required(&self) -> bool {
        self.ctx.config.xmpp.require_tls
            && matches!(
                self.transport,
                Transport::Tcp {
                    tls: false,
                    tls_available: true
                }
            )
    }

    /// How long the transport waits for authentication (`xmpp.auth_timeout_secs`).
    pub fn auth_timeout_secs(&self) -> u64 {
        self.ctx.config.xmpp.auth_timeout_secs
    }

    /// STARTTLS completed on a TCP transport.
    pub fn set_tls(&mut self) {
        if let Transport::Tcp { tls, .. } = &mut self.transport {
            *tls = true;
        }
    }

    fn domain(&self) -> &str {
        &self.ctx.config.client.xmpp_domain
    }

    /// The authenticated userId (0 before SASL success).
    pub fn user_id(&self) -> i32 {
        self.user_id
    }

    /// Whether SASL succeeded.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.stage, Stage::Authenticated | Stage::Bound)
    }

    /// The client opened a stream (`to` = its `to` attribute): the header values and features
    /// for the current stage, or a stream error (`host-unknown`, ...).
    pub fn open_stream(&mut self, to: Option<&str>) -> Result<StreamOpen, StreamError> {
        let domain = self.domain().to_string();
        if let Some(to) = to.map(str::trim).filter(|t| !t.is_empty()) {
            let host = &self.ctx.config.client.xmpp_host;
            if !to.eq_ignore_ascii_case(&domain) && !to.eq_ignore_ascii_case(host) {
                return Err(StreamError::new(
                    "host-unknown",
                    format!("this server serves {domain}"),
                ));
            }
        }
        let mut features = Element::new("stream:features");
        match self.stage {
            Stage::Connected => {
                if let Transport::Tcp {
                    tls: false,
                    tls_available: true,
                } = self.transport
                {
                    let mut starttls = Element::new("starttls").attr("xmlns", ns::TLS);
                    if self.tls_required() {
                        starttls.push(Element::new("required"));
                    }
                    features.push(starttls);
                }
                // PLAIN carries the password: offered only where it cannot be read in transit.
                if !self.tls_required() {
                    features.push(
                        Element::new("mechanisms")
                            .attr("xmlns", ns::SASL)
                            .child(Element::new("mechanism").text("PLAIN")),
                    );
                }
            }
            Stage::Authenticated => {
                features.push(Element::new("bind").attr("xmlns", ns::BIND));
                features.push(
                    Element::new("session")
                        .attr("xmlns", ns::SESSION)
                        .child(Element::new("optional")),
                );
            }
            // A restart after binding offers nothing more.
            Stage::Bound => {}
            Stage::Closed => {
                return Err(StreamError::new("not-authorized", "session already ended"));
            }
        }
        Ok(StreamOpen {
            id: uuid32(),
            from: domain,
            features,
        })
    }

    /// Handles one top-level element from the client.
    pub async fn handle(&mut self, element: Element) -> Vec<Out> {
        match self.stage {
            Stage::Closed => vec![Out::Close],
            Stage::Connected => self.handle_unauthenticated(element).await,
            Stage::Authenticated | Stage::Bound => {
                if element.ns() == Some(ns::SASL) || element.ns() == Some(ns::TLS) {
                    return vec![Out::Error(StreamError::new(
                        "policy-violation",
                        "already authenticated",
                    ))];
                }
                match element.local_name() {
                    "iq" => self.handle_iq(element).await,
                    "message" | "presence" if self.stage != Stage::Bound => {
                        vec![Out::Error(StreamError::new(
                            "not-authorized",
                            "bind a resource first",
                        ))]
                    }
                    "message" => self.handle_message(element).await,
                    "presence" => self.handle_presence(element).await,
                    other => vec![Out::Error(StreamError::new(
                        "unsupported-stanza-type",
                        format!("<{other}/> is not a stanza"),
                    ))],
                }
            }
        }
    }

    // ---- before authentication ----------------------------------------------------------

    async fn handle_unauthenticated(&mut self, e: Element) -> Vec<Out> {
        if e.is("starttls", ns::TLS) {
            return match self.transport {
                Transport::Tcp {
                    tls: false,
                    tls_available: true,
                } => vec![
                    Out::Stanza(Element::new("proceed").attr("xmlns", ns::TLS)),
                    Out::StartTls,
                ],
                // RFC 6120 5.4.2.2: failure, then close.
                _ => vec![
                    Out::Stanza(Element::new("failure").attr("xmlns", ns::TLS)),
                    Out::Close,
                ],
            };
        }
        if e.ns() == Some(ns::SASL) && self.tls_required() {
            // RFC 6120 6.4.2: no SASL on a stream that must be encrypted first.
            return vec![
                Out::Stanza(
                    Element::new("failure")
                        .attr("xmlns", ns::SASL)
                        .child(Element::new("encryption-required")),
                ),
                Out::Close,
            ];
        }
        if e.ns() == Some(ns::SASL) {
            return match e.local_name() {
                "auth" => {
                    let mechanism = e.get_attr("mechanism").unwrap_or_default();
                    if mechanism != "PLAIN" {
                        return vec![self.sasl_failure("invalid-mechanism", None)];
                    }
                    let initial = e.text_content();
                    let initial = initial.trim();
                    if initial.is_empty() {
                        // No initial response: ask for it with an empty challenge.
                        self.awaiting_response = true;
                        return vec![Out::Stanza(
                            Element::new("challenge").attr("xmlns", ns::SASL),
                        )];
                    }
                    self.sasl_plain(initial).await
                }
                "response" if self.awaiting_response => {
                    self.awaiting_response = false;
                    let data = e.text_content();
                    self.sasl_plain(data.trim()).await
                }
                "abort" => {
                    self.awaiting_response = false;
                    vec![self.sasl_failure("aborted", None)]
                }
                other => vec![Out::Error(StreamError::new(
                    "not-authorized",
                    format!("unexpected SASL element <{other}/>"),
                ))],
            };
        }
        vec![Out::Error(StreamError::new(
            "not-authorized",
            "authenticate first",
        ))]
    }

    fn sasl_failure(&self, condition: &str, text: Option<&str>) -> Out {
        let mut f = Element::new("failure")
            .attr("xmlns", ns::SASL)
            .child(Element::new(condition));
        if let Some(t) = text {
            f.push(Element::new("text").attr("xml:lang", "en").text(t));
        }
        Out::Stanza(f)
    }

    /// A failed attempt: a SASL failure, and a stream error once the client used up its tries.
    fn auth_failed(&mut self, condition: &str, text: &str) -> Vec<Out> {
        self.auth_failures += 1;
        let mut out = vec![self.sasl_failure(condition, Some(text))];
        if self.auth_failures >= MAX_AUTH_FAILURES {
            out.push(Out::Error(StreamError::new(
                "not-authorized",
                "too many failed authentication attempts",
            )));
        }
        out
    }

    async fn sasl_plain(&mut self, data: &str) -> Vec<Out> {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(data) else {
            return self.auth_failed("incorrect-encoding", "invalid base64");
        };
        let Ok(text) = String::from_utf8(raw) else {
            return self.auth_failed("malformed-request", "credentials are not UTF-8");
        };
        let mut parts = text.split('\0');
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.auth_failed("malformed-request", "expected authzid\\0authcid\\0password");
        };
        let source = credentials::source(self.peer_ip.as_deref());
        let result = presence::authenticate(&self.ctx, authcid, password, source).await;
        let user_id = match result {
            Ok(Ok(uid)) => uid,
            Ok(Err(Refusal::Disabled)) => {
                return self.auth_failed("account-disabled", "account locked");
            }
            Ok(Err(Refusal::RetryLater(text))) => {
                // RFC 6120 6.5.12: a temporary condition; the client may retry later.
                return vec![self.sasl_failure("temporary-auth-failure", Some(&text))];
            }
            Ok(Err(Refusal::NotAuthorized(why))) => {
                tracing::debug!(authcid, ip = ?self.peer_ip, why, "XMPP login refused");
                return self.auth_failed("not-authorized", "wrong user or password");
            }
            Err(e) => {
                tracing::error!(error = %e, "XMPP login check failed");
                return vec![self.sasl_failure("temporary-auth-failure", None)];
            }
        };
        // An authzid may only name the same user (no proxy authorisation).
        if !authzid.is_empty() {
            // Strophe sends the bare JID, others the userId.
            let local = authzid.split(['@', '/']).next().unwrap_or_default();
            let same = local.parse::<i32>().ok() == Some(user_id);
            if !same {
                return self.auth_failed("invalid-authzid", "authzid must be yourself");
            }
        }
        self.user_id = user_id;
        self.stage = Stage::Authenticated;
        vec![
            Out::Stanza(Element::new("success").attr("xmlns", ns::SASL)),
            Out::Restart,
        ]
    }

    // ---- iq -------------------------------------------------------------------------------

    /// A stanza addressed back to this client, from `from` when given.
    fn reply(&self, name: &str, from: Option<&str>) -> Element {
        let mut e = Element::new(name).attr("xmlns", ns::CLIENT);
        if let Some(f) = from {
            e.set_attr("from", f);
        }
        if let Some(jid) = self.jid() {
            e.set_attr("to", jid);
        }
        e
    }

    fn iq_result(&self, iq: &Element) -> Element {
        let mut r = self.reply("iq", iq.get_attr("to")).attr("type", "result");
        if let Some(id) = iq.get_attr("id") {
            r.set_attr("id", id);
        }
        r
    }

    fn iq_error(&self, iq: &Element, condition: &str, text: Option<&str>) -> Out {
        let mut r = self.reply("iq", iq.get_attr("to")).attr("type", "error");
        if let Some(id) = iq.get_attr("id") {
            r.set_attr("id", id);
        }
        if let Some(first) = iq.elements().next() {
            r.push(first.clone());
        }
        r.push(stanza_error(condition, text));
        Out::Stanza(r)
    }

    /// Whether an iq `to` names this server (absent, the domain, or the user's own bare jid).
    fn to_server(&self, to: Option<&str>) -> bool {
        let Some(to) = to else { return true };
        match parse_jid(to) {
            Some(j) if j.domain.eq_ignore_ascii_case(self.domain()) => match j.local {
                None => true,
                Some(l) => j.resource.is_none() && l == self.user_id.to_string(),
            },
            _ => false,
        }
    }

    async fn handle_iq(&mut self, iq: Element) -> Vec<Out> {
        let kind = iq.get_attr("type").unwrap_or_default().to_string();
        if kind == "result" || kind == "error" {
            return Vec::new();
        }
        if kind != "get" && kind != "set" {
            return vec![self.iq_error(&iq, "bad-request", Some("iq type must be get or set"))];
        }
        if iq.get_attr("id").is_none() {
            return vec![self.iq_error(&iq, "bad-request", Some("iq without id"))];
        }
        let Some(child) = iq.elements().next().cloned() else {
            return vec![self.iq_error(&iq, "bad-request", Some("empty iq"))];
        };
        let child_ns = child.ns().unwrap_or_default();
        let set = kind == "set";
        if self.stage == Stage::Authenticated {
            return match (child.local_name(), child_ns, set) {
                ("bind", ns::BIND, true) => self.bind(&iq, &child).await,
                ("session", ns::SESSION, true) => vec![Out::Stanza(self.iq_result(&iq))],
                ("ping", ns::PING, false) => vec![Out::Stanza(self.iq_result(&iq))],
                _ => vec![Out::Error(StreamError::new(
                    "not-authorized",
                    "bind a resource first",
                ))],
            };
        }
        let to = iq.get_attr("to").map(str::to_string);
        let muc_domain = muc::service(self.domain());
        // Room-level requests: the creation handshake and room disco.
        if let Some(j) = to.as_deref().and_then(parse_jid) {
            if j.domain.eq_ignore_ascii_case(&muc_domain) {
                if let Some(room) = j.local {
                    let room = room.to_string();
                    return self.room_iq(&iq, &child, &room, set).await;
                }
            }
        }
        match (child.local_name(), child_ns, set) {
            ("bind", ns::BIND, true) => {
                vec![self.iq_error(&iq, "not-allowed", Some("a resource is already bound"))]
            }
            ("session", ns::SESSION, true) => vec![Out::Stanza(self.iq_result(&iq))],
            ("ping", ns::PING, false)
                if self.to_server(to.as_deref())
                    || to
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&muc_domain)) =>
            {
                vec![Out::Stanza(self.iq_result(&iq))]
            }
            ("query", ns::DISCO_INFO, false) => self.disco_info(&iq, to.as_deref()),
            ("query", ns::DISCO_ITEMS, false) => self.disco_items(&iq, to.as_deref()),
            ("query", ns::ROSTER, false) if self.to_server(to.as_deref()) => {
                // Contacts come over REST (`/friends/...`): the XMPP roster is always empty.
                vec![Out::Stanza(
                    self.iq_result(&iq)
                        .child(Element::new("query").attr("xmlns", ns::ROSTER)),
                )]
            }
            ("query", ns::ROSTER, true) => vec![self.iq_error(
                &iq,
                "not-allowed",
                Some("contacts are managed over the REST API"),
            )],
            ("enable", ns::SHIKU_ACK, true) => {
                self.ack_enabled = true;
                vec![Out::Stanza(
                    self.iq_result(&iq)
                        .child(Element::new("enable").attr("xmlns", ns::SHIKU_ACK)),
                )]
            }
            ("body", ns::SHIKU_ACK, true) => {
                let ids = child.text_content();
                let mut out = vec![Out::Stanza(self.iq_result(&iq))];
                out.extend(self.acked(&ids).await);
                out
            }
            _ => vec![self.iq_error(&iq, "service-unavailable", None)],
        }
    }

    async fn bind(&mut self, iq: &Element, bind: &Element) -> Vec<Out> {
        let asked = bind
            .find("resource")
            .map(|r| r.text_content().trim().to_string())
            .unwrap_or_default();
        if asked.len() > MAX_RESOURCE
            || asked
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '@')
        {
            return vec![self.iq_error(iq, "bad-request", Some("invalid resource"))];
        }
        let resource = if asked.is_empty() {
            uuid32()[..12].to_string()
        } else {
            asked
        };
        let uid = self.user_id;
        let me = match presence::session_opened(&self.ctx, uid, &resource, self.tx.clone()).await {
            Ok(me) => me,
            Err(e) => {
                tracing::error!(error = %e, "bind: session not recorded");
                return vec![self.iq_error(iq, "internal-server-error", None)];
            }
        };
        self.session_id = Some(me);
        self.resource = resource;
        self.stage = Stage::Bound;
        let jid = self.jid().unwrap_or_default();
        vec![Out::Stanza(
            self.iq_result(iq).child(
                Element::new("bind")
                    .attr("xmlns", ns::BIND)
                    .child(Element::new("jid").text(jid)),
            ),
        )]
    }

    fn disco_info(&self, iq: &Element, to: Option<&str>) -> Vec<Out> {
        let muc_domain = muc::service(self.domain());
        let mut q = Element::new("query").attr("xmlns", ns::DISCO_INFO);
        let features: &[&str] = if self.to_server(to) && !to.is_some_and(|t| t.contains('@')) {
            q.push(
                Element::new("identity")
                    .attr("category", "server")
                    .attr("type", "im")
                    .attr("name", "shiku-server"),
            );
            &[
                ns::DISCO_INFO,
                ns::DISCO_ITEMS,
                ns::PING,
                ns::RECEIPTS,
                ns::DELAY,
                ns::MUC,
                ns::SHIKU_ACK,
                ns::ROSTER,
            ]
        } else if to.is_some_and(|t| t.eq_ignore_ascii_case(&muc_domain)) {
            q.push(
                Element::new("identity")
                    .attr("category", "conference")
                    .attr("type", "text")
                    .attr("name", "Rooms"),
            );
            &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::MUC]
        } else {
            return vec![self.iq_error(iq, "service-unavailable", None)];
        };
        for f in features {
            q.push(Element::new("feature").attr("var", *f));
        }
        vec![Out::Stanza(self.iq_result(iq).child(q))]
    }

    fn disco_items(&self, iq: &Element, to: Option<&str>) -> Vec<Out> {
        let muc_domain = muc::service(self.domain());
        let mut q = Element::new("query").attr("xmlns", ns::DISCO_ITEMS);
        if self.to_server(to) && !to.is_some_and(|t| t.contains('@')) {
            q.push(
                Element::new("item")
                    .attr("jid", muc_domain)
                    .attr("name", "Rooms"),
            );
        } else if !to.is_some_and(|t| t.eq_ignore_ascii_case(&muc_domain)) {
            // Rooms are not listed here (members find theirs over REST).
            return vec![self.iq_error(iq, "service-unavailable", None)];
        }
        vec![Out::Stanza(self.iq_result(iq).child(q))]
    }

    /// iqs to `<room>@muc.<domain>`: disco of the room and the owner's configuration form.
    async fn room_iq(&mut self, iq: &Element, child: &Element, room: &str, set: bool) -> Vec<Out> {
        let child_ns = child.ns().unwrap_or_default();
        let stored = match self.ctx.store.rooms.get_room_by_jid(room).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "room lookup failed");
                return vec![self.iq_error(iq, "internal-server-error", None)];
            }
        };
        match (child.local_name(), child_ns, set) {
            ("query", ns::DISCO_INFO, false) => {
                let Some(r) = stored else {
                    return vec![self.iq_error(iq, "item-not-found", None)];
                };
                let mut q = Element::new("query").attr("xmlns", ns::DISCO_INFO).child(
                    Element::new("identity")
                        .attr("category", "conference")
                        .attr("type", "text")
                        .attr("name", r.name),
                );
                for f in [ns::MUC, "muc_persistent", "muc_membersonly"] {
                    q.push(Element::new("feature").attr("var", f));
                }
                vec![Out::Stanza(self.iq_result(iq).child(q))]
            }
            ("query", ns::MUC_OWNER, _) => {
                let allowed = match &stored {
                    // Being created by this session: the client submits the instant-room form.
                    None => self.creating.contains(room),
                    Some(r) => {
                        let member = self
                            .ctx
                            .store
                            .rooms
                            .get_member(r.id.as_deref().unwrap_or_default(), self.user_id)
                            .await;
                        matches!(member, Ok(Some(m)) if m.role == 1)
                    }
                };
                if !allowed {
                    return vec![self.iq_error(
                        iq,
                        "forbidden",
                        Some("only the room's owner configures it"),
                    )];
                }
                if set {
                    // The submitted form's settings are made over REST (`/room/add`,
                    // `/room/update`); accepting it lets the client go on to call them.
                    vec![Out::Stanza(self.iq_result(iq))]
                } else {
                    vec![Out::Stanza(self.iq_result(iq).child(muc::config_form()))]
                }
            }
            _ => vec![self.iq_error(iq, "service-unavailable", None)],
        }
    }

    // ---- shiku-ack ------------------------------------------------------------------------

    /// The client acknowledged these messageIds (`id1,id2,`, trailing comma included).
    async fn acked(&mut self, ids: &str) -> Vec<Out> {
        let ids: HashSet<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.is_empty() {
            return Vec::new();
        }
        self.unacked.confirm(&ids);
        for p in self.pending_offline.iter_mut() {
            if ids.contains(p.message_id.as_str()) {
                p.acked = true;
            }
        }
        // Only a contiguous acked prefix can leave the queue (acking a seq removes all before).
        let mut upto = None;
        while self.pending_offline.front().is_some_and(|p| p.acked) {
            upto = self.pending_offline.pop_front().map(|p| p.seq);
        }
        if let Some(seq) = upto {
            if let Err(e) = messages::ack_offline(&self.ctx, self.user_id, seq).await {
                tracing::error!(error = %e, "offline ack failed");
            }
        }
        // The client keeps up: hand it the next batch.
        let batch = self.ctx.config.xmpp.offline_batch.max(1) as usize;
        if self.available && upto.is_some() && self.pending_offline.len() < batch {
            let mut out = Vec::new();
            self.flush_offline(&mut out).await;
            return out;
        }
        Vec::new()
    }

    // ---- presence -------------------------------------------------------------------------

    async fn handle_presence(&mut self, p: Element) -> Vec<Out> {
        let kind = p.get_attr("type").unwrap_or_default().to_string();
        let Some(to) = p.get_attr("to").map(str::to_string) else {
            // Broadcast presence: the first available one makes the user online.
            if kind.is_empty() && !self.available {
                return self.become_available().await;
            }
            return Vec::new();
        };
        let muc_domain = muc::service(self.domain());
        let Some(j) = parse_jid(&to) else {
            return vec![self.presence_error(&p, "jid-malformed", None)];
        };
        if !j.domain.eq_ignore_ascii_case(&muc_domain) {
            // No presence subscriptions: contacts and their status are REST matters.
            return Vec::new();
        }
        let (Some(room), Some(nick)) = (j.local, j.resource) else {
            return vec![self.presence_error(
                &p,
                "jid-malformed",
                Some("a room nickname is required"),
            )];
        };
        let (room, nick) = (room.to_string(), nick.to_string());
        match kind.as_str() {
            "" => self.join_room(&p, &room, &nick).await,
            "unavailable" => self.leave_room(&room, &nick).await,
            _ => Vec::new(),
        }
    }

    fn presence_error(&self, p: &Element, condition: &str, text: Option<&str>) -> Out {
        let mut r = self
            .reply("presence", p.get_attr("to"))
            .attr("type", "error");
        if let Some(id) = p.get_attr("id") {
            r.set_attr("id", id);
        }
        r.push(Element::new("x").attr("xmlns", ns::MUC));
        r.push(stanza_error(condition, text));
        Out::Stanza(r)
    }

    async fn become_available(&mut self) -> Vec<Out> {
        self.available = true;
        if let Err(e) = presence::resource_online(&self.ctx, self.user_id, &self.resource).await {
            tracing::error!(error = %e, "online state not recorded");
        }
        let mut out = Vec::new();
        self.flush_offline(&mut out).await;
        out
    }

    /// Writes the next batch of queued offline items (`xmpp.offline_batch`). With shiku-ack
    /// each leaves the queue when the client acks it; without, a batch leaves the queue once
    /// it was written: the session reminds itself ([`Push::OfflineNext`]) after handing a batch
    /// to the transport, and that reminder arrives after the write. One batch is in memory at
    /// a time, and a connection lost mid-way loses nothing.
    async fn flush_offline(&mut self, out: &mut Vec<Out>) {
        if let Some(seq) = self.offline_unwritten.take() {
            if let Err(e) = messages::ack_offline(&self.ctx, self.user_id, seq).await {
                tracing::error!(error = %e, "offline ack failed");
                return;
            }
        }
        let batch = self.ctx.config.xmpp.offline_batch.max(1) as u64;
        // With shiku-ack, items already handed out stay queued until acked: skip them.
        let limit = batch + self.pending_offline.len() as u64;
        let items = match messages::offline_queue(&self.ctx, self.user_id, limit).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "offline queue not readable");
                return;
            }
        };
        let fresh: Vec<(i64, Delivery)> = items
            .into_iter()
            .filter(|(seq, _)| *seq > self.offline_sent)
            .collect();
        let Some(last) = fresh.last().map(|(seq, _)| *seq) else {
            return;
        };
        for (seq, mut d) in fresh {
            d.offline = true;
            if self.ack_enabled {
                self.pending_offline.push_back(PendingOffline {
                    seq,
                    message_id: d.message_id.clone(),
                    acked: false,
                });
            }
            out.push(Out::Stanza(self.render(&d)));
        }
        self.offline_sent = last;
        if !self.ack_enabled {
            self.offline_unwritten = Some(last);
            let _ = self.tx.send(Push::OfflineNext);
        }
    }

    async fn join_room(&mut self, p: &Element, room: &str, nick: &str) -> Vec<Out> {
        let occupant = format!("{room}@{}/{nick}", muc::service(self.domain()));
        let stored = match self.ctx.store.rooms.get_room_by_jid(room).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "room lookup failed");
                return vec![self.presence_error(p, "internal-server-error", None)];
            }
        };
        let Some(stored) = stored else {
            // The client creates the room over XMPP before `/room/add`: it becomes its owner.
            if crate::domain::rooms::check_room_jid(room).is_err() {
                return vec![self.presence_error(p, "jid-malformed", Some("invalid room jid"))];
            }
            if self.creating.len() >= MAX_CREATING && !self.creating.contains(room) {
                // Each pending creation is kept until `/room/add`: bounded per session.
                return vec![self.presence_error(
                    p,
                    "resource-constraint",
                    Some("too many rooms being created; finish them with /room/add first"),
                )];
            }
            self.creating.insert(room.to_string());
            let me = self.reply("presence", Some(&occupant)).child(muc::user_x(
                "owner",
                "moderator",
                &[110, 201],
            ));
            return vec![Out::Stanza(me)];
        };
        let room_id = stored.id.clone().unwrap_or_default();
        let member = match self
            .ctx
            .store
            .rooms
            .get_member(&room_id, self.user_id)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "member lookup failed");
                return vec![self.presence_error(p, "internal-server-error", None)];
            }
        };
        let Some(member) = member else {
            return vec![self.presence_error(
                p,
                "registration-required",
                Some("你不是该群成员 (not a member of this room)"),
            )];
        };
        self.creating.remove(room);
        self.joined.insert(room.to_string());
        let already = self.live_unjoined.remove(room).unwrap_or_default();
        let (affiliation, role) = muc::affiliation_role(&member);
        let mut out = vec![Out::Stanza(
            self.reply("presence", Some(&occupant))
                .child(muc::user_x(affiliation, role, &[110])),
        )];
        let req = HistoryRequest::from_presence(p);
        match muc::history(&self.ctx, self.user_id, room, &member, req).await {
            Ok(rows) => {
                let room_bare = format!("{room}@{}", muc::service(self.domain()));
                for row in rows {
                    if already.contains(&row.message_id) {
                        continue;
                    }
                    let body = if row.body.is_empty() {
                        &row.message
                    } else {
                        &row.body
                    };
                    let sender = if row.sender.is_empty() {
                        sender_of(&row.sender_jid)
                    } else {
                        &row.sender
                    };
                    let msg = self
                        .reply("message", Some(&format!("{room_bare}/{sender}")))
                        .attr("type", "groupchat")
                        .attr("id", row.message_id.as_str())
                        .child(Element::new("body").text(times::body_for(body, self.time_unit)))
                        .child(delay(&room_bare, row.ts));
                    out.push(Out::Stanza(msg));
                }
            }
            Err(e) => tracing::error!(error = %e, "room history not readable"),
        }
        out
    }

    async fn leave_room(&mut self, room: &str, nick: &str) -> Vec<Out> {
        self.creating.remove(room);
        self.joined.remove(room);
        let occupant = format!("{room}@{}/{nick}", muc::service(self.domain()));
        let affiliation = match self.ctx.store.rooms.get_room_by_jid(room).await {
            Ok(Some(r)) => match self
                .ctx
                .store
                .rooms
                .get_member(r.id.as_deref().unwrap_or_default(), self.user_id)
                .await
            {
                Ok(Some(m)) => muc::affiliation_role(&m).0,
                _ => "none",
            },
            _ => "none",
        };
        vec![Out::Stanza(
            self.reply("presence", Some(&occupant))
                .attr("type", "unavailable")
                .child(muc::user_x(affiliation, "none", &[110])),
        )]
    }

    // ---- messages -------------------------------------------------------------------------

    fn message_error(&self, m: &Element, condition: &str, text: &str) -> Out {
        let mut r = self
            .reply("message", m.get_attr("to"))
            .attr("type", "error");
        if let Some(id) = m.get_attr("id") {
            r.set_attr("id", id);
        }
        r.push(stanza_error(condition, Some(text)));
        Out::Stanza(r)
    }

    async fn handle_message(&mut self, m: Element) -> Vec<Out> {
        let kind = m.get_attr("type").unwrap_or("normal").to_string();
        if kind == "error" || kind == "headline" {
            return Vec::new();
        }
        // Chat states, client receipts and other body-less messages are not stored or routed.
        let Some(body) = m.find("body") else {
            return Vec::new();
        };
        let body_text = body.text_content();
        let Some(to) = m.get_attr("to").map(str::to_string) else {
            return vec![self.message_error(&m, "bad-request", "message without a recipient")];
        };
        let Some(j) = parse_jid(&to) else {
            return vec![self.message_error(&m, "jid-malformed", "invalid recipient")];
        };
        let domain = self.domain().to_string();
        let muc_domain = muc::service(&domain);
        let target = if j.domain.eq_ignore_ascii_case(&domain) {
            match j.local.and_then(|l| l.parse::<i32>().ok()) {
                Some(uid) => Target::User(uid),
                None => {
                    return vec![self.message_error(&m, "item-not-found", "该用户不存在!")];
                }
            }
        } else if j.domain.eq_ignore_ascii_case(&muc_domain) {
            match (j.local, j.resource) {
                (Some(room), None) => Target::Room(room.to_string()),
                (Some(_), Some(_)) => {
                    return vec![self.message_error(
                        &m,
                        "not-acceptable",
                        "private messages in rooms are not supported",
                    )];
                }
                (None, _) => {
                    return vec![self.message_error(&m, "bad-request", "no room named")];
                }
            }
        } else {
            return vec![self.message_error(&m, "remote-server-not-found", "unknown domain")];
        };
        let mut fields: Map<String, Value> = match serde_json::from_str(&body_text) {
            Ok(Value::Object(o)) => o,
            _ => {
                return vec![self.message_error(
                    &m,
                    "bad-request",
                    "the body must be a JSON object",
                )];
            }
        };
        if let Some(unit) = TimeUnit::of_body(&fields) {
            self.time_unit = unit;
        }
        if !fields.contains_key("messageId") {
            if let Some(id) = m.get_attr("id").filter(|i| !i.is_empty()) {
                fields.insert("messageId".into(), Value::String(id.to_string()));
            }
        }
        let room = match &target {
            Target::Room(r) => Some(r.clone()),
            Target::User(_) => None,
        };
        let sent = messages::send(
            &self.ctx,
            Outgoing {
                from: self.user_id,
                resource: self.resource.clone(),
                target,
                body: fields,
                origin: self.session_id,
            },
        )
        .await;
        let sent = match sent {
            Ok(s) => s,
            Err(e) => {
                let (condition, text) = domain_error(&e);
                return vec![self.message_error(&m, condition, &text)];
            }
        };
        let mut out = Vec::with_capacity(2);
        if let (Some(room), false) = (room, sent.duplicate) {
            // A room reflects a message to its sender (the path skipped this session).
            let from = format!("{room}@{muc_domain}/{}", self.user_id);
            out.push(Out::Stanza(
                self.reply("message", Some(&from))
                    .attr("type", "groupchat")
                    .attr("id", sent.message_id.as_str())
                    .child(Element::new("body").text(times::body_for(&sent.body, self.time_unit))),
            ));
        }
        out.push(Out::Stanza(
            self.reply("message", Some(&domain)).child(
                Element::new("received")
                    .attr("xmlns", ns::RECEIPTS)
                    .attr("id", sent.message_id),
            ),
        ));
        out
    }

    // ---- pushes ---------------------------------------------------------------------------

    /// The stanza of a delivery.
    fn render(&self, d: &Delivery) -> Element {
        let domain = self.domain();
        let me = self.user_id.to_string();
        let mut e = match d.chat_type {
            ChatType::Single => {
                let from = match d.from.split_once('/') {
                    Some((uid, res)) => format!("{uid}@{domain}/{res}"),
                    None => format!("{}@{domain}", d.from),
                };
                let mut e = self.reply("message", Some(&from)).attr("type", "chat");
                if d.to != me {
                    // The sender's other devices get their own message: keep its addressee.
                    e.set_attr("to", format!("{}@{domain}", d.to));
                }
                e
            }
            ChatType::Group => {
                let from = format!("{}@{}/{}", d.to, muc::service(domain), sender_of(&d.from));
                self.reply("message", Some(&from)).attr("type", "groupchat")
            }
        };
        e.set_attr("id", d.message_id.as_str());
        e.push(Element::new("body").text(times::body_for(&d.body, self.time_unit)));
        if d.offline {
            e.push(delay(domain, d.ts));
        }
        e
    }

    /// Writes a live delivery, remembering 1:1 messages to this user until acked (shiku-ack).
    fn deliver(&mut self, d: Delivery) -> Out {
        let stanza = self.render(&d);
        if d.chat_type == ChatType::Group && !self.joined.contains(&d.to) {
            if self.live_unjoined.len() >= LIVE_UNJOINED_ROOMS
                && !self.live_unjoined.contains_key(&d.to)
            {
                self.live_unjoined.clear();
            }
            let ids = self.live_unjoined.entry(d.to.clone()).or_default();
            if ids.len() >= LIVE_UNJOINED_PER_ROOM {
                ids.pop_front();
            }
            ids.push_back(d.message_id.clone());
        }
        if self.ack_enabled && d.chat_type == ChatType::Single && d.to == self.user_id.to_string() {
            self.unacked.push(d);
        }
        Out::Stanza(stanza)
    }

    /// Renders what the router pushed to this session.
    pub async fn push(&mut self, push: Push) -> Vec<Out> {
        match push {
            Push::Conflict => vec![Out::Error(StreamError::new(
                "conflict",
                "Replaced by new connection",
            ))],
            Push::Shutdown => vec![Out::Error(StreamError::new(
                "system-shutdown",
                "The server is stopping",
            ))],
            Push::OfflineNext if self.stage == Stage::Bound => {
                let mut out = Vec::new();
                self.flush_offline(&mut out).await;
                out
            }
            // With shiku-ack, items handed out and not acked yet are skipped by the read.
            Push::OfflineWaiting
                if self.stage == Stage::Bound
                    && self.available
                    && self.offline_unwritten.is_none() =>
            {
                let mut out = Vec::new();
                self.flush_offline(&mut out).await;
                out
            }
            Push::OfflineNext | Push::OfflineWaiting => Vec::new(),
            Push::Overflow => vec![Out::Error(StreamError::new(
                "policy-violation",
                "too many messages waiting: the client does not read fast enough",
            ))],
            Push::Message(_) if self.stage == Stage::Closed => Vec::new(),
            // Live messages go out at once, even before the first presence: a client that
            // never announces itself still gets what it is sent.
            Push::Message(d) => {
                let mut out = vec![self.deliver(*d)];
                if self
                    .unacked
                    .over(MAX_UNACKED, self.ctx.config.xmpp.max_unacked_bytes)
                {
                    out.push(Out::Error(StreamError::new(
                        "policy-violation",
                        "too many unacknowledged messages",
                    )));
                }
                out
            }
        }
    }

    /// Like [`XmppSession::closed`], and first takes back what the router pushed but the
    /// transport never wrote: those 1:1 messages go back to the offline queue instead of being
    /// dropped with the channel. Transports should prefer this to `closed`.
    pub async fn closed_with(&mut self, rx: &mut PushReceiver) {
        rx.close();
        if self.stage == Stage::Closed {
            return;
        }
        let me = self.user_id.to_string();
        while let Some(push) = rx.try_recv() {
            if let Push::Message(d) = push {
                if d.chat_type == ChatType::Single && d.to == me {
                    self.unacked.push(*d);
                }
            }
        }
        self.closed().await;
    }

    /// The connection ended (for any reason): called exactly once by the transport.
    pub async fn closed(&mut self) {
        if self.stage == Stage::Closed {
            return;
        }
        let was_bound = self.stage == Stage::Bound;
        self.stage = Stage::Closed;
        if !was_bound {
            return;
        }
        let uid = self.user_id;
        let id = self.session_id.take();
        // 1:1 deliveries the client never confirmed go back to the queue for the next login.
        messages::requeue(&self.ctx, uid, self.unacked.take()).await;
        self.pending_offline.clear();
        if let Some(id) = id {
            presence::session_closed(&self.ctx, uid, &self.resource, id).await;
        }
    }

    /// The bound full JID (`<userId>@<domain>/<resource>`), for logs.
    pub fn jid(&self) -> Option<String> {
        (self.stage == Stage::Bound || (self.stage == Stage::Closed && !self.resource.is_empty()))
            .then(|| format!("{}@{}/{}", self.user_id, self.domain(), self.resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jids() {
        let j = parse_jid("1@d/r/x").unwrap();
        assert_eq!(
            (j.local, j.domain, j.resource),
            (Some("1"), "d", Some("r/x"))
        );
        let j = parse_jid("muc.d").unwrap();
        assert_eq!((j.local, j.domain, j.resource), (None, "muc.d", None));
        assert!(parse_jid("@d").is_none());
        assert!(parse_jid("1@").is_none());
        assert!(parse_jid("1@d/").is_none());
    }

    #[test]
    fn stamps_are_utc_with_millis() {
        assert_eq!(stamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn refusals_become_stanza_errors() {
        assert_eq!(
            domain_error(&Error::failure("你已被对方拉黑，消息发送失败")).0,
            "forbidden"
        );
        assert_eq!(
            domain_error(&Error::failure("该用户不存在!")).0,
            "item-not-found"
        );
        assert_eq!(domain_error(&Error::invalid("type", "x")).0, "bad-request");
        assert_eq!(
            domain_error(&Error::invalid("body", "x")).0,
            "not-acceptable"
        );
        assert_eq!(error_type("forbidden"), "auth");
    }
}
