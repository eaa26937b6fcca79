//! `AdminController`: the admin console API (spec/reference-server.md 2.6, 3.7; issue 8) and the
//! part the task-management system uses (seed 002 3.2). Every answer is the JSON envelope (the
//! reference's HTML views and `alert` scripts are not reproduced); lists are 1-based
//! `page`/`limit` pages answered as the reference's `success(PageResult)`: the rows in `data`,
//! `count` (all matching rows) and `total` (0.0) beside them in the envelope.
//!
//! Who may call: `/console/login` is open; everything else takes a console token (roles 1, 4,
//! 5, 6, 7; what each may do is `domain::console::Need`) or, for sending messages and keeping
//! users in sync, the configured integration key as `access_token` (see `caller`).

use actix_web::{web, HttpRequest};
use serde_json::{json, Map};

use super::caller::Caller;
use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::documents::User;
use crate::domain::console::{self as rules, Actor, ConsolePage, Need, UserFields, UserRef};
use crate::domain::history::{ms_bound, parse_body};
use crate::domain::messages::{self, Outgoing, Target};
use crate::domain::rooms;
use crate::domain::util::now_millis;
use crate::domain::{Code, Ctx, Error};
use crate::store::{ChatLogQuery, RoomLogQuery};

const PAGE: ParamDoc = p(
    "page",
    "integer",
    false,
    "1-based page (default 1; pageIndex, 0-based, is accepted too)",
);
const LIMIT: ParamDoc = p(
    "limit",
    "integer",
    false,
    "rows per page (pageSize accepted too; at most 1000)",
);
const USER_ID: ParamDoc = p("userId", "integer", false, "the user (or phone)");
const PHONE: ParamDoc = p(
    "phone",
    "string",
    false,
    "the user's phone instead of userId (telephone accepted too)",
);
const AREA: ParamDoc = p(
    "areaCode",
    "string",
    false,
    "country code of phone, default 86",
);
const USER_FIELDS: [ParamDoc; 9] = [
    p(
        "telephone",
        "string",
        false,
        "national phone number (required to create)",
    ),
    p("areaCode", "string", false, "country code, default 86"),
    p("nickname", "string", false, "nickname"),
    p(
        "password",
        "string",
        false,
        "plain password, hashed by the server (required to create)",
    ),
    p("sex", "integer", false, "0 or 1"),
    p("birthday", "long", false, "seconds"),
    p("userType", "integer", false, "0–3"),
    p("description", "string", false, "description"),
    p("name", "string", false, "real name"),
];

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/console/login",
        tag: "console",
        summary: "Console login (POST; account = national phone, password = md5, roles 1/4/5/6/7, googlecode when TOTP is on). GET answers where the web console is",
        access: Access::Open,
        params: &[
            p("account", "string", true, "national phone number (plain)"),
            p("password", "string", true, "md5 of the password"),
            p("areaCode", "string", false, "country code, default 86"),
            p("googlecode", "string", false, "6-digit TOTP code, required when the admin enabled it"),
        ],
        codes: &[0],
        data: "{access_Token, access_token, account, adminId, apiKey, expires_in, nickname, registerInviteCode, role, totpEnabled, userId}",
    },
    EndpointDoc {
        path: "/console/logout",
        tag: "console",
        summary: "Ends this console session (the token stops working everywhere)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/console/me",
        tag: "console",
        summary: "The calling admin: userId, role, nickname, telephone, totpEnabled (any console role)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "{userId, role, nickname, telephone, totpEnabled}",
    },
    EndpointDoc {
        path: "/console/totp/setup",
        tag: "console",
        summary: "Starts enabling the TOTP second factor for the calling admin: a new secret and its otpauth:// URL",
        access: Access::Console,
        params: &[],
        codes: &[0],
        data: "{secret, otpauthUrl, enabled:false}",
    },
    EndpointDoc {
        path: "/console/totp/enable",
        tag: "console",
        summary: "Turns TOTP on after setup, confirmed with a current code",
        access: Access::Console,
        params: &[p("code", "string", true, "6-digit code from the authenticator")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/totp/disable",
        tag: "console",
        summary: "Turns TOTP off, confirmed with a current code",
        access: Access::Console,
        params: &[p("code", "string", true, "6-digit code from the authenticator")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/userList",
        tag: "console",
        summary: "Users, createTime descending, each with its loginLog (any console role)",
        access: Access::Console,
        params: &[
            PAGE,
            LIMIT,
            p("keyWorld", "string", false, "nickname/phone substring, or an exact userId when numeric (keyword accepted too)"),
            p("onlinestate", "integer", false, "0 offline / 1 online"),
            p("startDate", "string", false, "createTime from (yyyy-MM-dd or seconds)"),
            p("endDate", "string", false, "createTime to, inclusive (yyyy-MM-dd or seconds)"),
            p("userType", "integer", false, "only this userType"),
        ],
        codes: &[],
        data: "[User without secrets + loginLog] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/updateUser",
        tag: "console",
        summary: "userId=0 (or absent, with no phone of an existing user): creates a user; otherwise updates it; without fields shows it (role 5/6 or integration key; admins only by role 6)",
        access: Access::Console,
        params: &[
            USER_ID,
            p("phone", "string", false, "address the user by phone instead of userId"),
            USER_FIELDS[0],
            USER_FIELDS[1],
            USER_FIELDS[2],
            USER_FIELDS[3],
            USER_FIELDS[4],
            USER_FIELDS[5],
            USER_FIELDS[6],
            USER_FIELDS[7],
            USER_FIELDS[8],
        ],
        codes: &[0, 1040101],
        data: "{userId, created} or the user",
    },
    EndpointDoc {
        path: "/console/useralladd",
        tag: "console",
        summary: "Creates the user with this phone, or updates it when the phone is registered (task-system sync; role 5/6 or integration key)",
        access: Access::Console,
        params: &USER_FIELDS,
        codes: &[0],
        data: "{userId, created}",
    },
    EndpointDoc {
        path: "/console/deleteUser",
        tag: "console",
        summary: "Deletes users for good: 512 to their friends, out of their rooms (owned rooms dissolved), sessions ended (role 5/6 or integration key)",
        access: Access::Console,
        params: &[
            p("userId", "string", false, "comma-separated userIds"),
            p("phone", "string", false, "comma-separated phones instead"),
            AREA,
        ],
        codes: &[0, 1040101],
        data: "{deleted:[userId]}",
    },
    EndpointDoc {
        path: "/console/changeStatus",
        tag: "console",
        summary: "Locks (status -1) or unlocks (1) a user; locking ends their tokens and live sessions (role 5/6 or integration key)",
        access: Access::Console,
        params: &[USER_ID, PHONE, AREA, p("status", "integer", true, "-1 lock, 1 unlock")],
        codes: &[0, 1040101],
        data: "{userId, status}",
    },
    EndpointDoc {
        path: "/console/restPwd",
        tag: "console",
        summary: "Resets a user's password (default 123456 as the reference) and ends their sessions (role 5/6)",
        access: Access::Console,
        params: &[USER_ID, PHONE, AREA, p("password", "string", false, "new plain password")],
        codes: &[0, 1040101],
        data: "{userId}",
    },
    EndpointDoc {
        path: "/console/loginBlocks",
        tag: "console",
        summary: "Accounts and addresses with failed password attempts counted by the login limiter, the 1,000 most recent first (role 5/6)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "[{key (account:user:<id> | account:unknown:<typed> | address:<ip>), userId, failures, retrySecs, blocked, lastSecsAgo}]",
    },
    EndpointDoc {
        path: "/console/loginBlocks/clear",
        tag: "console",
        summary: "Clears the login limiter's count of one key, of a user's account, or (neither given) of everything (role 5/6)",
        access: Access::Console,
        params: &[
            p("key", "string", false, "a key as /console/loginBlocks lists it"),
            p("userId", "integer", false, "the user whose account count is cleared"),
        ],
        codes: &[],
        data: "{cleared: 1 | 0 (no such key) | -1 (everything)}",
    },
    EndpointDoc {
        path: "/console/initSysUser",
        tag: "console",
        summary: "Recreates the missing system users 10000 and 10005 (role 5/6)",
        access: Access::Console,
        params: &[p("userId", "integer", false, "0 (both), 10000 or 10005")],
        codes: &[],
        data: "{created:[userId]}",
    },
    EndpointDoc {
        path: "/console/roomList",
        tag: "console",
        summary: "Rooms, newest first (any console role)",
        access: Access::Console,
        params: &[
            PAGE,
            LIMIT,
            p("keyWorld", "string", false, "name/description substring (roomName accepted too)"),
            p("leastNumbers", "integer", false, "only rooms with more members than this"),
        ],
        codes: &[],
        data: "[Room] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/getRoomMember",
        tag: "console",
        summary: "A room with all its members and notices (any console role)",
        access: Access::Console,
        params: &[p("roomId", "string", true, "room id")],
        codes: &[0],
        data: "Room with members and notices",
    },
    EndpointDoc {
        path: "/console/deleteRoom",
        tag: "console",
        summary: "Dissolves a room (903 to members and the room) (role 5/6)",
        access: Access::Console,
        params: &[p("roomId", "string", true, "room id")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/deleteMember",
        tag: "console",
        summary: "Removes members other than the owner (904 each) (role 5/6)",
        access: Access::Console,
        params: &[
            p("roomId", "string", true, "room id"),
            p("userId", "string", true, "comma-separated userIds"),
        ],
        codes: &[0],
        data: "{removed:[userId]}",
    },
    EndpointDoc {
        path: "/console/inviteJoinRoom",
        tag: "console",
        summary: "Adds users to a room (907 each, from 后台管理员) (role 5/6)",
        access: Access::Console,
        params: &[
            p("roomId", "string", true, "room id"),
            p("userIds", "string", true, "comma-separated userIds"),
        ],
        codes: &[0],
        data: "{added:[userId]}",
    },
    EndpointDoc {
        path: "/console/updateRoom",
        tag: "console",
        summary: "Locks (s=-1) or unlocks (s=1) a room, 931 into the room; a locked room refuses member changes (role 5/6)",
        access: Access::Console,
        params: &[
            p("roomId", "string", true, "room id"),
            p("s", "integer", true, "-1 lock, 1 unlock"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/chat_logs_all",
        tag: "console",
        summary: "Single-chat messages (sender copies, 10005 left out), newest first, with nicknames and content (any console role)",
        access: Access::Console,
        params: &[
            PAGE,
            LIMIT,
            p("startTime", "long", false, "ts from, ms (seconds accepted)"),
            p("endTime", "long", false, "ts to, ms (seconds accepted)"),
            p("sender", "integer", false, "sender userId"),
            p("receiver", "integer", false, "receiver userId"),
            p("keyWord", "string", false, "content substring"),
        ],
        codes: &[],
        data: "[shiku_msgs row + isEncrypt, content, sender_nickname, receiver_nickname] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/chat_logs_all/del",
        tag: "console",
        summary: "Deletes both copies of the single-chat messages matching the filters; no filter needs all=1 (role 5/6)",
        access: Access::Console,
        params: &[
            p("startTime", "long", false, "ts from, ms"),
            p("endTime", "long", false, "ts to, ms"),
            p("sender", "integer", false, "sender userId"),
            p("receiver", "integer", false, "receiver userId"),
            p("keyWord", "string", false, "content substring"),
            p("all", "integer", false, "1: delete everything when no filter is given"),
        ],
        codes: &[],
        data: "{deleted}",
    },
    EndpointDoc {
        path: "/console/deleteChatMsgs",
        tag: "console",
        summary: "Deletes single-chat rows by _id, or type 1 (older than 30 days) / type 2 (keep the newest 100000) (role 5/6)",
        access: Access::Console,
        params: &[
            p("msgId", "string", false, "comma-separated row _ids"),
            p("type", "integer", false, "1 or 2 when msgId is absent"),
        ],
        codes: &[],
        data: "{deleted}",
    },
    EndpointDoc {
        path: "/console/groupchat_logs_all",
        tag: "console",
        summary: "A room's messages, newest first, with content and fromUserName (any console role)",
        access: Access::Console,
        params: &[
            p("room_jid_id", "string", true, "room jid"),
            PAGE,
            LIMIT,
            p("startTime", "long", false, "ts from, ms"),
            p("endTime", "long", false, "ts to, ms"),
            p("keyWord", "string", false, "content substring"),
        ],
        codes: &[0],
        data: "[mucmsg row + isEncrypt, content, fromUserName] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/groupchat_logs_all/del",
        tag: "console",
        summary: "Deletes a room's messages by row _id (role 5/6)",
        access: Access::Console,
        params: &[
            p("room_jid_id", "string", true, "room jid"),
            p("msgId", "string", true, "comma-separated row _ids"),
        ],
        codes: &[0],
        data: "{deleted}",
    },
    EndpointDoc {
        path: "/console/roomMsgDetail",
        tag: "console",
        summary: "A room's text messages (contentType 1), oldest first (any console role)",
        access: Access::Console,
        params: &[p("room_jid_id", "string", true, "room jid"), PAGE, p("limit", "integer", false, "default 50")],
        codes: &[0],
        data: "[mucmsg row] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/pushToAll",
        tag: "console",
        summary: "Sends a message to every user in batches on a background task; answers at once with a jobId (role 5/6)",
        access: Access::Console,
        params: &[
            p("fromUserId", "integer", true, "sender userId"),
            p("body", "string", true, "message JSON, e.g. {\"type\":1,\"content\":\"…\"}"),
        ],
        codes: &[0, 1040101, 1040304],
        data: "{jobId}",
    },
    EndpointDoc {
        path: "/console/pushToAll/status",
        tag: "console",
        summary: "Progress of a pushToAll job (role 5/6)",
        access: Access::Console,
        params: &[p("jobId", "string", true, "from /console/pushToAll")],
        codes: &[0],
        data: "{jobId, done, sent, failed}",
    },
    EndpointDoc {
        path: "/console/userStatus",
        tag: "console",
        summary: "Online users now and sampled every 5 minutes over the last hours (any console role)",
        access: Access::Console,
        params: &[p("hours", "integer", false, "how far back, default 24, at most 2160")],
        codes: &[],
        data: "{onlineNow, userCount, intervalSecs, samples:[{time (s), count}]}",
    },
    EndpointDoc {
        path: "/console/summary",
        tag: "console",
        summary: "Dashboard numbers: users, online now, rooms, single-chat messages today (any console role)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "{userCount, onlineNow, roomCount, messagesToday}",
    },
    EndpointDoc {
        path: "/console/adminList",
        tag: "console",
        summary: "Console accounts with role and status (role 5/6)",
        access: Access::Console,
        params: &[PAGE, LIMIT],
        codes: &[],
        data: "[{userId, role, status, telephone, nickname, createTime, lastLoginTime, totpEnabled}] (a page: count and total beside data in the envelope)",
    },
    EndpointDoc {
        path: "/console/addAdmin",
        tag: "console",
        summary: "Gives a user a console role; creates the user when the phone is new and a password is given (role 6)",
        access: Access::Console,
        params: &[
            USER_ID,
            p("telephone", "string", false, "the user's phone (phone accepted too)"),
            AREA,
            p("role", "integer", false, "1, 4, 5 (default), 6 or 7"),
            p("password", "string", false, "plain password, to create a new user"),
            p("nickname", "string", false, "nickname of a new user"),
        ],
        codes: &[0, 1040101],
        data: "{userId}",
    },
    EndpointDoc {
        path: "/console/modifyAdmin",
        tag: "console",
        summary: "Changes an admin's role and/or status (1 enabled, -1 disabled); never one's own, never the last super admin (role 6)",
        access: Access::Console,
        params: &[
            p("userId", "integer", true, "the admin"),
            p("role", "integer", false, "1, 4, 5, 6 or 7"),
            p("status", "integer", false, "1 or -1"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/delAdmin",
        tag: "console",
        summary: "Removes a user's console roles (the user stays) (role 6)",
        access: Access::Console,
        params: &[p("userId", "integer", true, "the admin")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/console/config",
        tag: "console",
        summary: "The /config values the console may set, as served now, and which are set here (role 5/6)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "{values:{key: value}, overridden:[key]}",
    },
    EndpointDoc {
        path: "/console/config/set",
        tag: "console",
        summary: "Sets /config values (keys as /config names them; '-' restores the file's value); saved in the store, applied without restart (role 6)",
        access: Access::Console,
        params: &[p("<key>", "string", false, "any settable /config key, e.g. isOpenRegister=0, apiUrl=…")],
        codes: &[],
        data: "as /console/config",
    },
    EndpointDoc {
        path: "/console/clientConfig",
        tag: "console",
        summary: "The reference keeps the client's settings (URLs, versions, switches) in a clientConfig document beside config; here both are the one set of /config values: as /console/config (role 5/6)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "{values:{key: value}, overridden:[key]}",
    },
    EndpointDoc {
        path: "/console/clientConfig/set",
        tag: "console",
        summary: "Sets /config values as /console/config/set does (the client's settings and the server's are one set here; role 6)",
        access: Access::Console,
        params: &[p("<key>", "string", false, "any settable /config key, e.g. XMPPHost=…, androidVersion=…")],
        codes: &[],
        data: "as /console/config",
    },
    EndpointDoc {
        path: "/console/addAllUser",
        tag: "console",
        summary: "The reference copied every user into Tigase's tig_users; this XMPP service authenticates against the users themselves, so nothing is copied (role 5/6)",
        access: Access::Console,
        params: &[],
        codes: &[],
        data: "{userCount (users that can log in over XMPP), copied: 0}",
    },
    EndpointDoc {
        path: "/user/getUserStatusCount",
        tag: "console",
        summary: "Online or offline user counts over time, from the 5-minute online samples, oldest first (any console role)",
        access: Access::Console,
        params: &[
            p("startData", "string", false, "yyyy-MM-dd (local) or seconds; default 24 hours ago"),
            p("endData", "string", false, "yyyy-MM-dd (the whole day) or seconds; default now; at most 90 days after startData"),
            p("type", "integer", false, "1 online, 0 offline (users now less those online then); default 0"),
            p("sign", "string", false, "accepted, ignored (samples are 5 minutes apart)"),
            p("pageIndex", "integer", false, "default 0"),
            p("pageSize", "integer", false, "default 288 (a day), at most 2000"),
        ],
        codes: &[1010101],
        data: "array of {time (s), count, type}",
    },
    EndpointDoc {
        path: "/console/oneSendOne",
        tag: "console",
        summary: "Task-management push: a single-chat message from the user with sendPhone to the user with toUserPhone (role 5/6 or integration key)",
        access: Access::Console,
        params: &[
            p("type", "integer", true, "message type: 1 text, or 2 image, 3 voice, 5 gif, 6 video, 9 file (content = URL)"),
            p("content", "string", true, "message content"),
            p("sendPhone", "string", true, "sender's phone (national number; areaCode + phone is tried first)"),
            p("toUserPhone", "string", true, "receiver's phone"),
            p("areaCode", "string", false, "country code of both phones, default 86"),
        ],
        codes: &[0, 1030101, 1030102, 1030103, 1040101, 1040304],
        data: "{messageId}",
    },
    EndpointDoc {
        path: "/console/sendMessage",
        tag: "console",
        summary: "Send a text message from one user to another (from is required: never sent on anyone else's behalf; role 5/6 or integration key)",
        access: Access::Console,
        params: &[
            p("from", "integer", true, "sender userId"),
            p("to", "integer", true, "receiver userId"),
            p("body", "string", true, "the text (content of a type-1 message)"),
            p("count", "integer", false, "ignored (the reference's fan-out from the receiver's friends is not offered)"),
        ],
        codes: &[0, 1030101, 1030102, 1030103, 1040101, 1040304],
        data: "{messageId}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/console/login", login);
    r.add("/console/logout", logout);
    r.add("/console/me", me);
    r.add("/console/totp/setup", totp_setup);
    r.add("/console/totp/enable", totp_enable);
    r.add("/console/totp/disable", totp_disable);
    r.add("/console/userList", user_list);
    r.add("/console/updateUser", update_user);
    r.add("/console/useralladd", user_all_add);
    r.add("/console/deleteUser", delete_user);
    r.add("/console/changeStatus", change_status);
    r.add("/console/restPwd", reset_password);
    r.add("/console/loginBlocks", login_blocks);
    r.add("/console/loginBlocks/clear", clear_login_blocks);
    r.add("/console/initSysUser", init_sys_user);
    r.add("/console/roomList", room_list);
    r.add("/console/getRoomMember", get_room_member);
    r.add("/console/deleteRoom", delete_room);
    r.add("/console/deleteMember", delete_member);
    r.add("/console/inviteJoinRoom", invite_join_room);
    r.add("/console/updateRoom", update_room);
    r.add("/console/chat_logs_all", chat_logs_all);
    r.add("/console/chat_logs_all/del", chat_logs_del);
    r.add("/console/deleteChatMsgs", delete_chat_msgs);
    r.add("/console/groupchat_logs_all", group_logs_all);
    r.add("/console/groupchat_logs_all/del", group_logs_del);
    r.add("/console/roomMsgDetail", room_msg_detail);
    r.add("/console/pushToAll", push_to_all);
    r.add("/console/pushToAll/status", push_status);
    r.add("/console/userStatus", user_status);
    r.add("/console/summary", summary);
    r.add("/console/adminList", admin_list);
    r.add("/console/addAdmin", add_admin);
    r.add("/console/modifyAdmin", modify_admin);
    r.add("/console/delAdmin", del_admin);
    r.add("/console/config", config_get);
    r.add("/console/config/set", config_set);
    r.add("/console/clientConfig", config_get);
    r.add("/console/clientConfig/set", config_set);
    r.add("/console/addAllUser", add_all_user);
    r.add("/user/getUserStatusCount", user_status_count);
    r.add("/console/oneSendOne", one_send_one);
    r.add("/console/sendMessage", send_message);
}

/// The acting admin or integration, refused with 1030103 unless it may do what `need` says.
pub async fn actor(ctx: &Ctx, p: &Params, need: Need) -> Result<Actor, Error> {
    let a = match p.caller() {
        Caller::Integration => Actor::Integration,
        Caller::Console(uid) => {
            let role = rules::admin_role(ctx, *uid)
                .await?
                .ok_or(Error::Code(Code::AuthFailed))?;
            Actor::Admin {
                user_id: *uid,
                role,
            }
        }
        _ => return Err(Error::Code(Code::TokenMissing)),
    };
    a.require(need)?;
    Ok(a)
}

/// 1-based `page` (or 0-based `pageIndex`) and `limit` (or `pageSize`).
pub fn console_page(p: &Params, default_limit: u64) -> Result<ConsolePage, Error> {
    let page = match p.i64("page")? {
        Some(n) if n < 0 => {
            return Err(Error::invalid("page", "不能为负数 (must not be negative)"))
        }
        Some(n) => n.max(1) as u64,
        None => match p.i64("pageIndex")? {
            Some(n) if n < 0 => {
                return Err(Error::invalid(
                    "pageIndex",
                    "不能为负数 (must not be negative)",
                ))
            }
            Some(n) => n as u64 + 1,
            None => 1,
        },
    };
    let (name, limit) = match p.i64("limit")? {
        Some(l) => ("limit", Some(l)),
        None => ("pageSize", p.i64("pageSize")?),
    };
    let limit = match limit {
        Some(l) if l < 0 => return Err(Error::invalid(name, "不能为负数 (must not be negative)")),
        Some(0) | None => default_limit,
        Some(l) => (l as u64).min(1000),
    };
    Ok(ConsolePage { page, limit })
}

/// The user a request addresses: `userId` (non-zero), else `phone`/`telephone` with `areaCode`.
fn user_ref(p: &Params, phone_names: &[&str]) -> Result<Option<UserRef>, Error> {
    if let Some(id) = p.i32("userId")?.filter(|id| *id != 0) {
        return Ok(Some(UserRef::Id(id)));
    }
    for name in phone_names {
        if let Some(phone) = p.str(name) {
            return Ok(Some(UserRef::Phone {
                phone: phone.to_string(),
                area_code: area_code(p)?,
            }));
        }
    }
    Ok(None)
}

fn required_user_ref(p: &Params) -> Result<UserRef, Error> {
    user_ref(p, &["phone", "telephone"])?.ok_or_else(|| Error::missing("userId"))
}

fn area_code(p: &Params) -> Result<String, Error> {
    let a = p.str("areaCode").unwrap_or("86").trim();
    let a = a.strip_prefix('+').unwrap_or(a);
    if a.is_empty() {
        return Ok("86".into());
    }
    if a.len() > 6 || !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("areaCode", "应为国家代码 (digits)"));
    }
    Ok(a.to_string())
}

fn user_fields(p: &Params) -> Result<UserFields, Error> {
    Ok(UserFields {
        telephone: p.string("telephone"),
        area_code: p.string("areaCode"),
        nickname: p.string("nickname"),
        password: p.string("password"),
        sex: p.i32("sex")?,
        birthday: p.i64("birthday")?,
        user_type: p.i32("userType")?,
        description: p.string("description"),
        name: p.string("name"),
    })
}

/// A comma-separated list of userIds.
fn id_list(name: &str, raw: &str) -> Result<Vec<i32>, Error> {
    let ids: Vec<i32> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i32>()
                .map_err(|_| Error::invalid(name, format!("应为逗号分隔的整数, 收到 {s:?}")))
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err(Error::missing(name));
    }
    Ok(ids)
}

/// A comma-separated list of row `_id`s (24 hex).
fn row_ids(name: &str, raw: &str) -> Result<Vec<String>, Error> {
    let ids: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = ids
        .iter()
        .find(|s| s.len() != 24 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::invalid(
            name,
            format!("应为 24 位十六进制 _id, 收到 {bad:?}"),
        ));
    }
    if ids.is_empty() {
        return Err(Error::missing(name));
    }
    Ok(ids)
}

/// A date parameter: `yyyy-MM-dd` (local midnight; the end of that day for `end`) or seconds.
fn date_param(p: &Params, name: &str, end: bool) -> Result<Option<i64>, Error> {
    let Some(raw) = p.str(name).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(secs) = raw.parse::<i64>() {
        return Ok(Some(secs));
    }
    let day = chrono::NaiveDate::parse_from_str(raw.get(..10).unwrap_or(raw), "%Y-%m-%d")
        .map_err(|_| Error::invalid(name, "应为 yyyy-MM-dd 或秒数"))?;
    let t = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.timestamp())
        .ok_or_else(|| Error::invalid(name, "无效日期"))?;
    Ok(Some(if end { t + 86_399 } else { t }))
}

async fn login(req: HttpRequest, state: web::Data<AppState>, p: Params) -> ApiResult {
    if req.method() == actix_web::http::Method::GET {
        return Ok(Reply::with(
            "请使用 POST 登录 (POST account, password = md5, areaCode, googlecode)",
            Some(json!({ "console": "/console/", "login": "POST /console/login" })),
        ));
    }
    let r = rules::LoginRequest {
        account: p.required("account")?.to_string(),
        password: p.required("password")?.to_string(),
        area_code: area_code(&p)?,
        code: p.string("googlecode").or_else(|| p.string("code")),
        source: p.source(),
    };
    Ok(Reply::data(rules::login(&state.ctx, r).await?))
}

async fn logout(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    match p.caller() {
        Caller::Console(_) => {
            let token = p.required("access_token")?;
            rules::end_session(ctx, token).await?;
            Ok(Reply::ok())
        }
        // The integration key is configuration, not a session.
        _ => Err(Error::Code(Code::AuthFailed)),
    }
}

/// The calling admin's userId (TOTP is per admin; the integration key has none).
async fn own_admin(ctx: &Ctx, p: &Params) -> Result<i32, Error> {
    match actor(ctx, p, Need::Read).await? {
        Actor::Admin { user_id, .. } => Ok(user_id),
        Actor::Integration => Err(Error::Code(Code::AuthFailed)),
    }
}

async fn me(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let Actor::Admin { user_id, role } = actor(ctx, &p, Need::Read).await? else {
        return Err(Error::Code(Code::AuthFailed));
    };
    let u = rules::require_user(ctx, &UserRef::Id(user_id)).await?;
    Ok(Reply::data(json!({
        "userId": user_id,
        "role": role,
        "nickname": u.nickname,
        "telephone": u.telephone,
        "totpEnabled": rules::totp_enabled(ctx, user_id).await?,
    })))
}

async fn totp_setup(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = own_admin(&state.ctx, &p).await?;
    Ok(Reply::data(rules::totp_setup(&state.ctx, me).await?))
}

async fn totp_enable(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = own_admin(&state.ctx, &p).await?;
    rules::totp_enable(&state.ctx, me, p.required("code")?).await?;
    Ok(Reply::ok())
}

async fn totp_disable(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = own_admin(&state.ctx, &p).await?;
    rules::totp_disable(&state.ctx, me, p.required("code")?).await?;
    Ok(Reply::ok())
}

async fn user_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let online = match p.i32("onlinestate")? {
        None => None,
        Some(v @ (0 | 1)) => Some(v),
        Some(_) => return Err(Error::invalid("onlinestate", "应为 0 或 1")),
    };
    let r = rules::UserListRequest {
        keyword: p.string("keyWorld").or_else(|| p.string("keyword")),
        online,
        created_from: date_param(&p, "startDate", false)?,
        created_to: date_param(&p, "endDate", true)?,
        user_type: p.i32("userType")?,
    };
    let page = console_page(&p, 10)?;
    Ok(Reply::page(rules::user_list(ctx, &r, page).await?))
}

async fn update_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Sync).await?;
    // `telephone` is a field here (the new phone); `phone` addresses an existing user.
    let target = user_ref(&p, &["phone"])?;
    let f = user_fields(&p)?;
    Ok(Reply::data(rules::save_user(ctx, &a, target, &f).await?))
}

