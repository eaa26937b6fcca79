//! Public accounts (seed 003 `MpController`, `AdminMpController`): a user of `userType` 2
//! whose followers are its friends. Users read its menu (`/public/menu/list`); the account runs
//! its back office under `/mp` with a token of its own (`/mp/login`): its home numbers, menu,
//! followers, conversations, replies and mass sending of text and image-text articles (types
//! 80 single and 81 several, `content` the article JSON), as background jobs like the
//! console's `pushToAll`. The reference answered JSP pages there; this serves the operations
//! as JSON and the web console draws the pages.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::console::{self, Recipients};
use super::credentials;
use super::error::{Error, Result};
use super::friends::{self, fans_query};
use super::history::{self, HistoryRequest};
use super::messages::{self, Outgoing, Target};
use super::util::{is_md5_hex, now_millis, now_secs, uuid32};
use super::view::{Page, PageResult};
use super::Ctx;
use crate::documents::{Menu, User};

/// The audience of `/mp/login` tokens (never valid for the console or the user API).
pub const MP_AUDIENCE: &str = "shiku-mp";
/// Top entries of a menu at most (as WeChat's official accounts have them).
pub const MAX_TOP_MENUS: usize = 3;
/// Entries under one top entry at most.
pub const MAX_SUB_MENUS: usize = 5;
/// Characters of a menu name.
const MAX_MENU_NAME: usize = 16;
/// Characters of a menu or article URL.
const MAX_URL: usize = 1024;
/// Characters of an article title or summary.
const MAX_TITLE: usize = 64;
const MAX_SUB: usize = 256;
/// Articles in one image-text message of several.
const MAX_ARTICLES: usize = 8;
/// Characters of a mass text.
const MAX_TEXT: usize = 4000;
/// Type of a single image-text message.
pub const TYPE_ARTICLE: i32 = 80;
/// Type of an image-text message of several articles.
pub const TYPE_ARTICLES: i32 = 81;

/// Whether the user is an unlocked public account.
pub async fn is_public_account(ctx: &Ctx, user_id: i32) -> Result<bool> {
    Ok(ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .is_some_and(|u| u.user_type == 2 && u.status != -1))
}

/// `/mp/login`: a public account's phone (national, with `area_code`) and md5 password; answers
/// a back-office token (`access_token`) with the console's session rules.
pub async fn login(
    ctx: &Ctx,
    account: &str,
    password: &str,
    area_code: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Value> {
    let account = account.trim();
    if account.is_empty() {
        return Err(Error::missing("username"));
    }
    if !is_md5_hex(password.trim()) {
        return Err(Error::invalid(
            "password",
            "应为 32 位 md5 (md5 of the password)",
        ));
    }
    let area = match area_code.trim() {
        "" => "86",
        a => a,
    };
    let phone = format!("{area}{account}");
    let user = ctx.store.users.find_by_telephone(&phone).await?;
    let right =
        credentials::check_password(ctx, user.as_ref(), &phone, source, password.trim()).await?;
    let Some(user) = user.filter(|_| right) else {
        return Err(Error::failure("帐号或密码错误！"));
    };
    if user.status == -1 {
        return Err(Error::failure("您的账号已被禁用"));
    }
    if user.user_type != 2 {
        return Err(Error::failure("该账号不是公众号"));
    }
    let token = ctx
        .tokens
        .issue(&ctx.store, user.user_id, MP_AUDIENCE)
        .await?;
    console::start_session(ctx, &token).await?;
    Ok(json!({
        "access_token": token,
        "userId": user.user_id,
        "nickname": user.nickname,
        "expires_in": console::SESSION_IDLE_SECS,
    }))
}

/// `/mp/home`: the account's numbers.
pub async fn home(ctx: &Ctx, me: i32) -> Result<Value> {
    let user = account(ctx, me).await?;
    let fans = fans_count(ctx, me).await?;
    let menus = ctx.store.menus.menus(me).await?.len();
    Ok(json!({
        "userId": me,
        "nickname": user.nickname,
        "fansCount": fans,
        "menuCount": menus,
    }))
}

async fn account(ctx: &Ctx, user_id: i32) -> Result<User> {
    ctx.store
        .users
        .get_user(user_id)
        .await?
        .filter(|u| u.user_type == 2)
        .ok_or_else(|| Error::failure("公众号不存在"))
}

fn menu_json(m: &Menu) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("name".into(), json!(m.name));
    o.insert("parentId".into(), json!(m.parent_id));
    o.insert("url".into(), json!(m.url));
    o.insert("userId".into(), json!(m.user_id));
    o
}

