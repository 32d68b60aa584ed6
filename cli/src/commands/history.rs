//! `credshare history`: who asked your node about a borrower, when, why and
//! which officer (from the query log) — what the borrower may ask to see —
//! and the queries your own institution sent about them.

use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::commands::borrower_keys::BorrowerArgs;
use crate::output::{Output, Table};

/// Items asked for per call (the node's largest page).
const PAGE_SIZE: u32 = 10_000;

/// Options of `credshare history`.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

impl HistoryArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let (mut client, key) = self.borrower.connect().await?;
        let mut items = Vec::new();
        let mut from_leaf = 0;
        loop {
            let page = client
                .query_history(pb::QueryHistoryRequest {
                    borrower_key: key.as_bytes().to_vec(),
                    from_leaf,
                    page_size: PAGE_SIZE,
                })
                .await?
                .into_inner();
            items.extend(page.items);
            if !page.more || page.next_leaf <= from_leaf && from_leaf != 0 {
                break;
            }
            from_leaf = page.next_leaf;
        }
        out.print_list(&items, item_json, |items| {
            format!(
                "{} queries about borrower {}\n{}",
                items.len(),
                key.short(),
                render(items)
            )
        });
        Ok(())
    }
}

fn item_json(i: &pb::QueryHistoryItem) -> serde_json::Value {
    json!({
        "leaf_index": i.leaf_index, "time_ms": i.time_ms, "requester": i.requester_institution,
        "purpose": purpose_label(i.purpose), "scope": code_label::<pb::Scope>(i.scope),
        "consent_id": i.consent_id, "decision": i.decision, "officer": i.officer,
        "direction": direction(i), "peer": i.peer_institution,
        "receipt": receipt_json(i), "request_nonce": hex::encode(&i.request_nonce),
    })
}

/// A sent query's receipt: `{leaf_index, tree_size}`, or null without one
/// (and for a query received, whose receipt is in this node's own log).
fn receipt_json(i: &pb::QueryHistoryItem) -> serde_json::Value {
    match i.receipt_leaf_index {
        Some(leaf) => json!({"leaf_index": leaf, "tree_size": i.receipt_tree_size}),
        None => serde_json::Value::Null,
    }
}

/// The RECEIPT column: the holder's leaf and tree size for a query sent
/// (`none` without a receipt); empty for a query received.
fn receipt_cell(i: &pb::QueryHistoryItem) -> String {
    match (i.sent, i.receipt_leaf_index) {
        (false, _) => String::new(),
        (true, Some(leaf)) => format!("leaf {leaf} of {}", i.receipt_tree_size),
        (true, None) => "none".into(),
    }
}

/// `RECEIVED` for a peer's query about the borrower, `SENT` for ours.
fn direction(i: &pb::QueryHistoryItem) -> &'static str {
    if i.sent { "SENT" } else { "RECEIVED" }
}

fn render(items: &[pb::QueryHistoryItem]) -> String {
    let mut t = Table::new(
        "LEAF|TIME|DIRECTION|REQUESTER|OFFICER|HOLDER|PURPOSE|SCOPE|CONSENT|DECISION|RECEIPT",
    );
    for i in items {
        t.row(vec![
            i.leaf_index.to_string(),
            crate::dates::time(i.time_ms),
            direction(i).into(),
            i.requester_institution.clone(),
            i.officer.clone(),
            i.peer_institution.clone(),
            purpose_label(i.purpose),
            code_label::<pb::Scope>(i.scope).into(),
            // Peer-supplied for denied queries: Table escapes controls.
            i.consent_id.clone(),
            i.decision.clone(),
            receipt_cell(i),
        ]);
    }
    t.render()
}
