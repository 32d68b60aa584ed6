//! Validation of credit and visit summaries: every rule of docs/domain.md.
//!
//! Records come from an institution's own files and from untrusted peers, so
//! the same functions run at import, at `PutRecord` and on every record a
//! peer returns. A record is either accepted whole or rejected with the
//! first [`FieldError`], named by its protobuf field; nothing is ever
//! "corrected" silently.

use credshare_proto::v1 as pb;
use time::Date;

use super::borrower::contains_identifier;
use super::codes::{code_name, enum_field, is_iso_4217};
use super::dates::parse_date;
use super::field::{FieldError, quote_unless_identifying};
use crate::pki::InstitutionId;

/// Longest record id (facility id, visit id), in bytes.
pub const MAX_RECORD_ID_LEN: usize = 64;
/// Longest visit conclusion, in characters (not bytes).
pub const MAX_CONCLUSION_CHARS: usize = 1000;

/// The best class a facility may have with `days` overdue (2023 rules):
/// beyond a 7-day grace at least SPECIAL_MENTION, > 90 SUBSTANDARD,
/// > 270 DOUBTFUL, > 360 LOSS.
pub fn minimum_class_for_overdue(days: u32) -> pb::RiskClass {
    match days {
        361.. => pb::RiskClass::Loss,
        271..=360 => pb::RiskClass::Doubtful,
        91..=270 => pb::RiskClass::Substandard,
        8..=90 => pb::RiskClass::SpecialMention,
        0..=7 => pb::RiskClass::Normal,
    }
}

/// SUBSTANDARD, DOUBTFUL and LOSS are non-performing.
pub fn is_non_performing(class: pb::RiskClass) -> bool {
    matches!(
        class,
        pb::RiskClass::Substandard | pb::RiskClass::Doubtful | pb::RiskClass::Loss
    )
}

/// Checks a credit summary against every rule of docs/domain.md. `today` is the
/// latest acceptable as-of date: today in the business time zone.
pub fn validate_credit(r: &pb::CreditSummary, today: Date) -> Result<(), FieldError> {
    check_record_id("facility_id", &r.facility_id, today)?;
    check_origin(r.version, &r.institution_id, &r.borrower_key)?;
    let facility: pb::FacilityType = enum_field("facility_type", r.facility_type)?;
    check_currency(&r.currency)?;
    check_balances(r, facility)?;
    check_credit_dates(r, today)?;
    enum_field::<pb::GuaranteeType>("guarantee_type", r.guarantee_type)?;
    let class: pb::RiskClass = enum_field("risk_class", r.risk_class)?;
    check_overdue(r)?;
    check_class_for_overdue(class, r.overdue_days)?;
    let status: pb::AccountStatus = enum_field("account_status", r.account_status)?;
    check_status(r, status)?;
    consistency::check_credit(r, class, status)
}

/// Checks a visit summary against every rule of docs/domain.md. `today` is the
/// latest acceptable visit date: today in the business time zone.
pub fn validate_visit(r: &pb::VisitSummary, today: Date) -> Result<(), FieldError> {
    check_record_id("visit_id", &r.visit_id, today)?;
    check_origin(r.version, &r.institution_id, &r.borrower_key)?;
    check_record_id("facility_id", &r.facility_id, today)?;
    check_not_future(
        "visit_date",
        parse_date("visit_date", &r.visit_date)?,
        today,
    )?;
    enum_field::<pb::VisitType>("visit_type", r.visit_type)?;
    enum_field::<pb::VisitChannel>("channel", r.channel)?;
    enum_field::<pb::FundUsage>("fund_usage", r.fund_usage)?;
    enum_field::<pb::OperationsStatus>("operations", r.operations)?;
    enum_field::<pb::ProjectProgress>("project_progress", r.project_progress)?;
    enum_field::<pb::CollateralStatus>("collateral", r.collateral)?;
    enum_field::<pb::GuarantorStatus>("guarantor", r.guarantor)?;
    check_warning_signals(&r.warning_signals)?;
    enum_field::<pb::RiskClass>("proposed_risk_class", r.proposed_risk_class)?;
    enum_field::<pb::ActionTaken>("action_taken", r.action_taken)?;
    check_conclusion(&r.conclusion, today)
}

/// Record ids: 1..=64 bytes of printable ASCII, no whitespace.
/// Record ids travel to peers at DETAIL scope: no identifier in them
/// (a raw USCC as a facility id), in any disguise.
fn check_record_id(field: &'static str, id: &str, today: Date) -> Result<(), FieldError> {
    if contains_identifier(id, today) {
        return Err(FieldError::new(field, "must not contain identifiers"));
    }
    if id.is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    if id.len() > MAX_RECORD_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_RECORD_ID_LEN} bytes"),
        ));
    }
    if let Some(position) = id.bytes().position(|b| !b.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            format!(
                "position {}: only printable ASCII without spaces is allowed",
                position + 1
            ),
        ));
    }
    Ok(())
}

/// Version, originating institution and borrower key, common to all records.
fn check_origin(version: u64, institution: &str, key: &[u8]) -> Result<(), FieldError> {
    if version < 1 {
        return Err(FieldError::new("version", "must be at least 1"));
    }
    if InstitutionId::parse(institution).is_err() {
        return Err(FieldError::new(
            "institution_id",
            "must be 2-32 characters of A-Z, 0-9 and '-'",
        ));
    }
    if key.len() != 32 {
        return Err(FieldError::new(
            "borrower_key",
            format!("must be 32 bytes, found {}", key.len()),
        ));
    }
    Ok(())
}

