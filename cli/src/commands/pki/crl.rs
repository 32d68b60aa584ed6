//! `credshare pki crl`: re-sign the CRL with a fresh next-update time.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::refresh_crl;

#[derive(Debug, clap::Args)]
pub struct CrlArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
}

impl CrlArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let number = refresh_crl(&self.ca_dir)?;
        out.print(&json!({"crl_number": number}), || {
            format!("issued CRL number {number}\n")
        });
        Ok(())
    }
}
