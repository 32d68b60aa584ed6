//! The consortium PKI for development and small deployments — a CA with
//! its CRL, certificates for every role, inspection — as plain functions:
//! the `credshare pki …` commands, `credshare demo`, the benchmarks and
//! tests all call them.
//!
//! Certificate profiles are in `certs/README.md`; identities are SAN URIs
//! `urn:credshare:<role>:<institution>` (docs/design.md §2). TLS identities
//! (CA, node, admin, regulator) are ECDSA P-256 unless `--key-type ed25519`
//! asks otherwise; signer keys are always Ed25519. Every key is a PEM
//! `PRIVATE KEY` in PKCS#8 v1 form with mode 0600 ([`KeyType`], `keys.rs`).

mod ca;
mod files;
mod issue;
mod keys;
mod show;
#[cfg(test)]
mod tests;

pub use ca::{RevocationReason, RevokeOutcome, init_ca, init_intermediate_ca, refresh_crl, revoke};
pub use issue::{
    DEV_OFFICER, IssueParams, IssuedCertificate, dev_consortium, dev_consortium_with_key_type,
    issue,
};
pub use keys::KeyType;
pub use show::{CertificateReport, describe_certificate};

/// Default validity of the CA certificate, in days.
pub const DEFAULT_CA_DAYS: u32 = 3650;
