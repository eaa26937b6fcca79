//! Relations (spec/reference-server.md 3.3 and 4.4): follow, friend, blacklist, remarks and the
//! friend lists, with the reference's rules and messages, plus the user search of `/nearby/*`.
//!
//! A relation is one `u_friends` document per direction: `me → to` is owned by me. Every
//! operation acts on the caller's own documents (and the mirror document the rule requires);
//! no parameter lets a caller read or change another user's relations.

use serde_json::{json, Map, Value};

use super::error::{Code, Error, Result};
use super::messages::{notify_user, Notice};
use super::users::{caller_user, relation_fields, user_view, SEARCH_FLOOR};
use super::util::{md5_hex, now_secs};
use super::view::{page_text, sorted, to_map, Field, JsonArray, JsonText, SortedFields};
use super::{Ctx, SYSTEM_PUBLIC_ID, SYSTEM_SENDER_ID};
use crate::documents::{Friend, NewFriend, User, UserName};
use crate::store::{FriendQuery, Patch, UserQuery};

/// `status` of a relation nobody follows (a remark or a blacklist entry only).
pub const STRANGER: i32 = 0;
pub use super::handshake::{peer_asked, requester, ATTENTION, FEEDBACK, HELLO, PASS};
/// `status` of a friendship (both directions hold it).
pub const FRIENDS: i32 = 2;
/// `status` of a relation the owner blacklisted.
pub const BLACKLISTED: i32 = -1;

/// resultCode of `/friends/attention/add` when the target refuses follows (`allowAtt` 0).
pub const ATTENTION_REFUSED: i64 = Code::AttentionRefused as i64;
/// resultMsg of [`ATTENTION_REFUSED`].
pub const ATTENTION_REFUSED_MSG: &str = "关注失败，目标用户拒绝关注";
pub use super::view::{page_vo, Page};

/// How many users a search looks at at most (its `total` is capped there).
const MAX_SEARCH_RESULTS: usize = 500;
/// Longest remark name accepted (characters).
const MAX_REMARK: usize = 64;
/// Longest description accepted (characters).
const MAX_DESCRIBE: usize = 1024;

/// What `/friends/attention/add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// The target refuses follows: resultCode [`ATTENTION_REFUSED`].
    Refused,
    /// `kind` 1: following, awaiting the target's verification; 2: friends.
    Done { kind: i32, from_add_type: i32 },
}

impl Attention {
    /// The reference's success message for this outcome.
    pub fn message(&self) -> &'static str {
        match self {
            Attention::Done {
                kind: ATTENTION, ..
            } => "关注成功，已关注目标用户",
            Attention::Done { .. } => "关注成功，已互为好友",
            Attention::Refused => ATTENTION_REFUSED_MSG,
        }
    }

    /// The `data` of a success: `{fromAddType, type}`.
    pub fn data(&self) -> Option<Value> {
        match self {
            Attention::Done {
                kind,
                from_add_type,
            } => Some(json!({"fromAddType": from_add_type, "type": kind})),
            Attention::Refused => None,
        }
    }
}

/// The upper-case initial clients sort and group contacts by: the pinyin initial of a Chinese
/// first character, the letter itself for Latin names, "#" for anything else.
pub fn order_key(name: &str) -> String {
    use pinyin::ToPinyin;
    let Some(c) = name.trim().chars().next() else {
        return "#".into();
    };
    if c.is_ascii_alphabetic() {
        return c.to_ascii_uppercase().to_string();
    }
    match c.to_pinyin() {
        Some(p) => p.first_letter().to_ascii_uppercase(),
        None => "#".into(),
    }
}

/// A relation as clients read it (seed 002 `/friends/page` item): the stored fields plus the
/// friend's current `toNickname` and `account` when the user is known, the newer generation's
/// `encryptType` 0, `hideChatSwitch` 0, `hiding` -1, and `orderKey` of the display name.
pub fn friend_view(f: &Friend, to: Option<&UserName>) -> Result<Value> {
    let order = friend_order_key(f, to);
    serde_json::to_value(friend_fields(f, to, &order)).map_err(|e| Error::Internal(e.to_string()))
}

/// [`friend_view`]'s fields, sorted.
fn friend_fields<'a>(f: &'a Friend, to: Option<&'a UserName>, order: &'a str) -> SortedFields<'a> {
    let mut m = relation_fields(
        f,
        to.map_or(f.to_nickname.as_str(), |u| u.nickname.as_str()),
    );
    if let Some(u) = to {
        m.put("account", Field::Str(&u.account));
    }
    m.put("orderKey", Field::Str(order));
    m.put("encryptType", Field::Int(0));
    m.put("hideChatSwitch", Field::Int(0));
    m.put("hiding", Field::Int(-1));
    m.sorted()
}

/// The `orderKey` of a relation: of the remark, else of the friend's name.
fn friend_order_key(f: &Friend, to: Option<&UserName>) -> String {
    let display = match f.remark_name.as_deref().filter(|r| !r.trim().is_empty()) {
        Some(r) => r,
        None => to.map_or(f.to_nickname.as_str(), |u| u.nickname.as_str()),
    };
    order_key(display)
}

/// The names of the users of `ids` (None for users that no longer exist), in order.
async fn users_of(ctx: &Ctx, ids: Vec<i32>) -> Result<Vec<Option<UserName>>> {
    Ok(ctx.store.users.user_names(&ids).await?)
}

/// Views of relations with the friends' current profiles. `keep_vanished`: also show
/// relations to users that no longer exist (paged lists keep them so `total` stays true).
async fn views(ctx: &Ctx, friends: Vec<Friend>, keep_vanished: bool) -> Result<Vec<Value>> {
    let users = users_of(ctx, friends.iter().map(|f| f.to_user_id).collect()).await?;
    friends
        .iter()
        .zip(users.iter())
        .filter(|(_, u)| keep_vanished || u.is_some())
        .map(|(f, u)| friend_view(f, u.as_ref()))
        .collect()
}

