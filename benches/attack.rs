//! The attack catalogue of issue 17 (items 1–7) run all at once against the release server
//! binary (a child process on a temporary data directory, default configuration), while a
//! logged-in user keeps using it. Checks that the server's peak memory stays within
//! [`BUDGET`] above idle and that the good user's REST calls and messages keep working; exits
//! non-zero otherwise.
//!
//! Run (cargo builds the server with the optimised bench profile first):
//!
//! ```text
//! cargo bench --bench attack
//! ```
//!
//! Options (environment): ATTACK_SECONDS (default 40), ATTACK_SLOWLORIS connections (300),
//! ATTACK_VICTIMS sessions that stop reading (20), ATTACK_HISTORY concurrent history readers (8),
//! ATTACK_TEXT_FORMS concurrent 48 MB text-only forms (4), ATTACK_IMAGES concurrent image
//! uploaders (3), ATTACK_ONLY a comma list of the items to run (default all: `1,2,3,4,5,6,7`;
//! one item alone shows what it costs).
//!
//! Every attacker connects with its own address in `X-Forwarded-For` (the server trusts
//! loopback as a proxy, its default), so per-address caps and login guards apply per attacker
//! as in production. The only configuration beyond the defaults is the XMPP TCP listener
//! (`xmpp.listen_tcp`, off by default) for the idle-TCP attack.

#[path = "../tests/common/child.rs"]
mod child;

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use child::{client_address, ChildServer, Xmpp, DOMAIN};
use futures_util::{SinkExt, StreamExt};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use shiku_server::domain::util::md5_hex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Peak memory above idle the server may reach under the catalogue.
const BUDGET: u64 = 300 * 1024 * 1024;
/// Message text of the flooding and history attacks.
const BIG: usize = 60_000;
/// Longest a good user's call may take before it counts as an error.
const GOOD_TIMEOUT: Duration = Duration::from_secs(10);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mb(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

/// Outcomes per attack: `attack → outcome → count`.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<&'static str, BTreeMap<String, u64>>>);

impl Tally {
    fn add(&self, attack: &'static str, outcome: impl Into<String>) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(attack)
            .or_default()
            .entry(outcome.into())
            .or_default() += 1;
    }
}

/// `status/resultCode` of an answer (uploads: `status ok=N failed=M`), or the transport error.
async fn label(r: Result<reqwest::Response, reqwest::Error>) -> String {
    match r {
        Err(e) => err_label(&e),
        Ok(r) => {
            let status = r.status().as_u16();
            match r.json::<Value>().await {
                Ok(v) if v.get("success").is_some() => {
                    format!("{status} ok={} failed={}", v["success"], v["failure"])
                }
                Ok(v) if v.get("resultCode").is_some() => {
                    format!("{status}/{}", v["resultCode"])
                }
                Ok(_) => format!("{status}/no code"),
                Err(e) => format!("{status}/{}", err_label(&e)),
            }
        }
    }
}

fn err_label(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_body() || e.is_request() {
        // Refused mid-body: the server answered and closed while the body was still going.
        "cut off mid-body".into()
    } else {
        "transport error".into()
    }
}

/// A registered user.
#[derive(Clone)]
struct User {
    id: i64,
    token: String,
    xff: String,
}

/// Everything the attack tasks share.
struct World {
    base: String,
    tcp: String,
    tally: Tally,
    end: Instant,
}

impl World {
    fn running(&self) -> bool {
        Instant::now() < self.end
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/xmpp-websocket", self.base)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.base)
    }
}

/// Every user's password; XMPP logins send its md5, as the stock clients do (not the token).
const PASSWORD: &str = "attack-pw";

async fn register_all(base: &str, n: usize) -> Result<Vec<User>, String> {
    let http = reqwest::Client::new();
    let password = md5_hex(PASSWORD);
    let results: Vec<Result<User, String>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (http, password) = (http.clone(), password.clone());
            async move {
                let xff = client_address(1000 + i as u64);
                let (id, token) =
                    child::register(&http, base, &format!("139{i:08}"), &password, &xff).await?;
                Ok(User { id, token, xff })
            }
        })
        .buffered(4)
        .collect()
        .await;
    results.into_iter().collect()
}

