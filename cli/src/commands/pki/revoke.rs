//! `credshare pki revoke`: revoke a certificate and re-issue the CRL.

use std::path::PathBuf;

use crate::output::Output;
use crate::pki::{RevocationReason, revoke};

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
    /// The certificate to revoke (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Why (RFC 5280 reason code).
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: RevocationReason,
}

impl RevokeArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let outcome = revoke(&self.ca_dir, &self.cert, self.reason)?;
        out.print(&outcome, || format!("{outcome}\n"));
        Ok(())
    }
}
