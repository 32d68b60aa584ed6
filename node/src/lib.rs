//! credshare node: a federated credit-information sharing node. The design
//! is in `docs/design.md`, the domain rules in `docs/domain.md`, and a walk
//! through the modules in `docs/architecture.md`.
//!
//! The parts, from the process down (a module uses only those below it):
//!
//! * [`process`] — the node as an OS process: config, tracing, runtime,
//!   signals; shared by `credshare-node` and `credshare node run`.
//! * [`server`] — assembly: `serve(config, listeners, shutdown)` opens keys,
//!   store and peers, builds the state and runs both listeners.
//! * [`restore`] — `credshare-node restore`: verify a backup, write it, declare a new log epoch.
//! * [`probes`] — the plain-HTTP listener: `/metrics`, `/livez`, `/readyz`.
//! * [`grpc`] — thin tonic services: authorize, convert, one call, respond;
//!   the one mapping from errors to `tonic::Status`.
//! * [`discovery`] — the regulator's discovery service (with `[discovery]`):
//!   OPRF pseudonyms, budgets, receipts, the holder directory; stage 2's
//!   threshold key. Uses [`service::Node`]'s store and writer.
//! * [`service`] — the use cases (answer a peer, assess a borrower, consents
//!   and revocation delivery, ingest, history, visits due, audit reads,
//!   status) on the shared state [`service::Node`], and its caches.
//! * [`error`] — [`error::NodeError`], the use cases' one error type.
//! * [`blocking`] — the one way blocking work leaves the async workers.
//! * [`federation`] — mTLS clients of the peer nodes and their calls.
//! * [`storage`] — the only code that touches sled: every key and value
//!   encoding, group commit and durability.
//! * [`audit`] — the RFC 6962 Merkle query log: proofs, signed checkpoints,
//!   receipts. Pure code.
//! * [`metrics`] — the Prometheus registry and every metric family.
//! * [`config`] — the node's TOML configuration with `CREDSHARE_*` overrides.
//! * [`domain`] — identifiers and keys, records and their rules, consent,
//!   assessment, visit schedule. No tonic, no sled.
//! * [`signing`] — DSSE envelopes signed with the institution's Ed25519 key,
//!   and the one verification function every signature goes through.
//! * [`membership`] — the consortium operator's signed membership
//!   manifest in force: who may call, and who the peers are.
//! * [`trust`] — the CA certificates, CRLs, TLS identity and signer in force
//!   now, reloaded while the node runs.
//! * [`tls`] — rustls server and client configurations (mTLS, CRLs, ALPN h2),
//!   the accept loop that attaches the caller's identity, and the registry
//!   of live connections.
//! * [`pki`] — identities in certificate SAN URIs, certificate and key files.
#![forbid(unsafe_code)]

pub mod audit;
pub mod blocking;
pub mod config;
pub mod discovery;
pub mod domain;
pub mod error;
pub mod federation;
pub mod grpc;
pub mod membership;
pub mod metrics;
pub mod pki;
pub mod probes;
pub mod process;
pub mod restore;
pub mod server;
pub mod service;
pub mod signing;
pub mod storage;
pub mod tls;
pub mod trust;

/// The node's version, reported by `GetNodeInfo` and `Status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Installs ring as the process-wide rustls crypto provider. Call once at
/// start-up in every binary; later calls are harmless.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
