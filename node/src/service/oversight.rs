//! Query-pattern oversight at the holder (docs/domain.md "Query-pattern
//! oversight"): every decided peer query is counted
//! ([`crate::domain::oversight`]); a flag is logged once, when raised
//! (`OversightFlagEntry`), shown in `Status` and served to regulators
//! (`AuditService.GetOversightReport`). The counts are rebuilt from the log
//! in the background after the node serves ([`Node::spawn_oversight_rebuild`],
//! [`crate::domain::oversight::rebuild`]): start-up does not grow with the
//! log. Until the rebuild is done, queries are counted by it (they are in
//! the log), `Status` warns "oversight counts rebuilding" and the report is
//! refused.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use credshare_proto::v1 as pb;
use prost::Message;
use tokio::sync::watch;

use super::Node;
use crate::blocking;
use crate::domain::Purpose;
use crate::domain::dates::now_ms;
use crate::domain::oversight::rebuild::{Logged, Rebuild, Tracker};
use crate::domain::oversight::{Flag, Pattern, QueryEvent};
use crate::error::NodeError;
use crate::storage::{CommitRequest, LogAppend, StorageError, Store};

/// The rebuild reads the log without the tracker's lock until at most this
/// many entries remain, then reads those under it (live queries wait).
const LOCKED_TAIL: u64 = 1024;
/// Entries read between two progress updates (and checks for shutdown).
const CHUNK: u64 = 65_536;
/// How often the rebuild logs its progress.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl Node {
    /// Counts a query this node just decided and logged at `index`, and
    /// logs every flag it raises. A failure to log a flag is reported, not
    /// returned: the query's answer is already durable.
    pub(crate) async fn watch_query(&self, entry: &pb::PeerQueryEntry, time_ms: i64, index: u64) {
        let event = query_event(entry, time_ms);
        let raised = self.tracker().live(index, event.as_ref(), time_ms);
        self.log_flags(raised).await;
    }

    async fn log_flags(&self, raised: Vec<Flag>) {
        if raised.is_empty() {
            return;
        }
        let log = raised
            .iter()
            .map(|flag| {
                tracing::warn!(
                    requester = %flag.requester,
                    purpose = %flag.purpose.label(),
                    pattern = ?flag.pattern,
                    count = flag.count,
                    "oversight flag raised"
                );
                LogAppend {
                    entry: pb::LogEntry {
                        time_ms: flag.raised_at_ms,
                        kind: Some(pb::log_entry::Kind::OversightFlag(pb::OversightFlagEntry {
                            flag: Some(flag_to_wire(flag)),
                        })),
                    },
                    query_index: None,
                }
            })
            .collect();
        let request = CommitRequest {
            log,
            ..Default::default()
        };
        if let Err(e) = self.committer.commit(request).await {
            tracing::error!(error = %e, "oversight flag could not be logged");
        }
    }

    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.oversight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The flags in force (none while the counts are rebuilt).
    pub fn oversight_flags(&self) -> Vec<pb::OversightFlag> {
        let flags = self.tracker().flags().unwrap_or_default();
        flags.iter().map(flag_to_wire).collect()
    }

    /// Why the flags are not known yet, if they are not.
    pub fn oversight_warning(&self) -> Option<String> {
        self.tracker().warning()
    }

    /// The regulator's report of this node; refused until the counts are
    /// rebuilt (an empty report would claim there is no flag).
    pub fn oversight_report(&self) -> Result<pb::OversightReport, NodeError> {
        let flags = {
            let tracker = self.tracker();
            let Some(flags) = tracker.flags() else {
                let why = tracker.warning().unwrap_or_default();
                return Err(NodeError::FailedPrecondition(format!("{why}; retry later")));
            };
            flags
        };
        Ok(pb::OversightReport {
            institution_id: self.institution().to_string(),
            generated_at_ms: now_ms(),
            flags: flags.iter().map(flag_to_wire).collect(),
        })
    }

    /// Rebuilds the counts from the log on a task of its own, then logs
    /// the flags raised by the queries decided meanwhile. Stops at `stop`.
    pub fn spawn_oversight_rebuild(self: &Arc<Self>, stop: watch::Receiver<bool>) {
        let node = self.clone();
        tokio::spawn(async move {
            let rebuilding = node.clone();
            let done = blocking::run(move || rebuilding.rebuild_counts(&stop)).await;
            match done {
                Ok(Some(raised)) => node.log_flags(raised).await,
                Ok(None) => tracing::info!("oversight rebuild stopped at shutdown"),
                Err(e) => node.rebuild_failed(e.to_string()),
            }
        });
    }

    fn rebuild_failed(&self, reason: String) {
        tracing::error!(error = %reason, "oversight counts could not be rebuilt");
        *self.tracker() = Tracker::Failed(reason);
    }

    /// Reads the log into a [`Rebuild`] (its last part under the lock) and
    /// hands it to the tracker; `None` when stopped or already live.
    fn rebuild_counts(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<Vec<Flag>>, StorageError> {
        let Some(live_from) = self.tracker().live_from() else {
            return Ok(None);
        };
        let mut rebuild = Rebuild::new(self.config.oversight.clone(), live_from);
        let started = Instant::now();
        let mut logged = started;
        loop {
            let size = self.store.log_size()?;
            if size.saturating_sub(rebuild.next()) <= LOCKED_TAIL {
                break;
            }
            let end = size.min(rebuild.next() + CHUNK);
            read_log(&self.store, &mut rebuild, end)?;
            self.tracker().progress(rebuild.next(), size);
            if *stop.borrow() {
                return Ok(None);
            }
            if logged.elapsed() >= PROGRESS_LOG_INTERVAL {
                logged = Instant::now();
                tracing::info!(read = rebuild.next(), size, "oversight rebuild progress");
            }
        }
        let mut tracker = self.tracker();
        read_log(&self.store, &mut rebuild, self.store.log_size()?)?;
        let read = rebuild.next();
        let raised = tracker.complete(rebuild);
        drop(tracker);
        tracing::info!(
            entries = read,
            live_from,
            raised = raised.len(),
            seconds = started.elapsed().as_secs_f64(),
            "oversight counts rebuilt from the query log; counting live"
        );
        Ok(Some(raised))
    }
}

