//! Witness evidence (`WitnessEvidenceEntry`, log entry kind 25): a node,
//! as a witness of a peer's log, was offered a checkpoint inconsistent
//! with one it had cosigned, and logged both. Re-checked here from the CA
//! alone — both notes signed by the named log's certificate (chained to
//! the consortium CA), and whether the two signed checkpoints prove a
//! conflict on their own — without trusting the witness.

use std::time::SystemTime;

use credshare_node::audit::verify_signed_checkpoint;
use credshare_node::audit::{Checkpoint, receipt::proof_hashes, verify_checkpoint_consistency};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::SignatureVerifier;
use credshare_proto::v1 as pb;
use serde_json::{Value, json};

use super::collect::{LogView, position};
use super::evidence::{Fit, fits_current};
use super::matcher::{Finding, FindingKind};
use crate::commands::audit::checkpoint_time;
use crate::commands::audit::session::AuditSession;

/// The finding for evidence entry `index` of log `w`: re-checked from the
/// CA ([`recheck`]) and, when the named log is audited, both checkpoints
/// held against that log as served now.
pub(crate) async fn finding(
    sessions: &mut [AuditSession],
    logs: &[LogView],
    w: usize,
    index: u64,
    entry: &pb::WitnessEvidenceEntry,
) -> Finding {
    let named = position(logs, &entry.institution);
    let others: Vec<&[u8]> = named
        .map(|n| {
            logs[n]
                .signer_certificates
                .values()
                .map(Vec::as_slice)
                .collect()
        })
        .unwrap_or_default();
    let verdict = recheck(entry, sessions[w].verifier(), &others, SystemTime::now());
    let mut fits = serde_json::Map::new();
    let mut detail = verdict.detail.clone();
    if let Some(n) = named {
        let current = logs[n].newest.signed.checkpoint.clone();
        for (name, cp) in [("held", &verdict.held), ("offered", &verdict.offered)] {
            let Ok(cp) = cp else { continue };
            let fit = fits_current(&mut sessions[n], &current, cp).await;
            if let Fit::Conflicts(why) = &fit {
                detail.push_str(&format!(
                    "; the {name} checkpoint conflicts with the log now: {why}"
                ));
            }
            fits.insert(format!("{name}_fits_log_now"), fit.json());
        }
    }
    let witness = &logs[w].institution;
    let mut evidence = serde_json::Map::new();
    evidence.insert(
        "witness_evidence".into(),
        evidence_json(witness, index, entry, &verdict, fits),
    );
    Finding {
        kind: FindingKind::WitnessEvidence,
        requester: witness.clone(),
        holder: entry.institution.clone(),
        nonce: Vec::new(),
        sent: None,
        received: None,
        detail: format!(
            "{witness} witnessed conflicting checkpoints of {}'s log at its entry {index}: {detail}",
            entry.institution
        ),
        evidence,
    }
}

/// The entry's two signed checkpoints and what their re-check found.
fn evidence_json(
    witness: &str,
    index: u64,
    entry: &pb::WitnessEvidenceEntry,
    verdict: &WitnessVerdict,
    fits: serde_json::Map<String, Value>,
) -> Value {
    json!({
        "witness": witness,
        "index": index,
        "log": entry.institution,
        "origin": entry.origin,
        "conflict_claimed": entry.conflict,
        "held_checkpoint": entry.held_checkpoint,
        "offered_checkpoint": entry.offered_checkpoint,
        "signatures_verified": verdict.held.is_ok() && verdict.offered.is_ok(),
        "conflict_proven_by_signatures": verdict.proven,
        "current_log": Value::Object(fits),
    })
}

/// What a witness evidence entry shows, re-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WitnessVerdict {
    /// The held checkpoint, its signature verified; or why not.
    pub held: Result<Checkpoint, String>,
    /// The offered checkpoint, its signature verified; or why not.
    pub offered: Result<Checkpoint, String>,
    /// Why the two signed checkpoints conflict, when they prove it on
    /// their own (no need to trust the witness or ask the log).
    pub proven: Option<String>,
    /// What the check found, for people.
    pub detail: String,
}

/// Re-checks `evidence` with the CA's `verifier`. The held checkpoint may
/// predate a key rotation: it is tried with the entry's certificate, then
/// with `other_certificates` (the named log's `SignerKeyEntry`s).
pub(crate) fn recheck(
    evidence: &pb::WitnessEvidenceEntry,
    verifier: &SignatureVerifier,
    other_certificates: &[&[u8]],
    now: SystemTime,
) -> WitnessVerdict {
    let log = InstitutionId::parse(&evidence.institution).map_err(|e| e.to_string());
    let verify = |note: &str, certificate: &[u8]| {
        let log = log.as_ref().map_err(Clone::clone)?;
        verify_signed_checkpoint(
            note,
            certificate,
            verifier,
            Some(log),
            Some(&evidence.origin),
            now,
        )
        .map(|s| s.checkpoint)
        .map_err(|e| e.to_string())
    };
    let offered = verify(&evidence.offered_checkpoint, &evidence.signer_certificate);
    let held = std::iter::once(evidence.signer_certificate.as_slice())
        .chain(other_certificates.iter().copied())
        .map(|certificate| verify(&evidence.held_checkpoint, certificate))
        .reduce(|first, next| first.or(next))
        .unwrap_or_else(|| Err("no certificate".into()));
    let (proven, detail) = match (&held, &offered) {
        (Ok(held), Ok(offered)) => judge(held, offered, &evidence.offered_proof),
        (Err(e), _) => (None, format!("the held checkpoint does not verify: {e}")),
        (_, Err(e)) => (None, format!("the offered checkpoint does not verify: {e}")),
    };
    WitnessVerdict {
        held,
        offered,
        proven,
        detail,
    }
}

/// Whether two checkpoints, both signed by the log, conflict by
/// themselves: (proof of conflict, what was found).
fn judge(held: &Checkpoint, offered: &Checkpoint, proof: &[Vec<u8>]) -> (Option<String>, String) {
    let (h, o) = (held.size, offered.size);
    if h == o {
        if held.root == offered.root {
            return (
                None,
                format!("both checkpoints are the same tree of {h} entries: no conflict"),
            );
        }
        let why = format!("the log signed two different trees of {h} entries");
        return (Some(why.clone()), why);
    }
    if o < h {
        if offered.timestamp_ms > held.timestamp_ms {
            let why = format!(
                "the log signed a tree of {o} entries at {} after one of {h} at {}: it shrank",
                checkpoint_time(offered.timestamp_ms),
                checkpoint_time(held.timestamp_ms)
            );
            return (Some(why.clone()), why);
        }
        return (
            None,
            format!(
                "the offered tree ({o} entries) is smaller but not newer than the held one ({h})"
            ),
        );
    }
    let linked = proof_hashes(proof)
        .map_err(|e| e.to_string())
        .and_then(|p| verify_checkpoint_consistency(held, offered, &p).map_err(|e| e.to_string()));
    match linked {
        Ok(()) => (
            None,
            format!("the offered proof links size {h} to {o}: no conflict"),
        ),
        Err(e) => (
            None,
            format!(
                "the offered proof from size {h} to {o} fails ({e}); the log's own proofs decide"
            ),
        ),
    }
}
