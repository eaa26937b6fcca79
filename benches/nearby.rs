//! People nearby (`/nearby/user` by position) over 100,000 users: the time of one search
//! through the domain (`domain::nearby::nearby_users`: the geo index, the filters, the page's
//! user views), against a search that reads every user, in the same run. Run:
//! `cargo bench --bench nearby`.
//!
//! Users are placed as a deployment's are: `NEARBY_CITY` (70 %) of them within ~30 km of one
//! city centre, the rest spread over a 25° × 25° region. Queries come from random points in the
//! city (dense), in the region (sparse), a deep page and a filtered search. Options:
//! `NEARBY_USERS` (100000), `NEARBY_QUERIES` (200 per kind), `NEARBY_STORE` (`sqlite`, or
//! `mongodb` at `SHIKU_TEST_MONGODB_URI` in throw-away databases).

#[allow(dead_code)]
#[path = "../tests/common/stores.rs"]
mod stores;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shiku_server::config::{Config, MessageLayout};
use shiku_server::documents::User;
use shiku_server::domain::nearby::{self, NearbySearch};
use shiku_server::domain::view::Page;
use shiku_server::domain::Ctx;
use shiku_server::store::{Store, UserQuery};

const FIRST_ID: i32 = 200_000;
const CITY: (f64, f64) = (23.13, 113.26);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn user(id: i32, rng: &mut StdRng, city_share: f64) -> User {
    let (lat, lng) = if rng.gen_bool(city_share) {
        (
            CITY.0 + rng.gen_range(-0.27..0.27),
            CITY.1 + rng.gen_range(-0.3..0.3),
        )
    } else {
        (rng.gen_range(18.0..43.0), rng.gen_range(98.0..123.0))
    };
    serde_json::from_value(json!({
        "_id": id,
        "telephone": format!("86139{id:08}"),
        "phone": format!("139{id:08}"),
        "nickname": format!("nearby{id}"),
        "sex": rng.gen_range(0..2),
        "birthday": 1_000_000_000 - rng.gen_range(0..900_000_000_i64),
        "active": shiku_server::domain::util::now_secs() - rng.gen_range(0..60 * 86_400_i64),
        "loc": { "lng": lng, "lat": lat },
    }))
    .expect("user doc")
}

/// Writes the users in one transaction straight into the embedded store's file (the store's
/// triggers index their positions as they would any write).
fn seed_sqlite(dir: &std::path::Path, users: &[User]) {
    let mut c = rusqlite::Connection::open(dir.join("shiku.db")).expect("db");
    let tx = c.transaction().expect("tx");
    {
        let mut st = tx
            .prepare("INSERT INTO user (id, doc) VALUES (?1, ?2)")
            .expect("insert");
        for u in users {
            st.execute(rusqlite::params![
                u.user_id,
                serde_json::to_string(u).expect("json")
            ])
            .expect("row");
        }
    }
    tx.commit().expect("commit");
}

async fn seed_mongo(client: &mongodb::Client, db: &str, users: &[User]) {
    let coll = client
        .database(db)
        .collection::<mongodb::bson::Document>("user");
    for chunk in users.chunks(2_000) {
        let docs: Vec<_> = chunk
            .iter()
            .map(|u| mongodb::bson::to_document(u).expect("bson"))
            .collect();
        coll.insert_many(docs).await.expect("insert");
    }
}

struct Timings(Vec<Duration>);

impl Timings {
    fn line(&mut self, what: &str, rows: usize) {
        self.0.sort();
        let n = self.0.len();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mean = self.0.iter().sum::<Duration>() / n as u32;
        println!(
            "  {what:<44} mean {:>7.2} ms  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} rows/page avg)",
            ms(mean),
            ms(self.0[n / 2]),
            ms(self.0[(n * 99 / 100).min(n - 1)]),
            rows / n.max(1)
        );
    }
}

