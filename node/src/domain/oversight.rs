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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::purpose::Purpose;

pub mod rebuild;

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

/// A requester, interned: the consortium's members, a handful of names.
type Requester = Arc<str>;
/// What a pattern counts per: requester and reason.
type CountKey = (Requester, Purpose);

/// An approval query whose follow-up period has not ended.
#[derive(Debug)]
struct Approval {
    time_ms: i64,
    requester: Requester,
    purpose: Purpose,
    borrower: Vec<u8>,
}

/// The counting state of one holder. Every count is kept up to date as
/// events arrive and age out, so [`Oversight::observe`] and
/// [`Oversight::evaluate`] cost O(1) amortized per query (plus the few
/// count keys), not a scan of the window: the node calls both under one
/// lock for every query it answers.
#[derive(Debug, Default)]
pub struct Oversight {
    config: OversightConfig,
    /// Requester names seen (authenticated members only).
    requesters: HashSet<Requester>,
    /// Answered queries about borrowers not held, in time order.
    probes: VecDeque<(i64, CountKey)>,
    /// `probes` counted per key.
    probe_counts: HashMap<CountKey, u64>,
    /// Approval queries still within their follow-up period, in time order.
    pending: VecDeque<Approval>,
    /// Approvals whose follow-up ended without lending: (end, key), in
    /// order of end, while the end is within the window.
    unfollowed: VecDeque<(i64, CountKey)>,
    /// `unfollowed` counted per key.
    unfollowed_counts: HashMap<CountKey, u64>,
    /// Post-loan query times per (requester, borrower), oldest first.
    post_loan: HashMap<(Requester, Vec<u8>), VecDeque<i64>>,
    /// The same queries in time order, to age them out.
    post_loan_order: VecDeque<(i64, (Requester, Vec<u8>))>,
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
        let requester = self.intern(&e.requester);
        if e.answered && !e.held {
            let key = (requester.clone(), e.purpose);
            *self.probe_counts.entry(key.clone()).or_default() += 1;
            self.probes.push_back((e.time_ms, key));
        }
        if e.purpose.is_approval() {
            self.pending.push_back(Approval {
                time_ms: e.time_ms,
                requester: requester.clone(),
                purpose: e.purpose,
                borrower: e.borrower.clone(),
            });
        }
        if e.purpose == Purpose::PostLoanManagement {
            let key = (requester, e.borrower.clone());
            let times = self.post_loan.entry(key.clone()).or_default();
            times.push_back(e.time_ms);
            self.post_loan_order.push_back((e.time_ms, key));
        }
        self.advance(e.time_ms);
    }

    /// Restores a flag found in the log (it was logged when raised).
    pub fn restore(&mut self, flag: Flag) {
        let key = (flag.requester.clone(), flag.purpose, flag.pattern);
        self.raised.insert(key, flag);
    }

    /// Counts at `now_ms`: returns the flags newly raised (to be logged)
    /// and clears those whose count fell below the threshold.
    pub fn evaluate(&mut self, now_ms: i64) -> Vec<Flag> {
        self.advance(now_ms);
        let counts = self.counts();
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

    fn intern(&mut self, name: &str) -> Requester {
        if let Some(known) = self.requesters.get(name) {
            return known.clone();
        }
        let name: Requester = Arc::from(name);
        self.requesters.insert(name.clone());
        name
    }

    /// Counts at or above their threshold, per flag key.
    fn counts(&self) -> BTreeMap<FlagKey, u64> {
        let mut counts = BTreeMap::new();
        for (pattern, per_key) in [
            (Pattern::Probing, &self.probe_counts),
            (Pattern::ApprovalWithoutLending, &self.unfollowed_counts),
        ] {
            let threshold = u64::from(self.threshold(pattern));
            for ((requester, purpose), count) in per_key {
                if threshold > 0 && *count >= threshold {
                    counts.insert((requester.to_string(), *purpose, pattern), *count);
                }
            }
        }
        counts
    }

    /// Moves the counts to `now_ms`: probes leave the window, approvals
    /// whose follow-up period ended are judged (lent to or not), judged
    /// approvals leave the window, and post-loan queries no pending
    /// approval can use are dropped.
    fn advance(&mut self, now_ms: i64) {
        let window = i64::from(self.config.window_days) * MS_PER_DAY;
        let follow_up = i64::from(self.config.follow_up_days) * MS_PER_DAY;
        while let Some((_, key)) = pop_if(&mut self.probes, |p| p.0 < now_ms - window) {
            uncount(&mut self.probe_counts, &key);
        }
        while let Some(a) = pop_if(&mut self.pending, |a| a.time_ms + follow_up <= now_ms) {
            let ended = a.time_ms + follow_up;
            let lending = (a.requester, a.borrower);
            let followed = self
                .post_loan
                .get(&lending)
                .is_some_and(|times| times.iter().any(|p| *p > a.time_ms && *p <= ended));
            if !followed && ended >= now_ms - window {
                let key = (lending.0, a.purpose);
                *self.unfollowed_counts.entry(key.clone()).or_default() += 1;
                self.unfollowed.push_back((ended, key));
            }
        }
        while let Some((_, key)) = pop_if(&mut self.unfollowed, |u| u.0 < now_ms - window) {
            uncount(&mut self.unfollowed_counts, &key);
        }
        // A pending approval is younger than `follow_up`; only later
        // post-loan queries can follow it.
        while let Some((_, key)) = pop_if(&mut self.post_loan_order, |p| p.0 < now_ms - follow_up) {
            if let Some(times) = self.post_loan.get_mut(&key) {
                times.pop_front();
                if times.is_empty() {
                    self.post_loan.remove(&key);
                }
            }
        }
    }
}

/// The front of `queue` when `old` holds for it.
fn pop_if<T>(queue: &mut VecDeque<T>, old: impl Fn(&T) -> bool) -> Option<T> {
    if queue.front().is_some_and(old) {
        queue.pop_front()
    } else {
        None
    }
}

/// Takes one off `key`'s count, dropping the key at zero.
fn uncount(counts: &mut HashMap<CountKey, u64>, key: &CountKey) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
