//! Disputes and annotations (Regulation art. 25–26; docs/domain.md
//! "Disputes and annotations"): the data provider marks a disputed record
//! at once, answers within 20 days — corrected (a newer version), confirmed
//! (mark removed) or unresolved (mark stays) — and shows the mark, its
//! explanation and the borrower's statement with the record.
//!
//! While a dispute is open or unresolved the record is left out of the
//! holder's indicators and listed apart with its own figures, so that a
//! peer sees both the figures without it and what it would add.

use credshare_proto::v1 as pb;
use time::{Date, Duration};

use super::borrower::contains_identifier;
use super::dates::parse_iso_date;
use super::field::FieldError;
use super::indicators;

/// Days the provider has to answer a dispute (art. 25).
pub const ANSWER_DAYS: i64 = 20;
/// Longest annotation text, characters.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// The day an answer to a dispute opened on `opened` is due.
pub fn due_date(opened: Date) -> Date {
    opened.saturating_add(Duration::days(ANSWER_DAYS))
}

/// Whether a dispute in `status` still marks its record.
pub fn marks_record(status: i32) -> bool {
    status == pb::DisputeStatus::Open as i32 || status == pb::DisputeStatus::Unresolved as i32
}

/// Days past due on `as_of` (negative = due in the future); 0 for a
/// malformed date.
pub fn days_overdue(due_date: &str, as_of: Date) -> i32 {
    parse_iso_date(due_date).map_or(0, |due| (as_of - due).whole_days() as i32)
}

/// Whether an annotation is an open dispute past its due date on `as_of`.
pub fn is_overdue(mark: &pb::Annotation, as_of: Date) -> bool {
    mark.dispute_status == pb::DisputeStatus::Open as i32 && days_overdue(&mark.due_date, as_of) > 0
}

/// Checks an annotation's free text: not empty, at most
/// [`MAX_TEXT_CHARS`], no control characters but newlines, no identifiers
/// (it travels to peers).
pub fn validate_text(field: &'static str, text: &str, today: Date) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new(field, "contains control characters"));
    }
    if contains_identifier(text, today) {
        return Err(FieldError::new(field, "must not contain identifiers"));
    }
    Ok(())
}

/// Checks a resolution: the outcome is CORRECTED, CONFIRMED or UNRESOLVED
/// of an open or unresolved dispute; CORRECTED needs a stored version newer
/// than the one disputed.
pub fn check_resolution(
    mark: &pb::Annotation,
    outcome: pb::DisputeStatus,
    current_version: u64,
) -> Result<(), String> {
    if !marks_record(mark.dispute_status) {
        return Err(format!("dispute {} is already closed", mark.dispute_id));
    }
    match outcome {
        pb::DisputeStatus::Corrected if current_version <= mark.record_version => Err(format!(
            "record {} is still at version {current_version}: import the corrected version first",
            mark.record_id
        )),
        pb::DisputeStatus::Corrected
        | pb::DisputeStatus::Confirmed
        | pb::DisputeStatus::Unresolved => Ok(()),
        pb::DisputeStatus::Open | pb::DisputeStatus::Unspecified => {
            Err("the outcome is CORRECTED, CONFIRMED or UNRESOLVED".into())
        }
    }
}

/// A holder's indicators with its disputed records left out and listed
/// apart (each with its own figures). `marks` are the dispute marks of this
/// borrower; only those still marking a record count.
pub fn indicators_with_disputes(
    credits: &[pb::CreditSummary],
    visits: &[pb::VisitSummary],
    marks: &[pb::Annotation],
    today: Date,
) -> pb::BorrowerIndicators {
    let active: Vec<&pb::Annotation> = marks
        .iter()
        .filter(|m| {
            m.r#type == pb::AnnotationType::DisputeMark as i32 && marks_record(m.dispute_status)
        })
        .collect();
    let disputed_id = |id: &str| active.iter().find(|m| m.record_id == id);
    let (kept_credits, out_credits): (Vec<_>, Vec<_>) = credits
        .iter()
        .cloned()
        .partition(|c| disputed_id(&c.facility_id).is_none());
    let (kept_visits, out_visits): (Vec<_>, Vec<_>) = visits
        .iter()
        .cloned()
        .partition(|v| disputed_id(&v.visit_id).is_none());
    let mut ind = indicators::indicators(&kept_credits, &kept_visits, today);
    for m in &active {
        let credits: Vec<_> = out_credits
            .iter()
            .filter(|c| c.facility_id == m.record_id)
            .cloned()
            .collect();
        let visits: Vec<_> = out_visits
            .iter()
            .filter(|v| v.visit_id == m.record_id)
            .cloned()
            .collect();
        ind.disputed.push(pb::DisputedRecord {
            record_id: m.record_id.clone(),
            dispute_id: m.dispute_id.clone(),
            status: m.dispute_status,
            due_date: m.due_date.clone(),
            indicators: Some(indicators::indicators(&credits, &visits, today)),
            institution_id: String::new(),
        });
    }
    ind
}

