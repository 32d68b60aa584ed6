//! Consent management on this node: grants it issues (as the grantee
//! institution, attesting it holds the borrower's written authorization),
//! revocations it issues and pushes to every peer from a persisted outbox,
//! and revocations it receives as a holder (DESIGN §4).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::consent;
use crate::error::NodeError;
use crate::node::Node;
use crate::pki::InstitutionId;
use crate::signing::{CONSENT_GRANT_TYPE, CONSENT_REVOCATION_TYPE};
use crate::storage::commit::now_ms;
use crate::storage::consents::{grant_key, outbox_key, revocation_key};
use crate::storage::{CommitRequest, LogAppend};

/// Deadline of one revocation delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn consent_entry(
    action: pb::ConsentAction,
    grant_id: &str,
    borrower: &[u8],
    grantee: &str,
    env: &[u8],
    from: &str,
) -> LogAppend {
    LogAppend {
        entry: pb::LogEntry {
            time_ms: now_ms(),
            kind: Some(pb::log_entry::Kind::Consent(pb::ConsentEntry {
                action: action as i32,
                consent_id: grant_id.to_owned(),
                borrower_key: borrower.to_vec(),
                grantee_institution: grantee.to_owned(),
                envelope_sha256: sha256(env),
                from_institution: from.to_owned(),
            })),
        },
        query_index: None,
    }
}

