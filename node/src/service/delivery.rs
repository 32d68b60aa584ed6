//! Revocation delivery: every revocation this node issues waits in a
//! persisted outbox, one item per peer, until that peer acknowledges it (or
//! the grant it revokes would have expired anyway). A pass tries every
//! item concurrently; a background task repeats passes until shutdown.

use std::sync::Arc;
use std::time::Duration;

use credshare_proto::v1 as pb;
use prost::Message;

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

    async fn deliver(&self, item: &OutboxItem, now_ms: i64) -> Attempt {
        let expired = pb::ConsentRevocation::decode(item.revocation.payload.as_slice())
            .map(|r| r.grant_not_after_ms < now_ms)
            .unwrap_or(true);
        if expired {
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
    pub fn spawn_delivery(
        self: &Arc<Self>,
        interval: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(interval) => {}
                }
                if let Err(e) = node.deliver_outbox().await {
                    tracing::warn!(error = %e, "revocation outbox pass failed");
                }
            }
        });
    }
}
