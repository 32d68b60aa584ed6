//! The triggers of FOCUSED visits, each an obligation until a FOCUSED or
//! SPECIAL visit through a FOCUSED channel is made on or after it:
//!
//! * a downgrade: a version of the credit summary whose class is worse than
//!   the version before it (trigger: that version's as-of date, so a feed
//!   that only refreshes `as_of_date` does not move it);
//! * a visit that proposed a worse class than the visit before it, or
//!   recorded a warning signal the visit before did not (trigger: that
//!   visit's date; a qualifying visit answers what it finds itself);
//! * more than 60 days overdue (trigger: the day the 61st overdue day was
//!   reached, derived from the as-of date and overdue days, so it does not
//!   move when the record is refreshed).

use credshare_proto::v1 as pb;
use time::{Date, Duration};

use super::{
    DatedVisit, FOCUSED_OVERDUE_DAYS, FacilityVisitState, Obligation, Rules, add_days, channel_list,
};
use crate::domain::codes::code_name;
use crate::domain::dates::parse_iso_date;
use crate::domain::indicators::known_risk_class;

/// Every open FOCUSED obligation of the facility.
pub(super) fn focused_obligations(
    state: &FacilityVisitState<'_>,
    history: &[DatedVisit<'_>],
    rules: &Rules<'_>,
) -> Vec<Obligation> {
    let answered_since = |trigger: Date| {
        history
            .iter()
            .any(|v| v.date >= trigger && v.answers_focused(rules))
    };
    let mut open = Vec::new();
    for (trigger, reason) in downgrades(state).into_iter().chain(long_overdue(state)) {
        if !answered_since(trigger) {
            open.extend(focused(trigger, reason, rules));
        }
    }
    for (i, visit) in history.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| &history[p]);
        let Some(reason) = finding(visit, previous) else {
            continue;
        };
        // The finding visit itself, or any later one, may answer it.
        if !history[i..].iter().any(|v| v.answers_focused(rules)) {
            open.extend(focused(visit.date, reason, rules));
        }
    }
    open
}

fn focused(trigger: Date, reason: String, rules: &Rules<'_>) -> Option<Obligation> {
    Some(Obligation {
        kind: pb::VisitType::Focused,
        since: trigger,
        due: add_days(trigger, rules.schedule.focused_visit_days)?,
        reason,
        satisfied_by: format!(
            "a FOCUSED or SPECIAL visit {} on or after {trigger}",
            channel_list(&rules.focused)
        ),
    })
}

/// Every version whose class is worse than the version before it.
fn downgrades(state: &FacilityVisitState<'_>) -> Vec<(Date, String)> {
    state
        .versions
        .windows(2)
        .filter_map(|pair| {
            let (before, after) = (pair[0], pair[1]);
            let was = known_risk_class(before.risk_class)?;
            let now = known_risk_class(after.risk_class)?;
            let as_of = parse_iso_date(&after.as_of_date)?;
            (now > was).then(|| {
                let reason = format!(
                    "downgraded from {} to {} as of {as_of} (version {})",
                    code_name(was),
                    code_name(now),
                    after.version
                );
                (as_of, reason)
            })
        })
        .collect()
}

/// More than 60 days overdue: the trigger is the day the 61st overdue day
/// was reached.
fn long_overdue(state: &FacilityVisitState<'_>) -> Option<(Date, String)> {
    let credit = state.credit()?;
    if credit.overdue_days <= FOCUSED_OVERDUE_DAYS {
        return None;
    }
    let as_of = parse_iso_date(&credit.as_of_date)?;
    let since_threshold = credit.overdue_days - (FOCUSED_OVERDUE_DAYS + 1);
    let crossed = as_of.checked_sub(Duration::days(i64::from(since_threshold)))?;
    let reason = format!(
        "{} days overdue as of {as_of} (over {FOCUSED_OVERDUE_DAYS} since {crossed})",
        credit.overdue_days
    );
    Some((crossed, reason))
}

/// A downgrade proposal or a new warning signal at `visit`.
fn finding(visit: &DatedVisit<'_>, previous: Option<&DatedVisit<'_>>) -> Option<String> {
    if let (Some(now), Some(before)) = (visit.proposed(), previous.and_then(|p| p.proposed()))
        && now > before
    {
        return Some(format!(
            "visit on {} proposed {}, worse than {} before",
            visit.date,
            code_name(now),
            code_name(before)
        ));
    }
    let new_signals: Vec<&str> = visit
        .signals()
        .filter(|s| previous.is_none_or(|p| !p.signals().any(|old| old == *s)))
        .map(code_name)
        .collect();
    if new_signals.is_empty() {
        return None;
    }
    Some(format!(
        "new warning signal(s) {} at the visit on {}",
        new_signals.join(", "),
        visit.date
    ))
}

/// The as-of date of the first version of the facility's current run of
/// `status` (e.g. the write-off), if the current version has that status.
pub(super) fn status_since(
    state: &FacilityVisitState<'_>,
    status: pb::AccountStatus,
) -> Option<Date> {
    let first = state
        .versions
        .iter()
        .rev()
        .take_while(|c| c.account_status == status as i32)
        .last()?;
    parse_iso_date(&first.as_of_date)
}
