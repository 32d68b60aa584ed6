//! The one mapping from internal errors to `tonic::Status`. Internal details
//! (paths, sled errors) are logged here and never sent to the caller.

use tonic::Status;

use crate::storage::StorageError;

impl From<StorageError> for Status {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Closed => Status::unavailable("node is shutting down"),
            StorageError::Range(msg) => Status::out_of_range(msg),
            StorageError::Open { .. }
            | StorageError::Sled(_)
            | StorageError::Sync(_)
            | StorageError::Corrupt(_)
            | StorageError::Tampered { .. } => {
                tracing::error!(error = %e, "storage failure");
                Status::internal("storage failure")
            }
        }
    }
}