/// `base` with the figures of its disputed records added back: what a
/// holder's indicators would be without the disputes.
pub fn with_disputed_figures(base: &pb::BorrowerIndicators) -> pb::BorrowerIndicators {
    let mut out = base.clone();
    out.disputed.clear();
    for d in &base.disputed {
        let Some(add) = &d.indicators else { continue };
        out.facility_count += add.facility_count;
        out.live_facility_count += add.live_facility_count;
        out.settled_facility_count += add.settled_facility_count;
        out.visit_count += add.visit_count;
        out.max_overdue_days = out.max_overdue_days.max(add.max_overdue_days);
        if worse(add.worst_risk_class, out.worst_risk_class) {
            out.worst_risk_class = add.worst_risk_class;
        }
        out.recent_signals
            .extend(add.recent_signals.iter().cloned());
        if add.last_visit_date > out.last_visit_date {
            out.last_visit_date.clone_from(&add.last_visit_date);
        }
        for e in &add.exposures {
            match out.exposures.iter_mut().find(|x| x.currency == e.currency) {
                Some(x) => {
                    x.contract_amount = x.contract_amount.saturating_add(e.contract_amount);
                    x.outstanding_balance =
                        x.outstanding_balance.saturating_add(e.outstanding_balance);
                    x.outstanding_over_90_days = x
                        .outstanding_over_90_days
                        .saturating_add(e.outstanding_over_90_days);
                }
                None => out.exposures.push(e.clone()),
            }
        }
    }
    out
}

/// Risk classes are ordered NORMAL (1) … LOSS (5); 0 is none.
fn worse(a: i32, b: i32) -> bool {
    a > b
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mark(record: &str, status: pb::DisputeStatus) -> pb::Annotation {
        pb::Annotation {
            record_id: record.into(),
            dispute_id: format!("D-{record}"),
            r#type: pb::AnnotationType::DisputeMark as i32,
            dispute_status: status as i32,
            due_date: "2026-12-23".into(),
            record_version: 1,
            ..Default::default()
        }
    }

    fn credit(id: &str, class: pb::RiskClass, overdue: u32) -> pb::CreditSummary {
        pb::CreditSummary {
            facility_id: id.into(),
            version: 1,
            currency: "CNY".into(),
            contract_amount: 1_000,
            outstanding_balance: 500,
            risk_class: class as i32,
            overdue_days: overdue,
            account_status: pb::AccountStatus::Active as i32,
            ..Default::default()
        }
    }

    #[test]
    fn disputed_records_are_left_out_and_listed_with_their_figures() {
        let today = parse_iso_date("2026-12-03").unwrap();
        let credits = [
            credit("F-1", pb::RiskClass::Normal, 0),
            credit("F-2", pb::RiskClass::Loss, 400),
        ];
        let marks = [
            mark("F-2", pb::DisputeStatus::Open),
            mark("F-1", pb::DisputeStatus::Confirmed),
        ];
        let ind = indicators_with_disputes(&credits, &[], &marks, today);
        assert_eq!(ind.facility_count, 1);
        assert_eq!(ind.worst_risk_class, pb::RiskClass::Normal as i32);
        assert_eq!(ind.disputed.len(), 1);
        assert_eq!(ind.disputed[0].record_id, "F-2");
        let alone = ind.disputed[0].indicators.as_ref().unwrap();
        assert_eq!(alone.max_overdue_days, 400);
        let back = with_disputed_figures(&ind);
        assert_eq!(back.facility_count, 2);
        assert_eq!(back.worst_risk_class, pb::RiskClass::Loss as i32);
        assert_eq!(back.exposures[0].outstanding_balance, 1_000);
        assert!(back.disputed.is_empty());
    }

    #[test]
    fn the_answer_is_due_in_20_days_and_then_overdue() {
        let opened = parse_iso_date("2026-12-03").unwrap();
        assert_eq!(due_date(opened).to_string(), "2026-12-23");
        let m = mark("F-1", pb::DisputeStatus::Open);
        assert!(!is_overdue(&m, parse_iso_date("2026-12-23").unwrap()));
        assert!(is_overdue(&m, parse_iso_date("2026-12-24").unwrap()));
        let done = mark("F-1", pb::DisputeStatus::Unresolved);
        assert!(!is_overdue(&done, parse_iso_date("2027-01-30").unwrap()));
    }

    #[test]
    fn resolutions_follow_the_rules() {
        let open = mark("F-1", pb::DisputeStatus::Open);
        assert!(check_resolution(&open, pb::DisputeStatus::Corrected, 1).is_err());
        assert!(check_resolution(&open, pb::DisputeStatus::Corrected, 2).is_ok());
        assert!(check_resolution(&open, pb::DisputeStatus::Confirmed, 1).is_ok());
        assert!(check_resolution(&open, pb::DisputeStatus::Open, 1).is_err());
        let unresolved = mark("F-1", pb::DisputeStatus::Unresolved);
        assert!(check_resolution(&unresolved, pb::DisputeStatus::Confirmed, 1).is_ok());
        let closed = mark("F-1", pb::DisputeStatus::Confirmed);
        assert!(check_resolution(&closed, pb::DisputeStatus::Unresolved, 1).is_err());
    }

    #[test]
    fn texts_refuse_identifiers_and_blank() {
        let today = parse_iso_date("2026-12-03").unwrap();
        assert!(validate_text("reason", "balance was repaid in March", today).is_ok());
        assert!(validate_text("reason", "  ", today).is_err());
        assert!(validate_text("reason", "borrower 91350100M000100Y43", today).is_err());
    }
}
