//! Borrower indicators: what a SUMMARY-scope answer discloses
//! (docs/design.md §4).
//!
//! Derived figures only — counts, totals per currency, worst class, recent
//! warning signals — never a record, a facility id or a free-text
//! conclusion (PIPL minimum necessary data).

use std::collections::BTreeMap;

use super::dates::{iso_date, parse_iso_date};
use credshare_proto::v1 as pb;
use time::Date;

/// Warning signals observed within this many days before today (inclusive)
/// are "recent" (docs/domain.md#assessment).
pub const RECENT_SIGNAL_DAYS: i64 = 180;
/// Facilities more than this many days overdue count towards
/// `outstanding_over_90_days`.
pub const OVER_90_DAYS: u32 = 90;

/// Computes the indicators of one borrower at this institution from the
/// current (newest-version) decoded records.
///
/// `facility_count` counts every current facility, settled ones included,
/// split into `live_facility_count` (not `SETTLED`) and
/// `settled_facility_count`; exposures, worst risk class and max overdue
/// days consider only live facilities. Recent signals are the warning signals of visits
/// dated within [`RECENT_SIGNAL_DAYS`] before `today` (and not after it),
/// deduplicated, newest first then by signal. Visits or signals with
/// unparsable dates or unknown codes are skipped. Cost: O(n log n).
pub fn indicators(
    credits: &[pb::CreditSummary],
    visits: &[pb::VisitSummary],
    today: Date,
) -> pb::BorrowerIndicators {
    let open: Vec<&pb::CreditSummary> = credits.iter().filter(|c| !is_settled(c)).collect();
    let worst_risk_class = open
        .iter()
        .filter_map(|c| known_risk_class(c.risk_class))
        .max()
        .unwrap_or(pb::RiskClass::Unspecified);
    let last_visit_date = visits
        .iter()
        .filter_map(|v| parse_iso_date(&v.visit_date))
        .max()
        .map(iso_date)
        .unwrap_or_default();
    pb::BorrowerIndicators {
        facility_count: saturating_u32(credits.len()),
        live_facility_count: saturating_u32(open.len()),
        settled_facility_count: saturating_u32(credits.len() - open.len()),
        exposures: exposures(&open),
        worst_risk_class: worst_risk_class as i32,
        max_overdue_days: open.iter().map(|c| c.overdue_days).max().unwrap_or(0),
        recent_signals: recent_signals(visits, today),
        last_visit_date,
        visit_count: saturating_u32(visits.len()),
        disputed: Vec::new(),
    }
}

fn is_settled(credit: &pb::CreditSummary) -> bool {
    credit.account_status == pb::AccountStatus::Settled as i32
}

/// A risk class value that names one of the five categories.
pub(crate) fn known_risk_class(value: i32) -> Option<pb::RiskClass> {
    match pb::RiskClass::try_from(value) {
        Ok(pb::RiskClass::Unspecified) | Err(_) => None,
        Ok(class) => Some(class),
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Totals per currency, sorted by currency code. Sums saturate rather than
/// wrap: a wrong-but-huge total is visible, a wrapped one would lie.
fn exposures(open: &[&pb::CreditSummary]) -> Vec<pb::CurrencyExposure> {
    let mut by_currency: BTreeMap<&str, pb::CurrencyExposure> = BTreeMap::new();
    for credit in open {
        let total = by_currency
            .entry(credit.currency.as_str())
            .or_insert_with(|| pb::CurrencyExposure {
                currency: credit.currency.clone(),
                ..Default::default()
            });
        total.contract_amount = total.contract_amount.saturating_add(credit.contract_amount);
        total.outstanding_balance = total
            .outstanding_balance
            .saturating_add(credit.outstanding_balance);
        if credit.overdue_days > OVER_90_DAYS {
            total.outstanding_over_90_days = total
                .outstanding_over_90_days
                .saturating_add(credit.outstanding_balance);
        }
    }
    by_currency.into_values().collect()
}

/// Whether `date` lies in the recent-signal window ending `today`.
pub(crate) fn is_recent(date: Date, today: Date) -> bool {
    let age_days = (today - date).whole_days();
    (0..=RECENT_SIGNAL_DAYS).contains(&age_days)
}

fn recent_signals(visits: &[pb::VisitSummary], today: Date) -> Vec<pb::SignalObservation> {
    let mut seen: Vec<(Date, pb::WarningSignal)> = visits
        .iter()
        .filter_map(|v| parse_iso_date(&v.visit_date).map(|d| (d, v)))
        .filter(|(date, _)| is_recent(*date, today))
        .flat_map(|(date, v)| {
            v.warning_signals
                .iter()
                .filter_map(move |&s| match pb::WarningSignal::try_from(s) {
                    Ok(pb::WarningSignal::Unspecified) | Err(_) => None,
                    Ok(signal) => Some((date, signal)),
                })
        })
        .collect();
    seen.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    seen.dedup();
    seen.into_iter()
        .map(|(date, signal)| pb::SignalObservation {
            signal: signal as i32,
            visit_date: iso_date(date),
            institution_id: String::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
