//! `credshare consortium-secret generate`: the secret that keys borrower
//! hashes, as 32 random bytes in a new 0600 file.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretCommand {
    /// Generate 32 random bytes into a new file (mode 0600). Treat it as
    /// sensitive: with it, hashed borrower keys can be recomputed.
    Generate {
        /// File to create; never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

impl SecretCommand {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let SecretCommand::Generate { out: file } = self;
        credshare_node::domain::borrower::generate_secret_file(file)?;
        out.print(&json!({"secret_file": file, "bytes": 32}), || {
            format!("wrote {} (32 random bytes, mode 0600)\n", file.display())
        });
        Ok(())
    }
}
