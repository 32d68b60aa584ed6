//! A connected, verifying audit session: the node's `AuditService` over
//! mTLS plus the consortium CA (and CRLs) to check everything it says —
//! signed checkpoints, pages of entries, inclusion and consistency proofs.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{anyhow, bail};
use credshare_node::audit::{self, MAX_ENTRIES_PER_CALL, SignedCheckpoint};
use credshare_node::pki::{self, InstitutionId};
use credshare_node::signing::SignatureVerifier;
use credshare_proto::v1 as pb;

use crate::connection::{AuditClient, ConnectionArgs, Resolved};

/// Which node's log, as whom.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditTarget {
    /// Require the log to be this institution's: its checkpoints must be
    /// signed by this institution's signer certificate.
    #[arg(long)]
    pub institution: Option<String>,
    /// The node to audit (`--node`): its peer listener (regulators) or its
    /// admin listener (its own admins). With --certs DIR, regulator.crt/.key
    /// are used when present, else admin.crt/.key.
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// A connected audit client with the verifier of the consortium CA.
pub(crate) struct AuditSession {
    client: AuditClient,
    verifier: SignatureVerifier,
    holder: Option<InstitutionId>,
    node: String,
}

/// A signed checkpoint as served and as verified.
pub(crate) struct FetchedCheckpoint {
    pub note: String,
    /// The signer certificate (DER) the node sent with it.
    pub signer_certificate: Vec<u8>,
    pub signed: SignedCheckpoint,
}

impl AuditTarget {
    /// Connects over mTLS and loads the CA (and CRLs) to verify with.
    pub(crate) async fn connect(&self) -> anyhow::Result<AuditSession> {
        let resolved = self.conn.resolve_auditor()?;
        let node = resolved.node_addr()?.to_owned();
        let holder = self
            .institution
            .as_deref()
            .map(InstitutionId::parse)
            .transpose()?;
        let verifier = load_verifier(&resolved.ca, &resolved.crl)?;
        let client = resolved.audit_client(&node).await?;
        Ok(AuditSession {
            client,
            verifier,
            holder,
            node,
        })
    }
}

/// The verifier of the consortium CA (and CRLs) an audit checks with.
pub(crate) fn load_verifier(
    ca: &std::path::Path,
    crls: &[PathBuf],
) -> anyhow::Result<SignatureVerifier> {
    let anchors = pki::load_certs(ca)?;
    let mut lists = Vec::new();
    for path in crls {
        lists.extend(pki::load_crls(path)?);
    }
    Ok(SignatureVerifier::new(anchors, lists)?)
}

impl AuditSession {
    /// A session with the node at `node`, as the identity `resolved` names
    /// (one of several nodes a command audits).
    pub(crate) async fn open(resolved: &Resolved, node: &str) -> anyhow::Result<AuditSession> {
        let verifier = load_verifier(&resolved.ca, &resolved.crl)?;
        let client = resolved.audit_client(node).await?;
        Ok(AuditSession {
            client,
            verifier,
            holder: None,
            node: node.to_owned(),
        })
    }

    /// The consortium CA's verifier this session checks with.
    pub(crate) fn verifier(&self) -> &SignatureVerifier {
        &self.verifier
    }

    /// The address this session talks to.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// Verifies a signed note from the CA alone, with the certificate,
    /// holder and origin given (not this session's `--institution`).
    pub(crate) fn verify_note_of(
        &self,
        note: &str,
        signer_certificate: &[u8],
        holder: &InstitutionId,
        expected_origin: Option<&str>,
    ) -> Result<SignedCheckpoint, audit::receipt::ReceiptError> {
        audit::verify_signed_checkpoint(
            note,
            signer_certificate,
            &self.verifier,
            Some(holder),
            expected_origin,
            SystemTime::now(),
        )
    }

