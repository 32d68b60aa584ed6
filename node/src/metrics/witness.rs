//! Witnessing metrics, both sides (docs/protocol.md §13): as a witness of
//! peers' logs, and as a log that peers witness.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::PeerLabel;

/// One witness submission's outcome: `cosigned`, `refused`, `failed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WitnessLabels {
    pub witness: String,
    pub outcome: String,
}

/// Witnessing, both sides (docs/protocol.md §13).
#[derive(Debug, Default)]
pub struct WitnessMetrics {
    /// As a witness: cosignatures issued since start.
    pub cosigned: Counter,
    /// As a witness: evidence entries logged (the store's count).
    pub evidence: Gauge,
    /// As a log: submissions to each witness by outcome.
    pub submissions: Family<WitnessLabels, Counter>,
    /// As a log: the size each witness cosigned last.
    pub cosigned_size: Family<PeerLabel, Gauge>,
    /// As a log: entries a witness cosigned that the log no longer holds.
    pub missing_entries: Gauge,
}

impl WitnessMetrics {
    /// Registers the witnessing families in `r`.
    pub(super) fn register(&self, r: &mut Registry) {
        let w = self;
        r.register(
            "witness_cosignatures",
            "Checkpoints of peers' logs this node cosigned as their witness",
            w.cosigned.clone(),
        );
        r.register(
            "witness_evidence_entries",
            "Conflicts of peers' logs this node logged as evidence (WitnessEvidenceEntry); above 0 is an alarm",
            w.evidence.clone(),
        );
        r.register(
            "witness_submissions",
            "Checkpoints of this node's log submitted to each witness, by outcome",
            w.submissions.clone(),
        );
        r.register(
            "witness_cosigned_size",
            "Size of this node's log each witness cosigned last",
            w.cosigned_size.clone(),
        );
        r.register(
            "log_missing_entries",
            "Entries of this node's log a witness cosigned that the log no longer holds; above 0 is an alarm",
            w.missing_entries.clone(),
        );
    }
}
