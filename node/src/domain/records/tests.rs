//! Tests of every record rule, each naming the field at fault.
#![allow(clippy::unwrap_used)]

use time::macros::date;

use super::*;

const TODAY: Date = date!(2026 - 01 - 15);

fn credit() -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: "LN-2024-000123".into(),
        key_generation: 0,
        version: 1,
        institution_id: "BANK-A".into(),
        borrower_key: vec![7; 32],
        facility_type: pb::FacilityType::WorkingCapital as i32,
        currency: "CNY".into(),
        contract_amount: 500_000_000,
        outstanding_balance: 320_000_000,
        open_date: "2024-03-01".into(),
        maturity_date: "2027-03-01".into(),
        guarantee_type: pb::GuaranteeType::Mortgage as i32,
        risk_class: pb::RiskClass::Normal as i32,
        overdue_principal: 0,
        overdue_total: 0,
        overdue_days: 0,
        account_status: pb::AccountStatus::Active as i32,
        as_of_date: "2026-01-15".into(),
    }
}

fn visit() -> pb::VisitSummary {
    pb::VisitSummary {
        visit_id: "LN-2024-000123-V3".into(),
        key_generation: 0,
        version: 1,
        institution_id: "BANK-A".into(),
        borrower_key: vec![7; 32],
        facility_id: "LN-2024-000123".into(),
        visit_date: "2026-01-10".into(),
        visit_type: pb::VisitType::Focused as i32,
        channel: pb::VisitChannel::Onsite as i32,
        fund_usage: pb::FundUsage::AsAgreed as i32,
        operations: pb::OperationsStatus::Declining as i32,
        project_progress: pb::ProjectProgress::NotApplicable as i32,
        collateral: pb::CollateralStatus::Intact as i32,
        guarantor: pb::GuarantorStatus::Normal as i32,
        warning_signals: vec![
            pb::WarningSignal::FinDeterioration as i32,
            pb::WarningSignal::ArrearsOthers as i32,
        ],
        proposed_risk_class: pb::RiskClass::SpecialMention as i32,
        action_taken: pb::ActionTaken::Escalated as i32,
        conclusion: "销售收入同比下降三成；已要求补充报表。Sales down 30%.".into(),
    }
}

