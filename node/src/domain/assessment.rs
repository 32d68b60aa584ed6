//! The cross-institution assessment: merges what every institution reported
//! about one borrower into one screen for a post-loan officer
//! (docs/domain.md#assessment), with a level and every reason that raised it.
//!
//! Only contributions with status `ANSWERED` enter the figures; every
//! contribution, answered or not, is listed in `peers`, and any that did not
//! answer makes the assessment incomplete — and says so in the reasons.
//!
//! Exposures are reported per currency; the share of debt more than 90
//! days overdue is computed over all of it, converted with the node's rate
//! table ([`exchange`], [`share`]), and its reason shows the figures used.

use std::collections::BTreeMap;

use credshare_proto::v1 as pb;
use time::Date;

use self::exchange::RateTable;
use self::level::{completeness_finding, level_name, missing_parts, no_data_finding};
use self::share::{DebtShare, debt_share};
use super::dates::parse_iso_date;
use super::disputes;
use super::indicators::{is_recent, known_risk_class};

/// More than this share of outstanding debt (basis points) over 90 days
/// overdue means every lender should treat the borrower as non-performing.
pub const NON_PERFORMING_SHARE_BP: u32 = 2_000;
/// Overdue beyond this many days raises the level to ORANGE.
pub const ORANGE_OVERDUE_DAYS: u32 = 60;
/// Overdue beyond this technical grace (days) raises the level to YELLOW.
pub const YELLOW_OVERDUE_DAYS: u32 = 7;
/// This many distinct recent warning signals raise the level to ORANGE.
pub const ORANGE_DISTINCT_SIGNALS: usize = 3;
/// Borrowing from this many institutions raises the level to YELLOW.
pub const MULTI_LENDER_COUNT: u32 = 4;
/// Signals that alone make an assessment RED.
pub const RED_SIGNALS: [pb::WarningSignal; 2] = [
    pb::WarningSignal::FundDiversion,
    pb::WarningSignal::StopProduction,
];

/// What one institution contributed: this node's own data (`local`) or a
/// peer's verified answer, or why there is none.
#[derive(Debug, Clone)]
pub struct Contribution {
    pub institution: String,
    pub local: bool,
    pub status: pb::PeerStatus,
    /// Set when `status` is `DENIED`.
    pub denial_reason: pb::DenialReason,
    /// Human-readable detail of a failure; shown in `peers`, not in reasons.
    pub detail: String,
    pub latency_ms: u32,
    pub indicators: Option<pb::BorrowerIndicators>,
    pub receipt: Option<pb::Receipt>,
    /// At DETAIL: the verified, decoded records.
    pub records: Vec<pb::VerifiedRecord>,
}

impl Contribution {
    /// An institution that answered with `indicators`.
    pub fn answered(
        institution: impl Into<String>,
        local: bool,
        indicators: pb::BorrowerIndicators,
        receipt: Option<pb::Receipt>,
        latency_ms: u32,
    ) -> Self {
        Self {
            institution: institution.into(),
            local,
            status: pb::PeerStatus::Answered,
            denial_reason: pb::DenialReason::Unspecified,
            detail: String::new(),
            latency_ms,
            indicators: Some(indicators),
            receipt,
            records: Vec::new(),
        }
    }

    /// A peer that did not answer (`status` other than `ANSWERED`).
    pub fn failed(
        institution: impl Into<String>,
        status: pb::PeerStatus,
        denial_reason: pb::DenialReason,
        detail: impl Into<String>,
        latency_ms: u32,
    ) -> Self {
        Self {
            institution: institution.into(),
            local: false,
            status,
            denial_reason,
            detail: detail.into(),
            latency_ms,
            indicators: None,
            receipt: None,
            records: Vec::new(),
        }
    }
}

