//! The `backup` and `restore` subcommands of `credshare-node`, run next to
//! a node with the node's own config.
//!
//! * `backup` asks the running node, over its admin listener with the
//!   node's own TLS identity, to write a consistent backup (the store is
//!   held by the running process, so only it can copy it consistently).
//! * `restore` runs while the node is stopped ([`crate::restore`]).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use credshare_proto::v1 as pb;

use super::EXIT_CONFIG;
use crate::config::NodeConfig;
use crate::trust::Trust;

fn load(config_path: &Path) -> Result<Arc<NodeConfig>, ExitCode> {
    crate::install_crypto_provider();
    NodeConfig::load(config_path, std::env::vars())
        .map(Arc::new)
        .map_err(|e| {
            eprintln!("credshare-node: {e}");
            ExitCode::from(EXIT_CONFIG)
        })
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// `credshare-node backup --config F --out DIR`.
pub fn run_backup(config_path: &Path, out: &Path) -> ExitCode {
    let config = match load(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = std::path::absolute(out)
        .map_err(|e| format!("--out: {e}"))
        .and_then(|out| {
            let rt = runtime().map_err(|e| e.to_string())?;
            rt.block_on(ask_backup(config, &out.display().to_string()))
        });
    match result {
        Ok(r) => {
            println!(
                "backup written: {}\nlog size {} ({} keys, {} bytes)\ncheckpoint:\n{}",
                r.manifest, r.log_size, r.entries, r.bytes, r.checkpoint
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("credshare-node backup: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn ask_backup(config: Arc<NodeConfig>, out: &str) -> Result<pb::BackupResponse, String> {
    let trust = Trust::load(config.clone()).map_err(|e| e.to_string())?;
    let addr = admin_address(&config)?;
    let channel = crate::tls::connect_channel(
        trust.current().client_config.clone(),
        &addr.to_string(),
        None,
        None,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| format!("cannot reach the node at {addr}: {e}"))?;
    let mut client = pb::admin_service_client::AdminServiceClient::new(channel);
    let request = pb::BackupRequest {
        out_dir: out.to_owned(),
    };
    client
        .backup(request)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| format!("{}: {}", s.code(), s.message()))
}

/// The running node's admin address: `listen.admin`, or (port 0) the one
/// its ready file names; a wildcard address is asked on loopback.
fn admin_address(config: &NodeConfig) -> Result<std::net::SocketAddr, String> {
    let mut addr = config.listen.admin;
    if addr.port() == 0 {
        let file = config.listen.ready_file.as_ref().ok_or(
            "listen.admin has port 0 and no listen.ready_file says where the node listens",
        )?;
        let text = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let bound: crate::service::BoundAddrs =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        addr = bound.admin;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(addr)
}

/// `credshare-node restore --from DIR --config F`.
pub fn run_restore(config_path: &Path, from: &Path) -> ExitCode {
    let config = match load(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = runtime().map_err(|e| e.to_string()).and_then(|rt| {
        rt.block_on(crate::restore::restore(config, from))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(r) => {
            println!(
                "restored {} keys; the query log continues at index {} as epoch {} (declared in the log)",
                r.entries, r.restored_size, r.epoch
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("credshare-node restore: {e}");
            ExitCode::FAILURE
        }
    }
}
