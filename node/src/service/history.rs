//! Who asked about a borrower: every peer query about them in this node's
//! log, answered or denied (the data subject's right to know who queried
//! them; docs/domain.md, law).

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::blocking;
use crate::domain::BorrowerKey;
use crate::error::NodeError;

impl Node {
    /// Every peer query about `borrower` in this node's log, oldest first.
    /// Reads the per-borrower index, then each entry: O(queries) reads.
    pub async fn query_history(
        &self,
        borrower: BorrowerKey,
    ) -> Result<Vec<pb::QueryHistoryItem>, NodeError> {
        let store = self.store.clone();
        blocking::run(move || {
            let mut items = Vec::new();
            for leaf in store.query_history(&borrower)? {
                let Some(bytes) = store.log_entry(leaf)? else {
                    continue;
                };
                items.extend(history_item(leaf, &bytes));
            }
            Ok(items)
        })
        .await
    }
}

/// The history line of one log entry, if it is a peer query.
fn history_item(leaf: u64, bytes: &[u8]) -> Option<pb::QueryHistoryItem> {
    let entry = pb::LogEntry::decode(bytes).ok()?;
    let Some(pb::log_entry::Kind::PeerQuery(q)) = entry.kind else {
        return None;
    };
    let decision = if q.decision == pb::Decision::Answered as i32 {
        "ANSWERED".to_string()
    } else {
        let reason = pb::DenialReason::try_from(q.denial_reason).unwrap_or_default();
        format!(
            "DENIED:{}",
            reason.as_str_name().trim_start_matches("DENIAL_REASON_")
        )
    };
    Some(pb::QueryHistoryItem {
        leaf_index: leaf,
        time_ms: entry.time_ms,
        requester_institution: q.requester_institution,
        purpose: q.purpose,
        scope: q.scope,
        consent_id: q.consent_id,
        decision,
    })
}
