//! `SessionStore` on two collections of our own in the API database (the reference keeps
//! presence inside Tigase): `shiku_sessions` (`_id` `<node>:<session>`, `node`, `userId`,
//! `resource`, `since`) and `shiku_nodes` (`_id` the node id, `instance`, `heartbeat` ms).

use super::*;
use crate::store::sessions::{SessionEntry, SessionStore};

const SESSIONS: &str = "shiku_sessions";
const NODES: &str = "shiku_nodes";

impl MongoStore {
    /// The directory is looked up by user on every cluster delivery and cleared by node.
    pub(super) async fn create_session_indexes(&self) {
        self.ensure_index(SESSIONS, doc! { "userId": 1 }, None)
            .await;
        self.ensure_index(SESSIONS, doc! { "node": 1, "since": 1 }, None)
            .await;
        self.ensure_index(NODES, doc! { "heartbeat": 1 }, None)
            .await;
    }
}

impl MongoStore {
    async fn session_docs(&self, collection: &str, filter: Document) -> StoreResult<Vec<Document>> {
        self.coll(collection)
            .find(filter)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)
    }
}

fn entry_of(d: &Document) -> Option<SessionEntry> {
    Some(SessionEntry {
        node: d.get_str("node").ok()?.to_string(),
        session: d.get("session").and_then(bson_to_i64)? as u64,
        user_id: d.get("userId").and_then(bson_to_i64)? as i32,
        resource: d.get_str("resource").unwrap_or_default().to_string(),
        since: d.get("since").and_then(bson_to_i64).unwrap_or(0),
    })
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn put_session(&self, e: &SessionEntry) -> StoreResult<()> {
        let id = format!("{}:{}", e.node, e.session);
        self.coll(SESSIONS)
            .replace_one(
                doc! { "_id": &id },
                doc! {
                    "_id": &id,
                    "node": &e.node,
                    "session": e.session as i64,
                    "userId": e.user_id,
                    "resource": &e.resource,
                    "since": e.since,
                },
            )
            .upsert(true)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn remove_session(&self, node: &str, session: u64) -> StoreResult<()> {
        self.coll(SESSIONS)
            .delete_one(doc! { "_id": format!("{node}:{session}") })
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn sessions_of(&self, user_ids: &[i32]) -> StoreResult<Vec<SessionEntry>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = if user_ids.len() == 1 {
            doc! { "userId": user_ids[0] }
        } else {
            doc! { "userId": { "$in": user_ids } }
        };
        let docs = self.session_docs(SESSIONS, filter).await?;
        Ok(docs.iter().filter_map(entry_of).collect())
    }

    async fn beat(&self, node: &str, instance: &str, now_ms: i64) -> StoreResult<bool> {
        let before = self
            .coll(NODES)
            .find_one_and_update(
                doc! { "_id": node },
                doc! { "$set": { "instance": instance, "heartbeat": now_ms } },
            )
            .upsert(true)
            .await
            .map_err(backend)?;
        Ok(before.is_some_and(|d| d.get_str("instance").ok() == Some(instance)))
    }

    async fn stale_nodes(&self, before_ms: i64) -> StoreResult<Vec<String>> {
        let docs = self
            .session_docs(NODES, doc! { "heartbeat": { "$lt": before_ms } })
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(str::to_string))
            .collect())
    }

    async fn claim_stale(&self, node: &str, before_ms: i64) -> StoreResult<bool> {
        let r = self
            .coll(NODES)
            .delete_one(doc! { "_id": node, "heartbeat": { "$lt": before_ms } })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count == 1)
    }

    async fn take_sessions(&self, node: &str, before_ms: i64) -> StoreResult<Vec<SessionEntry>> {
        let filter = doc! { "node": node, "since": { "$lt": before_ms } };
        let docs = self.session_docs(SESSIONS, filter).await?;
        // Only what was read is deleted: an entry written meanwhile (the node came back) stays.
        let ids: Vec<Bson> = docs.iter().filter_map(|d| d.get("_id").cloned()).collect();
        if !ids.is_empty() {
            self.coll(SESSIONS)
                .delete_many(doc! { "_id": { "$in": ids } })
                .await
                .map_err(backend)?;
        }
        Ok(docs.iter().filter_map(entry_of).collect())
    }
}
