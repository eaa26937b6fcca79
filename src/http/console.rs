//! `AdminController`, the part the task-management system uses: single-chat messages sent on a
//! user's behalf (spec/reference-server.md 3.7; seed 002 3.2). The admin area takes the
//! configured integration key or a console token as `access_token` (see `caller`).

use actix_web::web;
use serde_json::{json, Map};

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::messages::{self, Outgoing, Target};
use crate::domain::model::User;
use crate::domain::util::now_millis;
use crate::domain::{Code, Ctx, Error};

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/console/oneSendOne",
        tag: "console",
        summary: "Task-management push: a single-chat message from the user with sendPhone to the user with toUserPhone",
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
        summary: "Send a text message from one user to another (from is required: never sent on anyone else's behalf)",
        access: Access::Console,
        params: &[
            p("from", "integer", true, "sender userId"),
            p("to", "integer", true, "receiver userId"),
            p("body", "string", true, "the text (content of a type-1 message)"),
            p("count", "integer", false, "ignored (the reference's fan-out from the receiver's friends is not offered)"),
        ],
        codes: &[0, 1030101, 1030102, 1030103, 1040304],
        data: "{messageId}",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/console/oneSendOne", one_send_one);
    r.add("/console/sendMessage", send_message);
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
    let caller = p.console()?.clone();
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
    let caller = p.console()?.clone();
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
