//! The node's Prometheus metrics: one registry, the families the use cases
//! and the writer update, and the text encoding served on `/metrics`
//! ([`crate::probes`]). Pure bookkeeping: no I/O, no other module.
//!
//! Counters and histograms are updated where things happen; gauges (log
//! size, record counts, outbox, peers, certificate and CRL expiry, disk)
//! are set by a periodic refresh (`service::health`), so a scrape never
//! scans the store. Labels carry institution ids, purposes, scopes and
//! reason codes only — never a borrower key.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod witness;
pub use witness::{WitnessLabels, WitnessMetrics};

/// One answered or denied peer query.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    pub peer: String,
    pub purpose: String,
    pub scope: String,
    /// `ANSWERED` or `DENIED`.
    pub decision: String,
    /// The denial reason (`REVOKED`, …); empty when answered.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// A discovery service call: `method` (`Evaluate`, `Lookup`, `Register`,
/// `Withdraw`), the calling member, and `outcome` (`ok` or the refusal,
/// e.g. `PURPOSE_BUDGET`, `RECEIPT_USED`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscoveryLabels {
    pub method: String,
    pub member: String,
    pub outcome: String,
}

/// A loaded certificate: `kind` is `ca`, `tls` or `signer`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CertLabels {
    pub kind: String,
    pub subject: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IssuerLabel {
    pub issuer: String,
}

/// The writer's histograms, owned by the storage layer's counters and
/// registered here.
#[derive(Debug, Clone)]
pub struct CommitHistograms {
    /// From a request's hand-over to the writer to its durable answer.
    pub commit_seconds: Histogram,
    /// Requests per durable batch.
    pub batch_requests: Histogram,
    /// Flush + fdatasync of one batch.
    pub fsync_seconds: Histogram,
}

impl Default for CommitHistograms {
    fn default() -> Self {
        Self {
            commit_seconds: Histogram::new(latency_buckets()),
            batch_requests: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            fsync_seconds: Histogram::new(latency_buckets()),
        }
    }
}

/// 100 µs … about 1.6 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 15)
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Progress of the background check of the whole query log
/// (`storage::verify`), registered here.
#[derive(Debug, Clone, Default)]
pub struct LogVerifyGauges {
    /// Entries re-hashed so far.
    pub checked_entries: Gauge,
    /// Entries to check: the log size verified at start-up.
    pub target_entries: Gauge,
    /// 0 running, 1 passed, -1 failed (writes refused), 2 stopped at shutdown.
    pub state: Gauge,
    /// Seconds the check took (set when it ends).
    pub seconds: FloatGauge,
}

/// Every metric of the node.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub queries: Family<QueryLabels, Counter>,
    pub query_seconds: Histogram,
    pub rate_limited: Family<PeerLabel, Counter>,
    pub import_rows: Family<OutcomeLabel, Counter>,
    pub log_entries: Gauge,
    pub records: Gauge,
    pub borrowers: Gauge,
    pub consents: Gauge,
    pub outbox_pending: Family<PeerLabel, Gauge>,
    pub peer_up: Family<PeerLabel, Gauge>,
    pub peer_check_failures: Family<PeerLabel, Counter>,
    pub certificate_expiry: Family<CertLabels, FloatGauge>,
    pub crl_next_update: Family<IssuerLabel, FloatGauge>,
    pub membership_expiry: FloatGauge,
    pub store_bytes: Gauge,
    pub free_bytes: Gauge,
    pub ready: Gauge,
    pub startup_verify_seconds: FloatGauge,
    pub log_verify: LogVerifyGauges,
    /// Discovery service calls and the elements (or pseudonyms) they carried.
    pub discovery_calls: Family<DiscoveryLabels, Counter>,
    pub discovery_elements: Family<DiscoveryLabels, Counter>,
    pub witness: WitnessMetrics,
}