/// `/tigase/push` of a `BIG` text from `from` to `to`; the answer's label.
async fn push(http: &reqwest::Client, w: &World, from: &User, to: &[i64], text: &str) -> String {
    let body = json!({"type": 1, "content": text}).to_string();
    let to = serde_json::to_string(to).unwrap();
    let r = http
        .post(w.url("/tigase/push"))
        .header("X-Forwarded-For", &from.xff)
        .form(&[
            ("access_token", from.token.as_str()),
            ("text", &to),
            ("body", &body),
        ])
        .send()
        .await;
    label(r).await
}

fn filler(seed: usize) -> String {
    let mut s = format!("{seed:08}");
    s.push_str(&"m".repeat(BIG - s.len()));
    s
}

/// Item 1: text-only multipart forms of 48 MB.
async fn text_forms(w: Arc<World>, n: u64, text: &'static [u8]) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    while w.running() {
        // Four text fields of 12 MB (no file name: text parts), nothing else.
        let mut form = Form::new().text("userId", "1");
        for i in 0..4 {
            let part = Part::stream_with_length(reqwest::Body::from(text), text.len() as u64);
            form = form.part(format!("t{i}"), part);
        }
        let r = http
            .post(w.url("/upload/UploadServlet"))
            .header("X-Forwarded-For", client_address(20_000 + n))
            .multipart(form)
            .send()
            .await;
        w.tally.add("1 text-only forms 48 MB", label(r).await);
    }
}

/// Item 2: PNGs declaring 16384×8000 and real ~36 MP ones, as files and as avatars.
async fn image_bombs(w: Arc<World>, u: User, bomb: &'static [u8], big: &'static [u8]) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let mut i = 0usize;
    while w.running() {
        let (png, what) = if i.is_multiple_of(2) {
            (bomb, "16384x8000")
        } else {
            (big, "36 MP")
        };
        let avatar = (i / 2) % 2 == 1;
        i += 1;
        let path = if avatar {
            "/upload/UploadAvatarServlet"
        } else {
            "/upload/UploadServlet"
        };
        let form = Form::new()
            .text("userId", u.id.to_string())
            .text("access_token", u.token.clone())
            .part("file", Part::bytes(png).file_name("x.png"));
        let r = http
            .post(w.url(path))
            .header("X-Forwarded-For", &u.xff)
            .multipart(form)
            .send()
            .await;
        let kind = if avatar { "avatar" } else { "file" };
        w.tally.add(
            "2 image bombs",
            format!("{what} {kind}: {}", label(r).await),
        );
    }
}

