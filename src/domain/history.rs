//! The read and delete side of chat history (spec/reference-server.md 3.5, 5.4–5.5): the
//! conversation list, one conversation's history, search, deletion and recall, read marks,
//! pinned dialogs and `/tigase/push`. Writes go through [`super::messages::send`]; this module
//! only reads the caller's own copies and removes them, then re-points the conversation rows.
//!
//! Every operation works on the caller's copies (`sender == me`): a 1:1 message is stored once
//! per party, so nobody ever reads or deletes another user's copy, except the recall, which
//! removes the peer's copy of a message the caller sent.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{Error, Result};
use super::messages::{self, Outgoing, Target};
use super::times::{self, TimeUnit};
use super::util::now_secs;
use super::view::{to_map, JsonArray, JsonText};
use super::{rooms, users, Ctx};
use crate::documents::{LastChat, MsgRow, MucRow, StickDialog};
use crate::store::{FriendQuery, HistoryQuery, MucQuery, Patch, RoomQuery};

/// Default `pageSize` of `/tigase/shiku_msgs`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest `pageSize` honoured: clients "load more" by asking for ever bigger pages.
pub const MAX_PAGE_SIZE: u64 = 5000;
/// Rows read from the store at a time while a page is filled within its byte budget.
const PAGE_CHUNK: u64 = 50;
/// Most messageIds one `/tigase/deleteMsg` or `/tigase/changeRead` call may name.
pub const MAX_IDS: usize = 1000;
/// Most recipients of one `/tigase/push`.
pub const MAX_PUSH_RECIPIENTS: usize = 500;
/// Most rows of each kind `/tigase/search` answers.
const SEARCH_LIMIT: u64 = 200;
/// Longest search text accepted.
const MAX_SEARCH_CHARS: usize = 100;
/// Longest jid accepted (room jids are 32-hex UUIDs; leave room for other generations).
const MAX_JID: usize = 64;
/// Longest messageId accepted (as `messages::send` accepts them).
const MAX_MESSAGE_ID: usize = 128;

/// A time bound in ms from a `startTime`/`endTime` parameter: 0 (or less) = unbounded. Clients
/// send ms; a value below 1e11 can only be seconds (ms would be before 1973), so it is scaled,
/// to the end of that second for an upper bound.
pub fn ms_bound(v: i64, upper: bool) -> Option<i64> {
    match v {
        v if v <= 0 => None,
        v if v < 100_000_000_000 => Some(v * 1000 + if upper { 999 } else { 0 }),
        v => Some(v),
    }
}

/// A comma-separated `messageId` list: trimmed, empty items dropped, duplicates removed.
pub fn parse_ids(name: &str, raw: &str) -> Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if id.len() > MAX_MESSAGE_ID || id.chars().any(char::is_control) {
            return Err(Error::invalid(name, format!("过长或含控制字符: {id:?}")));
        }
        if seen.insert(id.to_string()) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        return Err(Error::missing(name));
    }
    if ids.len() > MAX_IDS {
        return Err(Error::invalid(
            name,
            format!("一次最多 {MAX_IDS} 个 (at most {MAX_IDS} ids)"),
        ));
    }
    Ok(ids)
}

/// The JSON text of a stored message: the newer generation keeps it in `message`, the Tigase
/// generation in `body` (with the XML stanza in `message`). The first that holds a JSON object.
fn body_json(row: &MsgRow) -> &str {
    let is_object = |s: &str| s.trim_start().starts_with('{');
    [row.message.as_str(), row.body.as_str()]
        .into_iter()
        .find(|s| is_object(s))
        .or_else(|| {
            [row.message.as_str(), row.body.as_str()]
                .into_iter()
                .find(|s| !s.is_empty())
        })
        .unwrap_or("")
}

/// A history row as clients read it (seed 002 2.5): the stored fields, with `body` and
/// `message` both holding the message JSON (the jQuery client parses `body`, the Vue clients
/// `message`).
/// `timeSend` is given in `unit` (None: as sent; `domain::times`).
pub fn row_view(row: &MsgRow, unit: Option<TimeUnit>) -> Result<Value> {
    let text = shown_text(body_json(row), unit)?;
    Ok(Value::Object(to_map(&row_shown(row, &text, unit))))
}

/// The message JSON as shown in `unit`, written as a JSON string once for the two fields that
/// carry it (escaping it twice was a sixth of a history page's CPU).
fn shown_text(stored: &str, unit: Option<TimeUnit>) -> Result<Box<RawValue>> {
    let text = match unit {
        Some(u) => times::body_for(stored, u),
        None => Cow::Borrowed(stored),
    };
    serde_json::value::to_raw_value(&text).map_err(|e| Error::Internal(e.to_string()))
}

/// A history row written as [`row_view`] shows it, straight to JSON text.
fn row_text(row: &MsgRow, unit: Option<TimeUnit>) -> Result<String> {
    let text = shown_text(body_json(row), unit)?;
    written_row(
        &row_shown(row, &text, unit),
        row_bytes(text.get(), &row.content),
    )
}

/// A group-history row written as [`muc_view`] shows it, straight to JSON text.
fn muc_text(row: &MucRow, unit: Option<TimeUnit>) -> Result<String> {
    let text = shown_text(muc_json(row), unit)?;
    written_row(
        &muc_shown(row, &text, unit),
        row_bytes(text.get(), &row.content),
    )
}

