//! The console's room pages of seed 003: `/console/addRoom`, `/console/roomUserManager`.

use actix_web::web;

use super::console::actor;
use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::console::Need;
use crate::domain::console_rooms;
use crate::domain::rooms::{self, NewRoom};

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/console/addRoom",
        tag: "console",
        summary: "Make a room for a user with the members named, as /room/add makes it (907 to the members); a jid is made when none is given (role 5/6). The reference's GET answered a JSP form; here both methods create",
        access: Access::Console,
        params: &[
            p("userId", "integer", true, "the owner (the Room entity's userId)"),
            p("name", "string", true, "room name"),
            p("desc", "string", false, "description"),
            p("jid", "string", false, "32-hex jid (made when absent)"),
            p("ids", "string", false, "member userIds, a JSON array such as [100102,100174]"),
        ],
        codes: &[0, 1010101],
        data: "Room object as /room/add answers it",
    },
    EndpointDoc {
        path: "/console/roomUserManager",
        tag: "console",
        summary: "A room's members in the order they joined, paged (any console role)",
        access: Access::Console,
        params: &[
            p("id", "string", true, "room id (or jid)"),
            p("pageIndex", "integer", false, "page, from 0"),
            p("pageSize", "integer", false, "rows per page, default 10, at most 1000"),
        ],
        codes: &[0, 1010101],
        data: "[member as /room/member/list], count",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/console/addRoom", add_room);
    r.add("/console/roomUserManager", room_user_manager);
}

async fn add_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let members = match p.str("ids") {
        Some(text) => rooms::parse_user_ids("ids", text)?,
        None => Vec::new(),
    };
    let room = NewRoom {
        jid: p.str("jid").unwrap_or("").to_string(),
        name: Some(p.required("name")?.to_string()),
        desc: p.string("desc"),
        members,
        ..Default::default()
    };
    let owner = p.required_i32("userId")?;
    Ok(Reply::data(
        console_rooms::add_room(ctx, &a, owner, room).await?,
    ))
}

async fn room_user_manager(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Read).await?;
    let page = p.page(10, 1000)?;
    Ok(Reply::page(
        console_rooms::room_members(ctx, &a, p.required("id")?, page).await?,
    ))
}