/// A user with the facts relation documents copy from it.
struct Party {
    user: User,
    roles: Vec<i32>,
    /// 2 for a public account, else 0 (`toUserType` of relations towards it).
    user_type: i32,
}

async fn party(ctx: &Ctx, user: User) -> Result<Party> {
    let roles: Vec<i32> = ctx
        .store
        .users
        .roles_of(user.user_id)
        .await?
        .into_iter()
        .filter(|r| r.status != -1)
        .map(|r| r.role)
        .collect();
    let user_type = if roles.contains(&2) || user.user_type == 2 {
        2
    } else {
        0
    };
    Ok(Party {
        user,
        roles,
        user_type,
    })
}

/// A new relation `owner → to` (reference `Friends` constructor + `saveFriends`).
fn new_relation(owner: &Party, to: &Party, status: i32, from_add_type: i32, now: i64) -> Friend {
    Friend {
        user_id: owner.user.user_id,
        to_user_id: to.user.user_id,
        to_nickname: to.user.nickname.clone(),
        remark_name: None,
        describe: None,
        status,
        blacklist: 0,
        is_been_black: 0,
        offline_no_push_msg: 0,
        is_open_snapchat: 0,
        open_top_chat_time: 0,
        chat_record_time_out: owner.user.settings.chat_record_time_out,
        from_add_type,
        to_user_type: to.user_type,
        to_friends_role: to.roles.clone(),
        create_time: now,
        modify_time: 0,
        last_talk_time: 0,
        msg_num: 0,
    }
}

/// Makes `owner → to` a friendship: creates it, or turns the existing document into one.
async fn befriend_direction(
    ctx: &Ctx,
    owner: &Party,
    to: &Party,
    existing: Option<&Friend>,
    from_add_type: i32,
    now: i64,
) -> Result<()> {
    match existing {
        None => {
            ctx.store
                .friends
                .put_friend(&new_relation(owner, to, FRIENDS, from_add_type, now))
                .await?
        }
        Some(_) => {
            let patch = Patch::new()
                .set("status", FRIENDS)
                .set("blacklist", 0)
                .set("isBeenBlack", 0)
                .set("toNickname", to.user.nickname.clone())
                .set("toUserType", to.user_type)
                .set("toFriendsRole", json_val(&to.roles))
                .set("modifyTime", now);
            ctx.store
                .friends
                .update_friend(owner.user.user_id, to.user.user_id, &patch)
                .await?;
        }
    }
    Ok(())
}

fn json_val<T: serde::Serialize>(v: &T) -> crate::store::Val {
    crate::store::Val::Json(serde_json::to_value(v).unwrap_or(Value::Null))
}

/// True when the owner of `f` blacklisted its target (either marker, as stored by any
/// generation: `status` -1, or `blacklist` 1 for a blacklisted stranger).
fn is_black(f: &Friend) -> bool {
    f.status == BLACKLISTED || f.blacklist == 1
}

async fn target_user(ctx: &Ctx, id: i32) -> Result<Option<User>> {
    Ok(ctx.store.users.get_user(id).await?)
}

fn no_such_user() -> Error {
    Error::failure("该用户不存在!")
}

/// Logs a notification that could not be sent: the relation change it reports is already
/// stored, and the reference sends these in a background thread whose failures nobody sees.
fn log_notify_failure(kind: i32, to: i32, e: &Error) {
    tracing::warn!(kind, to, error = %e, "notification not sent");
}

/// 801 to my other devices after I changed a relation setting (when multipleDevices is on).
async fn notify_my_devices(ctx: &Ctx, me: &User, to: i32, to_nickname: &str) {
    if me.settings.multiple_devices != 1 {
        return;
    }
    let notice = Notice {
        msg_type: 801,
        from_user_id: Some(me.user_id.to_string()),
        from_user_name: Some(me.nickname.clone()),
        to_user_name: Some(if to_nickname.is_empty() {
            me.nickname.clone()
        } else {
            to_nickname.to_string()
        }),
        // The reference carries the friend in `toUserId` (also in `objectId` for clients that
        // look there).
        to_user_id: Some(to.to_string()),
        object_id: Some(json!(to.to_string())),
        ..Notice::default()
    };
    if let Err(e) = notify_user(ctx, me.user_id, &notice).await {
        log_notify_failure(801, me.user_id, &e);
    }
}

/// resultMsg of `/friends/add` towards a user who verifies friends and has not asked.
pub const NEEDS_VERIFICATION_MSG: &str = "对方开启了好友验证，请先发送好友申请";

/// Whether `to` consented to `me` adding it: it asked me, or it passed my request (its 501).
async fn consented(ctx: &Ctx, me: i32, to: i32) -> Result<bool> {
    if peer_asked(ctx, me, to).await? {
        return Ok(true);
    }
    let event = ctx.store.messages.get_new_friend(me, to).await?;
    Ok(event.is_some_and(|e| e.msg_type == PASS && e.direction == 1 && e.from == Some(me)))
}

/// Why `me` may not befriend `theirs` at once (`/friends/add`, each user of
/// `/friends/attention/batchAdd`), or None: without its consent (see [`consented`]) a target
/// that verifies friends, or whose `friendFromList` allows no way in, refuses.
async fn consent_refusal(ctx: &Ctx, me: i32, theirs: &Party) -> Result<Option<&'static str>> {
    if consented(ctx, me, theirs.user.user_id).await? {
        return Ok(None);
    }
    if theirs.user.settings.friends_verify == 1 && theirs.user_type != 2 {
        return Ok(Some(NEEDS_VERIFICATION_MSG));
    }
    Ok(from_list_refusal(&theirs.user.settings.friend_from_list, 0))
}

