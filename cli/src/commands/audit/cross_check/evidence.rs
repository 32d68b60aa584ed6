//! The signed evidence of each finding, fetched from the nodes and checked
//! here: an entry as its log holds it (bytes, inclusion proof in the log's
//! newest verified checkpoint), and whether a checkpoint a holder signed
//! still fits its log as served now (RFC 9162 consistency proof from
//! `GetConsistencyProof`).

use std::collections::HashMap;

use anyhow::Context;
use base64::Engine as _;
use credshare_node::audit::{
    Checkpoint, leaf_hash, verify_checkpoint_consistency, verify_inclusion,
};
use credshare_node::pki::InstitutionId;
use serde_json::{Value, json};

use super::collect::{LogView, RecordedCheckpoint};
use crate::commands::audit::base64_root;
use crate::commands::audit::session::AuditSession;

/// Whether a signed checkpoint fits a log as served now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The log extends it (or is it).
    Consistent,
    /// The log contradicts it: both were signed by the log, so the log
    /// showed two histories.
    Conflicts(String),
    /// It could not be decided (a signature or a proof could not be had).
    Unverifiable(String),
}

impl Fit {
    pub(crate) fn json(&self) -> Value {
        match self {
            Fit::Consistent => json!({"fits": "CONSISTENT"}),
            Fit::Conflicts(why) => json!({"fits": "CONFLICTS", "why": why}),
            Fit::Unverifiable(why) => json!({"fits": "UNVERIFIABLE", "why": why}),
        }
    }
}

/// Does the log behind `session`, whose newest verified checkpoint is
/// `current`, extend `old` (already verified as signed by that log)?
pub(crate) async fn fits_current(
    session: &mut AuditSession,
    current: &Checkpoint,
    old: &Checkpoint,
) -> Fit {
    if old.size > current.size {
        return Fit::Conflicts(format!(
            "the log signed a tree of {} entries; it now serves only {}",
            old.size, current.size
        ));
    }
    if old.size == current.size {
        return if old.root == current.root {
            Fit::Consistent
        } else {
            Fit::Conflicts(format!(
                "the log signed two different trees of {} entries (roots {} and {})",
                old.size,
                base64_root(&old.root),
                base64_root(&current.root)
            ))
        };
    }
    let proof = match session.consistency_proof(old.size, current.size).await {
        Ok(proof) => proof,
        Err(e) => return Fit::Unverifiable(format!("no consistency proof: {e:#}")),
    };
    match verify_checkpoint_consistency(old, current, &proof) {
        Ok(()) => Fit::Consistent,
        Err(e) => Fit::Conflicts(format!(
            "the log's own consistency proof from size {} to {} fails: {e}",
            old.size, current.size
        )),
    }
}

/// A recorded holder checkpoint, its signature re-verified (certificate by
/// the key id the requester recorded, from any log's `SignerKeyEntry`s)
/// and checked against the holder's log as served now.
pub(crate) async fn check_recorded(
    session: &mut AuditSession,
    holder: &LogView,
    recorded: &RecordedCheckpoint,
    certificates: &HashMap<String, Vec<u8>>,
) -> Fit {
    let Some(certificate) = certificates.get(&recorded.signer_key_id) else {
        return Fit::Unverifiable(format!(
            "no log names a signer certificate with key id {}",
            recorded.signer_key_id
        ));
    };
    let holder_id = match InstitutionId::parse(&holder.institution) {
        Ok(id) => id,
        Err(e) => return Fit::Unverifiable(e.to_string()),
    };
    let current = &holder.newest.signed.checkpoint;
    match session.verify_note_of(
        &recorded.note,
        certificate,
        &holder_id,
        Some(&current.origin),
    ) {
        Ok(signed) => fits_current(session, current, &signed.checkpoint).await,
        Err(e) => Fit::Unverifiable(format!("the recorded checkpoint does not verify: {e}")),
    }
}

/// Entry `index` of the session's log as evidence: its bytes, its
/// inclusion proof in the log's newest verified checkpoint (checked here)
/// and that checkpoint.
pub(crate) async fn entry_evidence(
    session: &mut AuditSession,
    log: &LogView,
    index: u64,
) -> anyhow::Result<Value> {
    let checkpoint = &log.newest.signed.checkpoint;
    let mut bytes = Vec::new();
    session
        .for_each_entry(index, index + 1, |_, entry| {
            bytes = entry;
            Ok(())
        })
        .await
        .with_context(|| format!("fetching entry {index} of {}'s log", log.institution))?;
    let proof = session.inclusion_proof(index, checkpoint.size).await?;
    let included = verify_inclusion(
        &leaf_hash(&bytes),
        index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    )
    .is_ok();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(json!({
        "log": log.institution,
        "index": index,
        "entry": b64(&bytes),
        "inclusion_proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        "inclusion_verified": included,
        "checkpoint": log.newest.note,
    }))
}
