//! The level rules of an assessment: every rule that fires adds a reason
//! at its level, and the assessment takes the most severe level.

use credshare_proto::v1 as pb;

use super::{
    Contribution, MULTI_LENDER_COUNT, Merged, NON_PERFORMING_SHARE_BP, ORANGE_DISTINCT_SIGNALS,
    ORANGE_OVERDUE_DAYS, RED_SIGNALS, YELLOW_OVERDUE_DAYS,
};

/// A fired rule: its level and a human-readable reason.
pub(super) type Finding = (pb::AssessmentLevel, String);

impl Merged {
    /// Every rule that fires, with its level.
    pub(super) fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        self.classification_findings(&mut out);
        out.extend(self.share_finding());
        if self.max_overdue_days > ORANGE_OVERDUE_DAYS {
            out.push((
                pb::AssessmentLevel::Orange,
                format!(
                    "{} days overdue (over {ORANGE_OVERDUE_DAYS})",
                    self.max_overdue_days
                ),
            ));
        } else if self.max_overdue_days > YELLOW_OVERDUE_DAYS {
            out.push((
                pb::AssessmentLevel::Yellow,
                format!(
                    "{} days overdue (beyond the {YELLOW_OVERDUE_DAYS}-day grace)",
                    self.max_overdue_days
                ),
            ));
        }
        self.signal_findings(&mut out);
        if self.lender_count >= MULTI_LENDER_COUNT {
            out.push((
                pb::AssessmentLevel::Yellow,
                format!(
                    "borrows from {} institutions (multi-lender borrowing)",
                    self.lender_count
                ),
            ));
        }
        out
    }

    /// More than 20% of all debt over 90 days overdue is RED; a share that
    /// cannot be computed over all debt (a currency without a rate) is
    /// YELLOW with what is known. Both show the figures used.
    fn share_finding(&self) -> Option<Finding> {
        let share = &self.share;
        if share.unconverted.is_empty() {
            return (share.bp > NON_PERFORMING_SHARE_BP).then(|| {
                (
                    pb::AssessmentLevel::Red,
                    format!(
                        "{} of all debt is more than 90 days overdue (over {}): {}: \
                         every lender should treat the borrower as non-performing",
                        percent(share.bp),
                        percent(NON_PERFORMING_SHARE_BP),
                        share.figures()
                    ),
                )
            });
        }
        let alone: Vec<String> = (share.unconverted.iter())
            .map(|(code, bp)| format!("{code} {} of its own debt", percent(*bp)))
            .collect();
        let missing: Vec<&str> = share.unconverted.iter().map(|(c, _)| c.as_str()).collect();
        Some((
            pb::AssessmentLevel::Yellow,
            format!(
                "the share of debt more than 90 days overdue cannot be computed over all debt: \
                 no rate for {} in the rate table (assessment.rates); without it {}: {}; \
                 more than 90 days overdue: {}",
                missing.join(", "),
                percent(share.bp),
                share.figures(),
                alone.join(", ")
            ),
        ))
    }

    /// One finding per class worse than NORMAL, plus NORMAL-vs-NPL divergence.
    fn classification_findings(&self, out: &mut Vec<Finding>) {
        use pb::RiskClass as C;
        for (class, level) in [
            (C::Loss, pb::AssessmentLevel::Red),
            (C::Doubtful, pb::AssessmentLevel::Red),
            (C::Substandard, pb::AssessmentLevel::Orange),
            (C::SpecialMention, pb::AssessmentLevel::Yellow),
        ] {
            let who = self.reported_by(class);
            if !who.is_empty() {
                let text = format!("{} reported by {}", class_name(class), who.join(", "));
                out.push((level, text));
            }
        }
        let normal = self.reported_by(C::Normal);
        let non_performing: Vec<String> = (self.classes.iter())
            .filter(|(_, class)| *class >= C::Substandard)
            .map(|(institution, class)| format!("{institution} ({})", class_name(*class)))
            .collect();
        if !normal.is_empty() && !non_performing.is_empty() {
            out.push((
                pb::AssessmentLevel::Orange,
                format!(
                    "classification divergence: {} report(s) NORMAL while {} report(s) non-performing",
                    normal.join(", "),
                    non_performing.join(", ")
                ),
            ));
        }
    }

    fn signal_findings(&self, out: &mut Vec<Finding>) {
        let mut reported_red: Vec<(i32, &str)> = Vec::new();
        let mut other: Vec<String> = Vec::new();
        let mut distinct: Vec<i32> = Vec::new();
        // Signals are newest first, so the first sighting is the latest one.
        for s in &self.signals {
            if !distinct.contains(&s.signal) {
                distinct.push(s.signal);
            }
            let is_red = RED_SIGNALS.iter().any(|r| *r as i32 == s.signal);
            let key = (s.signal, s.institution_id.as_str());
            if is_red && !reported_red.contains(&key) {
                reported_red.push(key);
                out.push((
                    pb::AssessmentLevel::Red,
                    format!(
                        "{} observed by {} on {}",
                        signal_name(s.signal),
                        s.institution_id,
                        s.visit_date
                    ),
                ));
            } else if !is_red {
                other.push(format!(
                    "{} ({}, {})",
                    signal_name(s.signal),
                    s.institution_id,
                    s.visit_date
                ));
            }
        }
        if distinct.len() >= ORANGE_DISTINCT_SIGNALS {
            let names: Vec<&str> = distinct.iter().map(|s| signal_name(*s)).collect();
            out.push((
                pb::AssessmentLevel::Orange,
                format!(
                    "{} distinct warning signals in the last 180 days: {}",
                    distinct.len(),
                    names.join(", ")
                ),
            ));
        } else if !other.is_empty() {
            out.push((
                pb::AssessmentLevel::Yellow,
                format!("warning signals in the last 180 days: {}", other.join("; ")),
            ));
        }
    }
}

