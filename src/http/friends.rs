//! `FriendsController`: relations, friend lists and the blacklist (spec/reference-server.md
//! 3.3, seed 002 `/friends/page`, clients.md 2.4). Every endpoint acts on the caller's own relations; `userId` parameters are accepted and ignored.

use actix_web::web;

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::friends::{self, Attention, ATTENTION_REFUSED};
use crate::domain::Code;
use crate::domain::Error;

/// Largest `pageSize` honoured (seed 002's web client asks `/friends/page` for 50000).
const MAX_PAGE_SIZE: u32 = 50_000;

const TO_USER_ID: crate::http::docs::ParamDoc = p("toUserId", "integer", true, "the other user");
const IGNORED_USER_ID: crate::http::docs::ParamDoc = p(
    "userId",
    "integer",
    true,
    "required as in the reference, value ignored: the token decides",
);
const PAGE_INDEX: crate::http::docs::ParamDoc =
    p("pageIndex", "integer", false, "0-based, default 0");

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/friends/add",
        tag: "friends",
        summary: "Become friends at once (both directions status 2, no verification); the client then sends type 508",
        access: Access::User,
        params: &[TO_USER_ID],
        codes: &[0],
        data: "none; resultMsg 加好友成功",
    },
    EndpointDoc {
        path: "/friends/attention/add",
        tag: "friends",
        summary: "Follow a user: type 1 = following (awaiting verification), type 2 = friends",
        access: Access::User,
        params: &[
            TO_USER_ID,
            p("fromAddType", "integer", false, "0 system (default), 1 QR code, 2 card, 3 group, 4 phone search, 5 nickname search, 6 other"),
        ],
        codes: &[0, ATTENTION_REFUSED],
        data: "{fromAddType, type}; 1100801 when the target refuses follows",
    },
    EndpointDoc {
        path: "/friends/attention/batchAdd",
        tag: "friends",
        summary: "Become friends with several users at once, each only when /friends/add would (their consent); each gets a 510 notification",
        access: Access::User,
        params: &[p("toUserIds", "string", true, "comma-separated userIds")],
        codes: &[0],
        data: "array of the userIds processed",
    },
    EndpointDoc {
        path: "/friends/attention/delete",
        tag: "friends",
        summary: "Stop following (removes my side of the relation only)",
        access: Access::User,
        params: &[TO_USER_ID],
        codes: &[0],
        data: "none; resultMsg 取消关注成功",
    },
    EndpointDoc {
        path: "/friends/attention/list",
        tag: "friends",
        summary: "My relations with a status",
        access: Access::User,
        params: &[
            p("status", "integer", false, "0 (default) = 2 friends; 1 following; -1 blacklisted"),
            p("userId", "integer", false, "ignored: the token decides"),
        ],
        codes: &[],
        data: "array of Friends",
    },
    EndpointDoc {
        path: "/friends/delete",
        tag: "friends",
        summary: "End a friendship in both directions and drop both conversation rows; the client then sends type 505",
        access: Access::User,
        params: &[TO_USER_ID],
        codes: &[0],
        data: "none; resultMsg 删除好友成功",
    },
    EndpointDoc {
        path: "/friends/update",
        tag: "friends",
        summary: "Set how long the chat history with a friend is kept",
        access: Access::User,
        params: &[
            TO_USER_ID,
            p("chatRecordTimeOut", "string", false, "days (decimal), -1 (default) = forever, 0 = unchanged"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/friends/remark",
        tag: "friends",
        summary: "Set my remark name and description of a user (a stranger relation is created when needed); 801 to my other devices",
        access: Access::User,
        params: &[
            TO_USER_ID,
            p("remarkName", "string", false, "default \"\", at most 64 characters"),
            p("describe", "string", false, "default \"\", at most 1024 characters"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/friends/update/OfflineNoPushMsg",
        tag: "friends",
        summary: "Do-not-disturb, burn-after-reading or pin a chat with a friend; 801 to my other devices",
        access: Access::User,
        params: &[
            IGNORED_USER_ID,
            TO_USER_ID,
            p("offlineNoPushMsg", "integer", false, "0 off (default), 1 on"),
            p("type", "integer", false, "0 do-not-disturb (default), 1 burn after reading, 2 pin (openTopChatTime)"),
        ],
        codes: &[0],
        data: "Friends (updated)",
    },
    EndpointDoc {
        path: "/friends/get",
        tag: "friends",
        summary: "My relation to a user (isBeenBlack read from their side)",
        access: Access::User,
        params: &[TO_USER_ID, p("userId", "integer", false, "ignored: the token decides")],
        codes: &[],
        data: "Friends, omitted when there is no relation",
    },
    EndpointDoc {
        path: "/friends/list",
        tag: "friends",
        summary: "My friends (status 2, not blacklisted)",
        access: Access::User,
        params: &[
            p("userId", "integer", false, "ignored: the token decides"),
            p("keyword", "string", false, "ignored"),
        ],
        codes: &[],
        data: "array of Friends",
    },
    EndpointDoc {
        path: "/friends/page",
        tag: "friends",
        summary: "A page of my relations (the web client's contact list); items carry account and orderKey",
        access: Access::User,
        params: &[
            IGNORED_USER_ID,
            p("keyword", "string", false, "case-insensitive substring of toNickname or remarkName"),
            p("status", "integer", false, "default 2; 0 or less = any"),
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 10, at most 50000"),
        ],
        codes: &[],
        data: "PageVO {pageCount, pageData: [Friends], pageIndex, pageSize, start, total}",
    },
    EndpointDoc {
        path: "/friends/blacklist/add",
        tag: "friends",
        summary: "Blacklist a user (friend or stranger); the client then sends type 507",
        access: Access::User,
        params: &[TO_USER_ID],
        codes: &[0],
        data: "Friends (my relation afterwards); resultMsg 加入黑名单成功",
    },
    EndpointDoc {
        path: "/friends/blacklist/delete",
        tag: "friends",
        summary: "Take a user off my blacklist; the client then sends type 509",
        access: Access::User,
        params: &[TO_USER_ID],
        codes: &[0],
        data: "Friends (my relation afterwards, omitted for a released stranger); resultMsg 取消拉黑成功",
    },
    EndpointDoc {
        path: "/friends/blacklist",
        tag: "friends",
        summary: "A page of my blacklist",
        access: Access::User,
        params: &[PAGE_INDEX, p("pageSize", "integer", false, "default 10")],
        codes: &[],
        data: "array of Friends",
    },
    EndpointDoc {
        path: "/friends/queryBlacklistWeb",
        tag: "friends",
        summary: "A page of my blacklist (web client)",
        access: Access::User,
        params: &[PAGE_INDEX, p("pageSize", "integer", false, "default 10")],
        codes: &[],
        data: "PageVO of Friends",
    },
    EndpointDoc {
        path: "/friends/fans/list",
        tag: "friends",
        summary: "Users who follow me and await my verification (the reference answers nothing here)",
        access: Access::User,
        params: &[
            p("userId", "integer", false, "ignored: the token decides"),
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 1000"),
        ],
        codes: &[],
        data: "array of {account, createTime, fromAddType, orderKey, status, toNickname, toUserId (the follower), userId (me)}",
    },
    EndpointDoc {
        path: "/friends/friendsAndAttention",
        tag: "friends",
        summary: "The userIds of my friends and follows, or of my blacklist",
        access: Access::User,
        params: &[
            IGNORED_USER_ID,
            p("type", "string", true, "friendList or blackList"),
        ],
        codes: &[0],
        data: "array of userIds",
    },
    EndpointDoc {
        path: "/friends/newFriend/list",
        tag: "friends",
        summary: "My friend-request events (types 500-515), newest first",
        access: Access::User,
        params: &[IGNORED_USER_ID, PAGE_INDEX, p("pageSize", "integer", false, "default 10")],
        codes: &[],
        data: "array of NewFriends {content, createTime, direction, from?, modifyTime, status, toNickname, toUserId, type, userId}",
    },
    EndpointDoc {
        path: "/friends/newFriendListWeb",
        tag: "friends",
        summary: "My friend-request events as a page (web client)",
        access: Access::User,
        params: &[IGNORED_USER_ID, PAGE_INDEX, p("pageSize", "integer", false, "default 10")],
        codes: &[0],
        data: "PageVO of NewFriends (total: rows up to this page, plus one when more exist)",
    },
    EndpointDoc {
        path: "/friends/addAllFriendsSys",
        tag: "friends",
        summary: "Become friends with every public account (userType 2, 10000 at least)",
        access: Access::User,
        params: &[],
        codes: &[0],
        data: "array of the userIds added",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/friends/add", add);
    r.add("/friends/attention/add", attention_add);
    r.add("/friends/attention/batchAdd", attention_batch_add);
    r.add("/friends/attention/delete", attention_delete);
    r.add("/friends/attention/list", attention_list);
    r.add("/friends/delete", delete);
    r.add("/friends/update", update);
    r.add("/friends/remark", remark);
    r.add("/friends/update/OfflineNoPushMsg", offline_no_push);
    r.add("/friends/get", get);
    r.add("/friends/list", list);
    r.add("/friends/page", page);
    r.add("/friends/blacklist/add", blacklist_add);
    r.add("/friends/blacklist/delete", blacklist_delete);
    r.add("/friends/blacklist", blacklist);
    r.add("/friends/queryBlacklistWeb", blacklist_web);
    r.add("/friends/fans/list", fans);
    r.add("/friends/friendsAndAttention", friends_and_attention);
    r.add("/friends/newFriend/list", new_friends);
    r.add("/friends/newFriendListWeb", new_friends_web);
    r.add("/friends/addAllFriendsSys", add_all_sys);
}

async fn add(state: web::Data<AppState>, p: Params) -> ApiResult {
    friends::add(&state.ctx, p.me()?, p.required_i32("toUserId")?).await?;
    Ok(Reply::msg("加好友成功"))
}

async fn attention_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let to = p.required_i32("toUserId")?;
    let from_add_type = p.i32_or("fromAddType", 0)?;
    let outcome = friends::follow(&state.ctx, me, to, from_add_type).await?;
    Ok(match outcome {
        // The reference answers this with a *string* resultCode and no currentTime; clients
        // compare the code numerically, so it is an integer here.
        Attention::Refused => return Err(Error::Code(Code::AttentionRefused)),
        Attention::Done { .. } => Reply::with(outcome.message(), outcome.data()),
    })
}

async fn attention_batch_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let raw = p.required("toUserIds")?;
    let mut ids = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let id = part.parse::<i32>().map_err(|_| {
            Error::invalid("toUserIds", format!("应为逗号分隔的 userId, 收到 {part:?}"))
        })?;
        ids.push(id);
    }
    if ids.len() > 1000 {
        return Err(Error::invalid("toUserIds", "最多 1000 个"));
    }
    let (done, blacklisted) = friends::batch_follow(&state.ctx, p.me()?, &ids).await?;
    // The reference answers the outcome of the last id only; we fail only when nothing was
    // added and someone refused because they blacklisted me.
    if done.is_empty() && blacklisted {
        return Err(Error::failure("已被对方添加到黑名单"));
    }
    Ok(Reply::data(serde_json::json!(done)))
}

async fn attention_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    friends::unfollow(&state.ctx, p.me()?, p.required_i32("toUserId")?).await?;
    Ok(Reply::msg("取消关注成功"))
}

