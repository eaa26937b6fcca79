//! `RoomController`: rooms, members, roles, settings, notices and shares
//! (spec/reference-server.md 3.4, 6.3; seed 002 1.3, 1.7–2.4). `roomId` is the room's 24-hex id.

use actix_web::web;
use serde_json::json;

use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::rooms::{self, MemberEdit, NewRoom, NewShare, RoomFlags, RoomUpdate};
use crate::domain::Error;

/// Largest `pageSize` honoured (seed 002 asks for 50000 to mean "all").
const MAX_PAGE_SIZE: u32 = 50_000;

const ROOM_ID: ParamDoc = p(
    "roomId",
    "string",
    true,
    "the room's id (24 hex) or its jid (32 hex)",
);
const PAGE_INDEX: ParamDoc = p("pageIndex", "integer", false, "0-based, default 0");

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/room/add",
        tag: "room",
        summary: "Create a room with me as owner; 907 to every member (single + group)",
        access: Access::User,
        params: &[
            p("jid", "string", true, "client-generated room jid: 32 hex (UUID without dashes), unique"),
            p("name", "string", false, "default 我的群组"),
            p("desc", "string", false, "default \"\""),
            p("text", "string", false, "JSON array of userIds to add, e.g. [100102,100174]"),
            p("phones", "string", false, "seed 002: JSON array of phone numbers to add (86+phone, then as stored)"),
            p("countryId", "integer", false, "default 0"),
            p("provinceId", "integer", false, "default 0"),
            p("cityId", "integer", false, "default 0"),
            p("areaId", "integer", false, "default 0"),
            p("longitude", "number", false, "default 0"),
            p("latitude", "number", false, "default 0"),
            p("category", "integer", false, "default 0"),
            p("maxUserSize", "integer", false, "used only where [rooms] max_user_size is -1"),
            p("isLook", "integer", false, "1 private / 0 public; used only where the [rooms] value is -1 (likewise the flags below)"),
            p("showRead", "integer", false, ""),
            p("isNeedVerify", "integer", false, ""),
            p("showMember", "integer", false, ""),
            p("allowSendCard", "integer", false, ""),
            p("allowInviteFriend", "integer", false, ""),
            p("allowUploadFile", "integer", false, ""),
            p("allowConference", "integer", false, ""),
            p("allowSpeakCourse", "integer", false, ""),
            p("isAttritionNotice", "integer", false, ""),
        ],
        codes: &[0],
        data: "Room as built (userSize 0, members [], notices [])",
    },
    EndpointDoc {
        path: "/room/get",
        tag: "room",
        summary: "A room with the members my role may see (paged), its notices and my membership",
        access: Access::User,
        params: &[ROOM_ID, PAGE_INDEX, p("pageSize", "integer", false, "default 500")],
        codes: &[0],
        data: "Room {…, members, notices, member}",
    },
    EndpointDoc {
        path: "/room/getRoom",
        tag: "room",
        summary: "A room with only its owner and admins, and my membership",
        access: Access::User,
        params: &[ROOM_ID],
        codes: &[0],
        data: "Room",
    },
    EndpointDoc {
        path: "/room/update",
        tag: "room",
        summary: "Change one room setting (the first that applies, in the reference's order) with its notification",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("roomName", "string", false, "902"),
            p("talkTime", "long", false, "mute all until (s), 0 = cancel; 920"),
            p("desc", "string", false, "set along with a later change"),
            p("subject", "string", false, "set along with a later change"),
            p("notice", "string", false, "new notice; 905; data.noticeId"),
            p("showRead", "integer", false, "0/1; 915"),
            p("isNeedVerify", "integer", false, "0/1; 916"),
            p("isLook", "integer", false, "0 public / 1 private; 917"),
            p("maxUserSize", "integer", false, "userSize..1000"),
            p("s", "integer", false, "1 normal / -1 locked: the console's, refused here (权限不足)"),
            p("showMember", "integer", false, "0/1; 918"),
            p("allowSendCard", "integer", false, "0/1; 919"),
            p("allowInviteFriend", "integer", false, "0/1; 921"),
            p("allowUploadFile", "integer", false, "0/1; 922"),
            p("allowConference", "integer", false, "0/1; 923"),
            p("allowSpeakCourse", "integer", false, "0/1; 924"),
            p("allowHostUpdate", "integer", false, "0/1"),
            p("chatRecordTimeOut", "number", false, "days, -1 forever; 932"),
            p("isAttritionNotice", "integer", false, "0/1 (written only when sent)"),
        ],
        codes: &[0],
        data: "{noticeId} when a notice was posted, else none",
    },
    EndpointDoc {
        path: "/room/delete",
        tag: "room",
        summary: "The owner dissolves the room: 903 to every member and the room, then everything is deleted",
        access: Access::User,
        params: &[ROOM_ID],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/transfer",
        tag: "room",
        summary: "The owner hands the room to a member; 925",
        access: Access::User,
        params: &[ROOM_ID, p("toUserId", "integer", true, "the new owner")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/list",
        tag: "room",
        summary: "Public rooms (isLook 0), newest first",
        access: Access::User,
        params: &[
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 10"),
            p("roomName", "string", false, "case-insensitive substring of name or desc"),
        ],
        codes: &[],
        data: "array of Room",
    },
    EndpointDoc {
        path: "/room/list/his",
        tag: "room",
        summary: "My rooms, newest first, each with my membership",
        access: Access::User,
        params: &[
            p("type", "integer", false, "0 all (default), 1 owned, 2 not owned"),
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 10"),
        ],
        codes: &[],
        data: "array of Room with member; omitted when I have no rooms",
    },
    EndpointDoc {
        path: "/room/join",
        tag: "room",
        summary: "Join a public room (isLook 0) that needs no verification and has space; 907",
        access: Access::User,
        params: &[ROOM_ID, p("type", "integer", false, "ignored (default 2)")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/leave",
        tag: "room",
        summary: "Leave a room (as /room/member/delete of myself; the owner leaving dissolves it)",
        access: Access::User,
        params: &[ROOM_ID],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/member/update",
        tag: "room",
        summary: "Invite users (text or phones; 907 each; owner/admins only when allowInviteFriend is 0) or edit a member (nickname 901, remarkName, role, talkTime 906, sub)",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("text", "string", false, "JSON array of userIds to invite"),
            p("phones", "string", false, "seed 002: JSON array of phone numbers to invite"),
            p("userId", "integer", false, "member to edit (0 = me)"),
            p("nickname", "string", false, "my group nickname"),
            p("remarkName", "string", false, "remark"),
            p("role", "integer", false, "2..5, owner only"),
            p("talkTime", "long", false, "mute until (s), 0 = unmute; owner/admin"),
            p("sub", "integer", false, "0/1"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/member/delete",
        tag: "room",
        summary: "Remove a member (904) or leave (userId = me); the owner leaving dissolves the room (903)",
        access: Access::User,
        params: &[ROOM_ID, p("userId", "integer", true, "the member to remove")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/member/list",
        tag: "room",
        summary: "Every member of a room (join order), my friend remarks applied",
        access: Access::User,
        params: &[ROOM_ID, p("keyword", "string", false, "substring of nickname or remarkName")],
        codes: &[0],
        data: "array of Member",
    },
    EndpointDoc {
        path: "/room/member/get",
        tag: "room",
        summary: "One membership of a room",
        access: Access::User,
        params: &[ROOM_ID, p("userId", "integer", false, "0 = me (default)")],
        codes: &[0],
        data: "Member",
    },
    EndpointDoc {
        path: "/room/member/setOfflineNoPushMsg",
        tag: "room",
        summary: "My do-not-disturb (type 0) or pin (type 1, openTopChatTime) of a room; 802 to my devices",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("userId", "integer", true, "0 or me"),
            p("offlineNoPushMsg", "integer", false, "0 off (default), 1 on"),
            p("type", "integer", false, "0 do-not-disturb (default), 1 pin"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/set/admin",
        tag: "room",
        summary: "The owner makes a member admin (type 2) or revokes it (3); 913",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("touserId", "integer", true, "the member"),
            p("type", "integer", true, "2 set, 3 revoke"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/setInvisibleGuardian",
        tag: "room",
        summary: "The owner makes a member invisible (4) or guardian (5), or back (-1 / 0); 930",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("touserId", "integer", true, "the member"),
            p("type", "integer", true, "4, -1, 5 or 0"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/noticesPage",
        tag: "room",
        summary: "A page of a room's notices, newest first",
        access: Access::User,
        params: &[ROOM_ID, PAGE_INDEX, p("pageSize", "integer", false, "default 10")],
        codes: &[0],
        data: "PageVO {pageCount, pageData: [Notice], pageIndex, pageSize, start, total}",
    },
    EndpointDoc {
        path: "/room/notice/list",
        tag: "room",
        summary: "Every notice of a room, newest first",
        access: Access::User,
        params: &[ROOM_ID, p("keyword", "string", false, "ignored")],
        codes: &[0],
        data: "array of Notice",
    },
    EndpointDoc {
        path: "/room/notice/delete",
        tag: "room",
        summary: "Owner/admin deletes a notice",
        access: Access::User,
        params: &[ROOM_ID, p("noticeId", "string", true, "the notice")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/updateNotice",
        tag: "room",
        summary: "Owner/admin edits a notice; 934",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("noticeId", "string", true, "the notice"),
            p("noticeContent", "string", true, "new text"),
        ],
        codes: &[0],
        data: "Notice",
    },
    EndpointDoc {
        path: "/room/add/share",
        tag: "room",
        summary: "A member shares a file with the room (owner/admins only when allowUploadFile is 0); 401",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("type", "integer", true, "file type"),
            p("size", "long", true, "bytes"),
            p("userId", "integer", true, "required as in the reference, value ignored: the token decides"),
            p("url", "string", true, "file URL"),
            p("name", "string", true, "file name"),
        ],
        codes: &[0],
        data: "Share {shareId, roomId, name, url, time, userId, nickname, type, size}",
    },
    EndpointDoc {
        path: "/room/share/find",
        tag: "room",
        summary: "A room's shared files, newest first",
        access: Access::User,
        params: &[
            ROOM_ID,
            PAGE_INDEX,
            p("pageSize", "integer", false, "default 10"),
            p("userId", "integer", false, "only this uploader's (0 = all)"),
            p("time", "long", false, "ignored"),
        ],
        codes: &[0],
        data: "array of Share",
    },
    EndpointDoc {
        path: "/room/share/get",
        tag: "room",
        summary: "One shared file",
        access: Access::User,
        params: &[ROOM_ID, p("shareId", "string", true, "the share")],
        codes: &[0],
        data: "Share",
    },
    EndpointDoc {
        path: "/room/share/delete",
        tag: "room",
        summary: "Owner/admin deletes a shared file record; 402",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("shareId", "string", true, "the share"),
            p("userId", "integer", false, "ignored: the token decides"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/room/copyRoom",
        tag: "room",
        summary: "A new room owned by me with the visible members of one of my rooms; 907 each",
        access: Access::User,
        params: &[
            ROOM_ID,
            p("roomName", "string", false, "default: the original's name"),
            p("jid", "string", false, "32-hex jid for the copy (generated when absent)"),
        ],
        codes: &[0],
        data: "Room as built",
    },
    EndpointDoc {
        path: "/room/get/call",
        tag: "room",
        summary: "The room's call and video-meeting numbers",
        access: Access::User,
        params: &[ROOM_ID],
        codes: &[0],
        data: "{call, videoMeetingNo}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/room/add", add);
    r.add("/room/get", get);
    r.add("/room/getRoom", get_room);
    r.add("/room/update", update);
    r.add("/room/delete", delete);
    r.add("/room/transfer", transfer);
    r.add("/room/list", list);
    r.add("/room/list/his", list_his);
    r.add("/room/join", join);
    r.add("/room/leave", leave);
    r.add("/room/member/update", member_update);
    r.add("/room/member/delete", member_delete);
    r.add("/room/member/list", member_list);
    r.add("/room/member/get", member_get);
    r.add("/room/member/setOfflineNoPushMsg", set_offline_no_push);
    r.add("/room/set/admin", set_admin);
    r.add("/room/setInvisibleGuardian", set_invisible_guardian);
    r.add("/room/noticesPage", notices_page);
    r.add("/room/notice/list", notice_list);
    r.add("/room/notice/delete", notice_delete);
    r.add("/room/updateNotice", update_notice);
    r.add("/room/add/share", add_share);
    r.add("/room/share/find", share_find);
    r.add("/room/share/get", share_get);
    r.add("/room/share/delete", share_delete);
    r.add("/room/copyRoom", copy_room);
    r.add("/room/get/call", get_call);
}

/// Members to add from `text` (userIds) or seed 002's `phones`.
async fn listed_users(state: &AppState, p: &Params) -> Result<Option<Vec<i32>>, Error> {
    if let Some(text) = p.str("text") {
        return Ok(Some(rooms::parse_user_ids("text", text)?));
    }
    if let Some(phones) = p.str("phones") {
        return Ok(Some(rooms::resolve_phones(&state.ctx, phones).await?));
    }
    Ok(None)
}

async fn add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let r = NewRoom {
        jid: p.required("jid")?.to_string(),
        name: p.string("name"),
        desc: p.string("desc"),
        country_id: p.i32_or("countryId", 0)?,
        province_id: p.i32_or("provinceId", 0)?,
        city_id: p.i32_or("cityId", 0)?,
        area_id: p.i32_or("areaId", 0)?,
        longitude: p.f64("longitude")?.unwrap_or(0.0),
        latitude: p.f64("latitude")?.unwrap_or(0.0),
        category: p.i32_or("category", 0)?,
        members: listed_users(&state, &p).await?.unwrap_or_default(),
    };
    // The client's flags count only where the configuration says -1 (reference rule).
    let flags = RoomFlags {
        max_user_size: p.i32("maxUserSize")?,
        is_attrition_notice: p.i32("isAttritionNotice")?,
        is_look: p.i32("isLook")?,
        show_read: p.i32("showRead")?,
        is_need_verify: p.i32("isNeedVerify")?,
        show_member: p.i32("showMember")?,
        allow_send_card: p.i32("allowSendCard")?,
        allow_invite_friend: p.i32("allowInviteFriend")?,
        allow_upload_file: p.i32("allowUploadFile")?,
        allow_conference: p.i32("allowConference")?,
        allow_speak_course: p.i32("allowSpeakCourse")?,
    };
    Ok(Reply::data(
        rooms::create_with(&state.ctx, me, r, &flags).await?,
    ))
}

async fn get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(500, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        rooms::get(&state.ctx, me, p.required("roomId")?, page).await?,
    ))
}

async fn get_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::get_room(&state.ctx, me, p.required("roomId")?).await?,
    ))
}

