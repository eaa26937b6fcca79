//! Favourites (seed 003 `/emoji/add`, `/emoji/list`, `/collection/list`, `/emoji/delete`; the
//! reference's `emoji` collection): a user's own collection of messages, files and stickers,
//! seen by nobody else.
//!
//! A favourite of one of our uploads (a message's file, a sticker's image) keeps its own copy of
//! the file, recorded as the user's and never expiring: the original may expire or be recalled
//! with its message, the favourite stays. Deleting the favourite deletes its copy.

use serde_json::{json, Value};

use super::error::{Error, Result};
use super::rooms;
use super::util::now_secs;
use super::view::Page;
use super::Ctx;
use crate::documents::{Emoji, FAVOURITE_KINDS, STICKER};
use crate::domain::files::Actor;

/// Longest URL, message id or jid accepted, bytes.
const MAX_REF: usize = 1024;
/// Longest text of a text favourite, bytes.
const MAX_TEXT: usize = 16 * 1024;

/// `/emoji/add` input.
#[derive(Debug, Clone, Default)]
pub struct FavouriteAdd {
    /// A file (or sticker) URL, when the favourite is not made from a message.
    pub url: String,
    /// A message: its id, and its room's jid for a room message.
    pub msg_id: String,
    pub room_jid: String,
    /// 1 image, 2 video, 3 file, 4 voice, 5 text, 6 sticker (from the message when absent).
    pub kind: Option<i32>,
    /// The text of a text favourite not made from a message.
    pub text: String,
}

fn check_len(name: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(name, format!("超过 {max} 字节")));
    }
    Ok(())
}

/// The favourite kind of a message's content type.
fn kind_of_message(content_type: i64) -> i32 {
    match content_type {
        2 => 1,
        6 => 2,
        9 => 3,
        3 => 4,
        5 => STICKER,
        _ => 5,
    }
}

/// What a favourite made from a message keeps: its body as stored, and its fields.
async fn message_body(ctx: &Ctx, me: i32, msg_id: &str, room_jid: &str) -> Result<String> {
    let missing = || Error::failure("消息不存在 (no such message)");
    if room_jid.is_empty() {
        let row = ctx.store.messages.find_copy(me, msg_id).await?;
        return row.map(|r| r.body).ok_or_else(missing);
    }
    rooms::member_room_by_jid(ctx, me, room_jid).await?;
    let row = ctx.store.rooms.find_muc(room_jid, msg_id).await?;
    row.map(|r| r.body).ok_or_else(missing)
}

/// `/emoji/add`: a favourite of a message of mine (1:1, or of a room I am in), of a file or
/// sticker URL, or of a text. At most `limits.max_favourites` per user.
pub async fn add(ctx: &Ctx, me: i32, r: FavouriteAdd, base: &str) -> Result<()> {
    check_len("url", &r.url, MAX_REF)?;
    check_len("msgId", &r.msg_id, MAX_REF)?;
    check_len("roomJid", &r.room_jid, MAX_REF)?;
    check_len("msg", &r.text, MAX_TEXT)?;
    if let Some(k) = r.kind {
        if !FAVOURITE_KINDS.contains(&k) {
            return Err(Error::invalid(
                "type",
                "应为 1 图片 2 视频 3 文件 4 语音 5 文本 6 表情",
            ));
        }
    }
    if ctx.store.favourites.count_favourites(me).await? >= ctx.config.limits.max_favourites {
        return Err(Error::failure(format!(
            "收藏已达上限 {} 条 (too many favourites)",
            ctx.config.limits.max_favourites
        )));
    }
    let mut e = Emoji {
        user_id: me,
        msg_id: r.msg_id.trim().to_string(),
        room_jid: r.room_jid.trim().to_string(),
        create_time: now_secs(),
        ..Default::default()
    };
    let mut url = r.url.trim().to_string();
    if !e.msg_id.is_empty() {
        let body = message_body(ctx, me, &e.msg_id, &e.room_jid).await?;
        let fields: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let content = fields["content"].as_str().unwrap_or("").to_string();
        let kind = kind_of_message(fields["type"].as_i64().unwrap_or(1));
        e.kind = r.kind.unwrap_or(kind);
        e.file_name = fields["fileName"].as_str().unwrap_or("").to_string();
        e.file_size = fields["fileSize"].as_i64().unwrap_or(0);
        if kind == 5 {
            e.msg = content;
        } else {
            url = content;
        }
        if e.msg.is_empty() {
            e.msg = body;
        }
    } else {
        e.kind = r.kind.ok_or_else(|| Error::missing("type"))?;
        if e.kind == 5 {
            if r.text.trim().is_empty() {
                return Err(Error::missing("msg"));
            }
            e.msg = r.text;
        } else if url.is_empty() {
            return Err(Error::missing("url"));
        }
    }
    if !url.is_empty() {
        // One of our uploads: the favourite's own copy, kept for good. Anything else must at
        // least be a web address.
        match ctx.files.copy_url(&url, -1.0, Some(me), base).await {
            Ok((_, copy)) => {
                e.url = copy;
                e.own_copy = true;
            }
            Err(_) if url.starts_with("http://") || url.starts_with("https://") => e.url = url,
            Err(_) => return Err(Error::invalid("url", "不是已上传的文件或网址")),
        }
    }
    ctx.store.favourites.insert_favourite(&e).await?;
    Ok(())
}

/// A favourite as clients read it.
fn view(e: &Emoji) -> Value {
    json!({
        "emojiId": e.id.clone().unwrap_or_default(),
        "userId": e.user_id,
        "type": e.kind,
        "url": e.url,
        "msg": e.msg,
        "msgId": e.msg_id,
        "roomJid": e.room_jid,
        "fileName": e.file_name,
        "fileSize": e.file_size,
        "createTime": e.create_time,
    })
}

/// The caller's favourites of these kinds, newest first (`/emoji/list`: stickers;
/// `/collection/list`: one kind, or all but stickers).
pub async fn list(
    ctx: &Ctx,
    me: i32,
    kind: Option<i32>,
    stickers: bool,
    page: Page,
) -> Result<Value> {
    let kinds: Vec<i32> = match (stickers, kind) {
        (true, _) => vec![STICKER],
        (false, Some(k)) if FAVOURITE_KINDS.contains(&k) => vec![k],
        (false, Some(0) | None) => (1..STICKER).collect(),
        (false, Some(_)) => {
            return Err(Error::invalid(
                "type",
                "应为 1 图片 2 视频 3 文件 4 语音 5 文本 6 表情",
            ))
        }
    };
    let rows = ctx
        .store
        .favourites
        .favourites(me, &kinds, page.skip(), page.size)
        .await?;
    Ok(Value::Array(rows.iter().map(view).collect()))
}

/// `/emoji/delete`: removes the caller's favourites (`emojiId`, comma-separated) and their
/// copies of files; "收藏不存在" when none of them is the caller's.
pub async fn delete(ctx: &Ctx, me: i32, ids: &str) -> Result<()> {
    let mut removed = 0;
    for id in ids
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .take(100)
    {
        check_len("emojiId", id, 64)?;
        let Some(e) = ctx.store.favourites.take_favourite(me, id).await? else {
            continue;
        };
        removed += 1;
        if e.own_copy {
            if let Err(err) = ctx.files.delete_url(&e.url, Actor::User(me)).await {
                tracing::warn!(error = %err, "a favourite's copy was not deleted");
            }
        }
    }
    if removed == 0 {
        return Err(Error::failure("收藏不存在 (no such favourite)"));
    }
    Ok(())
}
