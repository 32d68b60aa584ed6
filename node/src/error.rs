//! Errors of the node's use cases (below gRPC, above storage). Mapped to
//! `tonic::Status` in exactly one place: `grpc/status.rs`.

use credshare_proto::v1 as pb;

use crate::audit::LogBoundsError;
use crate::blocking::TaskFailed;
use crate::domain::FieldError;
use crate::domain::consent::Denial;
use crate::signing::SigningError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A request field is wrong; nothing changed.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the stored state (e.g. a record version).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A consented query was refused; the denial was logged first.
    #[error("query denied ({}): {}", denial.reason.as_str_name(), denial.message)]
    Denied {
        denial: Denial,
        receipt: Option<Box<pb::Receipt>>,
    },
    /// A signed object that a peer sent did not verify.
    #[error("signature: {0}")]
    Signature(#[from] SigningError),
    #[error("rate limit: {0}")]
    RateLimited(String),
    /// As a witness: the offered checkpoint conflicts with the one held
    /// (tlog-witness 409/422); the detail says the size held.
    #[error("{message}")]
    WitnessConflict {
        message: String,
        conflict: pb::WitnessConflict,
    },
    /// An audit request asked for indexes or sizes the log cannot serve.
    #[error(transparent)]
    Bounds(#[from] LogBoundsError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A fault of this node (a broken invariant, a failed task). Logged;
    /// the caller learns only that it was internal.
    #[error("internal: {0}")]
    Internal(String),
}

impl NodeError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        NodeError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        NodeError::Internal(what.to_string())
    }
}

impl From<FieldError> for NodeError {
    fn from(e: FieldError) -> Self {
        NodeError::invalid(e.field, e.reason)
    }
}

impl From<TaskFailed> for NodeError {
    fn from(e: TaskFailed) -> Self {
        NodeError::internal(e)
    }
}
