//! Courses (seed 003 `/course/add`; the reference's CourseController, served under `/user/`
//! as well since clients.md names neither spelling).

use actix_web::web;

use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::courses;

const ADD: &[ParamDoc] = &[
    p(
        "userId",
        "integer",
        false,
        "ignored: the caller's own course",
    ),
    p(
        "messageIds",
        "string",
        true,
        "message ids of the room (comma-separated or a JSON array), at most 500",
    ),
    p(
        "courseName",
        "string",
        true,
        "the course's name, at most 64 characters",
    ),
    p(
        "roomJid",
        "string",
        true,
        "the room jid (the caller must be a member)",
    ),
    p(
        "createTime",
        "long",
        false,
        "ignored: the server's time is recorded",
    ),
];
const ADD_SUMMARY: &str = "Save room messages as a named course (their bodies kept with it); at most limits.max_courses per user";
const LIST: &[ParamDoc] = &[
    p(
        "userId",
        "integer",
        false,
        "ignored: the caller's own courses",
    ),
    p(
        "roomJid",
        "string",
        false,
        "only the courses of this room jid",
    ),
    p("pageIndex", "integer", false, "default 0"),
    p(
        "pageSize",
        "integer",
        false,
        "default and at most limits.max_courses (all of them)",
    ),
];
const LIST_SUMMARY: &str = "The caller's courses, newest first";
const LIST_DATA: &str =
    "[{courseId, userId, courseName, roomJid, createTime(s), updateTime(s), messageIds}]";
const GET: &[ParamDoc] = &[p("courseId", "string", true, "course id")];
const GET_SUMMARY: &str = "A course's messages in order";
const GET_DATA: &str = "[{courseId, messageId, message(body JSON), createTime(s)}]";
const UPDATE: &[ParamDoc] = &[
    p("courseId", "string", true, "course id"),
    p("courseName", "string", false, "a new name"),
    p(
        "messageIds",
        "string",
        false,
        "the message ids to keep (others are removed from the course)",
    ),
];
const UPDATE_SUMMARY: &str = "Rename a course of the caller's, or keep only some of its messages";
const DELETE: &[ParamDoc] = &[p("courseId", "string", true, "course id")];
const DELETE_SUMMARY: &str = "Delete a course of the caller's";

macro_rules! doc {
    ($path:expr, $summary:expr, $params:expr, $data:expr) => {
        EndpointDoc {
            path: $path,
            tag: "courses",
            summary: $summary,
            access: Access::User,
            params: $params,
            codes: &[0, 1010101],
            data: $data,
        }
    };
}

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    doc!("/course/add", ADD_SUMMARY, ADD, "none"),
    doc!("/user/course/add", ADD_SUMMARY, ADD, "none"),
    doc!("/course/list", LIST_SUMMARY, LIST, LIST_DATA),
    doc!("/user/course/list", LIST_SUMMARY, LIST, LIST_DATA),
    doc!("/course/get", GET_SUMMARY, GET, GET_DATA),
    doc!("/user/course/get", GET_SUMMARY, GET, GET_DATA),
    doc!("/course/update", UPDATE_SUMMARY, UPDATE, "none"),
    doc!("/user/course/update", UPDATE_SUMMARY, UPDATE, "none"),
    doc!("/course/delete", DELETE_SUMMARY, DELETE, "none"),
    doc!("/user/course/delete", DELETE_SUMMARY, DELETE, "none"),
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/course/add", add);
    r.add("/user/course/add", add);
    r.add("/course/list", list);
    r.add("/user/course/list", list);
    r.add("/course/get", get);
    r.add("/user/course/get", get);
    r.add("/course/update", update);
    r.add("/user/course/update", update);
    r.add("/course/delete", delete);
    r.add("/user/course/delete", delete);
}

async fn add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let ids = courses::message_ids(p.required("messageIds")?)?;
    courses::add(
        &state.ctx,
        p.me()?,
        p.str("courseName").unwrap_or(""),
        p.str("roomJid").unwrap_or(""),
        &ids,
    )
    .await?;
    Ok(Reply::ok())
}

async fn list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let max = u32::try_from(state.ctx.config.limits.max_courses).unwrap_or(u32::MAX);
    let page = p.page(max, max)?;
    let data = courses::list(&state.ctx, p.me()?, p.str("roomJid"), page).await?;
    Ok(Reply::data(data))
}

async fn get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = courses::get(&state.ctx, p.me()?, p.required("courseId")?).await?;
    Ok(Reply::data(data))
}

async fn update(state: web::Data<AppState>, p: Params) -> ApiResult {
    let keep = p.str("messageIds").map(courses::message_ids).transpose()?;
    courses::update(
        &state.ctx,
        p.me()?,
        p.required("courseId")?,
        p.str("courseName"),
        keep.as_deref(),
    )
    .await?;
    Ok(Reply::ok())
}

async fn delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    courses::delete(&state.ctx, p.me()?, p.required("courseId")?).await?;
    Ok(Reply::ok())
}
