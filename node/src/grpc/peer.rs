//! `PeerService`: what other consortium nodes may ask (role `node`).

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::not_yet;
use crate::node::Node;

#[derive(Debug, Clone)]
pub struct PeerApi {
    node: Arc<Node>,
}

impl PeerApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl pb::peer_service_server::PeerService for PeerApi {
    async fn query_borrower(
        &self,
        _request: Request<pb::QueryBorrowerRequest>,
    ) -> Result<Response<pb::QueryBorrowerResponse>, Status> {
        Err(not_yet(
            "QueryBorrower",
            "consented peer queries and the query log",
        ))
    }

    async fn notify_revocation(
        &self,
        _request: Request<pb::NotifyRevocationRequest>,
    ) -> Result<Response<pb::NotifyRevocationResponse>, Status> {
        Err(not_yet("NotifyRevocation", "consent revocation"))
    }

    #[tracing::instrument(skip_all)]
    async fn get_node_info(
        &self,
        request: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let caller = super::auth::caller(&request)?;
        tracing::debug!(caller = %caller.identity, "get_node_info");
        let node = &self.node;
        let store = node.store.clone();
        let log_size = tokio::task::spawn_blocking(move || store.log_size())
            .await
            .map_err(|_| Status::internal("task failed"))??;
        Ok(Response::new(pb::NodeInfo {
            institution_id: node.institution().to_string(),
            version: crate::VERSION.into(),
            uptime_seconds: node.uptime_seconds(),
            peer_institutions: node.peer_institutions(),
            log_origin: node.config.log_origin(),
            log_size,
            signer_certificate: Vec::new(),
        }))
    }
}
