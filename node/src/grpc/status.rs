//! The one mapping from internal errors to `tonic::Status`. Internal details
//! (paths, sled errors) are logged here and never sent to the caller.

use credshare_proto::v1 as pb;
use prost::Message;
use tonic::Status;

use crate::error::NodeError;
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

/// Metadata key carrying the denial reason of a refused peer query.
pub const DENIAL_REASON_HEADER: &str = "credshare-denial-reason";

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Invalid { field, reason } => {
                Status::invalid_argument(format!("{field}: {reason}"))
            }
            NodeError::NotFound(msg) => Status::not_found(msg),
            NodeError::FailedPrecondition(msg) => Status::failed_precondition(msg),
            NodeError::RateLimited(msg) => Status::resource_exhausted(msg),
            NodeError::Signature(e) => Status::invalid_argument(format!("signature: {e}")),
            NodeError::Denied {
                reason,
                message,
                receipt,
            } => {
                let details = pb::QueryDenial {
                    reason: reason as i32,
                    message: message.clone(),
                    receipt: receipt.map(|r| *r),
                };
                let mut metadata = tonic::metadata::MetadataMap::new();
                if let Ok(v) = reason.as_str_name().parse() {
                    metadata.insert(DENIAL_REASON_HEADER, v);
                }
                Status::with_details_and_metadata(
                    tonic::Code::PermissionDenied,
                    format!("{}: {message}", reason.as_str_name()),
                    details.encode_to_vec().into(),
                    metadata,
                )
            }
            NodeError::Storage(e) => e.into(),
        }
    }
}
