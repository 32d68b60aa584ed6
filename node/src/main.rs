//! `credshare-node --config node.toml`: runs one credshare node until
//! SIGTERM or SIGINT. Exit codes: 0 clean stop, 2 bad configuration, 1 any
//! other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Runs one credshare node.
#[derive(Debug, Parser)]
#[command(name = "credshare-node", version)]
struct Args {
    /// Path of the node's TOML configuration.
    #[arg(long, env = "CREDSHARE_CONFIG")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    credshare_node::process::run_node(&args.config)
}
