//! The protocol core of Shiku's binary WebSocket protocol, independent of the transport: login
//! with the REST token, 1:1 and room messages through `domain::messages::send`, receipts,
//! offline delivery, history pulls and room catch-up, on the same router as XMPP so both kinds
//! of client reach each other.
//!
//! A session is owned by its transport's task (no lock is held across I/O); the router reaches
//! it through the [`Push`] channel returned by [`ShikuSession::new`].

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::body;
use super::frame::{self, chat_type, cmd};
use super::proto::{
    AuthMessage, AuthRespMessageProBuf, ChatMessage, CommonErrorProBuf, CommonSuccessProBuf,
    ExitGroupMessageProBuf, GroupMessageRespProBuf, JoinGroupMessageProBuf, MessageHead,
    MessageReceiptStatusProBuf, PingMessageProBuf, PullBatchGroupMessageReqProBuf,
    PullGroupMessageRespProBuf, PullMessageHistoryRecordReqProBuf,
    PullMessageHistoryRecordRespProBuf,
};
use crate::delivery::{
    push_channel, ChatType, Delivery, Push, PushReceiver, PushSender, SessionId, Unacked,
};
use crate::domain::credentials;
use crate::domain::history::{self, HistoryRequest, MucHistoryRequest};
use crate::domain::messages::{self, Outgoing, Target};
use crate::domain::presence::{self, Refusal};
use crate::domain::times::{self, TimeUnit};
use crate::domain::view::JsonText;
use crate::domain::{rooms, Ctx, Error};

/// Failed logins allowed before the connection is closed.
const MAX_AUTH_FAILURES: u8 = 3;
/// Longest resource accepted (as XMPP).
const MAX_RESOURCE: usize = 1023;
/// Resource of a login whose `head.from` names none (the web clients' own).
const DEFAULT_RESOURCE: &str = "web";
/// Live 1:1 messages a client may leave without a receipt before the session is ended (they go
/// back to the offline queue): bounds the memory a silent client can pin.
const MAX_UNACKED: usize = 5000;
/// Offline items read per store round trip at login.
const OFFLINE_BATCH: u64 = 100;
/// Default and largest page of a history pull (cmd 12).
const DEFAULT_PULL: u64 = 20;
const MAX_PULL: u64 = 200;
/// Most rooms one catch-up (cmd 14) may name, and messages answered per room.
const MAX_BATCH_ROOMS: usize = 200;
const MAX_BATCH_MESSAGES: u64 = 100;
/// Error code of a frame the server cannot read (unknown command, bad protobuf).
pub const CODE_MALFORMED: i32 = -1;
/// Error-frame code of a login not checked now (too many failed attempts, or the server busy):
/// retry after the time the text gives. -2 is the sensitive-word code.
pub const CODE_RETRY_LATER: i32 = -3;
/// Content types the clients never send a receipt for (spec 5.3 item 6): not kept as unacked.
const NO_RECEIPT_TYPES: std::ops::RangeInclusive<i64> = 86..=93;

/// What the transport does after the core handled an input, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Write this binary frame.
    Frame(Vec<u8>),
    /// Close the connection.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connected,
    Authenticated,
    Closed,
}

/// One client's session, from the socket's open to its end.
pub struct ShikuSession {
    ctx: Arc<Ctx>,
    peer_ip: Option<String>,
    tx: PushSender,
    stage: Stage,
    auth_failures: u8,
    user_id: i32,
    resource: String,
    session_id: Option<SessionId>,
    /// 1:1 deliveries to this user written but not yet confirmed by a status-2 receipt, in
    /// order; requeued when the session ends.
    unacked: Unacked,
    /// The last `seq` of the offline batch being written, acked at the next step.
    offline_unwritten: Option<i64>,
    /// The unit this client reads `timeSend` in (`domain::times`): milliseconds when its login
    /// carries a `deviceId` (xiaoshifeifei), else seconds (newchat and the jQuery socket SDK),
    /// until the client's own messages show otherwise.
    time_unit: TimeUnit,
}