/// `/friends/add`: makes both directions friends at once (no notification: clients send 508
/// or 501 themselves). Unlike the reference, only with the target's consent: it needs no
/// verification (and `friendFromList` allows some way to add it), or the 500/501 handshake
/// (or its follow) shows it wants the friendship.
pub async fn add(ctx: &Ctx, me: i32, to: i32) -> Result<()> {
    if me == to {
        return Err(Error::failure("不能添加自己"));
    }
    let ab = ctx.store.friends.get_friend(me, to).await?;
    if ab.is_some() {
        return Err(Error::failure("对方已经是你的好友!"));
    }
    // The reference creates a relation to a user that does not exist; we refuse.
    let target = target_user(ctx, to).await?.ok_or_else(no_such_user)?;
    let ba = ctx.store.friends.get_friend(to, me).await?;
    // The reference would turn the target's blacklist entry into a friendship; someone who
    // blacklisted me cannot be added.
    if ba.as_ref().is_some_and(|b| b.blacklist == 1) {
        return Err(Error::failure("加好友失败"));
    }
    let mine = party(ctx, caller_user(ctx, me).await?).await?;
    let theirs = party(ctx, target).await?;
    if let Some(msg) = consent_refusal(ctx, me, &theirs).await? {
        return Err(Error::failure(msg));
    }
    let now = now_secs();
    befriend_direction(ctx, &mine, &theirs, None, 4, now).await?;
    befriend_direction(ctx, &theirs, &mine, ba.as_ref(), 4, now).await?;
    Ok(())
}

/// The refusal `friendFromList` makes for `from_add_type`, if any.
fn from_list_refusal(list: &str, from_add_type: i32) -> Option<&'static str> {
    let allowed: Vec<i32> = list
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if allowed.is_empty() {
        return Some("添加失败,该用户禁止该方式添加好友");
    }
    if from_add_type == 0 || from_add_type == 6 || allowed.contains(&from_add_type) {
        return None;
    }
    Some(match from_add_type {
        1 => "用户禁止二维码添加好友",
        2 => "用户禁止名片添加好友",
        3 => "用户禁止从群组中添加好友",
        4 => "用户禁止手机号搜索添加好友",
        5 => "用户禁止昵称搜索添加好友",
        _ => "添加好友失败",
    })
}

/// `/friends/attention/add`: follow `to`, or become friends at once when it needs no
/// verification (or already follows me, or is a public account).
pub async fn follow(ctx: &Ctx, me: i32, to: i32, from_add_type: i32) -> Result<Attention> {
    if me == to {
        return Err(Error::failure("不能添加自己"));
    }
    let target = target_user(ctx, to)
        .await?
        .ok_or_else(|| Error::failure("添加好友失败"))?;
    if let Some(msg) = from_list_refusal(&target.settings.friend_from_list, from_add_type) {
        return Err(Error::failure(msg));
    }
    let ab = ctx.store.friends.get_friend(me, to).await?;
    let ba = ctx.store.friends.get_friend(to, me).await?;
    // The reference reads `isBeenBlack` of me → to recomputed from the target's document, and
    // only when me → to exists; checking the target's document always also covers a target
    // that blacklisted me as a stranger (which the reference lets through).
    if ba.as_ref().is_some_and(|b| b.blacklist == 1) {
        return Err(Error::failure("加好友失败"));
    }
    let mine = party(ctx, caller_user(ctx, me).await?).await?;
    let theirs = party(ctx, target).await?;
    let needs_verify = theirs.user.settings.friends_verify == 1 && theirs.user_type != 2;
    let now = now_secs();
    let done = |kind| Attention::Done {
        kind,
        from_add_type,
    };

    // A relation I blacklisted is followed again like a stranger's: the reference only clears
    // the flag (leaving status -1) and answers an empty body (spec Appendix B).
    let as_stranger = match &ab {
        None => true,
        Some(a) => a.status == STRANGER || a.blacklist == 1,
    };
    if !as_stranger {
        let a = ab.as_ref().expect("checked above");
        if a.status == ATTENTION && !needs_verify {
            // Verification was switched off since I followed: we are friends now.
            befriend_direction(ctx, &theirs, &mine, ba.as_ref(), from_add_type, now).await?;
            befriend_direction(ctx, &mine, &theirs, Some(a), from_add_type, now).await?;
            return Ok(done(FRIENDS));
        }
        return Ok(done(if a.status == ATTENTION {
            ATTENTION
        } else {
            FRIENDS
        }));
    }
    if theirs.user.settings.allow_att == 0 {
        return Ok(Attention::Refused);
    }
    let they_follow_me = ba.as_ref().is_some_and(|b| b.status != STRANGER);
    if !needs_verify || they_follow_me {
        befriend_direction(ctx, &theirs, &mine, ba.as_ref(), from_add_type, now).await?;
        befriend_direction(ctx, &mine, &theirs, ab.as_ref(), from_add_type, now).await?;
        return Ok(done(FRIENDS));
    }
    match &ab {
        None => {
            let f = new_relation(&mine, &theirs, ATTENTION, from_add_type, now);
            ctx.store.friends.put_friend(&f).await?
        }
        Some(_) => {
            let patch = Patch::new()
                .set("status", ATTENTION)
                .set("blacklist", 0)
                .set("isBeenBlack", 0)
                .set("toNickname", theirs.user.nickname.clone())
                .set("modifyTime", now);
            ctx.store.friends.update_friend(me, to, &patch).await?;
        }
    }
    if ba.as_ref().is_some_and(|b| b.is_been_black != 0) {
        // My blacklist entry (if any) is lifted; their copy of that fact follows.
        ctx.store
            .friends
            .update_friend(to, me, &Patch::new().set("isBeenBlack", 0))
            .await?;
    }
    Ok(done(ATTENTION))
}

