//! Witness a peer's log (C2SP tlog-witness semantics over
//! `WitnessService`): verify a submitted checkpoint against the log's
//! signer certificate and the checkpoint this node cosigned before, make
//! the new view durable, then cosign (C2SP `cosignature/v1`). A checkpoint
//! the held one does not lead to is refused with the size held, and — when
//! it proves the log misbehaved — kept as a `WitnessEvidenceEntry` in this
//! node's own log.

use std::sync::Arc;
use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::audit::cosignature::{cosign, witness_name};
use crate::audit::receipt::{proof_hashes, verify_signed_checkpoint};
use crate::audit::{Checkpoint, leaf_hash, verify_consistency, verify_inclusion};
use crate::blocking;
use crate::domain::dates::now_ms;
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::signing::sha256;
use crate::storage::{CommitRequest, LogAppend, WitnessWrite, WitnessedLog};

/// Most consistency-proof hashes a submission may carry (tlog-witness: a
/// client MUST NOT send more than 63).
pub const MAX_SUBMITTED_PROOF_HASHES: usize = 63;

/// The conflict kinds a `WitnessEvidenceEntry` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    /// A smaller tree signed later than the held one: entries cut off.
    Smaller,
    /// Two roots for one size: a split view or a rewrite.
    SameSizeDifferentRoot,
    /// The proof from the held size does not lead to the offered root.
    ProofFailed,
}

impl Conflict {
    fn as_str(self) -> &'static str {
        match self {
            Conflict::Smaller => "SMALLER",
            Conflict::SameSizeDifferentRoot => "SAME_SIZE_DIFFERENT_ROOT",
            Conflict::ProofFailed => "PROOF_FAILED",
        }
    }
}

/// A submission whose checkpoint signature verified.
struct Offer {
    request: pb::AddCheckpointRequest,
    checkpoint: Checkpoint,
}

impl Node {
    /// `AddCheckpoint` from `caller` for its own log. Serialized per log
    /// (check and durable update are one step, as tlog-witness requires);
    /// cost: one Ed25519 verification, O(log n) hashes, one group commit,
    /// one Ed25519 signature.
    pub async fn add_checkpoint(
        &self,
        caller: &InstitutionId,
        request: pb::AddCheckpointRequest,
    ) -> Result<pb::AddCheckpointResponse, NodeError> {
        if request.consistency_proof.len() > MAX_SUBMITTED_PROOF_HASHES {
            return Err(NodeError::invalid(
                "consistency_proof",
                format!("more than {MAX_SUBMITTED_PROOF_HASHES} hashes"),
            ));
        }
        let signed = verify_signed_checkpoint(
            &request.checkpoint,
            &request.signer_certificate,
            &self.verifier(),
            Some(caller),
            None,
            SystemTime::now(),
        )
        .map_err(|e| {
            NodeError::Signature(crate::signing::SigningError::BadSignature(format!(
                "checkpoint: {e}"
            )))
        })?;
        let offer = Offer {
            checkpoint: signed.checkpoint,
            request,
        };
        if offer.request.old_size > offer.checkpoint.size {
            return Err(NodeError::invalid(
                "old_size",
                format!(
                    "{} is larger than the checkpoint's size {}",
                    offer.request.old_size, offer.checkpoint.size
                ),
            ));
        }
        let lock = self.witness_locks.lock_for(caller.as_str());
        let _serial = lock.lock().await;
        let held = {
            let store = self.store.clone();
            let who = caller.to_string();
            blocking::run(move || store.witnessed_log(&who)).await?
        };
        let mut held = held.unwrap_or_else(|| WitnessedLog {
            origin: offer.checkpoint.origin.clone(),
            ..empty_view()
        });
        let epoch = self.judge(caller, &mut held, &offer).await?;
        self.accept(caller, held, offer, epoch).await
    }

