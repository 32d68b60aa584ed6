//! The gRPC richer error model as peers' refusals use it: a
//! `google.rpc.Status` carrying one `Any` detail, sent in
//! `grpc-status-details-bin` (as grpc-go `status.FromError`, grpcio-status
//! and tonic-types read it).

use prost::Message;
use tonic::Status;

/// The encoded `google.rpc.Status` of `code` and `message` with `detail`
/// as its one `Any` (of `type_url`).
pub(super) fn details(
    code: tonic::Code,
    message: &str,
    type_url: &str,
    detail: &impl Message,
) -> Vec<u8> {
    tonic_types::pb::Status {
        code: code as i32,
        message: message.to_owned(),
        details: vec![prost_types::Any {
            type_url: type_url.into(),
            value: detail.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// The detail of `type_url` a status carries, if it carries one that
/// decodes.
pub(super) fn detail<M: Message + Default>(status: &Status, type_url: &str) -> Option<M> {
    let rich = tonic_types::pb::Status::decode(status.details()).ok()?;
    let any = rich.details.iter().find(|a| a.type_url == type_url)?;
    M::decode(any.value.as_slice()).ok()
}
