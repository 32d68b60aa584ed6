//! Naming the first entry that differs from what the node signed: a walk
//! down the signed tree with inclusion proofs, each checked against the
//! hash already established.

use anyhow::{Context, bail};
use credshare_node::audit::{Hash, node_hash, root_of_leaves};

use crate::commands::audit::session::AuditSession;

/// Inclusion proofs in one signed tree, for [`locate_mismatch`].
pub(crate) trait InclusionProofs {
    /// The proof of `leaf` in the tree (sibling hashes from the leaf up).
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>>;
}

/// The node's tree of `size` leaves, through its `AuditService`.
pub(super) struct SignedTree<'a> {
    pub(super) session: &'a mut AuditSession,
    pub(super) size: u64,
}

impl InclusionProofs for SignedTree<'_> {
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>> {
        self.session.inclusion_proof(leaf, self.size).await
    }
}

/// Finds the first leaf whose hash differs from the tree signed with root
/// `root`, given `leaves` that do not hash to it. Walks down the RFC 9162
/// tree: at each node it asks for inclusion proofs of the first leaf of
/// each child, checks the two claimed child hashes combine into the hash
/// already established (so the node cannot mislead the search), and
/// descends into the left-most child that differs. 2 proofs per level;
/// O(n log n) hashing over the downloaded leaves.
pub(crate) async fn locate_mismatch(
    leaves: &[Hash],
    root: Hash,
    tree: &mut impl InclusionProofs,
) -> anyhow::Result<u64> {
    let (mut start, mut end) = (0usize, leaves.len());
    let mut expected = root;
    let mut depth = 0usize;
    while end - start > 1 {
        let mid = start + split_point(end - start);
        let right = sibling_at(&tree.proof_of(start as u64).await?, depth, start)?;
        let left = sibling_at(&tree.proof_of(mid as u64).await?, depth, mid)?;
        if node_hash(&left, &right) != expected {
            bail!(
                "the node's inclusion proofs contradict its signed root for entries [{start}, {end})"
            );
        }
        if root_of_leaves(&leaves[start..mid]) != left {
            (end, expected) = (mid, left);
        } else {
            (start, expected) = (mid, right);
        }
        depth += 1;
    }
    if leaves.get(start) == Some(&expected) {
        bail!("the downloaded entries do not hash to the signed root, but no entry differs");
    }
    Ok(start as u64)
}

/// The proof hash at `depth` levels below the root (proofs list siblings
/// from the leaf up).
fn sibling_at(proof: &[Hash], depth: usize, leaf: usize) -> anyhow::Result<Hash> {
    proof
        .len()
        .checked_sub(depth + 1)
        .and_then(|i| proof.get(i))
        .copied()
        .with_context(|| format!("the inclusion proof of entry {leaf} is too short"))
}

/// RFC 9162's k: the largest power of two smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}
