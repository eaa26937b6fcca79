//! `FileStore`: table `resources`, one row per stored file (the reference's `resources`
//! collection), looked up by absolute path and scanned by expiry.

use super::*;
use crate::documents::Resource;
use crate::store::files::FileStore;

/// Table of the file port; `path` and `end_time` are generated from the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    path TEXT GENERATED ALWAYS AS (json_extract(doc, '$.path')) VIRTUAL,
    end_time INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.endTime')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS resources_path ON resources(path);
CREATE INDEX IF NOT EXISTS resources_end_time ON resources(end_time);
"#;

const RESOURCES: &str = "resources";

#[async_trait]
impl FileStore for SqliteStore {
    async fn insert_resource(&self, r: &Resource) -> StoreResult<String> {
        let id = new_id();
        let mut r = r.clone();
        r.id = Some(id.clone());
        let text = encode(&r)?;
        self.run(move |c| {
            c.execute(
                "INSERT INTO resources (id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn resource_by_path(&self, path: &str) -> StoreResult<Option<Resource>> {
        let path = path.to_string();
        self.run(move |c| {
            // ObjectId-shaped ids sort by creation: the newest record wins.
            one_doc(
                c,
                RESOURCES,
                "SELECT doc FROM resources WHERE path = ?1 ORDER BY id DESC LIMIT 1",
                params![path],
            )
        })
        .await
    }

    async fn delete_resources_by_path(&self, path: &str) -> StoreResult<u64> {
        let path = path.to_string();
        self.run(move |c| {
            let n = c
                .execute("DELETE FROM resources WHERE path = ?1", params![path])
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn expired_resources(&self, now: i64, limit: u32) -> StoreResult<Vec<Resource>> {
        self.run(move |c| {
            let mut st = c
                .prepare(
                    "SELECT doc FROM resources WHERE end_time > 0 AND end_time < ?1 \
                     ORDER BY end_time LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![now, limit], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for text in rows {
                out.push(decode(RESOURCES, &text.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_resource(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .execute("DELETE FROM resources WHERE id = ?1", params![id])
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }
}
