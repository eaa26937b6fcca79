//! Load generator for several nodes: the release server binary as 1, 2 and 3 cluster nodes
//! (child processes) on one MongoDB and one NATS server, XMPP senders and receivers spread over
//! the nodes so that with two or more nodes every pair's sender and receiver sit on different
//! nodes, 1:1 chat messages at a steady rate. Reports delivered messages/s, delivery latency
//! (send to the receiver reading it; the send time travels in the body) and CPU per delivered
//! message of the nodes and NATS (`/proc/<pid>/stat` utime + stime), and what a cross-node
//! message costs over one node.
//!
//! Run (cargo builds the server with the optimised bench profile first):
//!
//! ```text
//! cargo bench --bench cluster
//! ```
//!
//! Needs `nats-server` (Debian package; or `NATS_SERVER`) and a MongoDB: `SHIKU_TEST_MONGODB_URI`
//! when set (fresh databases per configuration, dropped afterwards), else SecantusDB started
//! here from `target/interop-venv/bin/secantusd-py` (or `SECANTUSD`), in memory.
//!
//! Options (environment): CLUSTER_PAIRS sender/receiver pairs (default 20), CLUSTER_RATE total
//! messages/s offered (40: below what SecantusDB stores on 2 cores, about 85/s, so latency shows
//! the path rather than the database's queue; raise it on a real mongod), CLUSTER_SECONDS
//! sending time per configuration (10),
//! CLUSTER_WINDOW unreceipted messages one sender may have in flight; a tick that finds the
//! window full sends nothing and counts as throttled (8), CLUSTER_NODES the node counts to run
//! (`1,2,3`), CLUSTER_STANDALONE=0 skips the baseline of one node without the bus,
//! CLUSTER_SERVER another server binary.
//!
//! CPU per message includes what the idle nodes and NATS spend anyway (heartbeats, dead-node
//! sweeps), shown as its own column (measured for 3 s before the load).
//! The database's CPU is shown when the bench started SecantusDB itself.
//!
//! Every node count runs in cluster mode (`SHIKU_CLUSTER__NODE_ID`, `SHIKU_CLUSTER__NATS_URL`),
//! the 1-node one too, so its figures carry the session directory's cost and the difference to
//! 2 and 3 nodes is the bus hop; the standalone baseline (no NATS URL) shows what cluster mode
//! costs one node. Every sender and receiver logs in over XMPP with the md5 password, as the
//! stock clients do, from an address of its own (`X-Forwarded-For`; loopback is a trusted
//! proxy). On a 2-core machine the nodes, NATS, the database and this generator share the
//! cores: the figures measure the overhead of the cross-node path, not scaling.

#[path = "../tests/common/child.rs"]
mod child;
#[path = "../tests/common/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "../tests/common/stores.rs"]
mod stores;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use child::{chat, client_address, receipt_id, ChildServer, Xmpp};
use futures_util::{SinkExt, StreamExt};
use shiku_server::domain::util::{md5_hex, uuid32};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// Every generated user's password; XMPP logins send its md5.
const PASSWORD: &str = "cluster-bench-pw";
/// Longest the generator waits for every sent message to be delivered after a run.
const DRAIN: Duration = Duration::from_secs(15);
/// How long the idle cluster's CPU is measured before the load.
const IDLE: Duration = Duration::from_secs(3);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Opts {
    pairs: usize,
    rate: f64,
    seconds: u64,
    window: usize,
    nodes: Vec<usize>,
    standalone: bool,
}

