//! Consents this institution holds from its borrowers (docs/design.md §4):
//! grants it issues as the grantee, attesting that it holds the borrower's
//! written authorization; revocations it issues (delivered to every peer by
//! [`super::delivery`]); and revocations it receives as a holder.

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::blocking;
use crate::domain::{BorrowerKey, consent, dates::now_ms};
use crate::error::NodeError;
use crate::signing::{CONSENT_GRANT_TYPE, CONSENT_REVOCATION_TYPE, sha256};
use crate::storage::{CommitRequest, ConsentWrite, LogAppend};

/// Longest revocation reason kept, characters.
const MAX_REASON_CHARS: usize = 200;
/// Longest consent id a received revocation may carry, bytes.
pub(super) const MAX_CONSENT_ID_BYTES: usize = 128;

/// A grant an officer asks this node to issue (from `IssueConsent`).
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub borrower: BorrowerKey,
    /// Wire purpose values; checked by [`consent::validate_new_grant`].
    pub purposes: Vec<i32>,
    /// Wire scope value; checked likewise.
    pub scope: i32,
    /// 0 = from now.
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    pub authorization_sha256: Vec<u8>,
    /// The officer issuing it (logged).
    pub officer: String,
    /// Wire generation of `borrower` (0 = 1); must be the one served.
    pub key_generation: u32,
}

/// The log entry of a consent event; `grant` gives the borrower key and
/// its generation (none for a received revocation).
pub(super) fn consent_entry(
    action: pb::ConsentAction,
    consent_id: &str,
    grant: Option<&pb::ConsentGrant>,
    grantee: &str,
    payload: &[u8],
    from: &str,
    officer: &str,
) -> LogAppend {
    LogAppend {
        entry: pb::LogEntry {
            time_ms: now_ms(),
            kind: Some(pb::log_entry::Kind::Consent(pb::ConsentEntry {
                action: action as i32,
                consent_id: consent_id.to_owned(),
                borrower_key: grant.map(|g| g.borrower_key.clone()).unwrap_or_default(),
                key_generation: grant.map_or(0, |g| g.key_generation),
                grantee_institution: grantee.to_owned(),
                envelope_sha256: sha256(payload),
                from_institution: from.to_owned(),
                officer: officer.to_owned(),
            })),
        },
        query_index: None,
    }
}

