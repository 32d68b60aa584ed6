//! `AuditService`: the regulator's view of the query log.

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::not_yet;
use crate::node::Node;

#[derive(Debug, Clone)]
pub struct AuditApi {
    #[allow(dead_code)]
    node: Arc<Node>,
}

impl AuditApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

type EntryStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::LogEntryItem, Status>> + Send>>;

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    type GetEntriesStream = EntryStream;

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        Err(not_yet("GetCheckpoint", "the query log"))
    }

    async fn get_entries(
        &self,
        _request: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<Self::GetEntriesStream>, Status> {
        Err(not_yet("GetEntries", "the query log"))
    }

    async fn get_inclusion_proof(
        &self,
        _request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        Err(not_yet("GetInclusionProof", "the query log"))
    }

    async fn get_consistency_proof(
        &self,
        _request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        Err(not_yet("GetConsistencyProof", "the query log"))
    }
}
