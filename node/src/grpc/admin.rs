//! `AdminService`: this institution's officers and operators (role `admin`,
//! same institution).

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status, Streaming};

use futures::StreamExt;

use crate::ingest::IngestSummary;
use crate::node::Node;
use crate::storage::WriteResult;

/// Most rows one `ImportRecords` call may carry.
pub const MAX_IMPORT_ROWS_PER_CALL: u64 = 1_000_000;
/// Chunks of one import being signed or committed at once.
const IMPORT_PIPELINE_DEPTH: usize = 4;

fn merge_summary(response: &mut pb::ImportRecordsResponse, summary: IngestSummary) {
    response.stored += summary.stored;
    response.unchanged += summary.unchanged;
    response.rejected += summary.rejections.len() as u64;
    response.rejections.extend(summary.rejections);
}

/// A borrower key from the wire: exactly 32 bytes.
pub(crate) fn borrower_key(bytes: &[u8]) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!(
            "borrower_key must be 32 bytes (HMAC-SHA256), got {}",
            bytes.len()
        ))
    })
}

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
    #[tracing::instrument(skip_all)]
    async fn import_records(
        &self,
        request: Request<Streaming<pb::ImportRecordsRequest>>,
    ) -> Result<Response<pb::ImportRecordsResponse>, Status> {
        let actor = super::auth::caller(&request)?.identity.to_string();
        let max_rows = self.node.config.limits.max_import_rows_per_message;
        let mut stream = request.into_inner();
        let mut in_flight = futures::stream::FuturesOrdered::new();
        let mut response = pb::ImportRecordsResponse::default();
        let mut rows_seen: u64 = 0;
        while let Some(message) = stream.message().await? {
            if message.rows.len() > max_rows {
                return Err(Status::invalid_argument(format!(
                    "a message carries {} rows; at most {max_rows} per message (limits.max_import_rows_per_message)",
                    message.rows.len()
                )));
            }
            rows_seen += message.rows.len() as u64;
            if rows_seen > MAX_IMPORT_ROWS_PER_CALL {
                return Err(Status::invalid_argument(format!(
                    "more than {MAX_IMPORT_ROWS_PER_CALL} rows in one call; split the import"
                )));
            }
            let node = self.node.clone();
            let actor = actor.clone();
            in_flight.push_back(async move { node.ingest(message.rows, actor).await });
            // Bounded pipelining: signing, committing and receiving overlap.
            while in_flight.len() >= IMPORT_PIPELINE_DEPTH {
                if let Some(done) = in_flight.next().await {
                    merge_summary(&mut response, done?);
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            merge_summary(&mut response, done?);
        }
        tracing::info!(
            caller = %actor,
            stored = response.stored,
            unchanged = response.unchanged,
            rejected = response.rejected,
            "import finished"
        );
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn put_record(
        &self,
        request: Request<pb::PutRecordRequest>,
    ) -> Result<Response<pb::PutRecordResponse>, Status> {
        let actor = super::auth::caller(&request)?.identity.to_string();
        let row = pb::ImportRow {
            row_number: 1,
            record: request.into_inner().record,
        };
        let mut summary = self.node.ingest(vec![row], actor).await?;
        if let Some(rejection) = summary.rejections.pop() {
            let status = if rejection.field == "version" {
                Status::failed_precondition(rejection.reason)
            } else {
                Status::invalid_argument(format!("{}: {}", rejection.field, rejection.reason))
            };
            return Err(status);
        }
        let (result, record) = summary
            .accepted
            .pop()
            .ok_or_else(|| Status::internal("record was neither stored nor rejected"))?;
        let outcome = match result {
            WriteResult::Stored => pb::WriteOutcome::Stored,
            _ => pb::WriteOutcome::Unchanged,
        };
        Ok(Response::new(pb::PutRecordResponse {
            outcome: outcome as i32,
            record: Some(record),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_borrower(
        &self,
        request: Request<pb::GetBorrowerRequest>,
    ) -> Result<Response<pb::GetBorrowerResponse>, Status> {
        let key = borrower_key(&request.into_inner().borrower_key)?;
        let store = self.node.store.clone();
        let (records, history_count) =
            tokio::task::spawn_blocking(move || store.borrower_records(&key))
                .await
                .map_err(|_| Status::internal("task failed"))??;
        Ok(Response::new(pb::GetBorrowerResponse {
            records,
            history_count,
        }))
    }

    async fn issue_consent(
        &self,
        request: Request<pb::IssueConsentRequest>,
    ) -> Result<Response<pb::IssueConsentResponse>, Status> {
        let (consent_id, grant) = self.node.issue_consent(request.into_inner()).await?;
        Ok(Response::new(pb::IssueConsentResponse {
            consent_id,
            grant: Some(grant),
        }))
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(
            self.node
                .revoke_consent(&req.consent_id, &req.reason)
                .await?,
        ))
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        let req = request.into_inner();
        let borrower = if req.borrower_key.is_empty() {
            None
        } else {
            Some(borrower_key(&req.borrower_key)?)
        };
        let consents = self
            .node
            .list_consents(borrower, req.include_inactive)
            .await?;
        Ok(Response::new(pb::ListConsentsResponse { consents }))
    }

    #[tracing::instrument(skip_all)]
    async fn assess(
        &self,
        request: Request<pb::AssessRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        Ok(Response::new(self.node.assess(request.into_inner()).await?))
    }

    async fn due_visits(
        &self,
        request: Request<pb::DueVisitsRequest>,
    ) -> Result<Response<pb::DueVisitsResponse>, Status> {
        let visits = self.node.due_visits(request.into_inner()).await?;
        Ok(Response::new(pb::DueVisitsResponse { visits }))
    }

    async fn query_history(
        &self,
        request: Request<pb::QueryHistoryRequest>,
    ) -> Result<Response<pb::QueryHistoryResponse>, Status> {
        let key = borrower_key(&request.into_inner().borrower_key)?;
        let items = self.node.query_history(key).await?;
        Ok(Response::new(pb::QueryHistoryResponse { items }))
    }

    #[tracing::instrument(skip_all)]
    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
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
            borrower_count: figures.borrowers,
            consent_count: figures.consents,
            log_size: figures.log_size,
            store_bytes: figures.bytes_on_disk,
            data_dir: node.config.data_dir.display().to_string(),
            peer_listen: node.addrs.peer.to_string(),
            admin_listen: node.addrs.admin.to_string(),
            peers,
            commit_batches: node.committer.stats().0,
            commit_requests: node.committer.stats().1,
        }))
    }
}