/// A shown row written to JSON text in a buffer of `size` bytes to start with.
fn written_row(shown: &impl Serialize, size: usize) -> Result<String> {
    let internal = |e: &dyn std::fmt::Display| Error::Internal(e.to_string());
    let mut out = Vec::with_capacity(size);
    serde_json::to_writer(&mut out, shown).map_err(|e| internal(&e))?;
    // serde writes only UTF-8: checked rather than assumed.
    String::from_utf8(out).map_err(|e| internal(&e))
}

/// How a row's kept writing was written (`store::Shared`): the time unit of `timeSend`.
fn unit_tag(unit: Option<TimeUnit>) -> u64 {
    match unit {
        None => 0,
        Some(TimeUnit::Seconds) => 1,
        Some(TimeUnit::Millis) => 2,
    }
}

/// [`row_view`] as a typed row, serialised straight into an answer: [`MsgRow`]'s fields in its
/// order, `message` and `body` both `text`.
fn row_shown<'a>(row: &'a MsgRow, text: &'a RawValue, unit: Option<TimeUnit>) -> MsgShown<'a> {
    let time_send = match unit {
        Some(u) if !(row.is_encrypt || times::body_encrypted(body_json(row))) => {
            u.convert(&row.time_send)
        }
        _ => row.time_send.clone(),
    };
    MsgShown {
        id: row.id.as_deref(),
        message: text,
        body: text,
        direction: row.direction,
        sender: &row.sender,
        receiver: &row.receiver,
        sender_jid: &row.sender_jid,
        receiver_jid: &row.receiver_jid,
        ts: row.ts,
        content_type: row.content_type,
        message_id: &row.message_id,
        time_send,
        delete_time: row.delete_time,
        is_read: row.is_read,
        is_encrypt: row.is_encrypt,
        content: &row.content,
    }
}

/// A [`MsgRow`] as [`row_view`] shows it (the same fields in the same order).
#[derive(Serialize)]
struct MsgShown<'a> {
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    message: &'a RawValue,
    body: &'a RawValue,
    direction: i32,
    sender: &'a str,
    receiver: &'a str,
    sender_jid: &'a str,
    receiver_jid: &'a str,
    ts: i64,
    #[serde(rename = "contentType")]
    content_type: i32,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    #[serde(rename = "timeSend")]
    time_send: serde_json::Number,
    #[serde(rename = "deleteTime")]
    delete_time: i64,
    #[serde(rename = "isRead")]
    is_read: i32,
    #[serde(rename = "isEncrypt")]
    is_encrypt: bool,
    content: &'a str,
}

/// A conversation-list row as clients read it (seed 002 1.4), `timeSend` in `unit`.
pub fn last_chat_view(row: &LastChat, unit: Option<TimeUnit>) -> Value {
    Value::Object(to_map(&last_chat_shown(row.clone(), unit)))
}

/// [`last_chat_view`] as a typed row.
fn last_chat_shown(mut row: LastChat, unit: Option<TimeUnit>) -> LastChat {
    if let Some(u) = unit {
        if !row.is_encrypt {
            row.time_send = u.convert(&row.time_send);
        }
    }
    row
}

/// A conversation-list row written as [`last_chat_view`] shows it, straight to JSON text.
fn last_chat_text(row: &LastChat, unit: Option<TimeUnit>) -> Result<String> {
    written_row(
        &last_chat_shown(row.clone(), unit),
        row_bytes("", &row.content),
    )
}

/// The unit this deployment's history answers give `timeSend` in.
fn history_unit(ctx: &Ctx) -> Option<TimeUnit> {
    times::history_unit(ctx.config.client.history_time_unit)
}

/// `/tigase/shiku_msgs` parameters.
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    /// The peer.
    pub receiver: i32,
    /// `startTime`/`endTime` as sent (ms; 0 = unbounded).
    pub start_time: i64,
    pub end_time: i64,
    pub page_index: u64,
    pub page_size: u64,
    /// Only `contentType < maxType` when > 0.
    pub max_type: i32,
}

/// `/tigase/shiku_msgs`: my copies of the conversation with `receiver`, newest first. My copies
/// hold both directions (`direction` 0 sent, 1 received).
pub async fn history(ctx: &Ctx, me: i32, r: &HistoryRequest) -> Result<JsonText> {
    let limit = r.page_size.clamp(1, MAX_PAGE_SIZE);
    let mut q = HistoryQuery {
        owner: me,
        peer: r.receiver,
        start_ms: ms_bound(r.start_time, false),
        end_ms: ms_bound(r.end_time, true),
        max_type: (r.max_type > 0).then_some(r.max_type),
        skip: r.page_index.saturating_mul(limit),
        limit,
    };
    let mut page = Page::new(ctx, limit);
    while let Some(n) = page.next_chunk() {
        q.limit = n;
        let rows = ctx.store.messages.history(&q).await?;
        q.skip += rows.len() as u64;
        let last = (rows.len() as u64) < n;
        let unit = history_unit(ctx);
        for row in &rows {
            let text = row.made(unit_tag(unit), |r| row_text(r, unit))?;
            if !page.push_written(&text).await? {
                break;
            }
        }
        if last {
            break;
        }
    }
    page.into_json()
}

