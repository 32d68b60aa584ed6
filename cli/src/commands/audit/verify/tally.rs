//! What a verified log holds: its entries counted by kind, the signer key
//! in force and the declared epoch breaks (restores from a backup).

use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

/// Entries by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LogTally {
    pub peer_queries_answered: u64,
    pub peer_queries_denied: u64,
    pub outgoing_queries: u64,
    pub consent_events: u64,
    pub record_batches: u64,
    pub admin_mutations: u64,
    pub signer_keys: u64,
    pub oversight_flags: u64,
    pub annotations: u64,
    pub retention_sweeps: u64,
    pub borrower_reports: u64,
    /// Aggregated entries of rate-limited calls (one per peer per minute).
    pub rate_limited_windows: u64,
    /// Conflicting checkpoints this node saw as a witness of a peer's log.
    pub witness_evidence: u64,
    /// Entries of a discovery service's log: evaluations, lookups and
    /// directory changes (refused ones included).
    pub discovery: u64,
    pub other: u64,
    /// The key id of the newest `SignerKeyEntry`: the key in force.
    #[serde(skip)]
    pub last_signer_key: Option<String>,
    /// Declared epoch breaks (restores from a backup), in log order.
    pub epoch_breaks: Vec<EpochBreak>,
}

/// A `LogEpochEntry`: where a new epoch starts and what it says was lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct EpochBreak {
    pub index: u64,
    pub epoch: u32,
    pub restored_size: u64,
    pub statement: String,
}

impl EpochBreak {
    pub(super) fn describe(&self) -> String {
        format!(
            "at entry {}: epoch {} begins (declared, signed): {}",
            self.index, self.epoch, self.statement
        )
    }
}

impl LogTally {
    pub(crate) fn count(&mut self, index: u64, entry: &pb::LogEntry) {
        let counter = match &entry.kind {
            Some(Kind::PeerQuery(q)) if q.decision == pb::Decision::Denied as i32 => {
                &mut self.peer_queries_denied
            }
            Some(Kind::PeerQuery(_)) => &mut self.peer_queries_answered,
            Some(Kind::OutgoingQuery(_)) => &mut self.outgoing_queries,
            Some(Kind::Consent(_)) => &mut self.consent_events,
            Some(Kind::RecordBatch(_)) => &mut self.record_batches,
            Some(Kind::Admin(_)) => &mut self.admin_mutations,
            Some(Kind::OversightFlag(_)) => &mut self.oversight_flags,
            Some(Kind::Annotation(_)) => &mut self.annotations,
            Some(Kind::RetentionSweep(_)) => &mut self.retention_sweeps,
            Some(Kind::BorrowerReport(_)) => &mut self.borrower_reports,
            Some(Kind::RateLimited(_)) => &mut self.rate_limited_windows,
            Some(Kind::WitnessEvidence(_)) => &mut self.witness_evidence,
            Some(
                Kind::DiscoveryEvaluation(_)
                | Kind::DiscoveryLookup(_)
                | Kind::DiscoveryDirectory(_),
            ) => &mut self.discovery,
            Some(Kind::SignerKey(k)) => {
                self.last_signer_key = Some(k.key_id.clone());
                &mut self.signer_keys
            }
            Some(Kind::Epoch(e)) => {
                self.epoch_breaks.push(EpochBreak {
                    index,
                    epoch: e.epoch,
                    restored_size: e.restored_size,
                    statement: e.statement.clone(),
                });
                return;
            }
            None => &mut self.other,
        };
        *counter += 1;
    }
}
