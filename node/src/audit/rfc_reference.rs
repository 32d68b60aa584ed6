//! A reference for the Merkle tests, written straight from RFC 9162's
//! recursive definitions of MTH, PATH and PROOF, plus the in-memory stores
//! the tests read subtree hashes from.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::merkle::{Hash, RightEdge, SubtreeHashes, leaf_hash, node_hash};

pub(super) const MAX_SIZE: u64 = 300;

pub(super) fn sha256(data: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

pub(super) fn unhex(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).expect("test vector is 32 hex bytes");
    out
}

/// RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, transcribed recursively over the
/// leaf hashes `D[a:b]`. MTH is memoised by range: it is a pure function, so
/// the memo changes the speed and nothing else.
pub(super) struct Reference {
    pub(super) leaves: Vec<Hash>,
    pub(super) memo: RefCell<HashMap<(usize, usize), Hash>>,
}

/// The RFC's k: the largest power of two smaller than n, found naively.
fn rfc_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

impl Reference {
    pub(super) fn new(leaves: Vec<Hash>) -> Self {
        Reference {
            leaves,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// MTH(D[a:b]).
    pub(super) fn mth(&self, a: usize, b: usize) -> Hash {
        if let Some(hash) = self.memo.borrow().get(&(a, b)) {
            return *hash;
        }
        let hash = match b - a {
            0 => sha256(b""),
            1 => self.leaves[a],
            n => {
                let k = rfc_k(n);
                let mut data = vec![0x01];
                data.extend_from_slice(&self.mth(a, a + k));
                data.extend_from_slice(&self.mth(a + k, b));
                sha256(&data)
            }
        };
        self.memo.borrow_mut().insert((a, b), hash);
        hash
    }

    /// PATH(m, D[a:b]), m relative to a.
    pub(super) fn path(&self, m: usize, a: usize, b: usize) -> Vec<Hash> {
        let n = b - a;
        if n == 1 {
            return Vec::new();
        }
        let k = rfc_k(n);
        let (mut path, sibling) = if m < k {
            (self.path(m, a, a + k), self.mth(a + k, b))
        } else {
            (self.path(m - k, a + k, b), self.mth(a, a + k))
        };
        path.push(sibling);
        path
    }

    /// Which side each PATH(m, D[0:n]) sibling is on (true = right), leaf up.
    pub(super) fn path_sides(m: usize, n: usize) -> Vec<bool> {
        if n == 1 {
            return Vec::new();
        }
        let k = rfc_k(n);
        let mut sides = if m < k {
            Self::path_sides(m, k)
        } else {
            Self::path_sides(m - k, n - k)
        };
        sides.push(m < k);
        sides
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n.
    pub(super) fn proof(&self, m: usize, n: usize) -> Vec<Hash> {
        self.subproof(m, 0, n, true)
    }

    /// SUBPROOF(m, D[a:b], flag), m relative to a.
    fn subproof(&self, m: usize, a: usize, b: usize, flag: bool) -> Vec<Hash> {
        let n = b - a;
        if m == n {
            return if flag {
                Vec::new()
            } else {
                vec![self.mth(a, b)]
            };
        }
        let k = rfc_k(n);
        let (mut proof, last) = if m <= k {
            (self.subproof(m, a, a + k, flag), self.mth(a + k, b))
        } else {
            (self.subproof(m - k, a + k, b, false), self.mth(a, a + k))
        };
        proof.push(last);
        proof
    }
}

#[derive(Debug, thiserror::Error)]
#[error("subtree ({level}, {index}) is not stored below size {limit}")]
pub(super) struct NotStored {
    level: u8,
    index: u64,
    pub(super) limit: u64,
}

/// Complete subtrees as the writer would store them, seen through a tree
/// size: asking for a subtree that reaches past `limit` is an error, so the
/// tests prove that roots and proofs read only inside their tree.
pub(super) struct MemoryStore {
    pub(super) hashes: HashMap<(u8, u64), Hash>,
    pub(super) limit: Cell<u64>,
    pub(super) reads: Cell<usize>,
}

impl SubtreeHashes for MemoryStore {
    type Error = NotStored;

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, NotStored> {
        self.reads.set(self.reads.get() + 1);
        let limit = self.limit.get();
        let end = (index + 1)
            .checked_shl(u32::from(level))
            .unwrap_or(u64::MAX);
        match self.hashes.get(&(level, index)) {
            Some(hash) if end <= limit => Ok(*hash),
            _ => Err(NotStored {
                level,
                index,
                limit,
            }),
        }
    }
}

impl MemoryStore {
    pub(super) fn view(&self, limit: u64) -> &Self {
        self.limit.set(limit);
        self.reads.set(0);
        self
    }
}

pub(super) struct Fixture {
    pub(super) reference: Reference,
    pub(super) store: MemoryStore,
    /// `edges[n]` is the edge after `n` appends.
    pub(super) edges: Vec<RightEdge>,
}

pub(super) fn fixture() -> Fixture {
    let leaves: Vec<Hash> = (0..MAX_SIZE).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut hashes = HashMap::new();
    let mut edge = RightEdge::empty();
    let mut edges = vec![edge.clone()];
    for leaf in &leaves {
        for (level, index, hash) in edge.append(*leaf) {
            assert!(
                hashes.insert((level, index), hash).is_none(),
                "stored twice"
            );
        }
        edges.push(edge.clone());
    }
    Fixture {
        reference: Reference::new(leaves),
        store: MemoryStore {
            hashes,
            limit: Cell::new(0),
            reads: Cell::new(0),
        },
        edges,
    }
}

/// Most reads a root or proof over a tree of `n` leaves may take.
pub(super) fn read_bound(n: u64) -> usize {
    2 * (64 - n.leading_zeros() as usize) + 2
}

/// A tree whose leaves are all equal, so the hash of any complete subtree
/// depends only on its level: lets the tests reach sizes up to `u64::MAX`.
pub(super) struct UniformTree {
    pub(super) by_level: Vec<Hash>,
}

impl UniformTree {
    pub(super) fn new() -> Self {
        let mut by_level = vec![leaf_hash(b"same")];
        for level in 1..64 {
            let below = by_level[level - 1];
            by_level.push(node_hash(&below, &below));
        }
        UniformTree { by_level }
    }
}

impl SubtreeHashes for UniformTree {
    type Error = std::convert::Infallible;

    fn subtree_hash(&self, level: u8, _index: u64) -> Result<Hash, Self::Error> {
        Ok(self.by_level[usize::from(level)])
    }
}
