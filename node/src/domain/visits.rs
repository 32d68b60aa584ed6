//! The post-loan visit schedule (docs/domain.md#visit-schedule): when each
//! facility's next visit is due, of which type, and why.
//!
//! Candidates, of which the earliest wins (ties: FOCUSED, then FIRST, then
//! ROUTINE):
//! * FIRST — no visit yet: `first_visit_days` after the open date.
//! * ROUTINE — after the last visit, every `normal_interval_days` (NORMAL),
//!   `special_mention_interval_days`, or `non_performing_interval_days`,
//!   by the facility's current risk class.
//! * FOCUSED — within `focused_visit_days` of a trigger:
//!   - the facility's class is worse than the class proposed at the last
//!     visit (trigger: the credit's as-of date; answered by a FOCUSED visit
//!     on or after it);
//!   - a visit proposed a worse class than the visit before it, or recorded
//!     a warning signal the visit before did not (trigger: that visit's date;
//!     answered by any later FOCUSED visit — a FOCUSED visit answers what it
//!     finds itself);
//!   - more than 60 days overdue (trigger: the day the 61st overdue day was
//!     reached, derived from the as-of date and overdue days, so it does not
//!     move when the record is refreshed; answered by any visit on or after
//!     it).
//!
//! Visits dated after `today` are ignored (the schedule can be evaluated as
//! of a past date). Settled and written-off facilities need no visits.

use std::collections::HashMap;

use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use super::dates::parse_iso_date;
use super::indicators::known_risk_class;

/// The post-loan visit schedule, in days (`[visits]` in the node config).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisitSchedule {
    pub first_visit_days: u32,
    pub normal_interval_days: u32,
    pub special_mention_interval_days: u32,
    pub non_performing_interval_days: u32,
    pub focused_visit_days: u32,
}

impl Default for VisitSchedule {
    fn default() -> Self {
        Self {
            first_visit_days: 15,
            normal_interval_days: 90,
            special_mention_interval_days: 30,
            non_performing_interval_days: 30,
            focused_visit_days: 7,
        }
    }
}

/// Overdue beyond this many days calls for a FOCUSED visit.
pub const FOCUSED_OVERDUE_DAYS: u32 = 60;

/// One facility and the visits recorded for it (current versions).
#[derive(Debug, Clone)]
pub struct FacilityVisitState<'a> {
    pub credit: &'a pb::CreditSummary,
    /// Visits of this facility, in any order.
    pub visits: Vec<&'a pb::VisitSummary>,
}

/// Pairs every credit with its visits (same borrower key and facility id).
/// Visits of unknown facilities are left out. Cost: O(credits + visits).
pub fn group_by_facility<'a>(
    credits: &'a [pb::CreditSummary],
    visits: &'a [pb::VisitSummary],
) -> Vec<FacilityVisitState<'a>> {
    let mut by_facility: HashMap<(&[u8], &str), Vec<&pb::VisitSummary>> = HashMap::new();
    for visit in visits {
        by_facility
            .entry((visit.borrower_key.as_slice(), visit.facility_id.as_str()))
            .or_default()
            .push(visit);
    }
    credits
        .iter()
        .map(|credit| FacilityVisitState {
            credit,
            visits: by_facility
                .remove(&(credit.borrower_key.as_slice(), credit.facility_id.as_str()))
                .unwrap_or_default(),
        })
        .collect()
}

/// The facility's next due visit as of `today`, or `None` when the facility
/// is settled or written off (or its open date is unreadable, which record
/// validation prevents). `days_overdue` is `today - due_date` in days:
/// negative when the visit is due in the future.
pub fn next_visit(
    state: &FacilityVisitState<'_>,
    schedule: &VisitSchedule,
    today: Date,
) -> Option<pb::DueVisit> {
    let credit = state.credit;
    let status = pb::AccountStatus::try_from(credit.account_status).ok();
    if matches!(
        status,
        Some(pb::AccountStatus::Settled | pb::AccountStatus::WrittenOff)
    ) {
        return None;
    }
    let open_date = parse_iso_date(&credit.open_date)?;
    let history = dated_history(&state.visits, today);
    let mut candidates = Vec::new();
    match history.last() {
        None => candidates.extend(first_visit(open_date, schedule)),
        Some(last) => candidates.extend(routine_visit(credit, last, schedule)),
    }
    candidates.extend(class_worse_than_proposed(credit, &history, schedule));
    candidates.extend(unanswered_visit_findings(&history, schedule));
    candidates.extend(long_overdue(credit, &history, schedule));
    let next = candidates
        .into_iter()
        .min_by_key(|c| (c.due, urgency_rank(c.kind)))?;
    Some(pb::DueVisit {
        borrower_key: credit.borrower_key.clone(),
        facility_id: credit.facility_id.clone(),
        risk_class: credit.risk_class,
        last_visit_date: history
            .last()
            .map(|v| v.date.to_string())
            .unwrap_or_default(),
        due_date: next.due.to_string(),
        required_type: next.kind as i32,
        days_overdue: i32::try_from((today - next.due).whole_days()).unwrap_or(i32::MAX),
        reason: next.reason,
    })
}

/// A visit that may be the next one.
#[derive(Debug)]
struct Candidate {
    due: Date,
    kind: pb::VisitType,
    reason: String,
}