/// Takes the log's entries from `rebuild.next()` up to `end` in.
fn read_log(store: &Store, rebuild: &mut Rebuild, end: u64) -> Result<(), StorageError> {
    for item in store.log_entries(rebuild.next(), end) {
        let (index, bytes) = item?;
        let logged = match pb::LogEntry::decode(bytes.as_slice()) {
            Ok(entry) => logged(entry),
            Err(_) => Logged::Other,
        };
        rebuild
            .take(index, logged)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    }
    Ok(())
}

fn logged(entry: pb::LogEntry) -> Logged {
    match entry.kind {
        Some(pb::log_entry::Kind::PeerQuery(q)) => Logged::Query {
            time_ms: entry.time_ms,
            event: query_event(&q, entry.time_ms),
        },
        Some(pb::log_entry::Kind::OversightFlag(f)) => {
            match f.flag.as_ref().and_then(flag_from_wire) {
                Some(flag) => Logged::Flag(flag),
                None => Logged::Other,
            }
        }
        _ => Logged::Other,
    }
}

/// The event of a logged peer query; `None` for an unknown reason. A
/// borrower is held when the answer disclosed something.
fn query_event(q: &pb::PeerQueryEntry, time_ms: i64) -> Option<QueryEvent> {
    Some(QueryEvent {
        time_ms,
        requester: q.requester_institution.clone(),
        purpose: Purpose::from_wire(q.purpose)?,
        borrower: q.borrower_key.clone(),
        answered: q.decision == pb::Decision::Answered as i32,
        held: q.disclosed_records > 0,
    })
}

fn pattern_to_wire(p: Pattern) -> pb::OversightPattern {
    match p {
        Pattern::Probing => pb::OversightPattern::Probing,
        Pattern::ApprovalWithoutLending => pb::OversightPattern::ApprovalWithoutLending,
    }
}

fn flag_to_wire(f: &Flag) -> pb::OversightFlag {
    pb::OversightFlag {
        requester_institution: f.requester.clone(),
        purpose: f.purpose.to_wire() as i32,
        pattern: pattern_to_wire(f.pattern) as i32,
        count: f.count,
        threshold: f.threshold,
        window_days: f.window_days,
        raised_at_ms: f.raised_at_ms,
    }
}

fn flag_from_wire(f: &pb::OversightFlag) -> Option<Flag> {
    let pattern = match pb::OversightPattern::try_from(f.pattern).ok()? {
        pb::OversightPattern::Probing => Pattern::Probing,
        pb::OversightPattern::ApprovalWithoutLending => Pattern::ApprovalWithoutLending,
        pb::OversightPattern::Unspecified => return None,
    };
    Some(Flag {
        requester: f.requester_institution.clone(),
        purpose: Purpose::from_wire(f.purpose)?,
        pattern,
        count: f.count,
        threshold: f.threshold,
        window_days: f.window_days,
        raised_at_ms: f.raised_at_ms,
    })
}
