//! The query log's storage: entries, complete-subtree hashes and every signed
//! checkpoint, read back for proofs, audits and the start-up integrity check.

use credshare_proto::v1 as pb;

use super::keys;
use super::{StorageError, Store, be_u64};
use crate::audit::{self, Checkpoint, Hash, MerkleError, RightEdge, SubtreeHashes};
use crate::domain::BorrowerKey;
use crate::signing::certificate_public_key;

impl SubtreeHashes for Store {
    type Error = StorageError;

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, StorageError> {
        let value = self
            .tree
            .get(keys::hash_key(level, index))?
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "missing subtree hash at level {level}, index {index}"
                ))
            })?;
        value.as_ref().try_into().map_err(|_| {
            StorageError::Corrupt(format!("bad subtree hash at level {level}, index {index}"))
        })
    }
}

fn merkle_err(e: MerkleError<StorageError>) -> StorageError {
    match e {
        MerkleError::Store(s) => s,
        other => StorageError::Range(other.to_string()),
    }
}

impl Store {
    /// The entry bytes at `index`, exactly as hashed.
    pub fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .tree
            .get(keys::indexed(keys::LOG_ENTRY, index))?
            .map(|v| v.to_vec()))
    }

    /// Entries `[start, end)` in order.
    pub fn log_entries(
        &self,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), StorageError>> + use<> {
        self.tree
            .range(keys::indexed(keys::LOG_ENTRY, start)..keys::indexed(keys::LOG_ENTRY, end))
            .map(|item| {
                let (k, v) = item?;
                Ok((be_u64(&k[1..])?, v.to_vec()))
            })
    }

    /// The checkpoint at `tree_size`, or the latest one.
    pub fn checkpoint(
        &self,
        tree_size: Option<u64>,
    ) -> Result<Option<pb::GetCheckpointResponse>, StorageError> {
        let value = match tree_size {
            Some(size) => self.tree.get(keys::indexed(keys::CHECKPOINT, size))?,
            None => self
                .tree
                .scan_prefix([keys::CHECKPOINT])
                .next_back()
                .transpose()?
                .map(|(_, v)| v),
        };
        value.map(|v| self.decode_checkpoint(&v)).transpose()
    }

    /// Inclusion proof of `leaf` in the tree of `tree_size` leaves.
    pub fn inclusion_proof(&self, leaf: u64, tree_size: u64) -> Result<Vec<Hash>, StorageError> {
        audit::inclusion_proof(self, leaf, tree_size).map_err(merkle_err)
    }

    /// Consistency proof from `old_size` to `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StorageError> {
        audit::consistency_proof(self, old_size, new_size).map_err(merkle_err)
    }

    /// (tree size, root) of every stored checkpoint of a size in
    /// `[from, to]`, oldest first. The notes are parsed, not verified: only
    /// the newest one's signature matters, and it is verified separately.
    pub(crate) fn checkpoint_roots(
        &self,
        from: u64,
        to: u64,
    ) -> impl DoubleEndedIterator<Item = Result<(u64, Hash), StorageError>> + use<> {
        let range = keys::indexed(keys::CHECKPOINT, from)..=keys::indexed(keys::CHECKPOINT, to);
        self.tree.range(range).map(|item| {
            let (_, v) = item?;
            let (note, _) = super::compact::decode_checkpoint(&v)?;
            let cp = Checkpoint::parse_unverified(&note)
                .map_err(|e| StorageError::Corrupt(format!("stored checkpoint: {e}")))?;
            Ok((cp.size, cp.root))
        })
    }

    /// Leaf indexes of the peer queries about one borrower, oldest first:
    /// at most `limit` from `from_leaf` on. O(limit) reads.
    pub fn query_history(
        &self,
        borrower_key: &BorrowerKey,
        from_leaf: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StorageError> {
        let start = keys::query_index_key(borrower_key.as_bytes(), from_leaf);
        let prefix = &start[..start.len() - 8];
        self.tree
            .range(start.as_slice()..)
            .keys()
            .take_while(|k| k.as_ref().map_or(true, |k| k.starts_with(prefix)))
            .take(limit)
            .map(|k| be_u64(&k?[prefix.len()..]))
            .collect()
    }

    /// Re-hashes every entry, rebuilds the tree and checks it against the
    /// stored hashes and the newest checkpoint, whose signature is checked
    /// with the signer certificate stored beside it (so a rotated signer
    /// key is fine) under the log's `origin` (a changed origin is refused).
    /// Returns the right edge to continue appending from and the
    /// certificate that signed the newest checkpoint. O(n): `restore` uses
    /// it; start-up checks the newest part only ([`Store::open_log`]) and
    /// the rest in the background ([`super::verify`]).
    pub fn verify_log(&self, origin: &str) -> Result<(RightEdge, Option<Vec<u8>>), StorageError> {
        let edge = self.replay(RightEdge::empty(), u64::MAX, &mut |_| true)?;
        let Some(latest) = self.checkpoint(None)? else {
            return match edge.size() {
                0 => Ok((edge, None)),
                n => Err(tampered(0, &format!("{n} entries but no checkpoint"))),
            };
        };
        let cp = verify_newest(&latest, origin, edge.size())?;
        if cp.size != edge.size() || cp.root != edge.root() {
            // A shorter log is missing its tail: the first absent entry is bad.
            let index = cp.size.min(edge.size());
            return Err(tampered(
                index,
                &format!(
                    "newest checkpoint says size {} but the log rebuilds to size {} with another root",
                    cp.size,
                    edge.size()
                ),
            ));
        }
        Ok((edge, Some(latest.signer_certificate)))
    }

    /// Re-hashes the entries from `edge.size()` up to `end` (or the last
    /// one) in order, extending `edge`, checking each against its stored
    /// leaf and subtree hashes and every stored checkpoint's root on the
    /// way (to name the first bad range of a rewrite). `progress` is told
    /// the size reached every [`PROGRESS_EVERY`] entries; returning false
    /// stops the replay early (at that size).
    pub(crate) fn replay(
        &self,
        mut edge: RightEdge,
        end: u64,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<RightEdge, StorageError> {
        let start = edge.size();
        let mut signed = self.checkpoint_roots(start, end).peekable();
        let mut last_good = start;
        for item in self.log_entries(start, end) {
            let (index, entry) = item?;
            if index != edge.size() {
                return Err(tampered(
                    edge.size(),
                    "entry is missing (entries are not contiguous)",
                ));
            }
            let leaf = audit::leaf_hash(&entry);
            if self.subtree_hash(0, index).ok() != Some(leaf) {
                return Err(tampered(index, "entry does not match its stored leaf hash"));
            }
            for (level, i, hash) in edge.append(leaf) {
                if self.subtree_hash(level, i).ok() != Some(hash) {
                    return Err(tampered(
                        index,
                        &format!("stored subtree hash at level {level}, index {i} is wrong"),
                    ));
                }
            }
            while let Some(next) =
                signed.next_if(|c| c.as_ref().map_or(true, |(s, _)| *s <= edge.size()))
            {
                let (size, root) = next?;
                if size == edge.size() && root != edge.root() {
                    return Err(tampered(
                        last_good,
                        &format!(
                            "entries {last_good}..{size} do not hash to the root signed at tree size {size}"
                        ),
                    ));
                }
                last_good = size;
            }
            if edge.size().is_multiple_of(PROGRESS_EVERY) && !progress(edge.size()) {
                break;
            }
        }
        Ok(edge)
    }
}

/// How often [`Store::replay`] reports progress, entries.
pub(crate) const PROGRESS_EVERY: u64 = 4096;

/// Parses the newest stored checkpoint, checks its origin and verifies
/// its signature with the certificate stored beside it.
pub(crate) fn verify_newest(
    latest: &pb::GetCheckpointResponse,
    origin: &str,
    log_size: u64,
) -> Result<Checkpoint, StorageError> {
    let note = latest
        .checkpoint
        .as_ref()
        .map(|c| c.signed_note.as_str())
        .unwrap_or_default();
    let claimed = Checkpoint::parse_unverified(note).map_err(|e| StorageError::Tampered {
        index: log_size,
        reason: format!("newest checkpoint: {e}"),
    })?;
    if claimed.origin != origin {
        return Err(StorageError::OriginChanged {
            stored: claimed.origin,
            configured: origin.to_owned(),
        });
    }
    let public_key =
        certificate_public_key(&latest.signer_certificate).map_err(|e| StorageError::Tampered {
            index: log_size,
            reason: format!("newest checkpoint's signer certificate: {e}"),
        })?;
    Checkpoint::verify(note, origin, &public_key).map_err(|e| StorageError::Tampered {
        index: log_size,
        reason: format!("newest checkpoint: {e}"),
    })
}

pub(crate) fn tampered(index: u64, reason: &str) -> StorageError {
    StorageError::Tampered {
        index,
        reason: reason.to_owned(),
    }
}