/// Merges `contributions` into an assessment of `borrower_key`.
///
/// * `lender_count`: answering institutions with at least one live (not
///   settled) facility; those with only settled ones are listed in
///   `settled_only_lenders`.
/// * `exposures`: per-currency sums (saturating; negative amounts from a
///   peer count as 0), sorted by currency.
/// * `worst_risk_class` and every institution that reported it.
/// * `over_90_days_share_bp`: outstanding more than 90 days overdue / all
///   outstanding, in basis points rounded down, over every currency
///   converted with `rates` (`share_basis` says how).
/// * `recent_signals`: signals within 180 days of `today`, with the
///   observing institution, newest first.
/// * `complete`: every contribution answered (and there was at least one);
///   `missing` names each one that did not. A member discovery did not name
///   (`NOT_HOLDER`, [`targeted`]) was not asked: neither answer nor missing.
/// * `disputed`: records under dispute (left out of every figure), and
///   `level_with_disputed`, the level their figures would give.
/// * `level`: the most severe finding; `NO_DATA` when no answering
///   institution holds any record (never `GREEN` on absence of data).
///
/// `peers` lists the local contribution first, then peers by institution.
pub fn assess(
    borrower_key: &[u8],
    mut contributions: Vec<Contribution>,
    now_ms: i64,
    today: Date,
    rates: &RateTable,
) -> pb::Assessment {
    use pb::PeerStatus as S;
    contributions.sort_by(|a, b| {
        b.local
            .cmp(&a.local)
            .then_with(|| a.institution.cmp(&b.institution))
    });
    let (merged, findings) = evaluate(&contributions, today, rates);
    let level = findings
        .first()
        .map_or(pb::AssessmentLevel::Green, |(level, _)| *level);
    let disputed = disputed_records(&contributions);
    let level_with_disputed = if disputed.is_empty() {
        level
    } else {
        level_with_disputed_figures(&contributions, today, rates)
    };
    pb::Assessment {
        borrower_key: borrower_key.to_vec(),
        assessed_at_ms: now_ms,
        lender_count: merged.lender_count,
        over_90_days_share_bp: merged.share.bp,
        share_basis: merged.share_basis(),
        worst_risk_class: merged.worst_risk_class() as i32,
        worst_risk_reported_by: merged.worst_reported_by(),
        max_overdue_days: merged.max_overdue_days,
        level: level as i32,
        reasons: findings
            .into_iter()
            .map(|(level, text)| format!("{}: {text}", level_name(level)))
            .collect(),
        complete: !contributions.is_empty()
            && contributions
                .iter()
                .all(|c| matches!(c.status, S::Answered | S::NotHolder)),
        exposures: merged.exposures,
        recent_signals: merged.signals,
        last_visits: merged.last_visits,
        settled_only_lenders: merged.settled_only,
        missing: missing_parts(&contributions),
        disputed,
        level_with_disputed: level_with_disputed as i32,
        // Set by the caller of a targeted assessment (`targeted::mark`).
        discovery_receipt_id: String::new(),
        peers: contributions.into_iter().map(peer_outcome).collect(),
    }
}

/// The level the contributions would get with their disputed records'
/// figures counted.
fn level_with_disputed_figures(
    contributions: &[Contribution],
    today: Date,
    rates: &RateTable,
) -> pb::AssessmentLevel {
    let with: Vec<Contribution> = contributions
        .iter()
        .cloned()
        .map(|mut c| {
            c.indicators = c.indicators.as_ref().map(disputes::with_disputed_figures);
            c
        })
        .collect();
    evaluate(&with, today, rates)
        .1
        .first()
        .map_or(pb::AssessmentLevel::Green, |(level, _)| *level)
}

/// The merged figures and every finding, most severe first (NO_DATA, which
/// excludes every figure, before all; within a level, in rule order).
fn evaluate(
    contributions: &[Contribution],
    today: Date,
    rates: &RateTable,
) -> (Merged, Vec<level::Finding>) {
    let merged = Merged::new(contributions, today, rates);
    let mut findings = merged.findings();
    findings.extend(completeness_finding(contributions));
    findings.extend(no_data_finding(contributions));
    findings.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
    (merged, findings)
}

/// Records under dispute at the answering institutions, each named with
/// its institution.
fn disputed_records(contributions: &[Contribution]) -> Vec<pb::DisputedRecord> {
    contributions
        .iter()
        .filter(|c| c.status == pb::PeerStatus::Answered)
        .filter_map(|c| Some((c, c.indicators.as_ref()?)))
        .flat_map(|(c, ind)| {
            ind.disputed.iter().map(|d| pb::DisputedRecord {
                institution_id: c.institution.clone(),
                ..d.clone()
            })
        })
        .collect()
}

fn peer_outcome(c: Contribution) -> pb::PeerOutcome {
    pb::PeerOutcome {
        institution_id: c.institution,
        status: c.status as i32,
        denial_reason: c.denial_reason as i32,
        detail: c.detail,
        latency_ms: c.latency_ms,
        local: c.local,
        indicators: c.indicators,
        receipt: c.receipt,
        records: c.records,
    }
}

/// Figures merged over the answering institutions.
#[derive(Debug, Default)]
struct Merged {
    lender_count: u32,
    exposures: Vec<pb::CurrencyExposure>,
    share: DebtShare,
    /// Institutions whose facilities are all settled.
    settled_only: Vec<String>,
    /// Each answering institution's worst class, when it reported one.
    classes: Vec<(String, pb::RiskClass)>,
    max_overdue_days: u32,
    signals: Vec<pb::SignalObservation>,
    last_visits: Vec<pb::LastVisit>,
}

