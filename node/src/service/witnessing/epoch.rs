//! A restored log's declaration to its witnesses: the newest
//! `LogEpochEntry` of the log (found by one pass over the log, once per
//! process, on the blocking pool) goes with every submission with its
//! inclusion proof, so a witness holding a checkpoint of the earlier epoch
//! keeps the conflict as evidence and then follows the declared epoch
//! (docs/protocol.md §13).

use credshare_proto::v1 as pb;
use prost::Message;

use crate::audit::inclusion_proof;
use crate::blocking;
use crate::error::NodeError;
use crate::service::Node;
use crate::storage::Store;

/// The log's newest `LogEpochEntry` and its index.
#[derive(Debug, Clone)]
pub(crate) struct EpochDeclaration {
    pub index: u64,
    pub entry: Vec<u8>,
}

impl Node {
    /// The log's newest declared restore within its first `size` entries,
    /// looked for once.
    pub(super) async fn epoch_declaration(&self, size: u64) -> Option<EpochDeclaration> {
        if let Some(known) = self.witnessing.lock().epoch.clone() {
            return known;
        }
        let store = self.store.clone();
        let found = blocking::run(move || newest_epoch_entry(&store, size))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "witnessing: looking for a declared restore");
                None
            });
        self.witnessing.lock().epoch = Some(found.clone());
        found
    }

    /// Adds `declaration` with its inclusion proof in the tree of
    /// `request`'s checkpoint (of `size` entries).
    pub(super) async fn declare(
        &self,
        request: &mut pb::AddCheckpointRequest,
        declaration: &EpochDeclaration,
        size: u64,
    ) -> Result<(), String> {
        let store = self.store.clone();
        let index = declaration.index;
        let proof = blocking::run(move || {
            inclusion_proof(&store, index, size).map_err(|e| NodeError::internal(e.to_string()))
        })
        .await
        .map_err(|e| e.to_string())?;
        request.epoch_entry = declaration.entry.clone();
        request.epoch_proof = Some(pb::InclusionProof {
            leaf_index: index,
            tree_size: size,
            hashes: proof.iter().map(|h| h.to_vec()).collect(),
        });
        Ok(())
    }
}

/// One pass over entries `[0, size)` for the last `LogEpochEntry`.
fn newest_epoch_entry(store: &Store, size: u64) -> Result<Option<EpochDeclaration>, NodeError> {
    let mut newest = None;
    for item in store.log_entries(0, size) {
        let (index, bytes) = item?;
        if let Ok(pb::LogEntry {
            kind: Some(pb::log_entry::Kind::Epoch(_)),
            ..
        }) = pb::LogEntry::decode(bytes.as_slice())
        {
            newest = Some(EpochDeclaration {
                index,
                entry: bytes,
            });
        }
    }
    Ok(newest)
}
