//! Have this node's log witnessed: at most once per
//! `witness.submit_interval_ms`, submit the newest checkpoint to every peer
//! (its witness) with a consistency proof from the size that witness
//! cosigned last, and keep the newest checkpoint cosigned for receipts.
//!
//! A witness met for the first time since start is first asked what it
//! holds (`GetWitnessedCheckpoint`): a held size beyond this log's size
//! means entries were lost (tail loss), a held root this log does not have
//! at that size means the log was rewritten; both are reported at once
//! (log line, `Status` warning, metric) naming the sizes.

use std::sync::Arc;
use std::time::Duration;

use credshare_proto::v1 as pb;
use tokio::sync::watch;

use super::Node;
use crate::audit::cosignature::{append_signatures, verify_cosignature};
use crate::audit::{Checkpoint, consistency_proof, root_at};
use crate::blocking;
use crate::domain::dates::now_ms;
use crate::error::NodeError;
use crate::federation::{Peer, PeerFailure, WitnessFailure};
use crate::storage::CommittedCheckpoint;
use book::{CosignedCheckpoint, WitnessState};

/// Deadline of one witness call.
const WITNESS_DEADLINE: Duration = Duration::from_secs(5);

mod book;
mod epoch;

pub use book::WitnessBook;

impl Node {
    /// Spawns the submission loop (every `witness.submit_interval_ms`,
    /// the first pass at once) unless `witness.submit` is off.
    pub fn spawn_witnessing(self: &Arc<Self>, stop: watch::Receiver<bool>) {
        if !self.config.witness.submit {
            return;
        }
        let interval = Duration::from_millis(self.config.witness.submit_interval_ms);
        let node = self.clone();
        tokio::spawn(async move { node.submit_to_witnesses().await });
        self.spawn_every(interval, stop, false, |node, _| async move {
            node.submit_to_witnesses().await;
        });
    }

    /// One pass: the newest checkpoint to every witness that has not
    /// cosigned it, concurrently; then the newest cosigned checkpoint.
    pub async fn submit_to_witnesses(&self) {
        let latest = self.committer.latest();
        if latest.size == 0 {
            return;
        }
        let certificate = match self.checkpoint_certificate(latest.size).await {
            Ok(c) => c,
            Err(e) => return tracing::warn!(error = %e, "witnessing: checkpoint certificate"),
        };
        let peers = self.federation.peers();
        let due: Vec<&Peer> = {
            let book = self.witnessing.lock();
            peers
                .iter()
                .filter(|p| {
                    book.witnesses
                        .get(p.institution.as_str())
                        .is_none_or(|w| w.submitted_size != Some(latest.size))
                })
                .collect()
        };
        let calls = due
            .into_iter()
            .map(|peer| self.submit_to(peer, &latest, &certificate));
        futures::future::join_all(calls).await;
        self.collect_cosignatures(&latest, certificate);
    }

    /// Submits `latest` to one witness, meeting it first if new.
    async fn submit_to(&self, peer: &Peer, latest: &CommittedCheckpoint, certificate: &[u8]) {
        let name = peer.institution.to_string();
        let known = self.witnessing.lock().witnesses.get(&name).cloned();
        let mut state = match known {
            Some(s) if s.met => s,
            _ => match self.meet_witness(peer, latest).await {
                Some(s) => s,
                None => return,
            },
        };
        let declaration = self.epoch_declaration(latest.size).await;
        let mut old = state.cosigned_size.min(latest.size);
        for _attempt in 0..2 {
            match self
                .offer(peer, latest, certificate, old, declaration.as_ref())
                .await
            {
                Ok(line) => {
                    state.cosigned_size = latest.size;
                    state.held_size = latest.size;
                    state.cosigned_at_ms = now_ms();
                    (state.state, state.detail) = ("COSIGNED", String::new());
                    state.line = Some(line);
                    self.count_submission(&name, "cosigned", latest.size);
                    break;
                }
                Err(WitnessFailure::Conflict { conflict, message }) => {
                    state.held_size = conflict.held_size;
                    state.line = None;
                    (state.state, state.detail) = ("REFUSED", message);
                    self.count_submission(&name, "refused", state.cosigned_size);
                    let retry = !conflict.evidence_recorded
                        && conflict.held_size != old
                        && conflict.held_size <= latest.size;
                    if !retry {
                        self.note_missing(&name, conflict.held_size, latest.size);
                        break;
                    }
                    old = conflict.held_size;
                    state.cosigned_size = conflict.held_size;
                }
                Err(WitnessFailure::Peer(failure)) => {
                    state.line = None;
                    (state.state, state.detail) = ("UNREACHABLE", describe(&failure));
                    self.count_submission(&name, "failed", state.cosigned_size);
                    break;
                }
            }
        }
        state.submitted_size = Some(latest.size);
        self.witnessing.lock().witnesses.insert(name, state);
    }

