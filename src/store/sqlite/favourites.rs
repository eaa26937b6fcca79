//! `FavouriteStore`: table `emoji` (the reference's collection name), one row per favourite.

use super::*;
use crate::documents::Emoji;
use crate::store::favourites::FavouriteStore;

/// Table of the favourite port; the owner, kind and time are generated from the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS emoji (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL,
    type INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.type')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS emoji_user_type ON emoji(user_id, type, id);
"#;

const EMOJI: &str = "emoji";

#[async_trait]
impl FavouriteStore for SqliteStore {
    async fn insert_favourite(&self, e: &Emoji) -> StoreResult<String> {
        let id = new_id();
        let mut e = e.clone();
        e.id = Some(id.clone());
        let text = encode(&e)?;
        self.run(move |c| {
            c.execute(
                "INSERT INTO emoji (id, doc) VALUES (?1, ?2)",
                params![id, text],
            )
            .map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn favourites(
        &self,
        user_id: i32,
        kinds: &[i32],
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Emoji>> {
        let kinds: Vec<i64> = kinds.iter().map(|k| i64::from(*k)).collect();
        self.read(page_rows(u64::from(limit)), move |c| {
            // ObjectId-shaped ids sort by creation: newest first.
            let marks = vec!["?"; kinds.len()].join(", ");
            let sql = format!(
                "SELECT doc FROM emoji WHERE user_id = ? AND type IN ({marks}) \
                 ORDER BY id DESC LIMIT ? OFFSET ?"
            );
            let mut args: Vec<rusqlite::types::Value> = vec![i64::from(user_id).into()];
            args.extend(kinds.iter().map(|k| rusqlite::types::Value::from(*k)));
            args.push(i64::from(limit).into());
            args.push((skip.min(i64::MAX as u64) as i64).into());
            let mut st = c.prepare(&sql).map_err(backend)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for text in rows {
                out.push(decode(EMOJI, &text.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn count_favourites(&self, user_id: i32) -> StoreResult<u64> {
        self.read(1, move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM emoji WHERE user_id = ?1",
                params![user_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    async fn take_favourite(&self, user_id: i32, id: &str) -> StoreResult<Option<Emoji>> {
        let id = id.to_string();
        self.run(move |c| {
            let text: Option<String> = c
                .query_row(
                    "DELETE FROM emoji WHERE id = ?1 AND user_id = ?2 RETURNING doc",
                    params![id, user_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            text.map(|t| decode(EMOJI, &t)).transpose()
        })
        .await
    }
}