/// `NO_DATA` when no answering institution holds any record of the
/// borrower: an empty answer is absence of data, not good standing.
pub(super) fn no_data_finding(contributions: &[Contribution]) -> Option<Finding> {
    let answered: Vec<&Contribution> = contributions
        .iter()
        .filter(|c| c.status == pb::PeerStatus::Answered)
        .collect();
    let holds_anything = answered.iter().any(|c| {
        c.indicators
            .as_ref()
            .is_some_and(|i| i.facility_count > 0 || i.visit_count > 0)
    });
    if holds_anything {
        return None;
    }
    let names: Vec<&str> = answered.iter().map(|c| c.institution.as_str()).collect();
    let text = if names.is_empty() {
        "no institution answered: there is no data to assess".to_owned()
    } else {
        format!(
            "no answering institution holds any record of the borrower ({} answered with none)",
            names.join(", ")
        )
    };
    Some((pb::AssessmentLevel::NoData, text))
}

/// What an incomplete assessment lacks: "BANK-C: timed out", one line per
/// institution that did not answer.
pub(super) fn missing_parts(contributions: &[Contribution]) -> Vec<String> {
    contributions
        .iter()
        .filter(|c| is_missing(c))
        .map(|c| format!("{}: {}", c.institution, status_phrase(c)))
        .collect()
}

/// "incomplete: BANK-C timed out; BANK-D denied the query (EXPIRED)".
pub(super) fn completeness_finding(contributions: &[Contribution]) -> Option<Finding> {
    let missing: Vec<String> = contributions
        .iter()
        .filter(|c| is_missing(c))
        .map(|c| format!("{} {}", c.institution, status_phrase(c)))
        .collect();
    let text = match (contributions.is_empty(), missing.is_empty()) {
        (true, _) => "incomplete: no institution contributed".to_owned(),
        (false, true) => return None,
        (false, false) => format!("incomplete: {}", missing.join("; ")),
    };
    Some((pb::AssessmentLevel::Yellow, text))
}

/// Asked and did not answer; a member discovery did not name was not asked.
fn is_missing(c: &Contribution) -> bool {
    !matches!(
        c.status,
        pb::PeerStatus::Answered | pb::PeerStatus::NotHolder
    )
}

fn status_phrase(c: &Contribution) -> String {
    use pb::PeerStatus as S;
    match c.status {
        S::Denied => {
            let reason = c.denial_reason.as_str_name();
            let reason = reason.strip_prefix("DENIAL_REASON_").unwrap_or(reason);
            format!("denied the query ({reason})")
        }
        S::TimedOut => "timed out".into(),
        S::Unreachable => "was unreachable".into(),
        S::InvalidSignature => "returned an invalid signature".into(),
        S::InvalidReceipt => "returned an invalid receipt".into(),
        S::Error => "failed".into(),
        S::Unspecified => "gave no status".into(),
        S::Answered => "answered".into(),
        S::NotHolder => "is not a holder (discovery)".into(),
    }
}

fn percent(bp: u32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

pub(super) fn level_name(level: pb::AssessmentLevel) -> &'static str {
    let name = level.as_str_name();
    name.strip_prefix("ASSESSMENT_LEVEL_").unwrap_or(name)
}

fn class_name(class: pb::RiskClass) -> &'static str {
    let name = class.as_str_name();
    name.strip_prefix("RISK_CLASS_").unwrap_or(name)
}

fn signal_name(value: i32) -> &'static str {
    let name = pb::WarningSignal::try_from(value).map_or("UNKNOWN", |s| s.as_str_name());
    name.strip_prefix("WARNING_SIGNAL_").unwrap_or(name)
}
