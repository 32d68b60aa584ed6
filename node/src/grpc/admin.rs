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

grpc_service! {
    impl pb::admin_service_server::AdminService => AdminApi {
        fn import_records(
            &self,
            request: Streaming<pb::ImportRecordsRequest>,
        ) -> pb::ImportRecordsResponse {
            let actor = auth::actor(&request)?;
            let rows = request.into_inner().map(|m| m.map(|m| m.rows));
            match self.node.import(rows, &actor).await {
                Ok(response) => Ok(Response::new(response)),
                Err(ImportError::Stream(status)) => Err(status),
                Err(ImportError::Node(e)) => Err(e.into()),
            }
        }

        fn put_record(&self, request: pb::PutRecordRequest) -> pb::PutRecordResponse {
            let actor = auth::actor(&request)?;
            let record = request.into_inner().record;
            let (outcome, record) = self.node.put_record(record, &actor).await?;
            Ok(Response::new(pb::PutRecordResponse {
                outcome: outcome as i32,
                record: Some(record),
            }))
        }

        fn get_borrower(&self, request: pb::GetBorrowerRequest) -> pb::GetBorrowerResponse {
            self.officer(&request)?;
            let key = borrower_key(&request.into_inner().borrower_key)?;
            let (records, history_count) = self.node.borrower_records(key).await?;
            Ok(Response::new(pb::GetBorrowerResponse {
                records,
                history_count,
            }))
        }

        fn issue_consent(&self, request: pb::IssueConsentRequest) -> pb::IssueConsentResponse {
            let officer = auth::actor(&request)?.officer;
            let mut req = ConsentRequest::try_from(request.into_inner())?;
            req.officer = officer;
            let (consent_id, grant) = self.node.issue_consent(req).await?;
            Ok(Response::new(pb::IssueConsentResponse {
                consent_id,
                grant: Some(grant),
            }))
        }

        fn revoke_consent(&self, request: pb::RevokeConsentRequest) -> pb::RevokeConsentResponse {
            let officer = auth::actor(&request)?.officer;
            let req = request.into_inner();
            let revoked = self
                .node
                .revoke_consent(&req.consent_id, &req.reason, &officer)
                .await?;
            Ok(Response::new(revoked))
        }

        fn list_consents(&self, request: pb::ListConsentsRequest) -> pb::ListConsentsResponse {
            let req = request.into_inner();
            let borrower = optional_borrower_key(&req.borrower_key)?;
            let consents = self
                .node
                .list_consents(borrower, req.include_inactive)
                .await?;
            Ok(Response::new(pb::ListConsentsResponse { consents }))
        }

        fn assess(&self, request: pb::AssessRequest) -> pb::Assessment {
            let officer = self.officer(&request)?;
            let mut req = AssessRequest::try_from(request.into_inner())?;
            req.officer = officer;
            Ok(Response::new(self.node.assess(req).await?))
        }

        fn due_visits(&self, request: pb::DueVisitsRequest) -> pb::DueVisitsResponse {
            let query = DueVisitsQuery::try_from(request.into_inner())?;
            let visits = self.node.due_visits(query).await?;
            Ok(Response::new(pb::DueVisitsResponse { visits }))
        }

        fn query_history(&self, request: pb::QueryHistoryRequest) -> pb::QueryHistoryResponse {
            self.officer(&request)?;
            let request = request.into_inner();
            let key = borrower_key(&request.borrower_key)?;
            let page = self
                .node
                .query_history(key, request.from_leaf, request.page_size)
                .await?;
            Ok(Response::new(page))
        }

        fn backup(&self, request: pb::BackupRequest) -> pb::BackupResponse {
            let caller = auth::caller(&request)?;
            tracing::info!(caller = %caller.identity, "backup");
            let out = request.into_inner().out_dir;
            Ok(Response::new(self.node.backup(&out).await?))
        }

        fn status(&self, request: pb::StatusRequest) -> pb::StatusResponse {
            let caller = auth::caller(&request)?;
            tracing::debug!(caller = %caller.identity, "status");
            Ok(Response::new(self.node.status().await?))
        }

        fn open_dispute(&self, request: pb::OpenDisputeRequest) -> pb::DisputeResponse {
            let officer = self.officer(&request)?;
            let mut req = OpenDispute::try_from(request.into_inner())?;
            req.officer = officer;
            Ok(Response::new(self.node.open_dispute(req).await?))
        }

        fn resolve_dispute(&self, request: pb::ResolveDisputeRequest) -> pb::DisputeResponse {
            let officer = self.officer(&request)?;
            let req = request.into_inner();
            let outcome = pb::DisputeStatus::try_from(req.outcome).unwrap_or_default();
            let resolved = self
                .node
                .resolve_dispute(&req.dispute_id, outcome, &req.note, &officer)
                .await?;
            Ok(Response::new(resolved))
        }

        fn list_disputes(&self, request: pb::ListDisputesRequest) -> pb::ListDisputesResponse {
            let req = request.into_inner();
            let borrower = optional_borrower_key(&req.borrower_key)?;
            let as_of = optional_date("as_of_date", &req.as_of_date)?;
            let disputes = self
                .node
                .list_disputes(borrower, req.overdue_only, as_of)
                .await?;
            Ok(Response::new(pb::ListDisputesResponse { disputes }))
        }

        fn annotate(&self, request: pb::AnnotateRequest) -> pb::AnnotateResponse {
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

        fn retention_sweep(
            &self,
            request: pb::RetentionSweepRequest,
        ) -> pb::RetentionSweepResponse {
            let actor = auth::actor(&request)?;
            let req = request.into_inner();
            let as_of = optional_date("as_of_date", &req.as_of_date)?;
            let swept = self
                .node
                .retention_sweep(as_of, req.dry_run, &actor, false)
                .await?;
            Ok(Response::new(swept))
        }

        fn borrower_report(
            &self,
            request: pb::BorrowerReportRequest,
        ) -> pb::BorrowerReportResponse {
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
}
