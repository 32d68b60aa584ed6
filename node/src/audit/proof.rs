//! RFC 9162 inclusion and consistency proofs: building them from stored
//! subtree hashes and verifying them with nothing but hashes.
//!
//! Building walks the RFC's recursive definitions top-down as a loop and
//! reads each proof hash as the root of one leaf range (`range_root`), so a
//! proof costs O(log n) reads. Verification is the RFC 9162 §2.1.3.2 and
//! §2.1.4.2 algorithms, preceded by a length check so a wrong-length proof is
//! reported as such rather than as a root mismatch.

use super::merkle::{
    EMPTY_ROOT, Hash, MerkleError, SubtreeHashes, floor_log2, node_hash, range_root,
};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder { old_size: u64, new_size: u64 },
    /// The proof has the wrong number of hashes for its index and sizes.
    #[error("proof has {actual} hashes where {expected} are expected")]
    WrongLength { expected: usize, actual: usize },
    /// The inclusion proof leads to a different root.
    #[error("inclusion proof does not lead to the expected root hash")]
    RootMismatch,
    /// The consistency proof does not reproduce the old tree's root.
    #[error("consistency proof does not reproduce the old root hash")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the new tree's root.
    #[error("consistency proof does not reproduce the new root hash")]
    NewRootMismatch,
    /// Two trees of the same size must be the same tree.
    #[error("two trees of the same size {size} have different root hashes")]
    SameSizeDifferentRoots { size: u64 },
    /// A tree of size 0 has only one possible root.
    #[error("the old root of an empty tree is not the empty-tree root")]
    EmptyTreeRoot,
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[n])`, O(log n) reads (O(log^2 n) at worst ok).
///
/// Reads only subtrees inside `[0, tree_size)`. The proof lists sibling
/// hashes from the leaf upwards.
pub fn inclusion_proof<S: SubtreeHashes>(
    store: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(MerkleError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    inclusion_ranges(leaf_index, tree_size)
        .into_iter()
        .map(|(start, end)| range_root(store, start, end))
        .collect()
}

/// RFC 9162 §2.1.4.1 `PROOF(m, D[n])`.
///
/// Empty when `old_size` is 0 or equals `new_size`. Reads only subtrees
/// inside `[0, new_size)`; O(log n) reads.
pub fn consistency_proof<S: SubtreeHashes>(
    store: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    if old_size > new_size {
        return Err(MerkleError::SizeOrder { old_size, new_size });
    }
    consistency_ranges(old_size, new_size)
        .into_iter()
        .map(|(start, end)| range_root(store, start, end))
        .collect()
}

/// RFC 9162 §2.1.3.2 verification.
pub fn verify_inclusion(
    leaf: &Hash,
    leaf_index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    let expected = inclusion_ranges(leaf_index, tree_size).len();
    check_length(expected, proof)?;
    let wrong_length = ProofError::WrongLength {
        expected,
        actual: proof.len(),
    };
    let mut walk = Walk::new(leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if walk.at_root() {
            return Err(wrong_length);
        }
        if walk.sibling_on_left() {
            r = node_hash(p, &r);
            walk.skip_levels_without_right_sibling();
        } else {
            r = node_hash(&r, p);
        }
        walk.up();
    }
    if !walk.at_root() {
        return Err(wrong_length);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2 verification (old_size may equal new_size; 0 old_size is
/// trivially consistent with an empty proof).
///
/// With `old_size` 0 the proof must be empty and `old_root` must be
/// [`EMPTY_ROOT`]; with equal sizes the proof must be empty and the roots
/// equal.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    let expected = consistency_ranges(old_size, new_size).len();
    check_length(expected, proof)?;
    if old_size == 0 && *old_root != EMPTY_ROOT {
        return Err(ProofError::EmptyTreeRoot);
    }
    if old_size == new_size && old_root != new_root {
        return Err(ProofError::SameSizeDifferentRoots { size: old_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(());
    }
    let wrong_length = ProofError::WrongLength {
        expected,
        actual: proof.len(),
    };
    let (first, rest) = match (old_size.is_power_of_two(), proof.split_first()) {
        // The old tree is a complete subtree of the new one: its root is the
        // first node of the path, and the RFC has the verifier prepend it.
        (true, _) => (old_root, proof),
        (false, Some((first, rest))) => (first, rest),
        (false, None) => return Err(wrong_length),
    };
    let (old_computed, new_computed) =
        fold_consistency(old_size, new_size, first, rest).ok_or(wrong_length)?;
    if old_computed != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if new_computed != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

/// Steps 3–7 of RFC 9162 §2.1.4.2 for `0 < old_size < new_size`: the old and
/// new roots the path implies, or `None` when the path has the wrong length.
fn fold_consistency(
    old_size: u64,
    new_size: u64,
    first: &Hash,
    rest: &[Hash],
) -> Option<(Hash, Hash)> {
    let mut walk = Walk::new(old_size - 1, new_size - 1);
    while walk.fn_ & 1 == 1 {
        walk.up();
    }
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if walk.at_root() {
            return None;
        }
        if walk.sibling_on_left() {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            walk.skip_levels_without_right_sibling();
        } else {
            sr = node_hash(&sr, c);
        }
        walk.up();
    }
    walk.at_root().then_some((fr, sr))
}

/// The position of the RFC 9162 verification walks (§2.1.3.2, §2.1.4.2):
/// `fn_` the node's index and `sn` the last index at the current level.
struct Walk {
    fn_: u64,
    sn: u64,
}

impl Walk {
    fn new(fn_: u64, sn: u64) -> Self {
        Self { fn_, sn }
    }

    fn at_root(&self) -> bool {
        self.sn == 0
    }

    /// Whether the next proof hash is the left sibling of the running one.
    fn sibling_on_left(&self) -> bool {
        self.fn_ & 1 == 1 || self.fn_ == self.sn
    }

    /// After a left sibling: skip the levels where this node has no right
    /// sibling.
    fn skip_levels_without_right_sibling(&mut self) {
        while self.fn_ & 1 == 0 && self.fn_ != 0 {
            self.up();
        }
    }

    fn up(&mut self) {
        self.fn_ >>= 1;
        self.sn >>= 1;
    }
}

/// Fails a proof whose length the index arithmetic rules out. The RFC
/// walks would also reject it (their `sn` checks stay as a second line), but
/// later and with a less useful message.
fn check_length(expected: usize, proof: &[Hash]) -> Result<(), ProofError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(ProofError::WrongLength {
            expected,
            actual: proof.len(),
        })
    }
}

/// The leaf ranges whose RFC roots make up PATH(m, D[n]), from the leaf up.
/// Requires `m < n`. Pure index arithmetic, at most 64 ranges.
pub(crate) fn inclusion_ranges(leaf_index: u64, tree_size: u64) -> Vec<(u64, u64)> {
    let mut top_down = Vec::new();
    let (mut start, mut end) = (0, tree_size);
    while end - start > 1 {
        let mid = start + split_point(end - start);
        if leaf_index < mid {
            top_down.push((mid, end));
            end = mid;
        } else {
            top_down.push((start, mid));
            start = mid;
        }
    }
    top_down.reverse();
    top_down
}

/// The leaf ranges whose RFC roots make up PROOF(m, D[n]) = SUBPROOF(m, D[n],
/// true), in proof order. Empty for `m == 0` or `m == n`; requires `m <= n`.
pub(crate) fn consistency_ranges(old_size: u64, new_size: u64) -> Vec<(u64, u64)> {
    let mut top_down = Vec::new();
    if old_size == 0 || old_size >= new_size {
        return top_down;
    }
    let (mut start, mut end) = (0, new_size);
    // SUBPROOF's flag b: the verifier already knows MTH(D[start:old_size]).
    let mut old_root_known = true;
    loop {
        let old_in_range = old_size - start;
        if old_in_range == end - start {
            if !old_root_known {
                top_down.push((start, end));
            }
            break;
        }
        let mid = start + split_point(end - start);
        if old_size <= mid {
            top_down.push((mid, end));
            end = mid;
        } else {
            top_down.push((start, mid));
            start = mid;
            old_root_known = false;
        }
    }
    top_down.reverse();
    top_down
}

/// RFC 9162's k: the largest power of two smaller than `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    1u64 << floor_log2(n - 1)
}

#[cfg(test)]
mod tests;
