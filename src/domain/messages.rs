//! The message path: every message — an XMPP stanza, `/console/oneSendOne`, `/tigase/push`, a
//! notification the server emits — goes through [`send`]: validate and stamp, persist as the
//! reference's archive did (spec/reference-server.md 5.2–5.4), then hand it to the router, and
//! only then report success (nothing acknowledged is ever lost).

use serde_json::{json, Map, Value};

use super::error::{Code, Error, Result};
use super::handshake;
use super::times::TimeUnit;
use super::util::{now_millis, now_secs, uuid32};
use super::view::sorted;
use super::{Ctx, SYSTEM_SENDER_ID};
use crate::delivery::{ChatType, Delivery, SessionId};
use crate::documents::rooms::{ROLE_ADMIN, ROLE_OWNER};
use crate::documents::{LastChat, MsgRow, MucRow, NewFriend};
use crate::store::{ChatWrite, OfflineEntry};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A user, by userId.
    User(i32),
    /// A room, by jid.
    Room(String),
}

/// A message entering the path.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The stanza sender: a user, or 10005 for server notifications.
    pub from: i32,
    /// The sender's resource (`web`, `android`, `Server`, ...).
    pub resource: String,
    pub target: Target,
    /// The Shiku message body (`type`, `content`, ...), as the client sent it.
    pub body: Map<String, Value>,
    /// The session it came from (not echoed back to it).
    pub origin: Option<SessionId>,
}

/// What happened to a sent message.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub message_id: String,
    /// Written to history.
    pub stored: bool,
    /// The sender had already sent this messageId: nothing new was written or routed.
    pub duplicate: bool,
    /// Sessions it was handed to (recipient and the sender's other devices).
    pub delivered: usize,
    /// Put in the recipient's offline queue.
    pub queued: bool,
    /// The body as stored and delivered.
    pub body: String,
    /// Server time, ms.
    pub ts: i64,
}

/// Longest `messageId` accepted.
const MAX_MESSAGE_ID: usize = 128;
/// Largest message body accepted, bytes of JSON.
const MAX_BODY: usize = 64 * 1024;

/// Content types archived in history: 1–99 and 202 (recall), spec 5.2.
pub fn is_archived(msg_type: i32) -> bool {
    (1..=99).contains(&msg_type) || msg_type == 202
}

/// Transient types not worth keeping for an offline user (typing).
fn is_transient(msg_type: i32) -> bool {
    msg_type == 201
}

fn int_field(body: &Map<String, Value>, name: &str) -> Option<i64> {
    match body.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) != 0.0,
        Some(Value::String(s)) => s == "true" || s == "1",
        _ => false,
    }
}

/// The `content` column: the body's content as text.
fn content_text(body: &Map<String, Value>) -> String {
    match body.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The body's content type and messageId (a fresh 32-hex one when the client sent none).
fn type_and_id(body: &Map<String, Value>) -> Result<(i32, String)> {
    let msg_type = int_field(body, "type")
        .filter(|t| (0..=i32::MAX as i64).contains(t))
        .ok_or_else(|| Error::invalid("type", "消息类型应为整数 (integer message type)"))?
        as i32;
    let message_id = match body.get("messageId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => uuid32(),
        Some(_) => return Err(Error::invalid("messageId", "应为字符串")),
    };
    if message_id.len() > MAX_MESSAGE_ID || message_id.chars().any(char::is_control) {
        return Err(Error::invalid("messageId", "过长或含控制字符"));
    }
    Ok((msg_type, message_id))
}

/// A stored `timeSend` in ms (seconds are told apart by magnitude, `domain::times`).
pub fn time_send_millis(n: &serde_json::Number) -> i64 {
    millis(n.as_f64().unwrap_or(0.0))
}

/// A `timeSend` value in ms, whichever unit it is in.
fn millis(f: f64) -> i64 {
    match TimeUnit::of(f) {
        Some(TimeUnit::Seconds) => (f * 1000.0) as i64,
        _ => f as i64,
    }
}

/// A `timeSend` as sent, and its value in ms (seconds are told apart by magnitude).
fn time_send(body: &Map<String, Value>, now_ms: i64) -> (serde_json::Number, i64) {
    match body.get("timeSend") {
        Some(Value::Number(n)) => (n.clone(), time_send_millis(n)),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => {
                let n = if f.fract() == 0.0 {
                    serde_json::Number::from(f as i64)
                } else {
                    serde_json::Number::from_f64(f).unwrap_or_else(|| now_ms.into())
                };
                (n, millis(f))
            }
            _ => (now_ms.into(), now_ms),
        },
        _ => (now_ms.into(), now_ms),
    }
}

