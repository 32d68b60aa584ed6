//! `[listen]`: where the node's listeners bind.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Listener for other nodes (PeerService) and regulators (AuditService).
    pub peer: SocketAddr,
    /// Listener for this institution's admins (AdminService).
    pub admin: SocketAddr,
    /// If set, the bound addresses are written here as JSON once serving.
    #[serde(default)]
    pub ready_file: Option<PathBuf>,
    /// Plain-HTTP listener for `/metrics`, `/livez` and `/readyz`; `"off"`
    /// disables it. Default `127.0.0.1:9464` (loopback).
    #[serde(default = "default_metrics_listen", with = "metrics_listen")]
    pub metrics: Option<SocketAddr>,
}

/// The metrics listener's default address.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

fn default_metrics_listen() -> Option<SocketAddr> {
    DEFAULT_METRICS_LISTEN.parse().ok()
}

/// `listen.metrics`: an address, or `"off"`.
mod metrics_listen {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "off" {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "listen.metrics: {text:?} is neither host:port nor \"off\""
            ))
        })
    }
}
