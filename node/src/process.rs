//! The node as an operating-system process: load the configuration, install
//! the tracing subscriber and crypto provider, start the runtime, bind, and
//! serve ([`crate::server::serve`]) until SIGTERM/SIGINT. Shared by the
//! `credshare-node` binary and `credshare node run`.
//!
//! Exit codes: 0 clean stop, 2 bad configuration, 1 any other failure.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{LogFormat, NodeConfig};

mod offline;
use crate::server::{self, Listeners};
pub use offline::{run_backup, run_restore};

/// Exit code for a configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// How long a stopping node waits for background store scans to finish.
const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a node from a config file until a stop signal; returns the exit code.
pub fn run_node(config_path: &Path) -> ExitCode {
    let config = match NodeConfig::load(config_path, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credshare-node: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing(&config);
    crate::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credshare-node: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(config));
    // `serve` returns once the calls are drained and the store is flushed.
    // What may still run are background scans of the store (the whole-log
    // check, the record count, the retention sweep, the oversight rebuild),
    // minutes long at millions of records. A stop does not wait for them:
    // the writer makes each batch durable before it acknowledges it, so a
    // batch cut short is one nobody was told about (as after a crash).
    runtime.shutdown_timeout(BACKGROUND_GRACE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "credshare-node failed");
            eprintln!("credshare-node: {e}");
            match e {
                server::ServeError::Config(_) => ExitCode::from(EXIT_CONFIG),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(config: NodeConfig) -> Result<(), server::ServeError> {
    let listeners = Listeners::bind(&config).await?;
    server::serve(config, listeners, shutdown_signal()).await
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_wanted())
        .with_writer(std::io::stderr);
    // try_init: a second node in the same process (tests) keeps the first subscriber.
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Colour codes only on a terminal (a file or journald gets plain text),
/// and never with `NO_COLOR` set (<https://no-color.org>).
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