impl Opts {
    fn from_env() -> Opts {
        let nodes = std::env::var("CLUSTER_NODES")
            .unwrap_or_else(|_| "1,2,3".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .filter(|n| *n > 0)
            .collect();
        Opts {
            pairs: env("CLUSTER_PAIRS", 20).max(1),
            rate: env("CLUSTER_RATE", 40).max(1) as f64,
            seconds: env("CLUSTER_SECONDS", 10) as u64,
            window: env("CLUSTER_WINDOW", 8).max(1),
            nodes,
            standalone: env("CLUSTER_STANDALONE", 1) != 0,
        }
    }
}

// ---- CPU ----------------------------------------------------------------------------------------

/// utime + stime of a process so far, ms (0 when unreadable).
fn cpu_ms(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which may hold spaces: state is field 3, utime 14.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 * 1000.0 / hz
}

// ---- the nodes ----------------------------------------------------------------------------------

/// One configuration's servers: cluster nodes, or a single node without the bus.
enum Servers {
    Cluster(cluster::Nodes),
    Standalone(ChildServer),
}

impl Servers {
    fn len(&self) -> usize {
        match self {
            Servers::Cluster(n) => n.len(),
            Servers::Standalone(_) => 1,
        }
    }

    fn base(&self, i: usize) -> String {
        match self {
            Servers::Cluster(n) => n.base(i),
            Servers::Standalone(s) => s.base.clone(),
        }
    }

    fn xmpp_url(&self, i: usize) -> String {
        format!("ws://{}/xmpp-websocket", self.base(i))
    }

    fn node_pids(&self) -> Vec<u32> {
        match self {
            Servers::Cluster(n) => (0..n.len()).map(|i| n.pid(i)).collect(),
            Servers::Standalone(s) => vec![s.pid()],
        }
    }

    fn nats_pid(&self) -> Option<u32> {
        match self {
            Servers::Cluster(n) => n.nats.pid(),
            Servers::Standalone(_) => None,
        }
    }

    fn logs(&self) -> String {
        match self {
            Servers::Cluster(n) => n.logs(),
            Servers::Standalone(s) => s.log_tail(),
        }
    }
}

/// CPU ms so far of the nodes, NATS, the database and this generator.
#[derive(Clone, Copy, Default)]
struct Cpu {
    nodes: f64,
    nats: f64,
    db: f64,
    generator: f64,
}

fn cpu(servers: &Servers, db: Option<u32>) -> Cpu {
    Cpu {
        nodes: servers.node_pids().into_iter().map(cpu_ms).sum(),
        nats: servers.nats_pid().map(cpu_ms).unwrap_or(0.0),
        db: db.map(cpu_ms).unwrap_or(0.0),
        generator: cpu_ms(std::process::id()),
    }
}

// ---- the load -----------------------------------------------------------------------------------

/// Counters every task updates; the drain after a run watches them.
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    throttled: AtomicU64,
    receipted: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    /// Senders that stopped sending (so `sent` is final).
    finished: AtomicU64,
}

/// What one receiver saw.
#[derive(Default)]
struct Received {
    /// Send-to-delivery latencies, µs.
    latency_us: Vec<u64>,
    /// When the last first delivery arrived, µs since the run's epoch.
    last_us: u64,
    duplicates: u64,
}

/// The send time (µs since the epoch) a delivered chat carries: its content is `ts:<µs>`.
fn sent_at(frame: &str) -> Option<u64> {
    let i = frame.find("ts:")? + 3;
    let digits: String = frame[i..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Reads a receiver's deliveries until `stop`.
async fn receiver(
    c: Xmpp,
    epoch: Instant,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let (_sink, mut stream) = c.ws.split();
    let mut got = Received::default();
    let mut seen = HashSet::new();
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            f = stream.next() => f,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                progress.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
        };
        if !text.starts_with("<message") {
            continue;
        }
        let (Some(id), Some(sent)) = (child::attr(&text, "id"), sent_at(&text)) else {
            continue;
        };
        let now = epoch.elapsed().as_micros() as u64;
        if !seen.insert(id) {
            got.duplicates += 1;
            continue;
        }
        got.latency_us.push(now.saturating_sub(sent));
        got.last_us = now;
        progress.delivered.fetch_add(1, Ordering::Relaxed);
    }
    got
}