/// The offline-queue item of a delivery.
fn offline_entry(to: i32, delivery: &Delivery) -> Result<OfflineEntry> {
    let mut offline = delivery.clone();
    offline.offline = true;
    let payload = serde_json::to_string(&offline)
        .map_err(|e| Error::Internal(format!("offline payload: {e}")))?;
    Ok(OfflineEntry {
        user_id: to,
        payload,
        ts: delivery.ts,
    })
}

/// Whether a client may send this content type at all: not the server's notices (80x
/// multi-device sync, 9xx room control), and of the friend events only the handshakes clients
/// send (500–509, spec clients.md 4), never into a room.
fn client_may_send(msg_type: i32, group: bool) -> bool {
    match msg_type {
        800..=999 => false,
        500..=599 => !group && msg_type <= 509,
        _ => true,
    }
}

fn reserved_type(msg_type: i32) -> Error {
    Error::failure(format!(
        "客户端不能发送该类型的消息 (type {msg_type} is reserved to the server)"
    ))
}

fn not_your_message(id: &str) -> Error {
    Error::failure(format!(
        "只能撤回自己发送的消息 (only messages you sent can be recalled): {id}"
    ))
}

/// The messageId a 202 recall names (its `content`).
fn recalled_id(body: &Map<String, Value>) -> Result<String> {
    let id = content_text(body);
    if id.is_empty() || id.len() > MAX_MESSAGE_ID {
        return Err(Error::invalid("content", "应为撤回的 messageId"));
    }
    Ok(id)
}

/// What a user may send to another user, by type: no server notices; a recall (202) only of
/// a message it sent (never one the peer holds as sent by the peer); a 501 "pass" only to a
/// user who asked it to be friends.
async fn accept_single(
    ctx: &Ctx,
    from: i32,
    to: i32,
    msg_type: i32,
    body: &Map<String, Value>,
) -> Result<()> {
    if !client_may_send(msg_type, false) {
        return Err(reserved_type(msg_type));
    }
    if msg_type == 202 && from != to {
        let id = recalled_id(body)?;
        // The recall itself was often done first (`/tigase/deleteMsg`): a message nobody
        // holds any more may be announced.
        let (mine, theirs) = tokio::join!(
            ctx.store.messages.find_copy(from, &id),
            ctx.store.messages.find_copy(to, &id)
        );
        if mine?.is_some_and(|r| r.direction != 0) || theirs?.is_some_and(|r| r.direction == 0) {
            return Err(not_your_message(&id));
        }
    }
    if msg_type == handshake::PASS && !handshake::peer_asked(ctx, from, to).await? {
        return Err(Error::failure(
            "对方没有向你发送好友申请 (no friend request from this user to pass)",
        ));
    }
    Ok(())
}

/// What a member may send into a room, by type: no server notices or friend events; a recall
/// (202) of its own message, or of anyone's for the owner and admins.
async fn accept_group(
    ctx: &Ctx,
    from: i32,
    jid: &str,
    role: i32,
    msg_type: i32,
    body: &Map<String, Value>,
) -> Result<()> {
    if !client_may_send(msg_type, true) {
        return Err(reserved_type(msg_type));
    }
    if msg_type == 202 && role != ROLE_OWNER && role != ROLE_ADMIN {
        let id = recalled_id(body)?;
        let row = ctx.store.rooms.find_muc(jid, &id).await?;
        if row.is_some_and(|r| r.sender != from.to_string()) {
            return Err(not_your_message(&id));
        }
    }
    Ok(())
}

