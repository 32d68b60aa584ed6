//! `credshare-node --config node.toml`: runs one credshare node until
//! SIGTERM or SIGINT. `credshare-node backup` and `credshare-node restore`
//! take and restore backups (docs/operations.md). Exit codes: 0 success or
//! clean stop, 2 bad configuration, 1 any other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs one credshare node.
#[derive(Debug, Parser)]
#[command(name = "credshare-node", version)]
struct Args {
    /// Path of the node's TOML configuration (to run the node).
    #[arg(long, env = "CREDSHARE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Asks the running node for a consistent online backup into DIR.
    Backup {
        /// The node's configuration.
        #[arg(long)]
        config: PathBuf,
        /// A new (or empty) directory on this host.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verifies a backup and restores it into the (empty) data directory
    /// of a stopped node, starting a new declared log epoch.
    Restore {
        /// The backup directory (with manifest.json).
        #[arg(long)]
        from: PathBuf,
        /// The node's configuration.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match (args.command, args.config) {
        (Some(Command::Backup { config, out }), _) => {
            credshare_node::process::run_backup(&config, &out)
        }
        (Some(Command::Restore { from, config }), _) => {
            credshare_node::process::run_restore(&config, &from)
        }
        (None, Some(config)) => credshare_node::process::run_node(&config),
        (None, None) => {
            eprintln!("credshare-node: --config is required (or a subcommand: backup, restore)");
            ExitCode::from(2)
        }
    }
}
