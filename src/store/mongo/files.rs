//! `FileStore` on the reference's upload bookkeeping: database `resources`, collection
//! `resources` (the upload service's `dbUri`), documents `{createTime, endTime, url, path, type,
//! status}` plus our `userId`.

use super::*;
use crate::documents::Resource;
use crate::store::files::FileStore;

/// The reference upload service's database and collection (both named `resources`).
const RESOURCES_DB: &str = "resources";
const RESOURCES: &str = "resources";

impl MongoStore {
    fn resources(&self) -> Collection<Document> {
        self.db
            .client()
            .database(RESOURCES_DB)
            .collection(RESOURCES)
    }

    /// Indexes the lookups of the file port (by path, by expiry).
    pub(super) async fn create_file_indexes(&self) {
        let coll = self.resources();
        ensure_index_on(&coll, doc! { "path": 1 }, None).await;
        ensure_index_on(&coll, doc! { "endTime": 1 }, None).await;
    }
}

/// Decodes a `resources` document, the ObjectId `_id` as hex.
fn decode_resource(d: Document) -> StoreResult<Resource> {
    decode_hex_id(RESOURCES, d)
}

#[async_trait]
impl FileStore for MongoStore {
    async fn insert_resource(&self, r: &Resource) -> StoreResult<String> {
        let id = bson::oid::ObjectId::new();
        let mut r = r.clone();
        r.id = None;
        let mut d = encode(RESOURCES, &r)?;
        d.insert("_id", id);
        self.resources().insert_one(d).await.map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn resource_by_path(&self, path: &str) -> StoreResult<Option<Resource>> {
        let found = self
            .resources()
            .find_one(doc! { "path": path })
            .sort(doc! { "_id": -1 })
            .await
            .map_err(backend)?;
        found.map(decode_resource).transpose()
    }

    async fn delete_resources_by_path(&self, path: &str) -> StoreResult<u64> {
        let r = self
            .resources()
            .delete_many(doc! { "path": path })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }

    async fn expired_resources(&self, now: i64, limit: u32) -> StoreResult<Vec<Resource>> {
        let cursor = self
            .resources()
            .find(doc! { "endTime": { "$gt": 0, "$lt": now } })
            .sort(doc! { "endTime": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(backend)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        docs.into_iter().map(decode_resource).collect()
    }

    async fn delete_resource(&self, id: &str) -> StoreResult<bool> {
        // Reference documents carry ObjectId ids; ours too, but a hand-made one may be a string.
        let filter = match bson::oid::ObjectId::parse_str(id) {
            Ok(oid) => doc! { "_id": oid },
            Err(_) => doc! { "_id": id },
        };
        let r = self.resources().delete_one(filter).await.map_err(backend)?;
        Ok(r.deleted_count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_reference_resources_document() {
        // As the Java upload service writes it: no userId, numbers as longs/doubles.
        let oid = bson::oid::ObjectId::new();
        let d = doc! {
            "_id": oid,
            "createTime": 1_614_567_890i64,
            "endTime": -1.0,
            "url": "http://10.0.0.169:8089/u/0/0/202103/o/bdb89a47460d453993c19619e608b6dc.png",
            "path": "/data/www/resources/u/0/0/202103/o/bdb89a47460d453993c19619e608b6dc.png",
            "type": 1,
            "status": 1,
        };
        let r = decode_resource(d).unwrap();
        assert_eq!(r.id.as_deref(), Some(oid.to_hex().as_str()));
        assert_eq!(
            (r.create_time, r.end_time, r.kind, r.status),
            (1_614_567_890, -1, 1, 1)
        );
        assert_eq!(r.user_id, None);
        // Ours encodes the same field names, plus userId.
        let mut mine = r.clone();
        mine.user_id = Some(100100);
        let e = encode(RESOURCES, &mine).unwrap();
        for k in [
            "createTime",
            "endTime",
            "url",
            "path",
            "type",
            "status",
            "userId",
        ] {
            assert!(e.contains_key(k), "{k}");
        }
    }
}
