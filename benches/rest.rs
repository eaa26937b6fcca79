//! REST hot paths against the framework's ceiling (issue 20).
//!
//! Starts the release server as a child process (embedded store on a fresh data directory, or
//! MongoDB with `REST_STORE=mongodb`: `SHIKU_TEST_MONGODB_URI`, else SecantusDB started here),
//! prepares over the API what clients make (`tests/common/rest_world.rs`: users, friends, a
//! room of `REST_MEMBERS` members, rooms, 1:1 and room history of 128-character messages), then
//! runs `wrk` (Debian's package) against each hot endpoint, GET with the token in the query as
//! the web client sends it, at `REST_CONNECTIONS` (64) connections for `REST_SECONDS` (10)
//! each. The ceiling is a bare actix-web handler answering a small JSON envelope, this very
//! program started again as a child process with `REST_BENCH_BARE`, measured in the same run;
//! each endpoint's req/s is reported as a share of it. Beside it, the same bare program serves
//! each endpoint's own answer, byte for byte (read once from the server before the runs), from
//! memory: the framework's ceiling for moving that answer, so the last column shows what part
//! of the gap is the server's work rather than the answer's size. Options: `REST_STORE`, `REST_SECONDS`,
//! `REST_CONNECTIONS`, `REST_THREADS` (wrk threads, 2), `REST_MEMBERS` (500), `REST_ONLY`
//! (comma-separated endpoint names), `REST_SERVER` (another binary), `REST_HOLD` (seconds:
//! prepare, print the URLs and the server's pid, and wait, for a profiler).
//!
//! On a 2-core machine wrk and the server share the cores, as they did when the issue was
//! measured; the ratios compare like with like.

#[path = "../tests/common/child.rs"]
mod child;
#[path = "../tests/common/rest_world.rs"]
mod rest_world;
#[allow(dead_code)]
#[path = "../tests/common/stores.rs"]
mod stores;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use child::ChildServer;
use rest_world::{endpoints, prepare, Sizes};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- the ceiling ---------------------------------------------------------------------------

/// What the bare handler answers: the Shiku envelope around a small object.
#[derive(serde::Serialize)]
struct BareData {
    #[serde(rename = "userId")]
    user_id: i32,
    nickname: &'static str,
    sex: i32,
}

#[derive(serde::Serialize)]
struct BareAnswer {
    #[serde(rename = "currentTime")]
    current_time: i64,
    data: BareData,
    #[serde(rename = "resultCode")]
    result_code: i32,
}

async fn bare() -> actix_web::HttpResponse {
    let body = serde_json::to_vec(&BareAnswer {
        current_time: chrono::Utc::now().timestamp_millis(),
        data: BareData {
            user_id: 100100,
            nickname: "bare",
            sex: 1,
        },
        result_code: 1,
    })
    .expect("serialises");
    actix_web::HttpResponse::Ok()
        .content_type("application/json; charset=UTF-8")
        .body(body)
}

/// The answers the bare program serves at `/same/<endpoint>` (files named by endpoint in the
/// directory `REST_BENCH_ANSWERS` names).
type Answers = std::collections::HashMap<String, actix_web::web::Bytes>;

fn load_answers() -> std::io::Result<Answers> {
    let mut answers = Answers::new();
    if let Ok(dir) = std::env::var("REST_BENCH_ANSWERS") {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            answers.insert(name, std::fs::read(&path)?.into());
        }
    }
    Ok(answers)
}

async fn same(
    answers: actix_web::web::Data<Answers>,
    name: actix_web::web::Path<String>,
) -> actix_web::HttpResponse {
    match answers.get(name.as_str()) {
        Some(body) => actix_web::HttpResponse::Ok()
            .content_type("application/json; charset=UTF-8")
            .body(body.clone()),
        None => actix_web::HttpResponse::NotFound().finish(),
    }
}

