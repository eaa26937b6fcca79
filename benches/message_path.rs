//! Throughput of the message path (`domain::messages::send`) on the embedded store: validation,
//! both `shiku_msgs` copies, both conversation rows, routing and the offline queue, every message
//! durable (its commit done) before `send` returns. Run: `cargo bench --bench message_path`.
//!
//! Options (environment): BENCH_MESSAGES (total, default 40000), BENCH_SENDERS (concurrent
//! senders, default 64), BENCH_USERS (default 200).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use shiku_server::config::Config;
use shiku_server::documents::User;
use shiku_server::domain::messages::{self, Outgoing, Target};
use shiku_server::domain::Ctx;
use shiku_server::startup::open_store;

/// CPU seconds (user + system) used so far by this process's threads: (writer thread, all).
/// Throughput on a shared machine swings with the load; CPU per message does not, and the
/// writer's share bounds what one group-commit writer can take (1 / its CPU per message).
fn cpu_seconds() -> (f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let mut writer = 0.0;
    let mut all = 0.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... : fields after the closing parenthesis, utime and stime are
        // the 12th and 13th of them.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        all += t / tick;
        if head.contains("shiku-msg-write") {
            writer += t / tick;
        }
    }
    (writer, all)
}

/// Bytes the writer thread has handed to `write`/`pwrite` so far (`wchar` of its
/// `/proc/self/task/<tid>/io`): WAL frames, their headers and checkpoints. What a commit costs is
/// mostly these bytes, so their count per message shows what a schema change saves.
fn writer_bytes() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("shiku-msg-write") {
            continue;
        }
        let io = std::fs::read_to_string(task.path().join("io")).unwrap_or_default();
        total += io
            .lines()
            .find_map(|l| l.strip_prefix("wchar:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn user(id: i32) -> User {
    let mut u: User = serde_json::from_value(json!({"_id": id})).expect("user doc");
    u.telephone = format!("86139{id:08}");
    u.phone = format!("139{id:08}");
    u.nickname = format!("bench{id}");
    u
}

async fn run(ctx: Arc<Ctx>, users: i32, senders: usize, total: usize) -> f64 {
    let per = total / senders;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..senders {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let from = 200_000 + (s as i32 % users);
                let to = 200_000 + ((s + i + 1) as i32 % users);
                let body = json!({
                    "type": 1,
                    "content": format!("消息 {s}-{i}"),
                    "messageId": format!("bench_{s}_{i}_{}", start.elapsed().as_nanos()),
                    "timeSend": 1_700_000_000_000i64 + i as i64,
                });
                let sent = messages::send(
                    &ctx,
                    Outgoing {
                        from,
                        resource: "web".into(),
                        target: Target::User(to),
                        body: body.as_object().cloned().expect("object"),
                        origin: None,
                    },
                )
                .await
                .expect("send");
                assert!(sent.stored || from == to);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender task");
    }
    (per * senders) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let total = env("BENCH_MESSAGES", 40_000);
    let senders = env("BENCH_SENDERS", 64);
    let users = env("BENCH_USERS", 200) as i32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let store = open_store(&config).await.expect("store");
        for id in 200_000..200_000 + users {
            store.users.insert_user(&user(id)).await.expect("user");
        }
        let ctx = Arc::new(Ctx::new(store, Arc::new(config)).await.expect("ctx"));
        // Warm-up, then one sender (no batching possible), then concurrent senders.
        run(ctx.clone(), users, 4, 2_000).await;
        let single = run(ctx.clone(), users, 1, (total / 20).max(500)).await;
        let (w0, a0) = cpu_seconds();
        let b0 = writer_bytes();
        let concurrent = run(ctx.clone(), users, senders, total).await;
        let (w1, a1) = cpu_seconds();
        let b1 = writer_bytes();
        let sent = ((total / senders) * senders) as f64;
        let writer_us = (w1 - w0) * 1e6 / sent;
        let all_us = (a1 - a0) * 1e6 / sent;
        println!(
            "message path on the embedded store (SQLite WAL, batched commits, each fsync'd before its answer)"
        );
        println!(
            "  1 sender:        {single:>10.0} messages/s ({:.0} rows/s)",
            single * 2.0
        );
        println!(
            "  {senders} senders:      {concurrent:>10.0} messages/s ({:.0} rows/s)",
            concurrent * 2.0
        );
        println!("  concurrency gain: {:.1}x", concurrent / single);
        println!(
            "  CPU per message ({senders} senders): {all_us:.1} µs in all, {writer_us:.1} µs in the writer thread"
        );
        println!(
            "  written by the writer thread: {:.1} kB per message",
            (b1 - b0) as f64 / sent / 1024.0
        );
        println!(
            "  bound on 2 idle cores: {:.0} messages/s (min of 1/writer and 2/all)",
            (1e6 / writer_us).min(2e6 / all_us)
        );
    });
}
