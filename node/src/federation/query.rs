//! The requester's side: ask every peer about a borrower under one of our
//! consents, verify what comes back (receipt: signed checkpoint + inclusion
//! of an entry that names our request; DETAIL records: signatures by the
//! peer), record each outcome in our own log (so two logs witness each
//! other) and merge an assessment. A peer that is down, slow or lying is
//! reported per peer within the deadline and never blocks the others.

use std::time::{Duration, Instant, SystemTime};

use credshare_proto::v1 as pb;
use prost::Message;

use super::Peer;
use crate::audit::receipt::verify_receipt;
use crate::domain::assessment::{self, Contribution};
use crate::domain::{indicators, records};
use crate::error::NodeError;
use crate::node::Node;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};
use crate::storage::commit::now_ms;
use crate::storage::{CommitRequest, LogAppend};

/// What one query to one peer produced.
struct PeerOutcome {
    contribution: Contribution,
    outgoing: pb::OutgoingQueryEntry,
}

/// The question asked of every peer.
struct Question<'a> {
    grant: &'a pb::SignedEnvelope,
    consent_id: &'a str,
    borrower: [u8; 32],
    purpose: pb::Purpose,
    scope: pb::Scope,
    deadline: Duration,
}

impl Node {
    /// Fans out to every peer under consent `consent_id` and merges a
    /// verified cross-institution assessment with this node's own data.
    pub async fn assess(&self, req: pb::AssessRequest) -> Result<pb::Assessment, NodeError> {
        let borrower: [u8; 32] = req
            .borrower_key
            .as_slice()
            .try_into()
            .map_err(|_| NodeError::invalid("borrower_key", "must be 32 bytes"))?;
        let grant_env = self.store.grant(&req.consent_id)?.ok_or_else(|| {
            NodeError::NotFound(format!(
                "no consent {} was issued by this node",
                req.consent_id
            ))
        })?;
        let grant = pb::ConsentGrant::decode(grant_env.payload.as_slice())
            .map_err(|e| NodeError::FailedPrecondition(format!("stored grant: {e}")))?;
        if grant.borrower_key != borrower {
            return Err(NodeError::invalid(
                "consent_id",
                "that consent is for another borrower",
            ));
        }
        let purpose = pb::Purpose::try_from(req.purpose).unwrap_or_default();
        let scope = pb::Scope::try_from(req.scope).unwrap_or_default();
        if purpose == pb::Purpose::Unspecified || scope == pb::Scope::Unspecified {
            return Err(NodeError::invalid("purpose/scope", "both must be set"));
        }
        let deadline_ms = if req.deadline_ms == 0 {
            self.config.limits.peer_deadline_ms
        } else {
            u64::from(req.deadline_ms).min(60_000)
        };
        let question = Question {
            grant: &grant_env,
            consent_id: &req.consent_id,
            borrower,
            purpose,
            scope,
            deadline: Duration::from_millis(deadline_ms),
        };
        let local = self.local_contribution(borrower, scope).await?;
        let asks = self
            .federation
            .peers()
            .iter()
            .map(|p| self.query_peer(p, &question));
        let outcomes = futures::future::join_all(asks).await;
        let log: Vec<LogAppend> = outcomes
            .iter()
            .map(|o| LogAppend {
                entry: pb::LogEntry {
                    time_ms: now_ms(),
                    kind: Some(pb::log_entry::Kind::OutgoingQuery(o.outgoing.clone())),
                },
                query_index: None,
            })
            .collect();
        if !log.is_empty() {
            self.committer
                .commit(CommitRequest {
                    log,
                    ..Default::default()
                })
                .await?;
        }
        let mut contributions = vec![local];
        contributions.extend(outcomes.into_iter().map(|o| o.contribution));
        Ok(assessment::assess(
            &borrower,
            contributions,
            now_ms(),
            records::latest_date_anywhere(),
        ))
    }