/// A head from the server to this client.
fn head(from: &str, to: &str, message_id: &str, chat_type: i32) -> MessageHead {
    MessageHead {
        from: from.to_string(),
        to: to.to_string(),
        message_id: message_id.to_string(),
        chat_type,
        offline: false,
    }
}

/// The messageId of a request's head, for the answer.
fn id_of(h: &Option<MessageHead>) -> String {
    h.as_ref().map(|h| h.message_id.clone()).unwrap_or_default()
}

/// The body's content type, when a JSON body names one.
fn body_type(body: &str) -> Option<i64> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("type")?
        .as_i64()
}

impl ShikuSession {
    /// A new, unauthenticated session; what the router pushes to it arrives on the receiver.
    pub fn new(ctx: Arc<Ctx>, peer_ip: Option<String>) -> (ShikuSession, PushReceiver) {
        let (tx, rx) = push_channel(ctx.config.xmpp.session_queue_bytes);
        (
            ShikuSession {
                ctx,
                peer_ip,
                tx,
                stage: Stage::Connected,
                auth_failures: 0,
                user_id: 0,
                resource: String::new(),
                session_id: None,
                unacked: Unacked::default(),
                offline_unwritten: None,
                time_unit: TimeUnit::Seconds,
            },
            rx,
        )
    }

    /// Whether the client has logged in.
    pub fn is_authenticated(&self) -> bool {
        self.stage == Stage::Authenticated
    }

    /// `<userId>/<resource>` once logged in.
    pub fn full_id(&self) -> Option<String> {
        (!self.resource.is_empty()).then(|| format!("{}/{}", self.user_id, self.resource))
    }

    fn me(&self) -> String {
        self.full_id().unwrap_or_default()
    }

    fn domain(&self) -> &str {
        &self.ctx.config.client.xmpp_domain
    }

    /// An error frame (cmd -1) answering the request `message_id`.
    fn error(&self, message_id: &str, code: i32, text: impl Into<String>) -> Out {
        let e = CommonErrorProBuf {
            message_head: Some(head(
                self.domain(),
                &self.me(),
                message_id,
                chat_type::RESULT,
            )),
            code,
            arg: text.into(),
        };
        Out::Frame(frame::encode_error(&e))
    }

    /// The error frame of a domain refusal: the Shiku resultCode and resultMsg.
    fn domain_error(&self, message_id: &str, e: &Error) -> Out {
        if let Error::Internal(detail) = e {
            tracing::error!(error = %detail, "binary-protocol request failed");
        }
        self.error(message_id, e.code() as i32, e.to_string())
    }

    fn success(&self, message_id: &str) -> Out {
        let s = CommonSuccessProBuf {
            message_head: Some(head(
                self.domain(),
                &self.me(),
                message_id,
                chat_type::RESULT,
            )),
        };
        Out::Frame(frame::encode(cmd::SUCCESS, &s))
    }

    /// Handles one binary frame from the client.
    pub async fn handle(&mut self, data: &[u8]) -> Vec<Out> {
        let Some(f) = frame::split(data) else {
            return Vec::new();
        };
        match (self.stage, f.command) {
            (Stage::Closed, _) => vec![Out::Close],
            // Spec 5.1: a command of 0 is ignored.
            (_, 0) => Vec::new(),
            (_, cmd::CLOSE) => vec![Out::Close],
            (_, cmd::PING) => self.ping(f.payload),
            (Stage::Connected, cmd::AUTH_REQ) => self.auth(f.payload).await,
            (Stage::Connected, _) => vec![self.error("", CODE_MALFORMED, "authenticate first")],
            (Stage::Authenticated, cmd::AUTH_REQ) => {
                vec![self.error("", CODE_MALFORMED, "already authenticated")]
            }
            (Stage::Authenticated, cmd::CHAT) => self.chat(f.payload).await,
            (Stage::Authenticated, cmd::MESSAGE_RECEIPT) => self.receipt(f.payload),
            (Stage::Authenticated, cmd::PULL_MESSAGE_RECORD_REQ) => self.pull(f.payload).await,
            (Stage::Authenticated, cmd::PULL_BATCH_GROUP_MESSAGE_REQ) => {
                self.pull_batch(f.payload).await
            }
            (Stage::Authenticated, cmd::JOINGROUP_REQ) => self.join(f.payload).await,
            (Stage::Authenticated, cmd::EXITGROUP_REQ) => self.exit(f.payload),
            (Stage::Authenticated, other) => {
                vec![self.error("", CODE_MALFORMED, format!("unknown command {other}"))]
            }
        }
    }

