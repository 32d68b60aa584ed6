//! Take in new trust while running: on SIGHUP, and whenever a trust file
//! changes (checked every `tls.reload_interval_seconds`), the node reloads
//! its CA certificates, CRLs, TLS identity and signer (`crate::trust`),
//! closes connections whose client is no longer trusted, and rebuilds its
//! peer channels with the new identity and CRLs. A reload that fails keeps
//! the trust in force and is reported until one succeeds.

use std::sync::Arc;
use std::time::Duration;

use super::Node;
use crate::blocking;
use crate::error::NodeError;

impl Node {
    /// Reloads the trust files; returns whether anything changed.
    pub async fn reload_trust(&self) -> Result<bool, NodeError> {
        let trust = self.trust.clone();
        let changed = blocking::run(move || {
            trust
                .reload()
                .map_err(|e| NodeError::FailedPrecondition(e.to_string()))
        })
        .await?;
        if changed {
            let client = self.trust.current().client_config.clone();
            self.federation
                .replace(client, &self.peer_configs())
                .map_err(|e| NodeError::FailedPrecondition(format!("peer channels: {e}")))?;
        }
        Ok(changed)
    }

    /// Reloads on SIGHUP and on every tick of `interval` until `stop`.
    pub fn spawn_trust_watcher(
        self: &Arc<Self>,
        interval: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use tokio::signal::unix::{SignalKind, signal};
        let node = self.clone();
        tokio::spawn(async move {
            let mut hangup = signal(SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let why = tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tick.tick() => "file check",
                    Some(()) = async { hangup.as_mut()?.recv().await } => "SIGHUP",
                };
                if let Err(e) = node.reload_membership_file().await {
                    tracing::warn!(error = %e, "membership manifest reload failed");
                }
                match node.reload_trust().await {
                    Ok(true) => tracing::info!(trigger = why, "trust reloaded"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(trigger = why, error = %e, "trust reload failed; the previous trust stays in force")
                    }
                }
            }
        });
    }
}
