//! `TigaseController`: chat history, the conversation list, deletion and recall, read marks,
//! search, pinned dialogs and `/tigase/push` (spec/reference-server.md 3.5; seed 002 1.4,
//! 2.5–2.8; seed 003 for `/tigase/push`).

use actix_web::web;

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::history::{self, HistoryRequest, MucHistoryRequest, DEFAULT_PAGE_SIZE};
use crate::domain::Error;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/tigase/shiku_msgs",
        tag: "tigase",
        summary: "My copies of a single-chat conversation (both directions), newest first",
        access: Access::User,
        params: &[
            p("receiver", "integer", true, "the other party's userId"),
            p("startTime", "long", false, "ms, 0 = unbounded (server receive time)"),
            p("endTime", "long", false, "ms, 0 = unbounded"),
            p("pageIndex", "integer", false, "0-based, default 0"),
            p("pageSize", "integer", false, "default 20, at most 5000"),
            p("maxType", "integer", false, "only contentType < maxType; default 200, 0 = all"),
        ],
        codes: &[],
        data: "array of shiku_msgs rows {_id, message, body (both the message JSON), direction (0 sent, 1 received), sender (me), receiver, sender_jid, receiver_jid, ts(ms), contentType, messageId, timeSend (as sent), deleteTime, isRead, isEncrypt, content}",
    },
    EndpointDoc {
        path: "/tigase/shiku_muc_msgs",
        tag: "tigase",
        summary: "A room's history (members only), newest first, without messages I deleted for myself",
        access: Access::User,
        params: &[
            p("roomId", "string", true, "the room's jid (32 hex), not its id"),
            p("startTime", "long", false, "ms, 0 = unbounded; when set, never before I joined"),
            p("endTime", "long", false, "ms, 0 = unbounded"),
            p("pageIndex", "integer", false, "0-based, default 0"),
            p("pageSize", "integer", false, "default 20, at most 5000"),
            p("maxType", "integer", false, "only contentType < maxType; default 0 = all"),
        ],
        codes: &[0],
        data: "array of mucmsg rows {_id, message, body (both the message JSON), room_jid, sender_jid, sender, ts(ms), contentType, messageId, timeSend, deleteTime, content, readCount}; resultMsg \"\"",
    },
    EndpointDoc {
        path: "/tigase/getLastChatList",
        tag: "tigase",
        summary: "My conversation list (single chats and my rooms), newest first",
        access: Access::User,
        params: &[
            p("startTime", "long", false, "ms, 0 = unbounded"),
            p("endTime", "long", false, "ms, 0 = unbounded"),
            p("pageSize", "integer", false, "0 = all (default)"),
            p("pageIndex", "integer", false, "ignored, as in the reference"),
        ],
        codes: &[],
        data: "array of shiku_lastChats rows {_id, type, messageId, timeSend, content, userId, jid, isRoom, isEncrypt, encryptType, from, to, fromUserName, toUserName, ts}",
    },
    EndpointDoc {
        path: "/tigase/getMessage",
        tag: "tigase",
        summary: "My copy of one message",
        access: Access::User,
        params: &[
            p("messageId", "string", true, "message id"),
            p("type", "integer", false, "1 single chat (default); 2 group chat (members only)"),
            p("roomJid", "string", false, "room jid (type 2)"),
        ],
        codes: &[0],
        data: "one shiku_msgs row (as /tigase/shiku_msgs), or for type 2 one mucmsg row (as /tigase/shiku_muc_msgs)",
    },
    EndpointDoc {
        path: "/tigase/deleteMsg",
        tag: "tigase",
        summary: "Delete my copies (delete=1) or recall messages I sent from both parties (delete=2); in a room (type 2) delete=1 hides them for me and delete=2 recalls them for everyone (sender or owner/admins); the conversation list is re-pointed",
        access: Access::User,
        params: &[
            p("messageId", "string", true, "comma-separated message ids (at most 1000)"),
            p("type", "integer", false, "1 single chat (default); 2 group chat"),
            p("delete", "integer", false, "1 delete for me (default), 2 recall"),
            p("roomJid", "string", false, "room jid (type 2)"),
            p("companyMpId", "string", false, "ignored: the token decides who deletes"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/emptyMyMsg",
        tag: "tigase",
        summary: "Clear my copies with one user (type 0 + toUserId) or all of them (type 1)",
        access: Access::User,
        params: &[
            p("toUserId", "integer", false, "the other party; 0 = everybody"),
            p("type", "integer", false, "0 (default) one conversation, 1 all"),
        ],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/changeRead",
        tag: "tigase",
        summary: "Mark messages I received as read (my copy and the sender's)",
        access: Access::User,
        params: &[p("messageId", "string", true, "comma-separated message ids")],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/delLastChatList",
        tag: "tigase",
        summary: "Remove a conversation from my list (a room's: its messages so far are hidden for me, the shared row stays)",
        access: Access::User,
        params: &[
            p("jid", "string", true, "the other party's userId, or the room jid"),
            p("isRoom", "integer", false, "0 (default) user; 1 room (members only)"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/search",
        tag: "tigase",
        summary: "Search my single-chat messages, my friends (nickname or remark), my rooms (name) and my rooms' messages by substring",
        access: Access::User,
        params: &[p("content", "string", true, "text to find (any script, at most 100 characters)")],
        codes: &[],
        data: "{shikuMsgs:[shiku_msgs rows], friend:[User objects], mucmsgs:[mucmsg rows], group:[Room with member]}",
    },
    EndpointDoc {
        path: "/tigase/dialog/add",
        tag: "tigase",
        summary: "Pin a conversation (stick_dialog); isAdaptive=1 also sets the friend's (or my room membership's) openTopChatTime",
        access: Access::User,
        params: &[
            p("jid", "string", true, "friend userId, or room jid"),
            p("isAdaptive", "integer", false, "0 (default) or 1"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/dialog/delete",
        tag: "tigase",
        summary: "Unpin a conversation; isAdaptive=1 also clears the friend's (or my room membership's) openTopChatTime",
        access: Access::User,
        params: &[
            p("jid", "string", true, "friend userId, or room jid"),
            p("isAdaptive", "integer", false, "0 (default) or 1"),
        ],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/tigase/push",
        tag: "tigase",
        summary: "Send a message body from me to several users through the message path",
        access: Access::User,
        params: &[
            p("text", "string", true, "JSON array of userIds, e.g. [100102,100174] (at most 500)"),
            p("body", "string", true, "message JSON, e.g. {\"type\":1,\"content\":\"hi\"}"),
        ],
        codes: &[0],
        data: "array of {toUserId, resultCode, messageId | resultMsg}",
    },
    EndpointDoc {
        path: "/tigase/OnlineState",
        tag: "tigase",
        summary: "Report my online state (seed 003; Tigase's hook in the reference). The server knows presence from live sessions, so the report is not stored: answers the state it holds",
        access: Access::User,
        params: &[
            p("userId", "integer", false, "my userId (another user's is refused); default me"),
            p("OnlineState", "integer", true, "0 offline, 1 online"),
        ],
        codes: &[0, 1010101],
        data: "{userId, onlineState (0/1, as the server knows it)}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/tigase/shiku_msgs", shiku_msgs);
    r.add("/tigase/shiku_muc_msgs", shiku_muc_msgs);
    r.add("/tigase/getLastChatList", last_chat_list);
    r.add("/tigase/getMessage", get_message);
    r.add("/tigase/deleteMsg", delete_msg);
    r.add("/tigase/emptyMyMsg", empty_my_msg);
    r.add("/tigase/changeRead", change_read);
    r.add("/tigase/delLastChatList", del_last_chat);
    r.add("/tigase/search", search);
    r.add("/tigase/dialog/add", dialog_add);
    r.add("/tigase/dialog/delete", dialog_delete);
    r.add("/tigase/push", push);
    r.add("/tigase/OnlineState", online_state);
}

async fn shiku_msgs(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(DEFAULT_PAGE_SIZE as u32, history::MAX_PAGE_SIZE as u32)?;
    let r = HistoryRequest {
        receiver: p.required_i32("receiver")?,
        start_time: p.i64("startTime")?.unwrap_or(0),
        end_time: p.i64("endTime")?.unwrap_or(0),
        page_index: u64::from(page.index),
        page_size: u64::from(page.size),
        max_type: p.i32_or("maxType", 200)?,
    };
    let data = history::history(&state.ctx, me, &r).await?;
    // Seed 002's sample has no resultMsg here (its group history has ""), and seed 002 wins
    // over the repo, which passes "".
    Ok(Reply::raw(data))
}

async fn shiku_muc_msgs(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(DEFAULT_PAGE_SIZE as u32, history::MAX_PAGE_SIZE as u32)?;
    let r = MucHistoryRequest {
        jid: p.required("roomId")?.to_string(),
        start_time: p.i64("startTime")?.unwrap_or(0),
        end_time: p.i64("endTime")?.unwrap_or(0),
        page_index: u64::from(page.index),
        page_size: u64::from(page.size),
        max_type: p.i32_or("maxType", 0)?,
    };
    let data = history::muc_history(&state.ctx, me, &r).await?;
    Ok(Reply::raw_with("", data))
}

async fn last_chat_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let data = history::last_chat_list(
        &state.ctx,
        me,
        p.i64("startTime")?.unwrap_or(0),
        p.i64("endTime")?.unwrap_or(0),
        p.i64("pageSize")?.unwrap_or(0).max(0) as u64,
    )
    .await?;
    Ok(Reply::raw(data))
}

async fn get_message(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let id = p.required("messageId")?.trim();
    let data = match (p.i32_or("type", 1)?, p.str("roomJid")) {
        (2, Some(jid)) => history::get_group_message(&state.ctx, me, jid, id).await?,
        (t, _) => history::get_message(&state.ctx, me, t, id).await?,
    };
    Ok(Reply::data(data))
}

async fn delete_msg(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let ids = history::parse_ids("messageId", p.required("messageId")?)?;
    match p.i32_or("type", 1)? {
        1 => history::delete_messages(&state.ctx, me, p.i32_or("delete", 1)?, &ids).await?,
        2 => {
            let jid = p.required("roomJid")?;
            history::delete_group_messages(&state.ctx, me, jid, p.i32_or("delete", 1)?, &ids)
                .await?
        }
        _ => return Err(Error::invalid("type", "应为 1 (单聊) 或 2 (群聊)")),
    }
    Ok(Reply::ok())
}

async fn empty_my_msg(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    history::empty_my_messages(
        &state.ctx,
        me,
        p.i32_or("toUserId", 0)?,
        p.i32_or("type", 0)?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn change_read(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let ids = history::parse_ids("messageId", p.required("messageId")?)?;
    history::change_read(&state.ctx, me, &ids).await?;
    Ok(Reply::ok())
}

async fn del_last_chat(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    history::delete_last_chat(&state.ctx, me, p.required("jid")?, p.i32_or("isRoom", 0)?).await?;
    Ok(Reply::ok())
}

async fn search(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let data = history::search(&state.ctx, me, p.required("content")?).await?;
    Ok(Reply::data(data))
}

async fn dialog_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    history::add_dialog(
        &state.ctx,
        me,
        p.required("jid")?,
        p.i32_or("isAdaptive", 0)?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn dialog_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    history::delete_dialog(
        &state.ctx,
        me,
        p.required("jid")?,
        p.i32_or("isAdaptive", 0)?,
    )
    .await?;
    Ok(Reply::ok())
}

async fn push(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let recipients = history::parse_recipients(p.required("text")?)?;
    let body = history::parse_body("body", p.required("body")?)?;
    let data = history::push(&state.ctx, me, &recipients, body).await?;
    Ok(Reply::data(data))
}

async fn online_state(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = crate::domain::users::report_online_state(
        &state.ctx,
        p.me()?,
        p.i32_or("userId", 0)?,
        p.required_i32("OnlineState")?,
    )
    .await?;
    Ok(Reply::data(data))
}
