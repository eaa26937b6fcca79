//! Favourites (seed 003's `/emoji/*` and `/collection/list`; the reference's controllers serve
//! them under `/user/` as well, and clients.md names neither spelling, so both are served).

use actix_web::{web, HttpRequest};

use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::upload::request_base;
use super::AppState;
use crate::domain::favourites::{self, FavouriteAdd};

const ADD: &[ParamDoc] = &[
    p(
        "msgId",
        "string",
        false,
        "a message of mine (1:1) or of a room I am in (with roomJid)",
    ),
    p("roomJid", "string", false, "the room jid of a room message"),
    p(
        "url",
        "string",
        false,
        "a file or sticker URL (without msgId); our uploads are copied for the favourite",
    ),
    p(
        "type",
        "integer",
        false,
        "1 image, 2 video, 3 file, 4 voice, 5 text, 6 sticker (from the message when absent)",
    ),
    p(
        "msg",
        "string",
        false,
        "the text of a text favourite without msgId",
    ),
];
const ADD_SUMMARY: &str = "Add a favourite: a message (its file copied and kept while the favourite exists), a file or sticker URL, or a text; at most limits.max_favourites per user";
const STICKERS: &[ParamDoc] = &[
    p(
        "userId",
        "integer",
        false,
        "ignored: the caller's own favourites",
    ),
    p("pageIndex", "integer", false, "page, from 0"),
    p(
        "pageSize",
        "integer",
        false,
        "rows per page, default 10, at most 100",
    ),
];
const STICKERS_SUMMARY: &str = "The caller's stickers (type 6), newest first";
const STICKERS_DATA: &str =
    "[{emojiId, userId, type, url, msg, msgId, roomJid, fileName, fileSize, createTime(s)}]";
const LIST: &[ParamDoc] = &[
    p(
        "userId",
        "integer",
        false,
        "ignored: the caller's own favourites",
    ),
    p(
        "type",
        "integer",
        false,
        "1 image, 2 video, 3 file, 4 voice, 5 text, 6 sticker; 0 or absent: all but stickers",
    ),
    p("pageIndex", "integer", false, "page, from 0"),
    p(
        "pageSize",
        "integer",
        false,
        "rows per page, default 10, at most 100",
    ),
];
const LIST_SUMMARY: &str = "The caller's favourites of a type, newest first";
const DELETE: &[ParamDoc] = &[p(
    "emojiId",
    "string",
    true,
    "favourite id (comma-separated for several)",
)];
const DELETE_SUMMARY: &str =
    "Delete favourites of the caller's (and the copies of files they kept)";

macro_rules! doc {
    ($path:expr, $summary:expr, $params:expr, $codes:expr, $data:expr) => {
        EndpointDoc {
            path: $path,
            tag: "favourites",
            summary: $summary,
            access: Access::User,
            params: $params,
            codes: $codes,
            data: $data,
        }
    };
}

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    doc!("/emoji/add", ADD_SUMMARY, ADD, &[0, 1010101], "none"),
    doc!("/user/emoji/add", ADD_SUMMARY, ADD, &[0, 1010101], "none"),
    doc!(
        "/emoji/list",
        STICKERS_SUMMARY,
        STICKERS,
        &[1010101],
        STICKERS_DATA
    ),
    doc!(
        "/user/emoji/list",
        STICKERS_SUMMARY,
        STICKERS,
        &[1010101],
        STICKERS_DATA
    ),
    doc!(
        "/collection/list",
        LIST_SUMMARY,
        LIST,
        &[1010101],
        STICKERS_DATA
    ),
    doc!(
        "/user/collection/list",
        LIST_SUMMARY,
        LIST,
        &[1010101],
        STICKERS_DATA
    ),
    doc!(
        "/emoji/delete",
        DELETE_SUMMARY,
        DELETE,
        &[0, 1010101],
        "none"
    ),
    doc!(
        "/user/emoji/delete",
        DELETE_SUMMARY,
        DELETE,
        &[0, 1010101],
        "none"
    ),
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/emoji/add", add);
    r.add("/user/emoji/add", add);
    r.add("/emoji/list", stickers);
    r.add("/user/emoji/list", stickers);
    r.add("/collection/list", list);
    r.add("/user/collection/list", list);
    r.add("/emoji/delete", delete);
    r.add("/user/emoji/delete", delete);
}

async fn add(req: HttpRequest, state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = FavouriteAdd {
        url: p.str("url").unwrap_or("").to_string(),
        msg_id: p.str("msgId").unwrap_or("").to_string(),
        room_jid: p.str("roomJid").unwrap_or("").to_string(),
        kind: p.i32("type")?,
        text: p.str("msg").unwrap_or("").to_string(),
    };
    let base = state.ctx.files.base_url(&request_base(&req));
    favourites::add(&state.ctx, p.me()?, r, &base).await?;
    Ok(Reply::ok())
}

async fn stickers(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(10, 100)?;
    Ok(Reply::data(
        favourites::list(&state.ctx, p.me()?, None, true, page).await?,
    ))
}

async fn list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(10, 100)?;
    let kind = p.i32("type")?;
    Ok(Reply::data(
        favourites::list(&state.ctx, p.me()?, kind, false, page).await?,
    ))
}

async fn delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    favourites::delete(&state.ctx, p.me()?, p.required("emojiId")?).await?;
    Ok(Reply::ok())
}
