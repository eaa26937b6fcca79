//! `MenuStore`: public accounts' menus (`menu`).

use async_trait::async_trait;

use super::error::StoreResult;
use crate::documents::Menu;

/// Public accounts' menus, each account's own.
#[async_trait]
pub trait MenuStore: Send + Sync {
    /// Every entry of an account's menu, by `index` then id.
    async fn menus(&self, user_id: i32) -> StoreResult<Vec<Menu>>;
    /// Inserts an entry or replaces the account's entry with its id.
    async fn put_menu(&self, menu: &Menu) -> StoreResult<()>;
    /// Deletes these entries of the account; answers how many were deleted.
    async fn delete_menus(&self, user_id: i32, ids: &[i64]) -> StoreResult<u64>;
}
