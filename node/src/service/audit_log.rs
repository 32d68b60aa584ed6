//! Serve a regulator's audit of the query log (docs/design.md §5).
//!
//! Auditors see the log up to the newest *durable* checkpoint (the
//! committer's), never entries still being written, and proofs only against
//! tree sizes with a signed checkpoint (see [`crate::audit::bounds`]). Every
//! sled read runs on the blocking pool; entries are streamed in chunks so a
//! call never holds its whole range in memory.

use std::ops::Range;

use credshare_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Node;
use crate::audit::{Hash, LogBoundsError, bounds};
use crate::blocking;
use crate::error::NodeError;
use crate::storage::{StorageError, Store};

/// Entries read from sled per blocking task while streaming.
const ENTRY_CHUNK: u64 = 500;
/// Entries buffered between the reader and the caller's stream.
const ENTRY_BUFFER: usize = 1000;

/// Entries of the log, in order, as they are read.
pub type EntryStream = ReceiverStream<Result<pb::LogEntryItem, NodeError>>;

impl Node {
    /// Size of the newest durable checkpoint (0 before the first).
    fn durable_size(&self) -> u64 {
        self.committer.latest().size
    }

    /// The signed checkpoint at `tree_size` (0 = the newest durable one).
    pub async fn checkpoint(&self, tree_size: u64) -> Result<pb::GetCheckpointResponse, NodeError> {
        let latest = self.durable_size();
        let size = bounds::checkpoint_size(tree_size, latest)?;
        let store = self.store.clone();
        let stored = blocking::run(move || store.checkpoint(Some(size))).await?;
        Ok(stored.ok_or(LogBoundsError::NoCheckpoint { size, latest })?)
    }

    /// Entries `[start, end)` (bounded by [`bounds::entry_range`]), read in
    /// chunks by a background task; stops when the caller drops the stream.
    pub fn log_entries(&self, start: u64, end: u64) -> Result<EntryStream, NodeError> {
        let range = bounds::entry_range(start, end, self.durable_size())?;
        let (tx, rx) = mpsc::channel(ENTRY_BUFFER);
        tokio::spawn(stream_entries(self.store.clone(), range, tx));
        Ok(ReceiverStream::new(rx))
    }

    /// Inclusion proof of `leaf_index` in the signed tree of `tree_size`
    /// (0 = the newest durable checkpoint's).
    pub async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<pb::InclusionProof, NodeError> {
        let tree_size = bounds::proof_tree_size(tree_size, self.durable_size())?;
        bounds::check_leaf(leaf_index, tree_size)?;
        let hashes = self
            .proof_at_signed_size(tree_size, move |store| {
                store.inclusion_proof(leaf_index, tree_size)
            })
            .await?;
        Ok(pb::InclusionProof {
            leaf_index,
            tree_size,
            hashes: wire_hashes(hashes),
        })
    }

    /// Consistency proof from `old_size` to `new_size` (0 = the newest
    /// durable checkpoint's).
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<pb::ConsistencyProof, NodeError> {
        let (old_size, new_size) =
            bounds::consistency_sizes(old_size, new_size, self.durable_size())?;
        // Only the new size must be signed: the auditor brings the old root
        // from its own saved (signed) checkpoint and checks the proof against it.
        let hashes = self
            .proof_at_signed_size(new_size, move |store| {
                store.consistency_proof(old_size, new_size)
            })
            .await?;
        Ok(pb::ConsistencyProof {
            old_size,
            new_size,
            hashes: wire_hashes(hashes),
        })
    }

    /// Builds a proof only when `size` has a stored (signed) checkpoint:
    /// one point read, then the proof's O(log n) reads.
    async fn proof_at_signed_size(
        &self,
        size: u64,
        build: impl FnOnce(&Store) -> Result<Vec<Hash>, StorageError> + Send + 'static,
    ) -> Result<Vec<Hash>, NodeError> {
        let latest = self.durable_size();
        let store = self.store.clone();
        blocking::run(move || {
            if store.checkpoint(Some(size))?.is_none() {
                return Err(LogBoundsError::NoCheckpoint { size, latest }.into());
            }
            Ok(build(&store)?)
        })
        .await
    }
}

fn wire_hashes(hashes: Vec<Hash>) -> Vec<Vec<u8>> {
    hashes.into_iter().map(|h| h.to_vec()).collect()
}

/// Streams entries `range` into `tx`, reading [`ENTRY_CHUNK`] at a time on
/// the blocking pool. Stops early when the caller goes away; a gap in the
/// stored entries ends the stream with an error (the store is corrupt).
async fn stream_entries(
    store: Store,
    range: Range<u64>,
    tx: mpsc::Sender<Result<pb::LogEntryItem, NodeError>>,
) {
    let mut next = range.start;
    while next < range.end {
        let chunk_end = range.end.min(next.saturating_add(ENTRY_CHUNK));
        let store = store.clone();
        let chunk = blocking::run(move || read_chunk(&store, next, chunk_end)).await;
        let items = match chunk {
            Ok(items) => items,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        for item in items {
            if tx.send(Ok(item)).await.is_err() {
                return; // The caller hung up.
            }
        }
        next = chunk_end;
    }
}

/// Entries `[start, end)`, which must all be present and in order.
fn read_chunk(store: &Store, start: u64, end: u64) -> Result<Vec<pb::LogEntryItem>, NodeError> {
    let capacity = usize::try_from(end - start).unwrap_or(0);
    let mut items = Vec::with_capacity(capacity);
    for (expected, item) in (start..end).zip(store.log_entries(start, end)) {
        let (index, entry) = item?;
        if index != expected {
            return Err(missing(expected));
        }
        items.push(pb::LogEntryItem { index, entry });
    }
    let read = start + items.len() as u64;
    if read != end {
        return Err(missing(read));
    }
    Ok(items)
}

fn missing(index: u64) -> NodeError {
    StorageError::Corrupt(format!("query log entry {index} is missing")).into()
}
