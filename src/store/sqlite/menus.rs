//! `MenuStore`: table `menu`, one row per entry.

use super::*;
use crate::documents::Menu;
use crate::store::menus::MenuStore;

/// Table of the menu port; the owner is generated from the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS menu (
    id INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS menu_user ON menu(user_id);
"#;

const MENU: &str = "menu";

#[async_trait]
impl MenuStore for SqliteStore {
    async fn menus(&self, user_id: i32) -> StoreResult<Vec<Menu>> {
        self.read(64, move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT doc FROM menu WHERE user_id = ?1 \
                     ORDER BY json_extract(doc, '$.index'), id",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![user_id], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for text in rows {
                out.push(decode(MENU, &text.map_err(backend)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_menu(&self, menu: &Menu) -> StoreResult<()> {
        let text = encode(menu)?;
        let id = menu.id;
        self.run(move |c| {
            // Another account's entry with this id is left alone (and reported).
            let n = c
                .execute(
                    "INSERT INTO menu (id, doc) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE \
                     SET doc = excluded.doc \
                     WHERE json_extract(menu.doc, '$.userId') = json_extract(excluded.doc, '$.userId')",
                    params![id, text],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Duplicate(format!("menu {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn delete_menus(&self, user_id: i32, ids: &[i64]) -> StoreResult<u64> {
        let ids = serde_json::to_string(ids).map_err(backend)?;
        self.run(move |c| {
            c.execute(
                "DELETE FROM menu WHERE user_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
                params![user_id, ids],
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }
}
