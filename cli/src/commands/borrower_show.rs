//! `credshare borrower show`: one borrower's current records at your node
//! (the id is hashed locally), decoded from their signed envelopes.

use credshare_proto::v1 as pb;
use serde_json::json;

use crate::commands::borrower_keys::BorrowerArgs;
use crate::output::Output;
use crate::records_view::{
    Shown, credit_json, decode_records, render_credits, render_visits, visit_json,
};

/// Options of `credshare borrower show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

impl ShowArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let (mut client, key) = self.borrower.connect().await?;
        let response = client
            .get_borrower(pb::GetBorrowerRequest {
                borrower_key: key.as_bytes().to_vec(),
            })
            .await?
            .into_inner();
        let (credits, visits) = decode_records(&response.records)?;
        let value = json!({
            "borrower_key": key.to_string(),
            "history_count": response.history_count,
            "credit": credits.iter().map(credit_json).collect::<Vec<_>>(),
            "visits": visits.iter().map(visit_json).collect::<Vec<_>>(),
        });
        out.print(&value, || {
            format!(
                "borrower key {} — {} current records, {} versions stored\n\nfacilities\n{}\nvisits (newest first)\n{}",
                key.short(),
                response.records.len(),
                response.history_count,
                render_credits(&unsigned(&credits), false),
                render_visits(&unsigned(&visits), false)
            )
        });
        Ok(())
    }
}

/// Records shown without a signer column (they are this node's own).
fn unsigned<T>(records: &[T]) -> Vec<Shown<'_, T>> {
    records
        .iter()
        .map(|record| Shown {
            record,
            key_id: None,
        })
        .collect()
}
