//! The FIRST, ROUTINE and recovery obligations of a facility (FOCUSED ones
//! are in [`super::triggers`]).

use credshare_proto::v1 as pb;
use time::Date;

use super::{DatedVisit, FacilityVisitState, Obligation, Rules, add_days, channel_list, triggers};
use crate::domain::codes::code_name;
use crate::domain::indicators::known_risk_class;

/// FIRST, until a visit through a FIRST channel on or after disbursement.
pub(super) fn first_visit(
    open_date: Date,
    history: &[DatedVisit<'_>],
    rules: &Rules<'_>,
) -> Option<Obligation> {
    if history
        .iter()
        .any(|v| v.date >= open_date && v.through(&rules.first))
    {
        return None;
    }
    let days = rules.schedule.first_visit_days;
    Some(Obligation {
        kind: pb::VisitType::First,
        since: open_date,
        due: add_days(open_date, days)?,
        reason: format!("first visit within {days} days of disbursement on {open_date}"),
        satisfied_by: format!(
            "any visit {} on or after {open_date}",
            channel_list(&rules.first)
        ),
    })
}

/// ROUTINE, after the last visit through a ROUTINE channel (the FIRST
/// obligation covers a facility never visited that way).
pub(super) fn routine_visit(
    credit: &pb::CreditSummary,
    history: &[DatedVisit<'_>],
    rules: &Rules<'_>,
) -> Option<Obligation> {
    let last = history.iter().rev().find(|v| v.through(&rules.routine))?;
    let schedule = rules.schedule;
    let class = known_risk_class(credit.risk_class).unwrap_or(pb::RiskClass::Normal);
    let interval = match class {
        pb::RiskClass::SpecialMention => schedule.special_mention_interval_days,
        pb::RiskClass::Substandard | pb::RiskClass::Doubtful | pb::RiskClass::Loss => {
            schedule.non_performing_interval_days
        }
        pb::RiskClass::Normal | pb::RiskClass::Unspecified => schedule.normal_interval_days,
    };
    Some(Obligation {
        kind: pb::VisitType::Routine,
        since: last.date,
        due: add_days(last.date, interval)?,
        reason: format!(
            "routine visit every {interval} days for a {} facility; last visit {}",
            code_name(class),
            last.date
        ),
        satisfied_by: format!(
            "any visit {} after {}",
            channel_list(&rules.routine),
            last.date
        ),
    })
}

/// Recovery visits of a written-off facility, every
/// `written_off_interval_days` after the last ROUTINE-channel visit made
/// since the write-off (or after the write-off itself).
pub(super) fn recovery_visit(
    state: &FacilityVisitState<'_>,
    history: &[DatedVisit<'_>],
    rules: &Rules<'_>,
) -> Option<Obligation> {
    let interval = rules.schedule.written_off_interval_days;
    if interval == 0 {
        return None;
    }
    let written_off = triggers::status_since(state, pb::AccountStatus::WrittenOff)?;
    let last = history
        .iter()
        .rev()
        .find(|v| v.date >= written_off && v.through(&rules.routine))
        .map(|v| v.date);
    let since = last.unwrap_or(written_off);
    Some(Obligation {
        kind: pb::VisitType::Routine,
        since,
        due: add_days(since, interval)?,
        reason: match last {
            Some(d) => format!(
                "recovery visit every {interval} days for a facility written off on {written_off}; last visit {d}"
            ),
            None => {
                format!("recovery visit within {interval} days of the write-off on {written_off}")
            }
        },
        satisfied_by: format!("any visit {} after {since}", channel_list(&rules.routine)),
    })
}
