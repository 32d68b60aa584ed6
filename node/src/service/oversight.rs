//! Query-pattern oversight at the holder (docs/domain.md "Query-pattern
//! oversight"): every decided peer query is counted
//! ([`crate::domain::oversight`]); a flag is logged once, when raised
//! (`OversightFlagEntry`), shown in `Status` and served to regulators
//! (`AuditService.GetOversightReport`). The counts are rebuilt from the log
//! at start-up ([`rebuild_oversight`]).

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::domain::Purpose;
use crate::domain::dates::now_ms;
use crate::domain::oversight::{Flag, Oversight, OversightConfig, Pattern, QueryEvent};
use crate::storage::{CommitRequest, LogAppend, StorageError, Store};

impl Node {
    /// Counts a query this node just decided and logged, and logs every
    /// flag it raises. A failure to log a flag is reported, not returned:
    /// the query's answer is already durable.
    pub(crate) async fn watch_query(&self, entry: &pb::PeerQueryEntry, time_ms: i64) {
        let raised = {
            let mut oversight = self.oversight.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(event) = query_event(entry, time_ms) {
                oversight.observe(&event);
            }
            oversight.evaluate(time_ms)
        };
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
                        time_ms,
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

    /// The flags in force.
    pub fn oversight_flags(&self) -> Vec<pb::OversightFlag> {
        let oversight = self.oversight.lock().unwrap_or_else(|e| e.into_inner());
        oversight.flags().iter().map(flag_to_wire).collect()
    }

    /// The regulator's report of this node.
    pub fn oversight_report(&self) -> pb::OversightReport {
        pb::OversightReport {
            institution_id: self.institution().to_string(),
            generated_at_ms: now_ms(),
            flags: self.oversight_flags(),
        }
    }
}

/// Rebuilds the counts and the flags in force from the whole log (one
/// scan; blocking). Flags are not re-evaluated here: the next query does,
/// and logs any newly raised.
pub fn rebuild_oversight(
    store: &Store,
    config: &OversightConfig,
) -> Result<Oversight, StorageError> {
    let mut oversight = Oversight::new(config.clone());
    let size = store.log_size()?;
    for item in store.log_entries(0, size) {
        let (_, bytes) = item?;
        let Ok(entry) = pb::LogEntry::decode(bytes.as_slice()) else {
            continue;
        };
        match entry.kind {
            Some(pb::log_entry::Kind::PeerQuery(q)) => {
                if let Some(event) = query_event(&q, entry.time_ms) {
                    oversight.observe(&event);
                }
            }
            Some(pb::log_entry::Kind::OversightFlag(f)) => {
                if let Some(flag) = f.flag.as_ref().and_then(flag_from_wire) {
                    oversight.restore(flag);
                }
            }
            _ => {}
        }
    }
    Ok(oversight)
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