/// `/friends/attention/batchAdd`: makes me friends with each listed user directly (skipping
/// myself, 10000, unknown users, users who refuse follows, users who blacklisted me and users
/// `/friends/add` would not befriend without their consent) and
/// sends each a 510. Returns the users processed and whether any was refused for blacklisting
/// me.
pub async fn batch_follow(ctx: &Ctx, me: i32, ids: &[i32]) -> Result<(Vec<i32>, bool)> {
    let mine = party(ctx, caller_user(ctx, me).await?).await?;
    let mut done = Vec::new();
    let mut blacklisted = false;
    for &to in ids {
        if to == me || to == SYSTEM_PUBLIC_ID || done.contains(&to) {
            continue;
        }
        let Some(target) = target_user(ctx, to).await? else {
            continue;
        };
        let ab = ctx.store.friends.get_friend(me, to).await?;
        let ba = ctx.store.friends.get_friend(to, me).await?;
        if ba.as_ref().is_some_and(|b| b.blacklist == 1) {
            blacklisted = true;
            continue;
        }
        let theirs = party(ctx, target).await?;
        let now = now_secs();
        let already_friends = ab
            .as_ref()
            .is_some_and(|a| a.status == FRIENDS && a.blacklist == 0);
        if !already_friends {
            let new = ab
                .as_ref()
                .is_none_or(|a| a.status == STRANGER || a.blacklist == 1);
            if new && theirs.user.settings.allow_att == 0 {
                continue;
            }
            // The reference befriends anyone listed; that would let a stranger skip the consent
            // `/friends/add` asks for (and then see what friends see), so the same rule applies.
            if consent_refusal(ctx, me, &theirs).await?.is_some() {
                continue;
            }
            befriend_direction(ctx, &theirs, &mine, ba.as_ref(), 4, now).await?;
            befriend_direction(ctx, &mine, &theirs, ab.as_ref(), 4, now).await?;
        }
        let notice = Notice {
            msg_type: 510,
            content: json!(to),
            from_user_id: Some(me.to_string()),
            from_user_name: Some(mine.user.nickname.clone()),
            to_user_name: Some(theirs.user.nickname.clone()),
            ..Notice::default()
        };
        if let Err(e) = notify_user(ctx, to, &notice).await {
            log_notify_failure(510, to, &e);
        }
        done.push(to);
    }
    Ok((done, blacklisted))
}

/// `/friends/attention/delete`: removes my side only (they keep theirs).
pub async fn unfollow(ctx: &Ctx, me: i32, to: i32) -> Result<()> {
    if me == to {
        return Err(Error::failure("不能操作自己"));
    }
    if let Some(ab) = ctx.store.friends.get_friend(me, to).await? {
        if ab.blacklist == 1 {
            // Unfollowing does not lift my blacklist entry: it stays as a blacklisted stranger.
            let patch = Patch::new()
                .set("status", STRANGER)
                .set("modifyTime", now_secs());
            ctx.store.friends.update_friend(me, to, &patch).await?;
        } else {
            ctx.store.friends.delete_friend(me, to).await?;
        }
    }
    Ok(())
}

/// Removes `owner → to` as part of ending a friendship; a blacklist entry survives as a
/// blacklisted stranger (the reference deletes it, which would let a blocked user unblock
/// themselves by deleting the friendship).
async fn end_direction(ctx: &Ctx, owner: i32, to: i32, doc: Option<&Friend>) -> Result<()> {
    match doc {
        Some(f) if f.blacklist == 1 => {
            let patch = Patch::new()
                .set("status", STRANGER)
                .set("isBeenBlack", 0)
                .set("modifyTime", now_secs());
            ctx.store.friends.update_friend(owner, to, &patch).await?;
        }
        Some(_) => {
            ctx.store.friends.delete_friend(owner, to).await?;
        }
        None => {}
    }
    Ok(())
}

/// `/friends/delete`: ends the relation in both directions and removes both conversation
/// rows (no notification: clients send type 505).
pub async fn delete(ctx: &Ctx, me: i32, to: i32) -> Result<()> {
    if me == to {
        return Err(Error::failure("不能操作自己"));
    }
    let ab = ctx
        .store
        .friends
        .get_friend(me, to)
        .await?
        .ok_or_else(|| Error::failure("对方不是你的好友!"))?;
    let ba = ctx.store.friends.get_friend(to, me).await?;
    end_direction(ctx, me, to, Some(&ab)).await?;
    end_direction(ctx, to, me, ba.as_ref()).await?;
    ctx.store
        .messages
        .delete_last_chat(me, &to.to_string())
        .await?;
    ctx.store
        .messages
        .delete_last_chat(to, &me.to_string())
        .await?;
    Ok(())
}

