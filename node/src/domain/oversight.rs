//! Query-pattern oversight (docs/domain.md "Query-pattern oversight"): a
//! holder counts, per requester and reason, the queries that suggest
//! misuse, and raises a flag when a count reaches its threshold:
//!
//! * `PROBING` — answered queries about borrowers this holder does not hold
//!   (a member asking whether peers lend to enterprises), within the last
//!   `window_days`;
//! * `APPROVAL_WITHOUT_LENDING` — approval queries (02, 03, 24, 26) whose
//!   `follow_up_days` ended within the last `window_days` without a
//!   post-loan query (01) of the same requester for the same borrower.
//!
//! [`Oversight`] is fed events in time order ([`Oversight::observe`]) and
//! evaluated ([`Oversight::evaluate`]); a flag is returned once, when
//! raised, and clears when its count falls below the threshold. Pure state:
//! the node logs the flags and rebuilds the state from its log.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::purpose::Purpose;

const MS_PER_DAY: i64 = 86_400_000;

/// Thresholds (`[oversight]`); a threshold of 0 turns its pattern off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OversightConfig {
    /// The counting window, days.
    pub window_days: u32,
    /// Answered queries about borrowers not held, per requester and reason.
    pub probing_threshold: u32,
    /// Days within which an approval query should be followed by lending.
    pub follow_up_days: u32,
    /// Approval queries without lending, per requester and reason.
    pub approval_without_lending_threshold: u32,
}

impl Default for OversightConfig {
    fn default() -> Self {
        Self {
            window_days: 30,
            probing_threshold: 20,
            follow_up_days: 90,
            approval_without_lending_threshold: 10,
        }
    }
}

/// A pattern watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    Probing,
    ApprovalWithoutLending,
}

/// One peer query a holder decided.
#[derive(Debug, Clone)]
pub struct QueryEvent {
    pub time_ms: i64,
    pub requester: String,
    pub purpose: Purpose,
    pub borrower: Vec<u8>,
    pub answered: bool,
    /// Whether the holder held anything about the borrower.
    pub held: bool,
}

/// A flag in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub requester: String,
    pub purpose: Purpose,
    pub pattern: Pattern,
    pub count: u64,
    pub threshold: u32,
    pub window_days: u32,
    pub raised_at_ms: i64,
}

type FlagKey = (String, Purpose, Pattern);

/// The counting state of one holder.
#[derive(Debug, Default)]
pub struct Oversight {
    config: OversightConfig,
    /// Answered queries about borrowers not held: (time, requester, reason).
    probes: VecDeque<(i64, String, Purpose)>,
    /// Approval queries: (time, requester, reason, borrower).
    approvals: VecDeque<(i64, String, Purpose, Vec<u8>)>,
    /// Post-loan query times per (requester, borrower).
    post_loan: HashMap<(String, Vec<u8>), Vec<i64>>,
    /// Flags raised (and logged) and still in force.
    raised: BTreeMap<FlagKey, Flag>,
}