/// Sends to `to` every `period` until `end`, at most `window` unreceipted; the receipts are
/// read on the same connection until `stop`.
#[allow(clippy::too_many_arguments)]
async fn sender(
    c: Xmpp,
    me: i64,
    to: i64,
    period: Duration,
    offset: Duration,
    window: usize,
    epoch: Instant,
    end: Instant,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = c.ws.split();
    let permits = Arc::new(Semaphore::new(window));
    let (reads, p) = (permits.clone(), progress.clone());
    let reader = tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                _ = stop.changed() => return,
                f = stream.next() => f,
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    if receipt_id(&t).is_some() {
                        p.receipted.fetch_add(1, Ordering::Relaxed);
                        reads.add_permits(1);
                    } else if t.starts_with("<message") && t.contains(r#"type="error""#) {
                        // Refused: no receipt will come, the slot is free again.
                        p.errors.fetch_add(1, Ordering::Relaxed);
                        reads.add_permits(1);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    p.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    });
    // Senders start spread over one period, so the offered load is even, not in bursts.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        if Instant::now() >= end {
            break;
        }
        let Ok(permit) = permits.try_acquire() else {
            progress.throttled.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        permit.forget();
        seq += 1;
        let t = epoch.elapsed().as_micros() as u64;
        let frame = chat(me, to, &format!("cb-{me}-{seq}"), &format!("ts:{t}"));
        if sink.send(Message::text(frame)).await.is_err() {
            progress.errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        progress.sent.fetch_add(1, Ordering::Relaxed);
    }
    progress.finished.fetch_add(1, Ordering::Release);
    let _ = reader.await;
}

// ---- one configuration --------------------------------------------------------------------------

struct Outcome {
    label: String,
    nodes: usize,
    clustered: bool,
    sent: u64,
    throttled: u64,
    delivered: u64,
    duplicates: u64,
    errors: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// CPU ms per second of the idle nodes and NATS.
    idle_per_s: f64,
    cpu: Cpu,
}

impl Outcome {
    fn per_msg(&self, ms: f64) -> f64 {
        ms / self.delivered.max(1) as f64
    }

    fn cluster_cpu(&self) -> f64 {
        self.per_msg(self.cpu.nodes + self.cpu.nats)
    }
}

fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i] as f64 / 1000.0
}

async fn register_all(base: &str, n: usize) -> Result<Vec<i64>, String> {
    let http = reqwest::Client::new();
    let password = md5_hex(PASSWORD);
    let ids: Vec<Result<i64, String>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (http, password) = (http.clone(), password.clone());
            async move {
                let xff = client_address(1000 + i as u64);
                let phone = format!("137{i:08}");
                Ok(child::register(&http, base, &phone, &password, &xff)
                    .await?
                    .0)
            }
        })
        .buffered(4)
        .collect()
        .await;
    ids.into_iter().collect()
}

