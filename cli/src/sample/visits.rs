//! The visit rows of one facility: dates, types and channels from
//! [`timeline`](super::timeline), findings from the facility's class on
//! each visit's date and the borrower's story ([`findings`](super::findings)).
//!
//! A visit proposes the class the facility has on its date, so proposals
//! and signals only grow, and they grow exactly at the first visit after a
//! downgrade: the findings that trigger a FOCUSED visit, which the planner
//! schedules after it.

use credshare_node::domain::codes::code_name;
use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;

use super::Borrower;
use super::facility::Facility;
use super::findings::{Findings, Severity, Traits, conclusion, severity};
use super::timeline::{Planned, Planner, VisitPlan};

/// A visit as written to `visits.csv`.
pub(super) struct Visit {
    number: usize,
    planned: Planned,
    findings: Findings,
    proposed: pb::RiskClass,
    action: pb::ActionTaken,
    conclusion: String,
}

impl Visit {
    /// Every visit of `facility`, oldest first.
    pub(super) fn series(
        rng: &mut StdRng,
        facility: &Facility,
        borrower: &Borrower,
        plan: &VisitPlan<'_>,
    ) -> Vec<Visit> {
        let traits = Traits {
            collateral: facility.has_collateral(),
            guarantor: facility.has_guarantor(),
            project: facility.has_project(),
            chinese: rng.random_bool(0.3),
            semi_halted: rng.random_bool(0.5),
            disputed: rng.random_bool(0.4),
            guarantor_sued: rng.random_bool(0.4),
        };
        let planned = Planner::new(rng, facility, plan).plan();
        let mut before = pb::RiskClass::Normal;
        (planned.into_iter().enumerate())
            .map(|(i, planned)| {
                let class = facility.history.class_at(planned.date);
                let escalated = class > before;
                before = class;
                Visit::new(i + 1, planned, class, escalated, facility, borrower, traits)
            })
            .collect()
    }

    fn new(
        number: usize,
        planned: Planned,
        class: pb::RiskClass,
        escalated: bool,
        facility: &Facility,
        borrower: &Borrower,
        traits: Traits,
    ) -> Visit {
        let severity = severity(class);
        let signals = borrower.signals(severity, traits);
        let findings = Findings::new(severity, signals, planned.channel, traits);
        let acting = escalated || planned.kind == pb::VisitType::Focused;
        let action = if acting {
            action(severity, facility, class, traits)
        } else {
            pb::ActionTaken::None
        };
        Visit {
            number,
            planned,
            conclusion: conclusion(&findings, action, severity, traits.chinese),
            findings,
            proposed: class,
            action,
        }
    }

    pub(super) fn cells(&self, borrower_id: &str, facility_id: &str) -> [String; 16] {
        let signals: Vec<&str> = (self.findings.signals.iter())
            .map(|&s| code_name(s))
            .collect();
        let f = &self.findings;
        [
            borrower_id.to_owned(),
            // Zero-padded: the node orders same-day visits by id.
            format!("{facility_id}-V{:03}", self.number),
            "1".to_owned(),
            facility_id.to_owned(),
            self.planned.date.to_string(),
            code_name(self.planned.kind).to_owned(),
            code_name(self.planned.channel).to_owned(),
            code_name(f.fund_usage).to_owned(),
            code_name(f.operations).to_owned(),
            code_name(f.progress).to_owned(),
            code_name(f.collateral).to_owned(),
            code_name(f.guarantor).to_owned(),
            signals.join(";"),
            code_name(self.proposed).to_owned(),
            code_name(self.action).to_owned(),
            self.conclusion.clone(),
        ]
    }
}

/// What an officer does on finding a facility worse, or on a FOCUSED
/// visit: escalate, ask for more security, restructure or recall.
fn action(
    severity: Severity,
    facility: &Facility,
    class: pb::RiskClass,
    traits: Traits,
) -> pb::ActionTaken {
    use pb::ActionTaken as A;
    match severity {
        0 => A::None,
        _ if facility.history.restructured && class == facility.class => A::Restructure,
        1 => A::Escalated,
        2 if traits.collateral || traits.guarantor => A::ExtraCollateral,
        2 => A::Escalated,
        _ => A::EarlyRecall,
    }
}
