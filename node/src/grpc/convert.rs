//! The wire edge: `TryFrom` from `credshare.v1` requests into the use
//! cases' inputs and domain types. Every check of request shape happens
//! here, before a use case runs; a failure names the field and changes
//! nothing.

use credshare_proto::v1 as pb;

use crate::domain::assessment::targeted::{self, Targeting};
use crate::domain::dates::parse_date;
use crate::domain::{BorrowerKey, Purpose, Scope};
use crate::error::NodeError;
use crate::pki::Officer;
use crate::service::answer::{MAX_NONCE_BYTES, PeerQuery};
use crate::service::assess::AssessRequest;
use crate::service::consents::ConsentRequest;
use crate::service::disputes::OpenDispute;
use crate::service::visits::DueVisitsQuery;

/// A borrower key from the wire: exactly 32 bytes (HMAC-SHA256).
pub fn borrower_key(bytes: &[u8]) -> Result<BorrowerKey, NodeError> {
    BorrowerKey::from_slice(bytes).map_err(|_| {
        NodeError::invalid(
            "borrower_key",
            format!("must be 32 bytes (HMAC-SHA256), got {}", bytes.len()),
        )
    })
}

/// An optional borrower key: empty means none.
pub fn optional_borrower_key(bytes: &[u8]) -> Result<Option<BorrowerKey>, NodeError> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        borrower_key(bytes).map(Some)
    }
}

impl TryFrom<pb::QueryBorrowerRequest> for PeerQuery {
    type Error = NodeError;

    /// Unknown purposes and scopes pass as `None`, and a missing consent or
    /// relationship record as `None`: the holder refuses such a query and
    /// logs the refusal like any other denial.
    fn try_from(req: pb::QueryBorrowerRequest) -> Result<Self, NodeError> {
        let borrower = borrower_key(&req.borrower_key)?;
        if req.request_nonce.len() > MAX_NONCE_BYTES {
            return Err(NodeError::invalid(
                "request_nonce",
                format!("at most {MAX_NONCE_BYTES} bytes"),
            ));
        }
        Ok(PeerQuery {
            borrower,
            consent: req.consent,
            relationship: req.relationship,
            purpose: Purpose::from_wire(req.purpose),
            scope: Scope::from_wire(req.scope),
            nonce: req.request_nonce,
            officer: requester_officer(req.requester_officer)?,
            discovery_receipt_id: optional_receipt_id(req.discovery_receipt_id)?,
            key_generation: req.key_generation,
        })
    }
}

/// The requester's officer: empty, or a well-formed officer id (it is
/// logged, so nothing else gets in).
fn requester_officer(id: String) -> Result<String, NodeError> {
    if !id.is_empty() {
        Officer::check_id(&id)
            .map_err(|e| NodeError::invalid("requester_officer", e.to_string()))?;
    }
    Ok(id)
}

/// A discovery receipt id sent with a query: empty, or well-formed (it is
/// logged, so nothing else gets in).
fn optional_receipt_id(id: String) -> Result<String, NodeError> {
    if !id.is_empty() {
        targeted::check_receipt_id("discovery_receipt_id", &id)?;
    }
    Ok(id)
}

impl TryFrom<pb::AssessRequest> for AssessRequest {
    type Error = NodeError;

    fn try_from(req: pb::AssessRequest) -> Result<Self, NodeError> {
        Ok(AssessRequest {
            borrower: borrower_key(&req.borrower_key)?,
            consent_id: req.consent_id,
            purpose: Purpose::from_wire(req.purpose),
            scope: Scope::from_wire(req.scope),
            deadline_ms: req.deadline_ms,
            officer: String::new(),
            targeting: Targeting::from_wire(req.discovery_receipt_id, req.discovery_holders)?,
            key_generation: req.key_generation,
        })
    }
}

impl TryFrom<pb::IssueConsentRequest> for ConsentRequest {
    type Error = NodeError;

    /// Purposes, scope and window are checked by the domain's
    /// `validate_new_grant`, which names each field.
    fn try_from(req: pb::IssueConsentRequest) -> Result<Self, NodeError> {
        Ok(ConsentRequest {
            borrower: borrower_key(&req.borrower_key)?,
            purposes: req.purposes,
            scope: req.scope,
            not_before_ms: req.not_before_ms,
            not_after_ms: req.not_after_ms,
            authorization_sha256: req.authorization_sha256,
            officer: String::new(),
            key_generation: req.key_generation,
        })
    }
}

/// An optional ISO date: empty means none.
pub fn optional_date(field: &'static str, s: &str) -> Result<Option<time::Date>, NodeError> {
    match s {
        "" => Ok(None),
        date => Ok(Some(parse_date(field, date)?)),
    }
}

impl TryFrom<pb::OpenDisputeRequest> for OpenDispute {
    type Error = NodeError;

    /// Texts are checked by the use case (they need today's date).
    fn try_from(req: pb::OpenDisputeRequest) -> Result<Self, NodeError> {
        Ok(OpenDispute {
            borrower: borrower_key(&req.borrower_key)?,
            record_id: req.record_id,
            reason: req.reason,
            statement: (!req.statement.is_empty()).then_some(req.statement),
            as_of: optional_date("as_of_date", &req.as_of_date)?,
            officer: String::new(),
        })
    }
}

impl TryFrom<pb::DueVisitsRequest> for DueVisitsQuery {
    type Error = NodeError;

    fn try_from(req: pb::DueVisitsRequest) -> Result<Self, NodeError> {
        let as_of = match req.as_of_date.as_str() {
            "" => None,
            date => Some(parse_date("as_of_date", date)?),
        };
        Ok(DueVisitsQuery {
            as_of,
            horizon_days: req.horizon_days,
            limit: req.limit,
        })
    }
}
