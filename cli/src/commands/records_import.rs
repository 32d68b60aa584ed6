//! `credshare records import`: validate, hash and import a CSV or JSON
//! Lines file of credit or visit summaries.
//!
//! Raw borrower identifiers become borrower keys here before anything is
//! sent: hashed with the consortium secret (generation 1), or evaluated
//! blinded at the key service in batches of up to 10,000 with a progress
//! bar (generation 2+; importing a fresh generation-2 node from the
//! institution's own files re-keys its data). The node never sees them. With `--json` the
//! output is JSON Lines: an `ack` event per acknowledged call, then a
//! `summary`. Exit code 3 when any row was rejected.

use std::path::PathBuf;

use serde_json::json;

use crate::commands::borrower_keys::KeyDeriver;
use crate::connection::ConnectionArgs;
use crate::import::{ImportTotals, ROWS_PER_CALL, Rejects, run_import};
use crate::output::{ExitKind, Output};
use crate::rows::{ImportContext, RecordKind, RecordReader, RowKeys, distinct_ids};

/// Options of `credshare records import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// A .csv (with header) or .jsonl file; columns are listed in the README.
    pub file: PathBuf,
    /// What the file holds.
    #[arg(long, value_enum)]
    pub kind: RecordKind,
    /// Validate only; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write rejected rows (row, field, reason) to this CSV file.
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    /// Rows per acknowledged call.
    #[arg(long, default_value_t = ROWS_PER_CALL)]
    pub rows_per_call: usize,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl ImportArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve()?;
        let keys = self.row_keys(out).await?;
        let context = ImportContext::with_keys(resolved.institution()?, keys);
        let reader = RecordReader::open(&self.file, self.kind, context)?;
        let client = if self.dry_run {
            None
        } else {
            Some(resolved.admin_client().await?)
        };
        let mut rejects = Rejects::open(self.reject_file.as_deref(), *out)?;
        let rows_per_call = self.rows_per_call.max(1);
        let totals = run_import(reader, client, rows_per_call, &mut rejects, out).await?;
        rejects.finish()?;
        // One line, like the "ack" events before it (JSON Lines).
        out.event(&json!({"event": "summary", "dry_run": self.dry_run, "totals": totals}));
        out.text(self.summary(&totals));
        if totals.rejected > 0 {
            let message = format!("{} rows rejected", totals.rejected);
            return Err(ExitKind::Partial(message).into());
        }
        Ok(())
    }

    /// The keys of the file's rows: the secret (generation 1), or every
    /// distinct id evaluated at the key service before the first row is
    /// sent (generation 2+; none in a dry run).
    async fn row_keys(&self, out: &Output) -> anyhow::Result<RowKeys> {
        let resolved = self.conn.resolve()?;
        let generation = resolved.keys.generation;
        if !generation.is_oprf() {
            return Ok(RowKeys::Hmac(resolved.secret()?));
        }
        if self.dry_run {
            return Ok(RowKeys::DryRun(generation));
        }
        let mut deriver = KeyDeriver::connect(&self.conn).await?;
        let ids = distinct_ids(&self.file, self.kind)?;
        let bar = out.progress(
            indicatif::ProgressBar::new(ids.len() as u64),
            "{bar:30} {pos}/{len} borrower keys evaluated  {per_sec}  {elapsed}",
        );
        if !out.is_json() {
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        let keys = deriver.keys(&ids, &|n| bar.inc(n as u64)).await;
        bar.finish_and_clear();
        let keys = keys?;
        let normalized = ids.iter().map(|id| id.normalized().to_owned());
        Ok(RowKeys::Evaluated {
            generation,
            keys: normalized.zip(keys).collect(),
        })
    }

    fn summary(&self, totals: &ImportTotals) -> String {
        format!(
            "{}: {} rows, {} stored, {} unchanged, {} rejected in {:.1}s ({:.0} rows/s){}",
            if self.dry_run {
                "validated"
            } else {
                "imported"
            },
            totals.rows,
            totals.stored,
            totals.unchanged,
            totals.rejected,
            totals.seconds,
            totals.rows_per_second,
            self.reject_file
                .as_ref()
                .map(|p| format!("; rejected rows in {}", p.display()))
                .unwrap_or_default()
        )
    }
}
