//! The answer a holder discloses: SUMMARY indicators (from the indicator
//! cache when it holds them) and, at DETAIL, the record envelopes and
//! signed annotations. A borrower on legal hold is served as holding
//! nothing.

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::{BorrowerKey, Scope, disputes};
use crate::error::NodeError;
use crate::service::Node;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};

impl Node {
    /// The answer: indicators always, records at DETAIL. SUMMARY answers
    /// come from the indicator cache when they can.
    pub(crate) async fn build_answer(
        &self,
        borrower: BorrowerKey,
        scope: Scope,
    ) -> Result<pb::BorrowerAnswer, NodeError> {
        let today = self.config.business_time_zone.today();
        let (cached, generation) = self.indicators.get(&borrower, today);
        let (indicators, envelopes, annotations) = match cached {
            Some(hit) if scope != Scope::Detail => ((*hit).clone(), Vec::new(), Vec::new()),
            _ => {
                let (indicators, envelopes, annotations) = self.read_borrower(&borrower, today)?;
                let shared = std::sync::Arc::new(indicators.clone());
                self.indicators.fill(borrower, today, generation, shared);
                (indicators, envelopes, annotations)
            }
        };
        let detail = scope == Scope::Detail;
        Ok(pb::BorrowerAnswer {
            institution_id: self.institution().to_string(),
            scope: scope.to_wire() as i32,
            indicators: Some(indicators),
            records: if detail { envelopes } else { Vec::new() },
            annotations: if detail { annotations } else { Vec::new() },
        })
    }

    /// Current records of a borrower: their indicators (disputed records
    /// left out and listed apart), envelopes, and signed annotations.
    #[allow(clippy::type_complexity)]
    fn read_borrower(
        &self,
        borrower: &BorrowerKey,
        today: time::Date,
    ) -> Result<
        (
            pb::BorrowerIndicators,
            Vec<pb::SignedEnvelope>,
            Vec<pb::SignedEnvelope>,
        ),
        NodeError,
    > {
        if self.on_legal_hold(borrower) {
            // Frozen: stored, never served (PIPL art. 47).
            return Ok((indicators_with_nothing(today), Vec::new(), Vec::new()));
        }
        let (stored, _) = self.store.borrower_records(borrower)?;
        let (mut credits, mut visits) = (Vec::new(), Vec::new());
        let mut envelopes = Vec::with_capacity(stored.len());
        for r in stored {
            let Some(env) = r.envelope else { continue };
            match env.payload_type.as_str() {
                CREDIT_SUMMARY_TYPE => {
                    credits.extend(pb::CreditSummary::decode(env.payload.as_slice()).ok())
                }
                VISIT_SUMMARY_TYPE => {
                    visits.extend(pb::VisitSummary::decode(env.payload.as_slice()).ok())
                }
                _ => {}
            }
            envelopes.push(env);
        }
        let annotations = self.store.annotations(Some(borrower))?;
        let marks: Vec<pb::Annotation> = annotations
            .iter()
            .filter_map(|e| pb::Annotation::decode(e.payload.as_slice()).ok())
            .collect();
        let indicators = disputes::indicators_with_disputes(&credits, &visits, &marks, today);
        Ok((indicators, envelopes, annotations))
    }
}

fn indicators_with_nothing(today: time::Date) -> pb::BorrowerIndicators {
    disputes::indicators_with_disputes(&[], &[], &[], today)
}
