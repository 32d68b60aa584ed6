use super::*;
use pb::AssessmentLevel as L;
use pb::RiskClass as C;
use pb::WarningSignal as W;
use time::macros::date;

const TODAY: Date = date!(2026 - 06 - 30);
const NOW: i64 = 1_782_800_000_000;
const KEY: [u8; 32] = [7; 32];

fn exposure(currency: &str, contract: i64, outstanding: i64, over_90: i64) -> pb::CurrencyExposure {
    pb::CurrencyExposure {
        currency: currency.into(),
        contract_amount: contract,
        outstanding_balance: outstanding,
        outstanding_over_90_days: over_90,
    }
}

/// One performing CNY facility of 1000 outstanding.
fn healthy() -> pb::BorrowerIndicators {
    pb::BorrowerIndicators {
        facility_count: 1,
        exposures: vec![exposure("CNY", 1_000, 1_000, 0)],
        worst_risk_class: C::Normal as i32,
        max_overdue_days: 0,
        recent_signals: vec![],
        last_visit_date: "2026-05-01".into(),
        visit_count: 2,
        live_facility_count: 1,
        settled_facility_count: 0,
        disputed: vec![],
    }
}

fn with_class(class: C, overdue: u32) -> pb::BorrowerIndicators {
    pb::BorrowerIndicators {
        worst_risk_class: class as i32,
        max_overdue_days: overdue,
        ..healthy()
    }
}

fn with_signals(signals: &[(W, &str)]) -> pb::BorrowerIndicators {
    pb::BorrowerIndicators {
        recent_signals: signals
            .iter()
            .map(|(s, d)| pb::SignalObservation {
                signal: *s as i32,
                visit_date: (*d).into(),
                institution_id: String::new(),
            })
            .collect(),
        ..healthy()
    }
}

/// `ind` with `exposures` instead of its own.
fn exposed(
    mut ind: pb::BorrowerIndicators,
    exposures: Vec<pb::CurrencyExposure>,
) -> pb::BorrowerIndicators {
    ind.exposures = exposures;
    ind
}

/// The assessment of BANK-A's answer alone: healthy, with `exposures`.
fn one_lender(exposures: Vec<pb::CurrencyExposure>) -> pb::Assessment {
    run(vec![answered("BANK-A", exposed(healthy(), exposures))])
}

fn assert_no_reason(a: &pb::Assessment, matches: impl Fn(&String) -> bool) {
    assert!(!a.reasons.iter().any(matches), "{:?}", a.reasons);
}

fn answered(inst: &str, ind: pb::BorrowerIndicators) -> Contribution {
    Contribution::answered(inst, inst == "BANK-A", ind, None, 5)
}

/// The requester's rate table: USD at 7.1000 CNY (hand-computed figures
/// below use it).
fn rates() -> exchange::RateTable {
    exchange::RateTable {
        base_currency: "CNY".into(),
        rates_as_of: "2026-06-29".into(),
        rates: [("USD".to_owned(), "7.1000".to_owned())].into(),
    }
}

fn run(contributions: Vec<Contribution>) -> pb::Assessment {
    assess(&KEY, contributions, NOW, TODAY, &rates())
}

fn level(a: &pb::Assessment) -> L {
    L::try_from(a.level).unwrap()
}

fn has_reason(a: &pb::Assessment, prefix: &str, needle: &str) -> bool {
    a.reasons
        .iter()
        .any(|r| r.starts_with(prefix) && r.contains(needle))
}

#[test]
fn a_healthy_complete_borrower_is_green_without_reasons() {
    let a = run(vec![
        answered("BANK-A", healthy()),
        answered("BANK-B", healthy()),
    ]);
    assert_eq!(level(&a), L::Green);
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
    assert!(a.complete);
    assert_eq!(a.borrower_key, KEY.to_vec());
    assert_eq!(a.assessed_at_ms, NOW);
    assert_eq!(a.lender_count, 2);
    assert_eq!(a.worst_risk_class, C::Normal as i32);
    assert_eq!(a.worst_risk_reported_by, vec!["BANK-A", "BANK-B"]);
}

