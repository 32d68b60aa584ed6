//! Issuing and verifying what a log holder hands out: a signed checkpoint with the
//! holder's signer certificate, a receipt (one entry, its inclusion proof
//! and the checkpoint it is proved against), and consistency between two
//! checkpoints of one log.
//!
//! Used by a node that received a peer's answer (the receipt proves the
//! answer was logged before it left the peer) and by auditors. Everything
//! here needs only the consortium CA (through [`SignatureVerifier`]): the
//! signer certificate travels with the checkpoint.

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::checkpoint::{Checkpoint, CheckpointError};
use super::merkle::{Hash, MerkleError, SubtreeHashes, leaf_hash};
use super::proof::{ProofError, inclusion_proof, verify_consistency, verify_inclusion};
use crate::pki::InstitutionId;
use crate::signing::{MAX_CERTIFICATE_BYTES, SignatureVerifier, SigningError};

/// Largest log entry a receipt may carry. Entries hold hashes and short
/// identifiers; a few hundred bytes in practice.
pub const MAX_RECEIPT_ENTRY_BYTES: usize = 64 * 1024;
/// Most hashes an inclusion proof can need (one per tree level).
pub const MAX_PROOF_HASHES: usize = 64;

/// A receipt that passed every check of [`verify_receipt`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedReceipt {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub root: Hash,
    /// The checkpoint's time (Unix milliseconds, UTC), when it carries one.
    pub timestamp_ms: Option<i64>,
    pub entry: pb::LogEntry,
    pub origin: String,
    /// The institution whose signer signed the checkpoint.
    pub signer: InstitutionId,
}

/// A checkpoint whose signature verified with a CA-chained signer certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The institution whose signer signed it.
    pub signer: InstitutionId,
    /// SHA-256 fingerprint of the signer certificate.
    pub signer_key_id: String,
}

/// Why a checkpoint, receipt or consistency proof was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// A required part of the receipt is absent.
    #[error("receipt has no {0}")]
    Missing(&'static str),
    /// A part of the receipt exceeds its bound.
    #[error("receipt {part} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        part: &'static str,
        len: usize,
        max: usize,
    },
    /// The signer certificate does not chain to the CA, is revoked or
    /// expired, or is not a `signer` certificate.
    #[error("checkpoint signer certificate is not trusted: {0}")]
    UntrustedSigner(#[source] SigningError),
    /// A trusted signer, but of another institution than the log's holder.
    #[error("checkpoint is signed by {actual}'s signer, but the log is {expected}'s")]
    WrongHolder {
        expected: InstitutionId,
        actual: InstitutionId,
    },
    /// The signed note is malformed or its signature does not verify with
    /// the signer certificate's key (key name = the note's origin line).
    #[error("checkpoint does not verify: {0}")]
    Checkpoint(#[source] CheckpointError),
    /// The checkpoint is of another log than the one expected.
    #[error("checkpoint origin is {actual:?}, expected {expected:?}")]
    WrongOrigin { expected: String, actual: String },
    /// The receipt and its proof name different leaves.
    #[error("receipt is for leaf {receipt}, but its inclusion proof is for leaf {proof}")]
    LeafMismatch { receipt: u64, proof: u64 },
    /// The proof is for another tree than the checkpoint's.
    #[error("inclusion proof is for tree size {proof}, but the checkpoint is of size {checkpoint}")]
    TreeSizeMismatch { proof: u64, checkpoint: u64 },
    /// A proof hash is not a SHA-256 output.
    #[error("proof hash {position} is {len} bytes, expected 32")]
    MalformedProofHash { position: usize, len: usize },
    /// The entry is not included at the index under the signed root.
    #[error("entry {leaf_index} is not in the signed tree of size {tree_size}: {source}")]
    NotIncluded {
        leaf_index: u64,
        tree_size: u64,
        #[source]
        source: ProofError,
    },
    /// The entry bytes verified but do not decode as a `LogEntry`.
    #[error("entry {leaf_index} is not a valid LogEntry: {source}")]
    MalformedEntry {
        leaf_index: u64,
        #[source]
        source: prost::DecodeError,
    },
    /// Two checkpoints of different logs cannot be consistent.
    #[error("checkpoints are of different logs: {old:?} and {new:?}")]
    DifferentLogs { old: String, new: String },
    /// The newer checkpoint does not extend the older one.
    #[error(
        "checkpoint of size {new_size} does not extend checkpoint of size {old_size}: {source}"
    )]
    Inconsistent {
        old_size: u64,
        new_size: u64,
        #[source]
        source: ProofError,
    },
}

