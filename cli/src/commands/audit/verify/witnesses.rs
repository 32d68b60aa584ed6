//! `credshare audit verify --witness-quorum K`: the node's newest cosigned
//! checkpoint (`AuditService.GetCosignedCheckpoint`) must verify with the
//! log's key, carry cosignatures of at least K witnesses other than the
//! node (each certificate chained to the CA, unrevoked), and be a
//! checkpoint of the very log just downloaded (its root recomputed from
//! the entries).

use std::time::SystemTime;

use anyhow::{anyhow, bail};
use credshare_node::audit::witnessed::{Witnessed, verify_cosigned_checkpoint};
use credshare_node::audit::{Hash, root_of_leaves};

use super::super::session::{AuditSession, FetchedCheckpoint};

impl AuditSession {
    /// Checks the cosigned checkpoint against the downloaded `leaves` and
    /// the quorum `k`.
    pub(crate) async fn check_witnesses(
        &mut self,
        newest: &FetchedCheckpoint,
        leaves: &[Hash],
        k: u32,
    ) -> anyhow::Result<Witnessed> {
        let cosigned = self.cosigned_checkpoint().await?;
        let Some(note) = cosigned.checkpoint.map(|c| c.signed_note) else {
            bail!("short of witness quorum: the node holds no cosigned checkpoint (0 of {k})");
        };
        let holder = &newest.signed.signer;
        let (checkpoint, witnessed) = verify_cosigned_checkpoint(
            &note,
            &cosigned.signer_certificate,
            &cosigned.witness_certificates,
            self.verifier(),
            holder,
            &|_| true,
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("the cosigned checkpoint fails verification: {e}"))?;
        let size = usize::try_from(checkpoint.size).unwrap_or(usize::MAX);
        if checkpoint.origin != newest.signed.checkpoint.origin
            || size > leaves.len()
            || root_of_leaves(&leaves[..size]) != checkpoint.root
        {
            bail!(
                "the cosigned checkpoint of size {} is not a checkpoint of the log downloaded: the witnesses saw another history",
                checkpoint.size
            );
        }
        if (witnessed.witnesses.len() as u64) < u64::from(k) {
            bail!("{}", witnessed.describe(k));
        }
        Ok(witnessed)
    }
}