#[test]
fn sums_are_per_currency_and_denied_peers_are_listed_but_not_summed() {
    let mut b = exposed(
        healthy(),
        vec![
            exposure("CNY", 5_000, 4_000, 1_000),
            exposure("USD", 300, 200, 0),
        ],
    );
    b.facility_count = 3;
    let c = exposed(healthy(), vec![exposure("EUR", 10, 10, 10)]);
    let denied = Contribution {
        // A denied peer's indicators (if any slipped through) never count.
        indicators: Some(c),
        ..Contribution::failed(
            "BANK-C",
            pb::PeerStatus::Denied,
            pb::DenialReason::Expired,
            "",
            3,
        )
    };
    let a = run(vec![
        denied,
        answered("BANK-B", b),
        answered("BANK-A", healthy()),
    ]);
    assert_eq!(
        a.exposures,
        vec![
            exposure("CNY", 6_000, 5_000, 1_000),
            exposure("USD", 300, 200, 0)
        ]
    );
    assert_eq!(a.lender_count, 2);
    let order: Vec<&str> = a.peers.iter().map(|p| p.institution_id.as_str()).collect();
    assert_eq!(order, vec!["BANK-A", "BANK-B", "BANK-C"]);
    assert!(a.peers[0].local);
    assert_eq!(a.peers[2].status, pb::PeerStatus::Denied as i32);
    assert_eq!(a.peers[2].denial_reason, pb::DenialReason::Expired as i32);
    assert!(!a.complete);
    assert!(has_reason(
        &a,
        "YELLOW",
        "incomplete: BANK-C denied the query (EXPIRED)"
    ));
}

#[test]
fn share_over_90_is_computed_over_all_debt_at_the_stated_rates() {
    let a = one_lender(vec![
        exposure("CNY", 10_000, 10_000, 1_000),
        exposure("USD", 900, 900, 300),
    ]);
    // USD 9.00 = CNY 63.90 (6,390 fen), of which USD 3.00 = CNY 21.30 over
    // 90 days: (1,000 + 2,130) / (10,000 + 6,390) = 19.09 % (rounded down).
    // The worst single currency (USD, 33.33 %) no longer decides.
    assert_eq!(a.over_90_days_share_bp, 1_909);
    assert_eq!(
        a.share_basis,
        "CNY equivalent at the rates of 2026-06-29: USD 7.1000"
    );
    assert_no_reason(&a, |r| r.starts_with("RED"));
}

#[test]
fn a_small_foreign_currency_default_is_not_red_across_a_large_performing_book() {
    // The case: CNY 8,000,000.00 NORMAL at BANK-B; USD 50,000.00
    // 100 days overdue (SUBSTANDARD) at BANK-C. USD 50,000 × 7.1 = CNY
    // 355,000; 355,000 / 8,355,000 = 4.24 %: ORANGE at most, never RED.
    let b = exposed(
        with_class(C::Normal, 0),
        vec![exposure("CNY", 800_000_000, 800_000_000, 0)],
    );
    let c = exposed(
        with_class(C::Substandard, 100),
        vec![exposure("USD", 5_000_000, 5_000_000, 5_000_000)],
    );
    let a = run(vec![answered("BANK-B", b), answered("BANK-C", c)]);
    assert_eq!(a.over_90_days_share_bp, 424);
    assert_eq!(level(&a), L::Orange, "{:?}", a.reasons);
    assert!(has_reason(&a, "ORANGE", "SUBSTANDARD reported by BANK-C"));
    assert!(has_reason(&a, "ORANGE", "100 days overdue"));
    // Above 20 % the RED reason shows the figures and the rates used.
    let small = exposed(
        with_class(C::Normal, 0),
        vec![exposure("CNY", 100_000_000, 100_000_000, 0)],
    );
    let c = exposed(
        with_class(C::Substandard, 100),
        vec![exposure("USD", 5_000_000, 5_000_000, 5_000_000)],
    );
    let a = run(vec![answered("BANK-B", small), answered("BANK-C", c)]);
    // 355,000 / 1,355,000 = 26.19 %.
    assert_eq!(a.over_90_days_share_bp, 2_619);
    assert!(has_reason(
        &a,
        "RED",
        "26.19% of all debt is more than 90 days overdue (over 20.00%): CNY 355,000.00 of CNY 1,355,000.00 (CNY equivalent at the rates of 2026-06-29: USD 7.1000)"
    ));
}

