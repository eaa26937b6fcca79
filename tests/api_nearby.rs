//! People nearby and new users (seed 003 `NearbyController`), black-box: positions reported by
//! clients, the search by position nearest first with its filters and privacy, paging, and
//! `/nearby/newUser`; both stores (the MongoDB run goes through `$geoNear` on the `2dsphere`
//! index).

mod common;

use serde_json::Value;
use shiku_server::store::Patch;

use common::{console_admin, ok, spawn_with, user, TestApp, TestUser};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

/// Reports `u`'s position as its mobile client does when it opens (`/user/login/auto`, which
/// also marks the user seen).
async fn place(app: &TestApp, u: &TestUser, lat: f64, lng: f64) {
    let (lat, lng) = (lat.to_string(), lng.to_string());
    ok(&call(
        app,
        "/user/login/auto",
        &u.token,
        &[("latitude", &lat), ("longitude", &lng)],
    )
    .await);
}

/// The position `km` kilometres east of (23.0, 113.0) along the parallel.
fn east(km: f64) -> (f64, f64) {
    let deg =
        km * 1000.0 / (6_378_100.0 * 23.0_f64.to_radians().cos()) * 180.0 / std::f64::consts::PI;
    (23.0, 113.0 + deg)
}

async fn near(app: &TestApp, u: &TestUser, extra: &[(&str, &str)]) -> Vec<Value> {
    let mut pairs = vec![("latitude", "23.0"), ("longitude", "113.0")];
    pairs.extend_from_slice(extra);
    ok(&call(app, "/nearby/user", &u.token, &pairs).await)
        .as_array()
        .expect("rows")
        .clone()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["userId"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn people_nearby_nearest_first_with_filters_and_privacy() {
    let app = spawn_with(|_| {}).await;
    let me = user(&app, "13500000001", "me").await;
    let b = user(&app, "13500000002", "one km").await;
    let c = user(&app, "13500000003", "five km").await;
    let d = user(&app, "13500000004", "fifty km").await;
    let hidden = user(&app, "13500000005", "hidden").await;
    let locked = user(&app, "13500000006", "locked").await;
    let blocked = user(&app, "13500000007", "blocked by me").await;
    let blocker = user(&app, "13500000008", "blocks me").await;
    let nowhere = user(&app, "13500000009", "no position").await;
    let far = user(&app, "13500000010", "far away").await;
    place(&app, &me, 23.0, 113.0).await;
    for (u, km) in [
        (&b, 1.0),
        (&c, 5.0),
        (&d, 50.0),
        (&hidden, 2.0),
        (&locked, 3.0),
        (&blocked, 3.5),
        (&blocker, 4.0),
    ] {
        let (lat, lng) = east(km);
        place(&app, u, lat, lng).await;
    }
    // Beijing: ~1,900 km, beyond the default reach.
    place(&app, &far, 39.9, 116.4).await;
    // A device without location reports 0,0: no position.
    place(&app, &nowhere, 0.0, 0.0).await;
    ok(&call(
        &app,
        "/user/settings/update",
        &hidden.token,
        &[("isOpenPrivacyPosition", "0")],
    )
    .await);
    let (_, admin) = console_admin(&app, "13500000099", 6).await;
    ok(&call(
        &app,
        "/console/changeStatus",
        &admin,
        &[("userId", &locked.sid()), ("status", "-1")],
    )
    .await);
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &me.token,
        &[("toUserId", &blocked.sid())],
    )
    .await);
    ok(&call(
        &app,
        "/friends/blacklist/add",
        &blocker.token,
        &[("toUserId", &me.sid())],
    )
    .await);

    let rows = near(&app, &me, &[]).await;
    assert_eq!(ids(&rows), vec![b.id, c.id, d.id], "{rows:?}");
    let distances: Vec<i64> = rows
        .iter()
        .map(|r| r["distance"].as_i64().unwrap())
        .collect();
    assert_eq!(distances, vec![1000, 5000, 50000], "rounded to 100 m");
    // Strangers get the position rounded to 0.01°, never the exact one.
    let (_, lng_b) = east(1.0);
    assert_eq!(rows[0]["loc"]["lat"], 23.0);
    assert_eq!(
        rows[0]["loc"]["lng"].as_f64().unwrap(),
        (lng_b * 100.0).round() / 100.0
    );
    assert_ne!(rows[0]["loc"]["lng"].as_f64().unwrap(), lng_b);
    assert_eq!(
        rows[0]["nickname"], "one km",
        "the user as /user/get shows it"
    );

    // A friend who shares the position sees it as /user/get shows it to friends.
    ok(&call(
        &app,
        "/user/settings/update",
        &b.token,
        &[("friendsVerify", "0")],
    )
    .await);
    ok(&call(&app, "/friends/add", &me.token, &[("toUserId", &b.sid())]).await);
    let rows = near(&app, &me, &[("pageSize", "1")]).await;
    assert_eq!(rows[0]["loc"]["lng"].as_f64().unwrap(), lng_b);

    // Paging, distance, sex, age and last-seen filters.
    assert_eq!(
        ids(&near(&app, &me, &[("pageIndex", "1"), ("pageSize", "1")]).await),
        vec![c.id]
    );
    assert!(near(&app, &me, &[("pageIndex", "1"), ("pageSize", "3")])
        .await
        .is_empty());
    assert_eq!(
        ids(&near(&app, &me, &[("distance", "6000")]).await),
        vec![b.id, c.id]
    );
    ok(&call(&app, "/user/update", &c.token, &[("sex", "1")]).await);
    ok(&call(&app, "/user/update", &b.token, &[("sex", "0")]).await);
    ok(&call(&app, "/user/update", &d.token, &[("sex", "0")]).await);
    assert_eq!(ids(&near(&app, &me, &[("sex", "1")]).await), vec![c.id]);
    let now = chrono_now();
    let born = |years: i64| (now - years * 31_556_952 - 86_400 * 30).to_string();
    ok(&call(&app, "/user/update", &b.token, &[("birthday", &born(20))]).await);
    ok(&call(&app, "/user/update", &c.token, &[("birthday", &born(40))]).await);
    ok(&call(&app, "/user/update", &d.token, &[("birthday", &born(30))]).await);
    assert_eq!(
        ids(&near(&app, &me, &[("minAge", "25"), ("maxAge", "35")]).await),
        vec![d.id]
    );
    assert_eq!(
        ids(&near(&app, &me, &[("minAge", "30")]).await),
        vec![c.id, d.id]
    );
    // Everyone placed was seen just now: a window of an hour keeps them all; c was last
    // seen long ago (an old document), so a window of a day leaves it out.
    assert_eq!(
        ids(&near(&app, &me, &[("active", "3600")]).await),
        vec![b.id, c.id, d.id]
    );
    app.app
        .store
        .users
        .update_user(c.uid(), &Patch::new().set("active", now - 3 * 86_400))
        .await
        .unwrap();
    assert_eq!(
        ids(&near(&app, &me, &[("active", "86400")]).await),
        vec![b.id, d.id]
    );
    // The far user (~1,900 km) is beyond the default reach of 1,000 km; the next test finds
    // them with a wider one.
    let all = ids(&near(&app, &me, &[("pageSize", "10")]).await);
    assert_eq!(all, vec![b.id, c.id, d.id]);

    // Bad positions are refused; no position and no text finds nobody.
    for (lat, lng) in [("91", "113"), ("23", "181"), ("abc", "113")] {
        let v = call(
            &app,
            "/nearby/user",
            &me.token,
            &[("latitude", lat), ("longitude", lng)],
        )
        .await;
        assert_eq!(v["resultCode"], 1010101, "{v}");
    }
    let v = call(
        &app,
        "/nearby/user",
        &me.token,
        &[("distance", "-5"), ("latitude", "23"), ("longitude", "113")],
    )
    .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(ok(&call(&app, "/nearby/user", &me.token, &[]).await)
        .as_array()
        .unwrap()
        .is_empty());
    // The text search is still there.
    let rows = ok(&call(&app, "/nearby/user", &me.token, &[("nickname", "five km")]).await)
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids(&rows), vec![c.id]);
    // Strangers are refused.
    let v = app
        .post(
            "/nearby/user",
            &[("latitude", "23.0"), ("longitude", "113.0")],
        )
        .await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
}

