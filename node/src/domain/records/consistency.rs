//! Rules that no single field breaks: between the fields of one credit
//! summary, between a record and the stored version it supersedes, and
//! between a visit and the facility it visits (docs/domain.md#credit-summary-rules,
//! #visit-summary-rules). Every inconsistency is refused, never corrected.

use credshare_proto::v1 as pb;
use time::Date;

use super::super::codes::code_name;
use super::super::dates::parse_iso_date;
use super::super::field::FieldError;

/// The best class an account status allows: a written-off asset is a
/// loss; a restructured one is at least SPECIAL_MENTION (2023 risk
/// classification rules). Other statuses impose nothing.
pub fn minimum_class_for_status(status: pb::AccountStatus) -> pb::RiskClass {
    match status {
        pb::AccountStatus::WrittenOff => pb::RiskClass::Loss,
        pb::AccountStatus::Restructured => pb::RiskClass::SpecialMention,
        _ => pb::RiskClass::Normal,
    }
}

/// Cross-field rules of a credit summary whose fields are each valid:
/// overdue principal within the balance, no more overdue days than the
/// facility's age, a matured balance is overdue, and the class a status
/// requires.
pub(super) fn check_credit(
    r: &pb::CreditSummary,
    class: pb::RiskClass,
    status: pb::AccountStatus,
) -> Result<(), FieldError> {
    if r.overdue_principal > r.outstanding_balance {
        return Err(FieldError::new(
            "overdue_principal",
            format!(
                "{} exceeds outstanding_balance {}",
                r.overdue_principal, r.outstanding_balance
            ),
        ));
    }
    let (Some(open), Some(maturity), Some(as_of)) = (
        parse_iso_date(&r.open_date),
        parse_iso_date(&r.maturity_date),
        parse_iso_date(&r.as_of_date),
    ) else {
        return Ok(()); // Each date was checked before; nothing to compare.
    };
    let age = (as_of - open).whole_days();
    if i64::from(r.overdue_days) > age {
        return Err(FieldError::new(
            "overdue_days",
            format!(
                "{} days overdue, but the facility was opened on {open}, {age} days before as_of_date {as_of}",
                r.overdue_days
            ),
        ));
    }
    check_matured(r, maturity, as_of, status)?;
    let minimum = minimum_class_for_status(status);
    if class < minimum {
        return Err(FieldError::new(
            "risk_class",
            format!(
                "a {} facility is at least {}, found {}",
                code_name(status),
                code_name(minimum),
                code_name(class)
            ),
        ));
    }
    Ok(())
}

/// A facility past its maturity with a balance owes that balance: it must
/// show overdue days (or be written off or restructured with new terms).
fn check_matured(
    r: &pb::CreditSummary,
    maturity: Date,
    as_of: Date,
    status: pb::AccountStatus,
) -> Result<(), FieldError> {
    let exempt = matches!(
        status,
        pb::AccountStatus::WrittenOff | pb::AccountStatus::Restructured
    );
    if maturity < as_of && r.outstanding_balance > 0 && r.overdue_days == 0 && !exempt {
        return Err(FieldError::new(
            "overdue_days",
            format!(
                "is 0, but the facility matured on {maturity} with outstanding_balance {} as of {as_of}; report the amount overdue, or a new maturity_date if it was extended",
                r.outstanding_balance
            ),
        ));
    }
    Ok(())
}

/// A new version of a credit summary may update its state but not move it
/// back in time or change what facility it is: `as_of_date` must not be
/// earlier than the stored version's, and currency, facility type and open
/// date are fixed.
pub fn check_credit_successor(
    stored: &pb::CreditSummary,
    next: &pb::CreditSummary,
) -> Result<(), FieldError> {
    if let (Some(before), Some(after)) = (
        parse_iso_date(&stored.as_of_date),
        parse_iso_date(&next.as_of_date),
    ) && after < before
    {
        return Err(FieldError::new(
            "as_of_date",
            format!(
                "{after} is before {before}, the as-of date of stored version {}; a newer version cannot describe an older state",
                stored.version
            ),
        ));
    }
    let fixed = [
        ("currency", stored.currency.clone(), next.currency.clone()),
        (
            "facility_type",
            label::<pb::FacilityType>(stored.facility_type),
            label::<pb::FacilityType>(next.facility_type),
        ),
        (
            "open_date",
            stored.open_date.clone(),
            next.open_date.clone(),
        ),
    ];
    for (field, was, now) in fixed {
        if was != now {
            return Err(FieldError::new(
                field,
                format!(
                    "cannot change from {was} (stored version {}) to {now}; report a new facility under a new facility_id",
                    stored.version
                ),
            ));
        }
    }
    Ok(())
}

/// A new version of a visit summary stays a visit of the same facility.
pub fn check_visit_successor(
    stored: &pb::VisitSummary,
    next: &pb::VisitSummary,
) -> Result<(), FieldError> {
    if stored.facility_id != next.facility_id {
        return Err(FieldError::new(
            "facility_id",
            format!(
                "cannot change from {:?} (stored version {}) to {:?}; record a new visit under a new visit_id",
                stored.facility_id, stored.version, next.facility_id
            ),
        ));
    }
    Ok(())
}

/// A visit is of a facility this institution reported (`facility` is its
/// current credit summary, if any) and not before it was disbursed.
pub fn check_visit_facility(
    visit: &pb::VisitSummary,
    facility: Option<&pb::CreditSummary>,
) -> Result<(), FieldError> {
    let Some(facility) = facility else {
        return Err(FieldError::new(
            "facility_id",
            format!(
                "no credit summary of facility {:?} is stored for this borrower; import the facility before its visits",
                visit.facility_id
            ),
        ));
    };
    if let (Some(visited), Some(open)) = (
        parse_iso_date(&visit.visit_date),
        parse_iso_date(&facility.open_date),
    ) && visited < open
    {
        return Err(FieldError::new(
            "visit_date",
            format!(
                "{visited} is before the facility's open date {open}: a post-loan visit follows disbursement"
            ),
        ));
    }
    Ok(())
}

fn label<E: super::super::codes::CodeEnum>(raw: i32) -> String {
    super::super::codes::code_label::<E>(raw).into_owned()
}
