//! Answer a peer's query — the holder's side (docs/design.md §4, §5):
//! verify the grant (cached by hash) or, for post-loan management (reason
//! 01), the requester's relationship record ([`post_loan`]), decide, build the answer, log
//! the query durably through the group commit, and only then release the
//! answer with its receipt. Denials are logged exactly like answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credshare_proto::v1 as pb;
use prost::Message;

mod post_loan;

use super::Node;
use super::caches::VerifiedGrant;
use super::reason_counts::QueryTally;
use crate::audit;
use crate::domain::consent::{self, Denial};
use crate::domain::{BorrowerKey, Purpose, Scope, disputes};
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::signing::{
    CONSENT_GRANT_TYPE, CREDIT_SUMMARY_TYPE, SigningError, VISIT_SUMMARY_TYPE, sha256,
};
use crate::storage::{CommitReply, CommitRequest, LogAppend};

/// Longest request nonce accepted, bytes.
pub const MAX_NONCE_BYTES: usize = 64;
/// Longest consent id written to the log, characters.
const MAX_LOGGED_CONSENT_ID: usize = 128;

/// A peer's query, converted from the wire (`grpc/convert.rs`). Purpose and
/// scope are `None` when the request named no known value: such a query is
/// refused and logged like any other denial.
#[derive(Debug, Clone)]
pub struct PeerQuery {
    pub borrower: BorrowerKey,
    /// Required for every reason but 01.
    pub consent: Option<pb::SignedEnvelope>,
    /// Reason 01: the requester's own signed credit record of the borrower.
    pub relationship: Option<pb::SignedEnvelope>,
    pub purpose: Option<Purpose>,
    pub scope: Option<Scope>,
    pub nonce: Vec<u8>,
    /// The requester's officer, checked at the edge; empty for none.
    pub officer: String,
}

/// The grant of a query: verified, or refused with the consent id it
/// carries (when its payload decodes), for the log.
type GrantDecision = Result<VerifiedGrant, (Denial, String)>;

/// What a decision rested on, for the log: the consent id the query named,
/// or the content hash of its relationship record (reason 01).
#[derive(Debug, Default)]
struct Basis {
    consent_id: String,
    relationship_sha256: Vec<u8>,
}

impl Node {
    /// Answers a peer's consented query; see the module docs.
    pub async fn answer_query(
        &self,
        requester: &InstitutionId,
        query: PeerQuery,
    ) -> Result<pb::QueryBorrowerResponse, NodeError> {
        let started = std::time::Instant::now();
        // Before any verification or store read: a flood costs a counter.
        if let Err(e) = self
            .limiter
            .take(requester, self.config.policy.rate_limit_per_minute)
        {
            let peer = requester.to_string();
            let label = crate::metrics::PeerLabel { peer };
            self.metrics.rate_limited.get_or_create(&label).inc();
            self.refusals
                .count(requester, super::refused::Refused::Query);
            return Err(e);
        }
        // One clock for the whole decision and its log entry.
        let now = SystemTime::now();
        let now_ms = unix_ms(now);
        let (decision, basis) = self.decide(requester, &query, now, now_ms);
        let mut entry = query_entry(requester, &query, &basis);
        let answer = match &decision {
            Ok(_) => {
                let scope = query.scope.unwrap_or(Scope::Summary);
                let answer = self.build_answer(query.borrower, scope).await?;
                entry.decision = pb::Decision::Answered as i32;
                entry.disclosed_records = (answer.records.len() as u32)
                    .max(answer.indicators.as_ref().map_or(0, |i| i.facility_count));
                // Encoded once: the receipt covers exactly the bytes sent.
                let bytes = answer.encode_to_vec();
                entry.response_sha256 = sha256(&bytes);
                Some(bytes)
            }
            Err(denial) => {
                entry.decision = pb::Decision::Denied as i32;
                entry.denial_reason = denial.reason as i32;
                None
            }
        };
        let receipt = self
            .log_peer_query(entry.clone(), query.borrower, now_ms)
            .await?;
        self.watch_query(&entry, now_ms).await;
        let tally = match answer {
            Some(_) => QueryTally::Answered,
            None => QueryTally::Denied,
        };
        self.reason_counts.add(query.purpose, tally, 1);
        self.count_query(requester, &query, &decision, started);
        tracing::info!(
            requester = %requester,
            officer = %query.officer,
            purpose = query.purpose.map_or("00 UNSPECIFIED".into(), Purpose::label),
            scope = crate::domain::purpose::scope_name(query.scope),
            consent_id = %basis.consent_id,
            decision = if answer.is_some() { "ANSWERED" } else { "DENIED" },
            leaf = receipt.leaf_index,
            "peer query"
        );
        match (answer, decision) {
            (Some(answer), _) => Ok(pb::QueryBorrowerResponse {
                answer,
                receipt: Some(receipt),
            }),
            (None, Err(denial)) => Err(NodeError::Denied {
                denial,
                receipt: Some(Box::new(receipt)),
            }),
            (None, Ok(_)) => Err(NodeError::internal("answer missing")),
        }
    }

