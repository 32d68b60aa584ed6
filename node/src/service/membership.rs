//! Membership while the node runs (docs/design.md#membership): the manifest
//! file is re-read with the trust files, every peer is asked for a newer
//! manifest every `membership.poll_seconds`, and a newer valid one — from
//! the file or from any peer — is adopted at once: the peer set is rebuilt
//! from it and connections of institutions it no longer lists are closed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credshare_proto::v1 as pb;
use tokio::sync::watch;

use super::Node;
use crate::blocking;
use crate::config::PeerConfig;
use crate::error::NodeError;
use crate::membership::{Admission, Manifest, ManifestError};
use crate::pki::Identity;

/// Deadline of one `GetManifest` call.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

impl Node {
    /// The peers in force: the manifest's, or the static `[[peers]]`.
    pub fn peer_configs(&self) -> Vec<PeerConfig> {
        self.membership
            .peers()
            .unwrap_or_else(|| self.config.peers.clone())
    }

    /// `GetManifest`: the manifest held, when newer than `known_version`.
    pub fn manifest_for(&self, known_version: u64) -> pb::GetManifestResponse {
        let current = self.membership.current();
        pb::GetManifestResponse {
            version: current.as_ref().map_or(0, |m| m.version()),
            manifest: current
                .filter(|m| m.version() > known_version)
                .map(|m| m.envelope.clone()),
        }
    }

    /// Refuses when the manifest in force expired beyond its grace.
    pub fn check_membership_current(&self) -> Result<(), NodeError> {
        match self.membership.stopped(SystemTime::now()) {
            Some(reason) => Err(NodeError::FailedPrecondition(reason)),
            None => Ok(()),
        }
    }

    /// Re-reads the configured manifest file; adopts it when newer.
    pub async fn reload_membership_file(&self) -> Result<(), NodeError> {
        let Some(path) = self.config.membership.manifest_file.clone() else {
            return Ok(());
        };
        let (verifier, config) = (self.verifier(), self.config.membership.clone());
        let read = blocking::run(move || {
            crate::membership::read_file(&path, &verifier, &config)
                .map_err(|e| NodeError::FailedPrecondition(e.to_string()))
        })
        .await;
        match read {
            Ok(manifest) => {
                self.adopt_manifest(manifest.envelope, "manifest file")
                    .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "membership manifest file not usable; the manifest in force stays");
                Ok(())
            }
        }
    }

    /// Asks every peer for a newer manifest and adopts the first valid one.
    pub async fn ask_peers_for_manifest(&self) -> Result<(), NodeError> {
        let known = self.membership.version();
        let peers = self.federation.peers();
        let asks = peers
            .iter()
            .map(|p| async move { (p.institution.clone(), p.manifest(known, ASK_TIMEOUT).await) });
        for (peer, answer) in futures::future::join_all(asks).await {
            let Ok(Some(envelope)) = answer else { continue };
            self.adopt_manifest(envelope, peer.as_str()).await?;
        }
        Ok(())
    }

    /// Verifies and adopts `envelope` if newer; then rebuilds the peer set
    /// and closes connections of institutions no longer members.
    async fn adopt_manifest(
        &self,
        envelope: pb::SignedEnvelope,
        from: &str,
    ) -> Result<(), NodeError> {
        let (membership, verifier) = (self.membership.clone(), self.verifier());
        let adopted =
            blocking::run(move || Ok::<_, NodeError>(membership.offer(envelope, &verifier)))
                .await?;
        let manifest: Arc<Manifest> = match adopted {
            Ok(m) => m,
            Err(ManifestError::NotNewer { .. }) => return Ok(()),
            Err(e) => {
                tracing::warn!(from, error = %e, "membership manifest refused");
                return Ok(());
            }
        };
        let client = self.trust.current().client_config.clone();
        self.federation
            .replace(client, &self.peer_configs())
            .map_err(|e| NodeError::FailedPrecondition(format!("peer channels: {e}")))?;
        let now = SystemTime::now();
        let closed = self.trust.close_connections_unless(|identity: &Identity| {
            self.membership.admit(identity, "", now) == Admission::Admitted
        });
        tracing::info!(
            version = manifest.version(),
            from,
            operator = %manifest.operator,
            members = manifest.body.members.len(),
            closed,
            "membership manifest adopted"
        );
        Ok(())
    }

    /// Asks peers for a newer manifest every `interval` until `stop`.
    pub fn spawn_membership_watcher(
        self: &Arc<Self>,
        interval: Duration,
        stop: watch::Receiver<bool>,
    ) {
        if !self.membership.enabled() {
            return;
        }
        self.spawn_every(interval, stop, false, |node, _| async move {
            if let Err(e) = node.ask_peers_for_manifest().await {
                tracing::warn!(error = %e, "asking peers for a newer membership manifest failed");
            }
        });
    }
}
