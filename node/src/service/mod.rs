//! The node's use cases and the state they share.
//!
//! [`Node`] is the state: configuration, store and its single writer, keys,
//! peers and in-memory caches, built once by [`Node::new`] and shared
//! (`Arc`) by every gRPC service. Its behaviour lives in one file per use
//! case, each an `impl Node` block; none of them is imported back here.
//!
//! | method | use case | file |
//! |---|---|---|
//! | [`Node::answer_query`] | answer a peer's consented query (holder side) | [`answer`] |
//! | [`Node::assess`] | assess a borrower across peers (requester side) | [`assess`] |
//! | [`Node::issue_consent`], [`Node::revoke_consent`], [`Node::list_consents`] | consents this institution holds | [`consents`] |
//! | [`Node::receive_revocation`], [`Node::purge_expired_revocations`] | revocations received as a holder, bounded and purged | [`revocations`] |
//! | [`Node::log_refusals`], [`Node::spawn_upkeep`] | rate-limited calls logged once per peer per interval | [`refused`] |
//! | [`Node::deliver_outbox`], [`Node::spawn_delivery`] | push revocations to peers until acknowledged | [`delivery`] |
//! | [`Node::import`], [`Node::put_record`], [`Node::borrower_records`] | validate, sign and store records | [`ingest`] |
//! | [`Node::open_dispute`], [`Node::resolve_dispute`], [`Node::list_disputes`], [`Node::annotate`], [`Node::dispute_counts`] | disputes and annotations of this node's records | [`disputes`] |
//! | [`Node::query_history`] | who asked about a borrower | [`history`] |
//! | [`Node::due_visits`] | post-loan visits due | [`visits`] |
//! | [`Node::checkpoint`], [`Node::log_entries`], [`Node::inclusion_proof`], [`Node::consistency_proof`] | serve a regulator's audit of the log | [`audit_log`] |
//! | [`Node::watch_query`], [`Node::oversight_flags`], [`Node::oversight_report`] | count query patterns, raise and log flags | [`oversight`] |
//! | [`Node::retention_sweep`], [`Node::spawn_retention`], [`Node::on_legal_hold`] | delete expired negative information; legal holds | [`retention`] |
//! | [`Node::borrower_report`] | the borrower's own report | [`report`] |
//! | [`Node::status`], [`Node::node_info`] | figures for operators and peers | [`status`] |
//! | [`Node::backup`] | a consistent online backup of the store | [`backup`] |
//! | [`Node::readiness`] | whether the node should receive traffic (`/readyz`, gRPC health) | [`health`] |
//! | [`Node::refresh_metrics`], [`Node::spawn_metrics_refresh`] | set the metrics gauges on a timer | [`observe`] |
//! | [`Node::reload_trust`], [`Node::spawn_trust_watcher`] | take in new CRLs, certificates and signer keys while running | [`trust`] |
//! | [`Node::add_checkpoint`], [`Node::witnessed_checkpoint`], [`Node::witness_evidence`] | witness peers' logs: cosign, refuse and keep evidence | [`witness`] |
//! | [`Node::spawn_witnessing`], [`Node::submit_to_witnesses`] | have this log cosigned by its peers; the newest cosigned checkpoint for receipts | [`witnessing`] |
//! | `Node::spawn_every` | the loop behind the periodic background passes | `periodic` |
//!
//! The caches that keep the peer-query path off the store are in [`caches`];
//! the per-reason query counters `Status` shows in [`reason_counts`].

pub mod answer;
pub mod assess;
pub mod audit_log;
pub mod backup;
pub mod caches;
pub mod consents;
pub mod delivery;
pub mod disputes;
pub mod health;
pub mod history;
pub mod ingest;
pub mod membership;
pub mod observe;
pub mod oversight;
mod periodic;
pub mod reason_counts;
pub mod refused;
pub mod report;
pub mod retention;
pub mod revocations;
pub mod status;
pub mod trust;
pub mod visits;
pub mod witness;
pub mod witnessing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::NodeConfig;
use crate::domain::borrower::KeyGeneration;
use crate::error::NodeError;
use crate::federation::Federation;
use crate::membership::Membership;
use crate::metrics::Metrics;
use crate::pki::InstitutionId;
use crate::signing::{SignatureVerifier, Signer};
use crate::storage::{Committer, StorageError, Store};
use crate::trust::Trust;
use caches::{GrantCache, IndicatorCache, RateLimiter, RevocationSet};

/// Who acts on this node: the caller's identity (`admin:BANK-A`) and the
/// officer its certificate names, empty for none (Regulation art. 22:
/// every staff query registered with the person). Logged with each action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub identity: String,
    pub officer: String,
}

/// Addresses the node actually serves on (written to the ready file).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct BoundAddrs {
    pub peer: SocketAddr,
    pub admin: SocketAddr,
    /// The plain-HTTP metrics and probe listener, if enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
    /// The discovery service's listener, on the regulator's discovery node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<SocketAddr>,
}

