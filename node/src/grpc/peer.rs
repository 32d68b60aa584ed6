//! `PeerService`: what other consortium nodes may ask (role `node`).

use credshare_proto::v1 as pb;
use tonic::{Response, Status};

use super::auth;
use crate::service::answer::PeerQuery;

node_api!(PeerApi);

grpc_service! {
    impl pb::peer_service_server::PeerService => PeerApi {
        fn query_borrower(&self, request: pb::QueryBorrowerRequest) -> pb::QueryBorrowerResponse {
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

        fn notify_revocation(
            &self,
            request: pb::NotifyRevocationRequest,
        ) -> pb::NotifyRevocationResponse {
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

        fn get_manifest(&self, request: pb::GetManifestRequest) -> pb::GetManifestResponse {
            let known = request.get_ref().known_version;
            Ok(Response::new(self.node.manifest_for(known)))
        }

        fn get_node_info(&self, request: pb::GetNodeInfoRequest) -> pb::NodeInfo {
            let caller = auth::caller(&request)?;
            tracing::debug!(caller = %caller.identity, "get_node_info");
            Ok(Response::new(self.node.node_info().await?))
        }
    }
}
