//! `AuditService`: the regulator's view of the query log (regulators, and
//! admins of this institution).
//!
//! Auditors see the log up to the newest *durable* checkpoint (the
//! committer's), never entries still being written, and proofs only against
//! tree sizes with a signed checkpoint (see [`crate::audit::bounds`]). Every
//! sled read runs in `spawn_blocking`; entries are streamed in chunks so a
//! call never holds its whole range in memory.

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::audit::{Hash, LogBoundsError, bounds};
use crate::node::Node;
use crate::storage::{StorageError, Store};

/// Entries read from sled per blocking task while streaming.
const ENTRY_CHUNK: u64 = 500;
/// Entries buffered between the reader and the gRPC stream.
const ENTRY_BUFFER: usize = 1000;

#[derive(Debug, Clone)]
pub struct AuditApi {
    node: Arc<Node>,
}

impl AuditApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    /// Size of the newest durable checkpoint (0 before the first).
    fn latest_size(&self) -> u64 {
        self.node.committer.latest().size
    }

    /// Runs a blocking read on the store.
    async fn read<T, F>(&self, read: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StorageError> + Send + 'static,
    {
        let store = self.node.store.clone();
        tokio::task::spawn_blocking(move || read(&store))
            .await
            .map_err(|_| Status::internal("task failed"))?
            .map_err(Status::from)
    }
}

/// The one mapping of [`LogBoundsError`] to gRPC codes.
impl From<LogBoundsError> for Status {
    fn from(e: LogBoundsError) -> Self {
        let message = e.to_string();
        match e {
            LogBoundsError::EmptyLog | LogBoundsError::NoCheckpoint { .. } => {
                Status::not_found(message)
            }
            LogBoundsError::BeyondLog { .. }
            | LogBoundsError::IndexBeyondLog { .. }
            | LogBoundsError::LeafOutOfRange { .. } => Status::out_of_range(message),
            LogBoundsError::SizeOrder { .. }
            | LogBoundsError::StartAfterEnd { .. }
            | LogBoundsError::TooManyEntries { .. } => Status::invalid_argument(message),
        }
    }
}

type EntryStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::LogEntryItem, Status>> + Send>>;

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    type GetEntriesStream = EntryStream;

    #[tracing::instrument(skip_all)]
    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let caller = super::auth::caller(&request)?.identity.clone();
        let latest = self.latest_size();
        let size = bounds::checkpoint_size(request.into_inner().tree_size, latest)?;
        tracing::debug!(caller = %caller, size, "get_checkpoint");
        let stored = self.read(move |store| store.checkpoint(Some(size))).await?;
        let response = stored.ok_or(LogBoundsError::NoCheckpoint { size, latest })?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_entries(
        &self,
        request: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<Self::GetEntriesStream>, Status> {
        let caller = super::auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        let range = bounds::entry_range(req.start, req.end, self.latest_size())?;
        tracing::debug!(caller = %caller, start = range.start, end = range.end, "get_entries");
        let (tx, rx) = mpsc::channel(ENTRY_BUFFER);
        tokio::spawn(stream_entries(self.node.store.clone(), range, tx));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let caller = super::auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        let latest = self.latest_size();
        let tree_size = bounds::proof_tree_size(req.tree_size, latest)?;
        bounds::check_leaf(req.leaf_index, tree_size)?;
        tracing::debug!(caller = %caller, leaf = req.leaf_index, tree_size, "get_inclusion_proof");
        let leaf_index = req.leaf_index;
        let hashes = self
            .read(move |store| {
                proof_against_signed_sizes(store, &[tree_size], |store| {
                    store.inclusion_proof(leaf_index, tree_size)
                })
            })
            .await?
            .map_err(|size| LogBoundsError::NoCheckpoint { size, latest })?;
        Ok(Response::new(pb::InclusionProof {
            leaf_index,
            tree_size,
            hashes: wire_hashes(hashes),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let caller = super::auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        let latest = self.latest_size();
        let (old_size, new_size) = bounds::consistency_sizes(req.old_size, req.new_size, latest)?;
        tracing::debug!(caller = %caller, old_size, new_size, "get_consistency_proof");
        // Only the new size must be signed: the auditor brings the old root
        // from its own saved (signed) checkpoint and checks the proof against it.
        let sizes = vec![new_size];
        let hashes = self
            .read(move |store| {
                proof_against_signed_sizes(store, &sizes, |store| {
                    store.consistency_proof(old_size, new_size)
                })
            })
            .await?
            .map_err(|size| LogBoundsError::NoCheckpoint { size, latest })?;
        Ok(Response::new(pb::ConsistencyProof {
            old_size,
            new_size,
            hashes: wire_hashes(hashes),
        }))
    }
}

/// Builds a proof only when every tree size in `sizes` has a stored
/// (signed) checkpoint; otherwise returns `Err` naming the first that has
/// none. One point read per size, then the proof's O(log n) reads.
fn proof_against_signed_sizes(
    store: &Store,
    sizes: &[u64],
    build: impl FnOnce(&Store) -> Result<Vec<Hash>, StorageError>,
) -> Result<Result<Vec<Hash>, u64>, StorageError> {
    for &size in sizes {
        if store.checkpoint(Some(size))?.is_none() {
            return Ok(Err(size));
        }
    }
    build(store).map(Ok)
}

fn wire_hashes(hashes: Vec<Hash>) -> Vec<Vec<u8>> {
    hashes.into_iter().map(|h| h.to_vec()).collect()
}

/// Streams entries `range` into `tx`, reading `ENTRY_CHUNK` at a time in a
/// blocking task. Stops early when the caller goes away; a gap in the
/// stored entries ends the stream with an error (the store is corrupt).
async fn stream_entries(
    store: Store,
    range: std::ops::Range<u64>,
    tx: mpsc::Sender<Result<pb::LogEntryItem, Status>>,
) {
    let mut next = range.start;
    while next < range.end {
        let chunk_end = range.end.min(next.saturating_add(ENTRY_CHUNK));
        let store = store.clone();
        let chunk = tokio::task::spawn_blocking(move || read_chunk(&store, next, chunk_end))
            .await
            .map_err(|_| Status::internal("task failed"))
            .and_then(|read| read.map_err(Status::from));
        let items = match chunk {
            Ok(items) => items,
            Err(status) => {
                let _ = tx.send(Err(status)).await;
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
fn read_chunk(store: &Store, start: u64, end: u64) -> Result<Vec<pb::LogEntryItem>, StorageError> {
    let capacity = usize::try_from(end - start).unwrap_or(0);
    let mut items = Vec::with_capacity(capacity);
    for (expected, item) in (start..end).zip(store.log_entries(start, end)) {
        let (index, entry) = item?;
        if index != expected {
            return Err(StorageError::Corrupt(format!(
                "query log entry {expected} is missing"
            )));
        }
        items.push(pb::LogEntryItem { index, entry });
    }
    let read = start + items.len() as u64;
    if read != end {
        return Err(StorageError::Corrupt(format!(
            "query log entry {read} is missing"
        )));
    }
    Ok(items)
}
