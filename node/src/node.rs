//! The node's shared state: configuration, store, keys and peers, built once
//! at start-up and shared by every service.

use std::sync::Arc;
use std::time::Instant;

use crate::config::NodeConfig;
use crate::federation::Federation;
use crate::pki::InstitutionId;
use crate::server::BoundAddrs;
use crate::storage::Store;

/// Everything a request handler may need. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Node {
    pub config: Arc<NodeConfig>,
    pub store: Store,
    pub federation: Federation,
    /// Where the node actually listens.
    pub addrs: BoundAddrs,
    started: Instant,
}

impl Node {
    pub fn new(config: Arc<NodeConfig>, store: Store, federation: Federation, addrs: BoundAddrs) -> Self {
        Self {
            config,
            store,
            federation,
            addrs,
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
        self.config.peers.iter().map(|p| p.institution.to_string()).collect()
    }
}
