//! Post-loan visits of one generated facility: a FIRST visit 15–30 days
//! after opening, then routine ones, and on a weak facility the later visits
//! find what is wrong (signals, worse operations, a FOCUSED visit).

use credshare_node::domain::codes::code_name;
use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use time::{Date, Duration};

use super::facility::Facility;
use super::{Borrower, Health, pick};

/// How bad things looked on a visit: 0 fine … 3 failing.
type Severity = u8;

/// A visit as written to `visits.csv`.
pub(super) struct Visit {
    number: usize,
    date: Date,
    kind: pb::VisitType,
    channel: pb::VisitChannel,
    conditions: Conditions,
    signals: Vec<pb::WarningSignal>,
    proposed: pb::RiskClass,
    action: pb::ActionTaken,
    conclusion: &'static str,
}

use pb::WarningSignal as S;
const MILD: &[S] = &[
    S::FinDeterioration,
    S::IndustryPolicy,
    S::RatingDowngrade,
    S::AccountAnomaly,
    S::NonCooperation,
    S::OwnershipChange,
    S::MgmtEvent,
];
const SERIOUS: &[S] = &[
    S::ArrearsOthers,
    S::FundDiversion,
    S::UnpaidTaxWages,
    S::Litigation,
    S::CollateralRisk,
    S::GuarantorRisk,
    S::FinDeterioration,
];
const SEVERE: &[S] = &[
    S::StopProduction,
    S::Litigation,
    S::ArrearsOthers,
    S::UnpaidTaxWages,
    S::FundDiversion,
    S::MgmtEvent,
    S::GuarantorRisk,
];

const CONCLUSIONS: [&[&str]; 4] = [
    &[
        "经营正常，资金按约定用途使用。",
        "Operations normal; funds used as agreed.",
        "Site visit completed; inventory and receivables consistent with statements.",
        "还款来源稳定，未发现异常。",
    ],
    &[
        "Sales down year on year; requested quarterly statements.",
        "订单减少，现金流趋紧，列入关注。",
        "Key customer lost; monitoring cash flow monthly.",
    ],
    &[
        "Arrears with other lenders reported; additional collateral requested.",
        "部分贷款资金被挪用，已上报并要求整改。",
        "Wages unpaid for two months; restructuring under discussion.",
    ],
    &[
        "Production halted; recovery action started.",
        "企业停产，实际控制人失联，启动提前收贷。",
        "Assets frozen by court order; claim filed.",
    ],
];

impl Visit {
    /// 1–3 visits (2–4 on a weak facility) between the first visit and the
    /// facility's as-of date.
    pub(super) fn series(rng: &mut StdRng, facility: &Facility, borrower: &Borrower) -> Vec<Visit> {
        let weak = facility.is_weak() || borrower.health > Health::Good;
        let count = if weak {
            rng.random_range(2..=4)
        } else {
            rng.random_range(1..=3)
        };
        let first = facility.open + Duration::days(rng.random_range(15..=30));
        let end = facility
            .as_of
            .min(facility.maturity + Duration::days(30))
            .max(first);
        let span = (end - first).whole_days();
        let mut dates: Vec<Date> = (1..count)
            .map(|_| first + Duration::days(rng.random_range(0..=span)))
            .collect();
        dates.sort();
        dates.insert(0, first);
        let found = severity(facility, borrower.health);
        (0..count)
            .zip(dates)
            .map(|(i, date)| {
                let last = i + 1 == count;
                let shows = weak && i > 0 && (last || 2 * i >= count);
                let severity = if shows { found } else { 0 };
                let kind = match (i, severity > 0 && last) {
                    (0, _) => pb::VisitType::First,
                    (_, true) => pb::VisitType::Focused,
                    _ if rng.random_bool(0.05) => pb::VisitType::Special,
                    _ => pb::VisitType::Routine,
                };
                Visit::generate(rng, i + 1, date, kind, severity, facility)
            })
            .collect()
    }

    fn generate(
        rng: &mut StdRng,
        number: usize,
        date: Date,
        kind: pb::VisitType,
        severity: Severity,
        facility: &Facility,
    ) -> Visit {
        let has_project = matches!(
            facility.kind,
            pb::FacilityType::Project | pb::FacilityType::FixedAsset
        );
        let conditions = Conditions::found(rng, severity, has_project);
        let (proposed, action) = proposal(rng, severity);
        // An officer who finds trouble never proposes better than the books.
        let proposed = if severity > 0 {
            proposed.max(facility.class)
        } else {
            proposed
        };
        Visit {
            number,
            date,
            kind,
            channel: channel(rng, kind),
            conditions,
            signals: signals(rng, severity),
            proposed,
            action,
            conclusion: CONCLUSIONS[usize::from(severity.min(3))]
                .choose(rng)
                .copied()
                .unwrap_or(""),
        }
    }

    pub(super) fn cells(&self, borrower_id: &str, facility_id: &str) -> [String; 16] {
        let signals: Vec<&str> = self.signals.iter().map(|&s| code_name(s)).collect();
        [
            borrower_id.to_owned(),
            format!("{facility_id}-V{}", self.number),
            "1".to_owned(),
            facility_id.to_owned(),
            self.date.to_string(),
            code_name(self.kind).to_owned(),
            code_name(self.channel).to_owned(),
            code_name(self.conditions.fund_usage).to_owned(),
            code_name(self.conditions.operations).to_owned(),
            code_name(self.conditions.progress).to_owned(),
            code_name(self.conditions.collateral).to_owned(),
            code_name(self.conditions.guarantor).to_owned(),
            signals.join(";"),
            code_name(self.proposed).to_owned(),
            code_name(self.action).to_owned(),
            self.conclusion.to_owned(),
        ]
    }
}

