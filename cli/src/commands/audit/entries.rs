//! `credshare audit entries`: decoded log entries, one line each.
//!
//! Entries carry hashed borrower keys only; even those are shown as a short
//! hex prefix (enough to tell entries apart, not to look a borrower up).
//! Human output is one aligned line per entry, printed as it arrives;
//! `--json` prints one JSON object per line (JSON Lines).

use std::io::Write as _;

use anyhow::bail;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::{Value, json};

use super::format_time_ms;
use super::session::AuditTarget;
use crate::output::Output;

pub(super) mod describe;
mod discovery;
mod view;
use describe::describe_entry;

/// Options of `credshare audit entries`.
#[derive(Debug, Clone, clap::Args)]
pub struct EntriesArgs {
    /// First entry index.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// End index (exclusive); the latest checkpoint's size when omitted.
    #[arg(long, default_value_t = 0)]
    pub end: u64,
    #[command(flatten)]
    pub target: AuditTarget,
}

impl EntriesArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let json = out.is_json();
        let mut session = self.target.connect().await?;
        let size = session.checkpoint(0).await?.signed.checkpoint.size;
        let (end, note) = clamp_range(self.start, self.end, size)?;
        if let Some(note) = note {
            // On stderr, so the entries on stdout stay machine-readable.
            eprintln!("{note}");
        }
        out.text(format!(
            "{:>8}  {:<33}  {:<14}  DETAIL",
            "INDEX", "TIME", "KIND"
        ));
        // Printed as they arrive, one line each (JSON Lines with --json).
        let printed = session
            .for_each_entry(self.start, end, |index, bytes| {
                let line = match pb::LogEntry::decode(bytes.as_slice()) {
                    Ok(entry) => entry_line(index, &entry, json),
                    Err(e) => undecodable_line(index, &e, json),
                };
                writeln!(std::io::stdout(), "{line}")?;
                Ok(())
            })
            .await;
        match printed {
            // The reader went away (`| head`): stop quietly, as `cat` does.
            Err(e) if is_broken_pipe(&e) => Ok(()),
            other => other,
        }
    }
}

/// The range to show of a log of `size` entries (as its newest checkpoint
/// signs) for `--start` and `--end` (0 = the whole log): a range past the
/// end shows what exists, with a note saying so.
pub(crate) fn clamp_range(
    start: u64,
    end: u64,
    size: u64,
) -> anyhow::Result<(u64, Option<String>)> {
    let asked = if end == 0 { size } else { end };
    if start > asked {
        bail!("--start {start} is after --end {asked}");
    }
    if asked <= size {
        return Ok((asked, None));
    }
    let entries = if size == 1 { "entry" } else { "entries" };
    let note = if start >= size {
        format!(
            "the log has {size} {entries}: none from {start} on (asked for {start} to {})",
            asked - 1
        )
    } else {
        format!(
            "the log has {size} {entries}: showing {start} to {} (asked for up to {})",
            size - 1,
            asked - 1
        )
    };
    Ok((size, Some(note)))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn entry_line(index: u64, entry: &pb::LogEntry, json: bool) -> String {
    let view = describe_entry(entry);
    if json {
        let mut object = json!({
            "index": index,
            "time_ms": entry.time_ms,
            "time": format_time_ms(entry.time_ms),
            "kind": view.kind,
        });
        if let (Some(map), Value::Object(details)) = (object.as_object_mut(), view.json) {
            map.extend(details);
        }
        return object.to_string();
    }
    let time = crate::dates::time(entry.time_ms);
    // The summary holds peer-supplied text (a denied query's consent id).
    format!(
        "{index:>8}  {time:<33}  {:<14}  {}",
        view.kind,
        crate::output::escape_controls(&view.summary)
    )
}

fn undecodable_line(index: u64, error: &prost::DecodeError, json: bool) -> String {
    if json {
        return json!({"index": index, "kind": "undecodable", "error": error.to_string()})
            .to_string();
    }
    format!("{index:>8}  {:<33}  {:<14}  {error}", "-", "UNDECODABLE")
}
