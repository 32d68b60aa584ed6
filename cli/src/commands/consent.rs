//! `credshare consent issue | revoke | list`: consents this institution holds
//! from its borrowers, signed by the node as the grantee's attestation.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use base64::Engine;
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use crate::client::ConnectionArgs;
use crate::commands::records::borrower_key;
use crate::output::{Table, print_json};

/// Purposes a consent may name (Regulation art. 18–20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PurposeArg {
    PostLoanManagement,
    CreditApproval,
    GuaranteeReview,
}

impl PurposeArg {
    pub fn proto(self) -> pb::Purpose {
        match self {
            PurposeArg::PostLoanManagement => pb::Purpose::PostLoanManagement,
            PurposeArg::CreditApproval => pb::Purpose::CreditApproval,
            PurposeArg::GuaranteeReview => pb::Purpose::GuaranteeReview,
        }
    }
}

/// How much a holder discloses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Derived indicators only.
    Summary,
    /// Signed records.
    Detail,
}

impl ScopeArg {
    pub fn proto(self) -> pb::Scope {
        match self {
            ScopeArg::Summary => pb::Scope::Summary,
            ScopeArg::Detail => pb::Scope::Detail,
        }
    }
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConsentCommand {
    /// Record a borrower's written authorization as a signed consent grant.
    Issue {
        /// Borrower id (hashed locally), e.g. USCC:91350100M000100Y43.
        #[arg(long)]
        id: String,
        /// Purposes the borrower agreed to; repeat for several.
        #[arg(long = "purpose", value_enum, required = true)]
        purposes: Vec<PurposeArg>,
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Last day of validity (UTC, inclusive), YYYY-MM-DD.
        #[arg(long)]
        until: String,
        /// The signed authorization document; only its SHA-256 leaves this machine.
        #[arg(long)]
        evidence: PathBuf,
        /// Write the signed grant here as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Revoke a consent and push the revocation to every peer.
    Revoke {
        #[arg(long)]
        consent_id: String,
        #[arg(long, default_value = "withdrawn by the borrower")]
        reason: String,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Consents this institution issued.
    List {
        /// Only this borrower's.
        #[arg(long)]
        id: Option<String>,
        /// Include expired, not-yet-valid and revoked consents.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
}

/// Milliseconds of the end of `date` (UTC).
pub fn end_of_day_ms(date: &str) -> anyhow::Result<i64> {
    let d = credshare_node::domain::dates::parse_date("until", date)
        .map_err(|e| anyhow!("--until: {}", e.reason))?;
    let next = d
        .next_day()
        .ok_or_else(|| anyhow!("--until: out of range"))?;
    Ok(next.midnight().assume_utc().unix_timestamp() * 1000 - 1)
}

pub async fn run(command: ConsentCommand, json: bool) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Issue {
            id,
            purposes,
            scope,
            until,
            evidence,
            out,
            conn,
        } => {
            let (resolved, mut client) = conn.admin().await?;
            let key = borrower_key(&id, &resolved)?;
            let document = std::fs::read(&evidence)
                .with_context(|| format!("reading {}", evidence.display()))?;
            let response = client
                .issue_consent(pb::IssueConsentRequest {
                    borrower_key: key.as_bytes().to_vec(),
                    purposes: purposes.iter().map(|p| p.proto() as i32).collect(),
                    scope: scope.proto() as i32,
                    not_before_ms: 0,
                    not_after_ms: end_of_day_ms(&until)?,
                    authorization_sha256: ring::digest::digest(&ring::digest::SHA256, &document)
                        .as_ref()
                        .to_vec(),
                })
                .await?
                .into_inner();
            let envelope = response.grant.unwrap_or_default();
            let doc = grant_json(&response.consent_id, &envelope);
            if let Some(out) = &out {
                std::fs::write(out, serde_json::to_vec_pretty(&doc)?)?;
            }
            if json {
                print_json(&doc);
            } else {
                println!(
                    "consent {} issued for borrower {} (until {until}, {:?}){}",
                    response.consent_id,
                    key.short(),
                    scope,
                    out.map(|o| format!("; signed grant in {}", o.display()))
                        .unwrap_or_default()
                );
            }
        }
        ConsentCommand::Revoke {
            consent_id,
            reason,
            conn,
        } => {
            let (_, mut client) = conn.admin().await?;
            let r = client
                .revoke_consent(pb::RevokeConsentRequest {
                    consent_id: consent_id.clone(),
                    reason,
                })
                .await?
                .into_inner();
            if json {
                print_json(
                    &json!({"consent_id": consent_id, "delivered_to": r.delivered_to, "pending": r.pending}),
                );
            } else {
                println!(
                    "consent {consent_id} revoked; delivered to: {}; pending (retried until acknowledged): {}",
                    none_if_empty(&r.delivered_to),
                    none_if_empty(&r.pending)
                );
            }
        }
        ConsentCommand::List { id, all, conn } => {
            let (resolved, mut client) = conn.admin().await?;
            let borrower = id.map(|i| borrower_key(&i, &resolved)).transpose()?;
            let r = client
                .list_consents(pb::ListConsentsRequest {
                    borrower_key: borrower.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
                    include_inactive: all,
                })
                .await?
                .into_inner();
            render_list(&r.consents, json);
        }
    }
    Ok(())
}

fn none_if_empty(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn grant_json(consent_id: &str, env: &pb::SignedEnvelope) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let grant = pb::ConsentGrant::decode(env.payload.as_slice()).unwrap_or_default();
    json!({
        "consent_id": consent_id,
        "grant": {
            "borrower_key": hex::encode(&grant.borrower_key),
            "grantee_institution": grant.grantee_institution,
            "purposes": grant.purposes.iter().map(|p| code_label::<pb::Purpose>(*p)).collect::<Vec<_>>(),
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
    })
}

fn render_list(consents: &[pb::ConsentSummary], json: bool) {
    let rows: Vec<(String, pb::ConsentGrant, String, Vec<String>)> = consents
        .iter()
        .map(|c| {
            let grant = c
                .grant
                .as_ref()
                .and_then(|g| pb::ConsentGrant::decode(g.payload.as_slice()).ok())
                .unwrap_or_default();
            (
                c.consent_id.clone(),
                grant,
                code_label::<pb::ConsentState>(c.state).into_owned(),
                c.revocation_pending.clone(),
            )
        })
        .collect();
    if json {
        print_json(&json!(rows.iter().map(|(id, g, state, pending)| json!({
            "consent_id": id, "state": state, "borrower_key": hex::encode(&g.borrower_key),
            "purposes": g.purposes.iter().map(|p| code_label::<pb::Purpose>(*p)).collect::<Vec<_>>(),
            "scope": code_label::<pb::Scope>(g.scope), "not_after_ms": g.not_after_ms, "revocation_pending": pending,
        })).collect::<Vec<_>>()));
        return;
    }
    let mut t = Table::new(&[
        "CONSENT",
        "STATE",
        "BORROWER",
        "PURPOSES",
        "SCOPE",
        "UNTIL (UTC ms)",
        "REVOCATION PENDING",
    ]);
    for (id, g, state, pending) in rows {
        t.row(vec![
            id,
            state,
            hex::encode(&g.borrower_key).chars().take(8).collect(),
            g.purposes
                .iter()
                .map(|p| code_label::<pb::Purpose>(*p).into_owned())
                .collect::<Vec<_>>()
                .join(","),
            code_label::<pb::Scope>(g.scope).into(),
            g.not_after_ms.to_string(),
            pending.join(","),
        ]);
    }
    print!("{}", t.render());
}