/// A history page being filled: at most `rows` rows and `limits.max_page_bytes` of rows (a
/// history row counted as written, its message text twice: `body` and `message`), read from the store
/// a chunk at a time so a page of large messages never sits in memory whole. Its rows also
/// hold their share of `limits.max_pages_bytes`, which bounds what all pages being built hold
/// together however many are asked for at once.
struct Page {
    /// The rows written to JSON as they come.
    rows: JsonArray,
    wanted: u64,
    bytes: usize,
    budget: usize,
    full: bool,
    shared: Arc<Semaphore>,
    /// KiB of `shared` this page holds, given back when it is done.
    held: Option<OwnedSemaphorePermit>,
    /// All of `shared`: no single row waits for more.
    shared_kib: usize,
}

/// Longest a page waits for its first row's share of `limits.max_pages_bytes`.
const PAGE_WAIT: Duration = Duration::from_secs(10);

impl Page {
    fn new(ctx: &Ctx, wanted: u64) -> Page {
        Page {
            rows: JsonArray::with_capacity(4096),
            wanted,
            bytes: 0,
            budget: ctx.config.limits.max_page_bytes,
            full: false,
            shared: ctx.pages.clone(),
            held: None,
            shared_kib: (ctx.config.limits.max_pages_bytes / 1024).max(1),
        }
    }

    /// How many rows to read next; None once the page is full.
    fn next_chunk(&self) -> Option<u64> {
        let left = self.wanted - self.rows.len() as u64;
        (!self.full && left > 0).then(|| left.min(PAGE_CHUNK))
    }

    /// Adds a row written as JSON unless the page's byte budget is spent or the pages being
    /// built hold all of theirs (see [`Page::admit`]); false when the page is full.
    async fn push_written(&mut self, text: &str) -> Result<bool> {
        if !self.admit(text.len()).await? {
            return Ok(false);
        }
        self.rows.push_raw(text);
        Ok(true)
    }

    /// Takes a row of `size` bytes' share of the budgets unless the page's own is spent or the
    /// pages being built hold all of theirs (the first row always fits, once there is room for
    /// it: busy after [`PAGE_WAIT`]); false when the page is full.
    async fn admit(&mut self, size: usize) -> Result<bool> {
        if !self.rows.is_empty() && self.bytes + size > self.budget {
            self.full = true;
            return Ok(false);
        }
        let kib = size.div_ceil(1024).min(self.shared_kib) as u32;
        let permit = match self.shared.clone().try_acquire_many_owned(kib) {
            Ok(p) => p,
            Err(_) if !self.rows.is_empty() => {
                self.full = true;
                return Ok(false);
            }
            Err(_) => tokio::time::timeout(PAGE_WAIT, self.shared.clone().acquire_many_owned(kib))
                .await
                .map_err(|_| Error::Busy)?
                .map_err(|_| Error::Busy)?,
        };
        match &mut self.held {
            Some(h) => h.merge(permit),
            None => self.held = Some(permit),
        }
        self.bytes += size;
        Ok(true)
    }

