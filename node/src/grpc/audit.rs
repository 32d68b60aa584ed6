//! `AuditService`: the regulator's view of the query log (regulators, and
//! admins of this institution). What may be asked is bounded in
//! `audit::bounds`; the reads are `service::audit_log`.

use std::pin::Pin;

use credshare_proto::v1 as pb;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::auth;

node_api!(AuditApi);

type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::LogEntryItem, Status>> + Send>>;

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    type GetEntriesStream = EntryStream;

    #[tracing::instrument(skip_all)]
    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        let size = request.into_inner().tree_size;
        tracing::debug!(caller = %caller, size, "get_checkpoint");
        Ok(Response::new(self.node.checkpoint(size).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_entries(
        &self,
        request: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<Self::GetEntriesStream>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        tracing::debug!(caller = %caller, start = req.start, end = req.end, "get_entries");
        let entries = self.node.log_entries(req.start, req.end)?;
        Ok(Response::new(Box::pin(
            entries.map(|item| item.map_err(Status::from)),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        tracing::debug!(caller = %caller, leaf = req.leaf_index, tree_size = req.tree_size, "get_inclusion_proof");
        let proof = self
            .node
            .inclusion_proof(req.leaf_index, req.tree_size)
            .await?;
        Ok(Response::new(proof))
    }

    #[tracing::instrument(skip_all)]
    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        let req = request.into_inner();
        tracing::debug!(caller = %caller, old_size = req.old_size, new_size = req.new_size, "get_consistency_proof");
        let proof = self
            .node
            .consistency_proof(req.old_size, req.new_size)
            .await?;
        Ok(Response::new(proof))
    }

    #[tracing::instrument(skip_all)]
    async fn get_oversight_report(
        &self,
        request: Request<pb::GetOversightReportRequest>,
    ) -> Result<Response<pb::OversightReport>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        tracing::debug!(caller = %caller, "get_oversight_report");
        Ok(Response::new(self.node.oversight_report()?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_cosigned_checkpoint(
        &self,
        request: Request<pb::GetCosignedCheckpointRequest>,
    ) -> Result<Response<pb::CosignedCheckpoint>, Status> {
        let caller = auth::caller(&request)?.identity.clone();
        tracing::debug!(caller = %caller, "get_cosigned_checkpoint");
        Ok(Response::new(self.node.cosigned_checkpoint()))
    }
}
