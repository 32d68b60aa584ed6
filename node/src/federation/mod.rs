//! Federation: mTLS clients for the configured peer nodes. Channels connect
//! lazily with this node's `node` certificate and check that the server is
//! exactly the configured institution's node. The calls a node makes to a
//! peer, with their failures in the node's own terms, are in [`calls`]; the
//! wire form of a refused query is [`denial`], of a witness's refusal
//! [`conflict`].

mod calls;
pub mod conflict;
pub mod denial;
mod rich;

pub use calls::{PeerFailure, WitnessFailure};

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use credshare_proto::v1 as pb;
use tonic::transport::Channel;

use crate::config::PeerConfig;
use crate::pki::{Identity, InstitutionId, Role};
use crate::tls;

/// Connect timeout for peer channels.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Deadline of a reachability check.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// One configured peer and its (lazily connected) channel.
#[derive(Debug, Clone)]
pub struct Peer {
    pub institution: InstitutionId,
    pub address: String,
    channel: Channel,
}

impl Peer {
    /// A `PeerService` client on this peer's channel.
    pub fn client(&self) -> pb::peer_service_client::PeerServiceClient<Channel> {
        pb::peer_service_client::PeerServiceClient::new(self.channel.clone())
    }

    /// A `WitnessService` client on the same channel.
    pub fn witness_client(&self) -> pb::witness_service_client::WitnessServiceClient<Channel> {
        pb::witness_service_client::WitnessServiceClient::new(self.channel.clone())
    }
}

/// All configured peers. The set, and the client identity used to reach
/// them, can be replaced while the node runs (trust reload, membership).
#[derive(Debug, Default)]
pub struct Federation {
    peers: RwLock<Arc<Vec<Peer>>>,
}

impl Federation {
    /// Builds lazy channels to every peer; nothing connects yet.
    pub fn new(
        client_config: Arc<rustls::ClientConfig>,
        peers: &[PeerConfig],
    ) -> Result<Self, tls::TlsError> {
        let federation = Self::default();
        federation.replace(client_config, peers)?;
        Ok(federation)
    }

    /// Rebuilds every channel with `client_config` (new CRLs, a new TLS
    /// identity) for `peers`. Calls in flight finish on the old channels.
    pub fn replace(
        &self,
        client_config: Arc<rustls::ClientConfig>,
        peers: &[PeerConfig],
    ) -> Result<(), tls::TlsError> {
        let mut out = Vec::with_capacity(peers.len());
        for p in peers {
            let expected = Identity::new(Role::Node, p.institution.clone());
            let channel = tls::lazy_channel(
                client_config.clone(),
                &p.address,
                p.server_name.as_deref(),
                Some(expected),
                CONNECT_TIMEOUT,
            )
            .map_err(|e| tls::TlsError::Identity(format!("peer {}: {e}", p.institution)))?;
            out.push(Peer {
                institution: p.institution.clone(),
                address: p.address.clone(),
                channel,
            });
        }
        *self.peers.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(out);
        Ok(())
    }

    /// The peers now.
    pub fn peers(&self) -> Arc<Vec<Peer>> {
        self.peers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn get(&self, institution: &InstitutionId) -> Option<Peer> {
        self.peers()
            .iter()
            .find(|p| &p.institution == institution)
            .cloned()
    }

    /// Calls `GetNodeInfo` on every peer concurrently, each within
    /// [`PING_TIMEOUT`].
    pub async fn health(&self) -> Vec<pb::PeerHealth> {
        let peers = self.peers();
        let checks = peers.iter().map(|peer| async move {
            let started = Instant::now();
            let mut client = peer.client();
            let mut request = tonic::Request::new(pb::GetNodeInfoRequest {});
            request.set_timeout(PING_TIMEOUT);
            let result = tokio::time::timeout(PING_TIMEOUT, client.get_node_info(request)).await;
            let latency_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
            let mut health = pb::PeerHealth {
                institution_id: peer.institution.to_string(),
                latency_ms,
                ..Default::default()
            };
            match result {
                Ok(Ok(info)) => {
                    let info = info.into_inner();
                    health.reachable = true;
                    health.version = info.version;
                    health.log_size = info.log_size;
                }
                Ok(Err(status)) => health.error = describe_status(&status),
                Err(_) => health.error = "timed out".into(),
            }
            health
        });
        futures::future::join_all(checks).await
    }
}

/// A short human description of a failed call, including transport causes.
pub fn describe_status(status: &tonic::Status) -> String {
    use std::error::Error;
    let mut text = format!("{:?}: {}", status.code(), status.message());
    let mut source = status.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
