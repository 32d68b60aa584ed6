//! Revocation delivery: every revocation this node issues waits in a
//! persisted outbox, one item per peer, until that peer acknowledges it (or
//! the grant it revokes would have expired anyway). A pass tries every
//! item concurrently; a background task repeats passes until shutdown.
//!
//! A peer that was not configured when we revoked, or that restarted from a
//! backup taken before the revocation, must learn it too: each pass first
//! asks every peer for its start time ([`PeersSeen`](super::caches::PeersSeen))
//! and queues every unexpired revocation of ours again for a peer met for
//! the first time or restarted since (holders ignore ones they know).

use std::sync::Arc;
use std::time::Duration;

use credshare_proto::v1 as pb;
use prost::Message;
use tokio::sync::watch;

use super::Node;
use crate::blocking;
use crate::domain::dates::now_ms;
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::storage::{CommitRequest, ConsentWrite, OutboxItem};

/// Deadline of one revocation delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// What one delivery pass achieved, as (peer, consent id) pairs.
#[derive(Debug, Default)]
pub struct DeliveryPass {
    pub delivered: Vec<(String, String)>,
    pub pending: Vec<(String, String)>,
}

/// The fate of one outbox item in a pass.
enum Attempt {
    Delivered,
    /// Not delivered; retried next pass.
    Pending,
    /// Expired, or its peer is no longer configured: dropped.
    Dropped,
}

impl Node {
    /// One delivery pass over the outbox: every pending revocation to its
    /// peer, concurrently. Acknowledged and expired items are removed.
    pub async fn deliver_outbox(&self) -> Result<DeliveryPass, NodeError> {
        self.announce_revocations().await?;
        let store = self.store.clone();
        let items = blocking::run(move || store.outbox()).await?;
        if items.is_empty() {
            return Ok(DeliveryPass::default());
        }
        let now = now_ms();
        let attempts = items.into_iter().map(|item| async move {
            let attempt = self.deliver(&item, now).await;
            (item, attempt)
        });
        let results = futures::future::join_all(attempts).await;
        let mut done = Vec::new();
        let mut pass = DeliveryPass::default();
        for (item, attempt) in results {
            let pair = (item.peer.clone(), item.consent_id.clone());
            match attempt {
                Attempt::Delivered => {
                    tracing::info!(peer = %item.peer, consent_id = %item.consent_id, "revocation delivered");
                    pass.delivered.push(pair);
                }
                Attempt::Pending => {
                    tracing::debug!(peer = %item.peer, consent_id = %item.consent_id, "revocation not delivered yet");
                    pass.pending.push(pair);
                    continue;
                }
                Attempt::Dropped => {}
            }
            done.push(ConsentWrite::OutboxDone {
                peer: item.peer,
                consent_id: item.consent_id,
            });
        }
        if !done.is_empty() {
            self.committer
                .commit(CommitRequest {
                    consents: done,
                    ..Default::default()
                })
                .await?;
        }
        Ok(pass)
    }

    /// Queues our unexpired revocations for every peer met for the first
    /// time or restarted since the last pass.
    async fn announce_revocations(&self) -> Result<(), NodeError> {
        let peers = self.federation.peers();
        let infos = peers.iter().map(|peer| async move {
            let info = peer.node_info(DELIVERY_TIMEOUT).await.ok();
            (peer.institution.clone(), info)
        });
        let fresh: Vec<InstitutionId> = futures::future::join_all(infos)
            .await
            .into_iter()
            .filter_map(|(peer, info)| {
                let started = info?.started_at_ms;
                self.peers_seen.changed(&peer, started).then_some(peer)
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        let own = self.institution().to_string();
        let revocations = blocking::run(move || store.revocations_of(&own)).await?;
        let now = now_ms();
        let live: Vec<_> = revocations
            .into_iter()
            .filter(|(_, env)| !revocation_expired(env, now))
            .collect();
        let writes: Vec<ConsentWrite> = fresh
            .iter()
            .flat_map(|peer| {
                live.iter()
                    .map(|(consent_id, envelope)| ConsentWrite::Outbox {
                        peer: peer.to_string(),
                        consent_id: consent_id.clone(),
                        envelope: envelope.clone(),
                    })
            })
            .collect();
        if writes.is_empty() {
            return Ok(());
        }
        let committed = self
            .committer
            .commit(CommitRequest {
                consents: writes,
                ..Default::default()
            })
            .await;
        if let Err(e) = committed {
            fresh.iter().for_each(|peer| self.peers_seen.forget(peer));
            return Err(e.into());
        }
        tracing::info!(
            peers = fresh.len(),
            revocations = live.len(),
            "revocations re-announced to new or restarted peers"
        );
        Ok(())
    }

    async fn deliver(&self, item: &OutboxItem, now_ms: i64) -> Attempt {
        if revocation_expired(&item.revocation, now_ms) {
            return Attempt::Dropped;
        }
        let peer = InstitutionId::parse(&item.peer)
            .ok()
            .and_then(|p| self.federation.get(&p));
        let Some(peer) = peer else {
            return Attempt::Dropped;
        };
        match peer
            .notify_revocation(item.revocation.clone(), DELIVERY_TIMEOUT)
            .await
        {
            Ok(_) => Attempt::Delivered,
            Err(_) => Attempt::Pending,
        }
    }

    /// Retries the revocation outbox until `stop` turns true: one pass
    /// every `interval`.
    pub fn spawn_delivery(self: &Arc<Self>, interval: Duration, stop: watch::Receiver<bool>) {
        self.spawn_every(interval, stop, false, |node, _| async move {
            if let Err(e) = node.deliver_outbox().await {
                tracing::warn!(error = %e, "revocation outbox pass failed");
            }
        });
    }
}

/// Whether the grant a revocation withdraws has expired anyway (or the
/// revocation does not decode).
fn revocation_expired(revocation: &pb::SignedEnvelope, now_ms: i64) -> bool {
    pb::ConsentRevocation::decode(revocation.payload.as_slice())
        .map(|r| r.grant_not_after_ms < now_ms)
        .unwrap_or(true)
}
