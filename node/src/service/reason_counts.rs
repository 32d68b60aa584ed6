//! Peer queries per query reason since the node started, for `Status`:
//! answered and denied as holder ([`super::answer`]), sent as requester
//! ([`super::assess`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use credshare_proto::v1 as pb;

use crate::domain::Purpose;

/// What happened to one query, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTally {
    Answered,
    Denied,
    Sent,
}

/// Counters per reason; a query without a known reason is not counted.
#[derive(Debug, Default)]
pub struct ReasonCounts {
    /// answered, denied, sent.
    counts: Mutex<BTreeMap<Purpose, [u64; 3]>>,
}

impl ReasonCounts {
    /// Counts one query (`n` of them for a fan-out).
    pub fn add(&self, purpose: Option<Purpose>, tally: QueryTally, n: u64) {
        let Some(purpose) = purpose else { return };
        let slot = match tally {
            QueryTally::Answered => 0,
            QueryTally::Denied => 1,
            QueryTally::Sent => 2,
        };
        // A poisoned lock only means a panic elsewhere mid-increment; the
        // figures stay usable.
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.entry(purpose).or_default()[slot] += n;
    }

    /// The figures in code order.
    pub fn snapshot(&self) -> Vec<pb::ReasonCount> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|(p, [answered, denied, sent])| pb::ReasonCount {
                purpose: p.to_wire() as i32,
                answered: *answered,
                denied: *denied,
                sent: *sent,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_reason_in_code_order() {
        let c = ReasonCounts::default();
        c.add(Some(Purpose::FinancingApproval), QueryTally::Sent, 2);
        c.add(Some(Purpose::PostLoanManagement), QueryTally::Answered, 1);
        c.add(Some(Purpose::PostLoanManagement), QueryTally::Denied, 1);
        c.add(None, QueryTally::Denied, 1);
        let s = c.snapshot();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].purpose, 1);
        assert_eq!((s[0].answered, s[0].denied, s[0].sent), (1, 1, 0));
        assert_eq!(s[1].purpose, 24);
        assert_eq!(s[1].sent, 2);
    }
}