    /// Counts an answered or denied query and its latency (metrics).
    fn count_query(
        &self,
        requester: &InstitutionId,
        query: &PeerQuery,
        decision: &Result<(), Denial>,
        started: std::time::Instant,
    ) {
        let reason = match decision {
            Ok(_) => String::new(),
            Err(denial) => denial
                .reason
                .as_str_name()
                .trim_start_matches("DENIAL_REASON_")
                .to_owned(),
        };
        let labels = crate::metrics::QueryLabels {
            peer: requester.to_string(),
            purpose: query.purpose.map_or("UNSPECIFIED", Purpose::name).into(),
            scope: crate::domain::purpose::scope_name(query.scope).into(),
            decision: if decision.is_ok() {
                "ANSWERED"
            } else {
                "DENIED"
            }
            .into(),
            reason,
        };
        self.metrics.queries.get_or_create(&labels).inc();
        let took = started.elapsed().as_secs_f64();
        self.metrics.query_seconds.observe(took);
    }

    /// Decides a query: reason 01 on its relationship record
    /// ([`post_loan`]), every other reason on its consent grant; local
    /// policy applies to both.
    fn decide(
        &self,
        requester: &InstitutionId,
        query: &PeerQuery,
        now: SystemTime,
        now_ms: i64,
    ) -> (Result<(), Denial>, Basis) {
        let ctx = consent::QueryContext {
            requester,
            borrower_key: query.borrower.as_bytes(),
            purpose: query.purpose,
            scope: query.scope,
            now_ms,
        };
        if query.purpose == Some(Purpose::PostLoanManagement) {
            return self.decide_post_loan(&ctx, query.relationship.as_ref(), now);
        }
        let Some(envelope) = &query.consent else {
            let message = format!(
                "reason {} needs the borrower's consent grant; only 01 post-loan management goes without one",
                query
                    .purpose
                    .map_or("00 UNSPECIFIED".into(), Purpose::label)
            );
            let denial = Denial::new(pb::DenialReason::NoRelationship, message);
            return (Err(denial), Basis::default());
        };
        let verified = match self.verified_grant(envelope, now) {
            Ok(verified) => verified,
            Err((denial, consent_id)) => {
                let basis = Basis {
                    consent_id,
                    ..Default::default()
                };
                return (Err(denial), basis);
            }
        };
        let revoked = self.revocations.contains(
            &verified.grant.grantee_institution,
            &verified.grant.consent_id,
        );
        let outcome = consent::decide(
            &verified.grant,
            &verified.signer,
            &ctx,
            revoked,
            &self.config.policy,
        );
        let basis = Basis {
            consent_id: verified.grant.consent_id,
            ..Default::default()
        };
        (outcome, basis)
    }

    /// Verifies a grant envelope (or finds it in the cache) and decodes it,
    /// once. A refused envelope still names its consent id when its payload
    /// decodes, so the denial is logged under it.
    fn verified_grant(&self, env: &pb::SignedEnvelope, now: SystemTime) -> GrantDecision {
        let digest = envelope_digest(env);
        if let Some(hit) = self.grants.get(&digest, now) {
            return Ok(hit);
        }
        let decoded = pb::ConsentGrant::decode(env.payload.as_slice());
        let signer = match self.verifier().verify(env, CONSENT_GRANT_TYPE, None, now) {
            Ok(signer) => signer,
            Err(e) => {
                // Unverified: only its hash reaches the log and the history.
                let id = decoded
                    .map(|g| unverified_id(&g.consent_id))
                    .unwrap_or_default();
                let denial = Denial::new(signing_denial(&e), format!("consent envelope: {e}"));
                return Err((denial, id));
            }
        };
        let grant = decoded.map_err(|e| {
            let message = format!("consent payload does not decode: {e}");
            (
                Denial::new(pb::DenialReason::BadSignature, message),
                String::new(),
            )
        })?;
        let verified = VerifiedGrant {
            grant,
            signer: signer.identity.institution.clone(),
            cert_not_after: signer.not_after,
        };
        self.grants.insert(digest, verified.clone());
        Ok(verified)
    }

