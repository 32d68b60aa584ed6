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

/// Items in a page when the caller names no size.
pub const DEFAULT_PAGE: usize = 1_000;
/// Most items in one page.
pub const MAX_PAGE: usize = 10_000;

impl Node {
    /// Every query about `borrower`, all pages (the borrower's report).
    pub async fn all_query_history(
        &self,
        borrower: BorrowerKey,
    ) -> Result<Vec<pb::QueryHistoryItem>, NodeError> {
        let (mut items, mut from) = (Vec::new(), 0);
        loop {
            let page = self.query_history(borrower, from, MAX_PAGE as u32).await?;
            items.extend(page.items);
            if !page.more {
                return Ok(items);
            }
            from = page.next_leaf;
        }
    }

    /// One page of the queries about `borrower` in this node's log,
    /// received or sent, oldest first, from leaf `from_leaf` on: at most
    /// `page_size` items (0: [`DEFAULT_PAGE`], capped at [`MAX_PAGE`]).
    /// Reads the per-borrower index, then each entry: O(page) reads.
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
        let own = self.institution().to_string();
        blocking::run(move || {
            let mut leaves = store.query_history(&borrower, from_leaf, page + 1)?;
            let next = (leaves.len() > page).then(|| leaves[page]);
            leaves.truncate(page);
            let mut items = Vec::with_capacity(leaves.len());
            for leaf in leaves {
                let Some(bytes) = store.log_entry(leaf)? else {
                    continue;
                };
                items.extend(history_item(leaf, &own, &bytes));
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
            receipt_leaf_index: q.peer_leaf_index,
            receipt_tree_size: q.peer_tree_size,
            request_nonce: q.request_nonce,
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
        receipt_leaf_index: None,
        receipt_tree_size: 0,
        request_nonce: q.request_nonce,
    }
}