/// A receipt for the entry at `leaf`: the entry bytes, the signed checkpoint
/// of size `tree_size` that covers it, its inclusion proof (built from
/// `hashes` in O(log n) reads) and the signer certificate, so the receiver
/// can verify it from the CA alone with [`verify_receipt`].
pub fn issue_receipt<S: SubtreeHashes>(
    hashes: &S,
    leaf: u64,
    entry: Vec<u8>,
    tree_size: u64,
    signed_note: String,
    signer_certificate: Vec<u8>,
) -> Result<pb::Receipt, MerkleError<S::Error>> {
    let proof = inclusion_proof(hashes, leaf, tree_size)?;
    Ok(pb::Receipt {
        leaf_index: leaf,
        entry,
        checkpoint: Some(pb::Checkpoint { signed_note }),
        proof: Some(pb::InclusionProof {
            leaf_index: leaf,
            tree_size,
            hashes: proof.iter().map(|h| h.to_vec()).collect(),
        }),
        signer_certificate,
        ..Default::default()
    })
}

/// Verifies a signed checkpoint from the CA alone.
///
/// Checks, in order: the signer certificate chains to the CA at the
/// checkpoint's time (its `Timestamp:`, never after `now`; `now` when it has
/// none) and was not revoked before it (role `signer`); its institution is
/// `expected_holder` when given; the note's signature by key name = the note's origin line
/// verifies with the certificate's key; the origin equals
/// `expected_origin` when given. Cost: one Ed25519 verification (plus a
/// chain check the first time a certificate is seen).
pub fn verify_signed_checkpoint(
    note: &str,
    signer_certificate: &[u8],
    verifier: &SignatureVerifier,
    expected_holder: Option<&InstitutionId>,
    expected_origin: Option<&str>,
    now: SystemTime,
) -> Result<SignedCheckpoint, ReceiptError> {
    if signer_certificate.len() > MAX_CERTIFICATE_BYTES {
        return Err(ReceiptError::TooLarge {
            part: "signer certificate",
            len: signer_certificate.len(),
            max: MAX_CERTIFICATE_BYTES,
        });
    }
    // The writer signs with the origin as key name, at the time the note
    // states; the parse only finds both, the signature check below is what
    // counts. The certificate must have been valid (and not yet revoked)
    // then, so a checkpoint outlives its signer certificate.
    let claimed = Checkpoint::parse_unverified(note).map_err(ReceiptError::Checkpoint)?;
    let signed_at = claimed
        .timestamp_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or(now, |ms| {
            (SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)).min(now)
        });
    let signer = verifier
        .verify_signer_certificate(signer_certificate, signed_at)
        .map_err(ReceiptError::UntrustedSigner)?;
    if let Some(expected) = expected_holder
        && signer.institution() != expected
    {
        return Err(ReceiptError::WrongHolder {
            expected: expected.clone(),
            actual: signer.institution().clone(),
        });
    }
    let checkpoint = Checkpoint::verify(note, &claimed.origin, &signer.public_key)
        .map_err(ReceiptError::Checkpoint)?;
    if let Some(expected) = expected_origin
        && checkpoint.origin != expected
    {
        return Err(ReceiptError::WrongOrigin {
            expected: expected.to_owned(),
            actual: checkpoint.origin,
        });
    }
    Ok(SignedCheckpoint {
        checkpoint,
        signer: signer.institution().clone(),
        signer_key_id: signer.key_id,
    })
}