impl Merged {
    fn new(contributions: &[Contribution], today: Date, rates: &RateTable) -> Self {
        let mut merged = Merged::default();
        let mut exposures: BTreeMap<String, pb::CurrencyExposure> = BTreeMap::new();
        let answered = contributions
            .iter()
            .filter(|c| c.status == pb::PeerStatus::Answered)
            .filter_map(|c| Some((c.institution.as_str(), c.indicators.as_ref()?)));
        for (institution, ind) in answered {
            let (live, settled) = facility_counts(ind);
            if live > 0 {
                merged.lender_count += 1;
            } else if settled > 0 {
                merged.settled_only.push(institution.to_owned());
            }
            for exposure in &ind.exposures {
                add_exposure(&mut exposures, exposure);
            }
            if let Some(class) = known_risk_class(ind.worst_risk_class) {
                merged.classes.push((institution.to_owned(), class));
            }
            merged.max_overdue_days = merged.max_overdue_days.max(ind.max_overdue_days);
            merged
                .signals
                .extend(recent_observations(institution, ind, today));
            if let Some(date) = parse_iso_date(&ind.last_visit_date) {
                merged.last_visits.push(pb::LastVisit {
                    institution_id: institution.to_owned(),
                    visit_date: date.to_string(),
                });
            }
        }
        merged.signals.sort_by(|a, b| {
            (b.visit_date.cmp(&a.visit_date))
                .then(a.signal.cmp(&b.signal))
                .then_with(|| a.institution_id.cmp(&b.institution_id))
        });
        merged.signals.dedup();
        merged.exposures = exposures.into_values().collect();
        merged.share = debt_share(&merged.exposures, rates);
        merged
    }

    /// The share's basis, naming any currency left out for want of a rate.
    fn share_basis(&self) -> String {
        let mut basis = self.share.basis.clone();
        if !self.share.unconverted.is_empty() {
            let left_out: Vec<&str> = self
                .share
                .unconverted
                .iter()
                .map(|(c, _)| c.as_str())
                .collect();
            basis.push_str(&format!("; excluding {} (no rate)", left_out.join(", ")));
        }
        basis
    }

    fn worst_risk_class(&self) -> pb::RiskClass {
        self.classes
            .iter()
            .map(|(_, class)| *class)
            .max()
            .unwrap_or(pb::RiskClass::Unspecified)
    }

    fn worst_reported_by(&self) -> Vec<String> {
        self.reported_by(self.worst_risk_class())
    }

    fn reported_by(&self, class: pb::RiskClass) -> Vec<String> {
        let mut who: Vec<String> = self
            .classes
            .iter()
            .filter(|(_, c)| *c == class)
            .map(|(institution, _)| institution.clone())
            .collect();
        who.sort();
        who.dedup();
        who
    }
}

fn add_exposure(totals: &mut BTreeMap<String, pb::CurrencyExposure>, e: &pb::CurrencyExposure) {
    let total = totals
        .entry(e.currency.clone())
        .or_insert_with(|| pb::CurrencyExposure {
            currency: e.currency.clone(),
            ..Default::default()
        });
    total.contract_amount = total
        .contract_amount
        .saturating_add(e.contract_amount.max(0));
    total.outstanding_balance =
        (total.outstanding_balance).saturating_add(e.outstanding_balance.max(0));
    total.outstanding_over_90_days =
        (total.outstanding_over_90_days).saturating_add(e.outstanding_over_90_days.max(0));
}

/// (live, settled) facilities of an answer. A peer of an older version
/// sends neither count: all its facilities count as live.
fn facility_counts(ind: &pb::BorrowerIndicators) -> (u32, u32) {
    if ind.live_facility_count == 0 && ind.settled_facility_count == 0 {
        (ind.facility_count, 0)
    } else {
        (ind.live_facility_count, ind.settled_facility_count)
    }
}

/// A peer's recent signals, re-checked against our own `today` (a peer's
/// clock or window may differ), with the observing institution filled in.
fn recent_observations<'a>(
    institution: &'a str,
    ind: &'a pb::BorrowerIndicators,
    today: Date,
) -> impl Iterator<Item = pb::SignalObservation> + 'a {
    ind.recent_signals.iter().filter_map(move |s| {
        let date = parse_iso_date(&s.visit_date).filter(|d| is_recent(*d, today))?;
        match pb::WarningSignal::try_from(s.signal) {
            Ok(pb::WarningSignal::Unspecified) | Err(_) => None,
            Ok(signal) => Some(pb::SignalObservation {
                signal: signal as i32,
                visit_date: date.to_string(),
                institution_id: institution.to_owned(),
            }),
        }
    })
}

pub mod exchange;
mod level;
mod share;
pub mod targeted;

#[cfg(test)]
mod tests;