#[test]
fn a_currency_without_a_rate_is_named_not_guessed() {
    let a = one_lender(vec![
        exposure("CNY", 10_000, 10_000, 0),
        exposure("EUR", 500, 500, 500),
    ]);
    assert_eq!(a.over_90_days_share_bp, 0);
    assert!(
        a.share_basis.ends_with("excluding EUR (no rate)"),
        "{}",
        a.share_basis
    );
    assert!(has_reason(&a, "YELLOW", "no rate for EUR"));
    assert!(has_reason(&a, "YELLOW", "EUR 100.00% of its own debt"));
    assert_eq!(level(&a), L::Yellow);
}

#[test]
fn lenders_with_only_settled_facilities_are_not_counted() {
    let mut settled = healthy();
    settled.live_facility_count = 0;
    settled.settled_facility_count = 2;
    settled.facility_count = 2;
    let mut live = healthy();
    live.facility_count = 3;
    live.live_facility_count = 1;
    live.settled_facility_count = 2;
    let a = run(vec![
        answered("BANK-A", live.clone()),
        answered("BANK-B", live.clone()),
        answered("BANK-C", live),
        answered("BANK-D", settled),
    ]);
    // Four institutions reported facilities, three still lend: not yet
    // multi-lender borrowing (four).
    assert_eq!(a.lender_count, 3);
    assert_eq!(a.settled_only_lenders, vec!["BANK-D"]);
    assert_no_reason(&a, |r| r.contains("multi-lender"));
}

#[test]
fn share_rule_needs_more_than_twenty_percent_across_institutions() {
    let b = exposed(healthy(), vec![exposure("CNY", 1_000, 1_000, 500)]);
    let c = exposed(healthy(), vec![exposure("CNY", 1_500, 1_500, 0)]);
    // Exactly 20.00% across BANK-B and BANK-C: not more than 20%.
    let a = run(vec![answered("BANK-B", b.clone()), answered("BANK-C", c)]);
    assert_eq!(a.over_90_days_share_bp, 2_000);
    assert_eq!(level(&a), L::Green, "{:?}", a.reasons);
    // Alone, BANK-B's book is 50% over 90 days.
    let a = run(vec![answered("BANK-B", b)]);
    assert_eq!(a.over_90_days_share_bp, 5_000);
    assert_eq!(level(&a), L::Red);
}

#[test]
fn hostile_amounts_neither_overflow_nor_exceed_100_percent() {
    let ind = exposed(
        healthy(),
        vec![
            exposure("CNY", i64::MAX, i64::MAX, i64::MAX),
            exposure("EUR", -5, -5, 9),
        ],
    );
    let a = run(vec![
        answered("BANK-A", ind.clone()),
        answered("BANK-B", ind),
    ]);
    assert_eq!(
        a.exposures[0],
        exposure("CNY", i64::MAX, i64::MAX, i64::MAX)
    );
    assert_eq!(a.exposures[1], exposure("EUR", 0, 0, 18));
    assert_eq!(a.over_90_days_share_bp, 10_000);
}

#[test]
fn loss_and_doubtful_are_red_and_name_every_reporter() {
    let a = run(vec![
        answered("BANK-A", with_class(C::Normal, 0)),
        answered("BANK-B", with_class(C::Loss, 400)),
        answered("BANK-C", with_class(C::Loss, 380)),
        answered("BANK-D", with_class(C::Doubtful, 300)),
    ]);
    assert_eq!(level(&a), L::Red);
    assert_eq!(a.worst_risk_class, C::Loss as i32);
    assert_eq!(a.worst_risk_reported_by, vec!["BANK-B", "BANK-C"]);
    assert!(has_reason(&a, "RED", "LOSS reported by BANK-B, BANK-C"));
    assert!(has_reason(&a, "RED", "DOUBTFUL reported by BANK-D"));
    assert!(has_reason(&a, "ORANGE", "400 days overdue"));
    assert!(has_reason(
        &a,
        "ORANGE",
        "divergence: BANK-A report(s) NORMAL"
    ));
    assert!(has_reason(&a, "YELLOW", "borrows from 4 institutions"));
    assert_eq!(a.max_overdue_days, 400);
    // Most severe reasons come first.
    assert!(a.reasons[0].starts_with("RED"));
    assert!(a.reasons.last().unwrap().starts_with("YELLOW"));
}