    fn ping(&self, payload: &[u8]) -> Vec<Out> {
        match frame::decode::<PingMessageProBuf>(payload, "PingMessageProBuf") {
            Ok(p) => vec![self.success(&id_of(&p.message_head))],
            Err(text) => vec![self.error("", CODE_MALFORMED, text)],
        }
    }

    // ---- login ----------------------------------------------------------------------------

    /// The login answer; `resources` lists the user's connected resources (status 1 only).
    fn auth_resp(
        &self,
        from: &str,
        message_id: &str,
        status: i32,
        resources: &str,
        arg: &str,
    ) -> Out {
        let r = AuthRespMessageProBuf {
            message_head: Some(MessageHead {
                from: from.to_string(),
                to: self.domain().to_string(),
                message_id: message_id.to_string(),
                chat_type: chat_type::AUTH,
                offline: false,
            }),
            status,
            arg: arg.to_string(),
            token: String::new(),
            resources: resources.to_string(),
        };
        Out::Frame(frame::encode(cmd::AUTH_RESP, &r))
    }

    /// A refused login: status 0 with the reason; the connection closes after too many.
    fn auth_failed(&mut self, from: &str, message_id: &str, why: &str) -> Vec<Out> {
        self.auth_failures += 1;
        let mut out = vec![self.auth_resp(from, message_id, 0, "", why)];
        if self.auth_failures >= MAX_AUTH_FAILURES {
            out.push(Out::Close);
        }
        out
    }

    async fn auth(&mut self, payload: &[u8]) -> Vec<Out> {
        let a: AuthMessage = match frame::decode(payload, "AuthMessage") {
            Ok(a) => a,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        let h = a.message_head.clone().unwrap_or_default();
        let (uid_text, resource) = match h.from.split_once('/') {
            Some((u, r)) => (u.trim(), r.trim()),
            None => (h.from.trim(), ""),
        };
        if resource.len() > MAX_RESOURCE
            || resource
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '@')
        {
            return self.auth_failed(&h.from, &h.message_id, "invalid resource");
        }
        let resource = if resource.is_empty() {
            DEFAULT_RESOURCE
        } else {
            resource
        };
        if !a.device_id.is_empty() {
            self.time_unit = TimeUnit::Millis;
        }
        // The token is the REST access_token; older builds sent the md5 password instead.
        let secret = if a.token.is_empty() {
            a.password.as_str()
        } else {
            a.token.as_str()
        };
        if secret.is_empty() {
            return self.auth_failed(&h.from, &h.message_id, "token missing");
        }
        let source = credentials::source(self.peer_ip.as_deref());
        let user_id = match presence::authenticate(&self.ctx, uid_text, secret, source).await {
            Ok(Ok(uid)) => uid,
            Ok(Err(Refusal::Disabled)) => {
                return self.auth_failed(&h.from, &h.message_id, "account locked");
            }
            Ok(Err(Refusal::RetryLater(text))) => {
                // The error frame says why; the AuthResp still ends the client's wait.
                return vec![
                    self.error(&h.message_id, CODE_RETRY_LATER, text.clone()),
                    self.auth_resp(&h.from, &h.message_id, 0, "", &text),
                ];
            }
            Ok(Err(Refusal::NotAuthorized(why))) => {
                tracing::debug!(uid_text, ip = ?self.peer_ip, why, "binary-protocol login refused");
                return self.auth_failed(&h.from, &h.message_id, "invalid or expired token");
            }
            Err(e) => {
                tracing::error!(error = %e, "binary-protocol login check failed");
                return vec![self.auth_resp(&h.from, &h.message_id, 0, "", "try again later")];
            }
        };
        let me = match presence::session_opened(&self.ctx, user_id, resource, self.tx.clone()).await
        {
            Ok(me) => me,
            Err(e) => {
                tracing::error!(error = %e, "login: session not recorded");
                return vec![self.auth_resp(&h.from, &h.message_id, 0, "", "try again later")];
            }
        };
        self.user_id = user_id;
        self.resource = resource.to_string();
        self.session_id = Some(me);
        self.stage = Stage::Authenticated;
        if let Err(e) = presence::resource_online(&self.ctx, user_id, &self.resource).await {
            tracing::error!(error = %e, "online state not recorded");
        }
        // `head.from` is echoed as sent: the client compares it with its own id.
        let resources = self.ctx.router.resources(user_id).await.join(",");
        let mut out = vec![self.auth_resp(&h.from, &h.message_id, 1, &resources, "")];
        self.flush_offline(&mut out).await;
        out
    }