/// Sends a message through the path. See the module documentation.
pub async fn send(ctx: &Ctx, out: Outgoing) -> Result<Sent> {
    match out.target.clone() {
        Target::User(to) => send_single(ctx, out, to).await,
        Target::Room(jid) => send_group(ctx, out, &jid).await,
    }
}

async fn send_single(ctx: &Ctx, out: Outgoing, to: i32) -> Result<Sent> {
    let Outgoing {
        from,
        resource,
        mut body,
        origin,
        ..
    } = out;
    let (msg_type, message_id) = type_and_id(&body)?;
    let system = from == SYSTEM_SENDER_ID;
    // The three look-ups are independent: run them together (a shorter path per message keeps
    // more messages in each batched commit).
    let check_blacklist = !system && from != to;
    let (sender, receiver, refused) = tokio::join!(
        ctx.profiles.get(&ctx.store, from),
        ctx.profiles.get(&ctx.store, to),
        async {
            if check_blacklist {
                ctx.store.friends.refuses(to, from).await
            } else {
                Ok(false)
            }
        }
    );
    let sender = sender?.ok_or_else(|| Error::failure("发送者不存在"))?;
    if sender.status == -1 {
        return Err(Error::Code(Code::AccountIsLocked));
    }
    let receiver = receiver?.ok_or_else(|| Error::failure("该用户不存在!"))?;
    if refused? {
        return Err(Error::failure("你已被对方拉黑，消息发送失败"));
    }
    if !system {
        accept_single(ctx, from, to, msg_type, &body).await?;
    }
    let now_ms = now_millis();
    let (time_send, _time_send_ms) = time_send(&body, now_ms);
    let from_jid = format!("{from}/{resource}");
    // A user cannot speak for someone else; server notifications carry the acting user.
    if !system || !body.contains_key("fromUserId") {
        body.insert("fromUserId".into(), json!(from.to_string()));
    }
    // Nor under someone else's display name.
    if !system || !body.contains_key("fromUserName") {
        body.insert("fromUserName".into(), json!(sender.nickname));
    }
    // Notifications may name another user than the addressee (801 carries the friend).
    if !system || !body.contains_key("toUserId") {
        body.insert("toUserId".into(), json!(to.to_string()));
    }
    if !matches!(body.get("toUserName"), Some(Value::String(s)) if !s.is_empty()) {
        body.insert("toUserName".into(), json!(receiver.nickname));
    }
    body.insert("type".into(), json!(msg_type));
    body.insert("timeSend".into(), Value::Number(time_send.clone()));
    body.insert("messageId".into(), json!(message_id));
    body.insert(
        "messageHead".into(),
        json!({
            "chatType": 1,
            "from": from_jid,
            "messageId": message_id,
            "offline": false,
            "to": to.to_string(),
        }),
    );
    let body_text = sorted(body.clone()).to_string();
    if body_text.len() > MAX_BODY {
        return Err(Error::invalid("body", format!("消息超过 {MAX_BODY} 字节")));
    }
    let content = content_text(&body);
    let is_encrypt = truthy(body.get("isEncrypt"));
    let encrypt_type = int_field(&body, "encryptType").unwrap_or(0) as i32;
    let delete_time = int_field(&body, "deleteTime").unwrap_or(-1);

    let delivery = Delivery {
        chat_type: ChatType::Single,
        from: from_jid.clone(),
        to: to.to_string(),
        message_id: message_id.clone(),
        body: body_text.clone(),
        offline: false,
        ts: now_ms,
    };
    let queueable = !is_transient(msg_type);
    let at = ctx.router.locate(&[to, from]).await?;
    // An offline recipient's queue item is written in the same commit as the history rows.
    let offline_item = if queueable && !ctx.router.is_online(&at, to) {
        Some(offline_entry(to, &delivery)?)
    } else {
        None
    };
    let mut queued = false;
    let mut stored = false;
    if msg_type == 26 && from != to {
        // Read receipt: `content` is the messageId the reader (the sender of the receipt) read.
        ctx.store
            .messages
            .mark_read(from, std::slice::from_ref(&content))
            .await?;
    } else if (500..600).contains(&msg_type) && from != to {
        let now = now_secs();
        // Who asked, carried through the handshake so that `/friends/add` can tell consent.
        let asked_by = match msg_type {
            handshake::HELLO => Some(from),
            // Accepted above only when the peer asked.
            handshake::PASS if !system => Some(to),
            handshake::PASS | handshake::FEEDBACK => handshake::requester(ctx, from, to).await?,
            _ => None,
        };
        for (owner, peer, direction) in [(from, to, 0), (to, from, 1)] {
            ctx.store
                .messages
                .put_new_friend(&NewFriend {
                    user_id: owner,
                    to_user_id: peer,
                    from: asked_by,
                    direction,
                    msg_type,
                    content: content.clone(),
                    create_time: now,
                    modify_time: now,
                })
                .await?;
        }
    } else if is_archived(msg_type) && !truthy(body.get("isReadDel")) {
        let row = |owner: i32, peer: i32, direction: i32| MsgRow {
            id: None,
            message: body_text.clone(),
            body: body_text.clone(),
            direction,
            sender: owner.to_string(),
            receiver: peer.to_string(),
            sender_jid: from_jid.clone(),
            receiver_jid: to.to_string(),
            ts: now_ms,
            content_type: msg_type,
            message_id: message_id.clone(),
            time_send: time_send.clone(),
            delete_time,
            is_read: direction,
            is_encrypt,
            content: content.clone(),
        };
        let last = |owner: i32, peer: i32| LastChat {
            id: None,
            msg_type,
            message_id: message_id.clone(),
            time_send: time_send.clone(),
            content: content.clone(),
            user_id: owner.to_string(),
            jid: peer.to_string(),
            is_room: 0,
            is_encrypt,
            encrypt_type,
            from: from_jid.clone(),
            to: to.to_string(),
            from_user_name: body
                .get("fromUserName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            to_user_name: body
                .get("toUserName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            ts: now_ms,
        };
        let (rows, last_chats) = if from == to {
            (vec![row(from, to, 0)], vec![last(from, to)])
        } else {
            (
                vec![row(from, to, 0), row(to, from, 1)],
                vec![last(from, to), last(to, from)],
            )
        };
        queued = offline_item.is_some();
        let write = ChatWrite {
            rows,
            last_chats,
            offline: offline_item.clone(),
        };
        if !ctx.store.messages.store_chat(&write).await? {
            return Ok(Sent {
                message_id,
                stored: false,
                duplicate: true,
                delivered: 0,
                queued: false,
                body: body_text,
                ts: now_ms,
            });
        }
        if queued {
            // The queue item was written with the message: its seq is not known here.
            bound_offline(ctx, to, i64::from(rand::random::<u8>())).await;
            // The recipient may have logged in (and read their queue) meanwhile.
            ctx.router.offline_waiting(to).await;
        }
        stored = true;
    }

    let mut delivered = 0;
    if offline_item.is_none() {
        delivered = ctx.router.deliver(&at, to, &delivery, origin).await;
    }
    if !queued && delivered == 0 && queueable {
        // Not archived (receipts, friend events), or the recipient's sessions went away.
        let item = offline_entry(to, &delivery)?;
        let seq = ctx
            .store
            .messages
            .enqueue_offline(item.user_id, &item.payload, item.ts)
            .await?;
        bound_offline(ctx, to, seq).await;
        queued = true;
        // A session that is connected after all (on a node that did not answer, or one that
        // just logged in) reads it now.
        ctx.router.offline_waiting(to).await;
    }
    if from != to && !system {
        // The sender's other devices see what it sent (multi-device sync).
        delivered += ctx.router.deliver(&at, from, &delivery, origin).await;
    }
    Ok(Sent {
        message_id,
        stored,
        duplicate: false,
        delivered,
        queued,
        body: body_text,
        ts: now_ms,
    })
}

/// Group content types that are not archived in `mucmsg_<jid>` (spec 5.3): 0, read receipts and
/// calls/typing (100–200). Room-control notifications (9xx) are stored.
fn is_muc_archived(msg_type: i32) -> bool {
    !(msg_type == 0 || msg_type == 26 || (100..=200).contains(&msg_type))
}

async fn send_group(ctx: &Ctx, out: Outgoing, jid: &str) -> Result<Sent> {
    let Outgoing {
        from,
        resource,
        mut body,
        origin,
        ..
    } = out;
    let (msg_type, message_id) = type_and_id(&body)?;
    let room = ctx
        .store
        .rooms
        .get_room_by_jid(jid)
        .await?
        .ok_or_else(|| Error::failure("群组不存在！"))?;
    let room_id = room.id.clone().unwrap_or_default();
    let system = from == SYSTEM_SENDER_ID;
    let now_ms = now_millis();
    if !system {
        if room.s == -1 {
            return Err(Error::failure("该群组已被锁定！"));
        }
        let sender = ctx
            .store
            .users
            .get_user(from)
            .await?
            .ok_or_else(|| Error::failure("发送者不存在"))?;
        if sender.status == -1 {
            return Err(Error::Code(Code::AccountIsLocked));
        }
        let member = ctx
            .store
            .rooms
            .get_member(&room_id, from)
            .await?
            .ok_or_else(|| Error::failure("你不是该群成员，不能发言"))?;
        let now = now_secs();
        if member.talk_time > now {
            return Err(Error::failure("你已被禁言"));
        }
        if room.talk_time > now && member.role > 2 {
            return Err(Error::failure("全员禁言中，只有群主和管理员可以发言"));
        }
        accept_group(ctx, from, jid, member.role, msg_type, &body).await?;
        body.insert("fromUserId".into(), json!(from.to_string()));
        let name = if member.nickname.is_empty() {
            sender.nickname
        } else {
            member.nickname
        };
        body.insert("fromUserName".into(), json!(name));
    } else if !body.contains_key("fromUserId") {
        body.insert("fromUserId".into(), json!(from.to_string()));
    }
    let (time_send, _) = time_send(&body, now_ms);
    let from_jid = format!("{from}/{resource}");
    if !system || !body.contains_key("toUserId") {
        body.insert("toUserId".into(), json!(jid));
        body.insert("toUserName".into(), json!(room.name));
    }
    body.insert("type".into(), json!(msg_type));
    body.insert("timeSend".into(), Value::Number(time_send.clone()));
    body.insert("messageId".into(), json!(message_id));
    body.insert(
        "messageHead".into(),
        json!({
            "chatType": 2,
            "from": from_jid,
            "messageId": message_id,
            "offline": false,
            "to": jid,
        }),
    );
    let body_text = sorted(body.clone()).to_string();
    if body_text.len() > MAX_BODY {
        return Err(Error::invalid("body", format!("消息超过 {MAX_BODY} 字节")));
    }
    let content = content_text(&body);
    // The acting user: the sender, or for notifications the user the body names.
    let actor = body
        .get("fromUserId")
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| from.to_string());
    let mut stored = false;
    if is_muc_archived(msg_type) {
        let row = MucRow {
            id: None,
            message: body_text.clone(),
            body: body_text.clone(),
            room_jid: jid.to_string(),
            room_jid_id: jid.to_string(),
            sender_jid: from_jid.clone(),
            sender: actor.clone(),
            ts: now_ms,
            content_type: msg_type,
            message_id: message_id.clone(),
            time_send: time_send.clone(),
            delete_time: int_field(&body, "deleteTime").unwrap_or(0),
            content: content.clone(),
            read_count: 0,
        };
        if !ctx.store.rooms.store_muc(jid, &row).await? {
            return Ok(Sent {
                message_id,
                stored: false,
                duplicate: true,
                delivered: 0,
                queued: false,
                body: body_text,
                ts: now_ms,
            });
        }
        stored = true;
        // Red-packet-received notices do not move the conversation (spec 5.4).
        if !(msg_type == 83 && body.contains_key("objectId")) {
            ctx.store
                .messages
                .upsert_last_chat(&LastChat {
                    id: None,
                    msg_type,
                    message_id: message_id.clone(),
                    time_send: time_send.clone(),
                    content: content.clone(),
                    user_id: actor,
                    jid: jid.to_string(),
                    is_room: 1,
                    is_encrypt: truthy(body.get("isEncrypt")),
                    encrypt_type: int_field(&body, "encryptType").unwrap_or(0) as i32,
                    from: from_jid.clone(),
                    to: jid.to_string(),
                    from_user_name: body
                        .get("fromUserName")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    to_user_name: room.name.clone(),
                    ts: now_ms,
                })
                .await?;
        }
    }
    let delivery = Delivery {
        chat_type: ChatType::Group,
        from: from_jid,
        to: jid.to_string(),
        message_id: message_id.clone(),
        body: body_text.clone(),
        offline: false,
        ts: now_ms,
    };
    // Every member's sessions from the stored membership (clients need not "join"), except the
    // session it came from; offline members catch up through the room history.
    let members = ctx.store.rooms.member_ids(&room_id).await?;
    let at = ctx.router.locate(&members).await?;
    let delivered = ctx
        .router
        .deliver_each(&at, &members, &delivery, origin)
        .await;
    Ok(Sent {
        message_id,
        stored,
        duplicate: false,
        delivered,
        queued: false,
        body: body_text,
        ts: now_ms,
    })
}

/// A server notification (reference `MessageBean`, spec 6.3).
#[derive(Debug, Clone, Default)]
pub struct Notice {
    pub msg_type: i32,
    pub content: Value,
    /// The acting user (defaults to "10005").
    pub from_user_id: Option<String>,
    pub from_user_name: Option<String>,
    /// The user the notice is about, when not the addressee (defaults to the addressee).
    pub to_user_id: Option<String>,
    pub to_user_name: Option<String>,
    pub object_id: Option<Value>,
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub other: Option<String>,
}

impl Notice {
    /// The MessageBean body with the newer clients' defaults.
    pub fn body(&self, message_id: &str) -> Map<String, Value> {
        let mut b = Map::new();
        b.insert("type".into(), json!(self.msg_type));
        b.insert("content".into(), self.content.clone());
        b.insert(
            "fromUserId".into(),
            json!(self.from_user_id.clone().unwrap_or_else(|| "10005".into())),
        );
        b.insert(
            "fromUserName".into(),
            json!(self
                .from_user_name
                .clone()
                .unwrap_or_else(|| "10005".into())),
        );
        if let Some(t) = &self.to_user_id {
            b.insert("toUserId".into(), json!(t));
        }
        if let Some(n) = &self.to_user_name {
            b.insert("toUserName".into(), json!(n));
        }
        if let Some(o) = &self.object_id {
            b.insert("objectId".into(), o.clone());
        }
        if let Some(f) = &self.file_name {
            b.insert("fileName".into(), json!(f));
        }
        b.insert("fileSize".into(), json!(self.file_size.unwrap_or(0)));
        if let Some(o) = &self.other {
            b.insert("other".into(), json!(o));
        }
        b.insert("timeSend".into(), json!(now_millis()));
        b.insert("messageId".into(), json!(message_id));
        b.insert("isEncrypt".into(), json!(false));
        b.insert("isReadDel".into(), json!(false));
        b.insert("deleteTime".into(), json!(0));
        b.insert("encryptType".into(), json!(0));
        b.insert("location_x".into(), json!(0.0));
        b.insert("location_y".into(), json!(0.0));
        b.insert("fileTime".into(), json!(0));
        b
    }
}

/// Sends a server notification to one user, from `10005/Server`, with a fresh 32-hex messageId.
pub async fn notify_user(ctx: &Ctx, to: i32, notice: &Notice) -> Result<Sent> {
    let body = notice.body(&uuid32());
    send(
        ctx,
        Outgoing {
            from: SYSTEM_SENDER_ID,
            resource: "Server".into(),
            target: Target::User(to),
            body,
            origin: None,
        },
    )
    .await
}

/// Sends a server notification into a room (stored in its history, delivered to every member).
pub async fn notify_room(ctx: &Ctx, jid: &str, notice: &Notice) -> Result<Sent> {
    notify_room_with_id(ctx, jid, notice, &uuid32()).await
}

async fn notify_room_with_id(
    ctx: &Ctx,
    jid: &str,
    notice: &Notice,
    message_id: &str,
) -> Result<Sent> {
    let body = notice.body(message_id);
    send(
        ctx,
        Outgoing {
            from: SYSTEM_SENDER_ID,
            resource: "Server".into(),
            target: Target::Room(jid.to_string()),
            body,
            origin: None,
        },
    )
    .await
}

/// The reference's "single + group" pair: the same notification to one user and into the room,
/// with one messageId for both (spec 6.3).
pub async fn notify_user_and_room(
    ctx: &Ctx,
    to: i32,
    jid: &str,
    notice: &Notice,
) -> Result<String> {
    let message_id = uuid32();
    send(
        ctx,
        Outgoing {
            from: SYSTEM_SENDER_ID,
            resource: "Server".into(),
            target: Target::User(to),
            body: notice.body(&message_id),
            origin: None,
        },
    )
    .await?;
    notify_room_with_id(ctx, jid, notice, &message_id).await?;
    Ok(message_id)
}

/// The same notification to several users and into the room, with one messageId for all
/// (903 and 931 reach every member and the room). Failures for single users are logged, so one
/// bad member does not stop the others; the room copy must succeed.
pub async fn notify_users_and_room(
    ctx: &Ctx,
    users: &[i32],
    jid: &str,
    notice: &Notice,
) -> Result<String> {
    let message_id = uuid32();
    for &to in users {
        let sent = send(
            ctx,
            Outgoing {
                from: SYSTEM_SENDER_ID,
                resource: "Server".into(),
                target: Target::User(to),
                body: notice.body(&message_id),
                origin: None,
            },
        )
        .await;
        if let Err(e) = sent {
            tracing::warn!(to, msg_type = notice.msg_type, error = %e, "notification not sent");
        }
    }
    notify_room_with_id(ctx, jid, notice, &message_id).await?;
    Ok(message_id)
}

/// A conversation row re-pointed at a stored copy.
fn last_chat_from(row: &MsgRow, owner: i32, peer: i32) -> LastChat {
    let body: Map<String, Value> = serde_json::from_str(&row.message)
        .or_else(|_| serde_json::from_str(&row.body))
        .unwrap_or_default();
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    LastChat {
        id: None,
        msg_type: row.content_type,
        message_id: row.message_id.clone(),
        time_send: row.time_send.clone(),
        content: row.content.clone(),
        user_id: owner.to_string(),
        jid: peer.to_string(),
        is_room: 0,
        is_encrypt: row.is_encrypt,
        encrypt_type: int_field(&body, "encryptType").unwrap_or(0) as i32,
        from: row.sender_jid.clone(),
        to: row.receiver_jid.clone(),
        from_user_name: s("fromUserName"),
        to_user_name: s("toUserName"),
        ts: row.ts,
    }
}

/// Points `owner`'s conversation row with `peer` at the newest remaining copy, or removes it
/// when none remains.
pub async fn refresh_last_chat(ctx: &Ctx, owner: i32, peer: i32) -> Result<()> {
    match ctx.store.messages.newest_copy(owner, peer).await? {
        Some(row) => {
            ctx.store
                .messages
                .upsert_last_chat(&last_chat_from(&row, owner, peer))
                .await?
        }
        None => {
            ctx.store
                .messages
                .delete_last_chat(owner, &peer.to_string())
                .await?;
        }
    }
    Ok(())
}

/// Deletes a user's expired copies (`0 < deleteTime < now`, read), as the reference does at
/// every login, and re-points the affected conversations.
pub async fn expire(ctx: &Ctx, owner: i32) -> Result<()> {
    let peers = ctx.store.messages.delete_expired(owner, now_secs()).await?;
    for peer in peers {
        refresh_last_chat(ctx, owner, peer).await?;
    }
    Ok(())
}

/// Items waiting in a user's offline queue, oldest first, with their queue positions.
pub async fn offline_queue(ctx: &Ctx, user_id: i32, limit: u64) -> Result<Vec<(i64, Delivery)>> {
    let items = ctx.store.messages.peek_offline(user_id, limit).await?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_str::<Delivery>(&item.payload) {
            Ok(d) => out.push((item.seq, d)),
            Err(e) => {
                tracing::warn!(user_id, seq = item.seq, error = %e, "dropping unreadable offline item")
            }
        }
    }
    Ok(out)
}

