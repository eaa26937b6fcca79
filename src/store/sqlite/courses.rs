//! `CourseStore`: table `course`, one row per course.

use super::*;
use crate::documents::Course;
use crate::store::courses::CourseStore;

/// Table of the course port; the owner is generated from the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS course (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS course_user ON course(user_id, id);
"#;

const COURSE: &str = "course";

#[async_trait]
impl CourseStore for SqliteStore {
    async fn insert_course(&self, c: &Course) -> StoreResult<String> {
        let id = new_id();
        let mut c = c.clone();
        c.id = Some(id.clone());
        let text = encode(&c)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO course (id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn course_heads(
        &self,
        user_id: i32,
        room_jid: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Course>> {
        let room_jid = room_jid.map(str::to_string);
        self.read(page_rows(u64::from(limit)), move |c| {
            // The bodies (up to the course cap each) stay in SQLite: only the ids leave it.
            let mut st = c
                .prepare_cached(
                    "SELECT json_set(doc, '$.messages', (SELECT json_group_array(\
                     json_object('messageId', json_extract(m.value, '$.messageId'))) \
                     FROM json_each(doc, '$.messages') AS m)) \
                     FROM course WHERE user_id = ?1 \
                     AND (?2 IS NULL OR json_extract(doc, '$.roomJid') = ?2) \
                     ORDER BY id DESC LIMIT ?3 OFFSET ?4",
                )
                .map_err(backend)?;
            let skip = i64::try_from(skip).unwrap_or(i64::MAX);
            let rows = st
                .query_map(params![user_id, room_jid, limit, skip], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for text in rows {
                out.push(decode(COURSE, &text.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn count_courses(&self, user_id: i32) -> StoreResult<u64> {
        self.read(1, move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM course WHERE user_id = ?1",
                params![user_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    async fn course(&self, user_id: i32, id: &str) -> StoreResult<Option<Course>> {
        let id = id.to_string();
        self.read(1, move |c| {
            one_doc(
                c,
                COURSE,
                "SELECT doc FROM course WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
            )
        })
        .await
    }

    async fn replace_course(&self, c: &Course) -> StoreResult<bool> {
        let Some(id) = c.id.clone() else {
            return Ok(false);
        };
        let (user_id, text) = (c.user_id, encode(c)?);
        self.run(move |conn| {
            conn.execute(
                "UPDATE course SET doc = ?1 WHERE id = ?2 AND user_id = ?3",
                params![text, id, user_id],
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
        .await
    }

    async fn delete_course(&self, user_id: i32, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            c.execute(
                "DELETE FROM course WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
        .await
    }
}
