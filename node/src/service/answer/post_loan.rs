//! The holder's side of the post-loan rule (docs/domain.md "Post-loan
//! management"): a reason-01 query is answered without a consent when its
//! relationship record — the requester's own signed credit record of the
//! borrower — verifies and shows a live loan. The record's content hash is
//! logged with the query.

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::Basis;
use crate::domain::consent::{self, Denial, QueryContext};
use crate::domain::relationship::{RelationshipContext, check_relationship};
use crate::service::Node;
use crate::signing::{CREDIT_SUMMARY_TYPE, sha256};

fn no_relationship(message: String) -> Denial {
    Denial::new(pb::DenialReason::NoRelationship, message)
}

impl Node {
    /// Decides a post-loan query on its relationship record, then local
    /// policy. Without a record: `NO_RELATIONSHIP`.
    pub(super) fn decide_post_loan(
        &self,
        ctx: &QueryContext<'_>,
        relationship: Option<&pb::SignedEnvelope>,
        now: SystemTime,
    ) -> (Result<(), Denial>, Basis) {
        let Some(envelope) = relationship else {
            let denial = no_relationship(
                "a post-loan query (01) needs no consent but carries the requester's own signed \
                 credit record of the borrower (relationship); none was sent"
                    .into(),
            );
            return (Err(denial), Basis::default());
        };
        let basis = Basis {
            consent_id: String::new(),
            relationship_sha256: sha256(&envelope.payload),
        };
        let outcome = self
            .check_relationship_record(ctx, envelope, now)
            .and_then(|()| consent::check_holder_policy(ctx, &self.config.policy));
        (outcome, basis)
    }

    /// The record verifies (any consortium signer, so that a record of
    /// another institution is refused by name) and shows a live loan of the
    /// requester to this borrower.
    fn check_relationship_record(
        &self,
        ctx: &QueryContext<'_>,
        envelope: &pb::SignedEnvelope,
        now: SystemTime,
    ) -> Result<(), Denial> {
        let signer = self
            .verifier()
            .verify(envelope, CREDIT_SUMMARY_TYPE, None, now)
            .map_err(|e| no_relationship(format!("relationship record: {e}")))?;
        let record = pb::CreditSummary::decode(envelope.payload.as_slice())
            .map_err(|e| no_relationship(format!("relationship record does not decode: {e}")))?;
        let rctx = RelationshipContext {
            requester: ctx.requester,
            borrower_key: ctx.borrower_key,
            today: self.config.business_time_zone.today(),
            max_age_days: self.config.policy.relationship_max_age_days,
        };
        check_relationship(&record, signer.institution(), &rctx)
    }
}