async fn update(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let d = RoomUpdate::default();
    let u = RoomUpdate {
        room_name: p.string("roomName").unwrap_or_default(),
        notice: p.string("notice").unwrap_or_default(),
        desc: p.string("desc").unwrap_or_default(),
        subject: p.string("subject").unwrap_or_default(),
        show_read: p.i32_or("showRead", d.show_read)?,
        is_need_verify: p.i32_or("isNeedVerify", d.is_need_verify)?,
        is_look: p.i32_or("isLook", d.is_look)?,
        max_user_size: p.i32("maxUserSize")?,
        show_member: p.i32_or("showMember", d.show_member)?,
        allow_send_card: p.i32_or("allowSendCard", d.allow_send_card)?,
        allow_host_update: p.i32_or("allowHostUpdate", d.allow_host_update)?,
        chat_record_time_out: p.f64("chatRecordTimeOut")?.unwrap_or(0.0),
        allow_invite_friend: p.i32_or("allowInviteFriend", d.allow_invite_friend)?,
        allow_upload_file: p.i32_or("allowUploadFile", d.allow_upload_file)?,
        allow_conference: p.i32_or("allowConference", d.allow_conference)?,
        allow_speak_course: p.i32_or("allowSpeakCourse", d.allow_speak_course)?,
        is_attrition_notice: p.i32("isAttritionNotice")?,
        talk_time: p.i64("talkTime")?.unwrap_or(d.talk_time),
        s: p.i32_or("s", 0)?,
    };
    match rooms::update(&state.ctx, me, p.required("roomId")?, u).await? {
        Some(id) => Ok(Reply::data(json!({ "noticeId": id }))),
        None => Ok(Reply::ok()),
    }
}

