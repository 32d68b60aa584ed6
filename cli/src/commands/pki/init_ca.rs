//! `credshare pki init-ca`: a new consortium CA with an empty CRL.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::{DEFAULT_CA_DAYS, init_ca};

#[derive(Debug, clap::Args)]
pub struct InitCaArgs {
    /// Directory for the CA files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA's common name, e.g. "Example Consortium Root CA".
    #[arg(long)]
    pub name: String,
    /// Validity in days.
    #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
    pub days: u32,
}

impl InitCaArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        init_ca(&self.dir, &self.name, self.days)?;
        out.print(&json!({"ca": self.name, "dir": self.dir}), || {
            format!("created CA {:?} in {}\n", self.name, self.dir.display())
        });
        Ok(())
    }
}
