//! The tamper-evident query log: RFC 6962 / RFC 9162 Merkle tree math and
//! signed checkpoints. Pure code — no sled, no tokio.
//!
//! * [`merkle`] — leaf and node hashing, the in-memory [`RightEdge`] that
//!   makes appends O(log n), and roots from stored complete-subtree hashes
//!   read through the [`SubtreeHashes`] trait that storage implements.
//! * [`proof`] — inclusion and consistency proofs: built from stored hashes
//!   in O(log n) reads, verified with the RFC 9162 algorithms.
//! * [`checkpoint`] — C2SP tlog-checkpoint bodies in C2SP signed notes,
//!   signed with the institution's Ed25519 key.
//! * [`cosignature`] — C2SP tlog-cosignature `cosignature/v1` lines a
//!   witness adds to a peer's checkpoint, and their verification.
//! * [`receipt`] — receipts a log holder hands out, and their verification
//!   (signed checkpoints, receipts, consistency between checkpoints) from
//!   the consortium CA alone.
//! * [`witnessed`] — counting the witnesses whose cosignatures on a log's
//!   checkpoint verify, and tying it to a receipt's checkpoint.
//! * [`bounds`] — which indexes and tree sizes audit requests may ask for.

pub mod bounds;
pub mod checkpoint;
pub mod cosignature;
pub mod merkle;
pub mod proof;
pub mod receipt;
pub mod witnessed;

pub use bounds::{LogBoundsError, MAX_ENTRIES_PER_CALL};
pub use checkpoint::{Checkpoint, CheckpointError, key_id};
pub use merkle::{
    EMPTY_ROOT, Hash, MerkleError, RightEdge, SubtreeHashes, leaf_hash, node_hash, root_at,
    root_of_leaves,
};
pub use proof::{
    ProofError, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
pub use receipt::{
    ReceiptError, SignedCheckpoint, VerifiedReceipt, issue_receipt, verify_checkpoint_consistency,
    verify_receipt, verify_signed_checkpoint,
};

#[cfg(test)]
mod rfc_reference;
