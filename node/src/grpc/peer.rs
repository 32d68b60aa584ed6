//! `PeerService`: what other consortium nodes may ask (role `node`).

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::auth;
use crate::service::answer::PeerQuery;

node_api!(PeerApi);

#[tonic::async_trait]
impl pb::peer_service_server::PeerService for PeerApi {
    #[tracing::instrument(skip_all)]
    async fn query_borrower(
        &self,
        request: Request<pb::QueryBorrowerRequest>,
    ) -> Result<Response<pb::QueryBorrowerResponse>, Status> {
        let requester = auth::caller(&request)?.identity.institution.clone();
        let purpose = request.get_ref().purpose;
        self.node
            .membership
            .allows_purpose(&requester, purpose)
            .map_err(Status::permission_denied)?;
        let query = PeerQuery::try_from(request.into_inner())?;
        let answer = self.node.answer_query(&requester, query).await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn notify_revocation(
        &self,
        request: Request<pb::NotifyRevocationRequest>,
    ) -> Result<Response<pb::NotifyRevocationResponse>, Status> {
        let from = auth::caller(&request)?.identity.institution.clone();
        let envelope = request
            .into_inner()
            .revocation
            .ok_or_else(|| Status::invalid_argument("revocation: missing"))?;
        let newly_recorded = self.node.receive_revocation(envelope, &from).await?;
        Ok(Response::new(pb::NotifyRevocationResponse {
            newly_recorded,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_manifest(
        &self,
        request: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::GetManifestResponse>, Status> {
        let known = request.get_ref().known_version;
        Ok(Response::new(self.node.manifest_for(known)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_node_info(
        &self,
        request: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let caller = auth::caller(&request)?;
        tracing::debug!(caller = %caller.identity, "get_node_info");
        Ok(Response::new(self.node.node_info().await?))
    }
}
