//! The node's shared state: configuration, store, keys and peers, built once
//! at start-up and shared by every service.

use std::sync::Arc;
use std::time::Instant;

use crate::config::NodeConfig;
use crate::federation::Federation;
use crate::pki::InstitutionId;
use crate::server::BoundAddrs;
use crate::signing::{SignatureVerifier, Signer};
use crate::storage::{Committer, Store};

/// Everything a request handler may need. Cheap to share (`Arc`).
pub struct Node {
    pub config: Arc<NodeConfig>,
    pub store: Store,
    /// The single writer: every durable write goes through it.
    pub committer: Committer,
    /// The institution's signing key (records, consents, checkpoints).
    pub signer: Arc<Signer>,
    /// Verifies every signature received, against the CA and CRLs.
    pub verifier: Arc<SignatureVerifier>,
    pub federation: Federation,
    /// Where the node actually listens.
    pub addrs: BoundAddrs,
    pub(crate) grants: crate::query::GrantCache,
    pub(crate) revocations: crate::caches::RevocationSet,
    pub(crate) indicators: crate::caches::IndicatorCache,
    pub(crate) limiter: crate::query::RateLimiter,
    started: Instant,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("institution", &self.config.institution)
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

/// What [`Node::new`] is built from (see `server::serve`).
pub struct NodeParts {
    pub config: Arc<NodeConfig>,
    pub store: Store,
    pub committer: Committer,
    pub signer: Arc<Signer>,
    pub verifier: Arc<SignatureVerifier>,
    pub federation: Federation,
    pub addrs: BoundAddrs,
    pub revocations: crate::caches::RevocationSet,
}

impl Node {
    pub fn new(parts: NodeParts) -> Self {
        Self {
            config: parts.config,
            store: parts.store,
            committer: parts.committer,
            signer: parts.signer,
            verifier: parts.verifier,
            federation: parts.federation,
            addrs: parts.addrs,
            grants: Default::default(),
            revocations: parts.revocations,
            indicators: Default::default(),
            limiter: Default::default(),
            started: Instant::now(),
        }
    }

    pub fn institution(&self) -> &InstitutionId {
        &self.config.institution
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
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
