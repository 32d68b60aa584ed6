//! The consortium PKI for development and small deployments — a CA with
//! its CRL, certificates for every role, inspection — as plain functions:
//! the `credshare pki …` commands, `credshare demo`, the benchmarks and
//! tests all call them.
//!
//! Certificate profiles are in `certs/README.md`; identities are SAN URIs
//! `urn:credshare:<role>:<institution>` (docs/design.md §2). All keys are Ed25519,
//! stored as PKCS#8 PEM with mode 0600.

mod ca;
mod files;
mod issue;
mod show;
#[cfg(test)]
mod tests;

pub use ca::{RevocationReason, RevokeOutcome, init_ca, refresh_crl, revoke};
pub use issue::{IssueParams, IssuedCertificate, dev_consortium, issue};
pub use show::{CertificateReport, describe_certificate};

/// Default validity of the CA certificate, in days.
pub const DEFAULT_CA_DAYS: u32 = 3650;
