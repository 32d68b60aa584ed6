//! The post-loan visit schedule (docs/domain.md#visit-schedule): every open
//! visit obligation of a facility as of a day, when each is due, why, and
//! which visits satisfy it.
//!
//! Obligations, each listed while it is open (several may be open at once):
//! * FIRST — after disbursement, `first_visit_days` from the open date;
//!   satisfied by a visit through a `first_visit_channels` channel on or
//!   after the open date.
//! * ROUTINE — every `normal_interval_days` (NORMAL),
//!   `special_mention_interval_days` or `non_performing_interval_days`, by
//!   the facility's current class, after the last visit through a
//!   `routine_visit_channels` channel; written-off facilities keep recovery
//!   visits every `written_off_interval_days` (0 = none) from the
//!   write-off.
//! * FOCUSED — within `focused_visit_days` of a trigger ([`triggers`]): a
//!   downgrade between two versions of the credit summary, a visit that
//!   proposed a worse class or found a new warning signal, or more than 60
//!   days overdue. Satisfied only by a FOCUSED or SPECIAL visit through a
//!   `focused_visit_channels` channel (on site by default) on or after the
//!   trigger.
//!
//! Visits dated after `today` are ignored (the schedule can be evaluated as
//! of a past date). Settled facilities need no visits.

mod regular;
mod schedule;
mod triggers;

use std::collections::HashMap;

use credshare_proto::v1 as pb;
use time::{Date, Duration};

use super::codes::code_name;
use super::dates::parse_iso_date;
use super::indicators::known_risk_class;
use regular::{first_visit, recovery_visit, routine_visit};
use schedule::Rules;
pub use schedule::VisitSchedule;

/// Overdue beyond this many days calls for a FOCUSED visit.
pub const FOCUSED_OVERDUE_DAYS: u32 = 60;

/// One facility: every stored version of its credit summary (oldest
/// first; the last is current) and the current versions of its visits.
#[derive(Debug, Clone)]
pub struct FacilityVisitState<'a> {
    pub versions: Vec<&'a pb::CreditSummary>,
    /// Visits of this facility, in any order.
    pub visits: Vec<&'a pb::VisitSummary>,
}

impl<'a> FacilityVisitState<'a> {
    /// The current credit summary.
    pub fn credit(&self) -> Option<&'a pb::CreditSummary> {
        self.versions.last().copied()
    }
}

/// Groups credit summary versions by facility (same borrower key and
/// facility id, ordered by version) with the facility's visits. Visits of
/// unknown facilities are left out. Cost: O(n log n).
pub fn group_by_facility<'a>(
    credit_versions: &'a [pb::CreditSummary],
    visits: &'a [pb::VisitSummary],
) -> Vec<FacilityVisitState<'a>> {
    let mut by_facility: HashMap<(&[u8], &str), Vec<&pb::VisitSummary>> = HashMap::new();
    for visit in visits {
        by_facility
            .entry((visit.borrower_key.as_slice(), visit.facility_id.as_str()))
            .or_default()
            .push(visit);
    }
    let mut order: Vec<(&[u8], &str)> = Vec::new();
    let mut versions: HashMap<(&[u8], &str), Vec<&pb::CreditSummary>> = HashMap::new();
    for credit in credit_versions {
        let key = (credit.borrower_key.as_slice(), credit.facility_id.as_str());
        let slot = versions.entry(key).or_default();
        if slot.is_empty() {
            order.push(key);
        }
        slot.push(credit);
    }
    order
        .into_iter()
        .map(|key| {
            let mut versions = versions.remove(&key).unwrap_or_default();
            versions.sort_by_key(|c| c.version);
            FacilityVisitState {
                versions,
                visits: by_facility.remove(&key).unwrap_or_default(),
            }
        })
        .collect()
}

/// Every open visit obligation of the facility as of `today`, earliest due
/// first. `days_overdue` is `today - due_date` (negative when due in the
/// future). Empty for settled facilities, and for a schedule that does not
/// validate (which start-up prevents).
pub fn open_obligations(
    state: &FacilityVisitState<'_>,
    schedule: &VisitSchedule,
    today: Date,
) -> Vec<pb::DueVisit> {
    let (Some(credit), Ok(rules)) = (state.credit(), schedule.rules()) else {
        return Vec::new();
    };
    let history = dated_history(&state.visits, today);
    let mut open = obligations(state, credit, &history, &rules);
    open.sort_by_key(|o| (o.due, urgency_rank(o.kind)));
    open.into_iter()
        .map(|o| o.into_due_visit(credit, &history, today))
        .collect()
}