async fn delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::delete(&state.ctx, me, p.required("roomId")?).await?;
    Ok(Reply::ok())
}

async fn transfer(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let to = p.i32_or("toUserId", 0)?;
    rooms::transfer(&state.ctx, me, p.required("roomId")?, to).await?;
    Ok(Reply::ok())
}

async fn list(state: web::Data<AppState>, p: Params) -> ApiResult {
    p.me()?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        rooms::list_public(&state.ctx, p.str("roomName"), page).await?,
    ))
}

async fn list_his(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    match rooms::list_mine(&state.ctx, me, p.i32_or("type", 0)?, page).await? {
        Some(v) => Ok(Reply::data(v)),
        None => Ok(Reply::ok()),
    }
}

async fn join(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::join(&state.ctx, me, p.required("roomId")?).await?;
    Ok(Reply::ok())
}

async fn leave(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::remove_member(&state.ctx, me, p.required("roomId")?, me).await?;
    Ok(Reply::ok())
}

async fn member_update(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let room_id = p.required("roomId")?;
    if let Some(ids) = listed_users(&state, &p).await? {
        rooms::invite(&state.ctx, me, room_id, ids).await?;
        return Ok(Reply::ok());
    }
    let e = MemberEdit {
        user_id: p.i32_or("userId", 0)?,
        nickname: p.get("nickname").map(str::to_string),
        remark_name: p.get("remarkName").map(str::to_string),
        role: p.i32("role")?,
        talk_time: p.i64("talkTime")?,
        sub: p.i32("sub")?,
    };
    rooms::edit_member(&state.ctx, me, room_id, e).await?;
    Ok(Reply::ok())
}