/// `/friends/blacklist/add`: returns my relation to `to` afterwards.
pub async fn blacklist_add(ctx: &Ctx, me: i32, to: i32) -> Result<Value> {
    if me == to {
        return Err(Error::failure("不能操作自己"));
    }
    let ab = ctx.store.friends.get_friend(me, to).await?;
    if ab.as_ref().is_some_and(is_black) {
        return Err(Error::failure("不能重复拉黑好友"));
    }
    let target = target_user(ctx, to).await?;
    let now = now_secs();
    match &ab {
        None => {
            let target = target.as_ref().ok_or_else(no_such_user)?;
            let mine = party(ctx, caller_user(ctx, me).await?).await?;
            let theirs = party(ctx, target.clone()).await?;
            let mut f = new_relation(&mine, &theirs, STRANGER, 0, now);
            f.blacklist = 1;
            ctx.store.friends.put_friend(&f).await?;
        }
        // A stranger I only remarked stays a stranger: the reference marks it -1, and its
        // release then turns it into a friend.
        Some(a) if a.status == STRANGER => {
            let patch = Patch::new().set("blacklist", 1).set("modifyTime", now);
            ctx.store.friends.update_friend(me, to, &patch).await?;
        }
        Some(_) => {
            let patch = Patch::new()
                .set("status", BLACKLISTED)
                .set("blacklist", 1)
                .set("modifyTime", now);
            ctx.store.friends.update_friend(me, to, &patch).await?;
        }
    }
    // Their copy of the fact (the reference skips it for a stranger; reads recompute it).
    ctx.store
        .friends
        .update_friend(to, me, &Patch::new().set("isBeenBlack", 1))
        .await?;
    ctx.store
        .messages
        .delete_last_chat(me, &to.to_string())
        .await?;
    let f = ctx
        .store
        .friends
        .get_friend(me, to)
        .await?
        .ok_or_else(|| Error::Internal("blacklisted relation vanished".into()))?;
    friend_view(&f, target.as_ref().map(User::name).as_ref())
}

/// `/friends/blacklist/delete`: returns my relation afterwards (None when the entry was a
/// blacklisted stranger, which is simply removed).
pub async fn blacklist_delete(ctx: &Ctx, me: i32, to: i32) -> Result<Option<Value>> {
    let ab = ctx
        .store
        .friends
        .get_friend(me, to)
        .await?
        .filter(is_black)
        .ok_or_else(|| Error::failure(format!("好友：{to}不在我的黑名单中")))?;
    let now = now_secs();
    let remarked = |f: &Friend| {
        f.remark_name.as_deref().is_some_and(|r| !r.is_empty())
            || f.describe.as_deref().is_some_and(|d| !d.is_empty())
    };
    if ab.status == STRANGER {
        // The reference's controller never reaches this branch of its service (it only
        // recognises status -1), so a blacklisted stranger could never be released. A remark
        // made before survives the release.
        if remarked(&ab) {
            let patch = Patch::new().set("blacklist", 0).set("modifyTime", now);
            ctx.store.friends.update_friend(me, to, &patch).await?;
        } else {
            ctx.store.friends.delete_friend(me, to).await?;
        }
    } else {
        // The reference always restores status 2, which makes a user I merely followed a
        // "friend" on my side only; the friendship comes back only when they still hold it,
        // otherwise my follow does.
        let back = ctx.store.friends.get_friend(to, me).await?;
        let status = if back.is_some_and(|b| b.status == FRIENDS) {
            FRIENDS
        } else {
            ATTENTION
        };
        let patch = Patch::new()
            .set("status", status)
            .set("blacklist", 0)
            .set("modifyTime", now);
        ctx.store.friends.update_friend(me, to, &patch).await?;
    }
    ctx.store
        .friends
        .update_friend(to, me, &Patch::new().set("isBeenBlack", 0))
        .await?;
    match ctx.store.friends.get_friend(me, to).await? {
        Some(f) => {
            let u = target_user(ctx, to).await?;
            Ok(Some(friend_view(&f, u.as_ref().map(User::name).as_ref())?))
        }
        None => Ok(None),
    }
}

fn blacklist_query(me: i32, page: Page) -> FriendQuery {
    FriendQuery {
        user_id: me,
        blacklisted: Some(true),
        skip: page.skip(),
        limit: u64::from(page.size),
        ..FriendQuery::default()
    }
}

/// `/friends/blacklist`: one page of my blacklist as a plain list.
pub async fn blacklist(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let rows = ctx
        .store
        .friends
        .query_friends(&blacklist_query(me, page))
        .await?;
    Ok(Value::Array(views(ctx, rows, true).await?))
}

/// `/friends/queryBlacklistWeb`: my blacklist as a PageVO.
pub async fn blacklist_page(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let q = blacklist_query(me, page);
    let total = ctx.store.friends.count_matching(&q).await?;
    let rows = ctx.store.friends.query_friends(&q).await?;
    Ok(page_vo(views(ctx, rows, true).await?, total, page))
}

fn check_len(name: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max {
        return Err(Error::invalid(
            name,
            format!("超过 {max} 个字符 (too long)"),
        ));
    }
    Ok(())
}

/// `/friends/remark`: sets my remark name and description of `to` (creating a stranger
/// relation when there is none); 801 to my other devices.
pub async fn remark(ctx: &Ctx, me: i32, to: i32, remark_name: &str, describe: &str) -> Result<()> {
    check_len("remarkName", remark_name, MAX_REMARK)?;
    check_len("describe", describe, MAX_DESCRIBE)?;
    if me == to {
        return Err(Error::failure("不能操作自己"));
    }
    let user = caller_user(ctx, me).await?;
    let now = now_secs();
    let target = target_user(ctx, to).await?;
    match ctx.store.friends.get_friend(me, to).await? {
        None => {
            // Remarking a stranger: the reference does not check the user exists; we do.
            let target = target.clone().ok_or_else(no_such_user)?;
            let mine = party(ctx, user.clone()).await?;
            let theirs = party(ctx, target).await?;
            let mut f = new_relation(&mine, &theirs, STRANGER, 0, now);
            f.remark_name = Some(remark_name.to_string());
            f.describe = Some(describe.to_string());
            ctx.store.friends.put_friend(&f).await?;
        }
        Some(_) => {
            let patch = Patch::new()
                .set("remarkName", remark_name)
                .set("describe", describe)
                .set("modifyTime", now);
            ctx.store.friends.update_friend(me, to, &patch).await?;
        }
    }
    let to_nickname = target.map(|t| t.nickname).unwrap_or_default();
    notify_my_devices(ctx, &user, to, &to_nickname).await;
    Ok(())
}