impl Node {
    /// Signs, stores and logs a new grant for this institution.
    pub async fn issue_consent(
        &self,
        req: pb::IssueConsentRequest,
    ) -> Result<(String, pb::SignedEnvelope), NodeError> {
        let now = now_ms();
        let random: [u8; 8] = ring::rand::generate(&ring::rand::SystemRandom::new())
            .map(|r: ring::rand::Random<[u8; 8]>| r.expose())
            .map_err(|_| NodeError::FailedPrecondition("no system randomness".into()))?;
        let grant = pb::ConsentGrant {
            consent_id: consent::new_consent_id(self.institution(), now, random),
            borrower_key: req.borrower_key,
            grantee_institution: self.institution().to_string(),
            purposes: req.purposes,
            scope: req.scope,
            not_before_ms: if req.not_before_ms == 0 {
                now
            } else {
                req.not_before_ms
            },
            not_after_ms: req.not_after_ms,
            authorization_sha256: req.authorization_sha256,
            issued_at_ms: now,
        };
        consent::validate_new_grant(&grant, now, &self.config.policy)
            .map_err(|e| NodeError::invalid(e.field, e.reason))?;
        let envelope = self
            .signer
            .sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec());
        let log = consent_entry(
            pb::ConsentAction::Issued,
            &grant.consent_id,
            &grant.borrower_key,
            &grant.grantee_institution,
            &envelope.payload,
            "",
        );
        self.committer
            .commit(CommitRequest {
                log: vec![log],
                puts: vec![(grant_key(&grant.consent_id), envelope.encode_to_vec())],
                ..Default::default()
            })
            .await?;
        tracing::info!(consent_id = %grant.consent_id, "consent issued");
        Ok((grant.consent_id, envelope))
    }

    /// Signs a revocation, stores it with one outbox item per peer, logs it,
    /// then tries every peer once; the outbox task retries the rest.
    pub async fn revoke_consent(
        &self,
        consent_id: &str,
        reason: &str,
    ) -> Result<pb::RevokeConsentResponse, NodeError> {
        let store = self.store.clone();
        let id = consent_id.to_owned();
        let grant_env = tokio::task::spawn_blocking(move || store.grant(&id))
            .await
            .map_err(|e| NodeError::FailedPrecondition(e.to_string()))??
            .ok_or_else(|| {
                NodeError::NotFound(format!("no consent {consent_id} was issued by this node"))
            })?;
        let grant = pb::ConsentGrant::decode(grant_env.payload.as_slice())
            .map_err(|e| NodeError::FailedPrecondition(format!("stored grant: {e}")))?;
        let own = self.institution().to_string();
        if self.revocations.contains(&own, consent_id) {
            return Err(NodeError::FailedPrecondition(format!(
                "consent {consent_id} is already revoked"
            )));
        }
        let revocation = pb::ConsentRevocation {
            consent_id: consent_id.to_owned(),
            grantee_institution: own.clone(),
            grant_sha256: sha256(&grant_env.payload),
            grant_not_after_ms: grant.not_after_ms,
            revoked_at_ms: now_ms(),
            reason: reason.chars().take(200).collect(),
        };
        let envelope = self
            .signer
            .sign_envelope(CONSENT_REVOCATION_TYPE, revocation.encode_to_vec());
        let bytes = envelope.encode_to_vec();
        let mut puts = vec![(revocation_key(&own, consent_id), bytes.clone())];
        for peer in self.federation.peers() {
            puts.push((
                outbox_key(peer.institution.as_str(), consent_id),
                bytes.clone(),
            ));
        }
        let log = consent_entry(
            pb::ConsentAction::Revoked,
            consent_id,
            &grant.borrower_key,
            &own,
            &envelope.payload,
            "",
        );
        self.committer
            .commit(CommitRequest {
                log: vec![log],
                puts,
                ..Default::default()
            })
            .await?;
        self.revocations.insert(&own, consent_id);
        tracing::info!(consent_id, "consent revoked; notifying peers");
        let (delivered_to, pending) = self.deliver_outbox().await?;
        Ok(pb::RevokeConsentResponse {
            revocation: Some(envelope),
            delivered_to: delivered_to
                .into_iter()
                .filter(|(_, id)| id == consent_id)
                .map(|(p, _)| p)
                .collect(),
            pending: pending
                .into_iter()
                .filter(|(_, id)| id == consent_id)
                .map(|(p, _)| p)
                .collect(),
        })
    }

    /// One delivery pass over the outbox: every pending revocation to its
    /// peer, concurrently. Acknowledged and expired items are removed.
    /// Returns (delivered, still pending) as (peer, consent id) pairs.
    #[allow(clippy::type_complexity)]
    pub async fn deliver_outbox(
        &self,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), NodeError> {
        let store = self.store.clone();
        let items = tokio::task::spawn_blocking(move || store.outbox())
            .await
            .map_err(|e| NodeError::FailedPrecondition(e.to_string()))??;
        if items.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let now = now_ms();
        let attempts = items.into_iter().map(|item| async move {
            let expired = pb::ConsentRevocation::decode(item.revocation.payload.as_slice())
                .map(|r| r.grant_not_after_ms < now)
                .unwrap_or(true);
            if expired {
                return (item, true, true);
            }
            let Some(peer) = InstitutionId::parse(&item.peer).ok().and_then(|p| self.federation.get(&p).cloned()) else {
                return (item, false, true);
            };
            let mut request = tonic::Request::new(pb::NotifyRevocationRequest {
                revocation: Some(item.revocation.clone()),
            });
            request.set_timeout(DELIVERY_TIMEOUT);
            let result = tokio::time::timeout(DELIVERY_TIMEOUT, peer.client().notify_revocation(request)).await;
            let ok = matches!(result, Ok(Ok(_)));
            if !ok {
                tracing::debug!(peer = %item.peer, consent_id = %item.consent_id, "revocation not delivered yet");
            }
            (item, ok, false)
        });
        let results = futures::future::join_all(attempts).await;
        let mut removes = Vec::new();
        let (mut delivered, mut pending) = (Vec::new(), Vec::new());
        for (item, ok, drop) in results {
            if ok || drop {
                removes.push(item.key.clone());
            }
            if ok {
                tracing::info!(peer = %item.peer, consent_id = %item.consent_id, "revocation delivered");
                delivered.push((item.peer, item.consent_id));
            } else if !drop {
                pending.push((item.peer, item.consent_id));
            }
        }
        if !removes.is_empty() {
            self.committer
                .commit(CommitRequest {
                    removes,
                    ..Default::default()
                })
                .await?;
        }
        Ok((delivered, pending))
    }

    /// A revocation pushed by the grantee's node. Verified (signature,
    /// chain, originator == the calling node), stored, logged.
    pub async fn receive_revocation(
        &self,
        envelope: pb::SignedEnvelope,
        from: &InstitutionId,
    ) -> Result<bool, NodeError> {
        self.verifier.verify(
            &envelope,
            CONSENT_REVOCATION_TYPE,
            Some(from),
            SystemTime::now(),
        )?;
        let revocation =
            pb::ConsentRevocation::decode(envelope.payload.as_slice()).map_err(|e| {
                NodeError::invalid("revocation", format!("payload does not decode: {e}"))
            })?;
        if revocation.grantee_institution != from.as_str() {
            return Err(NodeError::invalid(
                "revocation.grantee_institution",
                format!("{} may only revoke its own consents", from),
            ));
        }
        if revocation.consent_id.is_empty() || revocation.consent_id.len() > 128 {
            return Err(NodeError::invalid(
                "revocation.consent_id",
                "must be 1-128 bytes",
            ));
        }
        if self
            .revocations
            .contains(from.as_str(), &revocation.consent_id)
        {
            return Ok(false);
        }
        let log = consent_entry(
            pb::ConsentAction::RevocationReceived,
            &revocation.consent_id,
            &[],
            from.as_str(),
            &envelope.payload,
            from.as_str(),
        );
        self.committer
            .commit(CommitRequest {
                log: vec![log],
                puts: vec![(
                    revocation_key(from.as_str(), &revocation.consent_id),
                    envelope.encode_to_vec(),
                )],
                ..Default::default()
            })
            .await?;
        self.revocations
            .insert(from.as_str(), &revocation.consent_id);
        tracing::info!(grantee = %from, consent_id = %revocation.consent_id, "revocation received");
        Ok(true)
    }

    /// Grants this node issued, with their state and pending deliveries.
    pub async fn list_consents(
        &self,
        borrower: Option<[u8; 32]>,
        include_inactive: bool,
    ) -> Result<Vec<pb::ConsentSummary>, NodeError> {
        let store = self.store.clone();
        let own = self.institution().to_string();
        let now = now_ms();
        tokio::task::spawn_blocking(move || {
            let outbox = store.outbox()?;
            let mut out = Vec::new();
            for (id, env) in store.grants()? {
                let Ok(grant) = pb::ConsentGrant::decode(env.payload.as_slice()) else {
                    continue;
                };
                if borrower.is_some_and(|b| b.as_slice() != grant.borrower_key.as_slice()) {
                    continue;
                }
                let state = consent::consent_state(&grant, store.is_revoked(&own, &id)?, now);
                if !include_inactive && state != pb::ConsentState::Active {
                    continue;
                }
                out.push(pb::ConsentSummary {
                    revocation_pending: outbox
                        .iter()
                        .filter(|o| o.consent_id == id)
                        .map(|o| o.peer.clone())
                        .collect(),
                    consent_id: id,
                    state: state as i32,
                    grant: Some(env),
                });
            }
            Ok(out)
        })
        .await
        .map_err(|e| NodeError::FailedPrecondition(e.to_string()))?
    }
}

/// Retries the revocation outbox until shutdown: every `interval`, one pass.
pub fn spawn_outbox_task(
    node: Arc<Node>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
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
