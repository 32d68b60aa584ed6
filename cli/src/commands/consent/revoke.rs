//! `credshare consent revoke`: revoke a consent; the node pushes the
//! revocation to every peer and retries until each acknowledges it.

use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::output::Output;

/// Options of `credshare consent revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct RevokeArgs {
    #[arg(long)]
    pub consent_id: String,
    #[arg(long, default_value = "withdrawn by the borrower")]
    pub reason: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl RevokeArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut client = self.conn.resolve()?.admin_client().await?;
        let r = client
            .revoke_consent(pb::RevokeConsentRequest {
                consent_id: self.consent_id.clone(),
                reason: self.reason.clone(),
            })
            .await?
            .into_inner();
        let value = json!({"consent_id": self.consent_id, "delivered_to": r.delivered_to, "pending": r.pending});
        out.print(&value, || {
            format!(
                "consent {} revoked; delivered to: {}; pending (retried until acknowledged): {}\n",
                self.consent_id,
                none_if_empty(&r.delivered_to),
                none_if_empty(&r.pending)
            )
        });
        Ok(())
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