    /// Asks a witness met for the first time what it holds of this log and
    /// reports a held size or root this log does not have.
    async fn meet_witness(
        &self,
        peer: &Peer,
        latest: &CommittedCheckpoint,
    ) -> Option<WitnessState> {
        let name = peer.institution.to_string();
        let held = match peer.witnessed_checkpoint(WITNESS_DEADLINE).await {
            Ok(held) => held,
            Err(failure) => {
                let state = WitnessState {
                    state: "UNREACHABLE",
                    detail: describe(&failure),
                    ..Default::default()
                };
                self.witnessing.lock().witnesses.insert(name, state);
                return None;
            }
        };
        let mut state = WitnessState {
            met: true,
            cosigned_size: held.size,
            held_size: held.size,
            state: "COSIGNED",
            ..Default::default()
        };
        if held.size > latest.size {
            self.note_missing(&name, held.size, latest.size);
        } else if held.size > 0
            && let Ok(cp) = Checkpoint::parse_unverified(&held.checkpoint)
            && !self.root_matches(held.size, cp.root).await
        {
            tracing::error!(
                witness = %name,
                size = held.size,
                "witness {name} cosigned a root of this log at size {} that the log no longer has: the log was rewritten; the witness will refuse it",
                held.size
            );
            state.detail = format!("holds a different root at size {}", held.size);
        }
        Some(state)
    }

    /// Offers `latest` with a consistency proof from `old`; returns the
    /// verified cosignature line and the witness's certificate.
    async fn offer(
        &self,
        peer: &Peer,
        latest: &CommittedCheckpoint,
        certificate: &[u8],
        old: u64,
        declaration: Option<&epoch::EpochDeclaration>,
    ) -> Result<(String, Vec<u8>), WitnessFailure> {
        let proof = self
            .proof_between(old, latest.size)
            .await
            .map_err(|e| WitnessFailure::Peer(PeerFailure::Failed(e)))?;
        let mut request = pb::AddCheckpointRequest {
            old_size: old,
            consistency_proof: proof,
            checkpoint: latest.note.clone(),
            signer_certificate: certificate.to_vec(),
            ..Default::default()
        };
        if let Some(declaration) = declaration {
            self.declare(&mut request, declaration, latest.size)
                .await
                .map_err(|e| WitnessFailure::Peer(PeerFailure::Failed(e)))?;
        }
        let response = peer.add_checkpoint(request, WITNESS_DEADLINE).await?;
        let verified = self
            .verifier()
            .verify_signer_certificate(&response.witness_certificate, std::time::SystemTime::now());
        let bad = |why: String| WitnessFailure::Peer(PeerFailure::Failed(why));
        let witness = verified.map_err(|e| bad(format!("witness certificate: {e}")))?;
        if witness.institution() != &peer.institution {
            return Err(bad(format!("cosigned by {}'s key", witness.institution())));
        }
        let line = response.cosignatures.into_iter().next().unwrap_or_default();
        let note = append_signatures(&latest.note, [line.as_str()]);
        verify_cosignature(&note, &witness.public_key)
            .map_err(|e| bad(format!("cosignature: {e}")))?;
        Ok((line, response.witness_certificate))
    }

    /// What an operator must act on: entries witnesses saw that the log
    /// lacks, witnesses that refuse this log (for `Status.warnings`).
    pub(crate) fn witness_warnings(&self) -> Vec<String> {
        let book = self.witnessing.lock();
        let mut out = Vec::new();
        if let Some((from, to)) = book.missing {
            out.push(format!(
                "tail loss: witnesses cosigned this log at size {to}, but it holds {from} entries: the entries at sizes {}..={to} are missing (docs/operations.md, Witnesses)",
                from + 1
            ));
        }
        for (name, w) in &book.witnesses {
            if w.state == "REFUSED" {
                out.push(format!("witness {name} refuses this log: {}", w.detail));
            }
        }
        out
    }

