//! Public accounts (seed 003 `MpController` `/public/menu/list`, `AdminMpController` `/mp/*`).
//! The reference's `/mp` answered JSP pages; these answer JSON in the Shiku envelope and the
//! web console's public-account area draws the pages. `/mp` calls take the token of
//! `/mp/login`, held by a user of `userType` 2.

use actix_web::{web, HttpRequest};
use serde_json::json;

use super::caller::Caller;
use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::console as console_rules;
use crate::domain::history::parse_body;
use crate::domain::public_accounts::{self as mp, Article, MenuEntry};
use crate::domain::{Code, Error};

const PAGE_INDEX: ParamDoc = p("pageIndex", "integer", false, "default 0");
const MASS: &str = "{jobId, fansCount, time}: sent to every follower in batches on a background task (progress: /mp/job)";

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/public/menu/list",
        tag: "public",
        summary: "A public account's menu: its top entries, each with its children in menuList (any user)",
        access: Access::User,
        params: &[p("userId", "integer", true, "the public account")],
        codes: &[0],
        data: "[{id, name, parentId (0), url, userId, menuList:[{id, name, parentId, url, userId}]}]",
    },
    EndpointDoc {
        path: "/mp/login",
        tag: "public",
        summary: "A public account (userType 2) logs in to its back office (POST; GET answers how)",
        access: Access::Open,
        params: &[
            p("username", "string", true, "the account's phone (national); `account` or `telephone` also read"),
            p("password", "string", true, "md5 of the password"),
            p("areaCode", "string", false, "default 86"),
        ],
        codes: &[0, 1010101],
        data: "{access_token, userId, nickname, expires_in (idle seconds)}",
    },
    EndpointDoc {
        path: "/mp/logout",
        tag: "public",
        summary: "Ends the back-office session",
        access: Access::PublicAccount,
        params: &[],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/mp/home",
        tag: "public",
        summary: "The account's numbers",
        access: Access::PublicAccount,
        params: &[],
        codes: &[],
        data: "{userId, nickname, fansCount, menuCount}",
    },
    EndpointDoc {
        path: "/mp/menuList",
        tag: "public",
        summary: "The account's menu, as /public/menu/list shows it",
        access: Access::PublicAccount,
        params: &[],
        codes: &[],
        data: "as /public/menu/list",
    },
    EndpointDoc {
        path: "/mp/menu/save",
        tag: "public",
        summary: "Adds (no id) or changes a menu entry: at most 3 top entries of 5 children each (the reference's /mp/menu/{op} with op=save)",
        access: Access::PublicAccount,
        params: &[
            p("id", "long", false, "the entry to change; absent or 0 adds one"),
            p("parentId", "long", false, "a top entry's id, or 0 (default) for a top entry"),
            p("name", "string", true, "at most 16 characters"),
            p("url", "string", true, "the link, at most 1024 characters (no javascript:/data: links)"),
            p("index", "integer", false, "order among its siblings (default: last)"),
        ],
        codes: &[0, 1010101],
        data: "the entry {id, name, parentId, url, userId}",
    },
    EndpointDoc {
        path: "/mp/menu/delete",
        tag: "public",
        summary: "Deletes a menu entry and its children (the reference's /mp/menu/{op} with op=delete)",
        access: Access::PublicAccount,
        params: &[p("id", "long", true, "the entry")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/mp/fans",
        tag: "public",
        summary: "A page of the account's followers",
        access: Access::PublicAccount,
        params: &[PAGE_INDEX, p("pageSize", "integer", false, "default 10, at most 100")],
        codes: &[],
        data: "[{userId, nickname, createTime (s)}], with count (all followers)",
    },
    EndpointDoc {
        path: "/mp/fans/delete",
        tag: "public",
        summary: "Removes a follower (the relation ends both ways)",
        access: Access::PublicAccount,
        params: &[p("toUserId", "integer", true, "the follower")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/mp/msg",
        tag: "public",
        summary: "A page of the account's conversations, newest first",
        access: Access::PublicAccount,
        params: &[PAGE_INDEX, p("pageSize", "integer", false, "default 15, at most 100")],
        codes: &[],
        data: "rows as /tigase/getLastChatList answers them",
    },
    EndpointDoc {
        path: "/mp/msg/list",
        tag: "public",
        summary: "A page of the conversation with one user, newest first",
        access: Access::PublicAccount,
        params: &[
            p("toUserId", "integer", true, "the user"),
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 15, at most 100"),
        ],
        codes: &[],
        data: "rows as /tigase/shiku_msgs answers them",
    },
    EndpointDoc {
        path: "/mp/msg/reply",
        tag: "public",
        summary: "Replies to a follower with a text",
        access: Access::PublicAccount,
        params: &[
            p("toUserId", "integer", true, "the follower"),
            p("content", "string", true, "the text, at most 4000 characters"),
        ],
        codes: &[0, 1010101],
        data: "{messageId}",
    },
    EndpointDoc {
        path: "/mp/msg/send",
        tag: "public",
        summary: "Sends a message to one follower",
        access: Access::PublicAccount,
        params: &[
            p("toUserId", "integer", true, "the follower"),
            p("body", "string", true, "the message JSON (type 1–99, content, …)"),
        ],
        codes: &[0, 1010101],
        data: "{messageId}",
    },
    EndpointDoc {
        path: "/mp/push",
        tag: "public",
        summary: "The single image-text composer's data (the reference's page)",
        access: Access::PublicAccount,
        params: &[],
        codes: &[],
        data: "{fansCount}",
    },
    EndpointDoc {
        path: "/mp/many",
        tag: "public",
        summary: "The image-text composer's data for several articles (the reference's page)",
        access: Access::PublicAccount,
        params: &[],
        codes: &[],
        data: "{fansCount}",
    },
    EndpointDoc {
        path: "/mp/textToAll",
        tag: "public",
        summary: "A text to every follower",
        access: Access::PublicAccount,
        params: &[p("title", "string", true, "the text, at most 4000 characters")],
        codes: &[0, 1010101],
        data: MASS,
    },
    EndpointDoc {
        path: "/mp/pushToAll",
        tag: "public",
        summary: "A single image-text article (type 80, content {title, sub, img, url}) to every follower",
        access: Access::PublicAccount,
        params: &[
            p("title", "string", true, "at most 64 characters"),
            p("sub", "string", true, "the summary, at most 256 characters"),
            p("img", "string", true, "the picture's URL"),
            p("url", "string", true, "the article's URL"),
        ],
        codes: &[0, 1010101],
        data: MASS,
    },
    EndpointDoc {
        path: "/mp/manyToAll",
        tag: "public",
        summary: "Several image-text articles (type 81, content [{title, img, url}]) to every follower",
        access: Access::PublicAccount,
        params: &[
            p("title", "string", true, "the titles: a JSON array, or repeated"),
            p("url", "string", true, "the URLs, in the same order"),
            p("img", "string", true, "the pictures' URLs, in the same order"),
        ],
        codes: &[0, 1010101],
        data: MASS,
    },
    EndpointDoc {
        path: "/mp/job",
        tag: "public",
        summary: "The progress of one of the account's mass sendings",
        access: Access::PublicAccount,
        params: &[p("jobId", "string", true, "from a *ToAll call")],
        codes: &[0],
        data: "{jobId, from, done, sent, failed, startTime/endTime (ms)}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/public/menu/list", menu_list);
    r.add("/mp/login", login);
    r.add("/mp/logout", logout);
    r.add("/mp/home", home);
    r.add("/mp/menuList", own_menu);
    r.add("/mp/menu/save", menu_save);
    r.add("/mp/menu/delete", menu_delete);
    r.add("/mp/fans", fans);
    r.add("/mp/fans/delete", fans_delete);
    r.add("/mp/msg", conversations);
    r.add("/mp/msg/list", conversation);
    r.add("/mp/msg/reply", reply);
    r.add("/mp/msg/send", send);
    r.add("/mp/push", composer);
    r.add("/mp/many", composer);
    r.add("/mp/textToAll", text_to_all);
    r.add("/mp/pushToAll", push_to_all);
    r.add("/mp/manyToAll", many_to_all);
    r.add("/mp/job", job);
}

/// The public account the `/mp` token belongs to.
fn account(p: &Params) -> Result<i32, Error> {
    match p.caller() {
        Caller::PublicAccount(id) => Ok(*id),
        _ => Err(Error::Code(Code::TokenMissing)),
    }
}

async fn menu_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.me()?;
    Ok(Reply::data(
        mp::menu_tree(&state.ctx, p.required_i32("userId")?).await?,
    ))
}