/// A visit with its parsed date.
#[derive(Debug, Clone, Copy)]
struct DatedVisit<'a> {
    date: Date,
    visit: &'a pb::VisitSummary,
}

impl DatedVisit<'_> {
    fn is_focused(&self) -> bool {
        self.visit.visit_type == pb::VisitType::Focused as i32
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

fn first_visit(open_date: Date, schedule: &VisitSchedule) -> Option<Candidate> {
    Some(Candidate {
        due: add_days(open_date, schedule.first_visit_days)?,
        kind: pb::VisitType::First,
        reason: format!(
            "first visit within {} days of disbursement on {open_date}",
            schedule.first_visit_days
        ),
    })
}

fn routine_visit(
    credit: &pb::CreditSummary,
    last: &DatedVisit<'_>,
    schedule: &VisitSchedule,
) -> Option<Candidate> {
    let class = known_risk_class(credit.risk_class).unwrap_or(pb::RiskClass::Normal);
    let interval = match class {
        pb::RiskClass::SpecialMention => schedule.special_mention_interval_days,
        pb::RiskClass::Substandard | pb::RiskClass::Doubtful | pb::RiskClass::Loss => {
            schedule.non_performing_interval_days
        }
        pb::RiskClass::Normal | pb::RiskClass::Unspecified => schedule.normal_interval_days,
    };
    Some(Candidate {
        due: add_days(last.date, interval)?,
        kind: pb::VisitType::Routine,
        reason: format!(
            "routine visit every {interval} days for a {} facility; last visit {}",
            class_name(class),
            last.date
        ),
    })
}

fn focused(trigger: Date, schedule: &VisitSchedule, reason: String) -> Option<Candidate> {
    Some(Candidate {
        due: add_days(trigger, schedule.focused_visit_days)?,
        kind: pb::VisitType::Focused,
        reason,
    })
}

/// The bank's current class is worse than what the last visit proposed.
fn class_worse_than_proposed(
    credit: &pb::CreditSummary,
    history: &[DatedVisit<'_>],
    schedule: &VisitSchedule,
) -> Option<Candidate> {
    let last = history.last()?;
    let proposed = last.proposed()?;
    let class = known_risk_class(credit.risk_class)?;
    let as_of = parse_iso_date(&credit.as_of_date)?;
    let answered = history.iter().any(|v| v.is_focused() && v.date >= as_of);
    if class <= proposed || answered {
        return None;
    }
    let reason = format!(
        "downgraded to {} (as of {as_of}), worse than {} proposed at the visit on {}",
        class_name(class),
        class_name(proposed),
        last.date
    );
    focused(as_of, schedule, reason)
}

/// Downgrade proposals and new warning signals at visits after the last
/// FOCUSED visit; the earliest one is due first.
fn unanswered_visit_findings(
    history: &[DatedVisit<'_>],
    schedule: &VisitSchedule,
) -> Option<Candidate> {
    let start = history
        .iter()
        .rposition(|v| v.is_focused())
        .map_or(0, |i| i + 1);
    (start..history.len()).find_map(|i| {
        let visit = &history[i];
        let previous = i.checked_sub(1).map(|p| &history[p]);
        if let (Some(now), Some(before)) = (visit.proposed(), previous.and_then(|p| p.proposed()))
            && now > before
        {
            let reason = format!(
                "visit on {} proposed {}, worse than {} before",
                visit.date,
                class_name(now),
                class_name(before)
            );
            return focused(visit.date, schedule, reason);
        }
        let new_signals: Vec<&str> = visit
            .signals()
            .filter(|s| previous.is_none_or(|p| !p.signals().any(|old| old == *s)))
            .map(signal_name)
            .collect();
        if new_signals.is_empty() {
            return None;
        }
        let reason = format!(
            "new warning signal(s) {} at the visit on {}",
            new_signals.join(", "),
            visit.date
        );
        focused(visit.date, schedule, reason)
    })
}

/// More than 60 days overdue and no visit since that point was reached.
fn long_overdue(
    credit: &pb::CreditSummary,
    history: &[DatedVisit<'_>],
    schedule: &VisitSchedule,
) -> Option<Candidate> {
    if credit.overdue_days <= FOCUSED_OVERDUE_DAYS {
        return None;
    }
    let as_of = parse_iso_date(&credit.as_of_date)?;
    let since_threshold = credit.overdue_days - (FOCUSED_OVERDUE_DAYS + 1);
    let crossed = as_of.checked_sub(Duration::days(i64::from(since_threshold)))?;
    if history.iter().any(|v| v.date >= crossed) {
        return None;
    }
    let reason = format!(
        "{} days overdue as of {as_of} (over {FOCUSED_OVERDUE_DAYS} since {crossed}), no visit since",
        credit.overdue_days
    );
    focused(crossed, schedule, reason)
}

fn class_name(class: pb::RiskClass) -> &'static str {
    let name = class.as_str_name();
    name.strip_prefix("RISK_CLASS_").unwrap_or(name)
}

fn signal_name(signal: pb::WarningSignal) -> &'static str {
    let name = signal.as_str_name();
    name.strip_prefix("WARNING_SIGNAL_").unwrap_or(name)
}

#[cfg(test)]
mod tests;