/// The menu as seed 003 shows it: top entries, each with its children in `menuList`.
pub async fn menu_tree(ctx: &Ctx, account_id: i32) -> Result<Value> {
    account(ctx, account_id).await?;
    let all = ctx.store.menus.menus(account_id).await?;
    let tree = all
        .iter()
        .filter(|m| m.parent_id == 0)
        .map(|top| {
            let mut o = menu_json(top);
            let children: Vec<Value> = all
                .iter()
                .filter(|c| c.parent_id == top.id)
                .map(|c| Value::Object(menu_json(c)))
                .collect();
            o.insert("menuList".into(), Value::Array(children));
            Value::Object(o)
        })
        .collect();
    Ok(Value::Array(tree))
}

/// An entry of `/mp/menu/save`: `id` None (or 0) adds one.
#[derive(Debug, Clone, Default)]
pub struct MenuEntry {
    pub id: Option<i64>,
    pub parent_id: i64,
    pub name: String,
    pub url: String,
    pub index: Option<i32>,
}

/// A link clients may open: not empty, bounded, and no script or data scheme (clients open
/// menu URLs in a web view).
fn check_url(name: &str, url: &str) -> Result<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::missing(name));
    }
    if url.chars().count() > MAX_URL {
        return Err(Error::invalid(name, format!("至多 {MAX_URL} 个字符")));
    }
    let lower = url.to_ascii_lowercase();
    if ["javascript:", "data:", "vbscript:", "file:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        return Err(Error::invalid(name, "不支持此链接 (http(s) links only)"));
    }
    Ok(url.to_string())
}

fn check_text(name: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::missing(name));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(name, format!("至多 {max} 个字符")));
    }
    Ok(text.to_string())
}

/// A fresh menu id: milliseconds and three random digits, below 2^53 for web clients.
fn new_menu_id() -> i64 {
    now_millis() * 1000 + i64::from(rand::random::<u16>() % 1000)
}

/// `/mp/menu/save`: adds or changes an entry of the account's menu (at most
/// [`MAX_TOP_MENUS`] top entries of [`MAX_SUB_MENUS`] children each); answers the entry.
pub async fn menu_save(ctx: &Ctx, me: i32, e: MenuEntry) -> Result<Value> {
    let name = check_text("name", &e.name, MAX_MENU_NAME)?;
    let url = check_url("url", &e.url)?;
    let all = ctx.store.menus.menus(me).await?;
    let existing = match e.id.filter(|id| *id != 0) {
        Some(id) => Some(
            all.iter()
                .find(|m| m.id == id)
                .cloned()
                .ok_or_else(|| Error::failure("菜单不存在"))?,
        ),
        None => None,
    };
    // A new id never replaces another entry of the account (two saves in one millisecond).
    let id = match &existing {
        Some(m) => m.id,
        None => {
            let mut id = new_menu_id();
            while all.iter().any(|m| m.id == id) {
                id = new_menu_id();
            }
            id
        }
    };
    if e.parent_id != 0 {
        let parent_is_top = all.iter().any(|m| m.id == e.parent_id && m.parent_id == 0);
        if !parent_is_top || e.parent_id == id {
            return Err(Error::invalid("parentId", "应为本公众号的一级菜单 id 或 0"));
        }
        if all.iter().any(|m| m.parent_id == id) {
            return Err(Error::failure("有子菜单的菜单不能成为子菜单"));
        }
    }
    let siblings = all
        .iter()
        .filter(|m| m.parent_id == e.parent_id && m.id != id)
        .count();
    let max = if e.parent_id == 0 {
        MAX_TOP_MENUS
    } else {
        MAX_SUB_MENUS
    };
    if siblings >= max {
        return Err(Error::failure(format!("菜单已达上限 ({max})")));
    }
    let index = e
        .index
        .or(existing.as_ref().map(|m| m.index))
        .unwrap_or(siblings as i32);
    let menu = Menu {
        id,
        user_id: me,
        parent_id: e.parent_id,
        name,
        url,
        index,
    };
    ctx.store.menus.put_menu(&menu).await?;
    Ok(Value::Object(menu_json(&menu)))
}

