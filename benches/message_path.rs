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
use shiku_server::domain::messages::{self, Outgoing, Target};
use shiku_server::domain::model::User;
use shiku_server::domain::Ctx;
use shiku_server::startup::open_store;

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
        let concurrent = run(ctx.clone(), users, senders, total).await;
        println!("message path on the embedded store (SQLite, synchronous=FULL, batched commits)");
        println!(
            "  1 sender:        {single:>10.0} messages/s ({:.0} rows/s)",
            single * 2.0
        );
        println!(
            "  {senders} senders:      {concurrent:>10.0} messages/s ({:.0} rows/s)",
            concurrent * 2.0
        );
        println!("  concurrency gain: {:.1}x", concurrent / single);
    });
}
