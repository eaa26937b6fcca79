//! Several nodes: three server processes on one MongoDB (SecantusDB in CI) and a NATS server,
//! with clients of every protocol on different nodes (README "Several nodes").
//!
//! Needs `SHIKU_TEST_MONGODB_URI` and Debian's `nats-server` (CI has both); without them the
//! tests say they skipped, unless `SHIKU_TEST_REQUIRE_CLUSTER=1` makes that a failure.

#[path = "common/child.rs"]
mod child;
#[path = "common/cluster.rs"]
mod cluster;
mod common;

use std::time::{Duration, Instant};

use child::{chat, receipt_id, Xmpp};
use cluster::Nodes;
use common::binary::{Bin, CONFLICT};
use serde_json::Value;
use shiku_server::domain::util::{md5_hex, uuid32};

const BIN: &str = env!("CARGO_BIN_EXE_shiku-server");
/// The console key the task-management system would use (`integration_key`).
const KEY: &str = "cluster-test-integration-key";

/// A cluster of `n` nodes and what it needs, or None when MongoDB or NATS is not available.
struct Setup {
    nodes: Nodes,
    http: reqwest::Client,
    mongo_env: Vec<(&'static str, String)>,
    _databases: common::stores::Dropped,
    _root: tempfile::TempDir,
}

async fn setup(n: usize, extra: &[(&'static str, &str)]) -> Option<Setup> {
    let require = std::env::var("SHIKU_TEST_REQUIRE_CLUSTER").as_deref() == Ok("1");
    let skip = |why: &str| {
        assert!(!require, "SHIKU_TEST_REQUIRE_CLUSTER=1 but {why}");
        eprintln!("skipped: {why}");
        None
    };
    let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") else {
        return skip("no SHIKU_TEST_MONGODB_URI (a cluster shares MongoDB)");
    };
    let Some(nats) = cluster::nats_binary() else {
        return skip("no nats-server (Debian package nats-server)");
    };
    let mongo = common::stores::test_databases(&uri, &uuid32()[..12]);
    let databases = common::stores::dropping(&mongo);
    let mongo_env = common::stores::mongo_env(&mongo);
    let mut env = mongo_env.clone();
    env.push(("SHIKU_INTEGRATION_KEY", KEY.to_string()));
    env.push(("SHIKU_CLUSTER__HEARTBEAT_SECS", "1".into()));
    env.push(("SHIKU_CLUSTER__DEAD_AFTER_SECS", "3".into()));
    for (k, v) in extra {
        env.push((k, v.to_string()));
    }
    let root = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(BIN.as_ref(), &nats, root.path(), n, env)
        .await
        .unwrap_or_else(|e| panic!("cluster did not start: {e}"));
    Some(Setup {
        nodes,
        http: reqwest::Client::new(),
        mongo_env,
        _databases: databases,
        _root: root,
    })
}

impl Setup {
    async fn call(&self, node: usize, path: &str, pairs: &[(&str, &str)]) -> Value {
        self.http
            .post(format!("http://{}{path}", self.nodes.base(node)))
            .form(pairs)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Registers a user through `node`; (userId, access_token).
    async fn user(&self, node: usize, phone: &str) -> (i64, String) {
        child::register(
            &self.http,
            &self.nodes.base(node),
            phone,
            &md5_hex("pw"),
            "127.0.0.1",
        )
        .await
        .unwrap()
    }

    /// The user's `onlinestate` as `node` shows it to the user.
    async fn onlinestate(&self, node: usize, token: &str) -> i64 {
        let v = self
            .call(node, "/user/get", &[("access_token", token)])
            .await;
        v["data"]["onlinestate"].as_i64().unwrap_or(-1)
    }

    /// Waits (10 s at most) until every running node shows `state` for the user.
    async fn online_everywhere(&self, token: &str, state: i64, nodes: &[usize]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for &n in nodes {
            while self.onlinestate(n, token).await != state {
                assert!(
                    Instant::now() < deadline,
                    "node{} never showed onlinestate {state}",
                    n + 1
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Sends a 1:1 chat over XMPP and waits for the server's receipt (it is stored).
async fn xmpp_say(c: &mut Xmpp, from: i64, to: i64, id: &str, text: &str) {
    c.send(&chat(from, to, id, text)).await.unwrap();
    c.until(|f| receipt_id(f).as_deref() == Some(id))
        .await
        .unwrap_or_else(|e| panic!("no receipt for {id}: {e}"));
}

#[tokio::test]
async fn every_protocol_talks_across_three_nodes() {
    let Some(s) = setup(3, &[]).await else { return };
    let (a, ta) = s.user(0, "13100000001").await;
    let (b, tb) = s.user(1, "13100000002").await;
    let (c, tc) = s.user(2, "13100000003").await;
    let md5 = md5_hex("pw");

    // A on node 1 over XMPP (md5 password, as the stock clients), B on node 2 over the binary
    // WebSocket, C on node 3 over XMPP.
    let mut xa = Xmpp::login(&s.nodes.xmpp_url(0), "127.0.0.1", a, &md5, "web")
        .await
        .unwrap();
    let mut bb = Bin::connect(&s.nodes.binary_url(1)).await;
    bb.auth(b, &tb, "android").await;
    let mut xc = Xmpp::login(&s.nodes.xmpp_url(2), "127.0.0.1", c, &md5, "web")
        .await
        .unwrap();
    s.online_everywhere(&tb, 1, &[0, 1, 2]).await;

    // 1:1 both ways, XMPP to binary and back, with receipts.
    xmpp_say(&mut xa, a, b, "m1", "hello b").await;
    let m = bb.chat_msg().await;
    assert_eq!(
        (m.content.as_str(), m.from_user_id.as_str()),
        ("hello b", &*a.to_string())
    );
    bb.say(&a.to_string(), 1, "m2", "hello a").await;
    xa.until(|f| f.contains("hello a")).await.unwrap();

    // A room of the three: a binary group message reaches XMPP members on two other nodes.
    let jid = uuid32();
    let v = s
        .call(
            0,
            "/room/add",
            &[
                ("access_token", &ta),
                ("jid", &jid),
                ("name", "cluster"),
                ("desc", "d"),
                ("text", &format!("[{b},{c}]")),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    bb.say(&jid, 2, "g1", "hello room").await;
    xa.until(|f| f.contains("groupchat") && f.contains("hello room"))
        .await
        .unwrap();
    xc.until(|f| f.contains("groupchat") && f.contains("hello room"))
        .await
        .unwrap();

    // B leaves node 2; a message for B waits; B comes back on node 3 and gets it, flagged.
    drop(bb);
    s.online_everywhere(&tb, 0, &[0, 1, 2]).await;
    xmpp_say(&mut xa, a, b, "m3", "while you were away").await;
    let mut bb = Bin::connect(&s.nodes.binary_url(2)).await;
    bb.auth(b, &tb, "android").await;
    // (Unreceipted "hello b" comes again first: the binary client never confirmed it.)
    let m = loop {
        let m = bb.chat_msg().await;
        if m.content == "while you were away" {
            break m;
        }
    };
    assert!(m.message_head.unwrap().offline);
    s.online_everywhere(&tb, 1, &[0, 1, 2]).await;

    // B logs in on node 1 with the same resource: the session on node 3 is replaced.
    let mut bb1 = Bin::connect(&s.nodes.binary_url(0)).await;
    bb1.auth(b, &tb, "android").await;
    loop {
        match bb.next().await {
            Some((cmd, _)) if cmd == CONFLICT => break,
            Some(_) => continue,
            None => panic!("node 3 closed B's session without a conflict"),
        }
    }
    // The replaced session's close does not mark B offline: B is on node 1.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.online_everywhere(&tb, 1, &[0, 1, 2]).await;
    bb1.say(&a.to_string(), 1, "m4", "from node 1").await;
    xa.until(|f| f.contains("from node 1")).await.unwrap();

    // The console locks A on node 2: A's session on node 1 ends.
    let v = s
        .call(
            1,
            "/console/changeStatus",
            &[
                ("access_token", KEY),
                ("userId", &a.to_string()),
                ("status", "-1"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let end = xa.until(|f| f.contains("conflict")).await;
    assert!(
        end.is_ok() || end.as_ref().is_err_and(|e| e.contains("closed")),
        "{end:?}"
    );

    // C changes the password on node 1: C's token is refused on every node.
    let v = s
        .call(
            0,
            "/user/password/update",
            &[
                ("access_token", &tc),
                ("oldPassword", &md5),
                ("newPassword", &md5_hex("pw2")),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    for n in 0..3 {
        let v = s.call(n, "/user/get", &[("access_token", &tc)]).await;
        assert_eq!(v["resultCode"], 1030102, "node{}: {v}", n + 1);
    }
    drop(xc);
}