async fn run_config(
    opts: &Opts,
    binary: &Path,
    nats: &Path,
    uri: &str,
    db_pid: Option<u32>,
    nodes: usize,
    clustered: bool,
) -> Result<Outcome, String> {
    let label = match (nodes, clustered) {
        (_, false) => "1 node, no bus".to_string(),
        (1, true) => "1 node, cluster mode".to_string(),
        (n, true) => format!("{n} nodes, cross-node"),
    };
    eprintln!("{label}: starting");
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mongo = stores::test_databases(uri, &uuid32()[..12]);
    let _databases = stores::dropping(&mongo);
    let env = stores::mongo_env(&mongo);
    let servers = if clustered {
        Servers::Cluster(cluster::Nodes::start(binary, nats, root.path(), nodes, env).await?)
    } else {
        let dir = root.path().join("node1");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        Servers::Standalone(ChildServer::start(binary, &dir, &env).await?)
    };
    let k = servers.len();

    let ids = register_all(&servers.base(0), 2 * opts.pairs).await?;
    let md5 = md5_hex(PASSWORD);
    // Pair i: sender on node i mod k, receiver on the next node (the same one when k = 1).
    let placements: Vec<(usize, i64, usize, i64)> = (0..opts.pairs)
        .map(|i| (i % k, ids[2 * i], (i + 1) % k, ids[2 * i + 1]))
        .collect();
    let logins = placements
        .iter()
        .enumerate()
        .flat_map(|(i, (sn, s, rn, r))| {
            [
                (servers.xmpp_url(*sn), 2 * i, *s),
                (servers.xmpp_url(*rn), 2 * i + 1, *r),
            ]
        });
    let clients: Vec<Result<Xmpp, String>> =
        futures_util::stream::iter(logins)
            .map(|(url, n, uid)| {
                let md5 = md5.clone();
                async move {
                    Xmpp::login(&url, &client_address(1000 + n as u64), uid, &md5, "bench").await
                }
            })
            .buffered(8)
            .collect()
            .await;
    let mut clients = clients
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{e}\n{}", servers.logs()))?
        .into_iter();
    // Let presence and the session directory settle, then measure what the idle cluster
    // spends (heartbeats, dead-node sweeps), to tell it apart from the cost per message.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_from, idle_t) = (cpu(&servers, db_pid), Instant::now());
    tokio::time::sleep(IDLE).await;
    let idle = cpu(&servers, db_pid);
    let idle_per_s = (idle.nodes + idle.nats - idle_from.nodes - idle_from.nats)
        / idle_t.elapsed().as_secs_f64();

    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let period = Duration::from_secs_f64(opts.pairs as f64 / opts.rate);
    let epoch = Instant::now();
    let end = epoch + Duration::from_secs(opts.seconds);
    let before = cpu(&servers, db_pid);
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (i, (_, s, _, r)) in placements.iter().enumerate() {
        let (sc, rc) = (
            clients.next().expect("sender"),
            clients.next().expect("receiver"),
        );
        receivers.push(tokio::spawn(receiver(
            rc,
            epoch,
            progress.clone(),
            stop_rx.clone(),
        )));
        let offset = period.mul_f64(i as f64 / opts.pairs as f64);
        senders.push(tokio::spawn(sender(
            sc,
            *s,
            *r,
            period,
            offset,
            opts.window,
            epoch,
            end,
            progress.clone(),
            stop_rx.clone(),
        )));
    }
    tokio::time::sleep_until(end.into()).await;
    // Drain: every sent message receipted and delivered, or give up.
    let deadline = Instant::now() + DRAIN;
    loop {
        let finished = progress.finished.load(Ordering::Acquire) == opts.pairs as u64;
        let sent = progress.sent.load(Ordering::Relaxed);
        let done = finished
            && progress.receipted.load(Ordering::Relaxed) >= sent
            && progress.delivered.load(Ordering::Relaxed) >= sent;
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = cpu(&servers, db_pid);
    let _ = stop_tx.send(true);
    for s in senders {
        let _ = s.await;
    }
    let mut latency = Vec::new();
    let (mut last_us, mut duplicates) = (0, 0);
    for r in receivers {
        let got = r.await.map_err(|e| e.to_string())?;
        latency.extend(got.latency_us);
        last_us = last_us.max(got.last_us);
        duplicates += got.duplicates;
    }
    latency.sort_unstable();
    let delivered = latency.len() as u64;
    let span = (last_us as f64 / 1e6).max(opts.seconds as f64).max(1e-3);
    Ok(Outcome {
        label,
        nodes: k,
        clustered,
        sent: progress.sent.load(Ordering::Relaxed),
        throttled: progress.throttled.load(Ordering::Relaxed),
        delivered,
        duplicates,
        errors: progress.errors.load(Ordering::Relaxed),
        rate: delivered as f64 / span,
        p50_ms: pct(&latency, 0.5),
        p99_ms: pct(&latency, 0.99),
        max_ms: latency.last().map_or(0.0, |m| *m as f64 / 1000.0),
        idle_per_s,
        cpu: Cpu {
            nodes: after.nodes - before.nodes,
            nats: after.nats - before.nats,
            db: after.db - before.db,
            generator: after.generator - before.generator,
        },
    })
}

// ---- main ---------------------------------------------------------------------------------------

async fn run() -> Result<bool, String> {
    let opts = Opts::from_env();
    let nats = cluster::nats_binary()
        .ok_or("no nats-server: install Debian's nats-server or set NATS_SERVER")?;
    let binary = std::env::var("CLUSTER_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_shiku-server")));
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (uri, db) = child::bench_mongodb(logs.path()).await?;
    let db_name = if db.is_some() {
        "SecantusDB (in memory, started here)"
    } else {
        "SHIKU_TEST_MONGODB_URI"
    };
    let db_pid = db.as_ref().map(|d| d.0.id());

    let mut configs: Vec<(usize, bool)> = Vec::new();
    if opts.standalone {
        configs.push((1, false));
    }
    configs.extend(opts.nodes.iter().map(|n| (*n, true)));
    let mut out = Vec::new();
    for (n, clustered) in configs {
        out.push(run_config(&opts, &binary, &nats, &uri, db_pid, n, clustered).await?);
    }

    println!(
        "cluster bench: {} pairs, {} msg/s offered for {} s per configuration, window {} per \
         sender; MongoDB: {db_name}; {} cores",
        opts.pairs,
        opts.rate,
        opts.seconds,
        opts.window,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| configuration | sent | delivered | delivered msg/s | p50 ms | p99 ms | max ms | \
         CPU-ms/msg nodes+NATS | of which NATS | idle CPU-ms/s | DB CPU-ms/msg |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in &out {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.3} | {:.3} | {:.0} | {} |",
            o.label,
            o.sent,
            o.delivered,
            o.rate,
            o.p50_ms,
            o.p99_ms,
            o.max_ms,
            o.cluster_cpu(),
            o.per_msg(o.cpu.nats),
            o.idle_per_s,
            if db_pid.is_some() {
                format!("{:.3}", o.per_msg(o.cpu.db))
            } else {
                "n/a".into()
            },
        );
    }
    // The cross-node cost: each multi-node run against the 1-node cluster-mode run (and that
    // one against the node without the bus).
    let base = out.iter().find(|o| o.clustered && o.nodes == 1);
    let standalone = out.iter().find(|o| !o.clustered);
    if base.is_some() || standalone.is_some() {
        println!();
        println!("| compared | extra p50 ms | extra p99 ms | extra CPU-ms/msg (nodes+NATS) |");
        println!("|---|---:|---:|---:|");
        let row = |o: &Outcome, b: &Outcome| {
            println!(
                "| {} vs {} | {:+.2} | {:+.2} | {:+.3} |",
                o.label,
                b.label,
                o.p50_ms - b.p50_ms,
                o.p99_ms - b.p99_ms,
                o.cluster_cpu() - b.cluster_cpu()
            );
        };
        if let (Some(b), Some(s)) = (base, standalone) {
            row(b, s);
        }
        if let Some(b) = base {
            for o in out.iter().filter(|o| o.clustered && o.nodes > 1) {
                row(o, b);
            }
        }
    }
    println!();
    let mut ok = true;
    for o in &out {
        let lost = o.sent.saturating_sub(o.delivered);
        println!(
            "{}: {} throttled ticks (window full), {} lost, {} duplicates, {} errors; \
             generator CPU {:.0} ms",
            o.label, o.throttled, lost, o.duplicates, o.errors, o.cpu.generator
        );
        ok &= lost == 0 && o.errors == 0 && o.sent > 0;
    }
    drop(db);
    Ok(ok)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run()) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("cluster: messages were lost or sessions failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("cluster: {e}");
            std::process::exit(2);
        }
    }
}