    /// The page as a JSON array.
    fn into_json(self) -> Result<JsonText> {
        self.rows
            .finish()
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

/// The bytes a history row costs in an answer: its message text (in `body` and `message`) and
/// its content, plus the small fields.
fn row_bytes(text: &str, content: &str) -> usize {
    256 + 2 * text.len() + content.len()
}

/// The jids of the rooms `me` belongs to, whose shared conversation rows join my list.
async fn my_room_jids(ctx: &Ctx, me: i32) -> Result<Vec<String>> {
    Ok(ctx.store.rooms.room_jids_of(me).await?)
}

/// A group-history row as clients read it (seed 002 1.6): the stored fields with `body` and
/// `message` both holding the message JSON, without the repo generation's `room_jid_id`.
/// `timeSend` is given in `unit` (None: as sent).
pub fn muc_view(row: &MucRow, unit: Option<TimeUnit>) -> Result<Value> {
    let text = shown_text(muc_json(row), unit)?;
    Ok(Value::Object(to_map(&muc_shown(row, &text, unit))))
}

/// The JSON text of a stored group message: the first of `message` and `body` that holds a
/// JSON object.
pub fn muc_json(row: &MucRow) -> &str {
    let is_object = |s: &str| s.trim_start().starts_with('{');
    [row.message.as_str(), row.body.as_str()]
        .into_iter()
        .find(|s| is_object(s))
        .unwrap_or(row.message.as_str())
}

/// [`muc_view`] as a typed row: the stored field order (the seed's), `message` and `body`
/// both `text`.
fn muc_shown<'a>(row: &'a MucRow, text: &'a RawValue, unit: Option<TimeUnit>) -> MucShown<'a> {
    let time_send = match unit {
        Some(u) if !times::body_encrypted(muc_json(row)) => u.convert(&row.time_send),
        _ => row.time_send.clone(),
    };
    MucShown {
        id: row.id.as_deref(),
        message: text,
        body: text,
        room_jid: if row.room_jid.is_empty() {
            &row.room_jid_id
        } else {
            &row.room_jid
        },
        sender_jid: &row.sender_jid,
        sender: &row.sender,
        ts: row.ts,
        content_type: row.content_type,
        message_id: &row.message_id,
        time_send,
        delete_time: row.delete_time,
        content: &row.content,
        read_count: row.read_count,
    }
}

/// A [`MucRow`] as [`muc_view`] shows it.
#[derive(Serialize)]
struct MucShown<'a> {
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    message: &'a RawValue,
    body: &'a RawValue,
    room_jid: &'a str,
    sender_jid: &'a str,
    sender: &'a str,
    ts: i64,
    #[serde(rename = "contentType")]
    content_type: i32,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    #[serde(rename = "timeSend")]
    time_send: serde_json::Number,
    #[serde(rename = "deleteTime")]
    delete_time: i64,
    content: &'a str,
    #[serde(rename = "readCount")]
    read_count: i32,
}

/// `/tigase/shiku_muc_msgs` parameters.
#[derive(Debug, Clone)]
pub struct MucHistoryRequest {
    /// The room jid.
    pub jid: String,
    /// ms; 0 = unbounded.
    pub start_time: i64,
    pub end_time: i64,
    pub page_index: u64,
    pub page_size: u64,
    /// Only `contentType < maxType` when > 0.
    pub max_type: i32,
}

/// `/tigase/shiku_muc_msgs`: a room's history, newest first, for members only, without the
/// messages I deleted for myself. With a `startTime`, nothing from before I joined.
pub async fn muc_history(ctx: &Ctx, me: i32, r: &MucHistoryRequest) -> Result<JsonText> {
    let jid = check_jid(&r.jid)?;
    let (_, member) = rooms::member_room_by_jid(ctx, me, jid).await?;
    let limit = r.page_size.clamp(1, MAX_PAGE_SIZE);
    let start = ms_bound(r.start_time, false).map(|s| s.max(member.create_time * 1000));
    let mut q = MucQuery {
        jid: jid.to_string(),
        start_ms: start,
        end_ms: ms_bound(r.end_time, true),
        max_type: (r.max_type > 0).then_some(r.max_type),
        hidden: ctx.store.rooms.hidden_muc(me, jid).await?,
        skip: r.page_index.saturating_mul(limit),
        limit,
    };
    let mut page = Page::new(ctx, limit);
    while let Some(n) = page.next_chunk() {
        q.limit = n;
        let rows = ctx.store.rooms.muc_history(&q).await?;
        q.skip += rows.len() as u64;
        let last = (rows.len() as u64) < n;
        let unit = history_unit(ctx);
        for row in &rows {
            let text = row.made(unit_tag(unit), |r| muc_text(r, unit))?;
            if !page.push_written(&text).await? {
                break;
            }
        }
        if last {
            break;
        }
    }
    page.into_json()
}

/// `/tigase/deleteMsg` for group chat: `delete` 1 hides the messages for me only; 2 recalls them
/// for everyone, which only their sender or the room's owner/admins may do. After a recall the
/// room's conversation row is re-pointed at the newest remaining message.
pub async fn delete_group_messages(
    ctx: &Ctx,
    me: i32,
    jid: &str,
    delete: i32,
    ids: &[String],
) -> Result<()> {
    if delete != 1 && delete != 2 {
        return Err(Error::invalid("delete", "应为 1 (删除) 或 2 (撤回)"));
    }
    let jid = check_jid(jid)?;
    let (room, member) = rooms::member_room_by_jid(ctx, me, jid).await?;
    if delete == 1 {
        ctx.store.rooms.hide_muc(me, jid, ids).await?;
        return Ok(());
    }
    let manager = member.role == rooms::ROLE_OWNER || member.role == rooms::ROLE_ADMIN;
    let mut recalled = Vec::with_capacity(ids.len());
    for id in ids {
        let row = ctx
            .store
            .rooms
            .find_muc(jid, id)
            .await?
            .ok_or_else(|| Error::failure(format!("消息不存在或已删除: {id}")))?;
        if !manager && row.sender != me.to_string() {
            return Err(Error::failure(format!(
                "只有发送者或群主、管理员可以撤回 (only the sender or the room's owner/admins can recall): {id}"
            )));
        }
        recalled.push(row);
    }
    ctx.store.rooms.delete_muc(jid, ids, None).await?;
    // A recalled image/voice/video/file message takes its upload along (its sender's only).
    for row in recalled
        .iter()
        .filter(|r| super::files::is_file_message(r.content_type))
    {
        if let Ok(sender) = row.sender.trim().parse::<i32>() {
            super::files::delete_owned_url(&ctx.config, &ctx.store, &row.content, sender).await;
        }
    }
    if let Some(row) = ctx.store.rooms.newest_muc(jid).await? {
        let body: Map<String, Value> = serde_json::from_str(&row.message)
            .or_else(|_| serde_json::from_str(&row.body))
            .unwrap_or_default();
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ctx.store
            .messages
            .upsert_last_chat(&LastChat {
                id: None,
                msg_type: row.content_type,
                message_id: row.message_id.clone(),
                time_send: row.time_send.clone(),
                content: row.content.clone(),
                user_id: row.sender.clone(),
                jid: jid.to_string(),
                is_room: 1,
                is_encrypt: body
                    .get("isEncrypt")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                encrypt_type: body.get("encryptType").and_then(Value::as_i64).unwrap_or(0) as i32,
                from: row.sender_jid.clone(),
                to: jid.to_string(),
                from_user_name: s("fromUserName"),
                to_user_name: room.name.clone(),
                ts: row.ts,
            })
            .await?;
    } else {
        // Nothing left in the room: its conversation row must not show a recalled message.
        ctx.store.messages.delete_room_last_chat(jid).await?;
    }
    Ok(())
}

/// `/tigase/getLastChatList`: my single-chat rows and my rooms' rows, newest first; bounds in
/// ms on the message's server time; `page_size` 0 = all.
pub async fn last_chat_list(
    ctx: &Ctx,
    me: i32,
    start_time: i64,
    end_time: i64,
    page_size: u64,
) -> Result<JsonText> {
    let rooms = my_room_jids(ctx, me).await?;
    let rows = ctx
        .store
        .messages
        .last_chats(
            me,
            &rooms,
            ms_bound(start_time, false),
            ms_bound(end_time, true),
            // 0 asks for every conversation: at most a full page of them.
            if page_size == 0 {
                MAX_PAGE_SIZE
            } else {
                page_size.min(MAX_PAGE_SIZE)
            },
        )
        .await?;
    // A room row showing a message I hid (deleted for me, or the whole conversation removed
    // with `/tigase/delLastChatList`) is not mine to see.
    let shown: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.is_room == 1)
        .map(|r| (r.jid.clone(), r.message_id.clone()))
        .collect();
    let hidden = ctx.store.rooms.hidden_among(me, &shown).await?;
    let unit = history_unit(ctx);
    let mut page = Page::new(ctx, rows.len() as u64);
    for row in rows {
        if row.is_room == 1 && hidden.contains(&(row.jid.clone(), row.message_id.clone())) {
            continue;
        }
        let text = row.made(unit_tag(unit), |r| last_chat_text(r, unit))?;
        if !page.push_written(&text).await? {
            break;
        }
    }
    page.into_json()
}

