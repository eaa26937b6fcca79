//! `ReportStore`: reports of users and rooms, and their review.

use async_trait::async_trait;

use super::error::StoreResult;
use crate::documents::Report;

/// Which reports a review page lists.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    /// 0 waiting, 1 handled; None: both.
    pub status: Option<i32>,
    /// True: reports of rooms; false: of users; None: both.
    pub rooms: Option<bool>,
    pub skip: u64,
    pub limit: u32,
}

/// Reports and their review.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Records a report; a reporter's waiting report of the same user or room is replaced
    /// (its reason and time), so repeating one adds nothing. Answers the report's id.
    async fn put_report(&self, r: &Report) -> StoreResult<String>;
    /// How many reports of this reporter wait for review.
    async fn waiting_reports_of(&self, user_id: i32) -> StoreResult<u64>;
    /// A page of reports, newest first, and how many match.
    async fn reports(&self, q: &ReportQuery) -> StoreResult<(Vec<Report>, u64)>;
    /// One report.
    async fn report(&self, id: &str) -> StoreResult<Option<Report>>;
    /// Marks every waiting report of the user or room of `r` handled by `handler` at `time`
    /// with `action`; answers how many.
    async fn handle_reports(
        &self,
        r: &Report,
        handler: i32,
        time: i64,
        action: i32,
    ) -> StoreResult<u64>;
}