async fn user_all_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Sync).await?;
    let f = user_fields(&p)?;
    p.required("telephone")?;
    Ok(Reply::data(rules::upsert_by_phone(ctx, &a, &f).await?))
}

async fn delete_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Sync).await?;
    let refs: Vec<UserRef> = if let Some(ids) = p.str("userId") {
        id_list("userId", ids)?
            .into_iter()
            .map(UserRef::Id)
            .collect()
    } else if let Some(phones) = p.str("phone").or_else(|| p.str("telephone")) {
        let area = area_code(&p)?;
        phones
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| UserRef::Phone {
                phone: s.to_string(),
                area_code: area.clone(),
            })
            .collect()
    } else {
        return Err(Error::missing("userId"));
    };
    if refs.is_empty() {
        return Err(Error::missing("userId"));
    }
    let deleted = rules::delete_users(ctx, &a, &refs).await?;
    tracing::info!(?a, ?deleted, "console deleteUser");
    Ok(Reply::data(json!({ "deleted": deleted })))
}

async fn change_status(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Sync).await?;
    let r = required_user_ref(&p)?;
    let status = p.required_i32("status")?;
    let uid = rules::change_status(ctx, &a, &r, status).await?;
    tracing::info!(?a, uid, status, "console changeStatus");
    Ok(Reply::data(json!({ "userId": uid, "status": status })))
}

