//! `CourseStore`: users' courses (room messages saved as lectures).

use async_trait::async_trait;

use super::error::StoreResult;
use crate::documents::Course;

/// Users' courses, each user's own.
#[async_trait]
pub trait CourseStore: Send + Sync {
    /// Inserts a course; answers its id.
    async fn insert_course(&self, c: &Course) -> StoreResult<String>;
    /// A page of a user's courses (of one room when `room_jid` is given), newest first, each
    /// with its messages' ids but not their bodies.
    async fn course_heads(
        &self,
        user_id: i32,
        room_jid: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> StoreResult<Vec<Course>>;
    /// How many courses a user keeps.
    async fn count_courses(&self, user_id: i32) -> StoreResult<u64>;
    /// One of the user's courses.
    async fn course(&self, user_id: i32, id: &str) -> StoreResult<Option<Course>>;
    /// Replaces one of the user's courses (its id and owner name it); false when absent.
    async fn replace_course(&self, c: &Course) -> StoreResult<bool>;
    /// Deletes one of the user's courses; false when absent.
    async fn delete_course(&self, user_id: i32, id: &str) -> StoreResult<bool>;
}
