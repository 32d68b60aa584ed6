//! Who asked about a borrower: every peer query about them in this node's
//! log, answered or denied, and every query this institution sent about
//! them, each with the officer who asked (the data subject's right to know who queried
//! them; docs/domain.md, law).

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::blocking;
use crate::domain::BorrowerKey;
use crate::error::NodeError;

impl Node {
    /// Every query about `borrower` in this node's log, received or sent,
    /// oldest first.
    /// Reads the per-borrower index, then each entry: O(queries) reads.
    pub async fn query_history(
        &self,
        borrower: BorrowerKey,
    ) -> Result<Vec<pb::QueryHistoryItem>, NodeError> {
        let store = self.store.clone();
        let own = self.institution().to_string();
        blocking::run(move || {
            let mut items = Vec::new();
            for leaf in store.query_history(&borrower)? {
                let Some(bytes) = store.log_entry(leaf)? else {
                    continue;
                };
                items.extend(history_item(leaf, &own, &bytes));
            }
            Ok(items)
        })
        .await
    }
}

/// The history line of one log entry: a query received from a peer, or
/// one this institution sent.
fn history_item(leaf: u64, own: &str, bytes: &[u8]) -> Option<pb::QueryHistoryItem> {
    let entry = pb::LogEntry::decode(bytes).ok()?;
    match entry.kind? {
        pb::log_entry::Kind::PeerQuery(q) => Some(received(leaf, entry.time_ms, q)),
        pb::log_entry::Kind::OutgoingQuery(q) => Some(pb::QueryHistoryItem {
            leaf_index: leaf,
            time_ms: entry.time_ms,
            requester_institution: own.to_owned(),
            purpose: q.purpose,
            scope: q.scope,
            consent_id: q.consent_id,
            decision: q.outcome,
            officer: q.officer,
            sent: true,
            peer_institution: q.peer_institution,
        }),
        _ => None,
    }
}

fn received(leaf: u64, time_ms: i64, q: pb::PeerQueryEntry) -> pb::QueryHistoryItem {
    let decision = if q.decision == pb::Decision::Answered as i32 {
        "ANSWERED".to_string()
    } else {
        let reason = pb::DenialReason::try_from(q.denial_reason).unwrap_or_default();
        format!(
            "DENIED:{}",
            reason.as_str_name().trim_start_matches("DENIAL_REASON_")
        )
    };
    pb::QueryHistoryItem {
        leaf_index: leaf,
        time_ms,
        requester_institution: q.requester_institution,
        purpose: q.purpose,
        scope: q.scope,
        consent_id: q.consent_id,
        decision,
        officer: q.requester_officer,
        sent: false,
        peer_institution: String::new(),
    }
}
