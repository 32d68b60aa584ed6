//! The wire form of a refused peer query, in the gRPC richer error model
//! (as grpc-go `status.FromError`, grpcio-status and tonic-types read it):
//! `PERMISSION_DENIED`, whose `grpc-status-details-bin` is a
//! `google.rpc.Status` with one `Any(credshare.v1.QueryDenial)` — the
//! reason, a message and the receipt of the denial's log entry — and whose
//! `credshare-denial-reason` header carries the reason's short name.

use credshare_proto::v1 as pb;
use tonic::Status;

use super::rich;
use crate::domain::codes::code_label;

/// Metadata key carrying the denial reason's short name (`EXPIRED`, …).
pub const DENIAL_REASON_HEADER: &str = "credshare-denial-reason";
/// `Any.type_url` of a `QueryDenial` in the status details.
pub const QUERY_DENIAL_TYPE_URL: &str = "type.googleapis.com/credshare.v1.QueryDenial";

/// The status a holder answers a refused query with.
pub fn to_status(denial: pb::QueryDenial) -> Status {
    let reason = code_label::<pb::DenialReason>(denial.reason).into_owned();
    let message = format!("{reason}: {}", denial.message);
    let code = tonic::Code::PermissionDenied;
    let details = rich::details(code, &message, QUERY_DENIAL_TYPE_URL, &denial);
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(v) = reason.parse() {
        metadata.insert(DENIAL_REASON_HEADER, v);
    }
    Status::with_details_and_metadata(code, message, details.into(), metadata)
}

/// The `QueryDenial` a status carries, if it carries one.
pub fn from_status(status: &Status) -> Option<pb::QueryDenial> {
    rich::detail(status, QUERY_DENIAL_TYPE_URL)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_denial_round_trips_through_the_richer_error_model() {
        let denial = pb::QueryDenial {
            reason: pb::DenialReason::Expired as i32,
            message: "consent X expired".into(),
            receipt: None,
        };
        let status = to_status(denial.clone());
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(status.message(), "EXPIRED: consent X expired");
        assert_eq!(
            status.metadata().get(DENIAL_REASON_HEADER).unwrap(),
            "EXPIRED"
        );
        // The details are a google.rpc.Status, not a bare QueryDenial.
        let rich = tonic_types::pb::Status::decode(status.details()).unwrap();
        assert_eq!(rich.code, tonic::Code::PermissionDenied as i32);
        assert_eq!(rich.details[0].type_url, QUERY_DENIAL_TYPE_URL);
        assert_eq!(from_status(&status), Some(denial));
    }
}