    /// Fetches the checkpoint at `size` (0 = latest) and verifies it from
    /// the CA: signer chain, signer institution (if `--institution`), note
    /// signature.
    pub(crate) async fn checkpoint(&mut self, size: u64) -> anyhow::Result<FetchedCheckpoint> {
        let response = self
            .client
            .get_checkpoint(pb::GetCheckpointRequest { tree_size: size })
            .await?
            .into_inner();
        let note = response.checkpoint.map(|c| c.signed_note).ok_or_else(|| {
            anyhow!(
                "{} sent a checkpoint response without a checkpoint",
                self.node
            )
        })?;
        let signed = self.verify_note(&note, &response.signer_certificate, None)?;
        if size != 0 && signed.checkpoint.size != size {
            bail!(
                "asked {} for the checkpoint of size {size}, got one of size {}",
                self.node,
                signed.checkpoint.size
            );
        }
        Ok(FetchedCheckpoint {
            note,
            signer_certificate: response.signer_certificate,
            signed,
        })
    }

    /// `GetCosignedCheckpoint`, unverified.
    pub(crate) async fn cosigned_checkpoint(&mut self) -> anyhow::Result<pb::CosignedCheckpoint> {
        Ok(self
            .client
            .get_cosigned_checkpoint(pb::GetCosignedCheckpointRequest {})
            .await?
            .into_inner())
    }

    /// Verifies a signed note with a signer certificate, from the CA alone.
    pub(crate) fn verify_note(
        &self,
        note: &str,
        signer_certificate: &[u8],
        expected_origin: Option<&str>,
    ) -> anyhow::Result<SignedCheckpoint> {
        audit::verify_signed_checkpoint(
            note,
            signer_certificate,
            &self.verifier,
            self.holder.as_ref(),
            expected_origin,
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("checkpoint from {} fails verification: {e}", self.node))
    }

    /// Streams entries `[start, end)` page by page (at most
    /// [`MAX_ENTRIES_PER_CALL`] per call), calling `each` in index order.
    /// Errors name the index where the stream went wrong.
    pub(crate) async fn for_each_entry(
        &mut self,
        start: u64,
        end: u64,
        mut each: impl FnMut(u64, Vec<u8>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut next = start;
        while next < end {
            let page_start = next;
            let page_end = end.min(next.saturating_add(MAX_ENTRIES_PER_CALL));
            let mut stream = self
                .client
                .get_entries(pb::GetEntriesRequest {
                    start: next,
                    end: page_end,
                })
                .await?
                .into_inner();
            while let Some(item) = stream.message().await? {
                if item.index != next || next >= page_end {
                    bail!(
                        "GetEntries sent entry {} where entry {next} was expected (entries out of order)",
                        item.index
                    );
                }
                each(item.index, item.entry)?;
                next += 1;
            }
            if next != page_end {
                bail!(
                    "GetEntries [{page_start}, {page_end}) stopped before entry {next}: entries are missing"
                );
            }
        }
        Ok(())
    }

    /// An inclusion proof of `leaf` in the tree of `tree_size` leaves.
    pub(crate) async fn inclusion_proof(
        &mut self,
        leaf: u64,
        tree_size: u64,
    ) -> anyhow::Result<Vec<audit::Hash>> {
        let proof = self
            .client
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf_index: leaf,
                tree_size,
            })
            .await?
            .into_inner();
        if (proof.leaf_index, proof.tree_size) != (leaf, tree_size) {
            bail!(
                "asked for the inclusion proof of leaf {leaf} in size {tree_size}, got leaf {} in size {}",
                proof.leaf_index,
                proof.tree_size
            );
        }
        Ok(audit::receipt::proof_hashes(&proof.hashes)?)
    }

    /// A consistency proof from `old_size` to `new_size`.
    pub(crate) async fn consistency_proof(
        &mut self,
        old_size: u64,
        new_size: u64,
    ) -> anyhow::Result<Vec<audit::Hash>> {
        let proof = self
            .client
            .get_consistency_proof(pb::GetConsistencyProofRequest { old_size, new_size })
            .await?
            .into_inner();
        if (proof.old_size, proof.new_size) != (old_size, new_size) {
            bail!(
                "asked for the consistency proof {old_size} → {new_size}, got {} → {}",
                proof.old_size,
                proof.new_size
            );
        }
        // A consistency proof has at most ~2 log2(n) hashes; bound by that.
        if proof.hashes.len() > 2 * audit::receipt::MAX_PROOF_HASHES {
            bail!("consistency proof has {} hashes", proof.hashes.len());
        }
        proof
            .hashes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                audit::Hash::try_from(h.as_slice())
                    .map_err(|_| anyhow!("consistency proof hash {i} is {} bytes", h.len()))
            })
            .collect()
    }
}
