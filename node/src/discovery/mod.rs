//! The discovery service (docs/design.md, "Private holder discovery"): a
//! mode of the node run by the regulator when the config has a
//! `[discovery]` section. It holds the OPRF key, evaluates members'
//! blinded elements within budgets, keeps the holder directory, and logs
//! every evaluation, lookup and directory change in the node's own Merkle
//! log (the one writer, signed checkpoints, `AuditService`).
//!
//! | part | what it holds |
//! |---|---|
//! | [`oprf`] | RFC 9497 VOPRF (ristretto255-SHA512): service evaluation, member blinding and finalization, pseudonyms |
//! | [`threshold`] | stage 2: `k = k_R + k_G`, Shamir 2-of-3 shares of `k_G`, combining partial evaluations |
//! | [`keyfile`] | OPRF key files (0600) |
//! | [`budget`] | budgets per member, officer, purpose, and enrolment by portfolio |
//! | [`receipts`] | single-use evaluation receipts bound to a consent hash |
//! | [`service`] | [`Discovery`], the state, and its use cases: evaluate, register, withdraw, look up, status |
//!
//! The directory's sled keys are in `storage::directory`.

pub mod budget;
pub mod keyfile;
pub mod oprf;
pub mod receipts;
pub mod service;
pub mod threshold;

pub use service::Discovery;