    /// Writes the next batch of queued offline items (flagged `offline`); 1:1 ones wait for the
    /// client's receipt like live ones. A batch leaves the queue once it was written: the
    /// session reminds itself ([`Push::OfflineNext`]) after handing a batch to the transport,
    /// and that reminder arrives after the write. One batch is in memory at a time.
    async fn flush_offline(&mut self, out: &mut Vec<Out>) {
        if let Some(seq) = self.offline_unwritten.take() {
            if let Err(e) = messages::ack_offline(&self.ctx, self.user_id, seq).await {
                tracing::error!(error = %e, "offline ack failed");
                return;
            }
        }
        let items = match messages::offline_queue(&self.ctx, self.user_id, OFFLINE_BATCH).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "offline queue not readable");
                return;
            }
        };
        let Some(last) = items.last().map(|(seq, _)| *seq) else {
            return;
        };
        for (_, mut d) in items {
            d.offline = true;
            out.push(self.deliver(d));
        }
        self.offline_unwritten = Some(last);
        let _ = self.tx.send(Push::OfflineNext);
    }

    // ---- messages -------------------------------------------------------------------------

    async fn chat(&mut self, payload: &[u8]) -> Vec<Out> {
        let m: ChatMessage = match frame::decode(payload, "ChatMessage") {
            Ok(m) => m,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        let h = m.message_head.clone().unwrap_or_default();
        let message_id = h.message_id.clone();
        let group = h.chat_type == chat_type::GROUP;
        let to = if h.to.is_empty() {
            m.to_user_id.trim()
        } else {
            h.to.trim()
        };
        let target = if group {
            if to.is_empty() {
                return vec![self.error(&message_id, CODE_MALFORMED, "no room named")];
            }
            Target::Room(to.to_string())
        } else {
            match to.parse::<i32>() {
                Ok(uid) => Target::User(uid),
                Err(_) => {
                    return vec![self.domain_error(&message_id, &Error::failure("该用户不存在!"))]
                }
            }
        };
        if let Some(unit) = TimeUnit::of(m.time_send as f64) {
            self.time_unit = unit;
        }
        let sent = messages::send(
            &self.ctx,
            Outgoing {
                from: self.user_id,
                resource: self.resource.clone(),
                target: target.clone(),
                body: body::to_json(&m),
                origin: self.session_id,
            },
        )
        .await;
        let sent = match sent {
            Ok(s) => s,
            Err(e) => return vec![self.domain_error(&message_id, &e)],
        };
        let mut out = Vec::with_capacity(2);
        if let (Target::Room(jid), false) = (&target, sent.duplicate) {
            // The room echoes the sender's own message (the path skipped this session); the
            // client takes it as the ack.
            let d = Delivery {
                chat_type: ChatType::Group,
                from: self.me(),
                to: jid.clone(),
                message_id: sent.message_id.clone(),
                body: sent.body.clone(),
                offline: false,
                ts: sent.ts,
            };
            out.push(Out::Frame(self.render(&d)));
        }
        // Status 1, "reached the server": the message is stored (or was already).
        let r = MessageReceiptStatusProBuf {
            message_head: Some(head(
                self.domain(),
                &self.me(),
                &sent.message_id,
                if group {
                    chat_type::GROUP
                } else {
                    chat_type::CHAT
                },
            )),
            status: 1,
            message_id: sent.message_id,
        };
        out.push(Out::Frame(frame::encode(cmd::MESSAGE_RECEIPT, &r)));
        out
    }

    /// The client confirms messages it received (`id1,id2,`, status 2) or read (3).
    fn receipt(&mut self, payload: &[u8]) -> Vec<Out> {
        let r: MessageReceiptStatusProBuf = match frame::decode(payload, "receipt") {
            Ok(r) => r,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        if r.status >= 2 {
            let ids: HashSet<&str> = r
                .message_id
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            self.unacked.confirm(&ids);
        }
        Vec::new()
    }

    // ---- history --------------------------------------------------------------------------

    /// Rows of a history answer (`message` holds the JSON body) as `ChatMessage`s.
    fn rows_to_messages(&self, rows: &JsonText, room: Option<&str>) -> Vec<ChatMessage> {
        let Ok(Value::Array(rows)) = serde_json::from_str(rows.as_str()) else {
            return Vec::new();
        };
        let unit = self.time_unit;
        rows.iter()
            .map(|row| {
                let text = row
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let message_id = row
                    .get("messageId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let sender_jid = row
                    .get("sender_jid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let (to, ct) = match room {
                    Some(jid) => (jid.to_string(), chat_type::GROUP),
                    None => (
                        row.get("receiver_jid")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        chat_type::CHAT,
                    ),
                };
                body::from_json(
                    &times::body_for(text, unit),
                    head(sender_jid, &to, message_id, ct),
                )
            })
            .collect()
    }

    /// cmd 12: a page of one conversation (a userId, or a room jid with chatType 2), newest
    /// first as `/tigase/shiku_msgs` answers it.
    async fn pull(&mut self, payload: &[u8]) -> Vec<Out> {
        let q: PullMessageHistoryRecordReqProBuf = match frame::decode(payload, "history request") {
            Ok(q) => q,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        let request_id = id_of(&q.message_head);
        let jid = q.jid.trim().to_string();
        let size = match q.size {
            s if s <= 0 => DEFAULT_PULL,
            s => (s as u64).min(MAX_PULL),
        };
        let peer = jid.parse::<i32>().ok();
        let group = match q.message_head.as_ref().map(|h| h.chat_type) {
            Some(chat_type::GROUP) => true,
            Some(chat_type::CHAT) => false,
            _ => peer.is_none(),
        };
        let rows = if group {
            let r = MucHistoryRequest {
                jid: jid.clone(),
                start_time: q.start_time,
                end_time: q.end_time,
                page_index: 0,
                page_size: size,
                max_type: 0,
            };
            history::muc_history(&self.ctx, self.user_id, &r).await
        } else {
            let Some(receiver) = peer else {
                return vec![
                    self.domain_error(&request_id, &Error::invalid("jid", "不是有效的用户 id"))
                ];
            };
            let r = HistoryRequest {
                receiver,
                start_time: q.start_time,
                end_time: q.end_time,
                page_index: 0,
                page_size: size,
                max_type: 0,
            };
            history::history(&self.ctx, self.user_id, &r).await
        };
        let rows = match rows {
            Ok(r) => r,
            Err(e) => return vec![self.domain_error(&request_id, &e)],
        };
        let list = self.rows_to_messages(&rows, group.then_some(jid.as_str()));
        let resp = PullMessageHistoryRecordRespProBuf {
            message_id: request_id,
            jid,
            chat_type: if group {
                chat_type::GROUP
            } else {
                chat_type::CHAT
            },
            count: list.len() as i32,
            message_list: list,
        };
        vec![Out::Frame(frame::encode(
            cmd::PULL_MESSAGE_RECORD_RESP,
            &resp,
        ))]
    }

    /// cmd 14: for each `jid,lastTime`, the room's messages after `lastTime` (up to `endTime`),
    /// oldest first, one cmd 15 per room. Rooms the user cannot read get an error frame each.
    async fn pull_batch(&mut self, payload: &[u8]) -> Vec<Out> {
        let q: PullBatchGroupMessageReqProBuf = match frame::decode(payload, "catch-up request") {
            Ok(q) => q,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        let request_id = id_of(&q.message_head);
        if q.jid_list.len() > MAX_BATCH_ROOMS {
            return vec![self.error(
                &request_id,
                CODE_MALFORMED,
                format!("at most {MAX_BATCH_ROOMS} rooms per request"),
            )];
        }
        let mut out = Vec::with_capacity(q.jid_list.len());
        for item in &q.jid_list {
            let (jid, last) = match item.split_once(',') {
                Some((j, t)) => (j.trim(), t.trim().parse::<i64>().unwrap_or(0)),
                None => (item.trim(), 0),
            };
            // Strictly after the client's newest message (bounds are inclusive, in ms).
            let start = match history::ms_bound(last, false) {
                Some(ms) => ms.saturating_add(if last < 100_000_000_000 { 1000 } else { 1 }),
                None => 0,
            };
            let r = MucHistoryRequest {
                jid: jid.to_string(),
                start_time: start,
                end_time: q.end_time,
                page_index: 0,
                page_size: MAX_BATCH_MESSAGES,
                max_type: 0,
            };
            match history::muc_history(&self.ctx, self.user_id, &r).await {
                Ok(rows) => {
                    let mut list = self.rows_to_messages(&rows, Some(jid));
                    list.reverse();
                    let resp = PullGroupMessageRespProBuf {
                        message_id: request_id.clone(),
                        jid: jid.to_string(),
                        count: list.len() as i64,
                        message_list: list,
                    };
                    out.push(Out::Frame(frame::encode(
                        cmd::PULL_BATCH_GROUP_MESSAGE_RESP,
                        &resp,
                    )));
                }
                Err(e) => out.push(self.domain_error(&request_id, &e)),
            }
        }
        out
    }

    // ---- rooms ----------------------------------------------------------------------------

    fn group_result(&self, message_id: &str, jid: &str, status: i32, is_exit: bool) -> Out {
        let r = GroupMessageRespProBuf {
            message_head: Some(head(
                self.domain(),
                &self.me(),
                message_id,
                chat_type::RESULT,
            )),
            jid: jid.to_string(),
            status,
            is_exit,
        };
        Out::Frame(frame::encode(cmd::GROUP_REQUEST_RESULT, &r))
    }

    /// cmd 20: delivery follows the stored membership, so a join only confirms that the user
    /// is a member (status 1) or not (-1).
    async fn join(&mut self, payload: &[u8]) -> Vec<Out> {
        let j: JoinGroupMessageProBuf = match frame::decode(payload, "join request") {
            Ok(j) => j,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        let id = id_of(&j.message_head);
        let jid = j.jid.trim();
        let status = match rooms::member_room_by_jid(&self.ctx, self.user_id, jid).await {
            Ok(_) => 1,
            Err(Error::Internal(detail)) => {
                tracing::error!(error = %detail, "join: membership not readable");
                -1
            }
            Err(_) => -1,
        };
        vec![self.group_result(&id, jid, status, false)]
    }

    /// cmd 21: leaving is a REST matter (`/room/member/delete`); the session only confirms.
    fn exit(&mut self, payload: &[u8]) -> Vec<Out> {
        let x: ExitGroupMessageProBuf = match frame::decode(payload, "exit request") {
            Ok(x) => x,
            Err(text) => return vec![self.error("", CODE_MALFORMED, text)],
        };
        vec![self.group_result(&id_of(&x.message_head), x.jid.trim(), 1, true)]
    }

    // ---- pushes ---------------------------------------------------------------------------

    /// The cmd 10 frame of a delivery. Heads as the clients read them (spec 5.3 item 5): 1:1
    /// `from` = the sender's `userId/resource`, `to` = the addressee; group `from` = the
    /// sender, `to` = the room jid.
    fn render(&self, d: &Delivery) -> Vec<u8> {
        let h = MessageHead {
            from: d.from.clone(),
            to: d.to.clone(),
            message_id: d.message_id.clone(),
            chat_type: match d.chat_type {
                ChatType::Single => chat_type::CHAT,
                ChatType::Group => chat_type::GROUP,
            },
            offline: d.offline,
        };
        let m = body::from_json(&times::body_for(&d.body, self.time_unit), h);
        frame::encode(cmd::CHAT, &m)
    }

    /// Writes a delivery, remembering 1:1 messages to this user until the client's receipt.
    fn deliver(&mut self, d: Delivery) -> Out {
        let bytes = self.render(&d);
        let receipted = !body_type(&d.body).is_some_and(|t| NO_RECEIPT_TYPES.contains(&t));
        if d.chat_type == ChatType::Single && d.to == self.user_id.to_string() && receipted {
            self.unacked.push(d);
        }
        Out::Frame(bytes)
    }

    /// Renders what the router pushed to this session.
    pub async fn push(&mut self, push: Push) -> Vec<Out> {
        match push {
            Push::Conflict => {
                let e = CommonErrorProBuf {
                    message_head: Some(head(self.domain(), &self.me(), "", chat_type::RESULT)),
                    code: CODE_MALFORMED,
                    arg: "Replaced by new connection".into(),
                };
                vec![
                    Out::Frame(frame::encode(cmd::LOGIN_CONFLICT, &e)),
                    Out::Close,
                ]
            }
            // The binary protocol has no shutdown notice: the client sees the close and
            // reconnects.
            Push::Shutdown => vec![Out::Close],
            Push::OfflineNext if self.stage == Stage::Authenticated => {
                let mut out = Vec::new();
                self.flush_offline(&mut out).await;
                out
            }
            Push::OfflineWaiting
                if self.stage == Stage::Authenticated && self.offline_unwritten.is_none() =>
            {
                let mut out = Vec::new();
                self.flush_offline(&mut out).await;
                out
            }
            Push::OfflineNext | Push::OfflineWaiting => Vec::new(),
            Push::Overflow => vec![
                self.error("", CODE_MALFORMED, "too many messages waiting"),
                Out::Close,
            ],
            Push::Message(_) if self.stage != Stage::Authenticated => Vec::new(),
            Push::Message(d) => {
                let mut out = vec![self.deliver(*d)];
                if self
                    .unacked
                    .over(MAX_UNACKED, self.ctx.config.xmpp.max_unacked_bytes)
                {
                    out.push(self.error("", CODE_MALFORMED, "too many messages without receipt"));
                    out.push(Out::Close);
                }
                out
            }
        }
    }

    /// The connection ended (for any reason): called exactly once by the transport. What the
    /// router pushed but the transport never wrote, and 1:1 messages the client never
    /// confirmed, go back to the offline queue.
    pub async fn closed_with(&mut self, rx: &mut PushReceiver) {
        rx.close();
        if self.stage != Stage::Authenticated {
            self.stage = Stage::Closed;
            return;
        }
        self.stage = Stage::Closed;
        let me = self.user_id.to_string();
        while let Some(push) = rx.try_recv() {
            if let Push::Message(d) = push {
                if d.chat_type == ChatType::Single && d.to == me {
                    self.unacked.push(*d);
                }
            }
        }
        let uid = self.user_id;
        let id = self.session_id.take();
        // 1:1 deliveries the client never receipted go back to the queue for the next login.
        messages::requeue(&self.ctx, uid, self.unacked.take()).await;
        if let Some(id) = id {
            presence::session_closed(&self.ctx, uid, &self.resource, id).await;
        }
    }
}