async fn reset_password(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let r = required_user_ref(&p)?;
    let uid = rules::reset_password(ctx, &a, &r, p.str("password")).await?;
    Ok(Reply::data(json!({ "userId": uid })))
}

async fn login_blocks(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    Ok(Reply::data(rules::login_blocks(ctx)))
}

async fn clear_login_blocks(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let key = p.str("key");
    let user_id = p.i32("userId")?;
    let cleared = rules::clear_login_blocks(ctx, key, user_id)?;
    tracing::info!(?a, key, user_id, cleared, "console loginBlocks/clear");
    Ok(Reply::data(json!({ "cleared": cleared })))
}

async fn init_sys_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    Ok(Reply::data(
        rules::init_sys_user(ctx, p.i32_or("userId", 0)?).await?,
    ))
}

async fn room_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let keyword = p.str("keyWorld").or_else(|| p.str("roomName"));
    let least = p.i32_or("leastNumbers", 0)?;
    let page = console_page(&p, 15)?;
    Ok(Reply::page(
        rules::room_list(ctx, keyword, least, page).await?,
    ))
}

async fn get_room_member(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    Ok(Reply::data(
        rules::room_detail(ctx, p.required("roomId")?).await?,
    ))
}

async fn delete_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let room_id = p.required("roomId")?;
    rooms::console_delete(ctx, room_id).await?;
    tracing::info!(?a, room_id, "console deleteRoom");
    Ok(Reply::ok())
}

