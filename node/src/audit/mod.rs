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

pub mod checkpoint;
pub mod merkle;
pub mod proof;

pub use checkpoint::{Checkpoint, CheckpointError, key_id};
pub use merkle::{
    EMPTY_ROOT, Hash, MerkleError, RightEdge, SubtreeHashes, leaf_hash, node_hash, root_at,
    root_of_leaves,
};
pub use proof::{
    ProofError, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};

#[cfg(test)]
mod rfc_reference;
