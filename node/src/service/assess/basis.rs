//! What an assessment's queries rest on (the requester's side of the
//! post-loan rule, docs/domain.md): a post-loan query (reason 01) sends no
//! consent but this institution's own newest live credit record of the
//! borrower, and is refused before any peer is asked when there is none;
//! every other reason sends the consent grant this institution issued.

use credshare_proto::v1 as pb;
use prost::Message;

use super::AssessRequest;
use crate::domain::relationship::{RelationshipContext, pick_relationship};
use crate::domain::{BorrowerKey, Purpose};
use crate::error::NodeError;
use crate::service::Node;
use crate::signing::CREDIT_SUMMARY_TYPE;

/// The envelopes a query carries: exactly one of them is set.
#[derive(Debug, Clone, Default)]
pub(super) struct QueryBasis {
    pub grant: Option<pb::SignedEnvelope>,
    pub relationship: Option<pb::SignedEnvelope>,
}

impl Node {
    /// The consent grant or relationship record for `req`'s reason.
    pub(super) async fn query_basis(
        &self,
        req: &AssessRequest,
        purpose: Purpose,
    ) -> Result<QueryBasis, NodeError> {
        if purpose == Purpose::PostLoanManagement {
            if !req.consent_id.is_empty() {
                return Err(NodeError::invalid(
                    "consent_id",
                    "a post-loan query (01) carries no consent: it rests on this institution's own credit record of the borrower",
                ));
            }
            let relationship = self.own_relationship(req.borrower).await?;
            return Ok(QueryBasis {
                relationship: Some(relationship),
                ..Default::default()
            });
        }
        if req.consent_id.is_empty() {
            return Err(NodeError::invalid(
                "consent_id",
                format!(
                    "reason {} needs a consent this institution issued",
                    purpose.label()
                ),
            ));
        }
        let (grant, envelope) = self.issued_grant(&req.consent_id).await?;
        if grant.borrower_key != req.borrower.as_bytes() {
            return Err(NodeError::invalid(
                "consent_id",
                "that consent is for another borrower",
            ));
        }
        self.check_grant_usable(&grant)?;
        Ok(QueryBasis {
            grant: Some(envelope),
            ..Default::default()
        })
    }

    /// This institution's newest live credit record of `borrower`: not
    /// settled, reported within `policy.relationship_max_age_days`.
    async fn own_relationship(
        &self,
        borrower: BorrowerKey,
    ) -> Result<pb::SignedEnvelope, NodeError> {
        let (records, _) = self.borrower_records(borrower).await?;
        let credits: Vec<(pb::CreditSummary, pb::SignedEnvelope)> = records
            .into_iter()
            .filter_map(|r| r.envelope)
            .filter(|e| e.payload_type == CREDIT_SUMMARY_TYPE)
            .filter_map(|e| Some((pb::CreditSummary::decode(e.payload.as_slice()).ok()?, e)))
            .collect();
        let max_age_days = self.config.policy.relationship_max_age_days;
        let ctx = RelationshipContext {
            requester: self.institution(),
            borrower_key: borrower.as_bytes(),
            today: self.config.business_time_zone.today(),
            max_age_days,
        };
        pick_relationship(credits.iter().map(|(c, e)| (c, e)), &ctx)
            .cloned()
            .ok_or_else(|| {
                NodeError::FailedPrecondition(format!(
                    "no live credit record of this borrower at {} (not settled, reported within {max_age_days} days): \
                     a post-loan query (01) is only for a borrower this institution lends to",
                    self.institution()
                ))
            })
    }
}
