//! The console's room pages of seed 003: `/console/addRoom` (a room made for a user, with the
//! members the console names) and `/console/roomUserManager` (a room's members, paged).

use serde_json::Value;

use super::console::{Actor, Need};
use super::error::{Error, Result};
use super::rooms::{self, NewRoom};
use super::util::uuid32;
use super::view::{Page, PageResult};
use super::Ctx;
use crate::store::MemberQuery;

/// `/console/addRoom`: a room owned by `owner` (the Room entity's `userId`) with `members`,
/// made as `/room/add` makes it (the members told, 907); a jid is made when none is given.
/// Roles 5/6. Answers the room as `/room/add` does.
pub async fn add_room(ctx: &Ctx, actor: &Actor, owner: i32, mut room: NewRoom) -> Result<Value> {
    actor.require(Need::Manage)?;
    if owner <= 0 {
        return Err(Error::missing("userId"));
    }
    if ctx.store.users.get_user(owner).await?.is_none() {
        return Err(Error::failure("群主不存在 (no such owner)"));
    }
    if room.jid.trim().is_empty() {
        room.jid = uuid32();
    }
    rooms::create(ctx, owner, room).await
}

/// `/console/roomUserManager`: a room's members (by id or jid), in the order they joined
/// (any console role).
pub async fn room_members(
    ctx: &Ctx,
    actor: &Actor,
    room_id: &str,
    page: Page,
) -> Result<PageResult> {
    actor.require(Need::Read)?;
    let room = rooms::load_room(ctx, room_id).await?;
    let q = MemberQuery {
        room_id: room.id.clone().unwrap_or_default(),
        skip: page.skip(),
        limit: u64::from(page.size),
        ..MemberQuery::default()
    };
    let members = ctx.store.rooms.query_members(&q).await?;
    let total = ctx
        .store
        .rooms
        .count_members(&MemberQuery {
            skip: 0,
            limit: 0,
            ..q
        })
        .await?;
    Ok(PageResult {
        data: members.iter().map(rooms::member_view).collect(),
        count: total,
    })
}
