//! Reports: `/user/report` (seed 003) and their review in the console (`/console/reportList`,
//! `/console/report/handle`: ours, the reference's console pages are not documented).

use actix_web::web;

use super::console::{actor, console_page};
use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::console::Need;
use crate::domain::reports;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/user/report",
        tag: "user",
        summary: "Report a user or a room with a reason id; repeating a waiting report replaces it (at most limits.max_waiting_reports waiting per reporter)",
        access: Access::User,
        params: &[
            p("toUserId", "integer", false, "the reported user (when given, roomId is not read)"),
            p("roomId", "string", false, "the reported room, by id or jid"),
            p("reason", "integer", true, "why: a number from the client's list of reasons"),
        ],
        codes: &[0, 1010101],
        data: "none",
    },
    EndpointDoc {
        path: "/console/reportList",
        tag: "console",
        summary: "Reports, newest first, with the reporter's and the reported user's or room's names (any console role)",
        access: Access::Console,
        params: &[
            p("status", "integer", false, "0 waiting, 1 handled; absent or -1: both"),
            p("type", "integer", false, "1 reports of users, 2 of rooms; absent or 0: both"),
            p("page", "integer", false, "page, from 1 (or pageIndex from 0)"),
            p("limit", "integer", false, "rows per page, default 15, at most 1000 (or pageSize)"),
        ],
        codes: &[0, 1010101],
        data: "[{reportId, userId, nickname, toUserId, toNickname, roomId, roomName, reason, time(s), status, handleTime(s), handler, action(1 locked)}], count",
    },
    EndpointDoc {
        path: "/console/report/handle",
        tag: "console",
        summary: "Mark a report, and every waiting report of the same user or room, handled; lock=1 also locks that user or room (role 5/6)",
        access: Access::Console,
        params: &[
            p("reportId", "string", true, "the report"),
            p("lock", "integer", false, "1: lock the reported user or room; 0 (default): only mark handled"),
        ],
        codes: &[0, 1010101],
        data: "{handled: how many reports were marked}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/user/report", report);
    r.add("/console/reportList", report_list);
    r.add("/console/report/handle", handle);
}

async fn report(state: web::Data<AppState>, p: Params) -> ApiResult {
    reports::report(
        &state.ctx,
        p.me()?,
        p.i32("toUserId")?,
        p.str("roomId"),
        p.required_i32("reason")?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn report_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Read).await?;
    let status = p.i32("status")?.filter(|s| *s >= 0);
    let rooms = match p.i32_or("type", 0)? {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    };
    let page = console_page(&p, 15)?;
    Ok(Reply::page(
        reports::console_list(ctx, &a, status, rooms, page).await?,
    ))
}

async fn handle(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let lock = p.i32_or("lock", 0)? == 1;
    Ok(Reply::data(
        reports::console_handle(ctx, &a, p.required("reportId")?, lock).await?,
    ))
}
