//! `credshare audit …`: the regulator's commands. They talk to a node's
//! `AuditService` (served on its peer listener for regulators, and on its
//! admin listener for its own admins) and verify everything the node says
//! with nothing but the consortium CA certificate (and CRL), through a
//! [`session::AuditSession`].
//!
//! * `checkpoint` — the node's signed checkpoint, signature verified.
//! * `verify` — downloads the whole log, recomputes the root, checks it
//!   against the signed checkpoint and, given an earlier checkpoint, that
//!   the log only grew since ([`verify`]).
//! * `entries` — decoded entries; hashed borrower keys as short hex only
//!   ([`entries`]).
//! * `report` — every node's query-pattern flags, and with `--discovery`
//!   the discovery service's budgets and unfollowed lookups ([`report`]).
//! * `cross-check` — every node's log held against the others': queries
//!   one side did not log, checkpoints that conflict, witness evidence
//!   ([`cross_check`]).

mod checkpoint;
pub(crate) mod cross_check;
mod entries;
mod report;
mod session;
mod verify;

#[cfg(test)]
mod tests;

use anyhow::Context;
use credshare_node::audit;

pub use checkpoint::CheckpointArgs;
pub use cross_check::CrossCheckArgs;
pub use entries::EntriesArgs;
pub use report::ReportArgs;
pub use session::AuditTarget;
pub use verify::VerifyArgs;

/// The regulator's view of a node's query log.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Show a node's signed checkpoint (its signature verified from the CA).
    Checkpoint(CheckpointArgs),
    /// Download the whole log, recompute its root and check it against the
    /// signed checkpoint (and that it extends an earlier saved checkpoint).
    /// Exits 0 when everything verifies, 1 naming the failed check.
    Verify(VerifyArgs),
    /// Show decoded log entries (hashed borrower keys as short hex only).
    Entries(EntriesArgs),
    /// Every node's query-pattern flags (probing, approval without
    /// lending), for the regulator; with --discovery also the discovery
    /// service's members near or over a budget and its lookups never
    /// followed by a query.
    Report(ReportArgs),
    /// Hold every node's log against the others': queries the holder or
    /// the requester did not log, holder checkpoints that do not fit the
    /// holder's log, witness evidence; each with its signed evidence.
    /// Exits 0 when consistent, 3 with findings, 4 refused, 5 unreachable,
    /// 1 when a log cannot be downloaded or does not verify.
    CrossCheck(CrossCheckArgs),
}

run_subcommands!(AuditCommand: Checkpoint, Verify, Entries, Report, CrossCheck);

pub(crate) fn base64_root(root: &audit::Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(root)
}

/// RFC 3339 UTC time of Unix milliseconds, or the raw number if out of range.
pub(crate) fn format_time_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// A checkpoint's time (its optional `Timestamp:` line) for people.
pub(crate) fn checkpoint_time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "(no timestamp)".into(), crate::dates::time)
}

/// Reads a saved checkpoint note.
pub(crate) fn read_note(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading checkpoint {}", path.display()))
}
