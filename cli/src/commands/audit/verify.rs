//! `credshare audit verify`: the whole log, checked from the CA alone.
//!
//! 1. Fetch the newest checkpoint; verify its signer certificate chains to
//!    the CA and the note's signature.
//! 2. Download every entry, recompute the RFC 6962 root and compare it with
//!    the signed root. On a mismatch, bisect the tree with inclusion proofs
//!    (O(log n) calls) to name the first entry that differs from what was
//!    signed.
//! 3. With `--from-checkpoint`, check the log only grew since that saved
//!    checkpoint: the node's checkpoint at that size must be the same tree,
//!    and a consistency proof must link it to the newest one. Dropped,
//!    reordered or edited history fails here.
//!
//! 4. With `--witness-quorum K`, the node's newest cosigned checkpoint must
//!    carry K verified cosignatures of other members and be a checkpoint of
//!    the log downloaded (`verify/witnesses.rs`).
//!
//! Leaf hashes are kept in memory (32 bytes per entry) for the bisection.

use std::path::PathBuf;

use anyhow::{Context, bail};
use credshare_node::audit::{Checkpoint, Hash, leaf_hash, root_of_leaves};
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use super::checkpoint::checkpoint_json;
use super::session::{AuditSession, AuditTarget, FetchedCheckpoint};
use super::{base64_root, checkpoint_time};
use crate::output::{Output, fields};

pub(super) mod bisect;
mod extends;
pub(super) mod tally;
mod witnesses;

use bisect::{SignedTree, locate_mismatch};
use extends::check_extends;
use tally::{EpochBreak, LogTally};

/// Options of `credshare audit verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// A checkpoint note saved by an earlier run (--save-checkpoint): the
    /// log must extend it.
    #[arg(long)]
    pub from_checkpoint: Option<PathBuf>,
    /// Write the newest checkpoint note here once everything verifies.
    #[arg(long)]
    pub save_checkpoint: Option<PathBuf>,
    /// Require the node's newest cosigned checkpoint to carry at least K
    /// verified cosignatures by witnesses other than the node.
    #[arg(long, value_name = "K")]
    pub witness_quorum: Option<u32>,
    #[command(flatten)]
    pub target: AuditTarget,
}

/// What a successful run established.
struct Verified {
    newest: FetchedCheckpoint,
    tally: LogTally,
    extends: Option<Checkpoint>,
    witnessed: Option<(u32, credshare_node::audit::witnessed::Witnessed)>,
}

impl VerifyArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let verified = match run_checks(self, out).await {
            Ok(verified) => verified,
            Err(e) => {
                out.print(
                    &json!({"verified": false, "error": format!("{e:#}")}),
                    String::new,
                );
                return Err(e);
            }
        };
        if let Some(path) = &self.save_checkpoint {
            std::fs::write(path, &verified.newest.note)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        out.print(&verified_json(&verified), || render_verified(&verified));
        Ok(())
    }
}

async fn run_checks(args: &VerifyArgs, out: &Output) -> anyhow::Result<Verified> {
    let mut session = args.target.connect().await?;
    let newest = session.checkpoint(0).await?;
    let checkpoint = newest.signed.checkpoint.clone();
    let (leaves, tally) = download(&mut session, checkpoint.size, out).await?;
    if root_of_leaves(&leaves) != checkpoint.root {
        let mut signed_tree = SignedTree {
            session: &mut session,
            size: checkpoint.size,
        };
        let found = locate_mismatch(&leaves, checkpoint.root, &mut signed_tree).await?;
        bail!(
            "query log entry {found} fails verification: it is not the entry signed in the checkpoint of size {} (root {})",
            checkpoint.size,
            base64_root(&checkpoint.root)
        );
    }
    check_signing_key(&newest, &tally)?;
    let extends = match &args.from_checkpoint {
        Some(path) => Some(
            check_extends(&mut session, path, &checkpoint, &leaves)
                .await
                .map_err(|e| explain_epoch(e, &tally))?,
        ),
        None => None,
    };
    let witnessed = match args.witness_quorum {
        Some(k) => Some((k, session.check_witnesses(&newest, &leaves, k).await?)),
        None => None,
    };
    Ok(Verified {
        newest,
        tally,
        extends,
        witnessed,
    })
}

/// A failed extension check, with the declared epoch breaks that explain
/// it: a checkpoint saved during an epoch that a restore ended cannot be
/// extended past the restore point.
fn explain_epoch(e: anyhow::Error, tally: &LogTally) -> anyhow::Error {
    match tally.epoch_breaks.last() {
        Some(b) => e.context(format!(
            "the log declares a new epoch {}: a checkpoint of the earlier epoch larger than {} is not part of this log",
            b.describe(),
            b.restored_size
        )),
        None => e,
    }
}

