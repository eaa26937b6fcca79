//! Rooms (spec/reference-server.md 3.4, 4.6, 6.3): creation, membership, roles, settings,
//! notices, shares and dissolution, each change with the notification the reference sends.
//! Rooms have two ids: `id` (ObjectId hex, the `roomId` of `/room/*`) and the client-generated
//! 32-hex `jid` (MUC name, history collection, conversation rows).
//!
//! Nobody outside a room reads or changes it; locked rooms (`s` -1) refuse changes.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::error::{Error, Result};
use super::messages::{
    notify_room, notify_user, notify_user_and_room, notify_users_and_room, Notice as Msg,
};
use super::util::{now_secs, uuid32};
use super::view::{
    page_vo, sorted, to_map, Field, JsonArray, JsonText, ListText, Page, SortedFields,
};
use super::{users, Ctx};
use crate::documents::{Member, Notice, Room, Share};
use crate::store::{MemberQuery, Patch, RoomQuery, StoreError};

/// Largest room when neither the configuration (`[rooms] max_user_size`) nor the client says
/// (the reference's `config.maxUserSize` default).
pub const MAX_USER_SIZE: i32 = 1000;
/// Most admins a room shows clients it may have (seed 002 `adminMaxNumber`).
pub const ADMIN_MAX_NUMBER: i32 = 50;
/// Longest room name / description accepted, characters.
const MAX_NAME_CHARS: usize = 100;
const MAX_DESC_CHARS: usize = 1024;
const MAX_NOTICE_CHARS: usize = 5000;

const NOT_FOUND: &str = "群组不存在！";
const LOCKED: &str = "该群组已被锁定！";
const LOCKED_BY_CONSOLE: &str = "该群组已被后台锁定";
const NO_PERMISSION: &str = "权限不足";
const NOT_MEMBER: &str = "不是群成员 权限不足!";
/// `allowInviteFriend` 0: only the owner and admins invite (the clients' rule, enforced here).
const NO_INVITE: &str = "群主已关闭普通成员邀请好友功能";
/// `allowUploadFile` 0: only the owner and admins share files (the clients' rule, enforced here).
const NO_UPLOAD: &str = "群主已关闭普通成员上传群文件功能";

pub use crate::documents::rooms::{ROLE_ADMIN, ROLE_MEMBER, ROLE_OWNER};
/// Member role: invisible (hidden from ordinary members).
pub const ROLE_INVISIBLE: i32 = 4;
/// Member role: guardian / monitor (hidden from ordinary members).
pub const ROLE_GUARDIAN: i32 = 5;

// ---------------------------------------------------------------------------------------------
// Views

/// A notice as clients read it: `id` instead of `_id`, alphabetical keys.
pub fn notice_view(n: &Notice) -> Value {
    let mut m = to_map(n);
    if let Some(id) = m.remove("_id") {
        m.insert("id".into(), id);
    }
    sorted(m)
}

/// A member as clients read it (seed 002): no `roomId`, the newer generation's extra fields
/// with their defaults, alphabetical keys.
pub fn member_view(mem: &Member) -> Value {
    serde_json::to_value(member_shown(mem)).unwrap_or_default()
}

/// Stored member fields clients are not shown.
const MEMBER_HIDDEN: [&str; 4] = ["roomId", "_id", "call", "videoMeetingNo"];

/// The newer generation's member fields, with the values shown when a document lacks them.
const MEMBER_DEFAULTS: [(&str, i64); 10] = [
    ("beginMsgTime", 0),
    ("clearMaxSeqNo", 0),
    ("hideChatSwitch", 0),
    ("hiding", -1),
    ("inviteUserId", 0),
    ("isBlack", 0),
    ("joinSeqNo", 0),
    ("loginTime", 0),
    ("onlinestate", 0),
    ("operationType", 0),
];

/// The keys [`member_shown`] gives every member (its own fields, then the defaults), in key
/// order: merged with the sorted extras instead of sorting ~30 fields per member (a fifth of a
/// 500-member list's time in the profile).
const MEMBER_SHOWN_ORDER: [&str; 22] = [
    "active",
    "beginMsgTime",
    "clearMaxSeqNo",
    "createTime",
    "hideChatSwitch",
    "hiding",
    "inviteUserId",
    "isBlack",
    "isOpenTopChat",
    "joinSeqNo",
    "loginTime",
    "modifyTime",
    "nickname",
    "offlineNoPushMsg",
    "onlinestate",
    "openTopChatTime",
    "operationType",
    "remarkName",
    "role",
    "sub",
    "talkTime",
    "userId",
];

/// [`member_view`] written straight to JSON (a 500-member list shows 500 of them).
fn member_shown(mem: &Member) -> SortedFields<'_> {
    let mut extra: Vec<(&str, &Value)> = mem
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .filter(|(k, _)| !MEMBER_HIDDEN.contains(k))
        .collect();
    extra.sort_unstable_by_key(|e| e.0);
    let own = |key: &str| -> Option<Field<'_>> {
        Some(match key {
            "active" => Field::Int(mem.active),
            "createTime" => Field::Int(mem.create_time),
            "isOpenTopChat" => Field::Int(mem.is_open_top_chat.into()),
            "modifyTime" => Field::Int(mem.modify_time),
            "nickname" => Field::Str(&mem.nickname),
            "offlineNoPushMsg" => Field::Int(mem.offline_no_push_msg.into()),
            "openTopChatTime" => Field::Int(mem.open_top_chat_time),
            "remarkName" => Field::Str(mem.remark_name.as_deref()?),
            "role" => Field::Int(mem.role.into()),
            "sub" => Field::Int(mem.sub.into()),
            "talkTime" => Field::Int(mem.talk_time),
            "userId" => Field::Int(mem.user_id.into()),
            _ => return None,
        })
    };
    let default = |key: &str| {
        MEMBER_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Field::Int(*v))
    };
    let mut f = SortedFields::with_capacity(MEMBER_SHOWN_ORDER.len() + extra.len());
    let mut extra = extra.into_iter().peekable();
    for key in MEMBER_SHOWN_ORDER {
        while let Some((k, v)) = extra.next_if(|(k, _)| *k < key) {
            f.put(k, Field::Json(v));
        }
        // A stored value of a newer-generation field wins over its default.
        if let Some((k, v)) = extra.next_if(|(k, _)| *k == key) {
            f.put(k, Field::Json(v));
        } else if let Some(v) = own(key).or_else(|| default(key)) {
            f.put(key, v);
        }
    }
    for (k, v) in extra {
        f.put(k, Field::Json(v));
    }
    f
}

/// A room as clients read it (seed 002 Room): `id` instead of `_id`, the newer generation's
/// extra fields, `members`/`notices` as given, `member` when given.
pub fn room_view(
    room: &Room,
    members: Vec<Value>,
    notices: Vec<Value>,
    member: Option<Value>,
) -> Value {
    let mut m = to_map(room);
    if let Some(id) = m.remove("_id") {
        m.insert("id".into(), id);
    }
    // Not in the seed's Room: location is `loc`, calls have /room/get/call.
    for k in [
        "countryId",
        "provinceId",
        "cityId",
        "areaId",
        "longitude",
        "latitude",
        "category",
        "redPacketLock",
        "call",
        "videoMeetingNo",
        "modifier",
    ] {
        m.remove(k);
    }
    m.insert("notice".into(), notice_view(&room.notice));
    for (k, v) in [
        ("adminMaxNumber", json!(ADMIN_MAX_NUMBER)),
        ("allowOpenLive", json!(1)),
        ("encryptType", json!(0)),
        ("inGroup", json!(false)),
        ("isSecretGroup", json!(0)),
        ("liveStatus", json!(0)),
        ("loc", json!({"lat": room.latitude, "lng": room.longitude})),
        ("meetingStatus", json!(0)),
        ("withdrawTime", json!(0)),
    ] {
        m.entry(k.to_string()).or_insert(v);
    }
    m.insert("members".into(), Value::Array(members));
    m.insert("notices".into(), Value::Array(notices));
    if let Some(me) = member {
        m.insert("member".into(), me);
    }
    sorted(m)
}