/// What an officer finds about the loan's use and its security.
struct Conditions {
    fund_usage: pb::FundUsage,
    operations: pb::OperationsStatus,
    progress: pb::ProjectProgress,
    collateral: pb::CollateralStatus,
    guarantor: pb::GuarantorStatus,
}

impl Conditions {
    /// Conditions that fit the severity; project progress only for
    /// project and fixed-asset loans.
    fn found(rng: &mut StdRng, severity: Severity, has_project: bool) -> Self {
        let (fund_usage, operations, progress, collateral, guarantor) = findings(rng, severity);
        Conditions {
            fund_usage,
            operations,
            progress: if has_project {
                progress
            } else {
                pb::ProjectProgress::NotApplicable
            },
            collateral,
            guarantor,
        }
    }
}

/// What an officer finds, by severity: fund usage, operations, project
/// progress, collateral, guarantor.
fn findings(
    rng: &mut StdRng,
    severity: Severity,
) -> (
    pb::FundUsage,
    pb::OperationsStatus,
    pb::ProjectProgress,
    pb::CollateralStatus,
    pb::GuarantorStatus,
) {
    use pb::CollateralStatus as C;
    use pb::FundUsage as U;
    use pb::GuarantorStatus as G;
    use pb::OperationsStatus as O;
    use pb::ProjectProgress as P;
    match severity {
        0 => (
            pick(rng, &[(U::AsAgreed, 90), (U::Unverified, 10)]),
            O::Normal,
            P::OnTrack,
            C::Intact,
            G::Normal,
        ),
        1 => (
            pick(
                rng,
                &[
                    (U::AsAgreed, 60),
                    (U::Unverified, 25),
                    (U::PartialDeviation, 15),
                ],
            ),
            pick(rng, &[(O::Declining, 80), (O::Normal, 20)]),
            pick(rng, &[(P::Delayed, 60), (P::OnTrack, 40)]),
            pick(rng, &[(C::Intact, 70), (C::Depreciated, 30)]),
            pick(rng, &[(G::Normal, 70), (G::Weakened, 30)]),
        ),
        2 => (
            pick(
                rng,
                &[
                    (U::PartialDeviation, 50),
                    (U::Unverified, 30),
                    (U::Diverted, 20),
                ],
            ),
            pick(rng, &[(O::Declining, 50), (O::SemiHalted, 50)]),
            pick(rng, &[(P::Delayed, 50), (P::Stalled, 50)]),
            pick(rng, &[(C::Depreciated, 60), (C::Disputed, 40)]),
            pick(rng, &[(G::Weakened, 60), (G::Litigation, 40)]),
        ),
        _ => (
            pick(rng, &[(U::Diverted, 60), (U::Unverified, 40)]),
            pick(rng, &[(O::SemiHalted, 40), (O::Halted, 60)]),
            P::Stalled,
            pick(rng, &[(C::Seized, 40), (C::Disputed, 40), (C::Lost, 20)]),
            pick(rng, &[(G::Litigation, 50), (G::Insolvent, 50)]),
        ),
    }
}

/// The worst of the borrower's health and the facility's state.
fn severity(facility: &Facility, health: Health) -> Severity {
    let from_class = match facility.class {
        pb::RiskClass::Unspecified | pb::RiskClass::Normal => 0,
        pb::RiskClass::SpecialMention => 1,
        pb::RiskClass::Substandard => 2,
        pb::RiskClass::Doubtful | pb::RiskClass::Loss => 3,
    };
    let from_health = health as Severity;
    let from_overdue = Severity::from(facility.overdue_days > 0);
    from_class.max(from_health).max(from_overdue)
}

fn channel(rng: &mut StdRng, kind: pb::VisitType) -> pb::VisitChannel {
    use pb::VisitChannel as V;
    if kind == pb::VisitType::Routine {
        pick(
            rng,
            &[
                (V::Onsite, 45),
                (V::Phone, 25),
                (V::Video, 20),
                (V::SelfService, 10),
            ],
        )
    } else {
        pick(rng, &[(V::Onsite, 85), (V::Video, 15)])
    }
}

/// Distinct warning signals: rarely one early warning on a healthy
/// facility, more and graver ones as severity grows.
fn signals(rng: &mut StdRng, severity: Severity) -> Vec<pb::WarningSignal> {
    let (pool, count) = match severity {
        0 if rng.random_bool(0.04) => (MILD, 1),
        0 => (MILD, 0),
        1 => (MILD, rng.random_range(1..=2)),
        2 => (SERIOUS, rng.random_range(2..=3)),
        _ => (SEVERE, rng.random_range(2..=4)),
    };
    pool.choose_multiple(rng, count).copied().collect()
}

fn proposal(rng: &mut StdRng, severity: Severity) -> (pb::RiskClass, pb::ActionTaken) {
    use pb::ActionTaken as A;
    use pb::RiskClass as R;
    match severity {
        0 => (R::Normal, A::None),
        1 => (
            R::SpecialMention,
            pick(
                rng,
                &[(A::Escalated, 50), (A::None, 30), (A::ExtraCollateral, 20)],
            ),
        ),
        2 => (
            R::Substandard,
            pick(
                rng,
                &[
                    (A::Escalated, 30),
                    (A::ExtraCollateral, 40),
                    (A::Restructure, 30),
                ],
            ),
        ),
        _ => (
            pick(rng, &[(R::Doubtful, 60), (R::Loss, 40)]),
            pick(rng, &[(A::EarlyRecall, 60), (A::Restructure, 40)]),
        ),
    }
}