#[test]
fn substandard_is_orange_and_divergence_is_reported() {
    let a = run(vec![
        answered("BANK-A", with_class(C::Normal, 0)),
        answered("BANK-B", with_class(C::Substandard, 0)),
    ]);
    assert_eq!(level(&a), L::Orange);
    assert!(has_reason(&a, "ORANGE", "SUBSTANDARD reported by BANK-B"));
    assert!(has_reason(
        &a,
        "ORANGE",
        "divergence: BANK-A report(s) NORMAL while BANK-B (SUBSTANDARD)"
    ));
}

#[test]
fn special_mention_without_normal_peer_is_yellow_only() {
    let a = run(vec![answered("BANK-B", with_class(C::SpecialMention, 0))]);
    assert_eq!(level(&a), L::Yellow);
    assert_eq!(
        a.reasons,
        vec!["YELLOW: SPECIAL_MENTION reported by BANK-B"]
    );
}

#[test]
fn overdue_thresholds_are_exclusive() {
    let cases = [
        (7, L::Green),
        (8, L::Yellow),
        (60, L::Yellow),
        (61, L::Orange),
    ];
    for (days, expected) in cases {
        let a = run(vec![answered("BANK-A", with_class(C::Normal, days))]);
        assert_eq!(level(&a), expected, "{days} days: {:?}", a.reasons);
    }
}

#[test]
fn fund_diversion_and_stop_production_are_red() {
    for signal in RED_SIGNALS {
        let a = run(vec![answered(
            "BANK-B",
            with_signals(&[(signal, "2026-06-01")]),
        )]);
        assert_eq!(level(&a), L::Red);
        let name = signal.as_str_name().trim_start_matches("WARNING_SIGNAL_");
        assert_eq!(
            a.reasons,
            vec![format!("RED: {name} observed by BANK-B on 2026-06-01")]
        );
    }
}

#[test]
fn one_ordinary_signal_is_yellow_and_three_distinct_are_orange() {
    let a = run(vec![answered(
        "BANK-B",
        with_signals(&[(W::Litigation, "2026-06-01")]),
    )]);
    assert_eq!(level(&a), L::Yellow);
    assert!(has_reason(&a, "YELLOW", "LITIGATION (BANK-B, 2026-06-01)"));

    let a = run(vec![
        answered(
            "BANK-A",
            with_signals(&[(W::Litigation, "2026-06-01"), (W::MgmtEvent, "2026-05-01")]),
        ),
        answered(
            "BANK-B",
            with_signals(&[
                (W::Litigation, "2026-06-02"),
                (W::FundDiversion, "2026-04-01"),
            ]),
        ),
    ]);
    assert_eq!(level(&a), L::Red);
    assert!(has_reason(&a, "ORANGE", "3 distinct warning signals"));
    assert!(has_reason(&a, "RED", "FUND_DIVERSION observed by BANK-B"));
    // Newest first, institutions filled in.
    let seen: Vec<(&str, &str)> = a
        .recent_signals
        .iter()
        .map(|s| (s.visit_date.as_str(), s.institution_id.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("2026-06-02", "BANK-B"),
            ("2026-06-01", "BANK-A"),
            ("2026-05-01", "BANK-A"),
            ("2026-04-01", "BANK-B"),
        ]
    );
}