fn check_currency(code: &str) -> Result<(), FieldError> {
    if is_iso_4217(code) {
        Ok(())
    } else {
        Err(FieldError::new(
            "currency",
            format!(
                "{} is not an active ISO 4217 code (3 upper-case letters, e.g. CNY)",
                quote_unless_identifying(code)
            ),
        ))
    }
}

fn check_balances(r: &pb::CreditSummary, facility: pb::FacilityType) -> Result<(), FieldError> {
    if r.contract_amount <= 0 {
        return Err(FieldError::new(
            "contract_amount",
            format!("must be greater than 0, found {}", r.contract_amount),
        ));
    }
    if r.outstanding_balance < 0 {
        return Err(FieldError::new(
            "outstanding_balance",
            format!("must not be negative, found {}", r.outstanding_balance),
        ));
    }
    if r.outstanding_balance > r.contract_amount && facility != pb::FacilityType::RevolvingLine {
        return Err(FieldError::new(
            "outstanding_balance",
            format!(
                "{} exceeds contract_amount {} (allowed only for REVOLVING_LINE)",
                r.outstanding_balance, r.contract_amount
            ),
        ));
    }
    Ok(())
}

fn check_credit_dates(r: &pb::CreditSummary, today: Date) -> Result<(), FieldError> {
    let open = parse_date("open_date", &r.open_date)?;
    let maturity = parse_date("maturity_date", &r.maturity_date)?;
    if maturity < open {
        return Err(FieldError::new(
            "maturity_date",
            format!("{maturity} is before open_date {open}"),
        ));
    }
    let as_of = parse_date("as_of_date", &r.as_of_date)?;
    check_not_future("as_of_date", as_of, today)?;
    if open > as_of {
        return Err(FieldError::new(
            "open_date",
            format!("{open} is after as_of_date {as_of}"),
        ));
    }
    Ok(())
}

fn check_not_future(field: &'static str, date: Date, today: Date) -> Result<(), FieldError> {
    if date > today {
        return Err(FieldError::new(field, format!("{date} is in the future")));
    }
    Ok(())
}

fn check_overdue(r: &pb::CreditSummary) -> Result<(), FieldError> {
    for (field, amount) in [
        ("overdue_principal", r.overdue_principal),
        ("overdue_total", r.overdue_total),
    ] {
        if amount < 0 {
            return Err(FieldError::new(
                field,
                format!("must not be negative, found {amount}"),
            ));
        }
    }
    if r.overdue_principal > r.overdue_total {
        return Err(FieldError::new(
            "overdue_principal",
            format!(
                "{} exceeds overdue_total {}",
                r.overdue_principal, r.overdue_total
            ),
        ));
    }
    match (r.overdue_days, r.overdue_total) {
        (0, total) if total > 0 => Err(FieldError::new(
            "overdue_days",
            format!("is 0 but overdue_total is {total}"),
        )),
        (days, 0) if days > 0 => Err(FieldError::new(
            "overdue_days",
            format!("is {days} but nothing is overdue (overdue_total is 0)"),
        )),
        _ => Ok(()),
    }
}

fn check_class_for_overdue(class: pb::RiskClass, days: u32) -> Result<(), FieldError> {
    let minimum = minimum_class_for_overdue(days);
    // RiskClass is declared best to worst, so "better" is "less than".
    if class < minimum {
        return Err(FieldError::new(
            "risk_class",
            format!(
                "risk class {} is better than {days} overdue days allow (at least {})",
                code_name(class),
                code_name(minimum)
            ),
        ));
    }
    Ok(())
}

fn check_status(r: &pb::CreditSummary, status: pb::AccountStatus) -> Result<(), FieldError> {
    let inconsistency = match status {
        pb::AccountStatus::Settled if r.outstanding_balance != 0 => {
            Some("SETTLED requires outstanding_balance 0")
        }
        pb::AccountStatus::Settled if r.overdue_total != 0 => {
            Some("SETTLED requires overdue_total 0")
        }
        pb::AccountStatus::Overdue if r.overdue_days == 0 => {
            Some("OVERDUE requires overdue_days greater than 0")
        }
        _ => None,
    };
    match inconsistency {
        Some(reason) => Err(FieldError::new("account_status", reason)),
        None => Ok(()),
    }
}

/// Known, set, and each signal at most once.
fn check_warning_signals(signals: &[i32]) -> Result<(), FieldError> {
    let field = "warning_signals";
    for (i, &raw) in signals.iter().enumerate() {
        let signal: pb::WarningSignal = enum_field(field, raw)
            .map_err(|e| FieldError::new(field, format!("entry {}: {}", i + 1, e.reason)))?;
        if signals[..i].contains(&raw) {
            return Err(FieldError::new(
                field,
                format!("{} is listed twice", code_name(signal)),
            ));
        }
    }
    Ok(())
}

/// At most 1000 characters, no control characters but line breaks and
/// tabs, and no identifiers: conclusions travel to peers at DETAIL scope.
fn check_conclusion(text: &str, today: Date) -> Result<(), FieldError> {
    let field = "conclusion";
    let chars = text.chars().count();
    if chars > MAX_CONCLUSION_CHARS {
        return Err(FieldError::new(
            field,
            format!("has {chars} characters; at most {MAX_CONCLUSION_CHARS} are allowed"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(field, "contains control characters"));
    }
    if contains_identifier(text, today) {
        return Err(FieldError::new(field, "must not contain identifiers"));
    }
    Ok(())
}

mod consistency;
pub use consistency::{
    check_credit_successor, check_visit_facility, check_visit_successor, minimum_class_for_status,
};

#[cfg(test)]
mod tests;