/// The child-process side: serves the bare handler on `addr` with actix-web's defaults (one
/// worker per core, as the server has).
fn serve_bare(addr: &str) -> std::io::Result<()> {
    let answers = actix_web::web::Data::new(load_answers()?);
    actix_web::rt::System::new().block_on(
        actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(answers.clone())
                .route("/same/{name}", actix_web::web::get().to(same))
                .default_service(actix_web::web::to(bare))
        })
        .bind(addr)?
        .run(),
    )
}

/// The bare handler as a child process; killed when dropped.
struct Bare(std::process::Child, String);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_bare(answers: &std::path::Path) -> Result<Bare, String> {
    let addr = format!("127.0.0.1:{}", child::free_port());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let proc = Command::new(exe)
        .env("REST_BENCH_BARE", &addr)
        .env("REST_BENCH_ANSWERS", answers)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let bare = Bare(proc, addr);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&bare.1).await.is_ok() {
            return Ok(bare);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("the bare handler did not listen".into())
}

// ---- wrk -----------------------------------------------------------------------------------

/// One wrk run's figures.
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Non-2xx answers and socket errors.
    errors: u64,
}

/// A wrk latency (`812.00us`, `2.09ms`, `1.02s`) in ms.
fn latency_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(out: &str) -> Result<Figures, String> {
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_string()))
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{out}"))?;
    let pct = |p: &str| field(p).and_then(|v| latency_ms(&v)).unwrap_or(f64::NAN);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(Figures {
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        errors: non_2xx + socket,
    })
}

