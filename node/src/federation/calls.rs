//! The calls this node makes to a peer, each bounded by a deadline, with
//! every failure turned into a [`PeerFailure`] so that the use cases above
//! never handle transport errors themselves.

use std::time::Duration;

use credshare_proto::v1 as pb;

use super::{Peer, describe_status};

/// Why a peer gave no usable answer.
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
    /// `GetNodeInfo` within `deadline`.
    pub async fn node_info(&self, deadline: Duration) -> Result<pb::NodeInfo, PeerFailure> {
        let mut request = tonic::Request::new(pb::GetNodeInfoRequest {});
        request.set_timeout(deadline);
        within(deadline, self.client().get_node_info(request)).await
    }
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
