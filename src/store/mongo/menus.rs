//! `MenuStore` on the `menu` collection (numeric `_id`).

use super::*;
use crate::documents::Menu;
use crate::store::menus::MenuStore;

const MENU: &str = "menu";

#[async_trait]
impl MenuStore for MongoStore {
    async fn menus(&self, user_id: i32) -> StoreResult<Vec<Menu>> {
        let docs: Vec<Document> = self
            .coll(MENU)
            .find(doc! { "userId": user_id })
            .sort(doc! { "index": 1, "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| decode(MENU, d)).collect()
    }

    async fn put_menu(&self, menu: &Menu) -> StoreResult<()> {
        let d = encode(MENU, menu)?;
        // Matching the owner too: another account's entry with this id makes the upsert's
        // insert fail on the duplicate `_id` instead of being replaced.
        self.coll(MENU)
            .replace_one(doc! { "_id": menu.id, "userId": menu.user_id }, d)
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn delete_menus(&self, user_id: i32, ids: &[i64]) -> StoreResult<u64> {
        let done = self
            .coll(MENU)
            .delete_many(doc! { "userId": user_id, "_id": { "$in": ids.to_vec() } })
            .await
            .map_err(backend)?;
        Ok(done.deleted_count)
    }
}