/// Item 3, the victim side: a session that logs in and then reads nothing, again and again.
async fn slow_reader(w: Arc<World>, u: User) {
    while w.running() {
        match Xmpp::login(&w.ws_url(), &u.xff, u.id, &md5_hex(PASSWORD), "slow").await {
            Ok(c) => {
                w.tally.add("3 sessions that stop reading", "logged in");
                tokio::time::sleep(Duration::from_secs(15)).await;
                drop(c);
            }
            Err(e) => {
                w.tally.add(
                    "3 sessions that stop reading",
                    format!("login failed: {e:.40}"),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Item 3, the flood over REST: 60 KB pushes to every victim at once.
async fn rest_flooder(w: Arc<World>, u: User, victims: Vec<i64>) {
    let http = reqwest::Client::new();
    let mut n = 0;
    while w.running() {
        n += 1;
        let l = push(&http, &w, &u, &victims, &filler(n)).await;
        w.tally.add("3 flood: /tigase/push 60 KB", l);
    }
}

/// Item 3, the flood over XMPP: 60 KB chat messages to the victims in turn.
async fn xmpp_flooder(w: Arc<World>, u: User, victims: Vec<i64>) {
    let c = match Xmpp::login(&w.ws_url(), &u.xff, u.id, &md5_hex(PASSWORD), "flood").await {
        Ok(c) => c,
        Err(e) => {
            w.tally
                .add("3 flood: XMPP 60 KB", format!("login failed: {e:.40}"));
            return;
        }
    };
    let (mut sink, mut stream) = c.ws.split();
    let receipts = Arc::new(AtomicU64::new(0));
    let counted = receipts.clone();
    // Reads what comes back (receipts), so the flooder itself is not a slow reader.
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m {
                if t.contains("<received") {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let mut n = 0usize;
    while w.running() {
        let to = victims[n % victims.len()];
        let frame = child::chat(u.id, to, &format!("fl_{n}"), &filler(n));
        n += 1;
        if sink.send(Message::text(frame)).await.is_err() {
            w.tally.add("3 flood: XMPP 60 KB", "session ended");
            break;
        }
        w.tally.add("3 flood: XMPP 60 KB", "sent");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    reader.abort();
    let got = receipts.load(Ordering::Relaxed);
    for _ in 0..got {
        w.tally.add("3 flood: XMPP 60 KB", "receipted");
    }
}

/// Item 4: a user whose offline queue is full logs in (and reads), then the queue is refilled.
async fn offline_login(w: Arc<World>, o: User, filler_user: User) {
    let http = reqwest::Client::new();
    let mut seq = 1_000_000;
    while w.running() {
        match Xmpp::login(&w.ws_url(), &o.xff, o.id, &md5_hex(PASSWORD), "late").await {
            Ok(mut c) => {
                w.tally.add("4 full offline queue, login", "logged in");
                let until = Instant::now() + Duration::from_secs(8);
                let mut got = 0u64;
                while Instant::now() < until {
                    match c.next(Duration::from_secs(1)).await {
                        Ok(Some(f)) if f.contains("<message") => got += 1,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                w.tally.add("4 full offline queue, login", bucket(got));
            }
            Err(e) => w.tally.add(
                "4 full offline queue, login",
                format!("login failed: {e:.40}"),
            ),
        }
        // Refill while it is offline.
        for _ in 0..200 {
            if !w.running() {
                break;
            }
            seq += 1;
            let l = push(&http, &w, &filler_user, &[o.id], &filler(seq)).await;
            w.tally.add("4 refill /tigase/push", l);
        }
    }
}

/// A rough size class for a count of delivered messages.
fn bucket(n: u64) -> &'static str {
    match n {
        0 => "delivered 0",
        1..=99 => "delivered 1-99",
        100..=999 => "delivered 100-999",
        _ => "delivered 1000+",
    }
}

/// Item 5: pages of 5,000 rows of 60 KB messages, over and over.
async fn history_reader(w: Arc<World>, n: u64, me: User, peer: i64, room: String) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let xff = client_address(30_000 + n);
    let mut i = 0;
    while w.running() {
        let (path, q): (&str, Vec<(&str, String)>) = match i % 3 {
            0 => ("/tigase/shiku_msgs", vec![("receiver", peer.to_string())]),
            1 => ("/tigase/shiku_muc_msgs", vec![("roomId", room.clone())]),
            _ => ("/tigase/getLastChatList", vec![]),
        };
        i += 1;
        let mut q = q;
        q.push(("access_token", me.token.clone()));
        q.push(("pageSize", "5000".into()));
        let r = http
            .get(w.url(path))
            .header("X-Forwarded-For", &xff)
            .query(&q)
            .send()
            .await;
        w.tally.add("5 history pages of 5000", label(r).await);
    }
}

/// A stream header with 24,000 attributes.
fn many_attrs(head: &str, tail: &str) -> String {
    let mut s = head.to_string();
    for i in 0..24_000 {
        s.push_str(&format!(" a{i}='v'"));
    }
    s.push_str(tail);
    s
}

/// Item 6: `<open>`, BOSH `<body>` and `<stream:stream>` headers with 24,000 attributes.
async fn attribute_flood(w: Arc<World>, n: u64) {
    let open = many_attrs(
        &format!(
            r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0""#
        ),
        "/>",
    );
    let bosh = many_attrs(
        &format!(r#"<body xmlns="http://jabber.org/protocol/httpbind" rid="1" to="{DOMAIN}""#),
        "/>",
    );
    let stream = many_attrs(
        &format!(
            r#"<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="{DOMAIN}" version="1.0""#
        ),
        ">",
    );
    let http = reqwest::Client::new();
    let mut i = 0u64;
    while w.running() {
        let xff = client_address(40_000 + n * 1000 + i % 1000);
        i += 1;
        match i % 3 {
            0 => {
                let outcome = match Xmpp::connect(&w.ws_url(), &xff).await {
                    Err(e) => format!("websocket: connect failed {e:.30}"),
                    Ok(mut c) => {
                        let _ = c.send(&open).await;
                        match c.until(|f| f.contains("error")).await {
                            Ok(f) if f.contains("policy-violation") => {
                                "websocket: policy-violation".into()
                            }
                            Ok(_) => "websocket: other error".into(),
                            Err(_) => "websocket: closed".into(),
                        }
                    }
                };
                w.tally.add("6 headers with 24000 attributes", outcome);
            }
            1 => {
                let r = http
                    .post(w.url("/http-bind"))
                    .header("X-Forwarded-For", &xff)
                    .header("Content-Type", "text/xml")
                    .body(bosh.clone())
                    .send()
                    .await;
                let outcome = match r {
                    Err(e) => format!("bosh: {}", err_label(&e)),
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let t = r.text().await.unwrap_or_default();
                        let cond = attr_value(&t, "condition").unwrap_or_default();
                        format!("bosh: {status} {cond}")
                    }
                };
                w.tally.add("6 headers with 24000 attributes", outcome);
            }
            _ => {
                let outcome = match TcpStream::connect(&w.tcp).await {
                    Err(_) => "tcp: connect failed".to_string(),
                    Ok(mut s) => {
                        let _ = s.write_all(stream.as_bytes()).await;
                        let got = read_some(&mut s, Duration::from_secs(10)).await;
                        if got.contains("policy-violation") {
                            "tcp: policy-violation".into()
                        } else if got.is_empty() {
                            "tcp: closed".into()
                        } else {
                            "tcp: other".into()
                        }
                    }
                };
                w.tally.add("6 headers with 24000 attributes", outcome);
            }
        }
    }
}

fn attr_value(text: &str, name: &str) -> Option<String> {
    child::attr(text, name)
}

/// What comes on `s` until it closes or `wait` passes.
async fn read_some(s: &mut TcpStream, wait: Duration) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(wait, async {
        while let Ok(n) = s.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Item 7: a connection trickling its head (or, with `xff`, its body) a byte every 2 s;
/// reconnects when the server lets go.
async fn slowloris(w: Arc<World>, xff: Option<String>) {
    let what = if xff.is_some() {
        "7 slowloris body"
    } else {
        "7 slowloris head"
    };
    while w.running() {
        let Ok(s) = TcpStream::connect(&w.base).await else {
            w.tally.add(what, "connect failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let (mut rd, mut wr) = s.into_split();
        let start = match &xff {
            Some(a) => format!(
                "POST /user/login HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {a}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\na"
            ),
            None => "GET /getCurrentTime HTTP/1.1\r\nHost: x\r\nX-Pad: a".into(),
        };
        if wr.write_all(start.as_bytes()).await.is_err() {
            w.tally.add(what, "reset");
            continue;
        }
        let mut buf = [0u8; 2048];
        let outcome = loop {
            tokio::select! {
                r = rd.read(&mut buf) => break match r {
                    Ok(0) | Err(_) => "closed without answer".to_string(),
                    Ok(n) => {
                        let t = String::from_utf8_lossy(&buf[..n]);
                        let status = t.split(' ').nth(1).unwrap_or("?").to_string();
                        let code = t.find("\"resultCode\":").map(|i| {
                            t[i + 13..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>()
                        });
                        match code {
                            Some(c) => format!("{status}/{c}"),
                            None => status,
                        }
                    }
                },
                _ = tokio::time::sleep(Duration::from_secs(2)) => {
                    if !w.running() {
                        break "held to the end".into();
                    }
                    if wr.write_all(b"a").await.is_err() {
                        break "reset".into();
                    }
                }
            }
        };
        w.tally.add(what, outcome);
    }
}

/// Item 7: idle unauthenticated XMPP, over TCP (`xmpp.listen_tcp`) and WebSocket.
async fn idle_xmpp(w: Arc<World>, n: u64, tcp: bool) {
    let what = if tcp {
        "7 idle XMPP TCP"
    } else {
        "7 idle XMPP WebSocket"
    };
    while w.running() {
        let left = w.end.saturating_duration_since(Instant::now());
        if tcp {
            let Ok(mut s) = TcpStream::connect(&w.tcp).await else {
                w.tally.add(what, "connect failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let got = read_some(&mut s, left).await;
            w.tally.add(
                what,
                if !w.running() {
                    "held to the end"
                } else if got.contains("connection-timeout") {
                    "connection-timeout"
                } else {
                    "closed"
                },
            );
        } else {
            match Xmpp::connect(&w.ws_url(), &client_address(50_000 + n)).await {
                Err(_) => {
                    w.tally.add(what, "connect failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(mut c) => {
                    let r = c.next(left).await;
                    w.tally.add(
                        what,
                        match r {
                            _ if !w.running() => "held to the end",
                            Ok(Some(f)) if f.contains("connection-timeout") => "connection-timeout",
                            _ => "closed",
                        },
                    );
                }
            }
        }
    }
}

/// What the good user saw.
#[derive(Default)]
struct Good {
    rest_ms: Vec<f64>,
    msg_ms: Vec<f64>,
    requests: u64,
    errors: BTreeMap<String, u64>,
    sent: Vec<String>,
    delivered: u64,
}

impl Good {
    fn error(&mut self, what: impl Into<String>) {
        *self.errors.entry(what.into()).or_default() += 1;
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One good REST call; its latency, or the error.
async fn good_call(
    http: &reqwest::Client,
    w: &World,
    g: &User,
    path: &str,
    good: &mut Good,
) -> Option<Value> {
    let t = Instant::now();
    good.requests += 1;
    let r = http
        .get(w.url(path))
        .header("X-Forwarded-For", &g.xff)
        .query(&[("access_token", g.token.as_str())])
        .timeout(GOOD_TIMEOUT)
        .send()
        .await;
    let v = match r {
        Err(e) => {
            good.error(format!("{path}: {}", err_label(&e)));
            return None;
        }
        Ok(r) => r.json::<Value>().await,
    };
    good.rest_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    match v {
        Ok(v) if v["resultCode"] == 1 => Some(v),
        Ok(v) => {
            good.error(format!("{path}: resultCode {}", v["resultCode"]));
            None
        }
        Err(_) => {
            good.error(format!("{path}: not JSON"));
            None
        }
    }
}

/// The good user: REST calls and XMPP messages to a friend, in a loop until the end.
async fn good_user(w: Arc<World>, g: User, f: User) -> Good {
    let mut good = Good::default();
    let http = reqwest::Client::new();
    let arrived: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut gx = match Xmpp::login(&w.ws_url(), &g.xff, g.id, &md5_hex(PASSWORD), "good").await {
        Ok(c) => c,
        Err(e) => {
            good.error(format!("XMPP login: {e}"));
            return good;
        }
    };
    let fx = match Xmpp::login(&w.ws_url(), &f.xff, f.id, &md5_hex(PASSWORD), "friend").await {
        Ok(c) => c,
        Err(e) => {
            good.error(format!("friend's XMPP login: {e}"));
            return good;
        }
    };
    // The friend reads everything and notes which good messages arrived.
    let seen = arrived.clone();
    let friend = tokio::spawn(async move {
        let mut fx = fx;
        loop {
            match fx.next(Duration::from_secs(3600)).await {
                Ok(Some(t)) if t.contains("<message") => {
                    if let Some(id) = child::attr(&t, "id") {
                        seen.lock().unwrap().insert(id);
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let mut n = 0;
    while w.running() {
        good_call(&http, &w, &g, "/getCurrentTime", &mut good).await;
        good_call(&http, &w, &g, "/user/get", &mut good).await;
        n += 1;
        let id = format!("good_{n}");
        let t = Instant::now();
        if let Err(e) = gx
            .send(&child::chat(g.id, f.id, &id, &format!("hello {n}")))
            .await
        {
            good.error(format!("XMPP send: {e:.40}"));
            break;
        }
        good.sent.push(id.clone());
        match gx
            .until(|fr| child::receipt_id(fr).as_deref() == Some(id.as_str()))
            .await
        {
            Ok(_) => good.msg_ms.push(t.elapsed().as_secs_f64() * 1000.0),
            Err(e) => {
                good.error(format!("receipt: {e:.40}"));
                break;
            }
        }
        let deadline = Instant::now() + GOOD_TIMEOUT;
        loop {
            if arrived.lock().unwrap().contains(&id) {
                good.delivered += 1;
                break;
            }
            if Instant::now() > deadline {
                good.error("message not delivered to the friend within 10 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every message is in the history too.
    let v = http
        .get(w.url("/tigase/shiku_msgs"))
        .header("X-Forwarded-For", &g.xff)
        .query(&[
            ("access_token", g.token.as_str()),
            ("receiver", &f.id.to_string()),
            ("pageSize", "5000"),
        ])
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let ids: HashSet<String> = match v {
        Ok(r) => r.json::<Value>().await.ok(),
        Err(_) => None,
    }
    .and_then(|v| {
        v["data"].as_array().map(|rows| {
            rows.iter()
                .filter_map(|r| r["messageId"].as_str().map(str::to_string))
                .collect()
        })
    })
    .unwrap_or_default();
    let missing = good.sent.iter().filter(|id| !ids.contains(*id)).count();
    if missing > 0 {
        good.error(format!("{missing} sent messages missing from history"));
    }
    friend.abort();
    good
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `img` encoded as PNG, kept for the whole run.
fn png(img: image::DynamicImage) -> &'static [u8] {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    Box::leak(out.into_boxed_slice())
}

/// Room history for the `shiku_muc_msgs` reader: `owner` creates a room with `member` and
/// sends it `n` 60 KB messages over XMPP. Returns the room's jid.
async fn seed_room(w: &World, owner: &User, member: &User, n: usize) -> Result<String, String> {
    let jid = md5_hex(&format!("attack-room-{}", owner.id));
    let http = reqwest::Client::new();
    let v: Value = http
        .post(w.url("/room/add"))
        .header("X-Forwarded-For", &owner.xff)
        .form(&[
            ("access_token", owner.token.as_str()),
            ("jid", &jid),
            ("name", "attack"),
            ("desc", "attack"),
            ("text", &format!("[{}]", member.id)),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if v["resultCode"] != 1 {
        return Err(format!("/room/add: {v}"));
    }
    let mut c = Xmpp::login(
        &w.ws_url(),
        &owner.xff,
        owner.id,
        &md5_hex(PASSWORD),
        "seed",
    )
    .await?;
    c.send(&format!(
        r#"<presence to="{jid}@muc.{DOMAIN}/{}"><x xmlns="http://jabber.org/protocol/muc"/></presence>"#,
        owner.id
    ))
    .await?;
    for i in 0..n {
        let body = json!({"messageId": format!("room_{i}"), "type": 1, "content": filler(i)});
        c.send(&format!(
            r#"<message to="{jid}@muc.{DOMAIN}" type="groupchat" id="room_{i}"><body>{}</body></message>"#,
            body.to_string().replace('&', "&amp;").replace('<', "&lt;")
        ))
        .await?;
        // The room reflects each message to its sender once it is stored.
        c.until(|f| f.contains(&format!("\"room_{i}\""))).await?;
    }
    Ok(jid)
}

async fn run() -> Result<bool, String> {
    let seconds = env("ATTACK_SECONDS", 40) as u64;
    let slowloris_n = env("ATTACK_SLOWLORIS", 300);
    let victims_n = env("ATTACK_VICTIMS", 20);
    let history_n = env("ATTACK_HISTORY", 8);
    let text_n = env("ATTACK_TEXT_FORMS", 4);
    let images_n = env("ATTACK_IMAGES", 3);
    let only: Vec<usize> = std::env::var("ATTACK_ONLY")
        .unwrap_or_else(|_| "1,2,3,4,5,6,7".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let on = |item: usize| only.contains(&item);

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tcp = format!("127.0.0.1:{}", child::free_port());
    let server = ChildServer::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_shiku-server")),
        dir.path(),
        &[
            // The default already; stated because every attacker relies on it.
            ("SHIKU_TRUSTED_PROXIES", "127.0.0.1,::1".into()),
            ("SHIKU_XMPP__LISTEN_TCP", tcp.clone()),
        ],
    )
    .await?;

    // Users: good, friend, victims, flooders, offline user and its filler, history pair,
    // image uploaders.
    let t = Instant::now();
    let n_users = 2 + victims_n + 2 + 2 + 2 + images_n;
    let users = register_all(&server.base, n_users).await?;
    let (good, friend) = (users[0].clone(), users[1].clone());
    let victims = users[2..2 + victims_n].to_vec();
    let rest = &users[2 + victims_n..];
    let (flood_rest, flood_xmpp) = (rest[0].clone(), rest[1].clone());
    let (offline, offline_filler) = (rest[2].clone(), rest[3].clone());
    let (h1, h2) = (rest[4].clone(), rest[5].clone());
    let uploaders = rest[6..].to_vec();

    let world = Arc::new(World {
        base: server.base.clone(),
        tcp,
        tally: Tally::default(),
        end: Instant::now() + Duration::from_secs(3600),
    });
    let http = reqwest::Client::new();
    // The good user and the friend are friends.
    let v: Value = http
        .post(world.url("/friends/attention/add"))
        .header("X-Forwarded-For", &friend.xff)
        .form(&[
            ("access_token", friend.token.as_str()),
            ("toUserId", &good.id.to_string()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if v["data"]["type"] != 2 {
        let v: Value = http
            .post(world.url("/friends/add"))
            .header("X-Forwarded-For", &good.xff)
            .form(&[
                ("access_token", good.token.as_str()),
                ("toUserId", &friend.id.to_string()),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if v["resultCode"] != 1 {
            return Err(format!("befriend: {v}"));
        }
    }

    // History of large messages (beyond the 8 MiB page budget), a room's too, and a
    // conversation list with a large last message per entry.
    let seed = |from: User, to: Vec<i64>, count: usize, base: usize| {
        let w = world.clone();
        let http = http.clone();
        async move {
            let labels: Vec<String> = futures_util::stream::iter(0..count)
                .map(|i| {
                    let (w, http, from, to) = (w.clone(), http.clone(), from.clone(), to.clone());
                    async move { push(&http, &w, &from, &to, &filler(base + i)).await }
                })
                .buffer_unordered(4)
                .collect()
                .await;
            labels.iter().filter(|l| *l != "200/1").count()
        }
    };
    let mut failed = seed(h1.clone(), vec![h2.id], 300, 0).await;
    failed += seed(h1.clone(), users.iter().map(|u| u.id).collect(), 1, 500).await;
    // Fill the offline user's queue past its caps (10,000 items / 64 MiB; oldest dropped).
    failed += seed(offline_filler.clone(), vec![offline.id], 1200, 10_000).await;
    if failed > 0 {
        return Err(format!("{failed} seeding pushes failed"));
    }
    let room = match seed_room(&world, &h1, &h2, 150).await {
        Ok(j) => j,
        Err(e) => {
            eprintln!("room history not seeded ({e}); its reader gets an error page");
            md5_hex("no-room")
        }
    };

    // The attack's payloads, built before idle is measured.
    let text: &'static [u8] = Box::leak(vec![b'x'; 12 * 1024 * 1024].into_boxed_slice());
    let bomb = png(image::DynamicImage::ImageLuma8(image::GrayImage::new(
        16384, 8000,
    )));
    let big = png(image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(
        6000,
        6000,
        |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8]),
    )));
    let setup = t.elapsed().as_secs_f64();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = server.status_bytes("VmRSS");
    server.reset_peak();
    let sampler = child::PeakRss::start(server.pid());
    let world = Arc::new(World {
        base: world.base.clone(),
        tcp: world.tcp.clone(),
        tally: Tally::default(),
        end: Instant::now() + Duration::from_secs(seconds),
    });
    let w = &world;
    let mut tasks = Vec::new();
    for i in (0..text_n).filter(|_| on(1)) {
        tasks.push(tokio::spawn(text_forms(w.clone(), i as u64, text)));
    }
    for u in uploaders.into_iter().filter(|_| on(2)) {
        tasks.push(tokio::spawn(image_bombs(w.clone(), u, bomb, big)));
    }
    let victim_ids: Vec<i64> = victims.iter().map(|u| u.id).collect();
    if on(3) {
        for u in victims {
            tasks.push(tokio::spawn(slow_reader(w.clone(), u)));
        }
        tasks.push(tokio::spawn(rest_flooder(
            w.clone(),
            flood_rest,
            victim_ids.clone(),
        )));
        tasks.push(tokio::spawn(xmpp_flooder(
            w.clone(),
            flood_xmpp,
            victim_ids,
        )));
    }
    if on(4) {
        tasks.push(tokio::spawn(offline_login(
            w.clone(),
            offline,
            offline_filler,
        )));
    }
    for i in (0..history_n).filter(|_| on(5)) {
        let (me, peer) = if i % 2 == 0 { (&h1, &h2) } else { (&h2, &h1) };
        tasks.push(tokio::spawn(history_reader(
            w.clone(),
            i as u64,
            me.clone(),
            peer.id,
            room.clone(),
        )));
    }
    for i in (0..2).filter(|_| on(6)) {
        tasks.push(tokio::spawn(attribute_flood(w.clone(), i)));
    }
    for i in (0..slowloris_n).filter(|_| on(7)) {
        let xff = (i % 2 == 1).then(|| client_address(60_000 + i as u64));
        tasks.push(tokio::spawn(slowloris(w.clone(), xff)));
    }
    for i in (0..50).filter(|_| on(7)) {
        tasks.push(tokio::spawn(idle_xmpp(w.clone(), i, true)));
        tasks.push(tokio::spawn(idle_xmpp(w.clone(), i, false)));
    }
    let good_task = tokio::spawn(good_user(w.clone(), good, friend));
    let good = good_task.await.map_err(|e| e.to_string())?;
    // Attackers blocked in a long request get a moment to finish, then are stopped.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for t in &tasks {
        t.abort();
    }
    let sampled = sampler.finish().await;
    let hwm = server.status_bytes("VmHWM");
    let after = server.status_bytes("VmRSS");
    let peak = sampled.max(hwm);
    let over = peak.saturating_sub(idle);

    let mut good = good;
    let (p50, p99) = (pct(&mut good.rest_ms, 0.5), pct(&mut good.rest_ms, 0.99));
    let (m50, m99) = (pct(&mut good.msg_ms, 0.5), pct(&mut good.msg_ms, 0.99));
    println!("attack catalogue (items {only:?}): {seconds} s, setup {setup:.0} s, {n_users} users");
    println!("{:<34} {:>10}", "server memory", "MiB");
    println!("{:<34} {:>10.1}", "idle RSS", mb(idle));
    println!("{:<34} {:>10.1}", "peak RSS (VmHWM)", mb(hwm));
    println!("{:<34} {:>10.1}", "peak RSS (sampled VmRSS)", mb(sampled));
    println!("{:<34} {:>10.1}", "RSS after", mb(after));
    println!(
        "{:<34} {:>10.1}  (budget {:.0}: {})",
        "peak - idle",
        mb(over),
        mb(BUDGET),
        if over <= BUDGET { "ok" } else { "EXCEEDED" }
    );
    println!(
        "good user: {} REST calls, p50 {p50:.1} ms, p99 {p99:.1} ms; {} messages, {} receipted \
         (p50 {m50:.1} ms, p99 {m99:.1} ms), {} delivered; {} errors",
        good.requests,
        good.sent.len(),
        good.msg_ms.len(),
        good.delivered,
        good.error_count()
    );
    for (e, n) in &good.errors {
        println!("  error {n:>5} × {e}");
    }
    println!("{:<34} {:>8}  outcome", "attack", "count");
    for (attack, outcomes) in world.tally.0.lock().unwrap().iter() {
        for (i, (o, n)) in outcomes.iter().enumerate() {
            let name = if i == 0 { *attack } else { "" };
            println!("{name:<34} {n:>8}  {o}");
        }
    }
    let mut server = server;
    if !server.alive() {
        println!("the server died:\n{}", server.log_tail());
        return Ok(false);
    }
    let good_ok = good.error_count() == 0 && !good.sent.is_empty();
    Ok(over <= BUDGET && good_ok)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run()) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("attack: the budget was exceeded or the good user failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("attack: {e}");
            std::process::exit(2);
        }
    }
}
