//! The borrower's own report (Regulation art. 17; docs/domain.md
//! "Borrower's own report"): what this node holds about a borrower —
//! records, annotations, disputes — and every query about them in the two
//! years before the report's day, listed and summed per reason. Each report
//! is logged (`BorrowerReportEntry`) with the officer. The node sees the
//! borrower key only; the CLI puts the raw id into the output file.

use std::collections::BTreeMap;

use credshare_proto::v1 as pb;
use time::{Date, Duration};

use super::{Actor, Node};
use crate::domain::dates::{iso_date, now_ms};
use crate::domain::{BorrowerKey, Purpose};
use crate::error::NodeError;
use crate::storage::{CommitRequest, LogAppend};

/// Days of queries a report lists (two years).
const QUERY_PERIOD_DAYS: i64 = 730;

impl Node {
    /// Builds, logs and returns the report of `borrower` as of `as_of`.
    pub async fn borrower_report(
        &self,
        borrower: BorrowerKey,
        as_of: Option<Date>,
        actor: &Actor,
    ) -> Result<pb::BorrowerReportResponse, NodeError> {
        let zone = &self.config.business_time_zone;
        let as_of = as_of.unwrap_or_else(|| zone.today());
        let since = as_of.saturating_sub(Duration::days(QUERY_PERIOD_DAYS));
        let (records, _) = self.borrower_records(borrower).await?;
        let annotations: Vec<pb::SignedEnvelope> = self
            .annotations_of(Some(borrower))
            .await?
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        let disputes = self
            .list_disputes(Some(borrower), false, Some(as_of))
            .await?;
        let queries: Vec<pb::QueryHistoryItem> = self
            .all_query_history(borrower)
            .await?
            .into_iter()
            .filter(|q| {
                let day = zone.date_of_ms(q.time_ms);
                day >= since && day <= as_of
            })
            .collect();
        let report = pb::BorrowerReportResponse {
            institution_id: self.institution().to_string(),
            generated_at_ms: now_ms(),
            as_of_date: iso_date(as_of),
            queries_since_date: iso_date(since),
            reason_counts: reason_counts(&queries),
            records,
            annotations,
            disputes,
            queries,
        };
        self.log_report(borrower, &report, actor).await?;
        Ok(report)
    }

    async fn log_report(
        &self,
        borrower: BorrowerKey,
        report: &pb::BorrowerReportResponse,
        actor: &Actor,
    ) -> Result<(), NodeError> {
        let entry = pb::BorrowerReportEntry {
            borrower_key: borrower.as_bytes().to_vec(),
            as_of_date: report.as_of_date.clone(),
            records: report.records.len() as u32,
            queries: report.queries.len() as u32,
            officer: actor.officer.clone(),
        };
        self.committer
            .commit(CommitRequest {
                log: vec![LogAppend {
                    entry: pb::LogEntry {
                        time_ms: report.generated_at_ms,
                        kind: Some(pb::log_entry::Kind::BorrowerReport(entry)),
                    },
                    query_index: None,
                }],
                ..Default::default()
            })
            .await?;
        Ok(())
    }
}

/// Queries summed per reason, in code order: received answered / denied,
/// and sent.
fn reason_counts(queries: &[pb::QueryHistoryItem]) -> Vec<pb::ReasonCount> {
    let mut counts: BTreeMap<Purpose, pb::ReasonCount> = BTreeMap::new();
    for q in queries {
        let Some(purpose) = Purpose::from_wire(q.purpose) else {
            continue;
        };
        let c = counts.entry(purpose).or_insert_with(|| pb::ReasonCount {
            purpose: q.purpose,
            ..Default::default()
        });
        if q.sent {
            c.sent += 1;
        } else if q.decision == "ANSWERED" {
            c.answered += 1;
        } else {
            c.denied += 1;
        }
    }
    counts.into_values().collect()
}