/// Puts deliveries a session was handed but the client never confirmed back in the user's
/// offline queue, for the next login (history already holds them: only the queue item is
/// written again). Failures are logged per message, so one does not stop the others.
pub async fn requeue(ctx: &Ctx, user_id: i32, deliveries: Vec<Delivery>) {
    for d in deliveries {
        let item = match offline_entry(user_id, &d) {
            Ok(item) => item,
            Err(e) => {
                tracing::error!(error = %e, message_id = d.message_id, "message not requeued");
                continue;
            }
        };
        match ctx
            .store
            .messages
            .enqueue_offline(item.user_id, &item.payload, item.ts)
            .await
        {
            Ok(seq) => bound_offline(ctx, user_id, seq).await,
            Err(e) => {
                tracing::error!(error = %e, message_id = d.message_id, "message not requeued")
            }
        }
    }
}

/// Enqueues at which the recipient's offline queue is checked against its caps: one in
/// `TRIM_EVERY` (by the global `seq`), so a flood pays for the check, not every message.
const TRIM_EVERY: i64 = 16;

/// Holds a user's offline queue to `xmpp.offline_max_messages` and `offline_max_bytes` after
/// an enqueue of `seq`: the oldest items go (archived messages stay in history, where clients
/// read them). Failures are logged: the message itself is queued.
async fn bound_offline(ctx: &Ctx, user_id: i32, seq: i64) {
    if seq % TRIM_EVERY != 0 {
        return;
    }
    let x = &ctx.config.xmpp;
    match ctx
        .store
        .messages
        .trim_offline(user_id, x.offline_max_messages, x.offline_max_bytes)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            user_id,
            dropped = n,
            "offline queue over its cap: oldest dropped"
        ),
        Err(e) => tracing::warn!(user_id, error = %e, "offline queue not trimmed"),
    }
}

/// Acknowledges a user's offline items up to `seq` (they reached a session).
pub async fn ack_offline(ctx: &Ctx, user_id: i32, seq: i64) -> Result<()> {
    ctx.store.messages.ack_offline(user_id, seq).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_types_follow_the_reference() {
        assert!(is_archived(1) && is_archived(99) && is_archived(202));
        // 26 is in range but handled as a read receipt before archiving.
        assert!(!is_archived(0));
        assert!(!is_archived(100) && !is_archived(201) && !is_archived(907) && !is_archived(500));
    }

    #[test]
    fn time_send_units() {
        let mut b = Map::new();
        b.insert("timeSend".into(), json!(1559788026.732));
        let (n, ms) = time_send(&b, 0);
        assert_eq!(n.as_f64(), Some(1559788026.732));
        assert_eq!(ms, 1559788026732);
        b.insert("timeSend".into(), json!(1614048376311i64));
        let (n, ms) = time_send(&b, 0);
        assert_eq!(n.as_i64(), Some(1614048376311));
        assert_eq!(ms, 1614048376311);
        b.remove("timeSend");
        assert_eq!(time_send(&b, 7).1, 7);
    }
}
