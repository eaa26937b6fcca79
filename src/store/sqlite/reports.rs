//! `ReportStore`: table `report`, one row per report.

use super::*;
use crate::documents::Report;
use crate::store::reports::{ReportQuery, ReportStore};

/// Table of the report port; who reported whom and the state are generated from the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS report (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.userId')) VIRTUAL,
    to_user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.toUserId')) VIRTUAL,
    room_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.roomId')) VIRTUAL,
    status INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS report_status ON report(status, id);
CREATE INDEX IF NOT EXISTS report_reporter ON report(user_id, status);
CREATE INDEX IF NOT EXISTS report_target ON report(to_user_id, room_id, status);
"#;

const REPORT: &str = "report";

#[async_trait]
impl ReportStore for SqliteStore {
    async fn put_report(&self, r: &Report) -> StoreResult<String> {
        let r = r.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM report WHERE user_id = ?1 AND to_user_id = ?2 \
                     AND room_id = ?3 AND status = 0",
                    params![r.user_id, r.to_user_id, r.room_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            let id = existing.unwrap_or_else(new_id);
            let mut doc = r;
            doc.id = Some(id.clone());
            let text = encode(&doc)?;
            tx.execute(
                "INSERT INTO report (id, doc) VALUES (?1, ?2) \
                 ON CONFLICT(id) DO UPDATE SET doc = ?2",
                params![id, text],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn waiting_reports_of(&self, user_id: i32) -> StoreResult<u64> {
        self.read(1, move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM report WHERE user_id = ?1 AND status = 0",
                params![user_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    async fn reports(&self, q: &ReportQuery) -> StoreResult<(Vec<Report>, u64)> {
        let q = q.clone();
        self.read(page_rows(u64::from(q.limit)), move |c| {
            let mut filter = String::from("1 = 1");
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(s) = q.status {
                filter.push_str(" AND status = ?");
                args.push(i64::from(s).into());
            }
            match q.rooms {
                Some(true) => filter.push_str(" AND room_id <> ''"),
                Some(false) => filter.push_str(" AND room_id = ''"),
                None => {}
            }
            let total: i64 = c
                .query_row(
                    &format!("SELECT COUNT(*) FROM report WHERE {filter}"),
                    rusqlite::params_from_iter(args.iter()),
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let mut page_args = args.clone();
            page_args.push(i64::from(q.limit).into());
            page_args.push((q.skip.min(i64::MAX as u64) as i64).into());
            let mut st = c
                .prepare(&format!(
                    "SELECT doc FROM report WHERE {filter} ORDER BY id DESC LIMIT ? OFFSET ?"
                ))
                .map_err(backend)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(page_args), |r| {
                    r.get::<_, String>(0)
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for text in rows {
                out.push(decode(REPORT, &text.map_err(backend)?)?);
            }
            Ok((out, total as u64))
        })
        .await
    }

    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        let id = id.to_string();
        self.read(1, move |c| {
            one_doc(
                c,
                REPORT,
                "SELECT doc FROM report WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn handle_reports(
        &self,
        r: &Report,
        handler: i32,
        time: i64,
        action: i32,
    ) -> StoreResult<u64> {
        let (to_user_id, room_id) = (r.to_user_id, r.room_id.clone());
        self.run(move |c| {
            c.execute(
                "UPDATE report SET doc = json_set(doc, '$.status', 1, '$.handler', ?1, \
                 '$.handleTime', ?2, '$.action', ?3) \
                 WHERE to_user_id = ?4 AND room_id = ?5 AND status = 0",
                params![handler, time, action, to_user_id, room_id],
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }
}
