//! `credshare`: admin, officer and regulator commands, PKI tooling, demo and
//! benchmarks. Exit codes are documented in [`output`].
#![forbid(unsafe_code)]

mod client;
mod commands;
mod output;
mod pki;
mod rows;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use client::ConnectionArgs;

/// credshare: federated credit-information sharing.
#[derive(Debug, Parser)]
#[command(name = "credshare", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    conn: ConnectionArgs,
    /// Machine-readable JSON output instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Your node's status and whether it reaches each peer over mTLS.
    Status,
    /// Identity of any node, through its peer listener.
    NodeInfo {
        /// Peer listener address, host:port.
        #[arg(long)]
        peer: String,
    },
    /// Consortium PKI: CA, certificates, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Node set-up and running.
    #[command(subcommand)]
    Node(NodeCommand),
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Write a working node configuration.
    Init(commands::node::InitArgs),
    /// Run a node in this process (same as `credshare-node --config FILE`).
    Run {
        /// Node configuration file.
        #[arg(long, env = "CREDSHARE_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    credshare_node::install_crypto_provider();
    if let Command::Node(NodeCommand::Run { config }) = &cli.command {
        return credshare_node::launch::run_node(config);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credshare: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credshare: {}", render_error(&e));
            output::exit_code(&e)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { conn, json, command } = cli;
    match command {
        Command::Status => commands::status::status(&conn, json).await?,
        Command::NodeInfo { peer } => commands::status::node_info(&conn, &peer, json).await?,
        Command::Node(NodeCommand::Init(args)) => commands::node::init(&args)?,
        Command::Pki(command) => pki::run(command)?,
        Command::Node(NodeCommand::Run { .. }) => unreachable!("handled before the runtime starts"),
    }
    Ok(ExitCode::SUCCESS)
}

fn render_error(e: &anyhow::Error) -> String {
    if let Some(status) = e.downcast_ref::<tonic::Status>() {
        return output::describe(status);
    }
    format!("{e:#}")
}