async fn delete_member(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    let room_id = p.required("roomId")?;
    let ids = id_list("userId", p.required("userId")?)?;
    let removed = rooms::console_remove_members(ctx, room_id, &ids).await?;
    Ok(Reply::data(json!({ "removed": removed })))
}

async fn invite_join_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    let room_id = p.required("roomId")?;
    let ids = id_list("userIds", p.required("userIds")?)?;
    let added = rooms::console_invite(ctx, room_id, &ids).await?;
    Ok(Reply::data(json!({ "added": added })))
}

async fn update_room(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    let room_id = p.required("roomId")?;
    let s = p.required_i32("s")?;
    rooms::console_set_locked(ctx, room_id, s).await?;
    Ok(Reply::ok())
}

fn chat_query(p: &Params) -> Result<ChatLogQuery, Error> {
    let bound = |name: &str, upper: bool| -> Result<Option<i64>, Error> {
        Ok(p.i64(name)?.and_then(|v| ms_bound(v, upper)))
    };
    Ok(ChatLogQuery {
        start_ms: bound("startTime", false)?,
        end_ms: bound("endTime", true)?,
        sender: p.i32("sender")?.filter(|v| *v != 0),
        receiver: p.i32("receiver")?.filter(|v| *v != 0),
        keyword: p.string("keyWord").or_else(|| p.string("keyword")),
        ..ChatLogQuery::default()
    })
}

