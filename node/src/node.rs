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

/// Everything a request handler may need. Cheap to share (`Arc`); built
/// once by `server::serve`.
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
    /// When the node started serving (for uptime).
    pub(crate) started: Instant,
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
