//! Annotations (dispute marks, explanations, statements) this node signed
//! about its own records: `N` ‖ borrower key ‖ annotation id → the signed
//! envelope. A dispute mark is overwritten when the dispute is resolved;
//! the log keeps the hash of every version. Writes go through the group
//! commit ([`super::commit`]); these are the keys and the reads.

use credshare_proto::v1 as pb;
use prost::Message;

use super::keys;
use super::{StorageError, Store};
use crate::domain::BorrowerKey;

/// One annotation to store, atomically with the log entries of the same
/// [`super::CommitRequest`].
#[derive(Debug, Clone)]
pub struct AnnotationWrite {
    pub borrower: BorrowerKey,
    pub annotation_id: String,
    pub envelope: pb::SignedEnvelope,
}

impl AnnotationWrite {
    /// Adds this write to a sled batch (called by the writer).
    pub(super) fn apply(&self, batch: &mut sled::Batch) {
        batch.insert(
            annotation_key(&self.borrower, &self.annotation_id),
            self.envelope.encode_to_vec(),
        );
    }
}

fn annotation_key(borrower: &BorrowerKey, annotation_id: &str) -> Vec<u8> {
    let mut k = annotation_prefix(Some(borrower));
    k.extend_from_slice(annotation_id.as_bytes());
    k
}

fn annotation_prefix(borrower: Option<&BorrowerKey>) -> Vec<u8> {
    let mut k = vec![keys::ANNOTATION];
    if let Some(b) = borrower {
        k.extend_from_slice(b.as_bytes());
    }
    k
}

impl Store {
    /// The signed annotations of one borrower (all of them, with `None`),
    /// in key order.
    pub fn annotations(
        &self,
        borrower: Option<&BorrowerKey>,
    ) -> Result<Vec<pb::SignedEnvelope>, StorageError> {
        self.tree
            .scan_prefix(annotation_prefix(borrower))
            .map(|item| {
                let (_, value) = item?;
                pb::SignedEnvelope::decode(value.as_ref())
                    .map_err(|e| StorageError::Corrupt(format!("stored annotation: {e}")))
            })
            .collect()
    }
}