async fn login(req: HttpRequest, state: web::Data<AppState>, p: Params) -> ApiResult {
    if req.method() == actix_web::http::Method::GET {
        return Ok(Reply::with(
            "请使用 POST 登录 (POST username = phone, password = md5, areaCode)",
            Some(json!({ "console": "/console/", "login": "POST /mp/login" })),
        ));
    }
    let username = ["username", "account", "telephone"]
        .iter()
        .find_map(|k| p.str(k).filter(|v| !v.trim().is_empty()))
        .ok_or_else(|| Error::missing("username"))?;
    let data = mp::login(
        &state.ctx,
        username,
        p.required("password")?,
        p.str("areaCode").unwrap_or(""),
        p.source(),
    )
    .await?;
    Ok(Reply::data(data))
}

async fn logout(state: web::Data<AppState>, p: Params) -> ApiResult {
    account(&p)?;
    console_rules::end_session(&state.ctx, p.required("access_token")?).await?;
    Ok(Reply::ok())
}

async fn home(state: web::Data<AppState>, p: Params) -> ApiResult {
    Ok(Reply::data(mp::home(&state.ctx, account(&p)?).await?))
}

async fn own_menu(state: web::Data<AppState>, p: Params) -> ApiResult {
    Ok(Reply::data(mp::menu_tree(&state.ctx, account(&p)?).await?))
}