async fn member_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let room_id = p.required("roomId")?;
    let user_id = p.required_i32("userId")?;
    rooms::remove_member(&state.ctx, me, room_id, user_id).await?;
    Ok(Reply::ok())
}

async fn member_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::raw(
        rooms::member_list(&state.ctx, me, p.required("roomId")?, p.str("keyword")).await?,
    ))
}

async fn member_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::member_get(
            &state.ctx,
            me,
            p.required("roomId")?,
            p.i32_or("userId", 0)?,
        )
        .await?,
    ))
}

async fn set_offline_no_push(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::set_offline_no_push(
        &state.ctx,
        me,
        p.required("roomId")?,
        p.required_i32("userId")?,
        p.i32_or("offlineNoPushMsg", 0)?,
        p.i32_or("type", 0)?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn set_admin(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::set_admin(
        &state.ctx,
        me,
        p.required("roomId")?,
        p.required_i32("touserId")?,
        p.required_i32("type")?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn set_invisible_guardian(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::set_invisible_guardian(
        &state.ctx,
        me,
        p.required("roomId")?,
        p.required_i32("touserId")?,
        p.required_i32("type")?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn notices_page(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        rooms::notices_page(&state.ctx, me, p.required("roomId")?, page).await?,
    ))
}

async fn notice_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::notice_list(&state.ctx, me, p.required("roomId")?).await?,
    ))
}

async fn notice_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::notice_delete(
        &state.ctx,
        me,
        p.str("roomId").unwrap_or_default(),
        p.str("noticeId").unwrap_or_default(),
    )
    .await?;
    Ok(Reply::ok())
}

