//! `credshare consent issue`: a borrower's written authorization recorded as
//! a consent grant the node signs; only the document's SHA-256 leaves this
//! machine, and the borrower id is hashed locally.

use std::path::PathBuf;

use anyhow::Context;
use base64::Engine;
use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use super::{PurposeArg, ScopeArg, end_of_day_ms};
use crate::commands::borrower_keys::BorrowerArgs;
use crate::output::{ExitKind, Output};

/// Options of `credshare consent issue`.
#[derive(Debug, Clone, clap::Args)]
pub struct IssueArgs {
    /// Purposes the borrower agreed to; repeat for several.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<PurposeArg>,
    #[arg(long, value_enum)]
    pub scope: ScopeArg,
    /// Last day of validity (inclusive, in the business time zone),
    /// YYYY-MM-DD.
    #[arg(
        long,
        required_unless_present = "valid_days",
        conflicts_with = "valid_days"
    )]
    pub until: Option<String>,
    /// Valid for this many days from today (today counts as the first).
    #[arg(long)]
    pub valid_days: Option<u16>,
    /// The signed authorization document; only its SHA-256 leaves this machine.
    #[arg(long)]
    pub evidence: PathBuf,
    /// Write the signed grant here as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The borrower (`--id`) and the connection options.
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

/// Largest evidence document hashed: a scanned authorization is a few MB;
/// past this it is not one (`/dev/zero` would never end).
const MAX_EVIDENCE_BYTES: u64 = 512 * 1024 * 1024;

/// SHA-256 of the file at `path`, read as a stream in 64 KiB blocks (constant
/// memory); refused past `max` bytes, naming the file and the limit.
fn hash_evidence(path: &std::path::Path, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = file.take(max + 1);
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut block = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut block)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max {
            anyhow::bail!(
                "{}: evidence larger than {max} bytes; not an authorization document",
                path.display()
            );
        }
        digest.update(&block[..n]);
    }
    Ok(digest.finish().as_ref().to_vec())
}

impl IssueArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let not_after_ms = self.not_after_ms()?;
        let (mut client, key) = self.borrower.connect().await?;
        let evidence_sha256 = hash_evidence(&self.evidence, MAX_EVIDENCE_BYTES)?;
        let response = client
            .issue_consent(pb::IssueConsentRequest {
                borrower_key: key.as_bytes().to_vec(),
                purposes: self.purposes.iter().map(|p| p.proto() as i32).collect(),
                scope: self.scope.proto() as i32,
                not_before_ms: 0,
                not_after_ms,
                authorization_sha256: evidence_sha256,
                key_generation: self.borrower.wire_generation()?,
            })
            .await?
            .into_inner();
        let envelope = response.grant.unwrap_or_default();
        let doc = grant_json(&response.consent_id, &envelope);
        if let Some(path) = &self.out {
            std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
        }
        out.print(&doc, || {
            format!(
                "consent {} issued for borrower {} (until {}, {:?}){}\n",
                response.consent_id,
                key.short(),
                crate::dates::time(not_after_ms),
                self.scope,
                self.out
                    .as_ref()
                    .map(|o| format!("; signed grant in {}", o.display()))
                    .unwrap_or_default()
            )
        });
        Ok(())
    }
}

impl IssueArgs {
    /// The end of validity: the end of `--until`, or of the last of
    /// `--valid-days` days, in the business time zone.
    fn not_after_ms(&self) -> anyhow::Result<i64> {
        if let Some(until) = &self.until {
            return end_of_day_ms(until);
        }
        let days = self.valid_days.unwrap_or(1);
        if days == 0 {
            return Err(ExitKind::Usage("--valid-days must be at least 1".into()).into());
        }
        let zone = crate::dates::zone();
        let last = zone
            .today()
            .checked_add(jiff::Span::new().days(i64::from(days) - 1))
            .map_err(|e| anyhow::anyhow!("--valid-days {days}: {e}"))?;
        zone.end_of_day_ms(last)
            .map_err(|e| anyhow::anyhow!("--valid-days {days}: {e}"))
    }
}

/// The signed grant as JSON, self-contained: its decoded fields, the
/// envelope in DSSE's own JSON form (`payloadType`, base64 `payload`,
/// `signatures[{keyid, sig}]`), and the signer certificate (base64 DER, as
/// a Sigstore bundle carries it) that goes into each signature's
/// `certificate` field when the grant is sent in a `QueryBorrowerRequest`.
fn grant_json(consent_id: &str, env: &pb::SignedEnvelope) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let grant = pb::ConsentGrant::decode(env.payload.as_slice()).unwrap_or_default();
    json!({
        "consent_id": consent_id,
        "grant": {
            "borrower_key": hex::encode(&grant.borrower_key),
            "grantee_institution": grant.grantee_institution,
            "purposes": grant.purposes.iter().map(|p| purpose_label(*p)).collect::<Vec<_>>(),
            "scope": code_label::<pb::Scope>(grant.scope),
            "not_before_ms": grant.not_before_ms,
            "not_after_ms": grant.not_after_ms,
            "authorization_sha256": hex::encode(&grant.authorization_sha256),
        },
        "envelope": {
            "payloadType": env.payload_type,
            "payload": b64.encode(&env.payload),
            "signatures": env.signatures.iter().map(|s| json!({"keyid": s.keyid, "sig": b64.encode(&s.sig)})).collect::<Vec<_>>(),
        },
        "verification_material": {
            "certificate": env.signatures.first().map(|s| b64.encode(&s.certificate)),
        },
    })
}

#[cfg(test)]
mod evidence_tests {
    use super::*;

    #[test]
    fn evidence_is_hashed_as_a_stream_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.pdf");
        std::fs::write(&path, vec![7u8; 200_000]).unwrap();
        let want = ring::digest::digest(&ring::digest::SHA256, &[7u8; 200_000]);
        assert_eq!(hash_evidence(&path, 200_000).unwrap(), want.as_ref());
        let err = hash_evidence(&path, 199_999).unwrap_err().to_string();
        assert!(err.contains("larger than 199999"), "{err}");
        let err = hash_evidence(std::path::Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("/dev/zero"), "{err}");
    }
}