#[test]
fn stale_or_malformed_peer_signals_are_dropped() {
    let ind = with_signals(&[
        (W::Litigation, "2025-12-31"), // 181 days before TODAY
        (W::Unspecified, "2026-06-01"),
        (W::MgmtEvent, "yesterday"),
    ]);
    let a = run(vec![answered("BANK-B", ind)]);
    assert!(a.recent_signals.is_empty());
    assert_eq!(level(&a), L::Green);
}

#[test]
fn many_lenders_are_yellow() {
    let three: Vec<Contribution> = ["BANK-A", "BANK-B", "BANK-C"]
        .into_iter()
        .map(|i| answered(i, healthy()))
        .collect();
    assert_eq!(level(&run(three.clone())), L::Green);
    let mut four = three;
    four.push(answered("BANK-D", healthy()));
    let a = run(four);
    assert_eq!(
        a.reasons,
        vec!["YELLOW: borrows from 4 institutions (multi-lender borrowing)"]
    );
}

#[test]
fn institutions_without_facilities_are_not_lenders() {
    let none = pb::BorrowerIndicators::default();
    let a = run(vec![
        answered("BANK-A", healthy()),
        answered("BANK-B", none),
    ]);
    assert_eq!(a.lender_count, 1);
    assert_eq!(a.worst_risk_reported_by, vec!["BANK-A"]);
    assert_eq!(
        a.last_visits,
        vec![pb::LastVisit {
            institution_id: "BANK-A".into(),
            visit_date: "2026-05-01".into(),
        }]
    );
}

#[test]
fn an_incomplete_assessment_says_who_is_missing_and_why() {
    let a = run(vec![
        answered("BANK-A", healthy()),
        Contribution::failed(
            "BANK-C",
            pb::PeerStatus::TimedOut,
            pb::DenialReason::Unspecified,
            "deadline 2s",
            2000,
        ),
        Contribution::failed(
            "BANK-D",
            pb::PeerStatus::InvalidSignature,
            pb::DenialReason::Unspecified,
            "",
            9,
        ),
        Contribution::failed(
            "BANK-E",
            pb::PeerStatus::Unreachable,
            pb::DenialReason::Unspecified,
            "",
            1,
        ),
    ]);
    assert!(!a.complete);
    assert_eq!(level(&a), L::Yellow);
    assert_eq!(
        a.reasons,
        vec![
            "YELLOW: incomplete: BANK-C timed out; BANK-D returned an invalid signature; \
         BANK-E was unreachable"
        ]
    );
    assert_eq!(a.peers[1].detail, "deadline 2s");
    assert_eq!(a.peers.len(), 4);
    assert_eq!(
        a.missing,
        [
            "BANK-C: timed out",
            "BANK-D: returned an invalid signature",
            "BANK-E: was unreachable"
        ]
    );
}

#[test]
fn nobody_holding_anything_is_no_data_never_green() {
    let empty = pb::BorrowerIndicators::default();
    let a = run(vec![
        answered("BANK-A", empty.clone()),
        answered("BANK-B", empty.clone()),
    ]);
    assert!(a.complete);
    assert!(a.missing.is_empty());
    assert_eq!(level(&a), L::NoData);
    assert_eq!(
        a.reasons,
        [
            "NO_DATA: no answering institution holds any record of the borrower (BANK-A, BANK-B answered with none)"
        ]
    );
    // Incomplete and empty: NO_DATA first, then what is missing.
    let a = run(vec![
        answered("BANK-A", empty),
        Contribution::failed(
            "BANK-C",
            pb::PeerStatus::TimedOut,
            pb::DenialReason::Unspecified,
            "",
            1,
        ),
    ]);
    assert_eq!(level(&a), L::NoData);
    assert!(
        a.reasons[1].starts_with("YELLOW: incomplete"),
        "{:?}",
        a.reasons
    );
    assert_eq!(a.missing, ["BANK-C: timed out"]);
    // One institution with a record is data.
    let a = run(vec![answered("BANK-A", healthy())]);
    assert_eq!(level(&a), L::Green);
}

#[test]
fn no_contributions_is_never_complete() {
    let a = run(vec![]);
    assert!(!a.complete);
    assert_eq!(level(&a), L::NoData);
    assert_eq!(a.worst_risk_class, C::Unspecified as i32);
}
