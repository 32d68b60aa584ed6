//! Read-only reports for the institution's officers: who asked about a
//! borrower (from the query log, the data subject's right to know) and which
//! facilities are due a post-loan visit.

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::{records, visits};
use crate::error::NodeError;
use crate::node::Node;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};

/// Most due visits returned by default.
pub const DEFAULT_DUE_LIMIT: u32 = 1000;

impl Node {
    /// Every peer query about `borrower` in this node's log, oldest first.
    pub async fn query_history(
        &self,
        borrower: [u8; 32],
    ) -> Result<Vec<pb::QueryHistoryItem>, NodeError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut items = Vec::new();
            for leaf in store.query_history(&borrower)? {
                let Some(bytes) = store.log_entry(leaf)? else {
                    continue;
                };
                let Ok(entry) = pb::LogEntry::decode(bytes.as_slice()) else {
                    continue;
                };
                let Some(pb::log_entry::Kind::PeerQuery(q)) = entry.kind else {
                    continue;
                };
                let decision = if q.decision == pb::Decision::Answered as i32 {
                    "ANSWERED".to_string()
                } else {
                    let reason = pb::DenialReason::try_from(q.denial_reason).unwrap_or_default();
                    format!(
                        "DENIED:{}",
                        reason.as_str_name().trim_start_matches("DENIAL_REASON_")
                    )
                };
                items.push(pb::QueryHistoryItem {
                    leaf_index: leaf,
                    time_ms: entry.time_ms,
                    requester_institution: q.requester_institution,
                    purpose: q.purpose,
                    scope: q.scope,
                    consent_id: q.consent_id,
                    decision,
                });
            }
            Ok(items)
        })
        .await
        .map_err(|e| NodeError::FailedPrecondition(e.to_string()))?
    }

    /// Facilities due (or within `horizon_days` of due) a visit on `as_of`.
    pub async fn due_visits(
        &self,
        req: pb::DueVisitsRequest,
    ) -> Result<Vec<pb::DueVisit>, NodeError> {
        let today = if req.as_of_date.is_empty() {
            time::OffsetDateTime::now_utc().date()
        } else {
            records::parse_date("as_of_date", &req.as_of_date)
                .map_err(|e| NodeError::invalid(e.field, e.reason))?
        };
        let limit = if req.limit == 0 {
            DEFAULT_DUE_LIMIT
        } else {
            req.limit.min(100_000)
        } as usize;
        let horizon = i32::try_from(req.horizon_days).unwrap_or(i32::MAX);
        let store = self.store.clone();
        let schedule = self.config.visits.clone();
        tokio::task::spawn_blocking(move || {
            let mut due = Vec::new();
            let mut current: Option<[u8; 32]> = None;
            let (mut credits, mut visit_list) = (Vec::new(), Vec::new());
            let mut flush = |bk: &[u8; 32],
                             credits: &mut Vec<pb::CreditSummary>,
                             vs: &mut Vec<pb::VisitSummary>| {
                for state in visits::group_by_facility(credits, vs) {
                    if let Some(mut d) = visits::next_visit(&state, &schedule, today)
                        && d.days_overdue >= -horizon
                    {
                        d.borrower_key = bk.to_vec();
                        due.push(d);
                    }
                }
                credits.clear();
                vs.clear();
            };
            store.for_each_current_record(|bk, record| {
                if current.as_ref() != Some(bk) {
                    if let Some(prev) = current {
                        flush(&prev, &mut credits, &mut visit_list);
                    }
                    current = Some(*bk);
                }
                let Some(env) = &record.envelope else { return };
                match env.payload_type.as_str() {
                    CREDIT_SUMMARY_TYPE => {
                        credits.extend(pb::CreditSummary::decode(env.payload.as_slice()).ok())
                    }
                    VISIT_SUMMARY_TYPE => {
                        visit_list.extend(pb::VisitSummary::decode(env.payload.as_slice()).ok())
                    }
                    _ => {}
                }
            })?;
            if let Some(prev) = current {
                flush(&prev, &mut credits, &mut visit_list);
            }
            due.sort_by(|a, b| {
                b.days_overdue
                    .cmp(&a.days_overdue)
                    .then_with(|| a.facility_id.cmp(&b.facility_id))
            });
            due.truncate(limit);
            Ok(due)
        })
        .await
        .map_err(|e| NodeError::FailedPrecondition(e.to_string()))?
    }
}
