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
//! Leaf hashes are kept in memory (32 bytes per entry) for the bisection.

use std::path::PathBuf;

use anyhow::{Context, bail};
use credshare_node::audit::{
    Checkpoint, Hash, leaf_hash, node_hash, root_of_leaves, verify_checkpoint_consistency,
};
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;
use prost::Message;
use serde_json::json;

use super::checkpoint::checkpoint_json;
use super::session::{AuditSession, AuditTarget, FetchedCheckpoint};
use super::{base64_root, checkpoint_time, read_note};
use crate::output::{Output, fields};

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
    #[command(flatten)]
    pub target: AuditTarget,
}

/// Entries by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LogTally {
    pub peer_queries_answered: u64,
    pub peer_queries_denied: u64,
    pub outgoing_queries: u64,
    pub consent_events: u64,
    pub record_batches: u64,
    pub admin_mutations: u64,
    pub signer_keys: u64,
    pub oversight_flags: u64,
    pub annotations: u64,
    pub retention_sweeps: u64,
    pub borrower_reports: u64,
    /// Aggregated entries of rate-limited calls (one per peer per minute).
    pub rate_limited_windows: u64,
    pub other: u64,
    /// The key id of the newest `SignerKeyEntry`: the key in force.
    #[serde(skip)]
    pub last_signer_key: Option<String>,
    /// Declared epoch breaks (restores from a backup), in log order.
    pub epoch_breaks: Vec<EpochBreak>,
}

/// A `LogEpochEntry`: where a new epoch starts and what it says was lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct EpochBreak {
    pub index: u64,
    pub epoch: u32,
    pub restored_size: u64,
    pub statement: String,
}

impl EpochBreak {
    fn describe(&self) -> String {
        format!(
            "at entry {}: epoch {} begins (declared, signed): {}",
            self.index, self.epoch, self.statement
        )
    }
}

impl LogTally {
    pub(crate) fn count(&mut self, index: u64, entry: &pb::LogEntry) {
        let counter = match &entry.kind {
            Some(Kind::PeerQuery(q)) if q.decision == pb::Decision::Denied as i32 => {
                &mut self.peer_queries_denied
            }
            Some(Kind::PeerQuery(_)) => &mut self.peer_queries_answered,
            Some(Kind::OutgoingQuery(_)) => &mut self.outgoing_queries,
            Some(Kind::Consent(_)) => &mut self.consent_events,
            Some(Kind::RecordBatch(_)) => &mut self.record_batches,
            Some(Kind::Admin(_)) => &mut self.admin_mutations,
            Some(Kind::OversightFlag(_)) => &mut self.oversight_flags,
            Some(Kind::Annotation(_)) => &mut self.annotations,
            Some(Kind::RetentionSweep(_)) => &mut self.retention_sweeps,
            Some(Kind::BorrowerReport(_)) => &mut self.borrower_reports,
            Some(Kind::RateLimited(_)) => &mut self.rate_limited_windows,
            Some(Kind::SignerKey(k)) => {
                self.last_signer_key = Some(k.key_id.clone());
                &mut self.signer_keys
            }
            Some(Kind::Epoch(e)) => {
                self.epoch_breaks.push(EpochBreak {
                    index,
                    epoch: e.epoch,
                    restored_size: e.restored_size,
                    statement: e.statement.clone(),
                });
                return;
            }
            None => &mut self.other,
        };
        *counter += 1;
    }
}

