//! `AdminService`: this institution's officers and operators (role `admin`,
//! same institution).

use credshare_proto::v1 as pb;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::auth;
use super::convert::{borrower_key, optional_borrower_key, optional_date};
use crate::service::assess::AssessRequest;
use crate::service::consents::ConsentRequest;
use crate::service::disputes::OpenDispute;
use crate::service::ingest::ImportError;
use crate::service::visits::DueVisitsQuery;

node_api!(AdminApi);

impl AdminApi {
    /// The caller's officer for a call that reads borrower data; refused
    /// when the certificate names none and `staff.require_officer` is on.
    fn officer<T>(&self, request: &Request<T>) -> Result<String, Status> {
        auth::officer(request, self.node.config.staff.require_officer)
    }
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    #[tracing::instrument(skip_all)]
    async fn import_records(
        &self,
        request: Request<Streaming<pb::ImportRecordsRequest>>,
    ) -> Result<Response<pb::ImportRecordsResponse>, Status> {
        let actor = auth::actor(&request)?;
        let rows = request.into_inner().map(|m| m.map(|m| m.rows));
        match self.node.import(rows, &actor).await {
            Ok(response) => Ok(Response::new(response)),
            Err(ImportError::Stream(status)) => Err(status),
            Err(ImportError::Node(e)) => Err(e.into()),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn put_record(
        &self,
        request: Request<pb::PutRecordRequest>,
    ) -> Result<Response<pb::PutRecordResponse>, Status> {
        let actor = auth::actor(&request)?;
        let record = request.into_inner().record;
        let (outcome, record) = self.node.put_record(record, &actor).await?;
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
        self.officer(&request)?;
        let key = borrower_key(&request.into_inner().borrower_key)?;
        let (records, history_count) = self.node.borrower_records(key).await?;
        Ok(Response::new(pb::GetBorrowerResponse {
            records,
            history_count,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn issue_consent(
        &self,
        request: Request<pb::IssueConsentRequest>,
    ) -> Result<Response<pb::IssueConsentResponse>, Status> {
        let officer = auth::actor(&request)?.officer;
        let mut req = ConsentRequest::try_from(request.into_inner())?;
        req.officer = officer;
        let (consent_id, grant) = self.node.issue_consent(req).await?;
        Ok(Response::new(pb::IssueConsentResponse {
            consent_id,
            grant: Some(grant),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        let officer = auth::actor(&request)?.officer;
        let req = request.into_inner();
        let revoked = self
            .node
            .revoke_consent(&req.consent_id, &req.reason, &officer)
            .await?;
        Ok(Response::new(revoked))
    }

    #[tracing::instrument(skip_all)]
    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        let req = request.into_inner();
        let borrower = optional_borrower_key(&req.borrower_key)?;
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
        let officer = self.officer(&request)?;
        let mut req = AssessRequest::try_from(request.into_inner())?;
        req.officer = officer;
        Ok(Response::new(self.node.assess(req).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn due_visits(
        &self,
        request: Request<pb::DueVisitsRequest>,
    ) -> Result<Response<pb::DueVisitsResponse>, Status> {
        let query = DueVisitsQuery::try_from(request.into_inner())?;
        let visits = self.node.due_visits(query).await?;
        Ok(Response::new(pb::DueVisitsResponse { visits }))
    }

    #[tracing::instrument(skip_all)]
    async fn query_history(
        &self,
        request: Request<pb::QueryHistoryRequest>,
    ) -> Result<Response<pb::QueryHistoryResponse>, Status> {
        self.officer(&request)?;
        let request = request.into_inner();
        let key = borrower_key(&request.borrower_key)?;
        let page = self
            .node
            .query_history(key, request.from_leaf, request.page_size)
            .await?;
        Ok(Response::new(page))
    }

    #[tracing::instrument(skip_all)]
    async fn backup(
        &self,
        request: Request<pb::BackupRequest>,
    ) -> Result<Response<pb::BackupResponse>, Status> {
        let caller = auth::caller(&request)?;
        tracing::info!(caller = %caller.identity, "backup");
        let out = request.into_inner().out_dir;
        Ok(Response::new(self.node.backup(&out).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let caller = auth::caller(&request)?;
        tracing::debug!(caller = %caller.identity, "status");
        Ok(Response::new(self.node.status().await?))
    }

    #[tracing::instrument(skip_all)]
    async fn open_dispute(
        &self,
        request: Request<pb::OpenDisputeRequest>,
    ) -> Result<Response<pb::DisputeResponse>, Status> {
        let officer = self.officer(&request)?;
        let mut req = OpenDispute::try_from(request.into_inner())?;
        req.officer = officer;
        Ok(Response::new(self.node.open_dispute(req).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn resolve_dispute(
        &self,
        request: Request<pb::ResolveDisputeRequest>,
    ) -> Result<Response<pb::DisputeResponse>, Status> {
        let officer = self.officer(&request)?;
        let req = request.into_inner();
        let outcome = pb::DisputeStatus::try_from(req.outcome).unwrap_or_default();
        let resolved = self
            .node
            .resolve_dispute(&req.dispute_id, outcome, &req.note, &officer)
            .await?;
        Ok(Response::new(resolved))
    }

    #[tracing::instrument(skip_all)]
    async fn list_disputes(
        &self,
        request: Request<pb::ListDisputesRequest>,
    ) -> Result<Response<pb::ListDisputesResponse>, Status> {
        let req = request.into_inner();
        let borrower = optional_borrower_key(&req.borrower_key)?;
        let as_of = optional_date("as_of_date", &req.as_of_date)?;
        let disputes = self
            .node
            .list_disputes(borrower, req.overdue_only, as_of)
            .await?;
        Ok(Response::new(pb::ListDisputesResponse { disputes }))
    }

    #[tracing::instrument(skip_all)]
    async fn annotate(
        &self,
        request: Request<pb::AnnotateRequest>,
    ) -> Result<Response<pb::AnnotateResponse>, Status> {
        let officer = self.officer(&request)?;
        let req = request.into_inner();
        let key = borrower_key(&req.borrower_key)?;
        let kind = pb::AnnotationType::try_from(req.r#type).unwrap_or_default();
        let annotation = self
            .node
            .annotate(key, &req.record_id, kind, &req.text, &officer)
            .await?;
        Ok(Response::new(pb::AnnotateResponse {
            annotation: Some(annotation),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn retention_sweep(
        &self,
        request: Request<pb::RetentionSweepRequest>,
    ) -> Result<Response<pb::RetentionSweepResponse>, Status> {
        let actor = auth::actor(&request)?;
        let req = request.into_inner();
        let as_of = optional_date("as_of_date", &req.as_of_date)?;
        let swept = self
            .node
            .retention_sweep(as_of, req.dry_run, &actor, false)
            .await?;
        Ok(Response::new(swept))
    }

    #[tracing::instrument(skip_all)]
    async fn borrower_report(
        &self,
        request: Request<pb::BorrowerReportRequest>,
    ) -> Result<Response<pb::BorrowerReportResponse>, Status> {
        self.officer(&request)?;
        let actor = auth::actor(&request)?;
        let req = request.into_inner();
        let key = borrower_key(&req.borrower_key)?;
        let as_of = optional_date("as_of_date", &req.as_of_date)?;
        Ok(Response::new(
            self.node.borrower_report(key, as_of, &actor).await?,
        ))
    }
}