/// `/friends/update`: sets my relation's `chatRecordTimeOut` (days, as a decimal string; 0
/// leaves it unchanged, as the reference's update skips zero).
pub async fn update(ctx: &Ctx, me: i32, to: i32, chat_record_time_out: &str) -> Result<()> {
    let days: f64 = chat_record_time_out
        .trim()
        .parse()
        .ok()
        .filter(|d: &f64| d.is_finite())
        .ok_or_else(|| Error::invalid("chatRecordTimeOut", "应为天数 (number of days)"))?;
    ctx.store
        .friends
        .get_friend(me, to)
        .await?
        .ok_or_else(|| Error::failure("好友不存在!"))?;
    let mut patch = Patch::new().set("modifyTime", now_secs());
    if days != 0.0 {
        patch.push_set("chatRecordTimeOut", days);
    }
    ctx.store.friends.update_friend(me, to, &patch).await?;
    Ok(())
}

/// `/friends/update/OfflineNoPushMsg`: `kind` 0 do-not-disturb (`offlineNoPushMsg`), 1
/// burn-after-reading (`isOpenSnapchat`), 2 pin the chat (`openTopChatTime` = now or 0).
/// Returns the updated relation; 801 to my other devices.
pub async fn set_flag(ctx: &Ctx, me: i32, to: i32, value: i32, kind: i32) -> Result<Value> {
    if !(0..=1).contains(&value) {
        return Err(Error::invalid("offlineNoPushMsg", "应为 0 或 1"));
    }
    let patch = match kind {
        0 => Patch::new().set("offlineNoPushMsg", value),
        1 => Patch::new().set("isOpenSnapchat", value),
        2 => Patch::new().set("openTopChatTime", if value == 0 { 0 } else { now_secs() }),
        _ => return Err(Error::invalid("type", "应为 0、1 或 2")),
    };
    let user = caller_user(ctx, me).await?;
    // The reference answers success without data for a missing relation; nothing changed, so
    // we say so.
    let f = ctx
        .store
        .friends
        .update_friend(me, to, &patch)
        .await?
        .ok_or_else(|| Error::failure("好友不存在!"))?;
    let target = target_user(ctx, to).await?;
    let to_nickname = target
        .as_ref()
        .map(|t| t.nickname.clone())
        .unwrap_or_default();
    notify_my_devices(ctx, &user, to, &to_nickname).await;
    friend_view(&f, target.as_ref().map(User::name).as_ref())
}

/// `/friends/get`: my relation to `to` with `isBeenBlack` read from their side, or None.
pub async fn get(ctx: &Ctx, me: i32, to: i32) -> Result<Option<Value>> {
    let Some(mut f) = ctx.store.friends.get_friend(me, to).await? else {
        return Ok(None);
    };
    let back = ctx.store.friends.get_friend(to, me).await?;
    f.is_been_black = back.map(|b| b.blacklist).unwrap_or(0);
    let u = target_user(ctx, to).await?;
    Ok(Some(friend_view(&f, u.as_ref().map(User::name).as_ref())?))
}

/// `/friends/list`: my friends (status 2, not blacklisted) with their current nicknames.
pub async fn list(ctx: &Ctx, me: i32) -> Result<Value> {
    let rows = ctx
        .store
        .friends
        .query_friends(&FriendQuery {
            user_id: me,
            status: Some(FRIENDS),
            blacklisted: Some(false),
            ..FriendQuery::default()
        })
        .await?;
    Ok(Value::Array(views(ctx, rows, false).await?))
}

/// `/friends/page`: my relations with this status (≤ 0: any), optionally whose nickname or
/// remark contains `keyword`, as a PageVO (the 10000 relation included).
pub async fn page(ctx: &Ctx, me: i32, keyword: &str, status: i32, page: Page) -> Result<JsonText> {
    let q = FriendQuery {
        user_id: me,
        status: (status > 0).then_some(status),
        keyword: Some(keyword.trim().to_string()).filter(|k| !k.is_empty()),
        skip: page.skip(),
        limit: u64::from(page.size),
        ..FriendQuery::default()
    };
    let total = ctx.store.friends.count_matching(&q).await?;
    let rows = ctx.store.friends.query_friends(&q).await?;
    let users = users_of(ctx, rows.iter().map(|f| f.to_user_id).collect()).await?;
    // Written straight to JSON: pages of thousands of relations are common (the web client
    // asks for 50000).
    let internal = |e: serde_json::Error| Error::Internal(e.to_string());
    let mut out = JsonArray::with_capacity(rows.len() * 512 + 2);
    for (f, u) in rows.iter().zip(&users) {
        let order = friend_order_key(f, u.as_ref());
        out.push(&friend_fields(f, u.as_ref(), &order), 512)
            .map_err(internal)?;
    }
    Ok(page_text(out.finish().map_err(internal)?, total, page))
}

/// `/friends/attention/list`: my relations with `status` (0 = friends).
pub async fn attention_list(ctx: &Ctx, me: i32, status: i32) -> Result<Value> {
    let status = if status == 0 { FRIENDS } else { status };
    let rows = ctx
        .store
        .friends
        .query_friends(&FriendQuery {
            user_id: me,
            status: Some(status),
            ..FriendQuery::default()
        })
        .await?;
    Ok(Value::Array(views(ctx, rows, false).await?))
}

