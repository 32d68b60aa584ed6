//! `credshare discovery lookup`: which institutions hold a borrower. One
//! evaluation (purpose and consent hash; the service returns a receipt
//! bound to them), then one lookup presenting that receipt.

use anyhow::{Context, anyhow};
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use credshare_proto::v1 as pb;
use serde_json::json;

use super::ServiceArgs;
use super::client::{Services, Use};
use crate::output::{Output, fields};

/// Options of `credshare discovery lookup`.
#[derive(Debug, Clone, clap::Args)]
pub struct LookupArgs {
    /// Borrower id (blinded locally), e.g. 91350100M000100Y43.
    #[arg(long)]
    pub id: String,
    /// The assessment's purpose (e.g. loan-approval).
    #[arg(long)]
    pub purpose: String,
    /// SHA-256 (hex) of the consent the assessment rests on.
    #[arg(long, value_name = "HEX")]
    pub consent_sha256: String,
    #[command(flatten)]
    pub service: ServiceArgs,
}

impl LookupArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let id = BorrowerId::parse(&self.id).context("--id")?;
        let purpose = Purpose::parse(&self.purpose)
            .ok_or_else(|| anyhow!("--purpose {:?} is not a purpose", self.purpose))?;
        let consent_sha256: [u8; 32] = hex::decode(self.consent_sha256.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow!("--consent-sha256 must be 64 hex digits"))?;
        let mut services = Services::connect(&self.service).await?;
        let evaluated = services
            .pseudonyms(
                &[id],
                Use::Assessment {
                    purpose,
                    consent_sha256,
                },
            )
            .await?;
        let found = services
            .discovery
            .lookup(pb::LookupHoldersRequest {
                pseudonym: evaluated.pseudonyms[0].0.to_vec(),
                receipt_id: evaluated.receipt_id.clone(),
                consent_sha256: consent_sha256.to_vec(),
            })
            .await
            .context("discovery service: Lookup")?
            .into_inner();
        out.print(
            &json!({ "holders": found.holders, "receipt_id": evaluated.receipt_id, "log_index": found.log_index }),
            || {
                let holders = if found.holders.is_empty() {
                    "none (no institution registered this borrower)".to_owned()
                } else {
                    found.holders.join(", ")
                };
                fields(&[("holders", holders), ("receipt", evaluated.receipt_id.clone())])
            },
        );
        Ok(())
    }
}
