//! RFC 6962 / RFC 9162 Merkle tree hashing over the query log.
//!
//! The tree is never held in memory. Storage keeps the hash of every
//! *complete* subtree (level `L`, index `i` covers leaves `[i << L, (i + 1) << L)`)
//! and hands them out through [`SubtreeHashes`]; the writer keeps only the
//! [`RightEdge`] — one hash per set bit of the tree size, at most 64 — so an
//! append is O(log n) hashing with no reads, and any root or proof is
//! O(log n) reads. Every hash an RFC 9162 tree of any size needs is either a
//! complete subtree or a right-to-left fold of the complete subtrees that
//! tile its range, which is what `range_root` computes.

use ring::digest::{Context, SHA256};

/// A SHA-256 output: leaf, interior node or root hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Levels a tree of up to `u64::MAX` leaves can have complete subtrees at.
const LEVELS: usize = 64;

/// `SHA-256(0x00 || entry)`: the hash of one log entry as a leaf.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(context.finish().as_ref());
    hash
}

/// Read access to stored hashes of COMPLETE subtrees: level L, index i covers
/// leaves [i << L, (i + 1) << L). Level 0 = leaf hashes.
///
/// The functions of this module only ask for subtrees that lie inside the
/// tree size they are given; a store asked for one it does not hold (a size
/// beyond what it has stored) should say so through its error.
pub trait SubtreeHashes {
    /// Why a stored hash could not be read.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of the complete subtree at `level`, `index`.
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a root or a proof could not be computed from stored hashes.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError<E: std::error::Error + 'static> {
    /// The leaf asked about is not in the tree.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder { old_size: u64, new_size: u64 },
    /// The store failed to produce a subtree hash.
    #[error("reading a stored subtree hash failed")]
    Store(#[source] E),
}

/// The right edge (compact range) of the tree: <= 64 hashes in memory, so an
/// append is O(log n) hashing and needs no reads.
///
/// For a tree of `size` leaves it holds, for every set bit `L` of `size`, the
/// hash of the complete subtree at level `L`, index `(size >> L) - 1`: the
/// tiling of `[0, size)` by maximal complete subtrees.
#[derive(Clone, PartialEq, Eq)]
pub struct RightEdge {
    size: u64,
    /// Indexed by level; levels whose bit in `size` is clear hold zeros, so
    /// two edges of the same tree compare equal however they were built.
    by_level: [Hash; LEVELS],
}

impl std::fmt::Debug for RightEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RightEdge")
            .field("size", &self.size)
            .field("root", &hex::encode(self.root()))
            .finish()
    }
}

impl RightEdge {
    /// The edge of the empty tree.
    pub fn empty() -> Self {
        RightEdge {
            size: 0,
            by_level: [[0u8; 32]; LEVELS],
        }
    }

    /// Rebuild from storage for a tree of `size` leaves (O(log n) reads:
    /// one per set bit of `size`).
    pub fn load<S: SubtreeHashes>(store: &S, size: u64) -> Result<Self, MerkleError<S::Error>> {
        let mut edge = RightEdge::empty();
        for level in set_levels(size) {
            let index = (size >> level) - 1;
            edge.by_level[usize::from(level)] = store
                .subtree_hash(level, index)
                .map_err(MerkleError::Store)?;
        }
        edge.size = size;
        Ok(edge)
    }

    /// The complete subtrees of the tiling, as (level, index, hash), lowest
    /// level first. Proofs for leaves appended after this edge need only these and
    /// the hashes the appends return.
    pub fn subtrees(&self) -> Vec<(u8, u64, Hash)> {
        set_levels(self.size)
            .map(|level| {
                (
                    level,
                    (self.size >> level) - 1,
                    self.by_level[usize::from(level)],
                )
            })
            .collect()
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the tree ([`EMPTY_ROOT`] when empty); O(log n)
    /// hashing, no reads.
    pub fn root(&self) -> Hash {
        // Fold the tiling right to left: the smallest subtree is the
        // right-most, and each larger one is the left child above it.
        let mut root: Option<Hash> = None;
        for level in set_levels(self.size) {
            let hash = &self.by_level[usize::from(level)];
            root = Some(match root {
                None => *hash,
                Some(right) => node_hash(hash, &right),
            });
        }
        root.unwrap_or(EMPTY_ROOT)
    }

    /// Appends one leaf hash; returns every newly COMPLETE subtree
    /// (level, index, hash), the leaf itself first — the caller stores them.
    ///
    /// A tree of `u64::MAX` leaves is full and ignores appends (returns an
    /// empty list); at a million appends a second that is 580,000 years away.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.push(leaf, |level, index, hash| {
            completed.push((level, index, hash))
        });
        completed
    }

    /// [`append`](Self::append) without collecting the completed subtrees.
    fn push(&mut self, leaf: Hash, mut on_complete: impl FnMut(u8, u64, Hash)) {
        if self.size == u64::MAX {
            return;
        }
        let index = self.size;
        on_complete(0, index, leaf);
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one of the old size is a complete left sibling
        // waiting for the subtree that now completes beside it.
        while (index >> level) & 1 == 1 {
            let left = std::mem::take(&mut self.by_level[usize::from(level)]);
            hash = node_hash(&left, &hash);
            level += 1;
            on_complete(level, index >> level, hash);
        }
        self.by_level[usize::from(level)] = hash;
        self.size = index + 1;
    }
}

/// Root of the tree of the first `size` leaves (size <= stored size).
/// O(log n) reads, one per set bit of `size`.
pub fn root_at<S: SubtreeHashes>(store: &S, size: u64) -> Result<Hash, MerkleError<S::Error>> {
    range_root(store, 0, size)
}

/// Root of a whole list of leaf hashes (for auditors that download all
/// entries). O(n) hashing, O(log n) memory.
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    let mut edge = RightEdge::empty();
    for leaf in leaves {
        edge.push(*leaf, |_, _, _| {});
    }
    edge.root()
}

/// RFC 9162 `MTH(D[start:end])` from stored complete subtrees.
///
/// Precondition (met by every range an RFC 9162 proof uses): `start` is a
/// multiple of the largest power of two not above `end - start`. The range is
/// then tiled greedily by shrinking aligned complete subtrees, and its RFC
/// tree is exactly those subtrees folded right to left. O(log n) reads.
pub(crate) fn range_root<S: SubtreeHashes>(
    store: &S,
    start: u64,
    end: u64,
) -> Result<Hash, MerkleError<S::Error>> {
    let mut tiles: Vec<Hash> = Vec::new();
    let mut position = start;
    while position < end {
        let level = floor_log2(end - position);
        debug_assert!(position.trailing_zeros() >= level, "unaligned range");
        let level = level.min(position.trailing_zeros());
        let level_u8 = level as u8; // lossless: level < 64
        tiles.push(
            store
                .subtree_hash(level_u8, position >> level)
                .map_err(MerkleError::Store)?,
        );
        position += 1u64 << level;
    }
    let mut tiles = tiles.into_iter().rev();
    let Some(mut root) = tiles.next() else {
        return Ok(EMPTY_ROOT);
    };
    for left in tiles {
        root = node_hash(&left, &root);
    }
    Ok(root)
}

/// `floor(log2(n))` for `n > 0`.
pub(crate) fn floor_log2(n: u64) -> u32 {
    63 - n.leading_zeros()
}

/// The levels of the complete subtrees tiling `[0, size)`, lowest first.
fn set_levels(size: u64) -> impl Iterator<Item = u8> {
    (0..LEVELS as u8).filter(move |level| (size >> level) & 1 == 1)
}

#[cfg(test)]
mod tests;