async fn run_kind(
    ctx: &Ctx,
    rng: &mut StdRng,
    queries: usize,
    what: &str,
    make: impl Fn(&mut StdRng) -> NearbySearch,
) -> f64 {
    let mut t = Timings(Vec::new());
    let mut rows = 0;
    for _ in 0..queries {
        let q = make(rng);
        let start = Instant::now();
        let found = nearby::nearby_users(ctx, FIRST_ID, &q)
            .await
            .expect("search");
        t.0.push(start.elapsed());
        rows += found.len();
    }
    t.line(what, rows);
    t.0.iter().sum::<Duration>().as_secs_f64() / queries as f64
}

fn search(lat: f64, lng: f64) -> NearbySearch {
    NearbySearch {
        latitude: lat,
        longitude: lng,
        distance: None,
        sex: None,
        min_age: None,
        max_age: None,
        active: None,
        birthday: None,
        page: Page { index: 0, size: 20 },
    }
}

/// What a search without a geo index costs: every user read, its distance computed.
async fn full_scan(store: &Store) -> Duration {
    let start = Instant::now();
    let mut before = None;
    let mut near = 0;
    loop {
        let batch = store
            .users
            .query_users(&UserQuery {
                before,
                limit: 1000,
                ..UserQuery::default()
            })
            .await
            .expect("scan");
        let Some(last) = batch.last() else { break };
        before = Some(last.user_id);
        near += batch
            .iter()
            .filter(|u| {
                shiku_server::store::users::distance_m(CITY.0, CITY.1, u.loc.lat, u.loc.lng)
                    < 1_000_000.0
            })
            .count();
    }
    assert!(near > 0);
    start.elapsed()
}

fn main() {
    let n = env("NEARBY_USERS", 100_000);
    let queries = env("NEARBY_QUERIES", 200);
    let mongo = std::env::var("NEARBY_STORE").as_deref() == Ok("mongodb");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut rng = StdRng::seed_from_u64(7);
        let users: Vec<User> = (0..n as i32)
            .map(|i| user(FIRST_ID + i, &mut rng, 0.7))
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let started = Instant::now();
        let (store, dbs) = if mongo {
            let (store, dbs) = stores::mongo("nearby bench", MessageLayout::Reference)
                .await
                .expect("NEARBY_STORE=mongodb needs SHIKU_TEST_MONGODB_URI");
            seed_mongo(&dbs.client, &dbs.names[0], &users).await;
            (store, Some(dbs))
        } else {
            let store = shiku_server::startup::open_store(&config)
                .await
                .expect("store");
            seed_sqlite(dir.path(), &users);
            (store, None)
        };
        println!(
            "people nearby on {} with {n} users (seeded in {:.1} s)",
            store.description,
            started.elapsed().as_secs_f64()
        );
        let ctx = Ctx::new(store.clone(), Arc::new(config))
            .await
            .expect("ctx");
        let in_city = |r: &mut StdRng| {
            search(
                CITY.0 + r.gen_range(-0.2..0.2),
                CITY.1 + r.gen_range(-0.2..0.2),
            )
        };
        // Warm-up (caches, statement preparation).
        run_kind(&ctx, &mut rng, 10, "warm-up", in_city).await;
        let dense = run_kind(&ctx, &mut rng, queries, "city, first page of 20", in_city).await;
        run_kind(&ctx, &mut rng, queries, "region, first page of 20", |r| {
            search(r.gen_range(18.0..43.0), r.gen_range(98.0..123.0))
        })
        .await;
        run_kind(&ctx, &mut rng, queries, "city, page 10 of 20", |r| {
            NearbySearch {
                page: Page { index: 9, size: 20 },
                ..in_city(r)
            }
        })
        .await;
        run_kind(
            &ctx,
            &mut rng,
            queries,
            "city, women 20-30 seen in 30 days",
            |r| NearbySearch {
                sex: Some(0),
                min_age: Some(20),
                max_age: Some(30),
                active: Some(30 * 86_400),
                ..in_city(r)
            },
        )
        .await;
        let scan = full_scan(&store).await;
        println!(
            "  every user read once (a search without the index): {:.1} ms = {:.0}x a city search",
            scan.as_secs_f64() * 1000.0,
            scan.as_secs_f64() / dense
        );
        if let Some(dbs) = dbs {
            dbs.drop_all().await;
        }
    });
}
