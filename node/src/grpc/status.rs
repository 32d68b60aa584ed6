//! The one mapping from the node's errors to `tonic::Status`. Internal
//! details (paths, sled errors, broken invariants) are logged here and
//! never sent to the caller.

use credshare_proto::v1 as pb;
use tonic::Status;

use crate::audit::LogBoundsError;
use crate::domain::consent::Denial;
use crate::error::NodeError;
use crate::storage::StorageError;

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Invalid { field, reason } => {
                Status::invalid_argument(format!("{field}: {reason}"))
            }
            NodeError::NotFound(msg) => Status::not_found(msg),
            NodeError::FailedPrecondition(msg) => Status::failed_precondition(msg),
            NodeError::RateLimited(msg) => Status::resource_exhausted(msg),
            NodeError::WitnessConflict { message, conflict } => {
                crate::federation::conflict::to_status(message, conflict)
            }
            NodeError::Signature(e) => Status::invalid_argument(format!("signature: {e}")),
            NodeError::Denied { denial, receipt } => denied(denial, receipt.map(|r| *r)),
            NodeError::Bounds(e) => bounds_status(e),
            NodeError::Storage(e) => storage_status(e),
            NodeError::Internal(what) => {
                tracing::error!(error = %what, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

fn storage_status(e: StorageError) -> Status {
    match e {
        StorageError::Closed => Status::unavailable("node is shutting down"),
        StorageError::Range(msg) => Status::out_of_range(msg),
        StorageError::Backup(msg) => Status::failed_precondition(msg),
        StorageError::Fault(fault) => {
            tracing::debug!(%fault, "write refused: store unhealthy");
            match fault {
                crate::storage::StoreFault::LowSpace { .. } => {
                    Status::unavailable("storage unavailable: disk space low, retry later")
                }
                crate::storage::StoreFault::SpaceUnknown(_)
                | crate::storage::StoreFault::SyncFailed(_)
                | crate::storage::StoreFault::LogTampered { .. } => {
                    Status::unavailable("storage unavailable")
                }
            }
        }
        StorageError::Open { .. }
        | StorageError::Sled(_)
        | StorageError::Sync(_)
        | StorageError::Corrupt(_)
        | StorageError::Tampered { .. }
        | StorageError::OriginChanged { .. }
        | StorageError::FormatTooNew { .. }
        | StorageError::KeyGeneration { .. }
        | StorageError::TailLost { .. }
        | StorageError::Task(_) => {
            tracing::error!(error = %e, "storage failure");
            Status::internal("storage failure")
        }
    }
}

fn bounds_status(e: LogBoundsError) -> Status {
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

/// `PERMISSION_DENIED` with the denial and the receipt of its log entry,
/// in the richer error model (`federation::denial`).
fn denied(denial: Denial, receipt: Option<pb::Receipt>) -> Status {
    let detail = pb::QueryDenial {
        reason: denial.reason as i32,
        message: denial.message,
        receipt,
    };
    crate::federation::denial::to_status(detail)
}