/// `/mp/menu/delete`: removes an entry of the account's menu and its children.
pub async fn menu_delete(ctx: &Ctx, me: i32, id: i64) -> Result<()> {
    let all = ctx.store.menus.menus(me).await?;
    if !all.iter().any(|m| m.id == id) {
        return Err(Error::failure("菜单不存在"));
    }
    let ids: Vec<i64> = all
        .iter()
        .filter(|m| m.id == id || m.parent_id == id)
        .map(|m| m.id)
        .collect();
    ctx.store.menus.delete_menus(me, &ids).await?;
    Ok(())
}

async fn fans_count(ctx: &Ctx, me: i32) -> Result<u64> {
    Ok(ctx
        .store
        .friends
        .count_matching(&fans_query(ctx, me, 0, 0))
        .await?)
}

/// `/mp/fans`: a page of the account's followers, in the order they followed.
pub async fn fans(ctx: &Ctx, me: i32, page: Page) -> Result<PageResult> {
    let q = fans_query(ctx, me, page.skip(), u64::from(page.size));
    let rows = ctx.store.friends.query_friends(&q).await?;
    let count = fans_count(ctx, me).await?;
    let data = rows
        .iter()
        .map(|f| {
            json!({
                "userId": f.to_user_id,
                "nickname": f.to_nickname,
                "createTime": f.create_time,
            })
        })
        .collect();
    Ok(PageResult { data, count })
}

async fn require_fan(ctx: &Ctx, me: i32, to: i32) -> Result<()> {
    let fan = ctx
        .store
        .friends
        .get_friend(me, to)
        .await?
        .is_some_and(|f| f.status == 2);
    if !fan {
        return Err(Error::failure("对方不是本公众号的粉丝"));
    }
    Ok(())
}

/// `/mp/fans/delete`: ends the relation with a follower both ways.
pub async fn fans_delete(ctx: &Ctx, me: i32, to: i32) -> Result<()> {
    require_fan(ctx, me, to).await?;
    friends::delete(ctx, me, to).await
}

/// `/mp/msg`: a page of the account's conversations, newest first, as
/// `/tigase/getLastChatList` rows.
pub async fn conversations(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let upto = page.skip() + u64::from(page.size);
    let text = history::last_chat_list(ctx, me, 0, 0, upto).await?;
    let all: Value = serde_json::from_str(text.as_str())
        .map_err(|e| Error::Internal(format!("conversation list: {e}")))?;
    let rows = all.as_array().cloned().unwrap_or_default();
    Ok(Value::Array(
        rows.into_iter()
            .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
            .collect(),
    ))
}

/// `/mp/msg/list`: a page of the conversation with one user, newest first, as
/// `/tigase/shiku_msgs` rows.
pub async fn conversation(ctx: &Ctx, me: i32, with: i32, page: Page) -> Result<Value> {
    let text = history::history(
        ctx,
        me,
        &HistoryRequest {
            receiver: with,
            start_time: 0,
            end_time: 0,
            page_index: u64::from(page.index),
            page_size: u64::from(page.size),
            max_type: 0,
        },
    )
    .await?;
    serde_json::from_str(text.as_str()).map_err(|e| Error::Internal(format!("history: {e}")))
}

