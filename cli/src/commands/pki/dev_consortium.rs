//! `credshare pki dev-consortium`: a CA, BANK-A/B/C and regulator REG-1 in
//! one directory, for development and tests.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::dev_consortium;

#[derive(Debug, clap::Args)]
pub struct DevConsortiumArgs {
    /// Directory to create (must not hold a CA yet).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

impl DevConsortiumArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        dev_consortium(&self.dir)?;
        out.print(&json!({"dir": self.dir}), || {
            format!("development consortium PKI in {}\n", self.dir.display())
        });
        Ok(())
    }
}
