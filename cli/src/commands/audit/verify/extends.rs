//! `--from-checkpoint`: the log only grew since a saved checkpoint. The
//! node's checkpoint at the saved size must be the same tree, signed by the
//! certificate of its time, and a consistency proof must link it to the
//! newest one.

use anyhow::{Context, bail};
use credshare_node::audit::{Checkpoint, Hash, root_of_leaves, verify_checkpoint_consistency};

use crate::commands::audit::session::AuditSession;
use crate::commands::audit::{base64_root, checkpoint_time, read_note};

/// Checks that the log, whose entries are `leaves` under the verified
/// `newest` checkpoint, extends the checkpoint saved at `path`.
pub(super) async fn check_extends(
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
