//! Assess a borrower across peers — the requester's side (docs/design.md
//! §4, §5): ask every peer under one of our consents (or, for post-loan
//! management, with our own live credit record of the borrower; [`basis`]), verify what comes
//! back (receipt: signed checkpoint + inclusion of an entry that names our
//! request; DETAIL records: signatures by the peer), record each outcome in
//! our own log (so two logs witness each other) and merge an assessment. A
//! peer that is down, slow or lying is reported per peer within the
//! deadline and never blocks the others.

mod detail;

use std::time::{Duration, Instant, SystemTime};

use credshare_proto::v1 as pb;

mod basis;
mod checks;
mod targeted;

use super::Node;
use super::reason_counts::QueryTally;
use crate::domain::assessment::targeted::{self as targeting, Targeting};
use crate::domain::assessment::{self, Contribution};
use crate::domain::{BorrowerKey, Purpose, Scope, dates};
use crate::error::NodeError;
use crate::federation::{Peer, PeerFailure};
use crate::signing::sha256;
use crate::storage::{CommitRequest, LogAppend};
use basis::QueryBasis;

/// Longest per-peer deadline a caller may ask for, ms.
const MAX_DEADLINE_MS: u64 = 60_000;

/// An officer's request (from `Assess`). Purpose and scope are `None` when
/// the request named no known value, which is refused.
#[derive(Debug, Clone)]
pub struct AssessRequest {
    pub borrower: BorrowerKey,
    /// Empty for a post-loan query (reason 01), required otherwise.
    pub consent_id: String,
    pub purpose: Option<Purpose>,
    pub scope: Option<Scope>,
    /// Per-peer deadline; 0 = `limits.peer_deadline_ms`.
    pub deadline_ms: u32,
    /// The officer asking: sent to every peer and logged.
    pub officer: String,
    /// Targeted assessment: discovery's holders and receipt; `None` asks
    /// every peer.
    pub targeting: Option<Targeting>,
    /// Wire generation of `borrower` (0 = 1); must be the one served.
    pub key_generation: u32,
}

/// What one query to one peer produced.
struct PeerOutcome {
    contribution: Contribution,
    outgoing: pb::OutgoingQueryEntry,
}

/// The question asked of every peer.
struct Question<'a> {
    basis: &'a QueryBasis,
    consent_id: &'a str,
    borrower: BorrowerKey,
    purpose: Purpose,
    scope: Scope,
    deadline: Duration,
    officer: &'a str,
    /// The discovery receipt id sent and logged; empty when every peer is
    /// asked.
    receipt_id: &'a str,
}

/// A check of a peer's answer failed: the peer's status and why.
type Rejected = (pb::PeerStatus, String);

/// A verified answer: indicators, receipt and, at DETAIL, the records.
type Checked = (pb::BorrowerIndicators, pb::Receipt, Vec<pb::VerifiedRecord>);

impl Node {
    /// Asks every peer (or, targeted, discovery's holders) under consent
    /// `consent_id` and merges a
    /// verified cross-institution assessment with this node's own data.
    pub async fn assess(&self, req: AssessRequest) -> Result<pb::Assessment, NodeError> {
        self.check_membership_current()?;
        self.check_generation(req.key_generation)?;
        let (Some(purpose), Some(scope)) = (req.purpose, req.scope) else {
            return Err(NodeError::invalid("purpose/scope", "both must be set"));
        };
        let (peers, not_holders) = self.peers_to_ask(req.targeting.as_ref())?;
        let basis = self.query_basis(&req, purpose).await?;
        let deadline_ms = match req.deadline_ms {
            0 => self.config.limits.peer_deadline_ms,
            ms => u64::from(ms).min(MAX_DEADLINE_MS),
        };
        let question = Question {
            basis: &basis,
            consent_id: &req.consent_id,
            borrower: req.borrower,
            purpose,
            scope,
            deadline: Duration::from_millis(deadline_ms),
            officer: &req.officer,
            receipt_id: req.targeting.as_ref().map_or("", |t| t.receipt_id.as_str()),
        };
        let local = self.local_contribution(req.borrower, scope).await?;
        let asks = peers.iter().map(|p| self.query_peer(p, &question));
        let outcomes = futures::future::join_all(asks).await;
        self.reason_counts
            .add(Some(purpose), QueryTally::Sent, outcomes.len() as u64);
        self.log_outgoing(&outcomes).await?;
        let mut contributions = vec![local];
        contributions.extend(outcomes.into_iter().map(|o| o.contribution));
        contributions.extend(not_holders);
        let mut assessed = assessment::assess(
            req.borrower.as_bytes(),
            contributions,
            dates::now_ms(),
            self.config.business_time_zone.today(),
            &self.config.assessment,
        );
        if let Some(t) = &req.targeting {
            targeting::mark(&mut assessed, t);
        }
        Ok(assessed)
    }

    /// Refuses, before any query leaves, a grant this node knows is revoked
    /// or outside its validity: holders would deny it, and sending it would
    /// disclose the borrower's application for nothing.
    fn check_grant_usable(&self, grant: &pb::ConsentGrant) -> Result<(), NodeError> {
        let id = &grant.consent_id;
        if self.revocations.contains(self.institution().as_str(), id) {
            return Err(NodeError::FailedPrecondition(format!(
                "consent {id} is revoked; no query was sent"
            )));
        }
        let now = dates::now_ms();
        if now > grant.not_after_ms {
            return Err(NodeError::FailedPrecondition(format!(
                "consent {id} expired at {}; no query was sent",
                dates::rfc3339_ms(grant.not_after_ms)
            )));
        }
        if now < grant.not_before_ms {
            return Err(NodeError::FailedPrecondition(format!(
                "consent {id} is not valid before {}; no query was sent",
                dates::rfc3339_ms(grant.not_before_ms)
            )));
        }
        Ok(())
    }