/// The field (or message) a change to a valid record must be refused with,
/// and the change.
type Fault<T> = (&'static str, fn(&mut T));

/// Each change, applied to a valid credit summary, is refused naming its field.
fn assert_credit_faults(cases: &[Fault<pb::CreditSummary>]) {
    for (i, (field, change)) in cases.iter().enumerate() {
        assert_eq!(credit_fault(change).field, *field, "case {i}");
    }
}

/// Each change, applied to a valid visit summary, is refused naming its field.
fn assert_visit_faults(cases: &[Fault<pb::VisitSummary>]) {
    for (i, (field, change)) in cases.iter().enumerate() {
        assert_eq!(visit_fault(change).field, *field, "case {i}");
    }
}

/// Each change, applied to a valid credit summary, is refused with its message.
fn assert_credit_messages(cases: &[Fault<pb::CreditSummary>]) {
    for (message, change) in cases {
        assert_eq!(credit_fault(change).to_string(), *message);
    }
}

/// Each change, applied to a valid visit summary, is refused with its message.
fn assert_visit_messages(cases: &[Fault<pb::VisitSummary>]) {
    for (message, change) in cases {
        assert_eq!(visit_fault(change).to_string(), *message);
    }
}

/// Applies `change` to a valid credit summary and returns the field at fault.
fn credit_fault(change: impl FnOnce(&mut pb::CreditSummary)) -> FieldError {
    let mut r = credit();
    change(&mut r);
    validate_credit(&r, TODAY).expect_err("should be rejected")
}

fn visit_fault(change: impl FnOnce(&mut pb::VisitSummary)) -> FieldError {
    let mut r = visit();
    change(&mut r);
    validate_visit(&r, TODAY).expect_err("should be rejected")
}

#[test]
fn valid_records_pass() {
    assert_eq!(validate_credit(&credit(), TODAY), Ok(()));
    assert_eq!(validate_visit(&visit(), TODAY), Ok(()));
}

#[test]
fn record_ids_are_bounded_printable_ascii() {
    assert_eq!(
        credit_fault(|r| r.facility_id.clear()).to_string(),
        "facility_id: is empty"
    );
    assert_credit_faults(&[
        ("facility_id", |r| r.facility_id = "A".repeat(65)),
        ("facility_id", |r| r.facility_id = "LN 1".into()),
        ("facility_id", |r| r.facility_id = "LN\u{7}1".into()),
        ("facility_id", |r| r.facility_id = "贷款1".into()),
    ]);
    let mut ok = credit();
    ok.facility_id = "A".repeat(64);
    assert_eq!(validate_credit(&ok, TODAY), Ok(()));
    assert_visit_faults(&[
        ("visit_id", |r| r.visit_id.clear()),
        ("facility_id", |r| r.facility_id = "x\ty".into()),
    ]);
}

#[test]
fn origin_fields() {
    assert_credit_faults(&[
        ("version", |r| r.version = 0),
        ("institution_id", |r| r.institution_id = "bank-a".into()),
        ("institution_id", |r| r.institution_id.clear()),
    ]);
    assert_credit_messages(&[("borrower_key: must be 32 bytes, found 31", |r| {
        r.borrower_key = vec![1; 31]
    })]);
    assert_visit_faults(&[
        ("version", |r| r.version = 0),
        ("borrower_key", |r| r.borrower_key.clear()),
        ("institution_id", |r| r.institution_id = "B".into()),
    ]);
}

#[test]
fn credit_enums_must_be_set_and_known() {
    assert_eq!(
        credit_fault(|r| r.facility_type = 0).to_string(),
        "facility_type: is not set"
    );
    assert_credit_faults(&[
        ("facility_type", |r| r.facility_type = 11),
        ("guarantee_type", |r| r.guarantee_type = 0),
        ("risk_class", |r| r.risk_class = 0),
        ("risk_class", |r| r.risk_class = -1),
        ("account_status", |r| r.account_status = 0),
        ("account_status", |r| r.account_status = 6),
    ]);
}

#[test]
fn currency_must_be_active_iso_4217() {
    for bad in ["", "cny", "RMB", "CN", "CNYY", "XXX"] {
        assert_eq!(
            credit_fault(|r| r.currency = bad.into()).field,
            "currency",
            "{bad}"
        );
    }
    let mut ok = credit();
    ok.currency = "USD".into();
    assert_eq!(validate_credit(&ok, TODAY), Ok(()));
}

#[test]
fn amounts() {
    assert_credit_faults(&[
        ("contract_amount", |r| r.contract_amount = 0),
        ("contract_amount", |r| r.contract_amount = -5),
        ("outstanding_balance", |r| r.outstanding_balance = -1),
    ]);
    let err = credit_fault(|r| r.outstanding_balance = r.contract_amount + 1);
    assert_eq!(err.field, "outstanding_balance");
    assert!(err.reason.contains("REVOLVING_LINE"), "{err}");
    // Overdrafts are not revolving lines in the domain rule (docs/domain.md#credit-summary-rules).
    let err = credit_fault(|r| {
        r.facility_type = pb::FacilityType::Overdraft as i32;
        r.outstanding_balance = r.contract_amount + 1;
    });
    assert_eq!(err.field, "outstanding_balance");
    let mut revolving = credit();
    revolving.facility_type = pb::FacilityType::RevolvingLine as i32;
    revolving.outstanding_balance = revolving.contract_amount + 1;
    assert_eq!(validate_credit(&revolving, TODAY), Ok(()));
}

#[test]
fn credit_dates() {
    assert_credit_faults(&[
        ("open_date", |r| r.open_date = "2024-3-1".into()),
        ("maturity_date", |r| r.maturity_date = "2027-02-30".into()),
        ("as_of_date", |r| r.as_of_date.clear()),
    ]);
    assert_credit_messages(&[
        (
            "maturity_date: 2024-02-29 is before open_date 2024-03-01",
            |r| r.maturity_date = "2024-02-29".into(),
        ),
        ("as_of_date: 2026-01-16 is in the future", |r| {
            r.as_of_date = "2026-01-16".into()
        }),
    ]);
    assert_credit_faults(&[("open_date", |r| r.open_date = "2026-01-16".into())]);
    // Maturity on the open date is a valid (if short) facility; as of that
    // day it has not matured yet.
    let mut same_day = credit();
    same_day.maturity_date = same_day.open_date.clone();
    same_day.as_of_date = same_day.open_date.clone();
    assert_eq!(validate_credit(&same_day, TODAY), Ok(()));
}

#[test]
fn overdue_amounts_and_days_agree() {
    let overdue = |r: &mut pb::CreditSummary| {
        r.overdue_principal = 1_000;
        r.overdue_total = 1_200;
        r.overdue_days = 5;
    };
    let mut ok = credit();
    overdue(&mut ok);
    assert_eq!(validate_credit(&ok, TODAY), Ok(()));
    assert_credit_faults(&[
        ("overdue_principal", |r| r.overdue_principal = -1),
        ("overdue_total", |r| r.overdue_total = -1),
    ]);
    let err = credit_fault(|r| {
        overdue(r);
        r.overdue_principal = 1_201;
    });
    assert_eq!(err.field, "overdue_principal");
    let err = credit_fault(|r| {
        overdue(r);
        r.overdue_days = 0;
    });
    assert_eq!(
        err.to_string(),
        "overdue_days: is 0 but overdue_total is 1200"
    );
    let err = credit_fault(|r| r.overdue_days = 3);
    assert_eq!(err.field, "overdue_days");
}

#[test]
fn minimum_class_thresholds() {
    use pb::RiskClass::*;
    let cases = [
        (0, Normal),
        (7, Normal),
        (8, SpecialMention),
        (90, SpecialMention),
        (91, Substandard),
        (270, Substandard),
        (271, Doubtful),
        (360, Doubtful),
        (361, Loss),
        (u32::MAX, Loss),
    ];
    for (days, class) in cases {
        assert_eq!(minimum_class_for_overdue(days), class, "{days}");
    }
    assert!(!is_non_performing(Normal));
    assert!(!is_non_performing(SpecialMention));
    assert!(
        is_non_performing(Substandard) && is_non_performing(Doubtful) && is_non_performing(Loss)
    );
}

#[test]
fn risk_class_must_not_be_better_than_overdue_days_allow() {
    assert_credit_messages(&[(
        "risk_class: risk class NORMAL is better than 95 overdue days allow (at least SUBSTANDARD)",
        |r| {
            r.overdue_principal = 1;
            r.overdue_total = 2;
            r.overdue_days = 95;
            r.account_status = pb::AccountStatus::Overdue as i32;
        },
    )]);
    let mut worse_is_fine = credit();
    worse_is_fine.risk_class = pb::RiskClass::Doubtful as i32;
    assert_eq!(validate_credit(&worse_is_fine, TODAY), Ok(()));
}

#[test]
fn account_status_consistency() {
    assert_credit_messages(&[(
        "account_status: SETTLED requires outstanding_balance 0",
        |r| r.account_status = pb::AccountStatus::Settled as i32,
    )]);
    let err = credit_fault(|r| r.account_status = pb::AccountStatus::Overdue as i32);
    assert_eq!(err.field, "account_status");
    let err = credit_fault(|r| {
        r.account_status = pb::AccountStatus::Settled as i32;
        r.outstanding_balance = 0;
        r.overdue_total = 5;
        r.overdue_days = 2;
    });
    assert_eq!(err.field, "account_status");
    let mut settled = credit();
    settled.account_status = pb::AccountStatus::Settled as i32;
    settled.outstanding_balance = 0;
    assert_eq!(validate_credit(&settled, TODAY), Ok(()));
}

#[test]
fn visit_date_and_enums() {
    assert_visit_faults(&[
        ("visit_date", |r| r.visit_date = "2026-01-16".into()),
        ("visit_date", |r| r.visit_date = "20260110".into()),
        ("visit_type", |r| r.visit_type = 0),
        ("channel", |r| r.channel = 9),
        ("fund_usage", |r| r.fund_usage = 0),
        ("operations", |r| r.operations = 0),
        ("project_progress", |r| r.project_progress = 0),
        ("collateral", |r| r.collateral = 0),
        ("guarantor", |r| r.guarantor = 0),
        ("proposed_risk_class", |r| r.proposed_risk_class = 0),
        ("action_taken", |r| r.action_taken = 0),
    ]);
}

#[test]
fn warning_signals_are_known_and_unique() {
    assert_visit_messages(&[("warning_signals: entry 3: is not set", |r| {
        r.warning_signals.push(0)
    })]);
    assert_visit_faults(&[("warning_signals", |r| r.warning_signals.push(99))]);
    assert_visit_messages(
        &[("warning_signals: FIN_DETERIORATION is listed twice", |r| {
            r.warning_signals
                .push(pb::WarningSignal::FinDeterioration as i32)
        })],
    );
    let mut none = visit();
    none.warning_signals.clear();
    assert_eq!(validate_visit(&none, TODAY), Ok(()));
}

#[test]
fn conclusion_length_is_counted_in_characters() {
    let mut ok = visit();
    ok.conclusion = "经".repeat(1000); // 3000 bytes, 1000 characters
    assert_eq!(validate_visit(&ok, TODAY), Ok(()));
    let err = visit_fault(|r| r.conclusion = "经".repeat(1001));
    assert_eq!(err.field, "conclusion");
    assert_eq!(
        visit_fault(|r| r.conclusion = "bad\u{0}byte".into()).field,
        "conclusion"
    );
    ok.conclusion = "line one\nline two\tend".into();
    assert_eq!(validate_visit(&ok, TODAY), Ok(()));
}

#[test]
fn conclusion_must_not_contain_identifiers() {
    for text in [
        "Met the CFO of 91350100M000100Y43 on site.",
        "保证人身份证11010519491231002x已核实",
    ] {
        let err = visit_fault(|r| r.conclusion = text.into());
        assert_eq!(err.to_string(), "conclusion: must not contain identifiers");
    }
}

#[test]
fn disguised_identifiers_are_found_in_free_text_and_record_ids() {
    for text in [
        "Met the CFO of 9135 0100 M000 100Y 43 on site.",
        "Met the CFO of 913501-00M000-100Y43.",
        "Met the CFO of 91350100\u{200B}M000100Y43.",
        "Met the CFO of ９１３５０１００Ｍ０００１００Ｙ４３.",
        "保证人身份证 110105-19491231-002x 已核实",
        // Forms only NFKC undoes: superscripts, bold digits, circled
        // letters and numbers, a Roman numeral ten.
        "Met the CFO of ⁹¹³⁵⁰¹⁰⁰Ⓜ𝟎𝟎𝟎𝟏𝟎𝟎Ⓨ⁴³.",
        "保证人身份证 ⑪⓪①⓪⑤⑲④⑨⑫㉛⓪⓪②Ⅹ 已核实",
    ] {
        let err = visit_fault(|r| r.conclusion = text.into());
        assert_eq!(
            err.to_string(),
            "conclusion: must not contain identifiers",
            "{text}"
        );
    }
    assert_credit_messages(&[
        ("facility_id: must not contain identifiers", |r| {
            r.facility_id = "91350100M000100Y43".into()
        }),
        ("facility_id: must not contain identifiers", |r| {
            r.facility_id = "F-⁹¹³⁵⁰¹⁰⁰Ⓜ𝟎𝟎𝟎𝟏𝟎𝟎Ⓨ⁴³".into()
        }),
    ]);
    assert_visit_messages(&[("visit_id: must not contain identifiers", |r| {
        r.visit_id = "V-91350100M000100Y43".into()
    })]);
}

#[test]
fn overdue_principal_cannot_exceed_the_balance() {
    assert_credit_messages(&[(
        "overdue_principal: 1500 exceeds outstanding_balance 1000",
        |r| {
            r.outstanding_balance = 1_000;
            r.overdue_principal = 1_500;
            r.overdue_total = 1_600;
            r.overdue_days = 5;
        },
    )]);
}

#[test]
fn overdue_days_cannot_exceed_the_age_of_the_facility() {
    // Opened 2025-12-15, as of 2026-01-15: 31 days old, 95 days overdue.
    assert_credit_messages(&[(
        "overdue_days: 95 days overdue, but the facility was opened on 2025-12-15, 31 days before as_of_date 2026-01-15",
        |r| {
            r.open_date = "2025-12-15".into();
            r.overdue_principal = 1;
            r.overdue_total = 2;
            r.overdue_days = 95;
            r.risk_class = pb::RiskClass::Substandard as i32;
            r.account_status = pb::AccountStatus::Overdue as i32;
        },
    )]);
    // 31 days overdue on a 31-day-old facility is possible.
    let mut ok = credit();
    ok.open_date = "2025-12-15".into();
    ok.overdue_principal = 1;
    ok.overdue_total = 2;
    ok.overdue_days = 31;
    ok.risk_class = pb::RiskClass::SpecialMention as i32;
    assert_eq!(validate_credit(&ok, TODAY), Ok(()));
}

#[test]
fn a_matured_balance_must_be_overdue() {
    let err = credit_fault(|r| r.maturity_date = "2026-01-14".into());
    assert_eq!(err.field, "overdue_days");
    assert!(err.reason.contains("matured on 2026-01-14"), "{err}");
    // Maturing on the as-of date is not yet matured; repaid is fine.
    let mut due_today = credit();
    due_today.maturity_date = "2026-01-15".into();
    assert_eq!(validate_credit(&due_today, TODAY), Ok(()));
    let mut repaid = credit();
    repaid.maturity_date = "2026-01-14".into();
    repaid.outstanding_balance = 0;
    assert_eq!(validate_credit(&repaid, TODAY), Ok(()));
}

#[test]
fn written_off_is_a_loss_and_restructured_at_least_special_mention() {
    assert_credit_messages(&[
        (
            "risk_class: a WRITTEN_OFF facility is at least LOSS, found NORMAL",
            |r| r.account_status = pb::AccountStatus::WrittenOff as i32,
        ),
        (
            "risk_class: a RESTRUCTURED facility is at least SPECIAL_MENTION, found NORMAL",
            |r| r.account_status = pb::AccountStatus::Restructured as i32,
        ),
    ]);
    let mut restructured = credit();
    restructured.account_status = pb::AccountStatus::Restructured as i32;
    restructured.risk_class = pb::RiskClass::SpecialMention as i32;
    assert_eq!(validate_credit(&restructured, TODAY), Ok(()));
    assert_eq!(
        minimum_class_for_status(pb::AccountStatus::WrittenOff),
        pb::RiskClass::Loss
    );
}

#[test]
fn a_newer_version_cannot_go_back_in_time_or_become_another_facility() {
    let stored = pb::CreditSummary {
        version: 3,
        as_of_date: "2026-02-01".into(),
        ..credit()
    };
    let mut next = pb::CreditSummary {
        version: 4,
        ..credit()
    };
    next.as_of_date = "2026-01-15".into();
    assert_eq!(
        check_credit_successor(&stored, &next)
            .unwrap_err()
            .to_string(),
        "as_of_date: 2026-01-15 is before 2026-02-01, the as-of date of stored version 3; a newer version cannot describe an older state"
    );
    next.as_of_date = "2026-02-01".into();
    assert_eq!(check_credit_successor(&stored, &next), Ok(()));
    for (field, change) in [
        (
            "currency",
            (|r: &mut pb::CreditSummary| r.currency = "USD".into()) as fn(&mut pb::CreditSummary),
        ),
        ("facility_type", |r| {
            r.facility_type = pb::FacilityType::Project as i32
        }),
        ("open_date", |r| r.open_date = "2024-03-02".into()),
    ] {
        let mut changed = next.clone();
        change(&mut changed);
        let err = check_credit_successor(&stored, &changed).unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.reason.contains("stored version 3"), "{err}");
    }
}

#[test]
fn a_visit_needs_a_disbursed_facility_and_keeps_it() {
    let v = visit();
    let err = check_visit_facility(&v, None).unwrap_err();
    assert_eq!(err.field, "facility_id");
    assert!(
        err.reason.contains("import the facility before its visits"),
        "{err}"
    );
    let facility = credit();
    assert_eq!(check_visit_facility(&v, Some(&facility)), Ok(()));
    let mut early = visit();
    early.visit_date = "2024-02-29".into();
    assert_eq!(
        check_visit_facility(&early, Some(&facility))
            .unwrap_err()
            .to_string(),
        "visit_date: 2024-02-29 is before the facility's open date 2024-03-01: a post-loan visit follows disbursement"
    );
    let mut moved = visit();
    moved.version = 2;
    moved.facility_id = "LN-OTHER".into();
    assert_eq!(
        check_visit_successor(&visit(), &moved).unwrap_err().field,
        "facility_id"
    );
}
