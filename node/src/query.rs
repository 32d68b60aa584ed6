//! The holder's side of a consented peer query (DESIGN §4, §5): verify the
//! grant (cached by hash), decide, build the answer, log the query durably
//! through the group commit, and only then release the answer with its
//! receipt. Denials are logged exactly like answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::{consent, indicators, records};
use crate::error::NodeError;
use crate::node::Node;
use crate::pki::InstitutionId;
use crate::signing::{CONSENT_GRANT_TYPE, CREDIT_SUMMARY_TYPE, SigningError, VISIT_SUMMARY_TYPE};
use crate::storage::commit::{CommittedCheckpoint, OverlayStore, ProofOverlay, now_ms};
use crate::storage::{CommitRequest, LogAppend};

/// Longest request nonce accepted, bytes.
pub const MAX_NONCE_BYTES: usize = 64;
/// Verified grants kept in the cache, at most.
const GRANT_CACHE_ENTRIES: usize = 16_384;

/// A grant whose envelope verified.
#[derive(Clone)]
struct VerifiedGrant {
    grant: pb::ConsentGrant,
    signer: InstitutionId,
    /// The signer certificate's end of validity.
    cert_not_after: SystemTime,
}

/// Verified grants by hash of the whole envelope, so a repeated query costs
/// no signature check. Bounded; cleared when full.
#[derive(Default)]
pub struct GrantCache {
    entries: Mutex<HashMap<[u8; 32], VerifiedGrant>>,
}

/// Per-requester token buckets (`policy.rate_limit_per_minute`).
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<InstitutionId, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token for `who`, or says when it would be available.
    pub fn take(&self, who: &InstitutionId, per_minute: u32) -> Result<(), NodeError> {
        let capacity = f64::from(per_minute);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(who.clone()).or_insert((capacity, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * capacity / 60.0).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(NodeError::RateLimited(format!(
                "{who} exceeds {per_minute} queries per minute; retry later"
            )))
        }
    }
}

