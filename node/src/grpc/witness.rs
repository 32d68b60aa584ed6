//! `WitnessService`: peers submit their own log's checkpoints for this
//! node's cosignature (role `node` of a member, on the peer listener).

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::auth;

node_api!(WitnessApi);

#[tonic::async_trait]
impl pb::witness_service_server::WitnessService for WitnessApi {
    #[tracing::instrument(skip_all)]
    async fn add_checkpoint(
        &self,
        request: Request<pb::AddCheckpointRequest>,
    ) -> Result<Response<pb::AddCheckpointResponse>, Status> {
        let log = auth::caller(&request)?.identity.institution.clone();
        let cosigned = self.node.add_checkpoint(&log, request.into_inner()).await?;
        Ok(Response::new(cosigned))
    }

    #[tracing::instrument(skip_all)]
    async fn get_witnessed_checkpoint(
        &self,
        request: Request<pb::GetWitnessedCheckpointRequest>,
    ) -> Result<Response<pb::WitnessedCheckpoint>, Status> {
        let log = auth::caller(&request)?.identity.institution.clone();
        Ok(Response::new(self.node.witnessed_checkpoint(&log).await?))
    }
}