async fn attention_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let status = p.i32_or("status", 0)?;
    Ok(Reply::data(
        friends::attention_list(&state.ctx, p.me()?, status).await?,
    ))
}

async fn delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    friends::delete(&state.ctx, p.me()?, p.required_i32("toUserId")?).await?;
    Ok(Reply::msg("删除好友成功"))
}

async fn update(state: web::Data<AppState>, p: Params) -> ApiResult {
    let to = p.required_i32("toUserId")?;
    let timeout = p.str("chatRecordTimeOut").unwrap_or("-1");
    friends::update(&state.ctx, p.me()?, to, timeout).await?;
    Ok(Reply::ok())
}

async fn remark(state: web::Data<AppState>, p: Params) -> ApiResult {
    let to = p.required_i32("toUserId")?;
    let remark_name = p.get("remarkName").unwrap_or("");
    let describe = p.get("describe").unwrap_or("");
    friends::remark(&state.ctx, p.me()?, to, remark_name, describe).await?;
    Ok(Reply::ok())
}

async fn offline_no_push(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.required_i32("userId")?;
    let to = p.required_i32("toUserId")?;
    let value = p.i32_or("offlineNoPushMsg", 0)?;
    let kind = p.i32_or("type", 0)?;
    Ok(Reply::data(
        friends::set_flag(&state.ctx, p.me()?, to, value, kind).await?,
    ))
}