    /// Refuses `offer` when it conflicts with `held`, logging evidence of
    /// the conflicts that prove misbehaviour; a conflict the log explains
    /// by a declared restore of a newer epoch is logged, then accepted.
    /// Returns the log's epoch for the new view.
    async fn judge(
        &self,
        caller: &InstitutionId,
        held: &mut WitnessedLog,
        offer: &Offer,
    ) -> Result<u32, NodeError> {
        let offered = &offer.checkpoint;
        if offered.origin != held.origin {
            return Err(NodeError::NotFound(format!(
                "this witness holds {caller}'s log under origin {:?}, not {:?}",
                held.origin, offered.origin
            )));
        }
        if held.size == 0 {
            return match offer.request.old_size {
                0 => Ok(held.epoch),
                old => Err(self.refusal(
                    held,
                    format!("old size {old}, but this witness holds no checkpoint of the log"),
                    false,
                )),
            };
        }
        if let Some(conflict) = classify(held, offer)? {
            let offered_sha256 = hex::encode(sha256(offer.request.checkpoint.as_bytes()));
            if held.last_evidence_sha256 != offered_sha256 {
                held.last_evidence_sha256 = offered_sha256;
                self.record_evidence(caller, held, offer, conflict).await?;
            }
            if let Some(epoch) = declared_epoch(offer, held) {
                tracing::warn!(log = %caller, epoch, "witness: the log declares a restore; following its new epoch");
                return Ok(epoch);
            }
            let message = format!(
                "{}: the checkpoint of size {} is inconsistent with the checkpoint of size {} this witness cosigned; kept as evidence",
                conflict.as_str(),
                offered.size,
                held.size
            );
            return Err(self.refusal(held, message, true));
        }
        if offer.request.old_size != held.size {
            let message = format!(
                "old size {} is not the size this witness holds ({})",
                offer.request.old_size, held.size
            );
            return Err(self.refusal(held, message, false));
        }
        Ok(held.epoch)
    }

    /// The tlog-witness 409: the size held and its checkpoint.
    fn refusal(&self, held: &WitnessedLog, message: String, evidence: bool) -> NodeError {
        NodeError::WitnessConflict {
            message,
            conflict: pb::WitnessConflict {
                held_size: held.size,
                held_checkpoint: held.cosigned_note.clone(),
                evidence_recorded: evidence,
            },
        }
    }

    /// Logs both signed checkpoints as a `WitnessEvidenceEntry` and counts
    /// the conflict in the log's view (`held`, updated), in one durable
    /// batch.
    async fn record_evidence(
        &self,
        caller: &InstitutionId,
        held: &mut WitnessedLog,
        offer: &Offer,
        conflict: Conflict,
    ) -> Result<(), NodeError> {
        let entry = pb::WitnessEvidenceEntry {
            institution: caller.to_string(),
            origin: held.origin.clone(),
            held_checkpoint: held.cosigned_note.clone(),
            offered_checkpoint: offer.request.checkpoint.clone(),
            offered_proof: offer.request.consistency_proof.clone(),
            conflict: conflict.as_str().to_owned(),
            signer_certificate: offer.request.signer_certificate.clone(),
        };
        held.evidence += 1;
        let view = held.clone();
        self.committer
            .commit(CommitRequest {
                log: vec![LogAppend {
                    entry: pb::LogEntry {
                        time_ms: now_ms(),
                        kind: Some(pb::log_entry::Kind::WitnessEvidence(entry)),
                    },
                    query_index: None,
                }],
                witness: vec![WitnessWrite {
                    institution: caller.to_string(),
                    view,
                }],
                ..Default::default()
            })
            .await?;
        self.metrics.witness.evidence.inc();
        tracing::warn!(
            log = %caller,
            conflict = conflict.as_str(),
            held_size = held.size,
            offered_size = offer.checkpoint.size,
            "witness: a peer's log conflicts with the checkpoint this node cosigned; evidence logged"
        );
        Ok(())
    }

    /// Cosigns `offer` once its view is durable.
    async fn accept(
        &self,
        caller: &InstitutionId,
        held: WitnessedLog,
        offer: Offer,
        epoch: u32,
    ) -> Result<pb::AddCheckpointResponse, NodeError> {
        let signer = self.signer();
        let now = now_ms();
        let line = cosign(
            &offer.checkpoint,
            &witness_name(self.institution().as_str()),
            signer.key_pair(),
            u64::try_from(now / 1000).unwrap_or_default(),
        );
        let view = WitnessedLog {
            origin: offer.checkpoint.origin.clone(),
            size: offer.checkpoint.size,
            cosigned_note: format!("{}{line}", offer.request.checkpoint),
            signer_certificate_hex: hex::encode(&offer.request.signer_certificate),
            cosigned_at_ms: now,
            evidence: held.evidence,
            last_evidence_sha256: held.last_evidence_sha256,
            epoch,
        };
        self.committer
            .commit(CommitRequest {
                witness: vec![WitnessWrite {
                    institution: caller.to_string(),
                    view,
                }],
                ..Default::default()
            })
            .await?;
        self.metrics.witness.cosigned.inc();
        Ok(pb::AddCheckpointResponse {
            cosignatures: vec![line],
            witness_certificate: signer.certificate_der().to_vec(),
        })
    }

