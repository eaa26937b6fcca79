//! The console's view of users' relations: `/console/friendsList`, `/console/deleteFriends`
//! (515), `/console/blacklist/operation` (513/514).

use actix_web::web;

use super::console::{actor, console_page};
use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::console::Need;
use crate::domain::console_friends;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/console/friendsList",
        tag: "console",
        summary: "A user's relations (friends, follows, blacklist) in the order they were made (any console role)",
        access: Access::Console,
        params: &[
            p("userId", "integer", true, "the user"),
            p("status", "integer", false, "only this relation status (1 follow, 2 friend, -1 blacklisted)"),
            p("page", "integer", false, "page, from 1 (or pageIndex from 0)"),
            p("limit", "integer", false, "rows per page, default 15, at most 1000 (or pageSize)"),
        ],
        codes: &[0, 1010101],
        data: "[friend relation as /friends/get], count",
    },
    EndpointDoc {
        path: "/console/deleteFriends",
        tag: "console",
        summary: "End two users' friendship both ways; 515 \"系统解除了你们好友关系\" to both (role 5/6)",
        access: Access::Console,
        params: &[
            p("userId", "integer", true, "one user"),
            p("toUserId", "integer", true, "the other user"),
        ],
        codes: &[0, 1010101],
        data: "none",
    },
    EndpointDoc {
        path: "/console/blacklist/operation",
        tag: "console",
        summary: "Put toUserId on userId's blacklist (type 1, 513 to both) or take them off (type 2, 514 to both) (role 5/6)",
        access: Access::Console,
        params: &[
            p("userId", "integer", true, "the blacklist's owner"),
            p("toUserId", "integer", true, "the user put on or taken off it"),
            p("type", "integer", true, "1 put on, 2 take off"),
        ],
        codes: &[0, 1010101],
        data: "none",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/console/friendsList", friends_list);
    r.add("/console/deleteFriends", delete_friends);
    r.add("/console/blacklist/operation", blacklist);
}

async fn friends_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Read).await?;
    let page = console_page(&p, 15)?;
    let user_id = p.required_i32("userId")?;
    Ok(Reply::page(
        console_friends::friends_list(ctx, &a, user_id, p.i32("status")?, page).await?,
    ))
}

async fn delete_friends(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let (user_id, to) = (p.required_i32("userId")?, p.required_i32("toUserId")?);
    console_friends::delete_friends(ctx, &a, user_id, to).await?;
    Ok(Reply::ok())
}

async fn blacklist(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let (user_id, to) = (p.required_i32("userId")?, p.required_i32("toUserId")?);
    console_friends::blacklist(ctx, &a, user_id, to, p.required_i32("type")?).await?;
    Ok(Reply::ok())
}
