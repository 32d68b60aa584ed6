//! `DiscoveryService` (the regulator's discovery service): member nodes and
//! admins evaluate, register, withdraw and look up; regulators read the
//! figures. Handlers authorize (the access rule), convert, make one
//! [`Discovery`] call and respond.

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::auth;
use crate::discovery::Discovery;
use crate::discovery::service::{EvaluateInput, Member};
use crate::domain::purpose::Purpose;
use crate::error::NodeError;

#[derive(Debug, Clone)]
pub struct DiscoveryApi {
    discovery: Arc<Discovery>,
}

impl DiscoveryApi {
    pub fn new(discovery: Arc<Discovery>) -> Self {
        Self { discovery }
    }
}

fn member<T>(request: &Request<T>) -> Result<Member, Status> {
    let caller = auth::caller(request)?;
    Ok(Member {
        institution: caller.identity.institution.as_str().to_owned(),
        officer: caller
            .officer
            .as_ref()
            .map(|o| o.id().to_owned())
            .unwrap_or_default(),
    })
}

impl TryFrom<pb::EvaluateRequest> for EvaluateInput {
    type Error = NodeError;

    fn try_from(req: pb::EvaluateRequest) -> Result<Self, NodeError> {
        if req.enrolment {
            if req.purpose != 0 || !req.consent_sha256.is_empty() {
                return Err(NodeError::invalid(
                    "enrolment",
                    "an enrolment evaluation carries no purpose and no consent hash",
                ));
            }
            return Ok(EvaluateInput {
                blinded: req.blinded_elements,
                purpose: None,
                consent_sha256: None,
            });
        }
        let purpose = Purpose::from_wire(req.purpose).ok_or_else(|| {
            NodeError::invalid("purpose", "an assessment evaluation names its purpose")
        })?;
        let consent: [u8; 32] = req.consent_sha256.as_slice().try_into().map_err(|_| {
            NodeError::invalid(
                "consent_sha256",
                "an assessment evaluation carries the SHA-256 (32 bytes) of its consent",
            )
        })?;
        Ok(EvaluateInput {
            blinded: req.blinded_elements,
            purpose: Some(purpose),
            consent_sha256: Some(consent),
        })
    }
}

#[tonic::async_trait]
impl pb::discovery_service_server::DiscoveryService for DiscoveryApi {
    #[tracing::instrument(skip_all)]
    async fn evaluate(
        &self,
        request: Request<pb::EvaluateRequest>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        let who = member(&request)?;
        let input = EvaluateInput::try_from(request.into_inner())?;
        Ok(Response::new(self.discovery.evaluate(&who, input).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn register(
        &self,
        request: Request<pb::RegisterPseudonymsRequest>,
    ) -> Result<Response<pb::RegisterPseudonymsResponse>, Status> {
        let who = member(&request)?;
        let req = request.into_inner();
        let c = self
            .discovery
            .change_directory(&who, &req.pseudonyms, false)
            .await?;
        Ok(Response::new(pb::RegisterPseudonymsResponse {
            registered: c.changed,
            unchanged: c.unchanged,
            held: c.held,
            declared_portfolio: c.portfolio,
            over_portfolio: c.over,
            log_index: c.log_index,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn withdraw(
        &self,
        request: Request<pb::WithdrawPseudonymsRequest>,
    ) -> Result<Response<pb::WithdrawPseudonymsResponse>, Status> {
        let who = member(&request)?;
        let req = request.into_inner();
        let c = self
            .discovery
            .change_directory(&who, &req.pseudonyms, true)
            .await?;
        Ok(Response::new(pb::WithdrawPseudonymsResponse {
            withdrawn: c.changed,
            not_held: c.unchanged,
            held: c.held,
            log_index: c.log_index,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn lookup(
        &self,
        request: Request<pb::LookupHoldersRequest>,
    ) -> Result<Response<pb::LookupHoldersResponse>, Status> {
        let who = member(&request)?;
        let req = request.into_inner();
        let found = self
            .discovery
            .lookup(&who, &req.pseudonym, &req.receipt_id, &req.consent_sha256)
            .await?;
        Ok(Response::new(found))
    }

    #[tracing::instrument(skip_all)]
    async fn get_discovery_status(
        &self,
        _request: Request<pb::DiscoveryStatusRequest>,
    ) -> Result<Response<pb::DiscoveryStatusResponse>, Status> {
        Ok(Response::new(self.discovery.status().await?))
    }
}