async fn chat_logs_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let page = console_page(&p, 10)?;
    Ok(Reply::page(
        rules::chat_logs(ctx, chat_query(&p)?, page).await?,
    ))
}

async fn chat_logs_del(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let all = p.i32_or("all", 0)? == 1;
    let n = rules::delete_chat_logs(ctx, chat_query(&p)?, all).await?;
    tracing::info!(?a, n, "console chat_logs_all/del");
    Ok(Reply::data(json!({ "deleted": n })))
}

async fn delete_chat_msgs(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Manage).await?;
    let ids = match p.str("msgId") {
        Some(raw) => row_ids("msgId", raw)?,
        None => Vec::new(),
    };
    let n = rules::delete_chat_msgs(ctx, &ids, p.i32_or("type", 0)?).await?;
    tracing::info!(?a, n, "console deleteChatMsgs");
    Ok(Reply::data(json!({ "deleted": n })))
}

fn room_query(p: &Params) -> Result<RoomLogQuery, Error> {
    let jid = rooms::check_room_jid(p.required("room_jid_id")?)?;
    Ok(RoomLogQuery {
        jid,
        start_ms: p.i64("startTime")?.and_then(|v| ms_bound(v, false)),
        end_ms: p.i64("endTime")?.and_then(|v| ms_bound(v, true)),
        keyword: p.string("keyWord").or_else(|| p.string("keyword")),
        ..RoomLogQuery::default()
    })
}