fn envelope_digest(env: &pb::SignedEnvelope) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(env.payload_type.as_bytes());
    ctx.update(&[0]);
    ctx.update(&env.payload);
    for s in &env.signatures {
        ctx.update(&[0]);
        ctx.update(s.keyid.as_bytes());
        ctx.update(&s.sig);
        ctx.update(&s.certificate);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn signing_denial(e: &SigningError) -> pb::DenialReason {
    match e {
        SigningError::UntrustedSigner(_) | SigningError::WrongOriginator { .. } => {
            pb::DenialReason::UntrustedSigner
        }
        SigningError::BadSignature(_) | SigningError::Pki(_) | SigningError::Setup(_) => {
            pb::DenialReason::BadSignature
        }
    }
}

struct Denied(pb::DenialReason, String);

impl Node {
    /// Verifies a grant envelope (or finds it in the cache) and decodes it.
    fn verified_grant(&self, env: &pb::SignedEnvelope) -> Result<VerifiedGrant, Denied> {
        let digest = envelope_digest(env);
        let now = SystemTime::now();
        if let Some(hit) = self
            .grants
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            && hit.cert_not_after > now
        {
            return Ok(hit.clone());
        }
        let signer = self
            .verifier
            .verify(env, CONSENT_GRANT_TYPE, None, now)
            .map_err(|e| Denied(signing_denial(&e), format!("consent envelope: {e}")))?;
        let grant = pb::ConsentGrant::decode(env.payload.as_slice()).map_err(|e| {
            Denied(
                pb::DenialReason::BadSignature,
                format!("consent payload does not decode: {e}"),
            )
        })?;
        let verified = VerifiedGrant {
            grant,
            signer: signer.identity.institution.clone(),
            cert_not_after: signer.not_after,
        };
        let mut cache = self
            .grants
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() >= GRANT_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(digest, verified.clone());
        Ok(verified)
    }

    /// Answers a peer's consented query; see the module docs.
    pub async fn answer_query(
        &self,
        requester: &InstitutionId,
        req: pb::QueryBorrowerRequest,
    ) -> Result<pb::QueryBorrowerResponse, NodeError> {
        let borrower: [u8; 32] = req
            .borrower_key
            .as_slice()
            .try_into()
            .map_err(|_| NodeError::invalid("borrower_key", "must be 32 bytes"))?;
        let env = req
            .consent
            .as_ref()
            .ok_or_else(|| NodeError::invalid("consent", "missing"))?;
        if req.request_nonce.len() > MAX_NONCE_BYTES {
            return Err(NodeError::invalid(
                "request_nonce",
                format!("at most {MAX_NONCE_BYTES} bytes"),
            ));
        }
        let purpose = pb::Purpose::try_from(req.purpose).unwrap_or(pb::Purpose::Unspecified);
        let scope = pb::Scope::try_from(req.scope).unwrap_or(pb::Scope::Unspecified);
        self.limiter
            .take(requester, self.config.policy.rate_limit_per_minute)?;

        let now = now_ms();
        let decision = self.verified_grant(env).and_then(|v| {
            let revoked = self
                .revocations
                .contains(&v.grant.grantee_institution, &v.grant.consent_id);
            let ctx = consent::QueryContext {
                requester,
                borrower_key: &borrower,
                purpose,
                scope,
                now_ms: now,
            };
            consent::decide(&v.grant, &v.signer, &ctx, revoked, &self.config.policy)
                .map_err(|d| Denied(d.reason, d.message))?;
            Ok(v.grant)
        });
        let consent_id = match &decision {
            Ok(g) => g.consent_id.clone(),
            Err(_) => pb::ConsentGrant::decode(env.payload.as_slice())
                .map(|g| g.consent_id)
                .unwrap_or_default(),
        };
        let mut entry = pb::PeerQueryEntry {
            requester_institution: requester.to_string(),
            borrower_key: borrower.to_vec(),
            purpose: purpose as i32,
            scope: scope as i32,
            consent_id: consent_id.chars().take(128).collect(),
            request_nonce: req.request_nonce.clone(),
            ..Default::default()
        };
        let answer = match &decision {
            Ok(_) => {
                let answer = self.build_answer(borrower, scope).await?;
                entry.decision = pb::Decision::Answered as i32;
                entry.response_sha256 =
                    ring::digest::digest(&ring::digest::SHA256, &answer.encode_to_vec())
                        .as_ref()
                        .to_vec();
                entry.disclosed_records = (answer.records.len() as u32)
                    .max(answer.indicators.as_ref().map_or(0, |i| i.facility_count));
                Some(answer)
            }
            Err(Denied(reason, _)) => {
                entry.decision = pb::Decision::Denied as i32;
                entry.denial_reason = *reason as i32;
                None
            }
        };
        let receipt = self.log_peer_query(entry, borrower).await?;
        tracing::info!(
            requester = %requester,
            purpose = purpose.as_str_name(),
            scope = scope.as_str_name(),
            consent_id = %consent_id,
            decision = if answer.is_some() { "ANSWERED" } else { "DENIED" },
            leaf = receipt.leaf_index,
            "peer query"
        );
        match (answer, decision) {
            (Some(mut answer), _) => {
                answer.receipt = Some(receipt);
                Ok(answer)
            }
            (None, Err(Denied(reason, message))) => Err(NodeError::Denied {
                reason,
                message,
                receipt: Some(Box::new(receipt)),
            }),
            (None, Ok(_)) => Err(NodeError::FailedPrecondition("answer missing".into())),
        }
    }

    /// The answer without its receipt: indicators always, records at DETAIL.
    /// SUMMARY answers come from the indicator cache when they can.
    pub(crate) async fn build_answer(
        &self,
        borrower: [u8; 32],
        scope: pb::Scope,
    ) -> Result<pb::QueryBorrowerResponse, NodeError> {
        let today = records::latest_date_anywhere();
        let (cached, generation) = self.indicators.get(&borrower, today);
        let (indicators, envelopes) = match cached {
            Some(hit) if scope != pb::Scope::Detail => ((*hit).clone(), Vec::new()),
            _ => {
                let (indicators, envelopes) = self.read_borrower(&borrower, today)?;
                self.indicators.fill(
                    borrower,
                    today,
                    generation,
                    std::sync::Arc::new(indicators.clone()),
                );
                (indicators, envelopes)
            }
        };
        Ok(pb::QueryBorrowerResponse {
            institution_id: self.institution().to_string(),
            scope: scope as i32,
            indicators: Some(indicators),
            records: if scope == pb::Scope::Detail {
                envelopes
            } else {
                Vec::new()
            },
            receipt: None,
        })
    }

    /// Current records of a borrower: their indicators and envelopes.
    fn read_borrower(
        &self,
        borrower: &[u8; 32],
        today: time::Date,
    ) -> Result<(pb::BorrowerIndicators, Vec<pb::SignedEnvelope>), NodeError> {
        let (stored, _) = self.store.borrower_records(borrower)?;
        let (mut credits, mut visits) = (Vec::new(), Vec::new());
        let mut envelopes = Vec::with_capacity(stored.len());
        for r in stored {
            let Some(env) = r.envelope else { continue };
            match env.payload_type.as_str() {
                CREDIT_SUMMARY_TYPE => {
                    credits.extend(pb::CreditSummary::decode(env.payload.as_slice()).ok())
                }
                VISIT_SUMMARY_TYPE => {
                    visits.extend(pb::VisitSummary::decode(env.payload.as_slice()).ok())
                }
                _ => {}
            }
            envelopes.push(env);
        }
        Ok((indicators::indicators(&credits, &visits, today), envelopes))
    }

    /// Appends the entry durably and returns its receipt.
    async fn log_peer_query(
        &self,
        entry: pb::PeerQueryEntry,
        borrower: [u8; 32],
    ) -> Result<pb::Receipt, NodeError> {
        let entry = pb::LogEntry {
            time_ms: now_ms(),
            kind: Some(pb::log_entry::Kind::PeerQuery(entry)),
        };
        let bytes = entry.encode_to_vec();
        let reply = self
            .committer
            .commit(CommitRequest {
                log: vec![LogAppend {
                    entry,
                    query_index: Some(borrower),
                }],
                ..Default::default()
            })
            .await?;
        let leaf = *reply
            .leaves
            .first()
            .ok_or_else(|| NodeError::FailedPrecondition("no leaf".into()))?;
        self.receipt(leaf, bytes, &reply.checkpoint, &reply.overlay)
    }

    /// A receipt for `leaf` against the checkpoint that covers it.
    pub fn receipt(
        &self,
        leaf: u64,
        entry: Vec<u8>,
        checkpoint: &CommittedCheckpoint,
        overlay: &ProofOverlay,
    ) -> Result<pb::Receipt, NodeError> {
        let size = checkpoint.size;
        // The batch's own hashes make the proof; the store only backs them up.
        let view = OverlayStore {
            overlay,
            store: &self.store,
        };
        let hashes = crate::audit::inclusion_proof(&view, leaf, size)
            .map_err(|e| NodeError::FailedPrecondition(format!("inclusion proof: {e}")))?;
        Ok(pb::Receipt {
            leaf_index: leaf,
            entry,
            checkpoint: Some(pb::Checkpoint {
                signed_note: checkpoint.note.clone(),
            }),
            proof: Some(pb::InclusionProof {
                leaf_index: leaf,
                tree_size: size,
                hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            }),
            signer_certificate: self.signer.certificate_der().to_vec(),
        })
    }
}