/// `/tigase/getMessage`: my copy of a single-chat message (type 1). The reference may return
/// the other party's copy; we never do.
pub async fn get_message(ctx: &Ctx, me: i32, chat_type: i32, message_id: &str) -> Result<Value> {
    match chat_type {
        1 => {
            let row = ctx
                .store
                .messages
                .find_copy(me, message_id)
                .await?
                .ok_or_else(|| Error::failure("消息不存在 (no such message)"))?;
            row_view(&row, history_unit(ctx))
        }
        // Group messages are looked up by room (`get_group_message`); without one there is
        // no message to find.
        2 => Err(Error::failure(
            "群聊消息需要 roomJid (type 2 needs the room's jid)",
        )),
        _ => Err(Error::invalid("type", "应为 1 (单聊) 或 2 (群聊)")),
    }
}

/// `/tigase/getMessage` type 2: one message of a room I belong to.
pub async fn get_group_message(ctx: &Ctx, me: i32, jid: &str, message_id: &str) -> Result<Value> {
    let jid = check_jid(jid)?;
    rooms::member_room_by_jid(ctx, me, jid).await?;
    let row = ctx
        .store
        .rooms
        .find_muc(jid, message_id)
        .await?
        .ok_or_else(|| Error::failure("消息不存在 (no such message)"))?;
    muc_view(&row, history_unit(ctx))
}

/// `/tigase/deleteMsg` for single chat. `delete` 1 removes my copies; 2 recalls messages I sent
/// (my copy has `direction` 0), removing both copies. Then the affected conversation rows are
/// re-pointed at the newest remaining message (or removed), for me and, on recall, the peer.
pub async fn delete_messages(ctx: &Ctx, me: i32, delete: i32, ids: &[String]) -> Result<()> {
    if delete != 1 && delete != 2 {
        return Err(Error::invalid("delete", "应为 1 (删除) 或 2 (撤回)"));
    }
    let mut copies = Vec::with_capacity(ids.len());
    for id in ids {
        match ctx.store.messages.find_copy(me, id).await? {
            Some(row) => copies.push(row),
            // Deleting what is already gone is done; recalling it cannot be checked.
            None if delete == 1 => {}
            None => return Err(Error::failure(format!("消息不存在或已删除: {id}"))),
        }
    }
    let peer_of = |row: &MsgRow| row.receiver.trim().parse::<i32>().ok();
    if delete == 2 {
        // All or nothing: refuse before anything is removed.
        if let Some(row) = copies.iter().find(|r| r.direction != 0) {
            return Err(Error::failure(format!(
                "只能撤回自己发送的消息 (only messages you sent can be recalled): {}",
                row.message_id
            )));
        }
    }
    ctx.store.messages.delete_copies(me, ids).await?;
    let mut peers = BTreeSet::new();
    for row in &copies {
        if let Some(peer) = peer_of(row) {
            peers.insert(peer);
        }
    }
    if delete == 2 {
        // The peer's copies of exactly the recalled messages; a recalled file message takes
        // its upload along (only when it is mine: the owner check is in `files`).
        for row in copies
            .iter()
            .filter(|r| super::files::is_file_message(r.content_type))
        {
            super::files::delete_owned_url(&ctx.config, &ctx.store, &row.content, me).await;
        }
        for &peer in &peers {
            let mine: Vec<String> = copies
                .iter()
                .filter(|r| peer_of(r) == Some(peer))
                .map(|r| r.message_id.clone())
                .collect();
            if peer != me {
                // Only what the peer received from me: its own message may share the id.
                ctx.store.messages.delete_received(peer, me, &mine).await?;
                messages::refresh_last_chat(ctx, peer, me).await?;
            }
        }
    }
    for &peer in &peers {
        messages::refresh_last_chat(ctx, me, peer).await?;
    }
    Ok(())
}

/// The peers of my single-chat conversation rows.
async fn my_peers(ctx: &Ctx, me: i32) -> Result<Vec<i32>> {
    Ok(ctx
        .store
        .messages
        .last_chats(me, &[], None, None, 0)
        .await?
        .into_iter()
        .filter(|r| r.is_room == 0)
        .filter_map(|r| r.jid.trim().parse().ok())
        .collect())
}