async fn update_notice(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::update_notice(
            &state.ctx,
            me,
            p.str("roomId").unwrap_or_default(),
            p.str("noticeId").unwrap_or_default(),
            p.str("noticeContent").unwrap_or_default(),
        )
        .await?,
    ))
}

async fn add_share(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let room_id = p.required("roomId")?;
    p.required_i32("userId")?;
    let s = NewShare {
        share_type: p.required_i32("type")?,
        size: p.i64("size")?.ok_or_else(|| Error::missing("size"))?,
        url: p.required("url")?.to_string(),
        name: p.required("name")?.to_string(),
    };
    Ok(Reply::data(
        rooms::add_share(&state.ctx, me, room_id, s).await?,
    ))
}

async fn share_find(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(10, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        rooms::share_find(
            &state.ctx,
            me,
            p.required("roomId")?,
            p.i32_or("userId", 0)?,
            page,
        )
        .await?,
    ))
}

async fn share_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::share_get(
            &state.ctx,
            me,
            p.required("roomId")?,
            p.required("shareId")?,
        )
        .await?,
    ))
}

async fn share_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    rooms::share_delete(
        &state.ctx,
        me,
        p.required("roomId")?,
        p.required("shareId")?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn copy_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::copy_room(
            &state.ctx,
            me,
            p.required("roomId")?,
            p.string("roomName"),
            p.string("jid"),
        )
        .await?,
    ))
}

async fn get_call(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(Reply::data(
        rooms::get_call(&state.ctx, me, p.required("roomId")?).await?,
    ))
}
