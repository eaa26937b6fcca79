//! Several server nodes as child processes on one MongoDB, with a NATS server started here:
//! shared by `tests/cluster.rs` and `benches/cluster.rs`, which include it by path beside
//! `child.rs` (as `crate::child`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::child::{free_port, ChildServer};

/// The `nats-server` binary: `$NATS_SERVER`, else on the `PATH` or where Debian puts it.
pub fn nats_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"])
        .map(|d| Path::new(d).join("nats-server"))
        .find(|p| p.is_file());
    found
}

/// A NATS server on 127.0.0.1; killed when dropped.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    binary: PathBuf,
    log: PathBuf,
}

impl Nats {
    /// Starts `binary` on a free port, logging into `dir`.
    pub async fn start(binary: &Path, dir: &Path) -> Result<Nats, String> {
        let mut n = Nats {
            child: None,
            port: free_port(),
            binary: binary.to_path_buf(),
            log: dir.join("nats.log"),
        };
        n.restart().await?;
        Ok(n)
    }

    /// The process id while running (for CPU accounting in `benches/cluster.rs`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URL nodes are given.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!("nats-server did not listen on {}", self.port));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Nodes `node1`…`nodeN` of one cluster, each a child process with a data directory of its
/// own, all on the same MongoDB databases and NATS server.
pub struct Nodes {
    pub nats: Nats,
    nodes: Vec<Option<ChildServer>>,
    root: PathBuf,
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Nodes {
    /// Starts NATS and `n` nodes of `binary` under `root`; `env` holds the MongoDB variables and
    /// any other settings every node gets.
    pub async fn start(
        binary: &Path,
        nats_binary: &Path,
        root: &Path,
        n: usize,
        env: Vec<(&'static str, String)>,
    ) -> Result<Nodes, String> {
        let nats = Nats::start(nats_binary, root).await?;
        let mut nodes = Nodes {
            nats,
            nodes: (0..n).map(|_| None).collect(),
            root: root.to_path_buf(),
            binary: binary.to_path_buf(),
            env,
        };
        for i in 0..n {
            nodes.start_node(i).await?;
        }
        Ok(nodes)
    }

    /// How many nodes the cluster has (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Starts node `i` (again, after [`Nodes::kill`]), on a new port.
    pub async fn start_node(&mut self, i: usize) -> Result<(), String> {
        let dir = self.root.join(format!("node{}", i + 1));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut env = self.env.clone();
        env.push(("SHIKU_CLUSTER__NODE_ID", format!("node{}", i + 1)));
        env.push(("SHIKU_CLUSTER__NATS_URL", self.nats.url()));
        self.nodes[i] = Some(ChildServer::start(&self.binary, &dir, &env).await?);
        Ok(())
    }

    /// Kills node `i` with SIGKILL: no session is closed, nothing is flushed.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Node `i`'s API listener, `host:port`.
    pub fn base(&self, i: usize) -> String {
        self.nodes[i].as_ref().expect("node running").base.clone()
    }

    /// Node `i`'s process id.
    pub fn pid(&self, i: usize) -> u32 {
        self.nodes[i].as_ref().expect("node running").pid()
    }

    /// Node `i`'s RFC 7395 XMPP WebSocket.
    pub fn xmpp_url(&self, i: usize) -> String {
        format!("ws://{}/xmpp-websocket", self.base(i))
    }

    /// Node `i`'s Shiku binary WebSocket.
    pub fn binary_url(&self, i: usize) -> String {
        format!("ws://{}/im-websocket", self.base(i))
    }

    /// The last lines of every node's log, for a failure message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.as_ref()
                    .map(|n| format!("--- node{}\n{}", i + 1, n.log_tail()))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