/// `/tigase/emptyMyMsg`: `type` 0 with `toUserId` clears my copies with that user; `type` 1 (or
/// 0 without `toUserId`) clears all my copies. The conversation rows follow.
pub async fn empty_my_messages(ctx: &Ctx, me: i32, to_user_id: i32, kind: i32) -> Result<()> {
    match (kind, to_user_id) {
        (0, peer) if peer > 0 => {
            ctx.store.messages.clear_copies(me, Some(peer)).await?;
            messages::refresh_last_chat(ctx, me, peer).await?;
        }
        (0, _) | (1, _) => {
            let peers = my_peers(ctx, me).await?;
            ctx.store.messages.clear_copies(me, None).await?;
            for peer in peers {
                messages::refresh_last_chat(ctx, me, peer).await?;
            }
        }
        _ => return Err(Error::invalid("type", "应为 0 或 1")),
    }
    Ok(())
}

/// `/tigase/changeRead`: marks messages I received as read (my copy and the sender's).
pub async fn change_read(ctx: &Ctx, me: i32, ids: &[String]) -> Result<u64> {
    Ok(ctx.store.messages.mark_read(me, ids).await?)
}

fn check_jid(jid: &str) -> Result<&str> {
    let jid = jid.trim();
    if jid.is_empty() {
        return Err(Error::missing("jid"));
    }
    if jid.len() > MAX_JID || jid.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid("jid", "不是有效的用户 id 或群 jid"));
    }
    Ok(jid)
}

/// `/tigase/delLastChatList`: removes my conversation row with a user (`isRoom` 0), or my
/// conversation with a room (`isRoom` 1). A room's row is one per room, shared by its members
/// (spec 5.4), so it is not deleted: as seed 002 does for a member's own deletions in a room,
/// the room's messages so far go into my hide list (`room_group_msg`), and a room row whose
/// message I hid is left out of my list until a newer message arrives. Members only.
pub async fn delete_last_chat(ctx: &Ctx, me: i32, jid: &str, is_room: i32) -> Result<()> {
    let jid = check_jid(jid)?;
    match is_room {
        0 => {
            ctx.store.messages.delete_last_chat(me, jid).await?;
            Ok(())
        }
        1 => {
            rooms::member_room_by_jid(ctx, me, jid).await?;
            let hidden = ctx.store.rooms.hidden_muc(me, jid).await?;
            let ids: Vec<String> = ctx
                .store
                .rooms
                .muc_history(&MucQuery {
                    jid: jid.to_string(),
                    hidden,
                    ..MucQuery::default()
                })
                .await?
                .iter()
                .map(|r| r.message_id.clone())
                .collect();
            ctx.store.rooms.hide_muc(me, jid, &ids).await?;
            Ok(())
        }
        _ => Err(Error::invalid("isRoom", "应为 0 或 1")),
    }
}

/// `/tigase/search`: my single-chat copies containing `content`, and my friends (relation
/// status 2, not blacklisted) whose nickname or my remark for them contains it. Plain
/// substring match, any script. Also my rooms whose name contains it (room views with my
/// membership) and my rooms' messages containing it (without those I deleted for myself).
pub async fn search(ctx: &Ctx, me: i32, content: &str) -> Result<Value> {
    let needle = content.trim();
    if needle.is_empty() {
        return Err(Error::missing("content"));
    }
    if needle.chars().count() > MAX_SEARCH_CHARS {
        return Err(Error::invalid(
            "content",
            format!("最多 {MAX_SEARCH_CHARS} 个字符"),
        ));
    }
    let rows = ctx
        .store
        .messages
        .search_copies(me, needle, SEARCH_LIMIT)
        .await?;
    let msgs: Vec<Value> = rows
        .iter()
        .map(|r| row_view(r, history_unit(ctx)))
        .collect::<Result<_>>()?;

    // My friends whose nickname (the relation's `toNickname`, kept in step with the user's
    // nickname) or my remark for them contains the text.
    let relations = ctx
        .store
        .friends
        .query_friends(&FriendQuery {
            user_id: me,
            status: Some(2),
            blacklisted: Some(false),
            keyword: Some(needle.to_string()),
            limit: SEARCH_LIMIT,
            ..FriendQuery::default()
        })
        .await?;
    let mut friends = Vec::with_capacity(relations.len());
    for rel in relations {
        if rel.to_user_id == me {
            continue;
        }
        if let Some(u) = ctx.store.users.get_user(rel.to_user_id).await? {
            friends.push(users::user_view(ctx, me, &u).await?);
        }
    }
    // My rooms whose name contains the text, and my rooms' messages containing it.
    let my_rooms = ctx
        .store
        .rooms
        .query_rooms(&RoomQuery {
            member: Some(me),
            keyword: Some(needle.to_string()),
            limit: SEARCH_LIMIT,
            ..RoomQuery::default()
        })
        .await?;
    let lower = needle.to_lowercase();
    let mut groups = Vec::new();
    for room in my_rooms
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&lower))
    {
        let mine = ctx
            .store
            .rooms
            .get_member(room.id.as_deref().unwrap_or_default(), me)
            .await?;
        groups.push(rooms::room_view(
            room,
            Vec::new(),
            Vec::new(),
            mine.as_ref().map(rooms::member_view),
        ));
    }
    let jids = my_room_jids(ctx, me).await?;
    let mut mucmsgs = Vec::new();
    if !jids.is_empty() {
        let rows = ctx
            .store
            .rooms
            .search_muc(&jids, needle, SEARCH_LIMIT)
            .await?;
        let mut hidden: std::collections::HashMap<String, Vec<String>> = Default::default();
        for row in rows {
            let jid = if row.room_jid.is_empty() {
                row.room_jid_id.clone()
            } else {
                row.room_jid.clone()
            };
            if !hidden.contains_key(&jid) {
                let h = ctx.store.rooms.hidden_muc(me, &jid).await?;
                hidden.insert(jid.clone(), h);
            }
            if hidden[&jid].contains(&row.message_id) {
                continue;
            }
            mucmsgs.push(muc_view(&row, history_unit(ctx))?);
        }
    }
    Ok(json!({
        "shikuMsgs": msgs,
        "friend": friends,
        "mucmsgs": mucmsgs,
        "group": groups,
    }))
}