async fn menu_save(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let e = MenuEntry {
        id: p.i64("id")?,
        parent_id: p.i64("parentId")?.unwrap_or(0),
        name: p.str("name").unwrap_or("").to_string(),
        url: p.str("url").unwrap_or("").to_string(),
        index: p.i32("index")?,
    };
    Ok(Reply::data(mp::menu_save(&state.ctx, me, e).await?))
}

async fn menu_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let id = p.i64("id")?.ok_or_else(|| Error::missing("id"))?;
    mp::menu_delete(&state.ctx, me, id).await?;
    Ok(Reply::ok())
}

async fn fans(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    Ok(Reply::page(
        mp::fans(&state.ctx, me, p.page(10, 100)?).await?,
    ))
}

async fn fans_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    mp::fans_delete(&state.ctx, me, p.required_i32("toUserId")?).await?;
    Ok(Reply::ok())
}

async fn conversations(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    Ok(Reply::data(
        mp::conversations(&state.ctx, me, p.page(15, 100)?).await?,
    ))
}

async fn conversation(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let with = p.required_i32("toUserId")?;
    Ok(Reply::data(
        mp::conversation(&state.ctx, me, with, p.page(15, 100)?).await?,
    ))
}

async fn reply(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let body = mp::text_body(p.required("content")?)?;
    let to = p.required_i32("toUserId")?;
    Ok(Reply::data(
        mp::send_to_fan(&state.ctx, me, to, body).await?,
    ))
}

async fn send(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let body = parse_body("body", p.required("body")?)?;
    let to = p.required_i32("toUserId")?;
    Ok(Reply::data(
        mp::send_to_fan(&state.ctx, me, to, body).await?,
    ))
}

async fn composer(state: web::Data<AppState>, p: Params) -> ApiResult {
    let home = mp::home(&state.ctx, account(&p)?).await?;
    Ok(Reply::data(json!({ "fansCount": home["fansCount"] })))
}

async fn text_to_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let body = mp::text_body(p.required("title")?)?;
    Ok(Reply::data(mp::send_to_all(&state.ctx, me, body).await?))
}

async fn push_to_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let article = Article {
        title: p.required("title")?.to_string(),
        sub: Some(p.required("sub")?.to_string()),
        img: p.required("img")?.to_string(),
        url: p.required("url")?.to_string(),
    };
    let body = mp::articles_body(&[article])?;
    Ok(Reply::data(mp::send_to_all(&state.ctx, me, body).await?))
}

/// A list parameter: a JSON array of strings, or the parameter repeated.
fn list(p: &Params, name: &str) -> Result<Vec<String>, Error> {
    let raw = p.required(name)?;
    if raw.trim_start().starts_with('[') {
        return serde_json::from_str::<Vec<String>>(raw)
            .map_err(|_| Error::invalid(name, "应为字符串的 JSON 数组"));
    }
    Ok(p.all(name).into_iter().map(str::to_string).collect())
}

async fn many_to_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    let (titles, urls, imgs) = (list(&p, "title")?, list(&p, "url")?, list(&p, "img")?);
    if titles.len() != urls.len() || titles.len() != imgs.len() {
        return Err(Error::invalid("title", "title、url、img 的个数应相同"));
    }
    let articles: Vec<Article> = titles
        .into_iter()
        .zip(urls)
        .zip(imgs)
        .map(|((title, url), img)| Article {
            title,
            sub: None,
            img,
            url,
        })
        .collect();
    let body = mp::articles_body(&articles)?;
    Ok(Reply::data(mp::send_to_all(&state.ctx, me, body).await?))
}

async fn job(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = account(&p)?;
    Ok(Reply::data(
        mp::job(&state.ctx, me, p.required("jobId")?).await?,
    ))
}