#[tokio::test]
async fn a_wider_reach_and_new_users() {
    let app = spawn_with(|c| c.limits.nearby_max_distance = 3_000_000.0).await;
    let me = user(&app, "13600000001", "me").await;
    let near_one = user(&app, "13600000002", "near").await;
    let far = user(&app, "13600000003", "beijing").await;
    let locked = user(&app, "13600000004", "locked").await;
    place(&app, &me, 23.0, 113.0).await;
    let (lat, lng) = east(2.0);
    place(&app, &near_one, lat, lng).await;
    place(&app, &far, 39.9, 116.4).await;
    let rows = near(&app, &me, &[]).await;
    assert_eq!(ids(&rows), vec![near_one.id, far.id]);
    let d = rows[1]["distance"].as_i64().unwrap();
    assert!((1_850_000..1_950_000).contains(&d), "{d}");

    let (admin_id, admin) = console_admin(&app, "13600000099", 6).await;
    ok(&call(
        &app,
        "/console/changeStatus",
        &admin,
        &[("userId", &locked.sid()), ("status", "-1")],
    )
    .await);
    // Newest first, without the caller, locked users and system accounts; paged.
    let rows = ok(&call(&app, "/nearby/newUser", &me.token, &[]).await)
        .as_array()
        .unwrap()
        .clone();
    let found = ids(&rows);
    assert_eq!(found, [admin_id, far.id, near_one.id]);
    assert!(!found.contains(&me.id) && !found.contains(&locked.id));
    let rows = ok(&call(
        &app,
        "/nearby/newUser",
        &me.token,
        &[("pageIndex", "2"), ("pageSize", "1")],
    )
    .await)
    .as_array()
    .unwrap()
    .clone();
    assert_eq!(ids(&rows), vec![near_one.id]);
    assert_eq!(rows[0]["nickname"], "near");
    let v = app.post("/nearby/newUser", &[]).await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
