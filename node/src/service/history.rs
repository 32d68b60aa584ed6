//! Who asked about a borrower: every peer query about them in this node's
//! log, answered or denied (the data subject's right to know who queried
//! them; docs/domain.md, law).

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use crate::blocking;
use crate::domain::BorrowerKey;
use crate::error::NodeError;

/// Items in a page when the caller names no size.
pub const DEFAULT_PAGE: usize = 1_000;
/// Most items in one page.
pub const MAX_PAGE: usize = 10_000;

impl Node {
    /// One page of the peer queries about `borrower` in this node's log,
    /// oldest first, from leaf `from_leaf` on: at most `page_size` items
    /// (0: [`DEFAULT_PAGE`], capped at [`MAX_PAGE`]). Reads the per-borrower
    /// index, then each entry: O(page) reads.
    pub async fn query_history(
        &self,
        borrower: BorrowerKey,
        from_leaf: u64,
        page_size: u32,
    ) -> Result<pb::QueryHistoryResponse, NodeError> {
        let page = match page_size as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let store = self.store.clone();
        blocking::run(move || {
            let mut leaves = store.query_history(&borrower, from_leaf, page + 1)?;
            let next = (leaves.len() > page).then(|| leaves[page]);
            leaves.truncate(page);
            let mut items = Vec::with_capacity(leaves.len());
            for leaf in leaves {
                let Some(bytes) = store.log_entry(leaf)? else {
                    continue;
                };
                items.extend(history_item(leaf, &bytes));
            }
            Ok(pb::QueryHistoryResponse {
                items,
                more: next.is_some(),
                next_leaf: next.unwrap_or_default(),
            })
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
