use super::*;
use time::macros::date;

const TODAY: Date = date!(2026 - 06 - 30);

pub(crate) fn credit(
    facility: &str,
    currency: &str,
    contract: i64,
    outstanding: i64,
    class: pb::RiskClass,
    overdue_days: u32,
) -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: facility.into(),
        version: 1,
        institution_id: "BANK-A".into(),
        borrower_key: vec![7; 32],
        currency: currency.into(),
        contract_amount: contract,
        outstanding_balance: outstanding,
        open_date: "2025-01-10".into(),
        maturity_date: "2027-01-10".into(),
        risk_class: class as i32,
        overdue_days,
        account_status: pb::AccountStatus::Active as i32,
        as_of_date: "2026-06-30".into(),
        ..Default::default()
    }
}

fn visit(date: &str, signals: &[pb::WarningSignal]) -> pb::VisitSummary {
    pb::VisitSummary {
        visit_id: format!("V-{date}"),
        facility_id: "F1".into(),
        visit_date: date.into(),
        warning_signals: signals.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

#[test]
fn iso_dates_round_trip_and_reject_other_shapes() {
    assert_eq!(parse_iso_date("2026-02-28"), Some(date!(2026 - 02 - 28)));
    assert_eq!(iso_date(date!(2026 - 02 - 08)), "2026-02-08");
    for bad in [
        "2026-02-30",
        "2026-2-28",
        "20260228",
        "+2026-02-28",
        " 2026-02-28",
        "",
    ] {
        assert_eq!(parse_iso_date(bad), None, "{bad:?}");
    }
}

#[test]
fn no_records_give_empty_indicators() {
    let ind = indicators(&[], &[], TODAY);
    assert_eq!(
        ind,
        pb::BorrowerIndicators {
            worst_risk_class: pb::RiskClass::Unspecified as i32,
            ..Default::default()
        }
    );
}

#[test]
fn exposures_are_summed_per_currency_sorted_and_exclude_settled() {
    let mut settled = credit("F4", "CNY", 1_000, 0, pb::RiskClass::Loss, 400);
    settled.account_status = pb::AccountStatus::Settled as i32;
    let credits = [
        credit("F1", "USD", 500, 400, pb::RiskClass::Normal, 0),
        credit(
            "F2",
            "CNY",
            10_000,
            8_000,
            pb::RiskClass::SpecialMention,
            30,
        ),
        credit("F3", "CNY", 5_000, 5_000, pb::RiskClass::Substandard, 91),
        settled,
    ];
    let ind = indicators(&credits, &[], TODAY);
    assert_eq!(ind.facility_count, 4);
    assert_eq!(
        ind.exposures,
        vec![
            pb::CurrencyExposure {
                currency: "CNY".into(),
                contract_amount: 15_000,
                outstanding_balance: 13_000,
                outstanding_over_90_days: 5_000,
            },
            pb::CurrencyExposure {
                currency: "USD".into(),
                contract_amount: 500,
                outstanding_balance: 400,
                outstanding_over_90_days: 0,
            },
        ]
    );
    // The settled LOSS facility does not count.
    assert_eq!(ind.worst_risk_class, pb::RiskClass::Substandard as i32);
    assert_eq!(ind.max_overdue_days, 91);
}

#[test]
fn exactly_90_days_overdue_is_not_over_90() {
    let ind = indicators(
        &[credit(
            "F1",
            "CNY",
            100,
            100,
            pb::RiskClass::SpecialMention,
            90,
        )],
        &[],
        TODAY,
    );
    assert_eq!(ind.exposures[0].outstanding_over_90_days, 0);
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let credits = [
        credit("F1", "CNY", i64::MAX, i64::MAX, pb::RiskClass::Normal, 0),
        credit("F2", "CNY", i64::MAX, 1, pb::RiskClass::Normal, 0),
    ];
    let ind = indicators(&credits, &[], TODAY);
    assert_eq!(ind.exposures[0].contract_amount, i64::MAX);
    assert_eq!(ind.exposures[0].outstanding_balance, i64::MAX);
}

#[test]
fn recent_signals_are_windowed_sorted_and_deduplicated() {
    use pb::WarningSignal as W;
    let visits = [
        visit("2026-01-01", &[W::Litigation]), // 180 days before TODAY: recent
        visit("2025-12-31", &[W::FundDiversion]), // 181 days: too old
        visit(
            "2026-06-01",
            &[W::MgmtEvent, W::FinDeterioration, W::MgmtEvent],
        ),
        visit("2026-06-01", &[W::FinDeterioration, W::Unspecified]),
        visit("2026-07-01", &[W::StopProduction]), // after today: ignored
        visit("not a date", &[W::StopProduction]),
    ];
    let ind = indicators(&[], &visits, TODAY);
    let got: Vec<(String, i32)> = ind
        .recent_signals
        .iter()
        .map(|s| (s.visit_date.clone(), s.signal))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2026-06-01".to_string(), W::FinDeterioration as i32),
            ("2026-06-01".to_string(), W::MgmtEvent as i32),
            ("2026-01-01".to_string(), W::Litigation as i32),
        ]
    );
    assert!(
        ind.recent_signals
            .iter()
            .all(|s| s.institution_id.is_empty())
    );
    assert_eq!(ind.visit_count, 6);
    // The newest parsable date, even one after `today` (as stored).
    assert_eq!(ind.last_visit_date, "2026-07-01");
}

#[test]
fn last_visit_date_is_empty_without_visits() {
    let ind = indicators(
        &[credit("F1", "CNY", 1, 1, pb::RiskClass::Normal, 0)],
        &[],
        TODAY,
    );
    assert_eq!(ind.last_visit_date, "");
    assert_eq!(ind.visit_count, 0);
    assert_eq!(ind.worst_risk_class, pb::RiskClass::Normal as i32);
}
