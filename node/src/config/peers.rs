//! `[[peers]]`: the other nodes this node queries and notifies.

use serde::{Deserialize, Serialize};

use crate::pki::InstitutionId;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub institution: InstitutionId,
    /// `host:port` of the peer's peer listener.
    pub address: String,
    /// TLS server name to verify; defaults to the host of `address`.
    #[serde(default)]
    pub server_name: Option<String>,
}