impl Node {
    /// Signs, stores and logs a new grant for this institution; returns its
    /// consent id and signed envelope.
    pub async fn issue_consent(
        &self,
        req: ConsentRequest,
    ) -> Result<(String, pb::SignedEnvelope), NodeError> {
        self.check_generation(req.key_generation)?;
        let now = now_ms();
        let random: [u8; 8] = ring::rand::generate(&ring::rand::SystemRandom::new())
            .map(|r: ring::rand::Random<[u8; 8]>| r.expose())
            .map_err(|_| NodeError::internal("no system randomness"))?;
        let grant = pb::ConsentGrant {
            consent_id: consent::new_consent_id(self.institution(), now, random),
            borrower_key: req.borrower.as_bytes().to_vec(),
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
            key_generation: self.key_generation().to_wire(),
        };
        consent::validate_new_grant(&grant, now, &self.config.policy)?;
        let envelope = self
            .signer()
            .sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec());
        let log = consent_entry(
            pb::ConsentAction::Issued,
            &grant.consent_id,
            Some(&grant),
            &grant.grantee_institution,
            &envelope.payload,
            "",
            &req.officer,
        );
        self.committer
            .commit(CommitRequest {
                log: vec![log],
                consents: vec![ConsentWrite::Grant {
                    consent_id: grant.consent_id.clone(),
                    envelope: envelope.clone(),
                }],
                ..Default::default()
            })
            .await?;
        tracing::info!(consent_id = %grant.consent_id, "consent issued");
        Ok((grant.consent_id, envelope))
    }

    /// A grant this node issued, with its envelope.
    pub(crate) async fn issued_grant(
        &self,
        consent_id: &str,
    ) -> Result<(pb::ConsentGrant, pb::SignedEnvelope), NodeError> {
        let store = self.store.clone();
        let id = consent_id.to_owned();
        let envelope = blocking::run(move || store.grant(&id))
            .await?
            .ok_or_else(|| {
                NodeError::NotFound(format!("no consent {consent_id} was issued by this node"))
            })?;
        let grant = pb::ConsentGrant::decode(envelope.payload.as_slice())
            .map_err(|e| NodeError::internal(format!("stored grant {consent_id}: {e}")))?;
        Ok((grant, envelope))
    }

    /// Signs a revocation, stores it with one outbox item per peer, logs it,
    /// then tries every peer once; the delivery task retries the rest.
    pub async fn revoke_consent(
        &self,
        consent_id: &str,
        reason: &str,
        officer: &str,
    ) -> Result<pb::RevokeConsentResponse, NodeError> {
        let (grant, grant_env) = self.issued_grant(consent_id).await?;
        let own = self.institution().to_string();
        if !self.revocations.claim(&own, consent_id, grant.not_after_ms) {
            return Err(NodeError::FailedPrecondition(format!(
                "consent {consent_id} is already revoked"
            )));
        }
        let envelope = self.sign_revocation(&grant, &grant_env, reason);
        let consents = self.revocation_writes(consent_id, &envelope);
        let log = consent_entry(
            pb::ConsentAction::Revoked,
            consent_id,
            Some(&grant),
            &own,
            &envelope.payload,
            "",
            officer,
        );
        let stored = self
            .committer
            .commit(CommitRequest {
                log: vec![log],
                consents,
                ..Default::default()
            })
            .await;
        if let Err(e) = stored {
            self.revocations.release(&own, consent_id);
            return Err(e.into());
        }
        tracing::info!(consent_id, "consent revoked; notifying peers");
        let pass = self.deliver_outbox().await?;
        let only_this = |pairs: Vec<(String, String)>| -> Vec<String> {
            pairs
                .into_iter()
                .filter(|(_, id)| id == consent_id)
                .map(|(peer, _)| peer)
                .collect()
        };
        Ok(pb::RevokeConsentResponse {
            revocation: Some(envelope),
            delivered_to: only_this(pass.delivered),
            pending: only_this(pass.pending),
        })
    }

    /// Signs the revocation of one of our grants.
    fn sign_revocation(
        &self,
        grant: &pb::ConsentGrant,
        grant_env: &pb::SignedEnvelope,
        reason: &str,
    ) -> pb::SignedEnvelope {
        let revocation = pb::ConsentRevocation {
            consent_id: grant.consent_id.clone(),
            grantee_institution: self.institution().to_string(),
            grant_sha256: sha256(&grant_env.payload),
            grant_not_after_ms: grant.not_after_ms,
            revoked_at_ms: now_ms(),
            reason: reason.chars().take(MAX_REASON_CHARS).collect(),
        };
        self.signer()
            .sign_envelope(CONSENT_REVOCATION_TYPE, revocation.encode_to_vec())
    }

    /// The revocation itself and one outbox item per configured peer.
    fn revocation_writes(
        &self,
        consent_id: &str,
        envelope: &pb::SignedEnvelope,
    ) -> Vec<ConsentWrite> {
        let mut writes = vec![ConsentWrite::Revocation {
            grantee: self.institution().to_string(),
            consent_id: consent_id.to_owned(),
            envelope: envelope.clone(),
        }];
        writes.extend(
            self.federation
                .peers()
                .iter()
                .map(|peer| ConsentWrite::Outbox {
                    peer: peer.institution.to_string(),
                    consent_id: consent_id.to_owned(),
                    envelope: envelope.clone(),
                }),
        );
        writes
    }

    /// Grants this node issued, with their state and pending deliveries;
    /// only active ones unless `include_inactive`.
    pub async fn list_consents(
        &self,
        borrower: Option<BorrowerKey>,
        include_inactive: bool,
    ) -> Result<Vec<pb::ConsentSummary>, NodeError> {
        let store = self.store.clone();
        let own = self.institution().to_string();
        let now = now_ms();
        blocking::run(move || {
            let outbox = store.outbox()?;
            let mut out = Vec::new();
            for (id, env) in store.grants()? {
                let Ok(grant) = pb::ConsentGrant::decode(env.payload.as_slice()) else {
                    continue;
                };
                if borrower.is_some_and(|b| b.as_bytes().as_slice() != grant.borrower_key) {
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
    }
}
