//! People nearby and new users (seed 003 `NearbyController`): `/nearby/user` by position,
//! nearest first, with sex, age, last-seen and distance filters; `/nearby/newUser`, the newest
//! users. Only users whose `isOpenPrivacyPosition` is not 0 are found by position, and nobody
//! learns another user's exact position from it: the answer carries a distance rounded to
//! 100 m and a position rounded to 0.01° (about 1 km), which is what clients draw distances
//! from.

use serde_json::{json, Value};

use super::error::{Error, Result};
use super::users::{user_view, SEARCH_FLOOR};
use super::util::now_secs;
use super::view::Page;
use super::Ctx;
use crate::documents::User;
use crate::store::users::is_position;
use crate::store::{NearbyQuery, UserQuery};

/// Rows before the end of any page of these searches at most: deeper pages are empty.
const MAX_DEPTH: u64 = 1000;
/// Seconds in an average year, for ages.
const YEAR_SECS: i64 = 31_556_952;

/// A `/nearby/user` search by position.
#[derive(Debug, Clone)]
pub struct NearbySearch {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres; None: `limits.nearby_max_distance`.
    pub distance: Option<f64>,
    pub sex: Option<i32>,
    /// Years.
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    /// Seen within this many seconds.
    pub active: Option<i64>,
    /// Born on the day starting at this time (milliseconds).
    pub birthday: Option<i64>,
    pub page: Page,
}

/// A distance as answered: metres rounded to 100, at least 100.
pub fn rounded_distance(metres: f64) -> i64 {
    ((metres / 100.0).round().max(1.0) as i64) * 100
}

/// A position as answered: degrees rounded to 0.01.
fn coarse(deg: f64) -> f64 {
    (deg * 100.0).round() / 100.0
}

fn birthday_range(q: &NearbySearch, now: i64) -> (Option<i64>, Option<i64>) {
    let mut from: Option<i64> = None;
    let mut to: Option<i64> = None;
    let mut narrow = |f: Option<i64>, t: Option<i64>| {
        if let Some(f) = f {
            from = Some(from.map_or(f, |x| x.max(f)));
        }
        if let Some(t) = t {
            to = Some(to.map_or(t, |x| x.min(t)));
        }
    };
    // Aged at least `min`: born at most `min` years ago; at most `max`: born less than
    // `max + 1` years ago.
    if let Some(min) = q.min_age.filter(|a| *a > 0) {
        narrow(None, Some(now - i64::from(min) * YEAR_SECS));
    }
    if let Some(max) = q.max_age.filter(|a| *a > 0) {
        narrow(Some(now - (i64::from(max) + 1) * YEAR_SECS + 1), None);
    }
    if let Some(ms) = q.birthday.filter(|b| *b != 0) {
        let day = ms.div_euclid(1000);
        narrow(Some(day), Some(day + 86_399));
    }
    (from, to)
}

fn check_page(page: Page) -> bool {
    page.skip().saturating_add(u64::from(page.size)) <= MAX_DEPTH
}

