//! `AdminService`: this institution's officers and operators (role `admin`,
//! same institution).

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status, Streaming};

use super::not_yet;
use crate::node::Node;

#[derive(Debug, Clone)]
pub struct AdminApi {
    node: Arc<Node>,
}

impl AdminApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    async fn import_records(
        &self,
        _request: Request<Streaming<pb::ImportRecordsRequest>>,
    ) -> Result<Response<pb::ImportRecordsResponse>, Status> {
        Err(not_yet("ImportRecords", "signed record storage"))
    }

    async fn put_record(
        &self,
        _request: Request<pb::PutRecordRequest>,
    ) -> Result<Response<pb::PutRecordResponse>, Status> {
        Err(not_yet("PutRecord", "signed record storage"))
    }

    async fn get_borrower(
        &self,
        _request: Request<pb::GetBorrowerRequest>,
    ) -> Result<Response<pb::GetBorrowerResponse>, Status> {
        Err(not_yet("GetBorrower", "signed record storage"))
    }

    async fn issue_consent(
        &self,
        _request: Request<pb::IssueConsentRequest>,
    ) -> Result<Response<pb::IssueConsentResponse>, Status> {
        Err(not_yet("IssueConsent", "consent management"))
    }

    async fn revoke_consent(
        &self,
        _request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        Err(not_yet("RevokeConsent", "consent management"))
    }

    async fn list_consents(
        &self,
        _request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        Err(not_yet("ListConsents", "consent management"))
    }

    async fn assess(&self, _request: Request<pb::AssessRequest>) -> Result<Response<pb::Assessment>, Status> {
        Err(not_yet("Assess", "cross-institution assessment"))
    }

    async fn due_visits(
        &self,
        _request: Request<pb::DueVisitsRequest>,
    ) -> Result<Response<pb::DueVisitsResponse>, Status> {
        Err(not_yet("DueVisits", "the post-loan visit schedule"))
    }

    async fn query_history(
        &self,
        _request: Request<pb::QueryHistoryRequest>,
    ) -> Result<Response<pb::QueryHistoryResponse>, Status> {
        Err(not_yet("QueryHistory", "the query log"))
    }

    #[tracing::instrument(skip_all)]
    async fn status(&self, request: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        let caller = super::auth::caller(&request)?;
        tracing::debug!(caller = %caller.identity, "status");
        let node = &self.node;
        let store = node.store.clone();
        let (figures, peers) = tokio::join!(
            tokio::task::spawn_blocking(move || store.figures()),
            node.federation.health()
        );
        let figures = figures.map_err(|_| Status::internal("task failed"))??;
        Ok(Response::new(pb::StatusResponse {
            institution_id: node.institution().to_string(),
            version: crate::VERSION.into(),
            uptime_seconds: node.uptime_seconds(),
            peer_institutions: node.peer_institutions(),
            record_count: figures.record_versions,
            borrower_count: 0,
            consent_count: 0,
            log_size: figures.log_size,
            store_bytes: figures.bytes_on_disk,
            data_dir: node.config.data_dir.display().to_string(),
            peer_listen: node.addrs.peer.to_string(),
            admin_listen: node.addrs.admin.to_string(),
            peers,
        }))
    }
}