    async fn local_contribution(
        &self,
        borrower: [u8; 32],
        scope: pb::Scope,
    ) -> Result<Contribution, NodeError> {
        let started = Instant::now();
        let answer = self.build_answer(borrower, scope).await?;
        Ok(Contribution::answered(
            self.institution().to_string(),
            true,
            answer.indicators.unwrap_or_default(),
            None,
            elapsed_ms(started),
        ))
    }

    async fn query_peer(&self, peer: &Peer, q: &Question<'_>) -> PeerOutcome {
        let started = Instant::now();
        let nonce: [u8; 16] = ring::rand::generate(&ring::rand::SystemRandom::new())
            .map(|r: ring::rand::Random<[u8; 16]>| r.expose())
            .unwrap_or_default();
        let mut request = tonic::Request::new(pb::QueryBorrowerRequest {
            consent: Some(q.grant.clone()),
            borrower_key: q.borrower.to_vec(),
            purpose: q.purpose as i32,
            scope: q.scope as i32,
            request_nonce: nonce.to_vec(),
        });
        request.set_timeout(q.deadline);
        let result = tokio::time::timeout(q.deadline, peer.client().query_borrower(request)).await;
        let latency = elapsed_ms(started);
        let mut outgoing = pb::OutgoingQueryEntry {
            peer_institution: peer.institution.to_string(),
            borrower_key: q.borrower.to_vec(),
            purpose: q.purpose as i32,
            scope: q.scope as i32,
            consent_id: q.consent_id.to_owned(),
            ..Default::default()
        };
        let name = peer.institution.to_string();
        let contribution = match result {
            Err(_) => Contribution::failed(
                name,
                pb::PeerStatus::TimedOut,
                pb::DenialReason::Unspecified,
                format!("no answer within {} ms", q.deadline.as_millis()),
                latency,
            ),
            Ok(Ok(response)) => {
                match self.check_answer(peer, q, &nonce, response.into_inner(), &mut outgoing) {
                    Ok((indicators, receipt)) => {
                        Contribution::answered(name, false, indicators, Some(receipt), latency)
                    }
                    Err((status, detail)) => Contribution::failed(
                        name,
                        status,
                        pb::DenialReason::Unspecified,
                        detail,
                        latency,
                    ),
                }
            }
            Ok(Err(status)) => self.failed_call(peer, q, &nonce, &status, &mut outgoing, latency),
        };
        if outgoing.outcome.is_empty() {
            outgoing.outcome = pb::PeerStatus::try_from(contribution.status as i32)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("PEER_STATUS_")
                        .to_string()
                })
                .unwrap_or_default();
        }
        PeerOutcome {
            contribution,
            outgoing,
        }
    }

    /// Verifies an answer: its receipt, and at DETAIL every record.
    fn check_answer(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        mut answer: pb::QueryBorrowerResponse,
        outgoing: &mut pb::OutgoingQueryEntry,
    ) -> Result<(pb::BorrowerIndicators, pb::Receipt), (pb::PeerStatus, String)> {
        let receipt = answer.receipt.take().ok_or((
            pb::PeerStatus::InvalidReceipt,
            "answer carries no receipt".to_string(),
        ))?;
        let hash = ring::digest::digest(&ring::digest::SHA256, &answer.encode_to_vec())
            .as_ref()
            .to_vec();
        let entry =
            self.check_receipt(peer, q, nonce, &receipt, pb::Decision::Answered, outgoing)?;
        if entry.response_sha256 != hash {
            return Err((
                pb::PeerStatus::InvalidReceipt,
                "logged response hash does not match the answer".into(),
            ));
        }
        outgoing.outcome = "ANSWERED".into();
        if q.scope != pb::Scope::Detail {
            return Ok((answer.indicators.unwrap_or_default(), receipt));
        }
        // At DETAIL, indicators are recomputed from the verified, signed records.
        let (mut credits, mut visits) = (Vec::new(), Vec::new());
        for env in &answer.records {
            let bad = |e: String| (pb::PeerStatus::InvalidSignature, e);
            let is_credit = env.payload_type == CREDIT_SUMMARY_TYPE;
            let expected = if is_credit {
                CREDIT_SUMMARY_TYPE
            } else {
                VISIT_SUMMARY_TYPE
            };
            self.verifier
                .verify(env, expected, Some(&peer.institution), SystemTime::now())
                .map_err(|e| bad(format!("record signature: {e}")))?;
            if is_credit {
                let c = pb::CreditSummary::decode(env.payload.as_slice())
                    .map_err(|e| bad(e.to_string()))?;
                if c.borrower_key != q.borrower {
                    return Err(bad("a record is about another borrower".into()));
                }
                credits.push(c);
            } else {
                let v = pb::VisitSummary::decode(env.payload.as_slice())
                    .map_err(|e| bad(e.to_string()))?;
                if v.borrower_key != q.borrower {
                    return Err(bad("a record is about another borrower".into()));
                }
                visits.push(v);
            }
        }
        Ok((
            indicators::indicators(&credits, &visits, records::latest_date_anywhere()),
            receipt,
        ))
    }

    /// Verifies a receipt and that its entry is exactly our request.
    fn check_receipt(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        receipt: &pb::Receipt,
        decision: pb::Decision,
        outgoing: &mut pb::OutgoingQueryEntry,
    ) -> Result<pb::PeerQueryEntry, (pb::PeerStatus, String)> {
        let invalid = |e: String| (pb::PeerStatus::InvalidReceipt, e);
        let verified = verify_receipt(
            receipt,
            &self.verifier,
            &peer.institution,
            None,
            SystemTime::now(),
        )
        .map_err(|e| invalid(format!("receipt: {e}")))?;
        outgoing.peer_leaf_index = verified.leaf_index;
        outgoing.peer_tree_size = verified.tree_size;
        outgoing.peer_root_hash = verified.root.to_vec();
        let Some(pb::log_entry::Kind::PeerQuery(entry)) = verified.entry.kind else {
            return Err(invalid("receipt entry is not a peer query".into()));
        };
        let ours = entry.requester_institution == self.institution().as_str()
            && entry.borrower_key == q.borrower
            && entry.request_nonce == nonce
            && entry.decision == decision as i32;
        if !ours {
            return Err(invalid("receipt entry does not record this request".into()));
        }
        Ok(entry)
    }

    fn failed_call(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        status: &tonic::Status,
        outgoing: &mut pb::OutgoingQueryEntry,
        latency: u32,
    ) -> Contribution {
        let name = peer.institution.to_string();
        let detail = super::describe_status(status);
        match status.code() {
            tonic::Code::PermissionDenied => {
                let Ok(denial) = pb::QueryDenial::decode(status.details()) else {
                    return Contribution::failed(
                        name,
                        pb::PeerStatus::Denied,
                        pb::DenialReason::Unspecified,
                        detail,
                        latency,
                    );
                };
                let reason = pb::DenialReason::try_from(denial.reason).unwrap_or_default();
                if let Some(receipt) = &denial.receipt
                    && let Err((s, e)) =
                        self.check_receipt(peer, q, nonce, receipt, pb::Decision::Denied, outgoing)
                {
                    return Contribution::failed(name, s, reason, format!("denial: {e}"), latency);
                }
                outgoing.outcome = format!(
                    "DENIED:{}",
                    reason.as_str_name().trim_start_matches("DENIAL_REASON_")
                );
                Contribution::failed(
                    name,
                    pb::PeerStatus::Denied,
                    reason,
                    denial.message,
                    latency,
                )
            }
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => Contribution::failed(
                name,
                pb::PeerStatus::TimedOut,
                pb::DenialReason::Unspecified,
                detail,
                latency,
            ),
            tonic::Code::Unavailable | tonic::Code::Unknown => Contribution::failed(
                name,
                pb::PeerStatus::Unreachable,
                pb::DenialReason::Unspecified,
                detail,
                latency,
            ),
            _ => Contribution::failed(
                name,
                pb::PeerStatus::Error,
                pb::DenialReason::Unspecified,
                detail,
                latency,
            ),
        }
    }
}

fn elapsed_ms(started: Instant) -> u32 {
    u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX)
}
