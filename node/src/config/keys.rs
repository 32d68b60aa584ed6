//! `[tls]` and `[signer]`: the node's certificate and key files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Consortium CA certificate(s), PEM.
    pub ca_cert: PathBuf,
    /// Certificate revocation lists, PEM. Honoured for TLS and signatures.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// This node's TLS certificate chain (role `node`), PEM.
    pub cert: PathBuf,
    /// Its PKCS#8 private key, PEM.
    pub key: PathBuf,
    /// How often the trust files are checked for changes, seconds (a
    /// reload also follows SIGHUP).
    #[serde(default = "default_reload_interval")]
    pub reload_interval_seconds: u32,
    /// Warn this many days before a CRL's nextUpdate.
    #[serde(default = "default_crl_warn_days")]
    pub crl_warn_days: u32,
    /// Hours after a CRL's nextUpdate before new handshakes are refused
    /// (0 = at once: fail closed).
    #[serde(default)]
    pub crl_grace_hours: u32,
}

fn default_reload_interval() -> u32 {
    5
}

fn default_crl_warn_days() -> u32 {
    7
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// The institution's signing certificate (role `signer`), PEM.
    pub cert: PathBuf,
    /// Its Ed25519 PKCS#8 private key, PEM.
    pub key: PathBuf,
}
