//! `credshare node run`: run a node in this process, exactly as the
//! `credshare-node` binary does (its own runtime, logging and exit codes).

use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `credshare node run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Node configuration file.
    #[arg(long, env = "CREDSHARE_CONFIG")]
    pub config: PathBuf,
}

impl RunArgs {
    /// Runs the node until SIGTERM/SIGINT; the node's exit code.
    pub fn run(&self) -> ExitCode {
        credshare_node::process::run_node(&self.config)
    }
}