/// What a successful run established.
struct Verified {
    newest: FetchedCheckpoint,
    tally: LogTally,
    extends: Option<Checkpoint>,
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
    Ok(Verified {
        newest,
        tally,
        extends,
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
fn check_signing_key(newest: &FetchedCheckpoint, tally: &LogTally) -> anyhow::Result<()> {
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
    let bar = progress_bar(size, out);
    let mut leaves = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut tally = LogTally::default();
    session
        .for_each_entry(0, size, |index, bytes| {
            let entry = pb::LogEntry::decode(bytes.as_slice()).with_context(|| {
                format!("query log entry {index} fails verification: it is not a LogEntry")
            })?;
            tally.count(index, &entry);
            leaves.push(leaf_hash(&bytes));
            bar.inc(1);
            Ok(())
        })
        .await?;
    bar.finish_and_clear();
    Ok((leaves, tally))
}

fn progress_bar(size: u64, out: &Output) -> indicatif::ProgressBar {
    if out.is_json() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Checks that the log, whose entries are `leaves` under the verified
/// `newest` checkpoint, extends the checkpoint saved at `path`.
async fn check_extends(
    session: &mut AuditSession,
    path: &std::path::Path,
    newest: &Checkpoint,
    leaves: &[Hash],
) -> anyhow::Result<Checkpoint> {
    let note = read_note(path)?;
    let saved = Checkpoint::parse_unverified(&note)
        .with_context(|| format!("{} is not a checkpoint note", path.display()))?;
    check_same_log_not_shorter(&saved, newest)?;
    // The node's checkpoint at the saved size carries the signer
    // certificate of its time: the saved note must verify with it.
    let at_saved_size = session.checkpoint(saved.size).await.with_context(|| {
        format!(
            "the node no longer serves its checkpoint of size {} (saved one is from {})",
            saved.size,
            checkpoint_time(saved.timestamp_ms)
        )
    })?;
    let saved = session
        .verify_note(
            &note,
            &at_saved_size.signer_certificate,
            Some(&newest.origin),
        )
        .context("the saved checkpoint's signature does not verify")?
        .checkpoint;
    if at_saved_size.signed.checkpoint.root != saved.root {
        bail!(
            "history was rewritten: the node signed two different logs of size {} (saved root {}, now {})",
            saved.size,
            base64_root(&saved.root),
            base64_root(&at_saved_size.signed.checkpoint.root)
        );
    }
    let proof = session.consistency_proof(saved.size, newest.size).await?;
    verify_checkpoint_consistency(&saved, newest, &proof).map_err(|e| {
        // Downloaded leaves pin down which check failed beyond the proof.
        let prefix = usize::try_from(saved.size).unwrap_or(usize::MAX);
        let still = leaves.get(..prefix).map(root_of_leaves) == Some(saved.root);
        anyhow::anyhow!(
            "the newest checkpoint does not extend the saved one: {e}; the first {} entries {} hash to the saved root",
            saved.size,
            if still { "still" } else { "no longer" }
        )
    })?;
    Ok(saved)
}

/// The saved checkpoint is of the same log and no longer than the newest.
fn check_same_log_not_shorter(saved: &Checkpoint, newest: &Checkpoint) -> anyhow::Result<()> {
    if saved.origin != newest.origin {
        bail!(
            "the saved checkpoint is of log {:?}, but the node serves log {:?}",
            saved.origin,
            newest.origin
        );
    }
    if saved.size > newest.size {
        bail!(
            "history was dropped: the saved checkpoint has {} entries, the node's newest only {}",
            saved.size,
            newest.size
        );
    }
    Ok(())
}

/// Inclusion proofs in one signed tree, for [`locate_mismatch`].
pub(crate) trait InclusionProofs {
    /// The proof of `leaf` in the tree (sibling hashes from the leaf up).
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>>;
}

/// The node's tree of `size` leaves, through its `AuditService`.
struct SignedTree<'a> {
    session: &'a mut AuditSession,
    size: u64,
}

impl InclusionProofs for SignedTree<'_> {
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>> {
        self.session.inclusion_proof(leaf, self.size).await
    }
}

/// Finds the first leaf whose hash differs from the tree signed with root
/// `root`, given `leaves` that do not hash to it. Walks down the RFC 9162
/// tree: at each node it asks for inclusion proofs of the first leaf of
/// each child, checks the two claimed child hashes combine into the hash
/// already established (so the node cannot mislead the search), and
/// descends into the left-most child that differs. 2 proofs per level;
/// O(n log n) hashing over the downloaded leaves.
pub(crate) async fn locate_mismatch(
    leaves: &[Hash],
    root: Hash,
    tree: &mut impl InclusionProofs,
) -> anyhow::Result<u64> {
    let (mut start, mut end) = (0usize, leaves.len());
    let mut expected = root;
    let mut depth = 0usize;
    while end - start > 1 {
        let mid = start + split_point(end - start);
        let right = sibling_at(&tree.proof_of(start as u64).await?, depth, start)?;
        let left = sibling_at(&tree.proof_of(mid as u64).await?, depth, mid)?;
        if node_hash(&left, &right) != expected {
            bail!(
                "the node's inclusion proofs contradict its signed root for entries [{start}, {end})"
            );
        }
        if root_of_leaves(&leaves[start..mid]) != left {
            (end, expected) = (mid, left);
        } else {
            (start, expected) = (mid, right);
        }
        depth += 1;
    }
    if leaves.get(start) == Some(&expected) {
        bail!("the downloaded entries do not hash to the signed root, but no entry differs");
    }
    Ok(start as u64)
}

/// The proof hash at `depth` levels below the root (proofs list siblings
/// from the leaf up).
fn sibling_at(proof: &[Hash], depth: usize, leaf: usize) -> anyhow::Result<Hash> {
    proof
        .len()
        .checked_sub(depth + 1)
        .and_then(|i| proof.get(i))
        .copied()
        .with_context(|| format!("the inclusion proof of entry {leaf} is too short"))
}

/// RFC 9162's k: the largest power of two smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
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
    pairs.extend([
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
    ]);
    if t.other > 0 {
        pairs.push(("other", t.other.to_string()));
    }
    let breaks: Vec<String> = t.epoch_breaks.iter().map(EpochBreak::describe).collect();
    for b in &breaks {
        pairs.push(("EPOCH BREAK", b.clone()));
    }
    let mut out = fields(&pairs);
    out.push_str("OK: the query log verifies\n");
    out
}
