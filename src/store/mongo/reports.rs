//! `ReportStore` on the reference's `Report` collection.

use super::*;
use crate::documents::Report;
use crate::store::reports::{ReportQuery, ReportStore};

/// The reference's collection of reports.
pub(super) const REPORT: &str = "Report";

#[async_trait]
impl ReportStore for MongoStore {
    async fn put_report(&self, r: &Report) -> StoreResult<String> {
        let mut body = r.clone();
        body.id = None;
        let d = encode(REPORT, &body)?;
        let filter = doc! {
            "userId": r.user_id, "toUserId": r.to_user_id, "roomId": &r.room_id, "status": 0,
        };
        let new_id = bson::oid::ObjectId::new();
        let stored = self
            .coll(REPORT)
            .find_one_and_update(
                filter,
                doc! { "$set": d, "$setOnInsert": { "_id": new_id } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        Ok(match stored.as_ref().and_then(|d| d.get("_id")) {
            Some(Bson::ObjectId(oid)) => oid.to_hex(),
            Some(other) => other.to_string(),
            None => new_id.to_hex(),
        })
    }

    async fn waiting_reports_of(&self, user_id: i32) -> StoreResult<u64> {
        self.coll(REPORT)
            .count_documents(doc! { "userId": user_id, "status": 0 })
            .await
            .map_err(backend)
    }

    async fn reports(&self, q: &ReportQuery) -> StoreResult<(Vec<Report>, u64)> {
        let mut filter = Document::new();
        if let Some(s) = q.status {
            filter.insert("status", s);
        }
        match q.rooms {
            Some(true) => {
                filter.insert("roomId", doc! { "$nin": ["", Bson::Null] });
            }
            Some(false) => {
                filter.insert("roomId", doc! { "$in": ["", Bson::Null] });
            }
            None => {}
        }
        let total = self
            .coll(REPORT)
            .count_documents(filter.clone())
            .await
            .map_err(backend)?;
        let cursor = self
            .coll(REPORT)
            .find(filter)
            .sort(doc! { "_id": -1 })
            .skip(q.skip)
            .limit(i64::from(q.limit))
            .await
            .map_err(backend)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        let rows = docs
            .into_iter()
            .map(|d| decode_hex_id(REPORT, d))
            .collect::<StoreResult<Vec<Report>>>()?;
        Ok((rows, total))
    }

    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        let found = self
            .coll(REPORT)
            .find_one(doc! { "_id": id_filter(id) })
            .await
            .map_err(backend)?;
        found.map(|d| decode_hex_id(REPORT, d)).transpose()
    }

    async fn handle_reports(
        &self,
        r: &Report,
        handler: i32,
        time: i64,
        action: i32,
    ) -> StoreResult<u64> {
        let done = self
            .coll(REPORT)
            .update_many(
                doc! { "toUserId": r.to_user_id, "roomId": &r.room_id, "status": 0 },
                doc! { "$set": {
                    "status": 1, "handler": handler, "handleTime": time, "action": action,
                } },
            )
            .await
            .map_err(backend)?;
        Ok(done.modified_count)
    }
}