impl Oversight {
    pub fn new(config: OversightConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    /// Takes in one query (events arrive in time order).
    pub fn observe(&mut self, e: &QueryEvent) {
        if e.answered && !e.held {
            self.probes
                .push_back((e.time_ms, e.requester.clone(), e.purpose));
        }
        if e.purpose.is_approval() {
            self.approvals.push_back((
                e.time_ms,
                e.requester.clone(),
                e.purpose,
                e.borrower.clone(),
            ));
        }
        if e.purpose == Purpose::PostLoanManagement {
            self.post_loan
                .entry((e.requester.clone(), e.borrower.clone()))
                .or_default()
                .push(e.time_ms);
        }
        self.prune(e.time_ms);
    }

    /// Restores a flag found in the log (it was logged when raised).
    pub fn restore(&mut self, flag: Flag) {
        let key = (flag.requester.clone(), flag.purpose, flag.pattern);
        self.raised.insert(key, flag);
    }

    /// Counts at `now_ms`: returns the flags newly raised (to be logged)
    /// and clears those whose count fell below the threshold.
    pub fn evaluate(&mut self, now_ms: i64) -> Vec<Flag> {
        self.prune(now_ms);
        let counts = self.counts(now_ms);
        self.raised.retain(|key, _| counts.contains_key(key));
        let mut new = Vec::new();
        for (key, count) in counts {
            if let Some(flag) = self.raised.get_mut(&key) {
                flag.count = count;
                continue;
            }
            let flag = Flag {
                requester: key.0.clone(),
                purpose: key.1,
                pattern: key.2,
                count,
                threshold: self.threshold(key.2),
                window_days: self.config.window_days,
                raised_at_ms: now_ms,
            };
            self.raised.insert(key, flag.clone());
            new.push(flag);
        }
        new
    }

    /// Flags in force, by requester, reason and pattern.
    pub fn flags(&self) -> Vec<Flag> {
        self.raised.values().cloned().collect()
    }

    fn threshold(&self, pattern: Pattern) -> u32 {
        match pattern {
            Pattern::Probing => self.config.probing_threshold,
            Pattern::ApprovalWithoutLending => self.config.approval_without_lending_threshold,
        }
    }

    /// Counts at or above their threshold, per flag key.
    fn counts(&self, now_ms: i64) -> BTreeMap<FlagKey, u64> {
        let mut counts: BTreeMap<FlagKey, u64> = BTreeMap::new();
        for (_, requester, purpose) in &self.probes {
            *counts
                .entry((requester.clone(), *purpose, Pattern::Probing))
                .or_default() += 1;
        }
        let follow_up = i64::from(self.config.follow_up_days) * MS_PER_DAY;
        let window = i64::from(self.config.window_days) * MS_PER_DAY;
        for (t, requester, purpose, borrower) in &self.approvals {
            let matured = t + follow_up;
            if matured > now_ms || matured < now_ms - window {
                continue;
            }
            let followed = self
                .post_loan
                .get(&(requester.clone(), borrower.clone()))
                .is_some_and(|times| times.iter().any(|p| p > t && *p <= matured));
            if !followed {
                *counts
                    .entry((requester.clone(), *purpose, Pattern::ApprovalWithoutLending))
                    .or_default() += 1;
            }
        }
        counts.retain(|key, count| {
            let threshold = self.threshold(key.2);
            threshold > 0 && *count >= u64::from(threshold)
        });
        counts
    }

    /// Drops what no count can use any more.
    fn prune(&mut self, now_ms: i64) {
        let window = i64::from(self.config.window_days) * MS_PER_DAY;
        let keep_approvals = window + i64::from(self.config.follow_up_days) * MS_PER_DAY;
        while self.probes.front().is_some_and(|p| p.0 < now_ms - window) {
            self.probes.pop_front();
        }
        while self
            .approvals
            .front()
            .is_some_and(|a| a.0 < now_ms - keep_approvals)
        {
            self.approvals.pop_front();
        }
        self.post_loan.retain(|_, times| {
            times.retain(|t| *t >= now_ms - keep_approvals);
            !times.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(day: i64, requester: &str, purpose: Purpose, borrower: u8, held: bool) -> QueryEvent {
        QueryEvent {
            time_ms: day * MS_PER_DAY,
            requester: requester.into(),
            purpose,
            borrower: vec![borrower; 32],
            answered: true,
            held,
        }
    }

    fn config() -> OversightConfig {
        OversightConfig {
            window_days: 30,
            probing_threshold: 3,
            follow_up_days: 90,
            approval_without_lending_threshold: 2,
        }
    }

    #[test]
    fn probing_is_flagged_once_then_clears_after_the_window() {
        let mut o = Oversight::new(config());
        let plm = Purpose::PostLoanManagement;
        for (day, borrower) in [(1, 1), (2, 2)] {
            o.observe(&event(day, "BANK-A", plm, borrower, false));
            assert!(o.evaluate(day * MS_PER_DAY).is_empty());
        }
        // Held borrowers and other requesters do not count.
        o.observe(&event(3, "BANK-A", plm, 9, true));
        o.observe(&event(3, "BANK-C", plm, 3, false));
        assert!(o.evaluate(3 * MS_PER_DAY).is_empty());
        o.observe(&event(4, "BANK-A", plm, 4, false));
        let raised = o.evaluate(4 * MS_PER_DAY);
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].pattern, Pattern::Probing);
        assert_eq!(
            (raised[0].requester.as_str(), raised[0].count),
            ("BANK-A", 3)
        );
        // Raised once.
        o.observe(&event(5, "BANK-A", plm, 5, false));
        assert!(o.evaluate(5 * MS_PER_DAY).is_empty());
        assert_eq!(o.flags()[0].count, 4);
        // 30 days after the second probe, only two remain: cleared.
        assert!(o.evaluate(33 * MS_PER_DAY).is_empty());
        assert!(o.flags().is_empty());
    }

    #[test]
    fn approvals_without_lending_are_flagged_after_the_follow_up() {
        let mut o = Oversight::new(config());
        let loan = Purpose::LoanApproval;
        o.observe(&event(0, "BANK-A", loan, 1, true));
        o.observe(&event(1, "BANK-A", loan, 2, true));
        o.observe(&event(2, "BANK-A", loan, 3, true));
        // Borrower 3 is lent to: a post-loan query within 90 days.
        o.observe(&event(50, "BANK-A", Purpose::PostLoanManagement, 3, true));
        assert!(o.evaluate(89 * MS_PER_DAY).is_empty());
        let raised = o.evaluate(91 * MS_PER_DAY);
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].pattern, Pattern::ApprovalWithoutLending);
        assert_eq!(raised[0].purpose, loan);
        assert_eq!(raised[0].count, 2);
        // Not counted once matured beyond the window.
        assert!(o.evaluate(125 * MS_PER_DAY).is_empty());
        assert!(o.flags().is_empty());
    }

    #[test]
    fn a_zero_threshold_turns_a_pattern_off() {
        let mut o = Oversight::new(OversightConfig {
            probing_threshold: 0,
            ..config()
        });
        for day in 0..10 {
            o.observe(&event(
                day,
                "BANK-A",
                Purpose::LoanApproval,
                day as u8,
                false,
            ));
        }
        assert!(o.evaluate(10 * MS_PER_DAY).is_empty());
    }
}
