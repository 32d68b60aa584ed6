//! Answer a peer's query — the holder's side (docs/design.md §4, §5):
//! decide on the grant (cached by hash) or, for post-loan management
//! (reason 01), the requester's relationship record ([`decide`],
//! [`post_loan`]), build the answer ([`disclosure`]), log the query durably
//! through the group commit, and only then release the answer with its
//! receipt. Denials are logged exactly like answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credshare_proto::v1 as pb;
use prost::Message;

mod decide;
mod disclosure;
mod post_loan;

use super::Node;
use super::reason_counts::QueryTally;
use crate::audit;
use crate::domain::consent::Denial;
use crate::domain::{BorrowerKey, Purpose, Scope};
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::signing::sha256;
use crate::storage::{CommitReply, CommitRequest, LogAppend};
use decide::Basis;

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
    /// The discovery receipt that found this holder (targeted assessment),
    /// checked at the edge; empty when the requester asked every member.
    pub discovery_receipt_id: String,
    /// Wire generation of `borrower` (0 = 1); a holder serving another
    /// denies the query (`KEY_GENERATION`, logged).
    pub key_generation: u32,
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
        self.admit_query(requester)?;
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
        self.watch_query(&entry, now_ms, receipt.leaf_index).await;
        let tally = match answer {
            Some(_) => QueryTally::Answered,
            None => QueryTally::Denied,
        };
        self.reason_counts.add(query.purpose, tally, 1);
        self.count_query(requester, &query, &decision, started);
        trace_answer(
            requester,
            &query,
            &basis.consent_id,
            answer.is_some(),
            &receipt,
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

    /// Takes one query from `requester`'s rate limit; a refusal costs a
    /// counter and a tally for the aggregated log entry, nothing more.
    fn admit_query(&self, requester: &InstitutionId) -> Result<(), NodeError> {
        let limit = self.config.policy.rate_limit_per_minute;
        self.limiter.take(requester, limit).inspect_err(|_| {
            let peer = requester.to_string();
            let label = crate::metrics::PeerLabel { peer };
            self.metrics.rate_limited.get_or_create(&label).inc();
            self.refusals
                .count(requester, super::refused::Refused::Query);
        })
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
        let hashes = reply.proof_hashes(&self.store);
        let mut receipt = audit::issue_receipt(
            &hashes,
            leaf,
            entry,
            reply.checkpoint.size,
            reply.checkpoint.note.clone(),
            self.signer().certificate_der().to_vec(),
        )
        .map_err(|e| NodeError::internal(format!("inclusion proof: {e}")))?;
        self.attach_cosigned(&mut receipt, &hashes, reply.checkpoint.size)?;
        Ok(receipt)
    }

    /// Adds the newest cosigned checkpoint to a receipt for a tree of
    /// `size`, with the consistency proof from its size (docs/protocol.md
    /// §13); nothing when none is held or another key signed it.
    fn attach_cosigned<S: audit::SubtreeHashes>(
        &self,
        receipt: &mut pb::Receipt,
        hashes: &S,
        size: u64,
    ) -> Result<(), NodeError> {
        let Some(cosigned) = self.witnessing.cosigned() else {
            return Ok(());
        };
        if cosigned.size > size || cosigned.signer_certificate != receipt.signer_certificate {
            return Ok(());
        }
        let proof = audit::consistency_proof(hashes, cosigned.size, size)
            .map_err(|e| NodeError::internal(format!("consistency proof: {e}")))?;
        receipt.cosigned_checkpoint = Some(pb::Checkpoint {
            signed_note: cosigned.note.clone(),
        });
        receipt.cosigned_consistency = Some(pb::ConsistencyProof {
            old_size: cosigned.size,
            new_size: size,
            hashes: proof.iter().map(|h| h.to_vec()).collect(),
        });
        receipt.witness_certificates = cosigned.witness_certificates.clone();
        Ok(())
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
        discovery_receipt_id: query.discovery_receipt_id.clone(),
        key_generation: query.key_generation,
        ..Default::default()
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// The node log's line for one answered or denied peer query (ids, codes
/// and the leaf; never a borrower key).
fn trace_answer(
    requester: &InstitutionId,
    query: &PeerQuery,
    consent_id: &str,
    answered: bool,
    receipt: &pb::Receipt,
) {
    tracing::info!(
        requester = %requester,
        officer = %query.officer,
        purpose = query.purpose.map_or("00 UNSPECIFIED".into(), Purpose::label),
        scope = crate::domain::purpose::scope_name(query.scope),
        consent_id = %consent_id,
        decision = if answered { "ANSWERED" } else { "DENIED" },
        leaf = receipt.leaf_index,
        "peer query"
    );
}
