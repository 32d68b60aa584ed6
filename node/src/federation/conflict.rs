//! The wire form of a witness's refusal, in the gRPC richer error model:
//! `FAILED_PRECONDITION` whose `grpc-status-details-bin` is a
//! `google.rpc.Status` with one `Any(credshare.v1.WitnessConflict)` — the
//! size the witness holds (tlog-witness's `text/x.tlog.size` 409 body) and
//! the checkpoint it cosigned.

use credshare_proto::v1 as pb;
use tonic::Status;

use super::rich;

/// `Any.type_url` of a `WitnessConflict` in the status details.
pub const WITNESS_CONFLICT_TYPE_URL: &str = "type.googleapis.com/credshare.v1.WitnessConflict";

/// The status a witness refuses a checkpoint with.
pub fn to_status(message: String, conflict: pb::WitnessConflict) -> Status {
    let code = tonic::Code::FailedPrecondition;
    let details = rich::details(code, &message, WITNESS_CONFLICT_TYPE_URL, &conflict);
    Status::with_details(code, message, details.into())
}

/// The `WitnessConflict` a status carries, if it carries one.
pub fn from_status(status: &Status) -> Option<pb::WitnessConflict> {
    rich::detail(status, WITNESS_CONFLICT_TYPE_URL)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_round_trips_through_the_richer_error_model() {
        let conflict = pb::WitnessConflict {
            held_size: 42,
            held_checkpoint: "note".into(),
            evidence_recorded: true,
        };
        let status = to_status("conflict".into(), conflict.clone());
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(from_status(&status), Some(conflict));
        assert_eq!(from_status(&Status::failed_precondition("plain")), None);
    }
}