async fn get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let to = p.required_i32("toUserId")?;
    Ok(match friends::get(&state.ctx, p.me()?, to).await? {
        Some(v) => Reply::data(v),
        None => Reply::ok(),
    })
}

async fn list(state: web::Data<AppState>, p: Params) -> ApiResult {
    Ok(Reply::data(friends::list(&state.ctx, p.me()?).await?))
}

async fn page(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.required_i32("userId")?;
    let keyword = p.get("keyword").unwrap_or("");
    let status = p.i32_or("status", 2)?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::raw(
        friends::page(&state.ctx, p.me()?, keyword, status, page).await?,
    ))
}

async fn blacklist_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = friends::blacklist_add(&state.ctx, p.me()?, p.required_i32("toUserId")?).await?;
    Ok(Reply::with("加入黑名单成功", Some(data)))
}

async fn blacklist_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = friends::blacklist_delete(&state.ctx, p.me()?, p.required_i32("toUserId")?).await?;
    Ok(Reply::with("取消拉黑成功", data))
}

async fn blacklist(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        friends::blacklist(&state.ctx, p.me()?, page).await?,
    ))
}

async fn blacklist_web(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        friends::blacklist_page(&state.ctx, p.me()?, page).await?,
    ))
}

async fn fans(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(1000, MAX_PAGE_SIZE)?;
    Ok(Reply::data(friends::fans(&state.ctx, p.me()?, page).await?))
}

async fn friends_and_attention(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.required_i32("userId")?;
    let kind = p.get("type").unwrap_or("");
    Ok(Reply::data(
        friends::friends_and_attention(&state.ctx, p.me()?, kind).await?,
    ))
}

async fn new_friends(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.required_i32("userId")?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        friends::new_friends(&state.ctx, p.me()?, page).await?,
    ))
}

async fn new_friends_web(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.required_i32("userId")?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        friends::new_friends_page(&state.ctx, p.me()?, page).await?,
    ))
}

async fn add_all_sys(state: web::Data<AppState>, p: Params) -> ApiResult {
    Ok(Reply::data(
        friends::add_all_system(&state.ctx, p.me()?).await?,
    ))
}
