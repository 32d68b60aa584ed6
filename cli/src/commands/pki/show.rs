//! `credshare pki show`: what a certificate says, for people and scripts
//! (`--json`, the global flag).

use std::path::PathBuf;

use crate::output::Output;
use crate::pki::describe_certificate;

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Certificate file (PEM).
    pub file: PathBuf,
}

impl ShowArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let report = describe_certificate(&self.file)?;
        out.print(&report, || report.to_string());
        Ok(())
    }
}
