//! Figures for operators (`Status`, own admins) and peers (`GetNodeInfo`):
//! identity, version, uptime, store and log sizes, group-commit counters
//! and whether each peer is reachable over mTLS.

use credshare_proto::v1 as pb;

use super::Node;
use crate::blocking;
use crate::error::NodeError;

impl Node {
    /// This node's status, with a reachability check of every peer (each
    /// within `federation::PING_TIMEOUT`).
    pub async fn status(&self) -> Result<pb::StatusResponse, NodeError> {
        let store = self.store.clone();
        let (figures, peers) = tokio::join!(
            blocking::run(move || store.figures()),
            self.federation.health()
        );
        let figures = figures?;
        let (disputes_open, disputes_overdue) = self.dispute_counts().await?;
        let (commit_batches, commit_requests) = self.committer.stats();
        let (warnings, storage_fault) = self.warnings();
        let signer = self.signer();
        let readiness = self.readiness();
        let (witness_evidence_against, witness_evidence_entries) = self.witness_evidence().await?;
        let (log_missing_from, log_missing_to) = self.witnessing.missing().unwrap_or_default();
        Ok(pb::StatusResponse {
            witnesses: self.witnessing.views(),
            witness_evidence_against,
            witness_evidence_entries,
            log_missing_from,
            log_missing_to,
            borrower_key_generation: self.key_generation().get(),
            institution_id: self.institution().to_string(),
            version: crate::VERSION.into(),
            uptime_seconds: self.uptime_seconds(),
            peer_institutions: self.peer_institutions(),
            record_count: figures.record_versions,
            borrower_count: figures.borrowers,
            consent_count: figures.consents,
            log_size: figures.log_size,
            store_bytes: figures.bytes_on_disk,
            data_dir: self.config.data_dir.display().to_string(),
            peer_listen: self.addrs.peer.to_string(),
            admin_listen: self.addrs.admin.to_string(),
            peers,
            commit_batches,
            commit_requests,
            warnings,
            storage_fault,
            membership_version: self.membership.version(),
            ready: readiness.is_ok(),
            not_ready_reason: readiness.err().unwrap_or_default(),
            metrics_listen: self
                .addrs
                .metrics
                .map(|a| a.to_string())
                .unwrap_or_default(),
            signer_key_id: signer.key_id().to_owned(),
            signer_not_after_ms: signer
                .not_after()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            reason_counts: self.reason_counts.snapshot(),
            oversight_flags: self.oversight_flags(),
            disputes_open,
            disputes_overdue,
        })
    }

    /// What an operator must act on (trust, membership, a storage fault),
    /// and the storage fault alone (empty when none).
    fn warnings(&self) -> (Vec<String>, String) {
        let now = std::time::SystemTime::now();
        let mut warnings = self.trust.warnings(now);
        warnings.extend(self.trust.refusal(now));
        warnings.extend(self.membership.warnings(now));
        warnings.extend(self.oversight_warning());
        warnings.extend(self.witness_warnings());
        let storage_fault = self
            .committer
            .health()
            .fault()
            .map(|f| f.to_string())
            .unwrap_or_default();
        if !storage_fault.is_empty() {
            warnings.push(storage_fault.clone());
        }
        (warnings, storage_fault)
    }

    /// This node's identity, for any consortium member.
    pub async fn node_info(&self) -> Result<pb::NodeInfo, NodeError> {
        let store = self.store.clone();
        let log_size = blocking::run(move || store.log_size()).await?;
        Ok(pb::NodeInfo {
            institution_id: self.institution().to_string(),
            version: crate::VERSION.into(),
            uptime_seconds: self.uptime_seconds(),
            peer_institutions: self.peer_institutions(),
            log_origin: self.config.log_origin(),
            log_size,
            signer_certificate: self.signer().certificate_der().to_vec(),
            started_at_ms: self.started_at_ms,
            borrower_key_generation: self.key_generation().get(),
        })
    }
}
