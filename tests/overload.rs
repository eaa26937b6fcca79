//! Overload (issue 17 standing check): offered load far above capacity, the server stays
//! responsive, its memory stays bounded and nothing it acknowledged is lost.
//!
//! The server binary runs as a child process (its memory read from `/proc`) with small limits,
//! so "far above capacity" is cheap: four requests in flight per client address and 64 KiB
//! per session queue. For [`LOAD`]: 160 REST clients behind four addresses push messages flat
//! out (40 per address against a cap of 4: most are refused); four XMPP sessions send 1,500
//! chat messages each with receipt requests flat out, to two recipients that are online but
//! never read (their sessions overflow and are ended) and two that are offline. Meanwhile a
//! good client from its own address calls `/getCurrentTime` and pushes a message, again and
//! again. About 20 s.
//!
//! Checked: every good call answers within 10 s with a Shiku envelope; every answer anyone
//! got is a Shiku envelope, success or a clean refusal (HTTP 429 with 1040106), never a 5xx;
//! the good client is never reset; peak RSS stays within [`MEMORY_BOUND`] of idle; every
//! message acknowledged (REST resultCode 1 with its messageId, XMPP `<received/>`) is in the
//! recipient's history afterwards.

#[path = "common/child.rs"]
mod child;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use child::{client_address, ChildServer, Xmpp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shiku_server::domain::util::md5_hex;
use tokio_tungstenite::tungstenite::Message;

/// How long the load is offered.
const LOAD: Duration = Duration::from_secs(10);
/// Peak RSS above idle the server may reach under the load.
const MEMORY_BOUND: u64 = 256 * 1024 * 1024;
/// The liveness deadline of every good call.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// REST clients offering load, and the addresses they share.
const REST_CLIENTS: usize = 160;
const REST_ADDRESSES: usize = 4;
/// XMPP sessions sending flat out, and how many messages each sends at most (so checking the
/// history afterwards stays quick).
const XMPP_SENDERS: usize = 4;
const XMPP_MESSAGES: usize = 1500;

/// A registered user.
#[derive(Clone)]
struct User {
    id: i64,
    token: String,
    xff: String,
}

/// What the load saw: acknowledged `(recipient, messageId)`s and every answer's outcome.
#[derive(Default)]
struct Seen {
    acked: Mutex<Vec<(i64, String)>>,
    outcomes: Mutex<BTreeMap<String, u64>>,
}

impl Seen {
    fn outcome(&self, o: String) {
        *self.outcomes.lock().unwrap().entry(o).or_default() += 1;
    }
}

/// `/tigase/push` of a 1 KB text from `from` to `to` (from `xff`); the outcome label, and the
/// messageId when the server acknowledged it.
async fn push(
    http: &reqwest::Client,
    base: &str,
    from: &User,
    xff: &str,
    to: i64,
    n: usize,
) -> (String, Option<String>) {
    let body = json!({"type": 1, "content": format!("{n:06}{}", "p".repeat(1000))}).to_string();
    let r = http
        .post(format!("http://{base}/tigase/push"))
        .header("X-Forwarded-For", xff)
        .form(&[
            ("access_token", from.token.as_str()),
            ("text", &format!("[{to}]")),
            ("body", &body),
        ])
        .timeout(ANSWER_WITHIN)
        .send()
        .await;
    let r = match r {
        Err(e) => return (format!("transport error: {e}"), None),
        Ok(r) => r,
    };
    let status = r.status().as_u16();
    match r.json::<Value>().await {
        Err(_) => (format!("{status} not JSON"), None),
        Ok(v) => {
            let id = (v["resultCode"] == 1)
                .then(|| v["data"][0]["messageId"].as_str().map(str::to_string))
                .flatten()
                .filter(|_| v["data"][0]["resultCode"] == 1);
            (format!("{status}/{}", v["resultCode"]), id)
        }
    }
}

/// The messageIds of `me`'s 1:1 history with `peer`, every page.
async fn history(base: &str, me: &User, peer: i64) -> HashSet<String> {
    let http = reqwest::Client::new();
    let mut ids = HashSet::new();
    for page in 0.. {
        let v: Value = http
            .get(format!("http://{base}/tigase/shiku_msgs"))
            .header("X-Forwarded-For", &me.xff)
            .query(&[
                ("access_token", me.token.as_str()),
                ("receiver", &peer.to_string()),
                // A page also stops at `limits.max_page_bytes` (8 MiB): 5,000 rows of the
                // REST sender's 4 KB rows would end early and the next index skip the rest.
                ("pageSize", "1000"),
                ("pageIndex", &page.to_string()),
            ])
            .send()
            .await
            .expect("history answered")
            .json()
            .await
            .expect("history JSON");
        assert_eq!(v["resultCode"], 1, "{v}");
        let rows = v["data"].as_array().expect("rows");
        if rows.is_empty() {
            break;
        }
        ids.extend(
            rows.iter()
                .filter_map(|r| r["messageId"].as_str().map(str::to_string)),
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn far_above_capacity_the_server_stays_responsive_bounded_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_shiku-server")),
        dir.path(),
        &[
            ("SHIKU_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "4".into()),
            ("SHIKU_XMPP__SESSION_QUEUE_BYTES", "65536".into()),
            ("SHIKU_XMPP__WRITE_TIMEOUT_SECS", "2".into()),
        ],
    )
    .await
    .unwrap();
    let base = server.base.clone();
    let http = reqwest::Client::new();
    // Good user, 4 recipients, XMPP_SENDERS senders, one REST sender: each registered from an
    // address of its own.
    let n_users = 1 + 4 + XMPP_SENDERS + 1;
    let users: Vec<User> = futures_util::stream::iter(0..n_users)
        .map(|i| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let xff = client_address(100 + i as u64);
                let (id, token) =
                    child::register(&http, &base, &format!("136{i:08}"), &md5_hex("pw"), &xff)
                        .await
                        .unwrap();
                User { id, token, xff }
            }
        })
        .buffered(4)
        .collect()
        .await;
    let good = users[0].clone();
    let recipients = users[1..5].to_vec();
    let senders = users[5..5 + XMPP_SENDERS].to_vec();
    let rest_sender = users[5 + XMPP_SENDERS].clone();
    let ws_url = format!("ws://{base}/xmpp-websocket");

    // Two recipients online that never read.
    let mut deaf = Vec::new();
    for r in &recipients[..2] {
        deaf.push(
            Xmpp::login(&ws_url, &r.xff, r.id, &r.token, "deaf")
                .await
                .unwrap(),
        );
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.status_bytes("VmRSS");
    let sampler = child::PeakRss::start(server.pid());
    let seen = Arc::new(Seen::default());
    let end = Instant::now() + LOAD;

    // REST clients, 40 to an address, flat out.
    let mut tasks = Vec::new();
    for c in 0..REST_CLIENTS {
        let (seen, base, from) = (seen.clone(), base.clone(), rest_sender.clone());
        let to = recipients[c % 4].id;
        let xff = client_address(10_000 + (c % REST_ADDRESSES) as u64);
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0;
            while Instant::now() < end {
                n += 1;
                let (o, id) = push(&http, &base, &from, &xff, to, c * 100_000 + n).await;
                if let Some(id) = id {
                    seen.acked.lock().unwrap().push((to, id));
                }
                seen.outcome(o);
            }
        }));
    }

    // XMPP senders, flat out, receipts collected by a reader of their own.
    for (s, u) in senders.iter().enumerate() {
        let c = Xmpp::login(&ws_url, &u.xff, u.id, &u.token, "flood")
            .await
            .unwrap();
        let (mut sink, mut stream) = c.ws.split();
        let (seen, u) = (seen.clone(), u.clone());
        let to: Vec<i64> = recipients.iter().map(|r| r.id).collect();
        tasks.push(tokio::spawn(async move {
            let reader = tokio::spawn(async move {
                let mut receipted = Vec::new();
                while let Ok(Some(Ok(m))) =
                    tokio::time::timeout(Duration::from_secs(5), stream.next()).await
                {
                    if let Message::Text(t) = m {
                        receipted.extend(child::receipt_id(&t));
                    }
                }
                receipted
            });
            let mut n = 0usize;
            while Instant::now() < end && n < XMPP_MESSAGES {
                let id = format!("x{s}_{n}");
                let frame = child::chat(u.id, to[n % 4], &id, &"c".repeat(200));
                n += 1;
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
            let receipted = reader.await.unwrap();
            let mut acked = seen.acked.lock().unwrap();
            for id in receipted {
                let n: usize = id.rsplit('_').next().unwrap().parse().unwrap();
                acked.push((to[n % 4], id));
            }
        }));
    }

    // The good client throughout.
    let mut good_calls = 0;
    let mut slowest = Duration::ZERO;
    let mut good_acked = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let r = http
            .get(format!("http://{base}/getCurrentTime"))
            .header("X-Forwarded-For", &good.xff)
            .timeout(ANSWER_WITHIN)
            .send()
            .await
            .expect("the good client is answered within 10 s, never reset");
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.expect("a Shiku envelope");
        assert_eq!(v["resultCode"], 1, "{v}");
        assert!(v["currentTime"].is_i64(), "{v}");
        let to = recipients[3].id;
        let (o, id) = push(&http, &base, &good, &good.xff, to, good_calls).await;
        assert_eq!(o, "200/1", "the good client's push");
        good_acked.push((to, id.expect("messageId")));
        slowest = slowest.max(t.elapsed());
        good_calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let peak = sampler.finish().await;
    drop(deaf);

    // Every answer was a Shiku envelope: success, or 429/1040106.
    let outcomes = seen.outcomes.lock().unwrap().clone();
    for o in outcomes.keys() {
        assert!(
            o == "200/1" || o == "429/1040106",
            "unexpected answer {o}: {outcomes:?}"
        );
    }
    assert!(
        outcomes.get("429/1040106").copied().unwrap_or(0) > 0,
        "the load was not above capacity: {outcomes:?}"
    );
    assert!(
        peak.saturating_sub(idle) < MEMORY_BOUND,
        "peak RSS {} MiB over idle {} MiB",
        peak >> 20,
        idle >> 20
    );
    // Nothing acknowledged is lost: each is in its recipient's history.
    let mut acked = std::mem::take(&mut *seen.acked.lock().unwrap());
    acked.extend(good_acked);
    let mut senders_of = vec![rest_sender.id, good.id];
    senders_of.extend(senders.iter().map(|s| s.id));
    for r in &recipients {
        let mut stored = HashSet::new();
        for s in &senders_of {
            stored.extend(history(&base, r, *s).await);
        }
        let mine: Vec<&String> = acked
            .iter()
            .filter(|(to, _)| *to == r.id)
            .map(|(_, id)| id)
            .collect();
        let lost: Vec<&&String> = mine.iter().filter(|id| !stored.contains(**id)).collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged messages to {} are not in the history: {:?}",
            lost.len(),
            mine.len(),
            r.id,
            &lost[..lost.len().min(5)]
        );
    }
    eprintln!(
        "overload: {good_calls} good rounds, slowest {slowest:?}; {} acknowledged; answers \
         {outcomes:?}; RSS idle {} MiB, peak {} MiB",
        acked.len(),
        idle >> 20,
        peak >> 20
    );
}
