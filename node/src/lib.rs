//! credshare node: a federated credit-information sharing node.
//!
//! The parts, from the edge inwards:
//!
//! * [`config`] — the node's TOML configuration with `CREDSHARE_*` overrides.
//! * [`pki`] — identities in certificate SAN URIs, certificate and key files.
//! * [`tls`] — rustls server and client configurations (mTLS, CRLs, ALPN h2)
//!   and the accept loop that attaches the caller's identity to each
//!   connection.
//! * [`signing`] — DSSE envelopes signed with the institution's Ed25519 key,
//!   and the one verification function every signature goes through.
//! * [`grpc`] — thin tonic services: authorize, convert, call, respond.
//! * [`domain`] — borrower identifiers and keys, records and their rules,
//!   consent, assessment, visit schedule. No tonic, no sled.
//! * [`storage`] — the only code that touches sled: every tree and key format,
//!   group commit and durability.
//! * [`audit`] — the RFC 6962 Merkle query log, proofs and signed checkpoints.
//! * [`federation`] — mTLS clients for peer nodes.
//! * [`server`] — `serve(config, listeners, shutdown)`: the node as a function.
#![forbid(unsafe_code)]

pub mod audit;
pub mod caches;
pub mod config;
pub mod consents;
pub mod domain;
pub mod error;
pub mod federation;
pub mod grpc;
pub mod ingest;
pub mod launch;
pub mod node;
pub mod pki;
pub mod query;
pub mod reports;
pub mod server;
pub mod signing;
pub mod storage;
pub mod tls;

/// The node's version, reported by `GetNodeInfo` and `Status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Installs ring as the process-wide rustls crypto provider. Call once at
/// start-up in every binary; later calls are harmless.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
