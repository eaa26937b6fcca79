//! `FileStore`: the records of uploaded files (the reference's `resources.resources` collection,
//! spec/reference-server.md 7.2–7.4), which the expiry task and the copy/delete paths read.

use async_trait::async_trait;

use super::StoreResult;
use crate::documents::Resource;

/// Upload records.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Inserts a record; returns its id.
    async fn insert_resource(&self, r: &Resource) -> StoreResult<String>;
    /// The record of the file at this absolute path (the newest when several exist).
    async fn resource_by_path(&self, path: &str) -> StoreResult<Option<Resource>>;
    /// Deletes every record of this path; returns how many there were.
    async fn delete_resources_by_path(&self, path: &str) -> StoreResult<u64>;
    /// Records whose `0 < endTime < now` (seconds), oldest expiry first, at most `limit`.
    async fn expired_resources(&self, now: i64, limit: u32) -> StoreResult<Vec<Resource>>;
    /// Deletes one record by id; returns whether it existed.
    async fn delete_resource(&self, id: &str) -> StoreResult<bool>;
}
