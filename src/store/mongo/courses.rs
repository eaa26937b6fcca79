//! `CourseStore` on a `course` collection (the name of the reference's CourseController's
//! collection; the spec documents no fields).

use super::*;
use crate::documents::Course;
use crate::store::courses::CourseStore;

/// The collection of courses.
pub(super) const COURSE: &str = "course";

#[async_trait]
impl CourseStore for MongoStore {
    async fn insert_course(&self, c: &Course) -> StoreResult<String> {
        let id = bson::oid::ObjectId::new();
        let mut c = c.clone();
        c.id = None;
        let mut d = encode(COURSE, &c)?;
        d.insert("_id", id);
        self.coll(COURSE).insert_one(d).await.map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn course_heads(
        &self,
        user_id: i32,
        room_jid: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Course>> {
        let mut filter = doc! { "userId": user_id };
        if let Some(j) = room_jid {
            filter.insert("roomJid", j);
        }
        let cursor = self
            .coll(COURSE)
            .find(filter)
            .projection(doc! { "messages.message": 0 })
            .sort(doc! { "_id": -1 })
            .skip(skip)
            .limit(i64::from(limit))
            .await
            .map_err(backend)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        docs.into_iter().map(|d| decode_hex_id(COURSE, d)).collect()
    }

    async fn count_courses(&self, user_id: i32) -> StoreResult<u64> {
        self.coll(COURSE)
            .count_documents(doc! { "userId": user_id })
            .await
            .map_err(backend)
    }

    async fn course(&self, user_id: i32, id: &str) -> StoreResult<Option<Course>> {
        let found = self
            .coll(COURSE)
            .find_one(doc! { "_id": id_filter(id), "userId": user_id })
            .await
            .map_err(backend)?;
        found.map(|d| decode_hex_id(COURSE, d)).transpose()
    }

    async fn replace_course(&self, c: &Course) -> StoreResult<bool> {
        let Some(id) = c.id.as_deref() else {
            return Ok(false);
        };
        let mut body = c.clone();
        body.id = None;
        let d = encode(COURSE, &body)?;
        let r = self
            .coll(COURSE)
            .replace_one(doc! { "_id": id_filter(id), "userId": c.user_id }, d)
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn delete_course(&self, user_id: i32, id: &str) -> StoreResult<bool> {
        let r = self
            .coll(COURSE)
            .delete_one(doc! { "_id": id_filter(id), "userId": user_id })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }
}