async fn group_logs_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let page = console_page(&p, 10)?;
    Ok(Reply::page(
        rules::room_logs(ctx, room_query(&p)?, page).await?,
    ))
}

async fn group_logs_del(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    let jid = rooms::check_room_jid(p.required("room_jid_id")?)?;
    let ids = row_ids("msgId", p.required("msgId")?)?;
    let n = rules::delete_room_logs(ctx, &jid, &ids).await?;
    Ok(Reply::data(json!({ "deleted": n })))
}

async fn room_msg_detail(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let page = console_page(&p, 50)?;
    let mut q = room_query(&p)?;
    q.content_type = Some(1);
    q.ascending = true;
    Ok(Reply::page(rules::room_logs(ctx, q, page).await?))
}

async fn push_to_all(state: web::Data<AppState>, p: Params) -> ApiResult {
    let a = actor(&state.ctx, &p, Need::Manage).await?;
    let from = p.required_i32("fromUserId")?;
    let body = parse_body("body", p.required("body")?)?;
    let v = rules::push_to_all(&state.ctx, from, body).await?;
    tracing::info!(?a, from, job = %v["jobId"], "console pushToAll");
    Ok(Reply::data(v))
}

async fn push_status(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    Ok(Reply::data(
        rules::push_status(ctx, p.required("jobId")?).await?,
    ))
}

