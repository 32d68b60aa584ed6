//! Retention of negative information (Regulation art. 16; docs/domain.md
//! "Retention"): overdue, a classification worse than NORMAL and warning
//! signals are kept 5 years from the day the bad behaviour ended, then
//! deleted. The end is dated by the records themselves:
//!
//! * a credit version is negative when it shows overdue days, a class worse
//!   than NORMAL, or status OVERDUE or WRITTEN_OFF; its bad behaviour ends
//!   with the first later version of the facility that is settled or no
//!   longer negative (its as-of date);
//! * a visit version is negative when it records warning signals or
//!   proposes a class worse than NORMAL; it ends with the facility's
//!   settlement (the settling version's as-of date) or a later clean visit
//!   of the same facility (its visit date), whichever comes first.
//!
//! A version whose bad behaviour has not ended never expires.

use credshare_proto::v1 as pb;
use time::{Date, Month};

use super::dates::parse_iso_date;

/// Years negative information is kept after the bad behaviour ended.
pub const RETENTION_YEARS: i32 = 5;

/// The day a record whose bad behaviour ended on `end` expires (29 February
/// ends on 28 February).
pub fn expires_on(end: Date) -> Date {
    let year = end.year() + RETENTION_YEARS;
    Date::from_calendar_date(year, end.month(), end.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(end)
}

/// Whether a credit version carries negative information.
pub fn credit_is_negative(c: &pb::CreditSummary) -> bool {
    c.overdue_days > 0
        || c.risk_class > pb::RiskClass::Normal as i32
        || c.account_status == pb::AccountStatus::Overdue as i32
        || c.account_status == pb::AccountStatus::WrittenOff as i32
}

/// Whether a visit version carries negative information.
pub fn visit_is_negative(v: &pb::VisitSummary) -> bool {
    !v.warning_signals.is_empty() || v.proposed_risk_class > pb::RiskClass::Normal as i32
}

fn settled(c: &pb::CreditSummary) -> bool {
    c.account_status == pb::AccountStatus::Settled as i32
}

/// Indexes of the versions of one facility (ascending by version) that
/// have expired on `as_of`.
pub fn expired_credit_versions(versions: &[pb::CreditSummary], as_of: Date) -> Vec<usize> {
    let ended = |i: usize| {
        versions[i + 1..]
            .iter()
            .find(|c| settled(c) || !credit_is_negative(c))
            .and_then(|c| parse_iso_date(&c.as_of_date))
    };
    (0..versions.len())
        .filter(|&i| credit_is_negative(&versions[i]))
        .filter(|&i| ended(i).is_some_and(|end| expires_on(end) <= as_of))
        .collect()
}

/// Whether a visit version has expired on `as_of`, given the versions of
/// its facility and the other visits of that facility.
pub fn visit_expired(
    visit: &pb::VisitSummary,
    facility: &[pb::CreditSummary],
    visits: &[pb::VisitSummary],
    as_of: Date,
) -> bool {
    if !visit_is_negative(visit) {
        return false;
    }
    let Some(date) = parse_iso_date(&visit.visit_date) else {
        return false;
    };
    let settlement = facility
        .iter()
        .filter(|c| settled(c))
        .filter_map(|c| parse_iso_date(&c.as_of_date))
        .filter(|d| *d >= date)
        .min();
    let clean_visit = visits
        .iter()
        .filter(|v| v.facility_id == visit.facility_id && !visit_is_negative(v))
        .filter_map(|v| parse_iso_date(&v.visit_date))
        .filter(|d| *d > date)
        .min();
    let end = match (settlement, clean_visit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    end.is_some_and(|end| expires_on(end) <= as_of)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_iso_date(s).unwrap()
    }

    fn credit(
        version: u64,
        overdue: u32,
        status: pb::AccountStatus,
        as_of: &str,
    ) -> pb::CreditSummary {
        let class = if overdue > 90 {
            pb::RiskClass::Substandard
        } else if overdue > 7 {
            pb::RiskClass::SpecialMention
        } else {
            pb::RiskClass::Normal
        };
        pb::CreditSummary {
            facility_id: "F-1".into(),
            version,
            overdue_days: overdue,
            risk_class: class as i32,
            account_status: status as i32,
            as_of_date: as_of.into(),
            ..Default::default()
        }
    }

    fn visit(date: &str, signals: bool) -> pb::VisitSummary {
        pb::VisitSummary {
            visit_id: date.into(),
            facility_id: "F-1".into(),
            visit_date: date.into(),
            warning_signals: if signals {
                vec![pb::WarningSignal::Litigation as i32]
            } else {
                vec![]
            },
            ..Default::default()
        }
    }

    #[test]
    fn negative_versions_expire_five_years_after_the_cure() {
        use pb::AccountStatus::{Active, Overdue};
        let versions = [
            credit(1, 100, Overdue, "2019-03-01"),
            credit(2, 130, Overdue, "2019-04-01"),
            credit(3, 0, Active, "2020-06-01"),
            credit(4, 20, Overdue, "2024-01-01"),
        ];
        assert!(expired_credit_versions(&versions, d("2025-05-31")).is_empty());
        assert_eq!(expired_credit_versions(&versions, d("2025-06-01")), [0, 1]);
        // Version 4 is still overdue: its bad behaviour has not ended.
        assert_eq!(expired_credit_versions(&versions, d("2040-01-01")), [0, 1]);
        assert_eq!(expires_on(d("2024-02-29")), d("2029-02-28"));
    }

    #[test]
    fn negative_visits_end_with_a_clean_visit_or_the_settlement() {
        let bad = visit("2019-01-10", true);
        let later_clean = visit("2019-07-01", false);
        let facility = [credit(1, 0, pb::AccountStatus::Settled, "2020-01-01")];
        let visits = [bad.clone(), later_clean];
        assert!(!visit_expired(&bad, &[], &visits, d("2024-06-30")));
        assert!(visit_expired(&bad, &[], &visits, d("2024-07-01")));
        assert!(visit_expired(
            &bad,
            &facility,
            std::slice::from_ref(&bad),
            d("2025-01-01")
        ));
        assert!(!visit_expired(
            &bad,
            &[],
            std::slice::from_ref(&bad),
            d("2040-01-01")
        ));
        assert!(!visit_expired(
            &visit("2010-01-01", false),
            &[],
            &[],
            d("2040-01-01")
        ));
    }
}