/// Whether a dialog jid names a user (numeric) rather than a room.
fn user_jid(jid: &str) -> Option<i32> {
    jid.parse::<i32>().ok().filter(|id| *id > 0)
}

/// Sets (`time` > 0) or clears (0) the pin time on my relation with a user, as
/// `/friends/update/OfflineNoPushMsg` type 2 does; no relation, nothing to pin. A partial
/// update, so a concurrent change to the relation's other fields is not overwritten.
async fn set_top_chat_time(ctx: &Ctx, me: i32, peer: i32, time: i64) -> Result<()> {
    let patch = Patch::new().set("openTopChatTime", time);
    ctx.store.friends.update_friend(me, peer, &patch).await?;
    Ok(())
}

fn check_adaptive(is_adaptive: i32) -> Result<()> {
    if is_adaptive == 0 || is_adaptive == 1 {
        Ok(())
    } else {
        Err(Error::invalid("isAdaptive", "应为 0 或 1"))
    }
}

/// `/tigase/dialog/add`: pins a conversation (`stick_dialog`); `isRoom` is 0 for a user jid and
/// 1 for a room jid. With `is_adaptive` 1 also sets the relation's `openTopChatTime` (s).
pub async fn add_dialog(ctx: &Ctx, me: i32, jid: &str, is_adaptive: i32) -> Result<()> {
    check_adaptive(is_adaptive)?;
    let jid = check_jid(jid)?;
    let now = now_secs();
    let peer = user_jid(jid);
    if let Some(peer) = peer {
        if ctx.store.users.get_user(peer).await?.is_none() {
            return Err(Error::failure("该用户不存在!"));
        }
    }
    ctx.store
        .messages
        .put_dialog(&StickDialog {
            user_id: me,
            jid: jid.to_string(),
            is_room: peer.is_none() as i32,
            time: now,
        })
        .await?;
    if is_adaptive == 1 {
        match peer {
            Some(peer) => set_top_chat_time(ctx, me, peer, now).await?,
            None => rooms::set_top_chat_time(ctx, me, jid, now).await?,
        }
    }
    Ok(())
}

/// `/tigase/dialog/delete`: unpins a conversation; with `is_adaptive` 1 also clears the
/// relation's `openTopChatTime`.
pub async fn delete_dialog(ctx: &Ctx, me: i32, jid: &str, is_adaptive: i32) -> Result<()> {
    check_adaptive(is_adaptive)?;
    let jid = check_jid(jid)?;
    ctx.store.messages.delete_dialog(me, jid).await?;
    if is_adaptive == 1 {
        match user_jid(jid) {
            Some(peer) => set_top_chat_time(ctx, me, peer, 0).await?,
            None => rooms::set_top_chat_time(ctx, me, jid, 0).await?,
        }
    }
    Ok(())
}

/// Parses `/tigase/push`'s `text`: a JSON array of userIds (numbers or numeric strings).
pub fn parse_recipients(text: &str) -> Result<Vec<i32>> {
    let bad = || Error::invalid("text", "应为用户 id 的 JSON 数组, 如 [100102,100174]");
    let items: Vec<Value> = serde_json::from_str(text).map_err(|_| bad())?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let id = match &item {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(bad)?;
        if seen.insert(id) {
            out.push(id);
        }
    }
    if out.is_empty() {
        return Err(Error::missing("text"));
    }
    if out.len() > MAX_PUSH_RECIPIENTS {
        return Err(Error::invalid(
            "text",
            format!("最多 {MAX_PUSH_RECIPIENTS} 个接收者"),
        ));
    }
    Ok(out)
}

/// Parses a message body parameter: a JSON object.
pub fn parse_body(name: &str, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::invalid(
            name,
            "应为消息 JSON 对象, 如 {\"type\":1,\"content\":\"hi\"}",
        )),
    }
}