/// Everything a use case may need. Cheap to share (`Arc`).
pub struct Node {
    pub config: Arc<NodeConfig>,
    /// Read side of the sled store (writes go through `committer`).
    pub store: Store,
    /// The single writer: every durable write goes through it.
    pub committer: Committer,
    /// The CA certificates, CRLs, TLS identity and signer in force now;
    /// reloaded while the node runs ([`trust`]).
    pub trust: Arc<Trust>,
    /// Clients of the configured peers.
    pub federation: Federation,
    /// Where the node actually listens.
    pub addrs: BoundAddrs,
    /// Verified consent grants, by envelope hash.
    grants: GrantCache,
    /// Every revocation this node holds.
    revocations: RevocationSet,
    /// SUMMARY indicators per borrower for today.
    pub(crate) indicators: IndicatorCache,
    /// Per-requester token buckets.
    limiter: RateLimiter,
    /// Peer queries per reason since start.
    reason_counts: reason_counts::ReasonCounts,
    /// Query-pattern counts and flags, rebuilt from the log in the
    /// background from start-up on.
    oversight: std::sync::Mutex<crate::domain::oversight::rebuild::Tracker>,
    /// Calls refused by `limiter`, logged in aggregate ([`refused`]).
    refusals: refused::RefusalTally,
    /// When the node started serving (for uptime).
    started: Instant,
    /// The same, as Unix ms (peers detect restarts by it).
    started_at_ms: i64,
    /// Each peer's start time as last seen, to re-announce revocations to
    /// peers met for the first time or restarted ([`delivery`]).
    peers_seen: caches::PeersSeen,
    /// The consortium membership manifest in force, if configured.
    pub membership: Arc<Membership>,
    /// Prometheus metrics (`/metrics`).
    pub metrics: Arc<Metrics>,
    /// As a witness: one lock per peer log, check and update in one step.
    witness_locks: witness::WitnessLocks,
    /// As a log: what each witness cosigned, the newest cosigned checkpoint.
    pub(crate) witnessing: witnessing::WitnessBook,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("institution", &self.config.institution)
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Assembles the state from opened parts; loads the stored revocations
    /// (one prefix scan). Blocking: call from a blocking context.
    pub fn new(
        config: Arc<NodeConfig>,
        store: Store,
        committer: Committer,
        trust: Arc<Trust>,
        federation: Federation,
        membership: Arc<Membership>,
        addrs: BoundAddrs,
    ) -> Result<Self, StorageError> {
        let revocations = RevocationSet::load(&store)?;
        // Rebuilt after the node serves (`spawn_oversight_rebuild`).
        let oversight =
            crate::domain::oversight::rebuild::Tracker::rebuilding(committer.latest().size);
        let metrics = Arc::new(Metrics::new(committer.histograms()));
        Ok(Self {
            config,
            store,
            committer,
            trust,
            federation,
            addrs,
            grants: GrantCache::default(),
            revocations,
            indicators: IndicatorCache::default(),
            limiter: RateLimiter::default(),
            reason_counts: Default::default(),
            oversight: std::sync::Mutex::new(oversight),
            refusals: refused::RefusalTally::default(),
            started: Instant::now(),
            started_at_ms: crate::domain::dates::now_ms(),
            peers_seen: caches::PeersSeen::default(),
            membership,
            metrics,
            witness_locks: Default::default(),
            witnessing: Default::default(),
        })
    }

    /// The institution's signing key in use (records, consents).
    pub fn signer(&self) -> Arc<Signer> {
        self.trust.signer()
    }

    /// Verifies every signature received, against the CA and CRLs in force.
    pub fn verifier(&self) -> Arc<SignatureVerifier> {
        self.trust.verifier()
    }

    pub fn institution(&self) -> &InstitutionId {
        &self.config.institution
    }

    /// The borrower key generation this node serves (`[borrower_keys]`):
    /// records, grants and peer queries of another are refused.
    pub fn key_generation(&self) -> KeyGeneration {
        self.config.borrower_keys.generation
    }

    /// Refuses a key of wire generation `sent` unless it is the one served
    /// (`INVALID_ARGUMENT` naming both; nothing changes).
    pub fn check_generation(&self, sent: u32) -> Result<(), NodeError> {
        self.key_generation()
            .check(sent)
            .map_err(|e| NodeError::invalid("key_generation", e.to_string()))
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Whether `institution` is a member of the federation this node is
    /// in: in the membership manifest in force, or (without one) among the
    /// configured peers.
    pub fn is_member(&self, institution: &InstitutionId) -> bool {
        if institution == self.institution() {
            return true;
        }
        match self.membership.current() {
            Some(m) => m
                .body
                .members
                .iter()
                .any(|x| x.institution_id == institution.as_str()),
            None => self.federation.get(institution).is_some(),
        }
    }

    /// The witness quorum a peer's receipt must meet (`witness.quorum`,
    /// by default 1 from three members on).
    pub fn witness_quorum(&self) -> u32 {
        self.config
            .witness
            .quorum_for(self.federation.peers().len() + 1)
    }

    /// Institution ids of the configured peers.
    pub fn peer_institutions(&self) -> Vec<String> {
        self.config
            .peers
            .iter()
            .map(|p| p.institution.to_string())
            .collect()
    }
}
