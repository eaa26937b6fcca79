//! `SessionStore`: the cluster's session directory and node heartbeats. Only a store that
//! several nodes share has one (MongoDB); a single node knows its sessions in memory.

use async_trait::async_trait;

use super::error::StoreResult;

/// One live session: which node holds which user's resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// The node id (`cluster.node_id`).
    pub node: String,
    /// The session's id on that node.
    pub session: u64,
    pub user_id: i32,
    pub resource: String,
    /// When the entry was written, ms (a re-written entry is newer than a dead-node sweep).
    pub since: i64,
}

/// The session directory several nodes share, and their heartbeats.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records (or re-records) a session.
    async fn put_session(&self, entry: &SessionEntry) -> StoreResult<()>;
    /// Forgets a session.
    async fn remove_session(&self, node: &str, session: u64) -> StoreResult<()>;
    /// The sessions of these users on every node.
    async fn sessions_of(&self, user_ids: &[i32]) -> StoreResult<Vec<SessionEntry>>;
    /// Records a heartbeat of `node` run by process `instance`; answers whether the node's
    /// record was there and this process's (false on the first beat, after a survivor declared
    /// the node dead, or when another process took the id over).
    async fn beat(&self, node: &str, instance: &str, now_ms: i64) -> StoreResult<bool>;
    /// Nodes whose last heartbeat is older than `before_ms`.
    async fn stale_nodes(&self, before_ms: i64) -> StoreResult<Vec<String>>;
    /// Removes the record of `node` if its heartbeat is still older than `before_ms`; true for
    /// the one caller that removed it (that caller clears the node's sessions).
    async fn claim_stale(&self, node: &str, before_ms: i64) -> StoreResult<bool>;
    /// Deletes the sessions of `node` written before `before_ms` (all: `i64::MAX`); answers
    /// what they were.
    async fn take_sessions(&self, node: &str, before_ms: i64) -> StoreResult<Vec<SessionEntry>>;
}
