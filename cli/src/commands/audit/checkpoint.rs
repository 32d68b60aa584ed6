//! `credshare audit checkpoint`: a node's signed checkpoint, its signature
//! verified from the CA alone.

use serde_json::json;

use super::session::{AuditTarget, FetchedCheckpoint};
use super::{base64_root, checkpoint_time};
use crate::output::{Output, fields};
use credshare_node::audit::SignedCheckpoint;

/// Options of `credshare audit checkpoint`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckpointArgs {
    /// Tree size of the checkpoint; the latest when omitted.
    #[arg(long, default_value_t = 0)]
    pub size: u64,
    #[command(flatten)]
    pub target: AuditTarget,
}

impl CheckpointArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut session = self.target.connect().await?;
        let fetched = session.checkpoint(self.size).await?;
        out.print(&checkpoint_json(&fetched), || {
            render_checkpoint(&fetched.signed)
        });
        Ok(())
    }
}

pub(crate) fn checkpoint_json(fetched: &FetchedCheckpoint) -> serde_json::Value {
    let cp = &fetched.signed.checkpoint;
    json!({
        "origin": cp.origin,
        "size": cp.size,
        "root": base64_root(&cp.root),
        "timestamp_ms": cp.timestamp_ms,
        "time": checkpoint_time(cp.timestamp_ms),
        "signer": fetched.signed.signer.as_str(),
        "signer_key_id": fetched.signed.signer_key_id,
        "signature_verified": true,
        "signed_note": fetched.note,
    })
}

pub(crate) fn render_checkpoint(signed: &SignedCheckpoint) -> String {
    let cp = &signed.checkpoint;
    fields(&[
        ("origin", cp.origin.clone()),
        ("size", format!("{} entries", cp.size)),
        ("root", base64_root(&cp.root)),
        ("time", checkpoint_time(cp.timestamp_ms)),
        ("signer", signed.signer.to_string()),
        ("signer key id", signed.signer_key_id.clone()),
        (
            "signature",
            "verified (signer certificate chains to the consortium CA)".into(),
        ),
    ])
}