/// `/friends/fans/list`: the users who follow me without being my friends yet (their status-1
/// relations towards me), from my side: `toUserId` is the follower. The reference answers a
/// bare `{resultCode:1}` here.
pub async fn fans(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let rows = ctx
        .store
        .friends
        .followers(me, Some(ATTENTION), page.skip(), u64::from(page.size))
        .await?;
    let users = users_of(ctx, rows.iter().map(|f| f.user_id).collect()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (f, u) in rows.iter().zip(users.iter()) {
        let Some(u) = u else { continue };
        let mut m = Map::new();
        m.insert("userId".into(), json!(me));
        m.insert("toUserId".into(), json!(f.user_id));
        m.insert("toNickname".into(), json!(u.nickname));
        m.insert("account".into(), json!(u.account));
        m.insert("status".into(), json!(f.status));
        m.insert("fromAddType".into(), json!(f.from_add_type));
        m.insert("createTime".into(), json!(f.create_time));
        m.insert("orderKey".into(), json!(order_key(&u.nickname)));
        out.push(sorted(m));
    }
    Ok(Value::Array(out))
}

/// `/friends/friendsAndAttention`: the userIds of my friends and follows (`friendList`) or of
/// my blacklist (`blackList`).
pub async fn friends_and_attention(ctx: &Ctx, me: i32, kind: &str) -> Result<Value> {
    let q = match kind {
        "friendList" => FriendQuery {
            user_id: me,
            exclude_status: Some(STRANGER),
            blacklisted: Some(false),
            ..FriendQuery::default()
        },
        "blackList" => FriendQuery {
            user_id: me,
            blacklisted: Some(true),
            ..FriendQuery::default()
        },
        _ => return Err(Error::failure("无法识别的参数")),
    };
    let rows = ctx.store.friends.query_friends(&q).await?;
    Ok(Value::Array(
        rows.iter().map(|f| json!(f.to_user_id)).collect(),
    ))
}

async fn new_friend_views(ctx: &Ctx, me: i32, rows: &[NewFriend]) -> Result<Vec<Value>> {
    let users = users_of(ctx, rows.iter().map(|n| n.to_user_id).collect()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (n, u) in rows.iter().zip(users.iter()) {
        let status = ctx
            .store
            .friends
            .get_friend(me, n.to_user_id)
            .await?
            .map(|f| f.status)
            .unwrap_or(STRANGER);
        let mut m = to_map(n);
        m.insert(
            "toNickname".into(),
            json!(u.as_ref().map(|u| u.nickname.as_str()).unwrap_or_default()),
        );
        m.insert("status".into(), json!(status));
        out.push(sorted(m));
    }
    Ok(out)
}

/// `/friends/newFriend/list`: my friend events (5xx), newest first, with the other user's
/// nickname and my current relation status.
pub async fn new_friends(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let rows = ctx
        .store
        .messages
        .new_friends(me, page.skip(), u64::from(page.size))
        .await?;
    Ok(Value::Array(new_friend_views(ctx, me, &rows).await?))
}

/// `/friends/newFriendListWeb`: the same as a PageVO. The store cannot count events, so
/// `total` counts up to this page plus one when a later row exists (enough for pagers).
pub async fn new_friends_page(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let mut rows = ctx
        .store
        .messages
        .new_friends(me, page.skip(), u64::from(page.size) + 1)
        .await?;
    let more = rows.len() > page.size as usize;
    rows.truncate(page.size as usize);
    let total = page.skip() + rows.len() as u64 + u64::from(more);
    let data = new_friend_views(ctx, me, &rows).await?;
    Ok(page_vo(data, total, page))
}

/// The public accounts of this server (`userType` 2 or role 2; 10000 at least).
async fn public_accounts(ctx: &Ctx) -> Result<Vec<User>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let batch = ctx
            .store
            .users
            .query_users(&UserQuery {
                before,
                min_user_id: 0,
                limit: 500,
                ..UserQuery::default()
            })
            .await?;
        let Some(last) = batch.last() else { break };
        before = Some(last.user_id);
        let n = batch.len();
        for u in batch {
            if u.user_type == 2 || u.user_id == SYSTEM_PUBLIC_ID {
                out.push(u);
            }
        }
        if n < 500 {
            break;
        }
    }
    Ok(out)
}

/// `/friends/addAllFriendsSys`: makes me friends with every public account I am not yet
/// friends with (never across a blacklist, either way). Returns the userIds added.
pub async fn add_all_system(ctx: &Ctx, me: i32) -> Result<Value> {
    let mine = party(ctx, caller_user(ctx, me).await?).await?;
    let mut added = Vec::new();
    for account in public_accounts(ctx).await? {
        let to = account.user_id;
        if to == me || to == SYSTEM_SENDER_ID {
            continue;
        }
        let ab = ctx.store.friends.get_friend(me, to).await?;
        let ba = ctx.store.friends.get_friend(to, me).await?;
        let blocked = ab.as_ref().is_some_and(is_black) || ba.as_ref().is_some_and(is_black);
        let friends = ab.as_ref().is_some_and(|a| a.status == FRIENDS)
            && ba.as_ref().is_some_and(|b| b.status == FRIENDS);
        if blocked || friends {
            continue;
        }
        let theirs = party(ctx, account).await?;
        let now = now_secs();
        befriend_direction(ctx, &mine, &theirs, ab.as_ref(), 0, now).await?;
        befriend_direction(ctx, &theirs, &mine, ba.as_ref(), 0, now).await?;
        added.push(to);
    }
    Ok(json!(added))
}