/// The log says which key signs it: the newest checkpoint must be signed by
/// the key of the log's newest `SignerKeyEntry` (logs written before key
/// entries existed have none, and are checked by signature alone).
pub(super) fn check_signing_key(
    newest: &FetchedCheckpoint,
    tally: &LogTally,
) -> anyhow::Result<()> {
    let signed_by = credshare_node::pki::fingerprint(&newest.signer_certificate);
    match &tally.last_signer_key {
        Some(in_force) if *in_force != signed_by => bail!(
            "the newest checkpoint is signed by key {signed_by}, but the log's newest signer key entry names {in_force}"
        ),
        _ => Ok(()),
    }
}

/// Downloads entries `[0, size)`: their leaf hashes, and a tally by kind.
async fn download(
    session: &mut AuditSession,
    size: u64,
    out: &Output,
) -> anyhow::Result<(Vec<Hash>, LogTally)> {
    let mut leaves = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut tally = LogTally::default();
    for_each_log_entry(session, size, out, |index, entry, leaf| {
        tally.count(index, &entry);
        leaves.push(leaf);
    })
    .await?;
    Ok((leaves, tally))
}

/// Streams entries `[0, size)` under a progress bar, refuses one that is
/// not a `LogEntry`, and hands each with its leaf hash to `take`.
pub(super) async fn for_each_log_entry(
    session: &mut AuditSession,
    size: u64,
    out: &Output,
    mut take: impl FnMut(u64, pb::LogEntry, Hash),
) -> anyhow::Result<()> {
    let bar = out.progress(
        indicatif::ProgressBar::new(size),
        "{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}",
    );
    session
        .for_each_entry(0, size, |index, bytes| {
            let entry = pb::LogEntry::decode(bytes.as_slice()).with_context(|| {
                format!("query log entry {index} fails verification: it is not a LogEntry")
            })?;
            take(index, entry, leaf_hash(&bytes));
            bar.inc(1);
            Ok(())
        })
        .await?;
    bar.finish_and_clear();
    Ok(())
}

fn verified_json(v: &Verified) -> serde_json::Value {
    let mut value = checkpoint_json(&v.newest);
    if let Some(map) = value.as_object_mut() {
        map.insert("verified".into(), json!(true));
        map.insert("entries".into(), json!(v.tally));
        map.insert(
            "extends".into(),
            match &v.extends {
                Some(saved) => json!({
                    "size": saved.size,
                    "root": base64_root(&saved.root),
                    "time": checkpoint_time(saved.timestamp_ms),
                }),
                None => serde_json::Value::Null,
            },
        );
        if let Some((k, w)) = &v.witnessed {
            let by: Vec<String> = w.witnesses.iter().map(ToString::to_string).collect();
            map.insert(
                "witnesses".into(),
                json!({"quorum": k, "cosigned_size": w.size, "by": by}),
            );
        }
    }
    value
}

fn render_verified(v: &Verified) -> String {
    let cp = &v.newest.signed.checkpoint;
    let t = &v.tally;
    let mut pairs = vec![
        ("log", cp.origin.clone()),
        ("signer", v.newest.signed.signer.to_string()),
        (
            "checkpoint",
            format!(
                "size {} at {}, signature verified from the CA",
                cp.size,
                checkpoint_time(cp.timestamp_ms)
            ),
        ),
        (
            "root",
            format!("{} (recomputed from all entries)", base64_root(&cp.root)),
        ),
    ];
    if let Some(saved) = &v.extends {
        pairs.push((
            "extends",
            format!(
                "saved checkpoint of size {} at {} (consistency proof verified)",
                saved.size,
                checkpoint_time(saved.timestamp_ms)
            ),
        ));
    }
    if let Some((k, w)) = &v.witnessed {
        pairs.push(("witnesses", w.describe(*k)));
    }
    pairs.extend(tally_pairs(t));
    let breaks: Vec<String> = t.epoch_breaks.iter().map(EpochBreak::describe).collect();
    for b in &breaks {
        pairs.push(("EPOCH BREAK", b.clone()));
    }
    let mut out = fields(&pairs);
    out.push_str("OK: the query log verifies\n");
    out
}

/// What the log holds, counted by kind, as `fields` pairs.
fn tally_pairs(t: &LogTally) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        (
            "peer queries",
            format!(
                "{} answered, {} denied",
                t.peer_queries_answered, t.peer_queries_denied
            ),
        ),
        ("outgoing", t.outgoing_queries.to_string()),
        ("consent", t.consent_events.to_string()),
        ("record batches", t.record_batches.to_string()),
        ("admin changes", t.admin_mutations.to_string()),
        ("oversight flags", t.oversight_flags.to_string()),
        ("annotations", t.annotations.to_string()),
        ("retention sweeps", t.retention_sweeps.to_string()),
        ("borrower reports", t.borrower_reports.to_string()),
    ];
    if t.discovery > 0 {
        pairs.push(("discovery", t.discovery.to_string()));
    }
    if t.other > 0 {
        pairs.push(("other", t.other.to_string()));
    }
    pairs
}
