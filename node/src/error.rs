//! Errors of the node's operations (below gRPC, above storage). Mapped to
//! `tonic::Status` in exactly one place: `grpc/status.rs`.

use credshare_proto::v1 as pb;

use crate::signing::SigningError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A request field is wrong; nothing changed.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A consented query was refused; the denial was logged first.
    #[error("query denied ({}): {message}", reason.as_str_name())]
    Denied {
        reason: pb::DenialReason,
        message: String,
        receipt: Option<Box<pb::Receipt>>,
    },
    /// A signed object that a peer sent did not verify.
    #[error("signature: {0}")]
    Signature(#[from] SigningError),
    #[error("rate limit: {0}")]
    RateLimited(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl NodeError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        NodeError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