    /// The answer: indicators always, records at DETAIL. SUMMARY answers
    /// come from the indicator cache when they can.
    pub(crate) async fn build_answer(
        &self,
        borrower: BorrowerKey,
        scope: Scope,
    ) -> Result<pb::BorrowerAnswer, NodeError> {
        let today = self.config.business_time_zone.today();
        let (cached, generation) = self.indicators.get(&borrower, today);
        let (indicators, envelopes, annotations) = match cached {
            Some(hit) if scope != Scope::Detail => ((*hit).clone(), Vec::new(), Vec::new()),
            _ => {
                let (indicators, envelopes, annotations) = self.read_borrower(&borrower, today)?;
                let shared = std::sync::Arc::new(indicators.clone());
                self.indicators.fill(borrower, today, generation, shared);
                (indicators, envelopes, annotations)
            }
        };
        let detail = scope == Scope::Detail;
        Ok(pb::BorrowerAnswer {
            institution_id: self.institution().to_string(),
            scope: scope.to_wire() as i32,
            indicators: Some(indicators),
            records: if detail { envelopes } else { Vec::new() },
            annotations: if detail { annotations } else { Vec::new() },
        })
    }

    /// Current records of a borrower: their indicators (disputed records
    /// left out and listed apart), envelopes, and signed annotations.
    #[allow(clippy::type_complexity)]
    fn read_borrower(
        &self,
        borrower: &BorrowerKey,
        today: time::Date,
    ) -> Result<
        (
            pb::BorrowerIndicators,
            Vec<pb::SignedEnvelope>,
            Vec<pb::SignedEnvelope>,
        ),
        NodeError,
    > {
        if self.on_legal_hold(borrower) {
            // Frozen: stored, never served (PIPL art. 47).
            return Ok((indicators_with_nothing(today), Vec::new(), Vec::new()));
        }
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
        let annotations = self.store.annotations(Some(borrower))?;
        let marks: Vec<pb::Annotation> = annotations
            .iter()
            .filter_map(|e| pb::Annotation::decode(e.payload.as_slice()).ok())
            .collect();
        let indicators = disputes::indicators_with_disputes(&credits, &visits, &marks, today);
        Ok((indicators, envelopes, annotations))
    }

    /// Appends the entry durably and returns its receipt.
    async fn log_peer_query(
        &self,
        entry: pb::PeerQueryEntry,
        borrower: BorrowerKey,
        time_ms: i64,
    ) -> Result<pb::Receipt, NodeError> {
        let entry = pb::LogEntry {
            time_ms,
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
            .ok_or_else(|| NodeError::internal("the writer returned no leaf"))?;
        self.receipt(leaf, bytes, &reply)
    }

    /// A receipt for `leaf` against the checkpoint of the batch that
    /// appended it; the batch's own hashes make the proof.
    pub(crate) fn receipt(
        &self,
        leaf: u64,
        entry: Vec<u8>,
        reply: &CommitReply,
    ) -> Result<pb::Receipt, NodeError> {
        audit::issue_receipt(
            &reply.proof_hashes(&self.store),
            leaf,
            entry,
            reply.checkpoint.size,
            reply.checkpoint.note.clone(),
            self.signer().certificate_der().to_vec(),
        )
        .map_err(|e| NodeError::internal(format!("inclusion proof: {e}")))
    }
}

/// The log entry of a query, before its decision is known.
fn query_entry(requester: &InstitutionId, query: &PeerQuery, basis: &Basis) -> pb::PeerQueryEntry {
    pb::PeerQueryEntry {
        requester_institution: requester.to_string(),
        borrower_key: query.borrower.as_bytes().to_vec(),
        purpose: query.purpose.map_or(0, |p| p.to_wire() as i32),
        scope: query.scope.map_or(0, |s| s.to_wire() as i32),
        consent_id: basis
            .consent_id
            .chars()
            .take(MAX_LOGGED_CONSENT_ID)
            .collect(),
        relationship_sha256: basis.relationship_sha256.clone(),
        request_nonce: query.nonce.clone(),
        requester_officer: query.officer.clone(),
        ..Default::default()
    }
}

fn indicators_with_nothing(today: time::Date) -> pb::BorrowerIndicators {
    disputes::indicators_with_disputes(&[], &[], &[], today)
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

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// How an unverified consent id is recorded: a prefix of its SHA-256, so a
/// peer cannot write text of its choice into the log, history or terminal,
/// yet the grantee can still match it against the id it sent.
fn unverified_id(consent_id: &str) -> String {
    if consent_id.is_empty() {
        return String::new();
    }
    let digest = crate::signing::sha256(consent_id.as_bytes());
    format!("unverified-sha256:{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod unverified_tests {
    #[test]
    fn unverified_consent_ids_are_recorded_as_hashes() {
        let id = super::unverified_id("C-1\n  12  FORGED\u{1b}[2J");
        assert!(id.starts_with("unverified-sha256:"), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_graphic()), "{id}");
        assert_eq!(super::unverified_id(""), "");
    }
}