/// The open obligations, in no particular order.
fn obligations(
    state: &FacilityVisitState<'_>,
    credit: &pb::CreditSummary,
    history: &[DatedVisit<'_>],
    rules: &Rules<'_>,
) -> Vec<Obligation> {
    let status = pb::AccountStatus::try_from(credit.account_status).ok();
    match status {
        Some(pb::AccountStatus::Settled) => return Vec::new(),
        Some(pb::AccountStatus::WrittenOff) => {
            return recovery_visit(state, history, rules).into_iter().collect();
        }
        _ => {}
    }
    let Some(open_date) = parse_iso_date(&credit.open_date) else {
        return Vec::new();
    };
    let mut open = Vec::new();
    open.extend(first_visit(open_date, history, rules));
    open.extend(routine_visit(credit, history, rules));
    open.extend(triggers::focused_obligations(state, history, rules));
    open
}

/// Why a visit is owed, and when.
#[derive(Debug)]
struct Obligation {
    kind: pb::VisitType,
    /// The day the obligation arose (disbursement, last visit, trigger).
    since: Date,
    due: Date,
    reason: String,
    /// Which visits satisfy it.
    satisfied_by: String,
}

impl Obligation {
    fn into_due_visit(
        self,
        credit: &pb::CreditSummary,
        history: &[DatedVisit<'_>],
        today: Date,
    ) -> pb::DueVisit {
        pb::DueVisit {
            borrower_key: credit.borrower_key.clone(),
            facility_id: credit.facility_id.clone(),
            risk_class: credit.risk_class,
            last_visit_date: history
                .last()
                .map(|v| v.date.to_string())
                .unwrap_or_default(),
            due_date: self.due.to_string(),
            required_type: self.kind as i32,
            days_overdue: i32::try_from((today - self.due).whole_days()).unwrap_or(i32::MAX),
            reason: self.reason,
            trigger_date: self.since.to_string(),
            satisfied_by: self.satisfied_by,
        }
    }
}

/// A visit with its parsed date.
#[derive(Debug, Clone, Copy)]
struct DatedVisit<'a> {
    date: Date,
    visit: &'a pb::VisitSummary,
}

impl DatedVisit<'_> {
    fn channel(&self) -> Option<pb::VisitChannel> {
        pb::VisitChannel::try_from(self.visit.channel).ok()
    }

    fn through(&self, channels: &[pb::VisitChannel]) -> bool {
        self.channel().is_some_and(|c| channels.contains(&c))
    }

    /// A FOCUSED or SPECIAL visit through a FOCUSED channel.
    fn answers_focused(&self, rules: &Rules<'_>) -> bool {
        let kind = pb::VisitType::try_from(self.visit.visit_type).ok();
        matches!(kind, Some(pb::VisitType::Focused | pb::VisitType::Special))
            && self.through(&rules.focused)
    }

    fn proposed(&self) -> Option<pb::RiskClass> {
        known_risk_class(self.visit.proposed_risk_class)
    }

    fn signals(&self) -> impl Iterator<Item = pb::WarningSignal> + '_ {
        (self.visit.warning_signals.iter()).filter_map(|s| match pb::WarningSignal::try_from(*s) {
            Ok(pb::WarningSignal::Unspecified) | Err(_) => None,
            Ok(signal) => Some(signal),
        })
    }
}

/// Visits dated on or before `today`, oldest first (same day: by visit id).
fn dated_history<'a>(visits: &[&'a pb::VisitSummary], today: Date) -> Vec<DatedVisit<'a>> {
    let mut history: Vec<DatedVisit<'a>> = visits
        .iter()
        .filter_map(|v| {
            let date = parse_iso_date(&v.visit_date)?;
            (date <= today).then_some(DatedVisit { date, visit: v })
        })
        .collect();
    history.sort_by(|a, b| (a.date, &a.visit.visit_id).cmp(&(b.date, &b.visit.visit_id)));
    history
}

fn urgency_rank(kind: pb::VisitType) -> u8 {
    match kind {
        pb::VisitType::Focused => 0,
        pb::VisitType::First => 1,
        _ => 2,
    }
}

fn add_days(date: Date, days: u32) -> Option<Date> {
    date.checked_add(Duration::days(i64::from(days)))
}

/// "ONSITE or VIDEO".
fn channel_list(channels: &[pb::VisitChannel]) -> String {
    let names: Vec<&str> = channels.iter().map(|c| code_name(*c)).collect();
    names.join(" or ")
}

#[cfg(test)]
mod tests;