async fn user_status(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let hours = p.i64("hours")?.unwrap_or(24);
    if !(1..=2160).contains(&hours) {
        return Err(Error::invalid("hours", "应为 1–2160"));
    }
    Ok(Reply::data(rules::user_status(ctx, hours).await?))
}

async fn summary(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    Ok(Reply::data(rules::summary(ctx).await?))
}

async fn admin_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    let page = console_page(&p, 10)?;
    Ok(Reply::page(rules::admin_list(ctx, page).await?))
}

async fn add_admin(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Super).await?;
    let target =
        user_ref(&p, &["telephone", "phone"])?.ok_or_else(|| Error::missing("telephone"))?;
    let role = p.i32_or("role", rules::ROLE_ADMIN)?;
    let mut create = user_fields(&p)?;
    if create.telephone.is_none() {
        create.telephone = p.string("phone");
    }
    let uid = rules::grant_admin(ctx, &target, role, Some(&create)).await?;
    tracing::info!(?a, uid, role, "console addAdmin");
    Ok(Reply::data(json!({ "userId": uid })))
}

async fn modify_admin(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Super).await?;
    let uid = p.required_i32("userId")?;
    rules::modify_admin(ctx, &a, uid, p.i32("role")?, p.i32("status")?).await?;
    Ok(Reply::ok())
}

async fn del_admin(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Super).await?;
    rules::del_admin(ctx, &a, p.required_i32("userId")?).await?;
    Ok(Reply::ok())
}

async fn add_all_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    Ok(Reply::data(rules::add_all_user(ctx).await?))
}

async fn user_status_count(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Read).await?;
    let now = crate::domain::util::now_secs();
    let from = date_param(&p, "startData", false)?.unwrap_or(now - 86_400);
    let to = date_param(&p, "endData", true)?.unwrap_or(now);
    let page = p.page(288, 2000)?;
    let rows = rules::user_status_count(ctx, from, to, p.i32_or("type", 0)?, page).await?;
    Ok(Reply::data(serde_json::Value::Array(rows)))
}

