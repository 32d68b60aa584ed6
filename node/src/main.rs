//! `credshare-node --config node.toml`: runs one credshare node until
//! SIGTERM or SIGINT.
//!
//! Exit codes: 0 clean stop, 2 bad configuration, 1 any other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use credshare_node::config::{LogFormat, NodeConfig};
use credshare_node::server::{self, Listeners};

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
    let config = match NodeConfig::load(&args.config, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credshare-node: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    credshare_node::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credshare-node: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "credshare-node failed");
            eprintln!("credshare-node: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: NodeConfig) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    server::serve(config, listeners, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

fn init_tracing(config: &NodeConfig) {
    let filter = tracing_subscriber::EnvFilter::new(&config.log.level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