/// `/mp/msg/send` and `/mp/msg/reply`: one message from the account to one of its followers,
/// through the one message path; answers its `messageId`.
pub async fn send_to_fan(
    ctx: &Ctx,
    me: i32,
    to: i32,
    mut body: Map<String, Value>,
) -> Result<Value> {
    require_fan(ctx, me, to).await?;
    let msg_type = body.get("type").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=99).contains(&msg_type) {
        return Err(Error::invalid("body", "type 应为聊天消息类型 1–99"));
    }
    let id = body
        .get("messageId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map_or_else(uuid32, str::to_string);
    body.insert("messageId".into(), json!(id));
    body.entry("timeSend").or_insert(json!(now_millis()));
    messages::send(
        ctx,
        Outgoing {
            from: me,
            resource: "mp".into(),
            target: Target::User(to),
            body,
            origin: None,
        },
    )
    .await?;
    Ok(json!({ "messageId": id }))
}

/// The body of a text message.
pub fn text_body(text: &str) -> Result<Map<String, Value>> {
    let text = check_text("content", text, MAX_TEXT)?;
    let mut b = Map::new();
    b.insert("type".into(), json!(1));
    b.insert("content".into(), json!(text));
    Ok(b)
}

/// One image-text article.
#[derive(Debug, Clone)]
pub struct Article {
    pub title: String,
    /// Summary (single articles only).
    pub sub: Option<String>,
    pub img: String,
    pub url: String,
}

fn article_json(a: &Article) -> Result<Value> {
    let mut o = Map::new();
    o.insert(
        "title".into(),
        json!(check_text("title", &a.title, MAX_TITLE)?),
    );
    if let Some(sub) = &a.sub {
        o.insert("sub".into(), json!(check_text("sub", sub, MAX_SUB)?));
    }
    o.insert("img".into(), json!(check_url("img", &a.img)?));
    o.insert("url".into(), json!(check_url("url", &a.url)?));
    Ok(Value::Object(o))
}

/// The body of an image-text message: type 80 with the article as its `content` JSON, or 81
/// with a JSON array of articles.
pub fn articles_body(articles: &[Article]) -> Result<Map<String, Value>> {
    let mut b = Map::new();
    match articles {
        [] => return Err(Error::missing("title")),
        [one] if one.sub.is_some() => {
            b.insert("type".into(), json!(TYPE_ARTICLE));
            b.insert("content".into(), json!(article_json(one)?.to_string()));
        }
        many => {
            if many.len() > MAX_ARTICLES {
                return Err(Error::invalid("title", format!("至多 {MAX_ARTICLES} 篇")));
            }
            let list = many.iter().map(article_json).collect::<Result<Vec<_>>>()?;
            b.insert("type".into(), json!(TYPE_ARTICLES));
            b.insert("content".into(), json!(Value::Array(list).to_string()));
        }
    }
    Ok(b)
}

/// `/mp/textToAll`, `/mp/pushToAll`, `/mp/manyToAll`: the message to every follower, as a
/// background job; answers its `jobId` (progress: `/mp/job`).
pub async fn send_to_all(ctx: &Arc<Ctx>, me: i32, body: Map<String, Value>) -> Result<Value> {
    account(ctx, me).await?;
    let mut v = console::start_push(ctx, me, body, Recipients::Fans(me)).await?;
    let fans = fans_count(ctx, me).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("fansCount".into(), json!(fans));
        o.insert("time".into(), json!(now_secs()));
    }
    Ok(v)
}

/// `/mp/job`: the progress of one of the account's mass sendings.
pub async fn job(ctx: &Ctx, me: i32, job: &str) -> Result<Value> {
    let state = console::push_status(ctx, job).await?;
    if state.get("from").and_then(Value::as_i64) != Some(i64::from(me)) {
        return Err(Error::failure("任务不存在 (no such jobId)"));
    }
    Ok(state)
}
