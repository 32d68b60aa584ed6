//! `credshare retention sweep [--dry-run] [--as-of DATE]`: delete the
//! bodies of negative records 5 years after the bad behaviour ended
//! (Regulation art. 16); the node also sweeps at start-up and daily.

use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::output::{Output, fields};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RetentionCommand {
    /// Delete expired negative information now (logged with your officer).
    Sweep(SweepArgs),
}

run_subcommands!(RetentionCommand: Sweep);

#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Only report what would expire; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The day to evaluate expiry on (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl SweepArgs {
    async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut client = self.conn.resolve()?.admin_client().await?;
        let r = client
            .retention_sweep(pb::RetentionSweepRequest {
                dry_run: self.dry_run,
                as_of_date: self.as_of.clone().unwrap_or_default(),
            })
            .await?
            .into_inner();
        let value = json!({
            "dry_run": self.dry_run,
            "expired_versions": r.expired_versions,
            "expired_records": r.expired_records,
            "held_versions": r.held_versions,
            "removed_sha256": r.removed_sha256.iter().map(hex::encode).collect::<Vec<_>>(),
            "log_entries": r.log_entries,
        });
        out.print(&value, || {
            fields(&[
                (
                    if self.dry_run {
                        "would expire"
                    } else {
                        "expired"
                    },
                    format!(
                        "{} versions of {} records",
                        r.expired_versions, r.expired_records
                    ),
                ),
                ("legal hold", format!("{} versions frozen", r.held_versions)),
                ("logged", format!("{} entries", r.log_entries)),
            ])
        });
        Ok(())
    }
}