/// `/nearby/user` by position: a page of the users nearest (`latitude`, `longitude`), each as
/// `/user/get` shows it to `me` plus `distance` (metres, rounded to 100). Leaves out the
/// caller, system accounts, locked users, users without a position or who closed
/// `isOpenPrivacyPosition`, and users either side blocks.
pub async fn nearby_users(ctx: &Ctx, me: i32, q: &NearbySearch) -> Result<Vec<Value>> {
    if !is_position(q.latitude, q.longitude) {
        return Err(Error::invalid(
            "latitude",
            "应为有效的经纬度 (latitude -90..90, longitude -180..180, not both 0)",
        ));
    }
    let max = ctx.config.limits.nearby_max_distance;
    let distance = match q.distance {
        Some(d) if d.is_nan() || d <= 0.0 => {
            return Err(Error::invalid("distance", "应为正数 (metres)"))
        }
        Some(d) => d.min(max),
        None => max,
    };
    if !check_page(q.page) {
        return Ok(Vec::new());
    }
    let now = now_secs();
    let (birthday_from, birthday_to) = birthday_range(q, now);
    let mut except = ctx.store.friends.refused_senders(me).await?;
    except.extend(ctx.store.friends.refusers_of(me).await?);
    except.push(me);
    let found = ctx
        .store
        .users
        .nearby_users(&NearbyQuery {
            lat: q.latitude,
            lng: q.longitude,
            max_distance: distance,
            sex: q.sex,
            birthday_from,
            birthday_to,
            active_since: q.active.filter(|a| *a > 0).map(|a| now - a),
            min_user_id: SEARCH_FLOOR.min(ctx.config.first_user_id),
            except,
            skip: q.page.skip(),
            limit: q.page.size,
        })
        .await?;
    let mut rows = Vec::with_capacity(found.len());
    for (u, metres) in found {
        let mut view = user_view(ctx, me, &u).await?;
        if let Some(m) = view.as_object_mut() {
            m.insert("distance".into(), json!(rounded_distance(metres)));
            // A friend who shares the position sees it as /user/get shows it; others coarse.
            let blank = m
                .get("loc")
                .and_then(|l| l.get("lat"))
                .and_then(Value::as_f64)
                .is_none_or(|lat| lat == 0.0);
            if blank {
                m.insert(
                    "loc".into(),
                    json!({"lat": coarse(u.loc.lat), "lng": coarse(u.loc.lng)}),
                );
            }
        }
        rows.push(view);
    }
    Ok(rows)
}

/// `/nearby/newUser`: a page of the newest users (by userId, which grows with registration),
/// each as `/user/get` shows it to `me`; no system accounts, locked users, the caller or users
/// either side blocks.
pub async fn new_users(ctx: &Ctx, me: i32, page: Page) -> Result<Vec<Value>> {
    if !check_page(page) || page.size == 0 {
        return Ok(Vec::new());
    }
    let mut refused = ctx.store.friends.refused_senders(me).await?;
    refused.extend(ctx.store.friends.refusers_of(me).await?);
    let floor = SEARCH_FLOOR.min(ctx.config.first_user_id);
    let want = page.skip() + u64::from(page.size);
    let mut kept: Vec<User> = Vec::new();
    let mut before = None;
    'scan: loop {
        let batch = ctx
            .store
            .users
            .query_users(&UserQuery {
                before,
                min_user_id: floor,
                limit: 200,
                ..UserQuery::default()
            })
            .await?;
        let Some(last) = batch.last() else { break };
        before = Some(last.user_id);
        let n = batch.len();
        for u in batch {
            if u.status == -1 || u.user_id == me || refused.contains(&u.user_id) {
                continue;
            }
            kept.push(u);
            if kept.len() as u64 >= want {
                break 'scan;
            }
        }
        if n < 200 {
            break;
        }
    }
    let mut rows = Vec::new();
    for u in kept
        .iter()
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
    {
        rows.push(user_view(ctx, me, u).await?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_rounded_to_100_m() {
        assert_eq!(rounded_distance(0.0), 100);
        assert_eq!(rounded_distance(149.0), 100);
        assert_eq!(rounded_distance(151.0), 200);
        assert_eq!(rounded_distance(12_345.0), 12_300);
    }

    #[test]
    fn ages_become_birthday_ranges() {
        let q = NearbySearch {
            latitude: 1.0,
            longitude: 1.0,
            distance: None,
            sex: None,
            min_age: Some(18),
            max_age: Some(30),
            active: None,
            birthday: None,
            page: Page { index: 0, size: 10 },
        };
        let now = 2_000_000_000;
        let (from, to) = birthday_range(&q, now);
        assert_eq!(to, Some(now - 18 * YEAR_SECS));
        assert_eq!(from, Some(now - 31 * YEAR_SECS + 1));
    }
}
