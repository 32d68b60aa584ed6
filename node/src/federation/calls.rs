//! The calls this node makes to a peer, each bounded by a deadline, with
//! every failure turned into a [`PeerFailure`] so that the use cases above
//! never handle transport errors themselves.

use std::time::Duration;

use credshare_proto::v1 as pb;

use super::{Peer, describe_status};

/// Why a peer gave no usable answer.
// A denial carries its receipt inline (with its cosigned checkpoint, the
// largest variant); failures are rare and moved once, so no box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum PeerFailure {
    /// No answer within the deadline, or the call was cancelled.
    TimedOut(String),
    /// The peer refused (`PERMISSION_DENIED`), with its denial when the
    /// status carried one.
    Denied {
        denial: Option<pb::QueryDenial>,
        detail: String,
    },
    /// No connection, or the peer is unavailable.
    Unreachable(String),
    /// Any other failed call.
    Failed(String),
}

impl PeerFailure {
    fn from_status(status: &tonic::Status) -> Self {
        let detail = describe_status(status);
        match status.code() {
            tonic::Code::PermissionDenied => PeerFailure::Denied {
                denial: super::denial::from_status(status),
                detail,
            },
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => PeerFailure::TimedOut(detail),
            tonic::Code::Unavailable | tonic::Code::Unknown => PeerFailure::Unreachable(detail),
            _ => PeerFailure::Failed(detail),
        }
    }
}

impl Peer {
    /// `QueryBorrower` within `deadline` (sent as the gRPC timeout too).
    pub async fn query_borrower(
        &self,
        query: pb::QueryBorrowerRequest,
        deadline: Duration,
    ) -> Result<pb::QueryBorrowerResponse, PeerFailure> {
        let mut request = tonic::Request::new(query);
        request.set_timeout(deadline);
        within(deadline, self.client().query_borrower(request)).await
    }

    /// `NotifyRevocation` within `deadline`; returns whether the peer
    /// recorded it as new.
    pub async fn notify_revocation(
        &self,
        revocation: pb::SignedEnvelope,
        deadline: Duration,
    ) -> Result<bool, PeerFailure> {
        let mut request = tonic::Request::new(pb::NotifyRevocationRequest {
            revocation: Some(revocation),
        });
        request.set_timeout(deadline);
        let response = within(deadline, self.client().notify_revocation(request)).await?;
        Ok(response.newly_recorded)
    }
}

impl Peer {
    /// `GetManifest` within `deadline`: the peer's manifest when newer
    /// than `known_version`.
    pub async fn manifest(
        &self,
        known_version: u64,
        deadline: Duration,
    ) -> Result<Option<pb::SignedEnvelope>, PeerFailure> {
        let mut request = tonic::Request::new(pb::GetManifestRequest { known_version });
        request.set_timeout(deadline);
        let response = within(deadline, self.client().get_manifest(request)).await?;
        Ok(response.manifest)
    }

    /// `GetNodeInfo` within `deadline`.
    pub async fn node_info(&self, deadline: Duration) -> Result<pb::NodeInfo, PeerFailure> {
        let mut request = tonic::Request::new(pb::GetNodeInfoRequest {});
        request.set_timeout(deadline);
        within(deadline, self.client().get_node_info(request)).await
    }
}

impl Peer {
    /// `WitnessService.AddCheckpoint` within `deadline`. A refusal with a
    /// `WitnessConflict` detail is `Err(Ok(conflict, message))`.
    pub async fn add_checkpoint(
        &self,
        submission: pb::AddCheckpointRequest,
        deadline: Duration,
    ) -> Result<pb::AddCheckpointResponse, WitnessFailure> {
        let mut request = tonic::Request::new(submission);
        request.set_timeout(deadline);
        let mut client = self.witness_client();
        match tokio::time::timeout(deadline, client.add_checkpoint(request)).await {
            Err(_) => Err(WitnessFailure::Peer(PeerFailure::TimedOut(format!(
                "no answer within {} ms",
                deadline.as_millis()
            )))),
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(match super::conflict::from_status(&status) {
                Some(conflict) => WitnessFailure::Conflict {
                    conflict,
                    message: status.message().to_owned(),
                },
                None => WitnessFailure::Peer(PeerFailure::from_status(&status)),
            }),
        }
    }

    /// `WitnessService.GetWitnessedCheckpoint` within `deadline`: what
    /// this peer holds of our log.
    pub async fn witnessed_checkpoint(
        &self,
        deadline: Duration,
    ) -> Result<pb::WitnessedCheckpoint, PeerFailure> {
        let mut request = tonic::Request::new(pb::GetWitnessedCheckpointRequest {});
        request.set_timeout(deadline);
        within(
            deadline,
            self.witness_client().get_witnessed_checkpoint(request),
        )
        .await
    }
}

/// Why a witness did not cosign.
#[derive(Debug, Clone)]
pub enum WitnessFailure {
    /// It holds a checkpoint the offered one does not extend, or another
    /// size than the one the submission started from.
    Conflict {
        conflict: pb::WitnessConflict,
        message: String,
    },
    /// The call failed.
    Peer(PeerFailure),
}

/// Awaits `call` for at most `deadline`.
async fn within<T>(
    deadline: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, PeerFailure> {
    match tokio::time::timeout(deadline, call).await {
        Err(_) => Err(PeerFailure::TimedOut(format!(
            "no answer within {} ms",
            deadline.as_millis()
        ))),
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(PeerFailure::from_status(&status)),
    }
}