/// Verifies a receipt handed out by `expected_holder` with its answer.
///
/// Checks: the checkpoint as [`verify_signed_checkpoint`] does (signer
/// chain at `now`, signer institution == `expected_holder`, note
/// signature, origin == `expected_origin` when given); the proof is for the
/// receipt's leaf and the checkpoint's size; `leaf_index` < tree size; the
/// inclusion proof of `leaf_hash(entry)` leads to the signed root; the
/// entry decodes as a `LogEntry`. Cost: one Ed25519 verification and
/// O(log n) hashes.
pub fn verify_receipt(
    receipt: &pb::Receipt,
    verifier: &SignatureVerifier,
    expected_holder: &InstitutionId,
    expected_origin: Option<&str>,
    now: SystemTime,
) -> Result<VerifiedReceipt, ReceiptError> {
    let (note, proof) = receipt_parts(receipt)?;
    let signed = verify_signed_checkpoint(
        note,
        &receipt.signer_certificate,
        verifier,
        Some(expected_holder),
        expected_origin,
        now,
    )?;
    let checkpoint = signed.checkpoint;
    let leaf_index = receipt.leaf_index;
    if proof.leaf_index != leaf_index {
        return Err(ReceiptError::LeafMismatch {
            receipt: leaf_index,
            proof: proof.leaf_index,
        });
    }
    if proof.tree_size != checkpoint.size {
        return Err(ReceiptError::TreeSizeMismatch {
            proof: proof.tree_size,
            checkpoint: checkpoint.size,
        });
    }
    let hashes = proof_hashes(&proof.hashes)?;
    verify_inclusion(
        &leaf_hash(&receipt.entry),
        leaf_index,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    )
    .map_err(|source| ReceiptError::NotIncluded {
        leaf_index,
        tree_size: checkpoint.size,
        source,
    })?;
    let entry = pb::LogEntry::decode(receipt.entry.as_slice())
        .map_err(|source| ReceiptError::MalformedEntry { leaf_index, source })?;
    Ok(VerifiedReceipt {
        leaf_index,
        tree_size: checkpoint.size,
        root: checkpoint.root,
        timestamp_ms: checkpoint.timestamp_ms,
        entry,
        origin: checkpoint.origin,
        signer: signed.signer,
    })
}

/// The signed note and inclusion proof of a receipt, present and bounded.
fn receipt_parts(receipt: &pb::Receipt) -> Result<(&str, &pb::InclusionProof), ReceiptError> {
    let note = &receipt
        .checkpoint
        .as_ref()
        .ok_or(ReceiptError::Missing("checkpoint"))?
        .signed_note;
    let proof = receipt
        .proof
        .as_ref()
        .ok_or(ReceiptError::Missing("inclusion proof"))?;
    if receipt.entry.len() > MAX_RECEIPT_ENTRY_BYTES {
        return Err(ReceiptError::TooLarge {
            part: "entry",
            len: receipt.entry.len(),
            max: MAX_RECEIPT_ENTRY_BYTES,
        });
    }
    Ok((note, proof))
}

/// Checks that `new` extends `old` (same origin; RFC 9162 consistency).
///
/// Both checkpoints must already have been verified (signed notes by the
/// same log's key, see [`verify_signed_checkpoint`]); this checks the
/// origins match and the proof links the two roots. Equal sizes need an
/// empty proof and equal roots. O(log n) hashes.
pub fn verify_checkpoint_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), ReceiptError> {
    if old.origin != new.origin {
        return Err(ReceiptError::DifferentLogs {
            old: old.origin.clone(),
            new: new.origin.clone(),
        });
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, proof).map_err(|source| {
        ReceiptError::Inconsistent {
            old_size: old.size,
            new_size: new.size,
            source,
        }
    })
}

/// Wire proof hashes as [`Hash`]es; at most [`MAX_PROOF_HASHES`] of them.
pub fn proof_hashes(hashes: &[Vec<u8>]) -> Result<Vec<Hash>, ReceiptError> {
    if hashes.len() > MAX_PROOF_HASHES {
        return Err(ReceiptError::TooLarge {
            part: "proof",
            len: hashes.len() * 32,
            max: MAX_PROOF_HASHES * 32,
        });
    }
    hashes
        .iter()
        .enumerate()
        .map(|(position, hash)| {
            Hash::try_from(hash.as_slice()).map_err(|_| ReceiptError::MalformedProofHash {
                position,
                len: hash.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
