//! `WitnessService`: peers submit their own log's checkpoints for this
//! node's cosignature (role `node` of a member, on the peer listener).

use credshare_proto::v1 as pb;
use tonic::Response;

use super::auth;

node_api!(WitnessApi);

grpc_service! {
    impl pb::witness_service_server::WitnessService => WitnessApi {
        fn add_checkpoint(&self, request: pb::AddCheckpointRequest) -> pb::AddCheckpointResponse {
            let log = auth::caller(&request)?.identity.institution.clone();
            let cosigned = self.node.add_checkpoint(&log, request.into_inner()).await?;
            Ok(Response::new(cosigned))
        }

        fn get_witnessed_checkpoint(
            &self,
            request: pb::GetWitnessedCheckpointRequest,
        ) -> pb::WitnessedCheckpoint {
            let log = auth::caller(&request)?.identity.institution.clone();
            Ok(Response::new(self.node.witnessed_checkpoint(&log).await?))
        }
    }
}
