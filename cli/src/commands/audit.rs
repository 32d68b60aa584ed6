//! `credshare audit …`: the regulator's commands. They talk to a node's
//! `AuditService` (served on its peer listener for regulators, and on its
//! admin listener for its own admins) and verify everything the node says
//! with nothing but the consortium CA certificate (and CRL).
//!
//! * `checkpoint` — the node's signed checkpoint, signature verified.
//! * `verify` — downloads the whole log, recomputes the root, checks it
//!   against the signed checkpoint and, given an earlier checkpoint, that
//!   the log only grew since ([`verify`]).
//! * `entries` — decoded entries; hashed borrower keys as short hex only
//!   ([`entries`]).

mod entries;
mod verify;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use credshare_node::audit::{self, MAX_ENTRIES_PER_CALL, SignedCheckpoint};
use credshare_node::pki::{self, InstitutionId};
use credshare_node::signing::SignatureVerifier;
use credshare_proto::v1 as pb;
use pb::audit_service_client::AuditServiceClient;
use serde_json::json;
use tonic::transport::Channel;

use crate::client::ConnectionArgs;
use crate::output::{fields, print_json};

pub use entries::EntriesArgs;
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
}

/// Runs one `credshare audit` command.
pub async fn run(command: &AuditCommand, json: bool) -> anyhow::Result<()> {
    match command {
        AuditCommand::Checkpoint(args) => checkpoint(args, json).await,
        AuditCommand::Verify(args) => verify::verify(args, json).await,
        AuditCommand::Entries(args) => entries::entries(args, json).await,
    }
}

/// Which node's log, as whom.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditTarget {
    /// The node to audit, host:port: its peer listener (regulators) or its
    /// admin listener (its own admins). Defaults to --addr.
    #[arg(long)]
    pub node: Option<String>,
    /// Require the log to be this institution's: its checkpoints must be
    /// signed by this institution's signer certificate.
    #[arg(long)]
    pub institution: Option<String>,
    /// With --certs DIR, regulator.crt/.key are used when present, else
    /// admin.crt/.key.
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// Options of `credshare audit checkpoint`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckpointArgs {
    /// Tree size of the checkpoint; the latest when omitted.
    #[arg(long, default_value_t = 0)]
    pub size: u64,
    #[command(flatten)]
    pub target: AuditTarget,
}

/// A connected audit client with the verifier of the consortium CA.
pub(crate) struct AuditSession {
    client: AuditServiceClient<Channel>,
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
        let resolved = regulator_defaults(&self.conn).resolve()?;
        let node = match (&self.node, &resolved.addr) {
            (Some(node), _) | (None, Some(node)) => node.clone(),
            (None, None) => bail!(
                "no node address: pass --node HOST:PORT (the node's peer listener), or --addr"
            ),
        };
        let holder = self
            .institution
            .as_deref()
            .map(InstitutionId::parse)
            .transpose()?;
        let verifier = load_verifier(&resolved.ca, &resolved.crl)?;
        let channel = resolved.channel(&node).await?;
        let client = AuditServiceClient::new(channel).max_decoding_message_size(16 * 1024 * 1024);
        Ok(AuditSession {
            client,
            verifier,
            holder,
            node,
        })
    }
}

/// With `--certs DIR` and no explicit certificate, a regulator's directory
/// holds regulator.crt/.key rather than admin.crt/.key.
fn regulator_defaults(conn: &ConnectionArgs) -> ConnectionArgs {
    let mut conn = conn.clone();
    if let Some(dir) = conn.certs.clone()
        && conn.cert.is_none()
        && conn.key.is_none()
        && dir.join("regulator.crt").is_file()
    {
        conn.cert = Some(dir.join("regulator.crt"));
        conn.key = Some(dir.join("regulator.key"));
    }
    conn
}

fn load_verifier(ca: &std::path::Path, crls: &[PathBuf]) -> anyhow::Result<SignatureVerifier> {
    let anchors = pki::load_certs(ca)?;
    let mut lists = Vec::new();
    for path in crls {
        lists.extend(pki::load_crls(path)?);
    }
    Ok(SignatureVerifier::new(anchors, lists)?)
}

impl AuditSession {
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

/// `credshare audit checkpoint`.
async fn checkpoint(args: &CheckpointArgs, json: bool) -> anyhow::Result<()> {
    let mut session = args.target.connect().await?;
    let fetched = session.checkpoint(args.size).await?;
    if json {
        print_json(&checkpoint_json(&fetched));
    } else {
        print!("{}", render_checkpoint(&fetched.signed));
    }
    Ok(())
}

pub(crate) fn checkpoint_json(fetched: &FetchedCheckpoint) -> serde_json::Value {
    let cp = &fetched.signed.checkpoint;
    json!({
        "origin": cp.origin,
        "size": cp.size,
        "root": base64_root(&cp.root),
        "timestamp_ms": cp.timestamp_ms,
        "time": format_time_ms(cp.timestamp_ms),
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
        ("time", format_time_ms(cp.timestamp_ms)),
        ("signer", signed.signer.to_string()),
        ("signer key id", signed.signer_key_id.clone()),
        (
            "signature",
            "verified (signer certificate chains to the consortium CA)".into(),
        ),
    ])
}

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

/// Reads a saved checkpoint note.
pub(crate) fn read_note(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading checkpoint {}", path.display()))
}
