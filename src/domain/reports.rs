//! Reports (seed 003 `/user/report`) and their review in the console: a user reports a user
//! or a room with a reason; a console user lists the reports, marks them handled and may lock
//! the reported user or room from there. Handling one report handles every waiting report of
//! the same user or room.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::console::{self, Actor, ConsolePage, Need, UserRef};
use super::error::{Error, Result};
use super::rooms;
use super::util::now_secs;
use super::view::PageResult;
use super::Ctx;
use crate::documents::Report;
use crate::store::ReportQuery;

/// Largest reason id accepted (the clients' lists are short).
const MAX_REASON: i32 = 10_000;

/// `/user/report`: the caller reports a user (`toUserId`) or else a room (`roomId`, id or jid)
/// with a reason; repeating a waiting report replaces it. At most `limits.max_waiting_reports`
/// of one reporter wait for review.
pub async fn report(
    ctx: &Ctx,
    me: i32,
    to_user_id: Option<i32>,
    room_id: Option<&str>,
    reason: i32,
) -> Result<()> {
    if !(0..=MAX_REASON).contains(&reason) {
        return Err(Error::invalid("reason", format!("应为 0 到 {MAX_REASON}")));
    }
    let mut r = Report {
        user_id: me,
        reason,
        time: now_secs(),
        ..Default::default()
    };
    // A user when toUserId is given (the reference's order), else a room.
    match (
        to_user_id.filter(|id| *id != 0),
        room_id.map(str::trim).filter(|r| !r.is_empty()),
    ) {
        (Some(uid), _) => {
            if uid == me {
                return Err(Error::failure("不能举报自己 (you cannot report yourself)"));
            }
            if ctx.store.users.get_user(uid).await?.is_none() {
                return Err(Error::failure("该用户不存在!"));
            }
            r.to_user_id = uid;
        }
        (None, Some(room)) => {
            let room = rooms::load_room(ctx, room).await?;
            r.room_id = room.id.unwrap_or_default();
        }
        (None, None) => return Err(Error::missing("toUserId")),
    }
    if ctx.store.reports.waiting_reports_of(me).await? >= ctx.config.limits.max_waiting_reports {
        return Err(Error::failure(
            "举报过于频繁，请等待处理 (too many reports waiting)",
        ));
    }
    ctx.store.reports.put_report(&r).await?;
    Ok(())
}

/// `/console/reportList`: reports newest first, with the names of who reported whom (any
/// console role). `status` 0 waiting, 1 handled; `rooms` true for reports of rooms.
pub async fn console_list(
    ctx: &Ctx,
    actor: &Actor,
    status: Option<i32>,
    rooms_only: Option<bool>,
    page: ConsolePage,
) -> Result<PageResult> {
    actor.require(Need::Read)?;
    let (rows, total) = ctx
        .store
        .reports
        .reports(&ReportQuery {
            status,
            rooms: rooms_only,
            skip: page.skip(),
            limit: u32::try_from(page.limit).unwrap_or(u32::MAX),
        })
        .await?;
    let mut ids: Vec<i32> = rows
        .iter()
        .flat_map(|r| [r.user_id, r.to_user_id])
        .collect();
    ids.retain(|id| *id != 0);
    ids.sort_unstable();
    ids.dedup();
    let names = ctx.store.users.user_names(&ids).await?;
    let name_of = |id: i32| -> String {
        ids.binary_search(&id)
            .ok()
            .and_then(|i| names[i].as_ref())
            .map(|n| n.nickname.clone())
            .unwrap_or_default()
    };
    // Reports of one room are usually many: each room is read once per page.
    let mut room_names: HashMap<&str, String> = HashMap::new();
    for r in rows.iter().filter(|r| !r.room_id.is_empty()) {
        if !room_names.contains_key(r.room_id.as_str()) {
            let name = match rooms::load_room(ctx, &r.room_id).await {
                Ok(room) => room.name,
                Err(_) => String::new(),
            };
            room_names.insert(&r.room_id, name);
        }
    }
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        let room_name = room_names
            .get(r.room_id.as_str())
            .cloned()
            .unwrap_or_default();
        data.push(json!({
            "reportId": r.id.clone().unwrap_or_default(),
            "userId": r.user_id,
            "nickname": name_of(r.user_id),
            "toUserId": r.to_user_id,
            "toNickname": name_of(r.to_user_id),
            "roomId": r.room_id,
            "roomName": room_name,
            "reason": r.reason,
            "time": r.time,
            "status": r.status,
            "handleTime": r.handle_time,
            "handler": r.handler,
            "action": r.action,
        }));
    }
    Ok(PageResult { data, count: total })
}

/// `/console/report/handle`: marks the report (and every waiting report of the same user or
/// room) handled; with `lock` also locks that user (as `/console/changeStatus`) or room (as
/// `/console/updateRoom`). Roles 5/6. Answers how many reports were marked.
pub async fn console_handle(
    ctx: &Ctx,
    actor: &Actor,
    report_id: &str,
    lock: bool,
) -> Result<Value> {
    actor.require(Need::Manage)?;
    let r = ctx
        .store
        .reports
        .report(report_id.trim())
        .await?
        .ok_or_else(|| Error::failure("举报不存在 (no such report)"))?;
    if lock {
        if r.room_id.is_empty() {
            console::change_status(ctx, actor, &UserRef::Id(r.to_user_id), -1).await?;
        } else {
            rooms::console_set_locked(ctx, &r.room_id, -1).await?;
        }
    }
    let handled = ctx
        .store
        .reports
        .handle_reports(&r, actor.user_id(), now_secs(), i32::from(lock))
        .await?;
    Ok(json!({ "handled": handled }))
}
