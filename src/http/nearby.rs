//! `NearbyController` (seed 003 section 5, clients.md 2.4): the user search by text, people
//! nearby by position, and the newest users.

use actix_web::web;
use serde_json::Value;

use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::friends::{self, UserSearch};
use crate::domain::nearby::{self, NearbySearch};
use crate::domain::Error;

/// Largest `pageSize` of a user search.
const MAX_SEARCH_PAGE: u32 = 100;

const PAGE_INDEX: ParamDoc = p("pageIndex", "integer", false, "0-based, default 0");
const PAGE_SIZE: ParamDoc = p("pageSize", "integer", false, "default 10, at most 100");

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/nearby/nearbyUserWeb",
        tag: "friends",
        summary: "Find users by communication account, exact phone or nickname (web client); honours phoneSearch/nameSearch",
        access: Access::User,
        params: &[
            p("nickname", "string", false, "the search text; empty finds nobody (no location search)"),
            p("userId", "integer", false, "only this user"),
            p("sex", "integer", false, ""),
            PAGE_INDEX,
            PAGE_SIZE,
        ],
        codes: &[],
        data: "PageVO of User objects as /user/get shows them (total at most 500)",
    },
    EndpointDoc {
        path: "/nearby/user",
        tag: "friends",
        summary: "People nearby: with a nickname (or userId), the search by communication account, exact phone or nickname (honours phoneSearch/nameSearch); otherwise the users nearest latitude/longitude, nearest first, who keep isOpenPrivacyPosition on (a page of the first 1,000; the caller, locked users and blocked users left out)",
        access: Access::User,
        params: &[
            p("latitude", "number", false, "the caller's latitude, -90..90 (required for the search by position)"),
            p("longitude", "number", false, "the caller's longitude, -180..180"),
            p("distance", "number", false, "metres; only users this near (at most limits.nearby_max_distance, the default)"),
            p("sex", "integer", false, "only users of this sex"),
            p("minAge", "integer", false, "years"),
            p("maxAge", "integer", false, "years"),
            p("active", "long", false, "only users seen within this many seconds (1800: the last 30 minutes)"),
            p("birthday", "long", false, "milliseconds: only users born on the day starting then"),
            p("nickname", "string", false, "the search text (then no search by position)"),
            p("userId", "integer", false, "only this user (search by text)"),
            PAGE_INDEX,
            PAGE_SIZE,
        ],
        codes: &[1010101],
        data: "array of User objects as /user/get shows them; by position each also has distance (metres, rounded to 100) and loc rounded to 0.01° unless the viewer is a friend who may see it exactly",
    },
    EndpointDoc {
        path: "/nearby/newUser",
        tag: "friends",
        summary: "The newest users (no system accounts, locked users, the caller, or users either side blocks); pages within the first 1,000",
        access: Access::User,
        params: &[PAGE_INDEX, PAGE_SIZE],
        codes: &[],
        data: "array of User objects as /user/get shows them, newest first",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/nearby/nearbyUserWeb", nearby_user_web);
    r.add("/nearby/user", nearby_user);
    r.add("/nearby/newUser", new_user);
}

fn search_of(p: &Params) -> Result<UserSearch, Error> {
    Ok(UserSearch {
        keyword: p.get("nickname").unwrap_or("").to_string(),
        user_id: p.i32("userId")?,
        sex: p.i32("sex")?,
        page: p.page(10, MAX_SEARCH_PAGE)?,
    })
}

async fn nearby_user_web(state: web::Data<AppState>, p: Params) -> ApiResult {
    let q = search_of(&p)?;
    let (rows, total) = friends::search_users(&state.ctx, p.me()?, &q).await?;
    Ok(Reply::data(friends::page_vo(rows, total, q.page)))
}

async fn nearby_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let text = search_of(&p)?;
    let latitude = p.f64("latitude")?.unwrap_or(0.0);
    let longitude = p.f64("longitude")?.unwrap_or(0.0);
    let by_position = text.keyword.trim().is_empty() && (latitude != 0.0 || longitude != 0.0);
    if !by_position {
        let (rows, _) = friends::search_users(&state.ctx, me, &text).await?;
        return Ok(Reply::data(Value::Array(rows)));
    }
    let q = NearbySearch {
        latitude,
        longitude,
        distance: p.f64("distance")?,
        sex: text.sex,
        min_age: p.i32("minAge")?,
        max_age: p.i32("maxAge")?,
        active: p.i64("active")?,
        birthday: p.i64("birthday")?,
        page: text.page,
    };
    Ok(Reply::data(Value::Array(
        nearby::nearby_users(&state.ctx, me, &q).await?,
    )))
}

async fn new_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let page = p.page(10, MAX_SEARCH_PAGE)?;
    Ok(Reply::data(Value::Array(
        nearby::new_users(&state.ctx, p.me()?, page).await?,
    )))
}