/// `/tigase/push`: sends `body` from me to each recipient through the message path (one
/// message each; with several recipients each gets its own messageId, since a messageId names
/// one message). Every recipient must exist. Answers one entry per recipient:
/// `{toUserId, resultCode: 1, messageId}` or `{toUserId, resultCode: 0, resultMsg}` (e.g. the
/// recipient blocked me); fails as a whole only when no message could be sent.
pub async fn push(
    ctx: &Ctx,
    me: i32,
    recipients: &[i32],
    body: Map<String, Value>,
) -> Result<Value> {
    for &to in recipients {
        if ctx.store.users.get_user(to).await?.is_none() {
            return Err(Error::invalid("text", format!("用户不存在: {to}")));
        }
    }
    let mut body = body;
    if recipients.len() > 1 {
        body.remove("messageId");
    }
    let mut results = Vec::with_capacity(recipients.len());
    let mut first_error = None;
    let mut sent_any = false;
    for &to in recipients {
        let out = Outgoing {
            from: me,
            resource: "api".into(),
            target: Target::User(to),
            body: body.clone(),
            origin: None,
        };
        match messages::send(ctx, out).await {
            Ok(sent) => {
                sent_any = true;
                results.push(json!({
                    "toUserId": to,
                    "resultCode": 1,
                    "messageId": sent.message_id,
                }));
            }
            Err(e @ (Error::Internal(_) | Error::Param { .. })) => return Err(e),
            Err(e) => {
                results.push(json!({
                    "toUserId": to,
                    "resultCode": e.code(),
                    "resultMsg": e.to_string(),
                }));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if !sent_any => Err(e),
        _ => Ok(Value::Array(results)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_accept_ms_and_seconds() {
        assert_eq!(ms_bound(0, false), None);
        assert_eq!(ms_bound(-5, true), None);
        assert_eq!(ms_bound(1614048376311, false), Some(1614048376311));
        assert_eq!(ms_bound(1614048376, false), Some(1614048376000));
        assert_eq!(ms_bound(1614048376, true), Some(1614048376999));
    }

    #[test]
    fn id_lists() {
        assert_eq!(parse_ids("messageId", " a, b,,a ").unwrap(), vec!["a", "b"]);
        assert_eq!(parse_ids("messageId", " , ").unwrap_err().code(), 1010101);
        let long = "x".repeat(200);
        assert!(parse_ids("messageId", &long).is_err());
    }

    #[test]
    fn recipients_and_bodies() {
        assert_eq!(parse_recipients("[1, \"2\", 1]").unwrap(), vec![1, 2]);
        for bad in ["", "1", "[\"x\"]", "[0]", "[]", "{}", "[1.5]"] {
            let e = parse_recipients(bad).unwrap_err();
            assert_eq!(e.code(), 1010101, "{bad}");
            assert!(e.to_string().contains("text"), "{bad}: {e}");
        }
        assert!(parse_body("body", "{\"type\":1}").is_ok());
        let e = parse_body("body", "[1]").unwrap_err();
        assert!(e.to_string().contains("body"));
    }

    fn row(message: &str, body: &str) -> MsgRow {
        MsgRow {
            id: Some("60346c7b1bb77153b4e8bc67".into()),
            message: message.into(),
            body: body.into(),
            direction: 0,
            sender: "1".into(),
            receiver: "2".into(),
            sender_jid: "1/web".into(),
            receiver_jid: "2".into(),
            ts: 1,
            content_type: 1,
            message_id: "m".into(),
            time_send: 1.into(),
            delete_time: 0,
            is_read: 0,
            is_encrypt: false,
            content: "c".into(),
        }
    }

    #[test]
    fn rows_carry_the_json_in_body_and_message() {
        let v = row_view(&row("{\"a\":1}", ""), None).unwrap();
        assert_eq!(v["body"], v["message"]);
        assert_eq!(v["body"], "{\"a\":1}");
        let v = row_view(&row("", "{\"b\":1}"), None).unwrap();
        assert_eq!(v["message"], "{\"b\":1}");
        // Tigase generation: XML stanza in `message`, JSON in `body`.
        let v = row_view(&row("<message><body>x</body></message>", "{\"c\":1}"), None).unwrap();
        assert_eq!(v["message"], "{\"c\":1}");
        assert_eq!(v["_id"], "60346c7b1bb77153b4e8bc67");
    }

    /// [`muc_view`] lists the fields of [`MucRow`] by hand: it must show exactly what the
    /// document serialises (a field added to `MucRow` and not to the view fails here), in the
    /// stored order, without `room_jid_id`, `room_jid` filled from it when empty.
    #[test]
    fn muc_views_show_every_stored_field_in_order() {
        let body = r#"{"content":"hi","timeSend":1796460973,"type":1}"#;
        for (room_jid, encrypted) in [("", false), ("6c1536dbf97540d1b906d76f4272a90d", true)] {
            let row = MucRow {
                id: Some("60346c7b1bb77153b4e8bc67".into()),
                message: if encrypted {
                    body.replace("}", r#","isEncrypt":1}"#)
                } else {
                    body.into()
                },
                body: String::new(),
                room_jid: room_jid.into(),
                room_jid_id: "f6c9eb95fc1048b7bba4b3c7e9249de1".into(),
                sender_jid: "100164/web".into(),
                sender: "100164".into(),
                ts: 1796460973123,
                content_type: 1,
                message_id: "m1".into(),
                time_send: 1796460973.into(),
                delete_time: -1,
                content: "hi".into(),
                read_count: 2,
            };
            let text = if encrypted {
                row.message.clone()
            } else {
                body.replace("1796460973", "1796460973000")
            };
            let mut expected = Map::new();
            for (k, v) in to_map(&row) {
                match k.as_str() {
                    "room_jid_id" => {}
                    "room_jid" if row.room_jid.is_empty() => {
                        expected.insert(k, json!(row.room_jid_id));
                    }
                    "message" | "body" => {
                        expected.insert(k, json!(text));
                    }
                    "timeSend" if !encrypted => {
                        expected.insert(k, json!(1796460973000_i64));
                    }
                    _ => {
                        expected.insert(k, v);
                    }
                }
            }
            let v = muc_view(&row, Some(TimeUnit::Millis)).unwrap();
            assert_eq!(v.to_string(), Value::Object(expected).to_string());
        }
    }
}
