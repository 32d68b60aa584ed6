//! Calls refused by a rate limit cost no log entry and no log line each:
//! [`RefusalTally`] counts them per peer, and the upkeep task
//! ([`Node::spawn_upkeep`]) writes one `RateLimitedEntry` and one WARN line
//! per peer per interval (`limits.refused_log_interval_seconds`), then
//! purges revocations of expired grants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credshare_proto::v1 as pb;

use super::Node;
use super::periodic::Pass;
use crate::domain::dates::now_ms;
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::storage::{CommitRequest, LogAppend};

/// Which call a rate limit refused.
#[derive(Debug, Clone, Copy)]
pub enum Refused {
    Query,
    Revocation,
}

/// Refused calls per peer since the window started.
#[derive(Debug)]
pub struct RefusalTally {
    inner: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start_ms: i64,
    /// (queries, revocations) per peer.
    counts: HashMap<InstitutionId, (u64, u64)>,
}

impl Default for RefusalTally {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Window {
                start_ms: now_ms(),
                counts: HashMap::new(),
            }),
        }
    }
}

impl RefusalTally {
    /// Counts one refused call. O(1), no allocation after a peer's first.
    pub fn count(&self, who: &InstitutionId, what: Refused) {
        let mut window = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (queries, revocations) = window.counts.entry(who.clone()).or_default();
        match what {
            Refused::Query => *queries += 1,
            Refused::Revocation => *revocations += 1,
        }
    }

    /// Ends the window at `now_ms`: its aggregated entries, one per peer.
    pub fn drain(&self, now_ms: i64) -> Vec<pb::RateLimitedEntry> {
        let mut window = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let start = std::mem::replace(&mut window.start_ms, now_ms);
        let mut entries: Vec<_> = window
            .counts
            .drain()
            .map(|(who, (queries, revocations))| pb::RateLimitedEntry {
                institution: who.to_string(),
                refused_queries: queries,
                refused_revocations: revocations,
                window_start_ms: start,
                window_end_ms: now_ms,
            })
            .collect();
        entries.sort_by(|a, b| a.institution.cmp(&b.institution));
        entries
    }
}

impl Node {
    /// Logs the refusals counted since the last call: one entry and one
    /// WARN line per peer. Returns how many entries.
    pub async fn log_refusals(&self) -> Result<usize, NodeError> {
        let now = now_ms();
        let entries = self.refusals.drain(now);
        if entries.is_empty() {
            return Ok(0);
        }
        for e in &entries {
            tracing::warn!(
                peer = %e.institution,
                refused_queries = e.refused_queries,
                refused_revocations = e.refused_revocations,
                window_s = (e.window_end_ms - e.window_start_ms) / 1000,
                "calls refused by the rate limit"
            );
        }
        let log = entries
            .into_iter()
            .map(|e| LogAppend {
                entry: pb::LogEntry {
                    time_ms: now,
                    kind: Some(pb::log_entry::Kind::RateLimited(e)),
                },
                query_index: None,
            })
            .collect::<Vec<_>>();
        let count = log.len();
        self.committer
            .commit(CommitRequest {
                log,
                ..Default::default()
            })
            .await?;
        Ok(count)
    }

    /// Every `interval` until `stop`: logs refusals, purges revocations of
    /// expired grants. Logs the refusals once more on the way out.
    pub fn spawn_upkeep(
        self: &Arc<Self>,
        interval: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        self.spawn_every(interval, stop, true, |node, pass| async move {
            if let Err(e) = node.log_refusals().await {
                tracing::warn!(error = %e, "logging refused calls failed");
            }
            if pass == Pass::Last {
                return;
            }
            if let Err(e) = node.purge_expired_revocations().await {
                tracing::warn!(error = %e, "purging expired revocations failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_aggregate_per_peer_and_window() {
        let tally = RefusalTally::default();
        let a = InstitutionId::parse("BANK-A").unwrap();
        for _ in 0..1000 {
            tally.count(&a, Refused::Query);
        }
        tally.count(&a, Refused::Revocation);
        let entries = tally.drain(now_ms());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].refused_queries, 1000);
        assert_eq!(entries[0].refused_revocations, 1);
        assert!(tally.drain(now_ms()).is_empty());
    }
}