/// The followers of a public account (`/mp/fans`, its mass sending): its friends but the system
/// accounts, in the order they followed.
pub fn fans_query(ctx: &Ctx, account: i32, skip: u64, limit: u64) -> FriendQuery {
    FriendQuery {
        user_id: account,
        status: Some(FRIENDS),
        min_to_user_id: Some(SEARCH_FLOOR.min(ctx.config.first_user_id)),
        skip,
        limit,
        ..FriendQuery::default()
    }
}

/// A user search (`/nearby/user`, `/nearby/nearbyUserWeb`).
#[derive(Debug, Clone)]
pub struct UserSearch {
    /// Nickname substring, exact phone or exact communication account.
    pub keyword: String,
    /// Only this user.
    pub user_id: Option<i32>,
    pub sex: Option<i32>,
    pub page: Page,
}

/// Finds users by communication account (always), exact phone (when the server allows phone
/// search and the user's `phoneSearch` is not 0) or nickname (exact or substring by the
/// server's `nicknameSearchUser`, when the user's `nameSearch` is not 0). System accounts are
/// never found; without a keyword nothing is (there is no location search). Returns one page
/// of users as `/user/get` shows them to `me`, and the number of matches (at most 500).
pub async fn search_users(ctx: &Ctx, me: i32, q: &UserSearch) -> Result<(Vec<Value>, u64)> {
    let keyword = q.keyword.trim();
    if keyword.is_empty() || keyword.chars().count() > 64 {
        return Ok((Vec::new(), 0));
    }
    let floor = SEARCH_FLOOR.min(ctx.config.first_user_id);
    let wanted = |u: &User| {
        u.user_id >= floor
            && u.user_id != SYSTEM_PUBLIC_ID
            && u.user_id != SYSTEM_SENDER_ID
            && q.user_id.is_none_or(|id| id == u.user_id)
            && q.sex.is_none_or(|s| s == u.sex)
    };
    let mut found: Vec<User> = Vec::new();
    let push = |found: &mut Vec<User>, u: User| {
        if wanted(&u) && !found.iter().any(|f| f.user_id == u.user_id) {
            found.push(u);
        }
    };
    if let Some(u) = ctx.store.users.find_by_account(keyword).await? {
        push(&mut found, u);
    }
    let client = &ctx.config.client;
    if client.telephone_search_user == 1 && keyword.bytes().all(|b| b.is_ascii_digit()) {
        // `userKey` is md5(phone): the indexed way to find a phone without an area code.
        if let Some(u) = ctx
            .store
            .users
            .find_for_login(&md5_hex(keyword), None)
            .await?
        {
            if u.phone == keyword && u.settings.phone_search != 0 {
                push(&mut found, u);
            }
        }
    }
    if client.nickname_search_user != 0 {
        let exact = client.nickname_search_user == 1;
        let mut before = None;
        'scan: loop {
            let batch = ctx
                .store
                .users
                .query_users(&UserQuery {
                    before,
                    nickname: Some(keyword.to_string()),
                    min_user_id: floor,
                    limit: 200,
                    ..UserQuery::default()
                })
                .await?;
            let Some(last) = batch.last() else { break };
            before = Some(last.user_id);
            let n = batch.len();
            for u in batch {
                if found.len() >= MAX_SEARCH_RESULTS {
                    break 'scan;
                }
                if u.settings.name_search != 0 && (!exact || u.nickname == keyword) {
                    push(&mut found, u);
                }
            }
            if n < 200 {
                break;
            }
        }
    }
    found.truncate(MAX_SEARCH_RESULTS);
    let total = found.len() as u64;
    let mut rows = Vec::new();
    for u in found
        .iter()
        .skip(usize::try_from(q.page.skip()).unwrap_or(usize::MAX))
        .take(q.page.size as usize)
    {
        rows.push(user_view(ctx, me, u).await?);
    }
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys() {
        assert_eq!(order_key("客服公众号"), "K");
        assert_eq!(order_key("测试001"), "C");
        assert_eq!(order_key("朋友001"), "P");
        assert_eq!(order_key("张益达"), "Z");
        assert_eq!(order_key("alice"), "A");
        assert_eq!(order_key(" Bob"), "B");
        assert_eq!(order_key("001"), "#");
        assert_eq!(order_key(""), "#");
        assert_eq!(order_key("😀x"), "#");
    }

    #[test]
    fn page_vo_counts_pages() {
        let v = page_vo(vec![json!(1)], 21, Page { index: 2, size: 10 });
        assert_eq!(
            v,
            json!({"pageCount": 3, "pageData": [1], "pageIndex": 2, "pageSize": 10, "start": 20, "total": 21})
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort();
        assert_eq!(keys, sorted_keys);
        assert_eq!(
            page_vo(vec![], 0, Page { index: 0, size: 10 })["pageCount"],
            0
        );
    }

    #[test]
    fn from_list_rules() {
        assert_eq!(
            from_list_refusal("", 0),
            Some("添加失败,该用户禁止该方式添加好友")
        );
        assert_eq!(from_list_refusal("1,2", 0), None);
        assert_eq!(from_list_refusal("1,2", 6), None);
        assert_eq!(from_list_refusal("1,2", 2), None);
        assert_eq!(
            from_list_refusal("1,2", 3),
            Some("用户禁止从群组中添加好友")
        );
        assert_eq!(from_list_refusal("2", 1), Some("用户禁止二维码添加好友"));
        assert_eq!(from_list_refusal("1", 2), Some("用户禁止名片添加好友"));
        assert_eq!(
            from_list_refusal("1", 4),
            Some("用户禁止手机号搜索添加好友")
        );
        assert_eq!(from_list_refusal("1", 5), Some("用户禁止昵称搜索添加好友"));
        assert_eq!(from_list_refusal("1", 9), Some("添加好友失败"));
    }
}