    /// Records every outgoing query in our own log.
    async fn log_outgoing(&self, outcomes: &[PeerOutcome]) -> Result<(), NodeError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let log = outcomes
            .iter()
            .map(|o| LogAppend {
                entry: pb::LogEntry {
                    time_ms: dates::now_ms(),
                    kind: Some(pb::log_entry::Kind::OutgoingQuery(o.outgoing.clone())),
                },
                // `history` lists the queries this institution sent, too.
                query_index: BorrowerKey::from_slice(&o.outgoing.borrower_key).ok(),
            })
            .collect();
        self.committer
            .commit(CommitRequest {
                log,
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    async fn local_contribution(
        &self,
        borrower: BorrowerKey,
        scope: Scope,
    ) -> Result<Contribution, NodeError> {
        let started = Instant::now();
        let answer = self.build_answer(borrower, scope).await?;
        let name = self.institution().to_string();
        let indicators = answer.indicators.unwrap_or_default();
        if scope != Scope::Detail {
            let latency = elapsed_ms(started);
            return Ok(Contribution::answered(
                name, true, indicators, None, latency,
            ));
        }
        // Own records are shown only as verified as a peer's would be.
        let verifier = self.verifier();
        let checked = detail::verify_records(
            &verifier,
            self.institution(),
            &borrower,
            &answer.records,
            SystemTime::now(),
        );
        let latency = elapsed_ms(started);
        Ok(match checked {
            Ok(v) => Contribution {
                records: v.rows,
                ..Contribution::answered(name, true, indicators, None, latency)
            },
            Err(e) => Contribution {
                local: true,
                ..failed(name, pb::PeerStatus::InvalidSignature, e, latency)
            },
        })
    }

    async fn query_peer(&self, peer: &Peer, q: &Question<'_>) -> PeerOutcome {
        let started = Instant::now();
        let nonce: [u8; 16] = ring::rand::generate(&ring::rand::SystemRandom::new())
            .map(|r: ring::rand::Random<[u8; 16]>| r.expose())
            .unwrap_or_default();
        let request = pb::QueryBorrowerRequest {
            consent: q.basis.grant.clone(),
            relationship: q.basis.relationship.clone(),
            borrower_key: q.borrower.as_bytes().to_vec(),
            purpose: q.purpose.to_wire() as i32,
            scope: q.scope.to_wire() as i32,
            request_nonce: nonce.to_vec(),
            requester_officer: q.officer.to_owned(),
            discovery_receipt_id: q.receipt_id.to_owned(),
            key_generation: self.key_generation().to_wire(),
        };
        let result = peer.query_borrower(request, q.deadline).await;
        let latency = elapsed_ms(started);
        let mut outgoing = self.outgoing_entry(peer, q, &nonce);
        let name = peer.institution.to_string();
        let contribution = match result {
            Ok(answer) => match self.check_answer(peer, q, &nonce, answer, &mut outgoing) {
                Ok((indicators, receipt, records)) => Contribution {
                    records,
                    detail: self.witness_verdict(peer, &receipt),
                    ..Contribution::answered(name, false, indicators, Some(receipt), latency)
                },
                Err((status, detail)) => failed(name, status, detail, latency),
            },
            Err(failure) => self.failed_call(peer, q, &nonce, failure, &mut outgoing, latency),
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

    /// The requester's log entry for a query of `q` to `peer`, before its
    /// outcome is known.
    fn outgoing_entry(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
    ) -> pb::OutgoingQueryEntry {
        pb::OutgoingQueryEntry {
            peer_institution: peer.institution.to_string(),
            borrower_key: q.borrower.as_bytes().to_vec(),
            purpose: q.purpose.to_wire() as i32,
            scope: q.scope.to_wire() as i32,
            consent_id: q.consent_id.to_owned(),
            officer: q.officer.to_owned(),
            request_nonce: nonce.to_vec(),
            discovery_receipt_id: q.receipt_id.to_owned(),
            key_generation: self.key_generation().to_wire(),
            relationship_sha256: q
                .basis
                .relationship
                .as_ref()
                .map(|r| sha256(&r.payload))
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    /// A peer that gave no answer; a denial's receipt is verified too.
    fn failed_call(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        failure: PeerFailure,
        outgoing: &mut pb::OutgoingQueryEntry,
        latency: u32,
    ) -> Contribution {
        let name = peer.institution.to_string();
        let (denial, detail) = match failure {
            PeerFailure::TimedOut(d) => return failed(name, pb::PeerStatus::TimedOut, d, latency),
            PeerFailure::Unreachable(d) => {
                return failed(name, pb::PeerStatus::Unreachable, d, latency);
            }
            PeerFailure::Failed(d) => return failed(name, pb::PeerStatus::Error, d, latency),
            PeerFailure::Denied { denial, detail } => (denial, detail),
        };
        let Some(denial) = denial else {
            return failed(name, pb::PeerStatus::Denied, detail, latency);
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
}

/// A contribution that failed without a denial reason.
fn failed(name: String, status: pb::PeerStatus, detail: String, latency: u32) -> Contribution {
    Contribution::failed(name, status, pb::DenialReason::Unspecified, detail, latency)
}

fn elapsed_ms(started: Instant) -> u32 {
    u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX)
}
