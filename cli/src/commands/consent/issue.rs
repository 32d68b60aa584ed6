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
use crate::connection::BorrowerArgs;
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

impl IssueArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let not_after_ms = self.not_after_ms()?;
        let (mut client, key) = self.borrower.connect().await?;
        let document = std::fs::read(&self.evidence)
            .with_context(|| format!("reading {}", self.evidence.display()))?;
        let response = client
            .issue_consent(pb::IssueConsentRequest {
                borrower_key: key.as_bytes().to_vec(),
                purposes: self.purposes.iter().map(|p| p.proto() as i32).collect(),
                scope: self.scope.proto() as i32,
                not_before_ms: 0,
                not_after_ms,
                authorization_sha256: ring::digest::digest(&ring::digest::SHA256, &document)
                    .as_ref()
                    .to_vec(),
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
