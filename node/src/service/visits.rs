//! Post-loan visits due: every open visit obligation of this institution's
//! facilities (by the configured schedule, `domain::visits`) that is due or
//! overdue, or due within a horizon.

use credshare_proto::v1 as pb;
use prost::Message;
use time::Date;

use super::Node;
use crate::blocking;
use crate::domain::BorrowerKey;
use crate::domain::visits::{self, VisitSchedule};
use crate::error::NodeError;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};

/// Most due visits returned by default.
pub const DEFAULT_DUE_LIMIT: u32 = 1000;
/// Most due visits returned at all.
pub const MAX_DUE_LIMIT: u32 = 100_000;

/// An officer's question (from `DueVisits`).
#[derive(Debug, Clone, Copy)]
pub struct DueVisitsQuery {
    /// Evaluate on this date; `None` = today in the business time zone.
    pub as_of: Option<Date>,
    /// Also list visits due within this many days.
    pub horizon_days: u32,
    /// Most visits returned; 0 = [`DEFAULT_DUE_LIMIT`].
    pub limit: u32,
}

impl Node {
    /// Open visit obligations due (or within the horizon of due), most
    /// overdue first. One scan over every record version: O(versions).
    pub async fn due_visits(&self, query: DueVisitsQuery) -> Result<Vec<pb::DueVisit>, NodeError> {
        let today = query
            .as_of
            .unwrap_or_else(|| self.config.business_time_zone.today());
        let limit = match query.limit {
            0 => DEFAULT_DUE_LIMIT,
            n => n.min(MAX_DUE_LIMIT),
        } as usize;
        let horizon = i32::try_from(query.horizon_days).unwrap_or(i32::MAX);
        let store = self.store.clone();
        let schedule = self.config.visits.clone();
        blocking::run(move || {
            let mut scan = DueScan::new(schedule, today, horizon, limit);
            store
                .for_each_record(|borrower, record, current| scan.add(borrower, record, current))?;
            Ok(scan.finish())
        })
        .await
    }
}

/// Collects one borrower's records at a time (they arrive grouped by
/// borrower): every version of its credit summaries, the current version
/// of its visits; evaluates its facilities when the next borrower starts.
/// Keeps at most about twice `limit` due visits (the most overdue), so a
/// store of a million borrowers is scanned in bounded memory.
struct DueScan {
    schedule: VisitSchedule,
    today: Date,
    horizon: i32,
    limit: usize,
    current: Option<BorrowerKey>,
    credits: Vec<pb::CreditSummary>,
    visits: Vec<pb::VisitSummary>,
    due: Vec<pb::DueVisit>,
}

impl DueScan {
    fn new(schedule: VisitSchedule, today: Date, horizon: i32, limit: usize) -> Self {
        Self {
            schedule,
            today,
            horizon,
            limit,
            current: None,
            credits: Vec::new(),
            visits: Vec::new(),
            due: Vec::new(),
        }
    }

    fn add(&mut self, borrower: &BorrowerKey, record: &pb::StoredRecord, current: bool) {
        if self.current.as_ref() != Some(borrower) {
            self.flush();
            self.current = Some(*borrower);
        }
        let Some(env) = &record.envelope else { return };
        match env.payload_type.as_str() {
            CREDIT_SUMMARY_TYPE => self
                .credits
                .extend(pb::CreditSummary::decode(env.payload.as_slice()).ok()),
            VISIT_SUMMARY_TYPE if current => self
                .visits
                .extend(pb::VisitSummary::decode(env.payload.as_slice()).ok()),
            _ => {}
        }
    }

    /// Evaluates the borrower collected so far.
    fn flush(&mut self) {
        let Some(borrower) = self.current.take() else {
            return;
        };
        for state in visits::group_by_facility(&self.credits, &self.visits) {
            let open = visits::open_obligations(&state, &self.schedule, self.today);
            self.due.extend(
                open.into_iter()
                    .filter(|d| d.days_overdue >= -self.horizon)
                    .map(|mut d| {
                        d.borrower_key = borrower.as_bytes().to_vec();
                        d
                    }),
            );
        }
        self.credits.clear();
        self.visits.clear();
        if self.due.len() > 2 * self.limit.max(1) {
            self.keep_most_overdue();
        }
    }

    /// Most overdue first (then by facility); only the first `limit` kept.
    fn keep_most_overdue(&mut self) {
        self.due.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then_with(|| a.facility_id.cmp(&b.facility_id))
        });
        self.due.truncate(self.limit);
    }

    fn finish(mut self) -> Vec<pb::DueVisit> {
        self.flush();
        self.keep_most_overdue();
        self.due
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// However many are found, the scan holds about twice the limit and
    /// returns exactly the most overdue, in order.
    #[test]
    fn a_scan_keeps_only_the_most_overdue_within_its_limit() {
        let today = Date::from_calendar_date(2026, time::Month::December, 3).unwrap();
        let mut scan = DueScan::new(VisitSchedule::default(), today, 0, 3);
        for i in 0..100i32 {
            scan.due.push(pb::DueVisit {
                facility_id: format!("F{i:03}"),
                days_overdue: (i * 37) % 101,
                ..Default::default()
            });
            scan.current = Some(BorrowerKey::from_slice(&[1; 32]).unwrap());
            scan.flush();
            assert!(scan.due.len() <= 6, "{} held", scan.due.len());
        }
        let due = scan.finish();
        let overdue: Vec<i32> = due.iter().map(|d| d.days_overdue).collect();
        let mut all: Vec<i32> = (0..100).map(|i| (i * 37) % 101).collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(overdue, all[..3]);
    }
}
