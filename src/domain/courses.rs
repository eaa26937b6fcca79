//! Courses (seed 003 `/course/add`; the reference's CourseController, which the spec does not
//! detail): room messages a member saves as a named lecture, kept with their bodies so the
//! lecture outlives the room's history; listed, read, renamed or trimmed, and deleted by their
//! owner only.

use serde_json::{json, Value};

use super::error::{Error, Result};
use super::history::{muc_json, parse_ids};
use super::rooms;
use super::times;
use super::util::now_secs;
use super::view::Page;
use super::Ctx;
use crate::documents::{Course, CourseMessage};

/// Messages one course holds at most.
const MAX_MESSAGES: usize = 500;
/// Message text one course holds at most, bytes (a lecture of 500 long texts fits).
const MAX_COURSE_BYTES: usize = 1 << 20;
/// Characters of a course name.
const MAX_NAME: usize = 64;

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::missing("courseName"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "courseName",
            format!("至多 {MAX_NAME} 个字符"),
        ));
    }
    Ok(name.to_string())
}

/// Message ids as sent: comma-separated (or a JSON array), without repeats, in order.
pub fn message_ids(text: &str) -> Result<Vec<String>> {
    let joined = match serde_json::from_str::<Vec<String>>(text) {
        Ok(list) => list.join(","),
        Err(_) => text.to_string(),
    };
    let ids = parse_ids("messageIds", &joined)?;
    if ids.len() > MAX_MESSAGES {
        return Err(Error::invalid(
            "messageIds",
            format!("至多 {MAX_MESSAGES} 条"),
        ));
    }
    Ok(ids)
}

fn missing_course() -> Error {
    Error::failure("课程不存在 (no such course)")
}

/// `/course/add`: the caller's messages of choice in a room they are in, saved as a course.
pub async fn add(ctx: &Ctx, me: i32, name: &str, room_jid: &str, ids: &[String]) -> Result<()> {
    let name = check_name(name)?;
    let jid = room_jid.trim();
    if jid.is_empty() {
        return Err(Error::missing("roomJid"));
    }
    rooms::member_room_by_jid(ctx, me, jid).await?;
    if ctx.store.courses.count_courses(me).await? >= ctx.config.limits.max_courses {
        return Err(Error::failure(format!(
            "课程已达上限 {} 个 (too many courses)",
            ctx.config.limits.max_courses
        )));
    }
    let mut messages = Vec::with_capacity(ids.len());
    let mut bytes = 0;
    for id in ids {
        let row = ctx
            .store
            .rooms
            .find_muc(jid, id)
            .await?
            .ok_or_else(|| Error::failure(format!("消息不存在: {id}")))?;
        let body = muc_json(&row).to_string();
        bytes += body.len();
        if bytes > MAX_COURSE_BYTES {
            return Err(Error::invalid("messageIds", "消息内容过多 (too much text)"));
        }
        messages.push(CourseMessage {
            message_id: id.clone(),
            message: body,
        });
    }
    let now = now_secs();
    ctx.store
        .courses
        .insert_course(&Course {
            user_id: me,
            course_name: name,
            room_jid: jid.to_string(),
            create_time: now,
            update_time: now,
            messages,
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// `/course/list`: a page of the caller's courses, newest first (of one room when `room_jid`
/// is given), with their messages' ids; the bodies are read by `/course/get` only.
pub async fn list(ctx: &Ctx, me: i32, room_jid: Option<&str>, page: Page) -> Result<Value> {
    let rows = ctx
        .store
        .courses
        .course_heads(me, room_jid, page.skip(), page.size)
        .await?;
    Ok(Value::Array(
        rows.iter()
            .map(|c| {
                json!({
                    "courseId": c.id.clone().unwrap_or_default(),
                    "userId": c.user_id,
                    "courseName": c.course_name,
                    "roomJid": c.room_jid,
                    "createTime": c.create_time,
                    "updateTime": c.update_time,
                    "messageIds": c.messages.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

/// `/course/get`: a course's messages in order, each with its body as room history shows it
/// (`timeSend` in the unit of `client.history_time_unit`).
pub async fn get(ctx: &Ctx, me: i32, id: &str) -> Result<Value> {
    let c = ctx
        .store
        .courses
        .course(me, id.trim())
        .await?
        .ok_or_else(missing_course)?;
    let course_id = c.id.clone().unwrap_or_default();
    let unit = times::history_unit(ctx.config.client.history_time_unit);
    Ok(Value::Array(
        c.messages
            .iter()
            .map(|m| {
                json!({
                    "courseId": course_id,
                    "messageId": m.message_id,
                    "message": match unit {
                        Some(u) => times::body_for(&m.message, u).into_owned(),
                        None => m.message.clone(),
                    },
                    "createTime": c.create_time,
                })
            })
            .collect(),
    ))
}

/// `/course/update`: renames a course (`courseName`) and/or keeps only the listed messages
/// (`messageIds`, a subset of the course's, in the course's order).
pub async fn update(
    ctx: &Ctx,
    me: i32,
    id: &str,
    name: Option<&str>,
    keep: Option<&[String]>,
) -> Result<()> {
    let mut c = ctx
        .store
        .courses
        .course(me, id.trim())
        .await?
        .ok_or_else(missing_course)?;
    if let Some(name) = name {
        c.course_name = check_name(name)?;
    }
    if let Some(keep) = keep {
        c.messages.retain(|m| keep.contains(&m.message_id));
    }
    c.update_time = now_secs();
    if !ctx.store.courses.replace_course(&c).await? {
        return Err(missing_course());
    }
    Ok(())
}

/// `/course/delete`: deletes one of the caller's courses.
pub async fn delete(ctx: &Ctx, me: i32, id: &str) -> Result<()> {
    if ctx.store.courses.delete_course(me, id.trim()).await? {
        Ok(())
    } else {
        Err(missing_course())
    }
}