impl Metrics {
    /// A registry with every family; `commit` are the writer's histograms.
    pub fn new(commit: &CommitHistograms) -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("credshare"),
            queries: Family::default(),
            query_seconds: Histogram::new(latency_buckets()),
            rate_limited: Family::default(),
            import_rows: Family::default(),
            log_entries: Gauge::default(),
            records: Gauge::default(),
            borrowers: Gauge::default(),
            consents: Gauge::default(),
            outbox_pending: Family::default(),
            peer_up: Family::default(),
            peer_check_failures: Family::default(),
            certificate_expiry: Family::default(),
            crl_next_update: Family::default(),
            membership_expiry: FloatGauge::default(),
            store_bytes: Gauge::default(),
            free_bytes: Gauge::default(),
            ready: Gauge::default(),
            startup_verify_seconds: FloatGauge::default(),
            log_verify: LogVerifyGauges::default(),
            discovery_calls: Family::default(),
            discovery_elements: Family::default(),
            witness: WitnessMetrics::default(),
        };
        m.register(commit);
        m
    }

    fn register(&mut self, commit: &CommitHistograms) {
        self.register_traffic(commit);
        self.register_store();
        self.register_trust();
        self.register_log_verify();
        self.witness.register(&mut self.registry);
    }

    fn register_traffic(&mut self, commit: &CommitHistograms) {
        let r = &mut self.registry;
        r.register(
            "peer_queries",
            "Peer queries answered or denied, by peer, purpose, scope, decision and denial reason",
            self.queries.clone(),
        );
        r.register(
            "peer_query_duration_seconds",
            "Time to answer or deny a peer query, log entry durable included",
            self.query_seconds.clone(),
        );
        r.register(
            "rate_limited",
            "Peer calls refused by the per-institution rate limit",
            self.rate_limited.clone(),
        );
        r.register(
            "import_rows",
            "Imported rows by outcome (stored, unchanged, rejected)",
            self.import_rows.clone(),
        );
        r.register(
            "discovery_calls",
            "Discovery service calls by method, member and outcome (ok or the refusal)",
            self.discovery_calls.clone(),
        );
        r.register(
            "discovery_elements",
            "Elements evaluated or pseudonyms registered and withdrawn, by method, member and outcome",
            self.discovery_elements.clone(),
        );
        r.register(
            "commit_duration_seconds",
            "Time from hand-over to the writer to a durable answer",
            commit.commit_seconds.clone(),
        );
        r.register(
            "commit_batch_requests",
            "Requests per group-commit batch",
            commit.batch_requests.clone(),
        );
        r.register(
            "commit_fsync_duration_seconds",
            "Flush and fdatasync of one group-commit batch",
            commit.fsync_seconds.clone(),
        );
    }

    fn register_store(&mut self) {
        let r = &mut self.registry;
        r.register(
            "log_entries",
            "Entries in the query log",
            self.log_entries.clone(),
        );
        r.register("records", "Stored record versions", self.records.clone());
        r.register(
            "borrowers",
            "Borrowers with at least one record",
            self.borrowers.clone(),
        );
        r.register("consents", "Consent grants held", self.consents.clone());
        r.register(
            "revocation_outbox_pending",
            "Revocations not yet acknowledged, per peer",
            self.outbox_pending.clone(),
        );
    }

    fn register_trust(&mut self) {
        let r = &mut self.registry;
        r.register(
            "peer_up",
            "1 if the peer answered the last reachability check over mTLS",
            self.peer_up.clone(),
        );
        r.register(
            "peer_check_failures",
            "Failed reachability checks per peer",
            self.peer_check_failures.clone(),
        );
        r.register(
            "certificate_expiry_seconds",
            "Seconds until each loaded certificate expires (negative: expired)",
            self.certificate_expiry.clone(),
        );
        r.register(
            "crl_next_update_seconds",
            "Seconds until each CRL's nextUpdate (negative: past it)",
            self.crl_next_update.clone(),
        );
        r.register(
            "membership_expiry_seconds",
            "Seconds until the membership manifest in force expires (absent without one)",
            self.membership_expiry.clone(),
        );
        r.register(
            "store_bytes",
            "Size of the store on disk",
            self.store_bytes.clone(),
        );
        r.register(
            "store_free_bytes",
            "Free space on the data directory's file system",
            self.free_bytes.clone(),
        );
        r.register("ready", "1 while /readyz answers 200", self.ready.clone());
    }

    fn register_log_verify(&mut self) {
        let r = &mut self.registry;
        r.register(
            "startup_verify_seconds",
            "Time the start-up check of the query log's newest part took",
            self.startup_verify_seconds.clone(),
        );
        let v = &self.log_verify;
        r.register(
            "log_verify_checked_entries",
            "Entries the background check of the whole query log has re-hashed",
            v.checked_entries.clone(),
        );
        r.register(
            "log_verify_target_entries",
            "Entries the background check covers (the log size at start-up)",
            v.target_entries.clone(),
        );
        r.register(
            "log_verify_state",
            "Background log check: 0 running, 1 passed, -1 failed (writes refused), 2 stopped",
            v.state.clone(),
        );
        r.register(
            "log_verify_duration_seconds",
            "Time the background check of the whole query log took",
            v.seconds.clone(),
        );
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn encodes_every_family_with_its_prefix() {
        let m = Metrics::new(&CommitHistograms::default());
        let labels = QueryLabels {
            peer: "BANK-B".into(),
            purpose: "POST_LOAN_MANAGEMENT".into(),
            scope: "SUMMARY".into(),
            decision: "DENIED".into(),
            reason: "REVOKED".into(),
        };
        m.queries.get_or_create(&labels).inc();
        m.log_entries.set(7);
        let text = m.encode();
        assert!(
            text.contains("credshare_peer_queries_total{peer=\"BANK-B\""),
            "{text}"
        );
        assert!(text.contains("reason=\"REVOKED\"} 1"), "{text}");
        assert!(text.contains("credshare_log_entries 7"), "{text}");
        assert!(
            text.contains("credshare_commit_fsync_duration_seconds_bucket"),
            "{text}"
        );
        m.witness.evidence.set(2);
        m.witness.missing_entries.set(3);
        let text = m.encode();
        assert!(
            text.contains("credshare_witness_evidence_entries 2"),
            "{text}"
        );
        assert!(text.contains("credshare_log_missing_entries 3"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
