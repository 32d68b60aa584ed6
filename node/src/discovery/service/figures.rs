//! The regulator's figures (`GetDiscoveryStatus`) and the start-up replay
//! of the current budget window from the log.

use std::collections::BTreeSet;

use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::{Discovery, Node, lock};
use crate::blocking;
use crate::config::DiscoveryConfig;
use crate::discovery::budget::{Budgets, Spender, window_start_ms};
use crate::domain::dates::now_ms;
use crate::domain::purpose::Purpose;
use crate::error::NodeError;

impl Discovery {
    /// Figures per member for the regulator.
    pub async fn status(&self) -> Result<pb::DiscoveryStatusResponse, NodeError> {
        let store = self.node.store.clone();
        let (pseudonyms, log_size) = blocking::run(move || {
            Ok::<_, crate::storage::StorageError>((store.pseudonym_count()?, store.log_size()?))
        })
        .await?;
        let held = lock(&self.held).clone();
        let now = now_ms();
        let mut budgets = lock(&self.budgets);
        let mut names: BTreeSet<String> = self.config.portfolios.keys().cloned().collect();
        names.extend(held.keys().cloned());
        names.extend(budgets.members());
        let members = names
            .into_iter()
            .map(|inst| {
                let used = budgets.member_use(&self.config, &inst, now);
                let portfolio = self.config.portfolio(&inst);
                let registered = held.get(&inst).copied().unwrap_or(0);
                pb::DiscoveryMemberFigures {
                    declared_portfolio: portfolio,
                    registered,
                    over_portfolio: registered > portfolio,
                    enrolment_evaluated: used.enrolment,
                    enrolment_budget: portfolio.saturating_mul(self.config.enrolment_factor),
                    assessment_evaluated: used.assessment,
                    assessment_budget: self.config.member_budget,
                    refused: used.refused,
                    lookups: used.lookups,
                    institution_id: inst,
                }
            })
            .collect();
        Ok(pb::DiscoveryStatusResponse {
            public_key: self.key.public_key().to_vec(),
            log_size,
            pseudonyms,
            members,
            window_seconds: self.config.window_seconds,
        })
    }
}

/// The current window's budget counts, replayed from the log's newest
/// entries back to the window's start.
pub(super) fn replay_window(
    node: &Node,
    config: &DiscoveryConfig,
) -> Result<Budgets, crate::storage::StorageError> {
    use prost::Message;
    let mut budgets = Budgets::default();
    let now = now_ms();
    let start = window_start_ms(config, now);
    let mut index = node.store.log_size()?;
    while index > 0 {
        index -= 1;
        let Some(bytes) = node.store.log_entry(index)? else {
            break;
        };
        let Ok(entry) = pb::LogEntry::decode(bytes.as_slice()) else {
            continue;
        };
        if entry.time_ms < start {
            break;
        }
        match entry.kind {
            Some(Kind::DiscoveryEvaluation(e)) => {
                let who = Spender {
                    purpose: if e.enrolment {
                        None
                    } else {
                        Purpose::from_wire(e.purpose)
                    },
                    institution: e.institution,
                    officer: e.officer,
                };
                budgets.record(config, &who, u64::from(e.count), !e.refused.is_empty(), now);
            }
            Some(Kind::DiscoveryLookup(e)) => budgets.count_lookup(config, &e.institution, now),
            _ => {}
        }
    }
    Ok(budgets)
}
