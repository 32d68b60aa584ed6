//! `credshare consent revoke`: revoke a consent; the node pushes the
//! revocation to every peer and retries until each acknowledges it.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::output::{ExitKind, Output};

/// Options of `credshare consent revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct RevokeArgs {
    /// The consent to revoke.
    #[arg(long, required_unless_present = "grant", conflicts_with = "grant")]
    pub consent_id: Option<String>,
    /// Or the signed grant `consent issue --out` wrote: revokes its consent.
    #[arg(long)]
    pub grant: Option<PathBuf>,
    #[arg(long, default_value = "withdrawn by the borrower")]
    pub reason: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl RevokeArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let consent_id = self.consent_id()?;
        let mut client = self.conn.resolve()?.admin_client().await?;
        let r = client
            .revoke_consent(pb::RevokeConsentRequest {
                consent_id: consent_id.clone(),
                reason: self.reason.clone(),
            })
            .await?
            .into_inner();
        let value =
            json!({"consent_id": consent_id, "delivered_to": r.delivered_to, "pending": r.pending});
        out.print(&value, || {
            format!(
                "consent {} revoked; delivered to: {}; pending (retried until acknowledged): {}\n",
                consent_id,
                none_if_empty(&r.delivered_to),
                none_if_empty(&r.pending)
            )
        });
        Ok(())
    }
}

impl RevokeArgs {
    /// `--consent-id`, or the `consent_id` of the `--grant` file.
    fn consent_id(&self) -> anyhow::Result<String> {
        if let Some(id) = &self.consent_id {
            return Ok(id.clone());
        }
        let path = self
            .grant
            .as_ref()
            .ok_or_else(|| ExitKind::Usage("give --consent-id or --grant".into()))?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        doc["consent_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                anyhow!(
                    "{} has no \"consent_id\" (write it with `consent issue --out`)",
                    path.display()
                )
            })
    }
}

/// `a, b`, or `none`.
pub fn none_if_empty(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