fn wrk(url: &str, threads: usize, connections: usize, seconds: usize) -> Result<Figures, String> {
    let out = Command::new("wrk")
        .args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            "--latency".into(),
            // A slow store (SecantusDB is one Python process) answers late rather than never:
            // measured as latency, not as wrk's 2 s socket timeouts.
            "--timeout".into(),
            "30s".into(),
            url.into(),
        ])
        .output()
        .map_err(|e| format!("cannot run wrk (Debian's package wrk): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

// ---- main ----------------------------------------------------------------------------------

async fn run() -> Result<bool, String> {
    let seconds = env("REST_SECONDS", 10).max(1);
    let connections = env("REST_CONNECTIONS", 64).max(1);
    let threads = env("REST_THREADS", 2).max(1);
    let members = env("REST_MEMBERS", 500).max(2);
    let only: Option<Vec<String>> = std::env::var("REST_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let mongodb = std::env::var("REST_STORE").is_ok_and(|v| v == "mongodb");
    let binary = std::env::var("REST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_shiku-server")));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    let mut server_env: Vec<(&str, String)> = vec![
        ("SHIKU_CLIENT__XMPP_DOMAIN", child::DOMAIN.into()),
        // The server's own default log level (the child harness quiets it otherwise): the
        // access log is part of what a request costs.
        ("RUST_LOG", "info".into()),
    ];
    let (db, store_name, databases) = if mongodb {
        let (uri, db) = child::bench_mongodb(dir.path()).await?;
        let suffix = shiku_server::domain::util::uuid32()[..8].to_string();
        let m = stores::test_databases(&uri, &suffix);
        server_env.extend(stores::mongo_env(&m));
        let name = if db.is_some() {
            "MongoDB (SecantusDB in memory, started here)"
        } else {
            "MongoDB (SHIKU_TEST_MONGODB_URI)"
        };
        (db, name, Some(stores::dropping(&m)))
    } else {
        (None, "SQLite (embedded default)", None)
    };
    let server = ChildServer::start(&binary, dir.path(), &server_env).await?;

    let http = reqwest::Client::new();
    let sizes = Sizes {
        users: members.max(60),
        friends: 50,
        members,
        rooms: 12,
        chat_messages: 40,
        room_messages: 40,
        content_len: 128,
        parallel: 4,
    };
    let t0 = std::time::Instant::now();
    let world = prepare(&http, &server.base, sizes).await?;
    eprintln!(
        "prepared {} users, {} friends, {} rooms (one of {} members), history in {:.1} s",
        sizes.users,
        sizes.friends,
        sizes.rooms,
        sizes.members,
        t0.elapsed().as_secs_f64()
    );

    let mut targets: Vec<(String, String)> = vec![(
        "getCurrentTime".into(),
        format!("http://{}/getCurrentTime", server.base),
    )];
    targets.extend(
        endpoints(&world)
            .into_iter()
            .map(|(n, p)| (n.to_string(), format!("http://{}{p}", server.base))),
    );
    if let Some(only) = &only {
        targets.retain(|(n, _)| only.contains(n));
    }
    // Every endpoint must answer resultCode 1 before it is measured; its answer is what the
    // bare program serves beside it.
    let answers = dir.path().join("answers");
    std::fs::create_dir_all(&answers).map_err(|e| e.to_string())?;
    for (name, url) in &targets {
        let body = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .bytes()
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{name}: {e}"))?;
        if v["resultCode"] != 1 {
            return Err(format!("{name} answers {v}"));
        }
        std::fs::write(answers.join(name), &body).map_err(|e| e.to_string())?;
    }
    let bare = start_bare(&answers).await?;
    let bare_url = format!("http://{}/bare", bare.1);

    // REST_HOLD=<seconds>: print the URLs and keep the server up (for a profiler).
    if let Some(hold) = std::env::var("REST_HOLD").ok().and_then(|v| v.parse().ok()) {
        println!("bare {bare_url}");
        for (name, url) in &targets {
            println!("{name} {url}");
        }
        println!("server pid {}", server.pid());
        tokio::time::sleep(Duration::from_secs(hold)).await;
        return Ok(true);
    }
    let measure = |name: &str, url: &str| -> Result<Figures, String> {
        // A short warm-up (connections, caches, the allocator) before the measured run.
        wrk(url, threads, connections, 1)?;
        let f = wrk(url, threads, connections, seconds)?;
        eprintln!("{name}: {:.0} req/s", f.rps);
        Ok(f)
    };
    let ceiling = measure("bare actix-web handler", &bare_url)?;
    let mut rows = Vec::new();
    for (name, url) in &targets {
        let f = measure(name, url)?;
        let same = measure(
            &format!("{name}, its answer from the bare handler"),
            &format!("http://{}/same/{name}", bare.1),
        )?;
        rows.push((name.clone(), f, same));
    }
    println!(
        "rest bench: wrk -t{threads} -c{connections} -d{seconds}s, GET with the token in the \
         query; store: {store_name}; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| endpoint | req/s | share of the ceiling | p50 ms | p99 ms | errors | \
         same answer from the bare handler, req/s | share of that |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| bare actix-web handler | {:.0} | 100 % | {:.2} | {:.2} | {} | | |",
        ceiling.rps, ceiling.p50_ms, ceiling.p99_ms, ceiling.errors
    );
    let mut ok = ceiling.errors == 0;
    for (name, f, same) in &rows {
        println!(
            "| {name} | {:.0} | {:.0} % | {:.2} | {:.2} | {} | {:.0} | {:.0} % |",
            f.rps,
            100.0 * f.rps / ceiling.rps,
            f.p50_ms,
            f.p99_ms,
            f.errors,
            same.rps,
            100.0 * f.rps / same.rps,
        );
        ok &= f.errors == 0 && same.errors == 0;
    }
    drop(server);
    drop(databases);
    drop(db);
    Ok(ok)
}

fn main() {
    if let Ok(addr) = std::env::var("REST_BENCH_BARE") {
        if let Err(e) = serve_bare(&addr) {
            eprintln!("bare handler: {e}");
            std::process::exit(2);
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run()) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("rest: some requests failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("rest: {e}");
            std::process::exit(2);
        }
    }
}