    /// The newest cosigned checkpoint for an auditor (empty when none).
    pub fn cosigned_checkpoint(&self) -> pb::CosignedCheckpoint {
        match self.witnessing.cosigned() {
            Some(c) => pb::CosignedCheckpoint {
                checkpoint: Some(pb::Checkpoint {
                    signed_note: c.note.clone(),
                }),
                signer_certificate: c.signer_certificate.clone(),
                witness_certificates: c.witness_certificates.clone(),
            },
            None => pb::CosignedCheckpoint::default(),
        }
    }

    /// Records (once) that a witness holds `held` entries and the log
    /// `size`: the sizes (size, held] are missing.
    fn note_missing(&self, witness: &str, held: u64, size: u64) {
        if held <= size {
            return;
        }
        let mut book = self.witnessing.lock();
        if book.missing.is_none_or(|(_, to)| to < held) {
            tracing::error!(
                witness,
                log_size = size,
                witnessed_size = held,
                "tail loss: witness {witness} cosigned this log at size {held}, but the log holds {size} entries: the entries at indexes {size}..{held} (sizes {}..={held}) are missing",
                size + 1
            );
            book.missing = Some((size, held));
            self.metrics
                .witness
                .missing_entries
                .set((held - size) as i64);
        }
    }

    fn count_submission(&self, witness: &str, outcome: &str, cosigned: u64) {
        let labels = crate::metrics::WitnessLabels {
            witness: witness.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.metrics
            .witness
            .submissions
            .get_or_create(&labels)
            .inc();
        let peer = crate::metrics::PeerLabel {
            peer: witness.to_owned(),
        };
        self.metrics
            .witness
            .cosigned_size
            .get_or_create(&peer)
            .set(cosigned as i64);
    }

    /// Every cosignature on `latest` into one note, to replace the
    /// cosigned checkpoint held.
    fn collect_cosignatures(&self, latest: &CommittedCheckpoint, certificate: Vec<u8>) {
        let mut book = self.witnessing.lock();
        let (lines, certificates): (Vec<String>, Vec<Vec<u8>>) = book
            .witnesses
            .values()
            .filter(|w| w.submitted_size == Some(latest.size))
            .filter_map(|w| w.line.clone())
            .unzip();
        // A newer checkpoint replaces the one held unless it has fewer
        // cosignatures than both the held one and the quorum (so one witness
        // down does not freeze receipts on an old checkpoint).
        let held = book
            .cosigned
            .as_ref()
            .map_or(0, |c| c.witness_certificates.len());
        let quorum = usize::try_from(self.witness_quorum()).unwrap_or(usize::MAX);
        if lines.is_empty() || lines.len() < held.min(quorum.max(1)) {
            return;
        }
        book.cosigned = Some(Arc::new(CosignedCheckpoint {
            size: latest.size,
            note: append_signatures(&latest.note, lines.iter().map(String::as_str)),
            signer_certificate: certificate,
            witness_certificates: certificates,
        }));
    }

    /// The signer certificate stored with the checkpoint of `size`.
    async fn checkpoint_certificate(&self, size: u64) -> Result<Vec<u8>, String> {
        let store = self.store.clone();
        let stored = blocking::run(move || store.checkpoint(Some(size)))
            .await
            .map_err(|e| e.to_string())?;
        Ok(stored.map(|c| c.signer_certificate).unwrap_or_default())
    }

    /// RFC 9162 consistency proof between two sizes of this log.
    pub(crate) async fn proof_between(&self, old: u64, new: u64) -> Result<Vec<Vec<u8>>, String> {
        let store = self.store.clone();
        let proof = blocking::run(move || {
            consistency_proof(&store, old, new).map_err(|e| NodeError::internal(e.to_string()))
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(proof.iter().map(|h| h.to_vec()).collect())
    }

    /// Whether this log's root at `size` is `root`.
    async fn root_matches(&self, size: u64, root: crate::audit::Hash) -> bool {
        let store = self.store.clone();
        let root_here = blocking::run(move || {
            root_at(&store, size).map_err(|e| NodeError::internal(e.to_string()))
        });
        matches!(root_here.await, Ok(r) if r == root)
    }
}

fn describe(failure: &PeerFailure) -> String {
    match failure {
        PeerFailure::TimedOut(d) | PeerFailure::Unreachable(d) | PeerFailure::Failed(d) => {
            d.clone()
        }
        PeerFailure::Denied { detail, .. } => detail.clone(),
    }
}