    /// `GetWitnessedCheckpoint`: the newest checkpoint of `caller`'s log
    /// this node cosigned.
    pub async fn witnessed_checkpoint(
        &self,
        caller: &InstitutionId,
    ) -> Result<pb::WitnessedCheckpoint, NodeError> {
        let store = self.store.clone();
        let who = caller.to_string();
        let held = blocking::run(move || store.witnessed_log(&who)).await?;
        let held = held.unwrap_or_else(empty_view);
        Ok(pb::WitnessedCheckpoint {
            size: held.size,
            checkpoint: held.cosigned_note,
            witness_certificate: self.signer().certificate_der().to_vec(),
        })
    }

    /// Peer logs of which this node keeps evidence, and the number of
    /// evidence entries it logged (for `Status`).
    pub async fn witness_evidence(&self) -> Result<(Vec<String>, u64), NodeError> {
        let store = self.store.clone();
        let logs = blocking::run(move || store.witnessed_logs()).await?;
        let against = logs
            .iter()
            .filter(|(_, v)| v.evidence > 0)
            .map(|(i, _)| i.clone())
            .collect();
        Ok((against, logs.iter().map(|(_, v)| v.evidence).sum()))
    }
}

fn empty_view() -> WitnessedLog {
    WitnessedLog {
        origin: String::new(),
        size: 0,
        cosigned_note: String::new(),
        signer_certificate_hex: String::new(),
        cosigned_at_ms: 0,
        evidence: 0,
        epoch: 0,
        last_evidence_sha256: String::new(),
    }
}

/// Which conflict with the held view `offer` proves, if any: two roots
/// for one size, a smaller tree signed later, or a consistency proof from
/// the held size that fails.
fn classify(held: &WitnessedLog, offer: &Offer) -> Result<Option<Conflict>, NodeError> {
    let offered = &offer.checkpoint;
    let held_cp = Checkpoint::parse_unverified(&held.cosigned_note)
        .map_err(|e| NodeError::internal(format!("held checkpoint: {e}")))?;
    let later = offered.timestamp_ms > held_cp.timestamp_ms;
    Ok(
        if offered.size == held.size && offered.root != held_cp.root {
            Some(Conflict::SameSizeDifferentRoot)
        } else if offered.size < held.size && later {
            Some(Conflict::Smaller)
        } else if offer.request.old_size == held.size && offered.size > held.size {
            let proof = proof_hashes(&offer.request.consistency_proof)
                .map_err(|e| NodeError::invalid("consistency_proof", e.to_string()))?;
            verify_consistency(
                held.size,
                offered.size,
                &held_cp.root,
                &offered.root,
                &proof,
            )
            .err()
            .map(|_| Conflict::ProofFailed)
        } else {
            None
        },
    )
}

/// The epoch of the restore `offer` declares, when the declaration holds:
/// a `LogEpochEntry` of an epoch newer than the view's, included in the
/// offered tree at its `restored_size`, which is within the held tree (the
/// log went back to a point this witness had seen, then on).
fn declared_epoch(offer: &Offer, held: &WitnessedLog) -> Option<u32> {
    let bytes = &offer.request.epoch_entry;
    let proof = offer.request.epoch_proof.as_ref()?;
    let entry = pb::LogEntry::decode(bytes.as_slice()).ok()?;
    let Some(pb::log_entry::Kind::Epoch(declared)) = entry.kind else {
        return None;
    };
    let offered = &offer.checkpoint;
    let holds = declared.epoch > held.epoch
        && declared.restored_size <= held.size
        && proof.leaf_index == declared.restored_size
        && proof.tree_size == offered.size
        && proof.leaf_index < offered.size;
    if !holds {
        return None;
    }
    let hashes = proof_hashes(&proof.hashes).ok()?;
    verify_inclusion(
        &leaf_hash(bytes),
        proof.leaf_index,
        offered.size,
        &hashes,
        &offered.root,
    )
    .ok()
    .map(|()| declared.epoch)
}

/// One async lock per witnessed log: a check and the durable update it
/// leads to are one step per log, while different logs proceed together.
#[derive(Debug, Default)]
pub struct WitnessLocks {
    locks: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl WitnessLocks {
    fn lock_for(&self, institution: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(institution.to_owned()).or_default().clone()
    }
}