async fn config_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    actor(ctx, &p, Need::Manage).await?;
    Ok(Reply::data(rules::config_get(ctx)))
}

async fn config_set(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ctx = &state.ctx;
    let a = actor(ctx, &p, Need::Super).await?;
    let given: Vec<(String, String)> = crate::domain::client_settings::settable_keys()
        .filter_map(|k| p.get(k).map(|v| (k.to_string(), v.to_string())))
        .collect();
    let v = rules::config_set(ctx, &given).await?;
    tracing::info!(?a, keys = ?given.iter().map(|(k, _)| k).collect::<Vec<_>>(), "console config/set");
    Ok(Reply::data(v))
}

/// Content types `/console/oneSendOne` sends: those whose whole payload is `content` (text, or
/// a file URL). Others need fields this endpoint does not take, or are protocol messages.
const ONE_SEND_ONE_TYPES: &[i32] = &[1, 2, 3, 5, 6, 9];

/// Resolution of the console's messages (`messageHead.from` = `<userId>/console`).
const CONSOLE_RESOURCE: &str = "console";

/// A phone number as the task system sends it: digits, an optional leading `+` dropped.
fn clean_phone<'a>(name: &str, raw: &'a str) -> Result<&'a str, Error> {
    let phone = raw.trim();
    let phone = phone.strip_prefix('+').unwrap_or(phone);
    if phone.is_empty() {
        return Err(Error::missing(name));
    }
    if phone.len() > 32 || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(name, "应为手机号码 (digits)"));
    }
    Ok(phone)
}

/// The user with this phone: `telephone` = areaCode + phone first (how registration stores
/// it), then the phone as given (the caller may have included the country code).
async fn user_by_phone(ctx: &Ctx, name: &str, raw: &str, area_code: &str) -> Result<User, Error> {
    let phone = clean_phone(name, raw)?;
    for telephone in [format!("{area_code}{phone}"), phone.to_string()] {
        if let Some(u) = ctx.store.users.find_by_telephone(&telephone).await? {
            return Ok(u);
        }
    }
    Err(Error::CodeMsg {
        code: Code::AccountNotExist,
        msg: format!("{name}: 帐号不存在 (no user with phone {phone})"),
    })
}

/// Sends a console message from `from` to `to` through the message path.
async fn send_as(ctx: &Ctx, from: i32, to: i32, msg_type: i32, content: &str) -> ApiResult {
    let mut body = Map::new();
    body.insert("type".into(), json!(msg_type));
    body.insert("content".into(), json!(content));
    body.insert("timeSend".into(), json!(now_millis()));
    let sent = messages::send(
        ctx,
        Outgoing {
            from,
            resource: CONSOLE_RESOURCE.into(),
            target: Target::User(to),
            body,
            origin: None,
        },
    )
    .await?;
    Ok(Reply::data(json!({ "messageId": sent.message_id })))
}

async fn one_send_one(state: web::Data<AppState>, p: Params) -> ApiResult {
    let caller = actor(&state.ctx, &p, Need::Sync).await?;
    let msg_type = p.required_i32("type")?;
    if !ONE_SEND_ONE_TYPES.contains(&msg_type) {
        return Err(Error::invalid(
            "type",
            format!("不支持的消息类型 {msg_type} (supported: 1 text, 2 image, 3 voice, 5 gif, 6 video, 9 file)"),
        ));
    }
    let content = p.required("content")?;
    if content.trim().is_empty() {
        return Err(Error::missing("content"));
    }
    let area_code = p.str("areaCode").unwrap_or("86").trim();
    let area_code = area_code.strip_prefix('+').unwrap_or(area_code);
    if area_code.len() > 8 || !area_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("areaCode", "应为国家代码 (digits)"));
    }
    let ctx = &state.ctx;
    let sender = user_by_phone(ctx, "sendPhone", p.required("sendPhone")?, area_code).await?;
    let receiver = user_by_phone(ctx, "toUserPhone", p.required("toUserPhone")?, area_code).await?;
    tracing::info!(
        ?caller,
        from = sender.user_id,
        to = receiver.user_id,
        "console oneSendOne"
    );
    send_as(ctx, sender.user_id, receiver.user_id, msg_type, content).await
}

async fn send_message(state: web::Data<AppState>, p: Params) -> ApiResult {
    let caller = actor(&state.ctx, &p, Need::Sync).await?;
    // Without `from` the reference sends the text to `to` from each of its friends, i.e. in
    // their names; that is never done here.
    let from = p.i32("from")?.ok_or_else(|| {
        Error::invalid(
            "from",
            "缺失: 必须指定发送者, 不会以他人名义发送 (required: messages are never sent in other users' names)",
        )
    })?;
    let to = p.required_i32("to")?;
    let text = p.required("body")?;
    if text.trim().is_empty() {
        return Err(Error::missing("body"));
    }
    let ctx = &state.ctx;
    for (name, id) in [("from", from), ("to", to)] {
        if ctx.store.users.get_user(id).await?.is_none() {
            return Err(Error::CodeMsg {
                code: Code::AccountNotExist,
                msg: format!("{name}: 帐号不存在 (no user {id})"),
            });
        }
    }
    tracing::info!(?caller, from, to, "console sendMessage");
    send_as(ctx, from, to, 1, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_digits() {
        assert_eq!(clean_phone("sendPhone", " +8613800 ").unwrap(), "8613800");
        assert_eq!(clean_phone("sendPhone", "").unwrap_err().code(), 1010101);
        let e = clean_phone("toUserPhone", "12a").unwrap_err();
        assert!(e.to_string().contains("toUserPhone"));
    }
}
