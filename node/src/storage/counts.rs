//! How many record versions and borrowers the store holds, kept by the
//! writer in the same atomic batch as the records (store format 4), so
//! `Status` and the metrics read two numbers instead of scanning every
//! record key (at a million borrowers, 8.5 million keys and tens of
//! seconds of I/O per count).
//!
//! The key is `M` ‖ `record-counts`; the value is the version count and
//! the borrower count, each u64 BE. Record keys are never deleted (the
//! retention sweep keeps a version's key and hash), so both only grow.
//! A store without the key holds no records (a new store), or was written
//! before format 4 and is counted once by the format step
//! ([`count_in_place`]).

use std::collections::HashSet;
use std::path::Path;

use super::keys;
use super::{StorageError, Store};
use crate::domain::BorrowerKey;

/// The counts' key.
const KEY: &[u8] = b"Mrecord-counts";

/// Record versions and distinct borrowers stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub versions: u64,
    pub borrowers: u64,
}

impl RecordCounts {
    fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.versions.to_be_bytes());
        out[8..].copy_from_slice(&self.borrowers.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        if bytes.len() != 16 {
            return Err(StorageError::Corrupt(format!(
                "record counts: expected 16 bytes, found {}",
                bytes.len()
            )));
        }
        Ok(Self {
            versions: super::be_u64(&bytes[..8])?,
            borrowers: super::be_u64(&bytes[8..])?,
        })
    }
}

/// The counts as one batch changes them: each stored version counts, and
/// each borrower that had no record before the batch.
#[derive(Debug)]
pub(crate) struct CountingBatch {
    pub counts: RecordCounts,
    seen: HashSet<BorrowerKey>,
    changed: bool,
}

impl CountingBatch {
    pub fn new(counts: RecordCounts) -> Self {
        Self {
            counts,
            seen: HashSet::new(),
            changed: false,
        }
    }

    /// Counts one stored version of `borrower`'s; `store` says whether the
    /// borrower held a record before this batch.
    pub fn stored(&mut self, store: &Store, borrower: &BorrowerKey) -> Result<(), StorageError> {
        self.counts.versions += 1;
        self.changed = true;
        if self.seen.insert(*borrower) && !store.holds_records_of(borrower)? {
            self.counts.borrowers += 1;
        }
        Ok(())
    }

    /// Adds the new counts to `batch` when a version was stored.
    pub fn write(&self, batch: &mut sled::Batch) {
        if self.changed {
            batch.insert(KEY, &self.counts.encode()[..]);
        }
    }
}

impl Store {
    /// The counts as last applied; O(1).
    pub fn record_counts(&self) -> Result<RecordCounts, StorageError> {
        match self.tree.get(KEY)? {
            Some(bytes) => RecordCounts::decode(&bytes),
            None => Ok(RecordCounts::default()),
        }
    }

    /// Whether any version of any record of `borrower` is stored.
    fn holds_records_of(&self, borrower: &BorrowerKey) -> Result<bool, StorageError> {
        let prefix = keys::record_prefix(borrower.as_bytes());
        Ok(self
            .tree
            .scan_prefix(prefix)
            .keys()
            .next()
            .transpose()?
            .is_some())
    }
}

/// Counts record versions and borrowers by one scan of the record keys.
fn count_by_scan(tree: &sled::Tree) -> Result<RecordCounts, StorageError> {
    let mut counts = RecordCounts::default();
    let mut last: Option<sled::IVec> = None;
    for key in tree.scan_prefix([keys::RECORD]).keys() {
        let key = key?;
        let borrower = key
            .get(1..33)
            .ok_or_else(|| StorageError::Corrupt("short record key".into()))?;
        counts.versions += 1;
        if last.as_deref().map(|l| &l[1..33]) != Some(borrower) {
            counts.borrowers += 1;
            last = Some(key);
        }
    }
    Ok(counts)
}

/// Counts the records of `tree` by a scan and writes the counts (a store
/// filled other than by the writer: the format step, a restored backup).
pub(super) fn recount(tree: &sled::Tree) -> Result<RecordCounts, StorageError> {
    let counts = count_by_scan(tree)?;
    tree.insert(KEY, &counts.encode()[..])?;
    Ok(counts)
}

/// Format step 3 → 4 on the closed store in `dir`: counts the records once
/// and writes the counts. Adds one key and changes none, so no copy of the
/// store is taken first; a crash before the marker is rewritten counts
/// again.
pub(super) fn count_in_place(dir: &Path) -> Result<(), StorageError> {
    let db = super::open_sled(dir, super::sled_config(dir))?;
    let tree = db.open_tree(super::TREE)?;
    let counts = recount(&tree)?;
    db.flush()?;
    drop((tree, db));
    super::durability::sync_dir_files(dir)?;
    tracing::info!(
        versions = counts.versions,
        borrowers = counts.borrowers,
        "store records counted"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_and_a_wrong_length_is_corrupt() {
        let counts = RecordCounts {
            versions: 8_577_349,
            borrowers: 1_000_000,
        };
        assert_eq!(RecordCounts::decode(&counts.encode()).unwrap(), counts);
        let err = RecordCounts::decode(&[0u8; 15]).unwrap_err().to_string();
        assert!(err.contains("expected 16 bytes, found 15"), "{err}");
    }

    /// The writer counts each stored version once, and each borrower once
    /// however its versions are spread over batches; an unchanged re-send
    /// and a refused version count nothing.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_writer_counts_what_it_stores() {
        use crate::storage::test_log;
        let (_dir, store, signer, committer) = test_log::fresh();
        let batches: [&[(u8, &str, u64)]; 3] = [
            &[(1, "F-1", 1), (1, "F-2", 1), (2, "F-1", 1)],
            &[(1, "F-1", 2), (1, "F-1", 2), (3, "F-9", 1)],
            // Unchanged (same version, same content), and refused (checked
            // against version 2, which is not stored): nothing counted.
            &[(3, "F-9", 1), (3, "F-9", 3)],
        ];
        for writes in batches {
            test_log::commit_records(&committer, &signer, writes).await;
        }
        let counts = store.record_counts().unwrap();
        assert_eq!((counts.versions, counts.borrowers), (5, 3));
        assert_eq!(count_by_scan(&store.tree).unwrap(), counts);
        // A restart reads them back.
        drop(committer);
        let again = test_log::committer(&store, signer.clone(), 64);
        test_log::commit_log(&again, vec![test_log::entry(1)]).await;
        assert_eq!(store.record_counts().unwrap(), counts);
    }

    #[test]
    fn a_scan_counts_versions_and_distinct_borrowers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        for (b, id, v) in [(1u8, "F1", 1), (1, "F1", 2), (1, "F2", 1), (2, "F1", 1)] {
            let key = keys::record_key(&[b; 32], b'C', id, v);
            store.tree.insert(key, &b"x"[..]).unwrap();
        }
        store.tree.insert(b"Lx", &b"y"[..]).unwrap();
        let counts = count_by_scan(&store.tree).unwrap();
        assert_eq!(
            counts,
            RecordCounts {
                versions: 4,
                borrowers: 2
            }
        );
    }
}
