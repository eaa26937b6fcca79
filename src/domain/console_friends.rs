//! The console's view of users' relations (spec/reference-server.md 3.7 "other console
//! endpoints", notifications 513–515): a user's friends, ending a friendship (515 to both), and
//! putting one user on another's blacklist or taking them off (513 / 514 to both).

use serde_json::{json, Value};

use super::console::{Actor, ConsolePage, Need};
use super::error::{Error, Result};
use super::friends;
use super::messages::{self, Notice};
use super::view::PageResult;
use super::Ctx;
use crate::store::FriendQuery;

/// Who the console's notices come from.
const ADMIN_NAME: &str = "后台系统管理员";

/// Tells both users what the console did between them (`type` 513, 514 or 515).
async fn tell_both(
    ctx: &Ctx,
    actor: &Actor,
    msg_type: i32,
    a: i32,
    b: i32,
    content: &str,
) -> Result<()> {
    let names = ctx.store.users.user_names(&[a, b]).await?;
    let name = |i: usize| {
        names[i]
            .as_ref()
            .map(|n| n.nickname.clone())
            .unwrap_or_default()
    };
    let object = json!({
        "fromUserId": a.to_string(),
        "fromUserName": name(0),
        "toUserId": b.to_string(),
        "toUserName": name(1),
    });
    for to in [a, b] {
        let n = Notice {
            msg_type,
            content: json!(content),
            from_user_id: Some(actor.user_id().to_string()),
            from_user_name: Some(ADMIN_NAME.into()),
            object_id: Some(Value::String(object.to_string())),
            ..Notice::default()
        };
        if let Err(e) = messages::notify_user(ctx, to, &n).await {
            tracing::warn!(error = %e, to, msg_type, "console notice not sent");
        }
    }
    Ok(())
}

fn two_users(user_id: i32, to_user_id: i32) -> Result<()> {
    if user_id <= 0 {
        return Err(Error::missing("userId"));
    }
    if to_user_id <= 0 {
        return Err(Error::missing("toUserId"));
    }
    if user_id == to_user_id {
        return Err(Error::invalid("toUserId", "不能与 userId 相同"));
    }
    Ok(())
}

/// `/console/friendsList`: a user's relations (friends, follows, blacklist) in the order they
/// were made (any console role).
pub async fn friends_list(
    ctx: &Ctx,
    actor: &Actor,
    user_id: i32,
    status: Option<i32>,
    page: ConsolePage,
) -> Result<PageResult> {
    actor.require(Need::Read)?;
    if user_id <= 0 {
        return Err(Error::missing("userId"));
    }
    let rows = ctx
        .store
        .friends
        .query_friends(&FriendQuery {
            user_id,
            status,
            skip: page.skip(),
            limit: page.limit,
            ..FriendQuery::default()
        })
        .await?;
    let total = ctx.store.friends.count_friends(user_id, status).await?;
    let ids: Vec<i32> = rows.iter().map(|f| f.to_user_id).collect();
    let names = ctx.store.users.user_names(&ids).await?;
    let data = rows
        .iter()
        .zip(names.iter())
        .map(|(f, n)| friends::friend_view(f, n.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    Ok(PageResult { data, count: total })
}

/// `/console/deleteFriends`: ends the friendship of two users both ways, and tells both (515).
/// Roles 5/6.
pub async fn delete_friends(ctx: &Ctx, actor: &Actor, user_id: i32, to_user_id: i32) -> Result<()> {
    actor.require(Need::Manage)?;
    two_users(user_id, to_user_id)?;
    friends::delete(ctx, user_id, to_user_id).await?;
    tell_both(
        ctx,
        actor,
        515,
        user_id,
        to_user_id,
        "系统解除了你们好友关系",
    )
    .await
}

/// `/console/blacklist/operation`: `type` 1 puts `toUserId` on `userId`'s blacklist (513), 2
/// takes them off (514); both users are told. Roles 5/6.
pub async fn blacklist(
    ctx: &Ctx,
    actor: &Actor,
    user_id: i32,
    to_user_id: i32,
    kind: i32,
) -> Result<()> {
    actor.require(Need::Manage)?;
    two_users(user_id, to_user_id)?;
    match kind {
        1 => {
            friends::blacklist_add(ctx, user_id, to_user_id).await?;
            tell_both(ctx, actor, 513, user_id, to_user_id, "").await
        }
        2 => {
            friends::blacklist_delete(ctx, user_id, to_user_id).await?;
            tell_both(ctx, actor, 514, user_id, to_user_id, "").await
        }
        _ => Err(Error::invalid("type", "应为 1 (拉黑) 或 2 (移出黑名单)")),
    }
}