/// A share as clients read it: `shareId` instead of `_id`.
pub fn share_view(s: &Share) -> Value {
    let mut m = to_map(s);
    if let Some(id) = m.remove("_id") {
        m.insert("shareId".into(), id);
    }
    sorted(m)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` has the form of a room's jid (32 hex digits: a UUID without dashes, as Shiku
/// and this server make them).
fn is_room_jid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Loads a room named by its id (as most clients pass it) or by its jid (as the newest Vue
/// client passes it); anything else is a parameter error, a missing room "群组不存在！".
pub async fn load_room(ctx: &Ctx, room_id: &str) -> Result<Room> {
    // Both are written in lowercase hex (ObjectId.toHexString, UUIDs).
    let room_id = room_id.trim().to_ascii_lowercase();
    let room = if is_object_id(&room_id) {
        ctx.store.rooms.get_room(&room_id).await?
    } else if is_room_jid(&room_id) {
        ctx.store.rooms.get_room_by_jid(&room_id).await?
    } else {
        return Err(Error::invalid(
            "roomId",
            "应为群组 id (24 位十六进制) 或 jid (32 位十六进制)",
        ));
    };
    room.ok_or_else(|| Error::failure(NOT_FOUND))
}

fn rid(room: &Room) -> &str {
    room.id.as_deref().unwrap_or_default()
}

async fn member_of(ctx: &Ctx, room: &Room, user_id: i32) -> Result<Option<Member>> {
    Ok(ctx.store.rooms.get_member(rid(room), user_id).await?)
}

async fn require_member(ctx: &Ctx, room: &Room, me: i32) -> Result<Member> {
    member_of(ctx, room, me)
        .await?
        .ok_or_else(|| Error::failure(NOT_MEMBER))
}

fn is_manager(m: &Member) -> bool {
    m.role == ROLE_OWNER || m.role == ROLE_ADMIN
}

fn refuse_locked(room: &Room, text: &str) -> Result<()> {
    if room.s == -1 {
        Err(Error::failure(text))
    } else {
        Ok(())
    }
}

/// The name a member shows in notifications: the group nickname, else the user's.
async fn display_name(ctx: &Ctx, member: Option<&Member>, user_id: i32) -> Result<String> {
    if let Some(m) = member.filter(|m| !m.nickname.is_empty()) {
        return Ok(m.nickname.clone());
    }
    Ok(ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .map(|u| u.nickname)
        .unwrap_or_default())
}

/// A room notification from `actor`, `objectId` = jid.
fn notice(room: &Room, msg_type: i32, actor: i32, actor_name: &str, content: Value) -> Msg {
    Msg {
        msg_type,
        content,
        from_user_id: Some(actor.to_string()),
        from_user_name: Some(actor_name.to_string()),
        object_id: Some(json!(room.jid)),
        ..Msg::default()
    }
}

/// 907's `other`: the room settings as the reference writes them (sic `lsLook`, seed order).
fn settings_json(room: &Room) -> String {
    format!(
        "{{\"lsLook\":{},\"allowSendCard\":{},\"isSecretGroup\":0,\"joinSeqNo\":0,\"isNeedVerify\":{},\"showMember\":{},\"showRead\":{},\"maxUserSize\":{}}}",
        room.is_look,
        room.allow_send_card,
        room.is_need_verify,
        room.show_member,
        room.show_read,
        room.max_user_size
    )
}

/// Logs a notification that could not be sent: the change it reports is already stored.
fn log_notify(kind: i32, e: &Error) {
    tracing::warn!(kind, error = %e, "room notification not sent");
}

/// 907 for each new member: single to the member and into the room, one messageId.
async fn announce_new_members(
    ctx: &Ctx,
    room: &Room,
    actor: i32,
    actor_name: &str,
    members: &[Member],
) -> Result<()> {
    for m in members {
        let mut n = notice(room, 907, actor, actor_name, json!(room.name));
        n.to_user_id = Some(m.user_id.to_string());
        n.to_user_name = Some(m.nickname.clone());
        n.file_name = Some(rid(room).to_string());
        n.file_size = Some(i64::from(room.show_read));
        n.other = Some(settings_json(room));
        notify_user_and_room(ctx, m.user_id, &room.jid, &n).await?;
    }
    Ok(())
}

fn new_member(room: &Room, user_id: i32, nickname: &str, role: i32, now: i64) -> Member {
    Member {
        room_id: room.id.clone(),
        user_id,
        nickname: nickname.to_string(),
        remark_name: None,
        role,
        sub: 1,
        call: room.call,
        video_meeting_no: room.video_meeting_no,
        offline_no_push_msg: 0,
        talk_time: 0,
        active: now,
        create_time: now,
        modify_time: 0,
        is_open_top_chat: 0,
        open_top_chat_time: 0,
        extra: Map::new(),
    }
}

/// Parses a JSON array of userIds (`text`, numbers or numeric strings).
pub fn parse_user_ids(name: &str, text: &str) -> Result<Vec<i32>> {
    let bad = || Error::invalid(name, "应为用户 id 的 JSON 数组, 如 [100102,100174]");
    let items: Vec<Value> = serde_json::from_str(text).map_err(|_| bad())?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let id = match &item {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(bad)?;
        if seen.insert(id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Resolves seed 002's `phones` (a JSON array of phone numbers) to userIds: `86`+phone, then
/// the phone as stored.
pub async fn resolve_phones(ctx: &Ctx, text: &str) -> Result<Vec<i32>> {
    let bad = || Error::invalid("phones", "应为手机号的 JSON 数组, 如 [\"13112345611\"]");
    let items: Vec<Value> = serde_json::from_str(text).map_err(|_| bad())?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let phone = match &item {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            _ => return Err(bad()),
        };
        if phone.is_empty() || phone.len() > 32 {
            return Err(bad());
        }
        let user = match ctx
            .store
            .users
            .find_by_telephone(&format!("86{phone}"))
            .await?
        {
            Some(u) => Some(u),
            None => ctx.store.users.find_by_telephone(&phone).await?,
        };
        let user = user.ok_or_else(|| Error::failure(format!("用户不存在: {phone}")))?;
        if seen.insert(user.user_id) {
            out.push(user.user_id);
        }
    }
    Ok(out)
}

/// My friend remarks by userId (replace members' `remarkName` in my views).
async fn my_remarks(ctx: &Ctx, me: i32) -> Result<HashMap<i32, String>> {
    Ok(ctx
        .store
        .friends
        .remark_names(me)
        .await?
        .into_iter()
        .collect())
}

fn with_remark(mut m: Member, remarks: &HashMap<i32, String>) -> Member {
    if let Some(r) = remarks.get(&m.user_id) {
        m.remark_name = Some(r.clone());
    }
    m
}

async fn members(
    ctx: &Ctx,
    room: &Room,
    roles: &[i32],
    skip: u64,
    limit: u64,
) -> Result<Vec<Member>> {
    Ok(ctx
        .store
        .rooms
        .query_members(&MemberQuery {
            room_id: rid(room).to_string(),
            roles: roles.to_vec(),
            keyword: None,
            skip,
            limit,
        })
        .await?)
}

fn check_flag(name: &str, v: i32) -> Result<i32> {
    if v == 0 || v == 1 {
        Ok(v)
    } else {
        Err(Error::invalid(name, "应为 0 或 1"))
    }
}

fn check_len(name: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max {
        Err(Error::invalid(name, format!("最多 {max} 个字符")))
    } else {
        Ok(())
    }
}

/// A call / video-meeting number in the reference's ranges (it counts them up from a counter;
/// clients only need them to be in range).
fn number_in(base: i32) -> i32 {
    base + (rand::random::<u32>() % 50_000) as i32
}

// ---------------------------------------------------------------------------------------------
// Creation

/// `/room/add` parameters.
#[derive(Debug, Clone, Default)]
pub struct NewRoom {
    pub jid: String,
    pub name: Option<String>,
    pub desc: Option<String>,
    pub country_id: i32,
    pub province_id: i32,
    pub city_id: i32,
    pub area_id: i32,
    pub longitude: f64,
    pub latitude: f64,
    pub category: i32,
    /// Users to add besides the creator.
    pub members: Vec<i32>,
}

/// Room flags a client may send with `/room/add` (`maxUserSize`, `isLook`, …); they only
/// survive where the configuration's value is -1 (see [`crate::config::RoomConfig`]).
#[derive(Debug, Clone, Default)]
pub struct RoomFlags {
    pub max_user_size: Option<i32>,
    pub is_attrition_notice: Option<i32>,
    pub is_look: Option<i32>,
    pub show_read: Option<i32>,
    pub is_need_verify: Option<i32>,
    pub show_member: Option<i32>,
    pub allow_send_card: Option<i32>,
    pub allow_invite_friend: Option<i32>,
    pub allow_upload_file: Option<i32>,
    pub allow_conference: Option<i32>,
    pub allow_speak_course: Option<i32>,
}

/// The reference's rule for a room flag: the configured value wins unless it is -1; then the
/// client's parameter; else the reference default.
fn configured(config: i32, client: Option<i32>, default: i32) -> i32 {
    if config != -1 {
        config
    } else {
        client.unwrap_or(default)
    }
}

/// The flags of a new room under the configuration; 0/1 flags out of range and a non-positive
/// size are refused.
fn new_room_flags(ctx: &Ctx, f: &RoomFlags) -> Result<[i32; 11]> {
    let c = &ctx.config.rooms;
    let max = configured(c.max_user_size, f.max_user_size, MAX_USER_SIZE);
    if max < 1 {
        return Err(Error::invalid("maxUserSize", "应为正整数"));
    }
    let mut out = [max; 11];
    for (i, (name, config, client, default)) in [
        (
            "isAttritionNotice",
            c.is_attrition_notice,
            f.is_attrition_notice,
            1,
        ),
        ("isLook", c.is_look, f.is_look, 1),
        ("showRead", c.show_read, f.show_read, 0),
        ("isNeedVerify", c.is_need_verify, f.is_need_verify, 0),
        ("showMember", c.show_member, f.show_member, 1),
        ("allowSendCard", c.allow_send_card, f.allow_send_card, 1),
        (
            "allowInviteFriend",
            c.allow_invite_friend,
            f.allow_invite_friend,
            1,
        ),
        (
            "allowUploadFile",
            c.allow_upload_file,
            f.allow_upload_file,
            1,
        ),
        ("allowConference", c.allow_conference, f.allow_conference, 1),
        (
            "allowSpeakCourse",
            c.allow_speak_course,
            f.allow_speak_course,
            1,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        out[i + 1] = check_flag(name, configured(config, client, default))?;
    }
    Ok(out)
}

/// The largest `maxUserSize` `/room/update` accepts: the configured size, none when it is -1.
fn max_user_size_bound(ctx: &Ctx) -> Option<i32> {
    Some(ctx.config.rooms.max_user_size).filter(|m| *m > 0)
}

/// Validates a client-generated room jid: 32 hex digits.
pub fn check_room_jid(jid: &str) -> Result<String> {
    let jid = jid.trim();
    if jid.is_empty() {
        return Err(Error::missing("jid"));
    }
    if !is_room_jid(jid) {
        return Err(Error::invalid(
            "jid",
            "应为 32 位十六进制字符串 (a dash-less UUID the client generates)",
        ));
    }
    Ok(jid.to_ascii_lowercase())
}

/// `/room/add`: creates a room with me as owner and the listed users as members; 907 to every
/// member. Answers the room as built (`userSize` 0, `members` []), as the reference does.
/// Room flags come from the configuration.
pub async fn create(ctx: &Ctx, me: i32, r: NewRoom) -> Result<Value> {
    create_with(ctx, me, r, &RoomFlags::default()).await
}

/// [`create`] with the flags the client sent, kept where the configuration's value is -1.
pub async fn create_with(ctx: &Ctx, me: i32, r: NewRoom, flags: &RoomFlags) -> Result<Value> {
    let [max_user_size, is_attrition_notice, is_look, show_read, is_need_verify, show_member, allow_send_card, allow_invite_friend, allow_upload_file, allow_conference, allow_speak_course] =
        new_room_flags(ctx, flags)?;
    let jid = check_room_jid(&r.jid)?;
    let name = r
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "我的群组".into());
    check_len("name", &name, MAX_NAME_CHARS)?;
    let desc = r.desc.unwrap_or_default();
    check_len("desc", &desc, MAX_DESC_CHARS)?;
    let creator = users::caller_user(ctx, me).await?;
    if ctx.store.rooms.get_room_by_jid(&jid).await?.is_some() {
        return Err(Error::failure(
            "该群 jid 已存在，请重新生成 (jid already used)",
        ));
    }
    let mut others = Vec::new();
    for id in r.members.into_iter().filter(|id| *id != me) {
        let u = ctx
            .store
            .users
            .get_user(id)
            .await?
            .ok_or_else(|| Error::failure(format!("用户不存在: {id}")))?;
        others.push(u);
    }
    if others.len() + 1 > max_user_size as usize {
        return Err(Error::failure(format!("当前群成员人数上限{max_user_size}")));
    }
    let now = now_secs();
    let mut room = Room {
        id: None,
        jid: jid.clone(),
        name,
        desc,
        subject: String::new(),
        category: r.category,
        tags: Vec::new(),
        call: number_in(300_000),
        video_meeting_no: number_in(350_000),
        notice: Notice::default(),
        user_size: 0,
        max_user_size,
        country_id: r.country_id,
        province_id: r.province_id,
        city_id: r.city_id,
        area_id: r.area_id,
        longitude: r.longitude,
        latitude: r.latitude,
        user_id: me,
        nickname: creator.nickname.clone(),
        create_time: now,
        modifier: None,
        modify_time: now,
        s: 1,
        is_look,
        show_read,
        is_need_verify,
        show_member,
        allow_send_card,
        allow_host_update: 1,
        allow_invite_friend,
        allow_upload_file,
        allow_conference,
        allow_speak_course,
        is_attrition_notice,
        talk_time: 0,
        chat_record_time_out: -1.0,
        red_packet_lock: Some("-1".into()),
        extra: Map::new(),
    };
    let id = match ctx.store.rooms.insert_room(&room).await {
        Ok(id) => id,
        Err(StoreError::Duplicate(_)) => {
            return Err(Error::failure(
                "该群 jid 已存在，请重新生成 (jid already used)",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    room.id = Some(id);
    let mut list = vec![new_member(&room, me, &creator.nickname, ROLE_OWNER, now)];
    list.extend(
        others
            .iter()
            .map(|u| new_member(&room, u.user_id, &u.nickname, ROLE_MEMBER, now)),
    );
    ctx.store.rooms.add_members(rid(&room), &list).await?;
    announce_new_members(ctx, &room, me, &creator.nickname, &list).await?;
    Ok(room_view(&room, Vec::new(), Vec::new(), None))
}

/// `/room/copyRoom`: a new room owned by me with the members of one of my rooms (as I see them:
/// the visible members), named as given or as the original.
pub async fn copy_room(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    name: Option<String>,
    jid: Option<String>,
) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let ids = members(ctx, &room, &[ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER], 0, 0)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    create(
        ctx,
        me,
        NewRoom {
            jid: jid.unwrap_or_else(uuid32),
            name: Some(name.unwrap_or_else(|| room.name.clone())),
            desc: Some(room.desc.clone()),
            members: ids,
            ..NewRoom::default()
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Reading

/// `/room/get`: the room with the members my role may see (paged), its notices, and me.
pub async fn get(ctx: &Ctx, me: i32, room_id: &str, page: Page) -> Result<Value> {
    let mut room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = member_of(ctx, &room, me).await?;
    let size = u64::from(page.size.max(1));
    let role = mine.as_ref().map(|m| m.role).unwrap_or(0);
    let list = match role {
        0 => {
            // The reference shows outsiders the owner's head list (QR-code joining); only a
            // public room is shown to outsiders at all.
            if room.is_look != 0 {
                return Err(Error::failure(NOT_MEMBER));
            }
            members(ctx, &room, &[ROLE_OWNER, ROLE_ADMIN], 0, 0).await?
        }
        ROLE_OWNER => {
            let mut head = members(ctx, &room, &[ROLE_OWNER, ROLE_ADMIN], 0, 0).await?;
            let rest = size.saturating_sub(head.len() as u64).max(1);
            let more = members(
                ctx,
                &room,
                &[ROLE_MEMBER, ROLE_INVISIBLE, ROLE_GUARDIAN],
                u64::from(page.index) * rest,
                rest,
            )
            .await?;
            head.extend(more);
            head
        }
        ROLE_ADMIN | ROLE_MEMBER => {
            let hidden = ctx
                .store
                .rooms
                .count_members(&MemberQuery {
                    room_id: rid(&room).to_string(),
                    roles: vec![ROLE_INVISIBLE, ROLE_GUARDIAN],
                    ..MemberQuery::default()
                })
                .await?;
            room.user_size -= hidden as i32;
            members(
                ctx,
                &room,
                &[ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER],
                page.skip(),
                size,
            )
            .await?
        }
        _ => {
            let mut v = members(
                ctx,
                &room,
                &[ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER],
                page.skip(),
                size,
            )
            .await?;
            if let Some(m) = &mine {
                v.push(m.clone());
            }
            v
        }
    };
    let remarks = my_remarks(ctx, me).await?;
    let list = list
        .into_iter()
        .map(|m| member_view(&with_remark(m, &remarks)))
        .collect();
    let notices = ctx
        .store
        .rooms
        .notices(rid(&room), 0, 0)
        .await?
        .iter()
        .map(notice_view)
        .collect();
    Ok(room_view(
        &room,
        list,
        notices,
        mine.as_ref().map(member_view),
    ))
}

/// `/room/getRoom`: the room with only its owner and admins, and me.
pub async fn get_room(ctx: &Ctx, me: i32, room_id: &str) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    let mine = require_member(ctx, &room, me).await?;
    let remarks = my_remarks(ctx, me).await?;
    let list = members(ctx, &room, &[ROLE_OWNER, ROLE_ADMIN], 0, 0)
        .await?
        .into_iter()
        .map(|m| member_view(&with_remark(m, &remarks)))
        .collect();
    Ok(room_view(&room, list, Vec::new(), Some(member_view(&mine))))
}

/// `/room/get/call`: the room's call and video-meeting numbers.
pub async fn get_call(ctx: &Ctx, me: i32, room_id: &str) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    Ok(json!({"call": room.call.to_string(), "videoMeetingNo": room.video_meeting_no.to_string()}))
}

/// `/room/list`: public rooms (`isLook` 0), newest first, optionally matching a name.
pub async fn list_public(ctx: &Ctx, keyword: Option<&str>, page: Page) -> Result<Value> {
    let rooms = ctx
        .store
        .rooms
        .query_rooms(&RoomQuery {
            public_only: true,
            keyword: keyword.map(str::to_string),
            status: Some(1),
            skip: page.skip(),
            limit: u64::from(page.size),
            ..RoomQuery::default()
        })
        .await?;
    Ok(Value::Array(
        rooms
            .iter()
            .map(|r| room_view(r, Vec::new(), Vec::new(), None))
            .collect(),
    ))
}

/// `/room/list/his`: my rooms (type 0 all, 1 owned, 2 not owned), newest first, each with my
/// membership; None when I have none.
pub async fn list_mine(ctx: &Ctx, me: i32, kind: i32, page: Page) -> Result<Option<Value>> {
    let roles = match kind {
        0 => vec![],
        1 => vec![ROLE_OWNER],
        2 => vec![ROLE_ADMIN, ROLE_MEMBER, ROLE_INVISIBLE, ROLE_GUARDIAN],
        _ => return Err(Error::invalid("type", "应为 0, 1 或 2")),
    };
    let rooms = ctx
        .store
        .rooms
        .query_rooms(&RoomQuery {
            member: Some(me),
            roles,
            status: Some(1),
            skip: page.skip(),
            limit: u64::from(page.size),
            ..RoomQuery::default()
        })
        .await?;
    if rooms.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rooms.len());
    for room in &rooms {
        let mine = member_of(ctx, room, me).await?;
        out.push(room_view(
            room,
            Vec::new(),
            Vec::new(),
            mine.as_ref().map(member_view),
        ));
    }
    Ok(Some(Value::Array(out)))
}

/// `/room/member/list`: every member (join order), my remarks applied, optionally those whose
/// nickname or remark contains `keyword`. Members only.
pub async fn member_list(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    keyword: Option<&str>,
) -> Result<JsonText> {
    let room = load_room(ctx, room_id).await?;
    if member_of(ctx, &room, me).await?.is_none() {
        return Err(Error::failure(NO_PERMISSION));
    }
    let list = ctx.store.rooms.all_members(rid(&room)).await?;
    let shown = ctx
        .member_lists
        .get_or_render(rid(&room), &list, |l| {
            let mut order: Vec<usize> = (0..l.len()).collect();
            order.sort_by_key(|&i| (l[i].create_time, l[i].role));
            ListText::of(l, order, |buf, m| {
                serde_json::to_writer(buf, &member_shown(m))
            })
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
    let remarks = my_remarks(ctx, me).await?;
    let needle = keyword.map(str::to_lowercase);
    let mut out = JsonArray::with_capacity(shown.text_len() + 64);
    for (i, text) in shown.parts() {
        let m = &list[i];
        let remark = remarks.get(&m.user_id);
        if let Some(k) = &needle {
            let named = |s: &str| s.to_lowercase().contains(k);
            if !(named(&m.nickname) || remark.or(m.remark_name.as_ref()).is_some_and(|r| named(r)))
            {
                continue;
            }
        }
        match remark {
            // My name for this member: written for me alone.
            Some(_) => {
                let m = with_remark(m.clone(), &remarks);
                out.push(&member_shown(&m), 384)
                    .map_err(|e| Error::Internal(e.to_string()))?;
            }
            None => out.push_raw(text),
        }
    }
    out.finish().map_err(|e| Error::Internal(e.to_string()))
}

/// `/room/member/get`: one membership (0 = me). Members only.
pub async fn member_get(ctx: &Ctx, me: i32, room_id: &str, user_id: i32) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let target = if user_id == 0 { me } else { user_id };
    let m = member_of(ctx, &room, target)
        .await?
        .ok_or_else(|| Error::failure(format!("用户：{target}没在当前群组")))?;
    let remarks = my_remarks(ctx, me).await?;
    Ok(member_view(&with_remark(m, &remarks)))
}

// ---------------------------------------------------------------------------------------------
// Settings

/// `/room/update` parameters (the reference's RoomVO defaults mean "unchanged").
#[derive(Debug, Clone)]
pub struct RoomUpdate {
    pub room_name: String,
    pub notice: String,
    pub desc: String,
    pub subject: String,
    pub show_read: i32,
    pub is_need_verify: i32,
    pub is_look: i32,
    pub max_user_size: Option<i32>,
    pub show_member: i32,
    pub allow_send_card: i32,
    pub allow_host_update: i32,
    pub chat_record_time_out: f64,
    pub allow_invite_friend: i32,
    pub allow_upload_file: i32,
    pub allow_conference: i32,
    pub allow_speak_course: i32,
    pub is_attrition_notice: Option<i32>,
    pub talk_time: i64,
    pub s: i32,
}

impl Default for RoomUpdate {
    fn default() -> Self {
        RoomUpdate {
            room_name: String::new(),
            notice: String::new(),
            desc: String::new(),
            subject: String::new(),
            show_read: -1,
            is_need_verify: -1,
            is_look: -1,
            max_user_size: None,
            show_member: -1,
            allow_send_card: -1,
            allow_host_update: -1,
            chat_record_time_out: 0.0,
            allow_invite_friend: -1,
            allow_upload_file: -1,
            allow_conference: -1,
            allow_speak_course: -1,
            is_attrition_notice: None,
            talk_time: -2,
            s: 0,
        }
    }
}

/// `/room/update`: applies the first matching change in the reference's order, with its
/// notification. Returns the new notice id when a notice was posted.
pub async fn update(ctx: &Ctx, me: i32, room_id: &str, u: RoomUpdate) -> Result<Option<String>> {
    let room = load_room(ctx, room_id).await?;
    let mine = require_member(ctx, &room, me).await?;
    // The reference refuses only ordinary members (roles 4/5 pass).
    if mine.role == ROLE_MEMBER {
        return Err(Error::failure(NO_PERMISSION));
    }
    refuse_locked(&room, LOCKED_BY_CONSOLE)?;
    let name = display_name(ctx, Some(&mine), me).await?;
    let id = rid(&room).to_string();
    let now = now_secs();
    let jid = room.jid.clone();
    let group = |t: i32, content: Value| notice(&room, t, me, &name, content);
    let apply = |patch: Patch| {
        let id = id.clone();
        async move {
            let patch = patch.set("modifyTime", now).set("modifier", me);
            ctx.store.rooms.update_room(&id, &patch).await
        }
    };

    let room_name = u.room_name.trim();
    if !room_name.is_empty() && room_name != room.name {
        check_len("roomName", room_name, MAX_NAME_CHARS)?;
        apply(Patch::new().set("name", room_name)).await?;
        notify_room(ctx, &jid, &group(902, json!(room_name))).await?;
        return Ok(None);
    }
    if u.talk_time > -2 {
        // Only the room carries the mute-all: the reference also copied it into every
        // membership, which would mute the owner and admins too (the message path exempts
        // them from a room mute but not from a member mute).
        apply(Patch::new().set("talkTime", u.talk_time)).await?;
        notify_room(ctx, &jid, &group(920, json!(u.talk_time.to_string()))).await?;
        return Ok(None);
    }
    let mut base = Patch::new();
    if !u.desc.is_empty() {
        check_len("desc", &u.desc, MAX_DESC_CHARS)?;
        base.push_set("desc", u.desc.as_str());
    }
    if !u.subject.is_empty() {
        check_len("subject", &u.subject, MAX_NAME_CHARS)?;
        base.push_set("subject", u.subject.as_str());
    }
    if !u.notice.is_empty() {
        check_len("notice", &u.notice, MAX_NOTICE_CHARS)?;
        let mut n = Notice {
            id: None,
            room_id: Some(id.clone()),
            text: Some(u.notice.clone()),
            user_id: Some(me),
            nickname: Some(name.clone()),
            time: now,
            modify_time: 0,
        };
        let notice_id = ctx.store.rooms.insert_notice(&n).await?;
        n.id = Some(notice_id.clone());
        apply(base.set(
            "notice",
            crate::store::Val::Json(serde_json::to_value(&n).unwrap_or_default()),
        ))
        .await?;
        notify_room(ctx, &jid, &group(905, json!(u.notice))).await?;
        return Ok(Some(notice_id));
    }
    if u.show_read > -1 && u.show_read != room.show_read {
        let v = check_flag("showRead", u.show_read)?;
        apply(base.set("showRead", v)).await?;
        notify_room(ctx, &jid, &group(915, json!(v.to_string()))).await?;
        return Ok(None);
    }
    for (param, field, value, t) in [
        ("isNeedVerify", "isNeedVerify", u.is_need_verify, 916),
        ("isLook", "isLook", u.is_look, 917),
    ] {
        if value != -1 {
            let v = check_flag(param, value)?;
            apply(base.set(field, v)).await?;
            notify_room(ctx, &jid, &group(t, json!(v.to_string()))).await?;
            return Ok(None);
        }
    }
    if let Some(max) = u.max_user_size.filter(|m| *m >= 0) {
        if max < room.user_size {
            return Err(Error::failure("群成员上限不能低于当前群成员人数"));
        }
        if let Some(bound) = max_user_size_bound(ctx).filter(|b| max > *b) {
            return Err(Error::failure(format!("当前群成员人数上限{bound}")));
        }
        apply(base.set("maxUserSize", max)).await?;
        return Ok(None);
    }
    if u.s != 0 {
        if u.s != 1 && u.s != -1 {
            return Err(Error::invalid("s", "应为 1 或 -1"));
        }
        // Locking is the console's (reference `consoleProhibitRoom`, 931): a locked room
        // refuses every change, so a room member who could lock it could never unlock it
        // again. Refused with the reference's permission text.
        return Err(Error::failure(NO_PERMISSION));
    }
    for (field, value, t) in [
        ("showMember", u.show_member, 918),
        ("allowSendCard", u.allow_send_card, 919),
        ("allowInviteFriend", u.allow_invite_friend, 921),
        ("allowUploadFile", u.allow_upload_file, 922),
        ("allowConference", u.allow_conference, 923),
        ("allowSpeakCourse", u.allow_speak_course, 924),
    ] {
        if value != -1 {
            let v = check_flag(field, value)?;
            apply(base.set(field, v)).await?;
            notify_room(ctx, &jid, &group(t, json!(v.to_string()))).await?;
            return Ok(None);
        }
    }
    let mut patch = base;
    if u.allow_host_update != -1 {
        patch.push_set(
            "allowHostUpdate",
            check_flag("allowHostUpdate", u.allow_host_update)?,
        );
    }
    if let Some(v) = u.is_attrition_notice {
        patch.push_set("isAttritionNotice", check_flag("isAttritionNotice", v)?);
    }
    let timeout = u.chat_record_time_out;
    if timeout != 0.0 {
        if !(timeout == -1.0 || timeout > 0.0) {
            return Err(Error::invalid("chatRecordTimeOut", "应为天数 (>0) 或 -1"));
        }
        patch.push_set("chatRecordTimeOut", timeout);
    }
    apply(patch).await?;
    if timeout != 0.0 {
        notify_room(
            ctx,
            &jid,
            &group(932, json!(super::view::java_double(timeout))),
        )
        .await?;
    }
    Ok(None)
}

/// `/room/delete`: the owner dissolves the room.
pub async fn delete(ctx: &Ctx, me: i32, room_id: &str) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    let mine = member_of(ctx, &room, me).await?;
    if mine.as_ref().map(|m| m.role) != Some(ROLE_OWNER) {
        return Err(Error::failure("权限不足!"));
    }
    dissolve(ctx, &room, me, mine.as_ref()).await
}

/// 903 single to every member and into the room, then the room and everything of it is deleted
/// (members, notices, shares, history, room-jid index entries). Conversation rows stay, as in
/// the reference.
async fn dissolve(ctx: &Ctx, room: &Room, actor: i32, mine: Option<&Member>) -> Result<()> {
    let name = display_name(ctx, mine, actor).await?;
    let n = notice(room, 903, actor, &name, json!(room.name));
    let members = ctx.store.rooms.member_ids(rid(room)).await?;
    if let Err(e) = notify_users_and_room(ctx, &members, &room.jid, &n).await {
        log_notify(903, &e);
    }
    let shares = ctx.store.rooms.shares(rid(room), None, 0, 0).await?;
    ctx.store.rooms.delete_room(rid(room)).await?;
    // The room's shared files go with it (each only when its uploader's, checked in `files`).
    for s in &shares {
        super::files::delete_owned_url(&ctx.config, &ctx.store, &s.url, s.user_id).await;
    }
    Ok(())
}

/// `/room/transfer`: the owner hands the room to a member; 925 to the new owner and the room.
pub async fn transfer(ctx: &Ctx, me: i32, room_id: &str, to: i32) -> Result<()> {
    if to == 0 {
        return Err(Error::failure("请指定 新群主!"));
    }
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED_BY_CONSOLE)?;
    if to == me {
        return Err(Error::failure("不能转让群组给自己"));
    }
    let mine = member_of(ctx, &room, me).await?;
    if room.user_id != me || mine.as_ref().map(|m| m.role) != Some(ROLE_OWNER) {
        return Err(Error::failure("你不是群主 不能申请转让群"));
    }
    let target = member_of(ctx, &room, to)
        .await?
        .ok_or_else(|| Error::failure("对方不是群成员 不能转让"))?;
    let to_user = ctx.store.users.get_user(to).await?;
    let to_nick = to_user.map(|u| u.nickname).unwrap_or_default();
    let now = now_secs();
    ctx.store
        .rooms
        .update_room(
            rid(&room),
            &Patch::new()
                .set("userId", to)
                .set("nickname", to_nick.as_str())
                .set("modifyTime", now),
        )
        .await?;
    ctx.store
        .rooms
        .update_member(
            rid(&room),
            me,
            &Patch::new().set("role", ROLE_MEMBER).set("modifyTime", now),
        )
        .await?;
    ctx.store
        .rooms
        .update_member(
            rid(&room),
            to,
            &Patch::new().set("role", ROLE_OWNER).set("modifyTime", now),
        )
        .await?;
    let name = display_name(ctx, mine.as_ref(), me).await?;
    let mut n = notice(&room, 925, me, &name, json!(to.to_string()));
    n.to_user_id = Some(to.to_string());
    n.to_user_name = Some(if target.nickname.is_empty() {
        to_nick
    } else {
        target.nickname
    });
    notify_user_and_room(ctx, to, &room.jid, &n).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Membership

/// `/room/join`: I join a room with space; 907 to me and the room. Joining twice changes
/// nothing.
pub async fn join(ctx: &Ctx, me: i32, room_id: &str) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    if member_of(ctx, &room, me).await?.is_some() {
        return Ok(());
    }
    // Only public rooms without owner verification can be entered without an invitation
    // (the reference let anybody who knew the id into any room).
    if room.is_look != 0 {
        return Err(Error::failure("该群组不是公开群，需要群成员邀请才能加入"));
    }
    if room.is_need_verify == 1 {
        return Err(Error::failure("邀请群成员 需要群主同意!"));
    }
    if room.user_size >= room.max_user_size {
        return Err(Error::failure("超过房间最大人数，加入房间失败"));
    }
    let u = users::caller_user(ctx, me).await?;
    let m = new_member(&room, me, &u.nickname, ROLE_MEMBER, now_secs());
    let added = ctx
        .store
        .rooms
        .add_members(rid(&room), std::slice::from_ref(&m))
        .await?;
    if !added.is_empty() {
        announce_new_members(ctx, &room, me, &u.nickname, &[m]).await?;
    }
    Ok(())
}

/// `/room/member/update` edit parameters.
#[derive(Debug, Clone, Default)]
pub struct MemberEdit {
    pub user_id: i32,
    pub nickname: Option<String>,
    pub remark_name: Option<String>,
    pub role: Option<i32>,
    pub talk_time: Option<i64>,
    pub sub: Option<i32>,
}

/// `/room/member/update` invite path: adds users (skipping members); 907 per new member.
pub async fn invite(ctx: &Ctx, me: i32, room_id: &str, ids: Vec<i32>) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = require_member(ctx, &room, me).await?;
    if room.is_need_verify == 1 && mine.role != ROLE_OWNER {
        return Err(Error::failure("邀请群成员 需要群主同意!"));
    }
    if mine.role == ROLE_INVISIBLE {
        return Err(Error::failure("隐身人不可以邀请用户加群"));
    }
    if room.allow_invite_friend == 0 && !is_manager(&mine) {
        return Err(Error::failure(NO_INVITE));
    }
    // The membership is read once for the whole list (not once per invitee).
    let existing: HashSet<i32> = ctx
        .store
        .rooms
        .member_ids(rid(&room))
        .await?
        .into_iter()
        .collect();
    let mut fresh = Vec::new();
    for id in ids {
        if existing.contains(&id) {
            continue;
        }
        let u = ctx
            .store
            .users
            .get_user(id)
            .await?
            .ok_or_else(|| Error::failure(format!("用户不存在: {id}")))?;
        fresh.push(u);
    }
    if fresh.is_empty() {
        return Ok(());
    }
    if fresh.len() == 1 && mine.role != ROLE_OWNER {
        let rel = ctx.store.friends.get_friend(me, fresh[0].user_id).await?;
        if !rel.is_some_and(|f| f.status == 2 && f.blacklist != 1) {
            return Err(Error::failure("不是好友不能邀请!"));
        }
    }
    let room_left = (room.max_user_size - room.user_size).max(0);
    if fresh.len() as i32 > room_left {
        return Err(Error::failure(format!(
            "群人数快到上限  最多还可以邀请  {room_left}人"
        )));
    }
    let now = now_secs();
    let list: Vec<Member> = fresh
        .iter()
        .map(|u| new_member(&room, u.user_id, &u.nickname, ROLE_MEMBER, now))
        .collect();
    let added = ctx.store.rooms.add_members(rid(&room), &list).await?;
    let added: Vec<Member> = list
        .into_iter()
        .filter(|m| added.contains(&m.user_id))
        .collect();
    let name = display_name(ctx, Some(&mine), me).await?;
    announce_new_members(ctx, &room, me, &name, &added).await
}

/// `/room/member/update` edit path: nickname (mine only, 901), remark, role, mute (906), sub.
pub async fn edit_member(ctx: &Ctx, me: i32, room_id: &str, e: MemberEdit) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let target_id = if e.user_id == 0 { me } else { e.user_id };
    let target = member_of(ctx, &room, target_id)
        .await?
        .ok_or_else(|| Error::failure("该用户不是群组成员"))?;
    let mine = require_member(ctx, &room, me).await?;
    let myself = target_id == me;
    if !myself {
        if mine.role != ROLE_OWNER && mine.role != ROLE_ADMIN {
            return Err(Error::failure(NO_PERMISSION));
        }
        if mine.role != ROLE_OWNER && target.role == ROLE_ADMIN {
            return Err(Error::failure(NO_PERMISSION));
        }
        if mine.role != ROLE_OWNER && target.role == ROLE_OWNER {
            return Err(Error::failure(NO_PERMISSION));
        }
        if e.nickname.is_some() {
            return Err(Error::failure("只能修改自己的群昵称"));
        }
    }
    let now = now_secs();
    let mut patch = Patch::new();
    if let Some(role) = e.role.filter(|r| *r != 0 && *r != ROLE_OWNER) {
        if !(ROLE_ADMIN..=ROLE_GUARDIAN).contains(&role) {
            return Err(Error::invalid("role", "应为 2–5"));
        }
        if mine.role != ROLE_OWNER || myself {
            return Err(Error::failure("只有群主才可以设置或取消管理员"));
        }
        patch.push_set("role", role);
    }
    if let Some(sub) = e.sub {
        patch.push_set("sub", check_flag("sub", sub)?);
    }
    if let Some(t) = e.talk_time {
        if target.role == ROLE_OWNER {
            return Err(Error::failure("不能禁言群主"));
        }
        if mine.role != ROLE_OWNER && mine.role != ROLE_ADMIN {
            return Err(Error::failure(NO_PERMISSION));
        }
        patch.push_set("talkTime", t.max(0));
    }
    let nickname = e
        .nickname
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = nickname {
        check_len("nickname", n, MAX_NAME_CHARS)?;
        patch.push_set("nickname", n);
    }
    if let Some(r) = &e.remark_name {
        check_len("remarkName", r, MAX_NAME_CHARS)?;
        patch.push_set("remarkName", r.as_str());
    }
    if patch.is_empty() {
        return Ok(());
    }
    patch.push_set("modifyTime", now);
    ctx.store
        .rooms
        .update_member(rid(&room), target_id, &patch)
        .await?;
    let my_name = display_name(ctx, Some(&mine), me).await?;
    if let Some(n) = nickname.filter(|n| *n != target.nickname) {
        let mut msg = notice(&room, 901, me, &my_name, json!(n));
        msg.to_user_id = Some(target_id.to_string());
        msg.to_user_name = Some(target.nickname.clone());
        notify_room(ctx, &room.jid, &msg).await?;
    }
    if let Some(t) = e.talk_time {
        let mut msg = notice(&room, 906, me, &my_name, json!(t.max(0).to_string()));
        msg.to_user_id = Some(target_id.to_string());
        msg.to_user_name = Some(target.nickname.clone());
        notify_user_and_room(ctx, target_id, &room.jid, &msg).await?;
    }
    Ok(())
}

/// `/room/member/delete` (and `/room/leave`): removes a member (904), or, when the owner
/// leaves, dissolves the room (903).
pub async fn remove_member(ctx: &Ctx, me: i32, room_id: &str, user_id: i32) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, "该群已经被锁定！")?;
    let mine = member_of(ctx, &room, me)
        .await?
        .ok_or_else(|| Error::failure(NO_PERMISSION))?;
    let target_id = if user_id == 0 { me } else { user_id };
    if target_id != me && mine.role != ROLE_OWNER && mine.role != ROLE_ADMIN {
        return Err(Error::failure(NO_PERMISSION));
    }
    let target = member_of(ctx, &room, target_id)
        .await?
        .ok_or_else(|| Error::failure("该成员不在群组中"))?;
    if target_id == me && mine.role == ROLE_OWNER {
        return dissolve(ctx, &room, me, Some(&mine)).await;
    }
    if target_id != me {
        if target.role == ROLE_OWNER {
            return Err(Error::failure("不能移出群主"));
        }
        if mine.role == ROLE_ADMIN
            && matches!(target.role, ROLE_ADMIN | ROLE_INVISIBLE | ROLE_GUARDIAN)
        {
            return Err(Error::failure("管理员不能踢出管理员、隐身人或监控人"));
        }
    }
    let name = display_name(ctx, Some(&mine), me).await?;
    let mut n = notice(&room, 904, me, &name, json!(room.name));
    n.to_user_id = Some(target_id.to_string());
    n.to_user_name = Some(target.nickname.clone());
    if room.is_attrition_notice == 1 {
        notify_user_and_room(ctx, target_id, &room.jid, &n).await?;
    } else {
        notify_user(ctx, target_id, &n).await?;
    }
    ctx.store.rooms.remove_member(rid(&room), target_id).await?;
    Ok(())
}

/// `/room/member/setOfflineNoPushMsg`: my do-not-disturb (type 0) or pin (type 1) of a room;
/// 802 to my other devices.
pub async fn set_offline_no_push(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    user_id: i32,
    value: i32,
    kind: i32,
) -> Result<()> {
    if user_id != 0 && user_id != me {
        return Err(Error::failure(NO_PERMISSION));
    }
    let value = check_flag("offlineNoPushMsg", value)?;
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let now = now_secs();
    let patch = match kind {
        0 => Patch::new().set("offlineNoPushMsg", value),
        1 => Patch::new().set("openTopChatTime", if value == 1 { now } else { 0 }),
        _ => return Err(Error::invalid("type", "应为 0 (免打扰) 或 1 (置顶)")),
    };
    ctx.store
        .rooms
        .update_member(rid(&room), me, &patch.set("modifyTime", now))
        .await?;
    let user = users::caller_user(ctx, me).await?;
    if user.settings.multiple_devices == 1 {
        let n = Msg {
            msg_type: 802,
            content: json!(value.to_string()),
            from_user_id: Some(me.to_string()),
            from_user_name: Some(user.nickname.clone()),
            to_user_id: Some(rid(&room).to_string()),
            to_user_name: Some(room.name.clone()),
            object_id: Some(json!(room.jid)),
            ..Msg::default()
        };
        if let Err(e) = notify_user(ctx, me, &n).await {
            log_notify(802, &e);
        }
    }
    Ok(())
}

/// Sets a member's `openTopChatTime` (a room pin from `/tigase/dialog/*`); not a member,
/// nothing to pin.
pub async fn set_top_chat_time(ctx: &Ctx, me: i32, jid: &str, time: i64) -> Result<()> {
    if let Some(room) = ctx.store.rooms.get_room_by_jid(jid).await? {
        if member_of(ctx, &room, me).await?.is_some() {
            ctx.store
                .rooms
                .update_member(rid(&room), me, &Patch::new().set("openTopChatTime", time))
                .await?;
        }
    }
    Ok(())
}

/// `/room/set/admin`: the owner makes a member admin (type 2) or revokes it (3); 913.
pub async fn set_admin(ctx: &Ctx, me: i32, room_id: &str, to: i32, kind: i32) -> Result<()> {
    if kind != ROLE_ADMIN && kind != ROLE_MEMBER {
        return Err(Error::invalid("type", "应为 2 (设置) 或 3 (取消)"));
    }
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = member_of(ctx, &room, me).await?;
    if mine.as_ref().map(|m| m.role) != Some(ROLE_OWNER) {
        return Err(Error::failure("只有群主才可以设置或取消管理员"));
    }
    if to == me {
        return Err(Error::failure("群主不能设置为管理员"));
    }
    let target = member_of(ctx, &room, to)
        .await?
        .ok_or_else(|| Error::failure("该用户不是群组成员"))?;
    ctx.store
        .rooms
        .update_member(
            rid(&room),
            to,
            &Patch::new().set("role", kind).set("modifyTime", now_secs()),
        )
        .await?;
    let name = display_name(ctx, mine.as_ref(), me).await?;
    let content = if kind == ROLE_ADMIN { 1 } else { 0 };
    let mut n = notice(&room, 913, me, &name, json!(content.to_string()));
    n.to_user_id = Some(to.to_string());
    n.to_user_name = Some(target.nickname);
    notify_user_and_room(ctx, to, &room.jid, &n).await?;
    Ok(())
}

/// `/room/setInvisibleGuardian`: the owner makes a member invisible (4) / guardian (5) or back
/// (-1 / 0); 930 to the member.
pub async fn set_invisible_guardian(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    to: i32,
    kind: i32,
) -> Result<()> {
    let (role, content) = match kind {
        4 => (ROLE_INVISIBLE, 1),
        -1 => (ROLE_MEMBER, -1),
        5 => (ROLE_GUARDIAN, 2),
        0 => (ROLE_MEMBER, 0),
        _ => return Err(Error::invalid("type", "应为 4, -1, 5 或 0")),
    };
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = member_of(ctx, &room, me).await?;
    if mine.as_ref().map(|m| m.role) != Some(ROLE_OWNER) {
        return Err(Error::failure(NO_PERMISSION));
    }
    if to == me {
        return Err(Error::failure(NO_PERMISSION));
    }
    let target = member_of(ctx, &room, to)
        .await?
        .ok_or_else(|| Error::failure("该用户不是群组成员"))?;
    ctx.store
        .rooms
        .update_member(
            rid(&room),
            to,
            &Patch::new().set("role", role).set("modifyTime", now_secs()),
        )
        .await?;
    let name = display_name(ctx, mine.as_ref(), me).await?;
    let mut n = notice(&room, 930, me, &name, json!(content.to_string()));
    n.to_user_id = Some(to.to_string());
    n.to_user_name = Some(target.nickname);
    notify_user(ctx, to, &n).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Notices

/// `/room/noticesPage`: a PageVO of notices, newest first. Members only.
pub async fn notices_page(ctx: &Ctx, me: i32, room_id: &str, page: Page) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let total = ctx.store.rooms.count_notices(rid(&room)).await?;
    let list = ctx
        .store
        .rooms
        .notices(rid(&room), page.skip(), u64::from(page.size))
        .await?;
    Ok(page_vo(list.iter().map(notice_view).collect(), total, page))
}

/// `/room/notice/list`: every notice, newest first. Members only.
pub async fn notice_list(ctx: &Ctx, me: i32, room_id: &str) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let list = ctx.store.rooms.notices(rid(&room), 0, 0).await?;
    Ok(Value::Array(list.iter().map(notice_view).collect()))
}

async fn require_manager(ctx: &Ctx, room: &Room, me: i32) -> Result<Member> {
    let m = require_member(ctx, room, me).await?;
    if !is_manager(&m) {
        return Err(Error::failure(NO_PERMISSION));
    }
    Ok(m)
}

/// `/room/notice/delete`: owner/admin deletes a notice; the room's latest notice is reset when
/// it was that one.
pub async fn notice_delete(ctx: &Ctx, me: i32, room_id: &str, notice_id: &str) -> Result<()> {
    if room_id.is_empty() || notice_id.is_empty() {
        return Err(Error::failure("非法参数错误 null "));
    }
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    require_manager(ctx, &room, me).await?;
    if !ctx.store.rooms.delete_notice(rid(&room), notice_id).await? {
        return Err(Error::failure("公告不存在"));
    }
    if room.notice.id.as_deref() == Some(notice_id) {
        let empty = serde_json::to_value(Notice::default()).unwrap_or_default();
        ctx.store
            .rooms
            .update_room(
                rid(&room),
                &Patch::new().set("notice", crate::store::Val::Json(empty)),
            )
            .await?;
    }
    Ok(())
}

/// `/room/updateNotice`: owner/admin edits a notice's text; 934 to the room.
pub async fn update_notice(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    notice_id: &str,
    text: &str,
) -> Result<Value> {
    if room_id.is_empty() || notice_id.is_empty() || text.is_empty() {
        return Err(Error::failure("参数有误"));
    }
    check_len("noticeContent", text, MAX_NOTICE_CHARS)?;
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = require_manager(ctx, &room, me).await?;
    let now = now_secs();
    let n = ctx
        .store
        .rooms
        .update_notice(
            rid(&room),
            notice_id,
            &Patch::new().set("text", text).set("modifyTime", now),
        )
        .await?
        .ok_or_else(|| Error::failure("公告不存在"))?;
    if room.notice.id.as_deref() == Some(notice_id) {
        let v = serde_json::to_value(&n).unwrap_or_default();
        ctx.store
            .rooms
            .update_room(
                rid(&room),
                &Patch::new().set("notice", crate::store::Val::Json(v)),
            )
            .await?;
    }
    let name = display_name(ctx, Some(&mine), me).await?;
    notify_room(ctx, &room.jid, &notice(&room, 934, me, &name, json!(text))).await?;
    Ok(notice_view(&n))
}

// ---------------------------------------------------------------------------------------------
// Shares

/// `/room/add/share` parameters.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub share_type: i32,
    pub size: i64,
    pub url: String,
    pub name: String,
}

/// `/room/add/share`: a member shares a file; 401 to the room.
pub async fn add_share(ctx: &Ctx, me: i32, room_id: &str, s: NewShare) -> Result<Value> {
    check_len("name", &s.name, 255)?;
    check_len("url", &s.url, 2048)?;
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = require_member(ctx, &room, me).await?;
    if room.allow_upload_file == 0 && !is_manager(&mine) {
        return Err(Error::failure(NO_UPLOAD));
    }
    let name = display_name(ctx, Some(&mine), me).await?;
    let mut share = Share {
        id: None,
        room_id: room.id.clone(),
        name: s.name.clone(),
        url: s.url,
        time: now_secs(),
        user_id: me,
        nickname: name.clone(),
        share_type: s.share_type,
        size: s.size as f64,
    };
    let id = ctx.store.rooms.insert_share(&share).await?;
    share.id = Some(id.clone());
    let mut n = notice(&room, 401, me, &name, json!(id));
    n.file_name = Some(s.name);
    notify_room(ctx, &room.jid, &n).await?;
    Ok(share_view(&share))
}

/// `/room/share/find`: shares of a room (optionally one uploader's), newest first.
pub async fn share_find(
    ctx: &Ctx,
    me: i32,
    room_id: &str,
    user_id: i32,
    page: Page,
) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let list = ctx
        .store
        .rooms
        .shares(
            rid(&room),
            (user_id > 0).then_some(user_id),
            page.skip(),
            u64::from(page.size),
        )
        .await?;
    Ok(Value::Array(list.iter().map(share_view).collect()))
}

/// `/room/share/get`: one share. Members only.
pub async fn share_get(ctx: &Ctx, me: i32, room_id: &str, share_id: &str) -> Result<Value> {
    let room = load_room(ctx, room_id).await?;
    require_member(ctx, &room, me).await?;
    let s = ctx
        .store
        .rooms
        .get_share(rid(&room), share_id)
        .await?
        .ok_or_else(|| Error::failure("文件不存在"))?;
    Ok(share_view(&s))
}

/// `/room/share/delete`: owner/admin deletes a share record; 402 to the room.
pub async fn share_delete(ctx: &Ctx, me: i32, room_id: &str, share_id: &str) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    refuse_locked(&room, LOCKED)?;
    let mine = require_manager(ctx, &room, me).await?;
    let s = ctx
        .store
        .rooms
        .get_share(rid(&room), share_id)
        .await?
        .ok_or_else(|| Error::failure("文件不存在"))?;
    ctx.store.rooms.delete_share(rid(&room), share_id).await?;
    // The shared upload is deleted with its record (when it is the sharer's own file).
    super::files::delete_owned_url(&ctx.config, &ctx.store, &s.url, s.user_id).await;
    let name = display_name(ctx, Some(&mine), me).await?;
    let mut n = notice(&room, 402, me, &name, json!(share_id));
    n.file_name = Some(s.name);
    notify_room(ctx, &room.jid, &n).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Console variants: the admin acts on any room without being a member. Notifications come from
// the system sender 10005 ("后台管理员"), as the reference's console does.

/// `/console/deleteRoom`: dissolves any room (903 to every member and into the room).
pub async fn console_delete(ctx: &Ctx, room_id: &str) -> Result<()> {
    let room = load_room(ctx, room_id).await?;
    dissolve(ctx, &room, super::SYSTEM_SENDER_ID, None).await
}

/// `/console/deleteMember`: removes members other than the owner (904 to each, and into the
/// room when the room announces departures). Returns the userIds that were members.
pub async fn console_remove_members(ctx: &Ctx, room_id: &str, ids: &[i32]) -> Result<Vec<i32>> {
    let room = load_room(ctx, room_id).await?;
    let actor = super::SYSTEM_SENDER_ID;
    let name = display_name(ctx, None, actor).await?;
    let mut removed = Vec::new();
    for &id in ids {
        let Some(target) = member_of(ctx, &room, id).await? else {
            continue;
        };
        if target.role == ROLE_OWNER {
            return Err(Error::failure("不能移出群主"));
        }
        let mut n = notice(&room, 904, actor, &name, json!(room.name));
        n.to_user_id = Some(id.to_string());
        n.to_user_name = Some(target.nickname.clone());
        if room.is_attrition_notice == 1 {
            notify_user_and_room(ctx, id, &room.jid, &n).await?;
        } else {
            notify_user(ctx, id, &n).await?;
        }
        ctx.store.rooms.remove_member(rid(&room), id).await?;
        removed.push(id);
    }
    Ok(removed)
}

/// `/console/inviteJoinRoom`: adds users to any room (skipping members, within the size
/// limit); 907 for each, from "后台管理员". Returns the userIds added.
pub async fn console_invite(ctx: &Ctx, room_id: &str, ids: &[i32]) -> Result<Vec<i32>> {
    let room = load_room(ctx, room_id).await?;
    let existing: HashSet<i32> = ctx
        .store
        .rooms
        .member_ids(rid(&room))
        .await?
        .into_iter()
        .collect();
    let mut fresh = Vec::new();
    let mut seen = HashSet::new();
    for &id in ids {
        if existing.contains(&id) || !seen.insert(id) {
            continue;
        }
        let u = ctx
            .store
            .users
            .get_user(id)
            .await?
            .ok_or_else(|| Error::failure(format!("用户不存在: {id}")))?;
        fresh.push(u);
    }
    let room_left = (room.max_user_size - room.user_size).max(0);
    if fresh.len() as i32 > room_left {
        return Err(Error::failure(format!(
            "群人数快到上限  最多还可以邀请  {room_left}人"
        )));
    }
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_secs();
    let list: Vec<Member> = fresh
        .iter()
        .map(|u| new_member(&room, u.user_id, &u.nickname, ROLE_MEMBER, now))
        .collect();
    let added = ctx.store.rooms.add_members(rid(&room), &list).await?;
    let members: Vec<Member> = list
        .into_iter()
        .filter(|m| added.contains(&m.user_id))
        .collect();
    let actor = super::SYSTEM_SENDER_ID;
    let name = display_name(ctx, None, actor).await?;
    announce_new_members(ctx, &room, actor, &name, &members).await?;
    Ok(added)
}

/// `/console/updateRoom` with `s`: locks (-1) or unlocks (1) a room (reference
/// `consoleProhibitRoom`), 931 into the room with the new state. A locked room refuses every
/// member change until the console unlocks it.
pub async fn console_set_locked(ctx: &Ctx, room_id: &str, s: i32) -> Result<()> {
    if s != 1 && s != -1 {
        return Err(Error::invalid("s", "应为 1 (解锁) 或 -1 (锁定)"));
    }
    let room = load_room(ctx, room_id).await?;
    if room.s == s {
        return Ok(());
    }
    ctx.store
        .rooms
        .update_room(
            rid(&room),
            &Patch::new().set("s", s).set("modifyTime", now_secs()),
        )
        .await?;
    let actor = super::SYSTEM_SENDER_ID;
    let name = display_name(ctx, None, actor).await?;
    notify_room(
        ctx,
        &room.jid,
        &notice(&room, 931, actor, &name, json!(s.to_string())),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Access for the history side

/// The room with this jid, if `me` is a member (the membership returned too).
pub async fn member_room_by_jid(ctx: &Ctx, me: i32, jid: &str) -> Result<(Room, Member)> {
    let room = ctx
        .store
        .rooms
        .get_room_by_jid(jid)
        .await?
        .ok_or_else(|| Error::failure(NOT_FOUND))?;
    let m = member_of(ctx, &room, me)
        .await?
        .ok_or_else(|| Error::failure(NOT_MEMBER))?;
    Ok((room, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`member_view`] lists the fields of [`Member`] by hand: it must show exactly what the
    /// document serialises (a field added to `Member` and not to the view fails here), minus
    /// the hidden ones, plus the defaults, in key order.
    #[test]
    fn member_views_show_every_stored_field_in_key_order() {
        let stored = json!({
            "roomId": "60332a72d656fd634b20f20a", "userId": 100164, "nickname": "阿明",
            "remarkName": "明", "role": 2, "sub": 0, "call": 3, "videoMeetingNo": 4,
            "offlineNoPushMsg": 1, "talkTime": 1796460973, "active": 1796460000,
            "createTime": 1796400000, "modifyTime": 1796460001, "isOpenTopChat": 1,
            "openTopChatTime": 1796460002, "hiding": 1, "zExtra": {"a": [1, "b"]},
            "_id": "60332a72d656fd634b20f20b", "joinSeqNo": 7
        });
        let mut plain = stored.clone();
        for k in ["remarkName", "hiding", "zExtra", "joinSeqNo"] {
            plain.as_object_mut().unwrap().remove(k);
        }
        let mut early = plain.clone();
        early["aFirst"] = json!(1);
        early["isBlack"] = json!(1);
        early["nicknameX"] = json!("between");
        for (n, doc) in [stored, plain, early].into_iter().enumerate() {
            let mem: Member = serde_json::from_value(doc).unwrap();
            let mut expected = to_map(&mem);
            for k in MEMBER_HIDDEN {
                expected.remove(k);
            }
            for (k, v) in MEMBER_DEFAULTS {
                expected.entry(k).or_insert(json!(v));
            }
            let expected = serde_json::to_string(&sorted(expected)).unwrap();
            assert_eq!(
                serde_json::to_string(&member_shown(&mem)).unwrap(),
                expected,
                "member {n}"
            );
            assert_eq!(member_view(&mem).to_string(), expected);
            if n == 0 {
                assert!(expected.contains(r#""hiding":1"#) && expected.contains(r#""zExtra""#));
            }
        }
        let mut order = MEMBER_SHOWN_ORDER;
        order.sort_unstable();
        assert_eq!(order, MEMBER_SHOWN_ORDER);
    }

    #[test]
    fn jids_are_32_hex() {
        assert!(check_room_jid("f6c9eb95fc1048b7bba4b3c7e9249de1").is_ok());
        assert_eq!(check_room_jid("").unwrap_err().code(), 1010101);
        assert!(check_room_jid("f6c9eb95-fc10-48b7-bba4-b3c7e9249de1").is_err());
        assert!(check_room_jid("zzc9eb95fc1048b7bba4b3c7e9249de1").is_err());
    }

    #[test]
    fn user_id_lists() {
        assert_eq!(parse_user_ids("text", "[1,\"2\",1]").unwrap(), vec![1, 2]);
        assert!(parse_user_ids("text", "[\"x\"]").is_err());
        assert!(parse_user_ids("text", "nope").is_err());
    }

    #[test]
    fn numbers_in_reference_ranges() {
        for _ in 0..100 {
            assert!((300_000..350_000).contains(&number_in(300_000)));
            assert!((350_000..400_000).contains(&number_in(350_000)));
        }
    }
}
