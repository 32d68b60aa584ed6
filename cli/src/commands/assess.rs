//! `credshare assess`: one screen of what every institution knows about a
//! borrower, each answer verified (receipts, and signatures at DETAIL), with
//! warning signals. Exit code 3 when any institution did not answer. With
//! `--discovery`, only the borrower's holders are asked ([`discover`]).

pub mod discover;

use std::collections::BTreeMap;

use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::commands::consent::{PurposeArg, ScopeArg};
use credshare_node::domain::BorrowerKey;
use credshare_node::domain::purpose::Purpose;
use prost::Message;

use crate::commands::borrower_keys::BorrowerArgs;
use crate::connection::AdminClient;
use crate::output::{ExitKind, Output, Table, fields};
use crate::records_view::{money, render_institution, verified_json};

/// Options of `credshare assess`.
#[derive(Debug, Clone, clap::Args)]
pub struct AssessArgs {
    /// A consent this institution issued for the borrower; without it, the
    /// newest active consent that covers the reason and scope (named in the
    /// output). Post-loan management (01) carries no consent: this
    /// institution's own newest live credit record is sent instead.
    #[arg(long)]
    pub consent_id: Option<String>,
    /// Query reason: `post-loan`, `loan-approval`, `credit-card-approval`,
    /// `financing-approval`, … or the two-digit code (`24`).
    #[arg(long, default_value = "post-loan")]
    pub purpose: PurposeArg,
    #[arg(long, value_enum, default_value = "summary")]
    pub scope: ScopeArg,
    /// Per-peer deadline in ms (0 = the node's default).
    #[arg(long, default_value_t = 0)]
    pub deadline_ms: u32,
    /// The borrower (`--id`) and the connection options.
    #[command(flatten)]
    pub borrower: BorrowerArgs,
    /// Targeted assessment: the discovery service to find holders at.
    #[command(flatten)]
    pub discovery: discover::DiscoveryArgs,
}

impl AssessArgs {
    /// Exit code 3 when any peer did not answer.
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let (mut client, key) = self.borrower.connect().await?;
        let post_loan = self.purpose.proto() == pb::Purpose::PostLoanManagement;
        let consent_id = match &self.consent_id {
            Some(id) => id.clone(),
            None if post_loan => String::new(),
            None => self.newest_fitting_consent(&mut client, &key).await?,
        };
        let found = self.discover(&mut client, &key, &consent_id).await?;
        let a = client
            .assess(pb::AssessRequest {
                borrower_key: key.as_bytes().to_vec(),
                consent_id: consent_id.clone(),
                purpose: self.purpose.proto() as i32,
                scope: self.scope.proto() as i32,
                deadline_ms: self.deadline_ms,
                key_generation: self.borrower.wire_generation()?,
                discovery_receipt_id: found
                    .as_ref()
                    .map(|f| f.receipt_id.clone())
                    .unwrap_or_default(),
                discovery_holders: found
                    .as_ref()
                    .map(|f| f.holders.clone())
                    .unwrap_or_default(),
            })
            .await?
            .into_inner();
        let mut value = assessment_json(&a);
        value["consent_id"] = json!(consent_id);
        value["discovery_holders"] = json!(found.as_ref().map(|f| &f.holders));
        out.print(&value, || {
            let basis = if consent_id.is_empty() {
                "basis: our own live credit record (post-loan management, no consent)".to_owned()
            } else {
                format!("consent used: {consent_id}")
            };
            let mode = discover::describe(found.as_ref());
            format!("{basis}\n{mode}\n{}", render_assessment(&a))
        });
        if !a.complete {
            return Err(ExitKind::Partial(
                "assessment is incomplete: not every institution answered".into(),
            )
            .into());
        }
        Ok(())
    }
}

impl AssessArgs {
    /// With `--discovery`: the holders, found under the consent's hash
    /// before anything is sent. Post-loan management has no consent to
    /// bind the lookup to, so it is refused with `--discovery`.
    async fn discover(
        &self,
        client: &mut AdminClient,
        key: &BorrowerKey,
        consent_id: &str,
    ) -> anyhow::Result<Option<discover::Found>> {
        if self.discovery.discovery.is_none() {
            return Ok(None);
        }
        if consent_id.is_empty() {
            return Err(ExitKind::Usage(
                "--discovery binds its lookup to a consent; post-loan management (01) has none: assess it without --discovery".into(),
            )
            .into());
        }
        let purpose = Purpose::from_wire(self.purpose.proto() as i32)
            .ok_or_else(|| anyhow::anyhow!("--purpose names no query reason"))?;
        let consent_sha256 = discover::consent_sha256(client, key, consent_id).await?;
        self.discovery
            .find(
                &self.borrower.conn,
                &self.borrower.id,
                purpose,
                consent_sha256,
            )
            .await
    }

    /// The newest active consent for the borrower whose purposes include
    /// ours and whose scope covers ours (DETAIL covers SUMMARY).
    async fn newest_fitting_consent(
        &self,
        client: &mut AdminClient,
        key: &BorrowerKey,
    ) -> anyhow::Result<String> {
        let active = discover::active_consents(client, key).await?;
        let (purpose, scope) = (self.purpose.proto() as i32, self.scope.proto() as i32);
        active
            .iter()
            .filter_map(|c| {
                let env = c.grant.as_ref()?;
                let g = pb::ConsentGrant::decode(env.payload.as_slice()).ok()?;
                (g.purposes.contains(&purpose) && g.scope >= scope)
                    .then_some((g.issued_at_ms, c.consent_id.clone()))
            })
            .max()
            .map(|(_, id)| id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no active consent of this institution for the borrower covers purpose {} at scope {}: issue one with `credshare consent issue` or name one with --consent-id",
                    code_label::<pb::Purpose>(purpose),
                    code_label::<pb::Scope>(scope),
                )
            })
    }
}

fn peer_status(p: &pb::PeerOutcome) -> String {
    let status = code_label::<pb::PeerStatus>(p.status).into_owned();
    if p.status == pb::PeerStatus::Denied as i32 {
        format!(
            "{status} ({})",
            code_label::<pb::DenialReason>(p.denial_reason)
        )
    } else {
        status
    }
}

/// The human form of an assessment: figures and reasons, exposure per
/// currency, recent warning signals, and every institution's answer.
pub fn render_assessment(a: &pb::Assessment) -> String {
    let mut out = render_figures(a);
    out.push_str(&format!("\nexposure\n{}", render_exposures(a)));
    if !a.recent_signals.is_empty() {
        out.push_str(&format!(
            "\nwarning signals, last 180 days\n{}",
            render_signals(a)
        ));
    }
    out.push_str(&format!("\ninstitutions\n{}", render_peers(a)));
    for p in a.peers.iter().filter(|p| !p.records.is_empty()) {
        out.push('\n');
        out.push_str(&render_institution(&p.institution_id, &p.records));
    }
    out
}

/// Signals grouped per institution: each signal once, with how many
/// visits observed it and when first and last, the latest first.
fn render_signals(a: &pb::Assessment) -> String {
    // (institution, signal) -> (times, first date, last date)
    let mut seen: BTreeMap<(&str, i32), (u32, &str, &str)> = BTreeMap::new();
    for s in &a.recent_signals {
        let date = s.visit_date.as_str();
        let entry = seen
            .entry((s.institution_id.as_str(), s.signal))
            .or_insert((0, date, date));
        entry.0 += 1;
        entry.1 = entry.1.min(date);
        entry.2 = entry.2.max(date);
    }
    let mut rows: Vec<_> = seen.into_iter().collect();
    rows.sort_by(|((i1, _), (_, _, l1)), ((i2, _), (_, _, l2))| i1.cmp(i2).then(l2.cmp(l1)));
    let mut t = Table::new("INSTITUTION|SIGNAL|VISITS|LATEST|FIRST");
    let mut previous = "";
    for ((institution, signal), (times, first, last)) in rows {
        let name = if institution == previous {
            ""
        } else {
            institution
        };
        previous = institution;
        t.row(vec![
            name.to_string(),
            code_label::<pb::WarningSignal>(signal).into(),
            times.to_string(),
            last.to_string(),
            first.to_string(),
        ]);
    }
    t.render()
}

fn render_figures(a: &pb::Assessment) -> String {
    let level = code_label::<pb::AssessmentLevel>(a.level);
    let mut out = fields(&[
        ("assessed at", crate::dates::time(a.assessed_at_ms)),
        (
            "level",
            format!("{level}{}", if a.complete { "" } else { "  (INCOMPLETE)" }),
        ),
        ("lenders", lenders(a)),
        (
            "worst risk class",
            format!(
                "{} (reported by {})",
                code_label::<pb::RiskClass>(a.worst_risk_class),
                a.worst_risk_reported_by.join(", ")
            ),
        ),
        ("max overdue days", a.max_overdue_days.to_string()),
        (
            "debt > 90 days overdue",
            format!(
                "{:.2}% ({})",
                f64::from(a.over_90_days_share_bp) / 100.0,
                a.share_basis
            ),
        ),
    ]);
    out.push_str("reasons:\n");
    for r in &a.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    if !a.disputed.is_empty() {
        out.push_str(&format!(
            "disputed (left out of the figures; with them the level would be {}):\n",
            code_label::<pb::AssessmentLevel>(a.level_with_disputed)
        ));
        for d in &a.disputed {
            out.push_str(&format!(
                "  - {} record {} ({}, due {})\n",
                d.institution_id,
                d.record_id,
                code_label::<pb::DisputeStatus>(d.status),
                d.due_date
            ));
        }
    }
    if !a.missing.is_empty() {
        out.push_str("missing:\n");
        for m in &a.missing {
            out.push_str(&format!("  - {m}\n"));
        }
    }
    out
}

/// "2 (settled only: BANK-D)".
fn lenders(a: &pb::Assessment) -> String {
    if a.settled_only_lenders.is_empty() {
        a.lender_count.to_string()
    } else {
        format!(
            "{} (settled only: {})",
            a.lender_count,
            a.settled_only_lenders.join(", ")
        )
    }
}

fn render_exposures(a: &pb::Assessment) -> String {
    let mut t = Table::new("CURRENCY|CONTRACT|OUTSTANDING|> 90 DAYS");
    for e in &a.exposures {
        t.row(vec![
            e.currency.clone(),
            money(&e.currency, e.contract_amount),
            money(&e.currency, e.outstanding_balance),
            money(&e.currency, e.outstanding_over_90_days),
        ]);
    }
    t.render()
}

fn render_peers(a: &pb::Assessment) -> String {
    let mut t = Table::new("INSTITUTION|STATUS|LIVE|SETTLED|LAST VISIT|RECEIPT|LATENCY|DETAIL");
    for p in &a.peers {
        let ind = p.indicators.clone().unwrap_or_default();
        let receipt = p.receipt.as_ref().map(|r| {
            let size = r.proof.as_ref().map_or(0, |x| x.tree_size);
            format!("leaf {} of {size} ✓", r.leaf_index)
        });
        let own = if p.local { " (own)" } else { "" };
        // Not asked (targeted assessment): no counts that read as "none".
        let asked = p.status != pb::PeerStatus::NotHolder as i32;
        let shown = |v: String| if asked { v } else { String::new() };
        t.row(vec![
            format!("{}{own}", p.institution_id),
            peer_status(p),
            shown(ind.live_facility_count.to_string()),
            shown(ind.settled_facility_count.to_string()),
            ind.last_visit_date.clone(),
            receipt.unwrap_or_default(),
            shown(format!("{} ms", p.latency_ms)),
            p.detail.clone(),
        ]);
    }
    t.render()
}

/// The JSON form of an assessment.
pub fn assessment_json(a: &pb::Assessment) -> serde_json::Value {
    json!({
        "borrower_key": hex::encode(&a.borrower_key),
        "discovery_receipt_id": a.discovery_receipt_id,
        "level": code_label::<pb::AssessmentLevel>(a.level),
        "complete": a.complete,
        "reasons": a.reasons,
        "missing": a.missing,
        "disputed": a.disputed.iter().map(|d| json!({
            "institution": d.institution_id,
            "record_id": d.record_id,
            "dispute_id": d.dispute_id,
            "status": code_label::<pb::DisputeStatus>(d.status),
            "due_date": d.due_date,
        })).collect::<Vec<_>>(),
        "level_with_disputed": code_label::<pb::AssessmentLevel>(a.level_with_disputed),
        "lender_count": a.lender_count,
        "worst_risk_class": code_label::<pb::RiskClass>(a.worst_risk_class),
        "worst_risk_reported_by": a.worst_risk_reported_by,
        "max_overdue_days": a.max_overdue_days,
        "over_90_days_share_bp": a.over_90_days_share_bp,
        "share_basis": a.share_basis,
        "settled_only_lenders": a.settled_only_lenders,
        "exposures": a.exposures.iter().map(|e| json!({"currency": e.currency, "contract": e.contract_amount, "outstanding": e.outstanding_balance, "over_90_days": e.outstanding_over_90_days})).collect::<Vec<_>>(),
        "recent_signals": a.recent_signals.iter().map(|s| json!({"signal": code_label::<pb::WarningSignal>(s.signal), "date": s.visit_date, "institution": s.institution_id})).collect::<Vec<_>>(),
        "last_visits": a.last_visits.iter().map(|v| json!({"institution": v.institution_id, "date": v.visit_date})).collect::<Vec<_>>(),
        "peers": a.peers.iter().map(|p| json!({
            "institution": p.institution_id, "local": p.local,
            "status": code_label::<pb::PeerStatus>(p.status),
            "denial_reason": code_label::<pb::DenialReason>(p.denial_reason),
            "detail": p.detail, "latency_ms": p.latency_ms,
            "facilities": p.indicators.as_ref().map_or(0, |i| i.facility_count),
            "live_facilities": p.indicators.as_ref().map_or(0, |i| i.live_facility_count),
            "settled_facilities": p.indicators.as_ref().map_or(0, |i| i.settled_facility_count),
            "visits": p.indicators.as_ref().map_or(0, |i| i.visit_count),
            "receipt_leaf": p.receipt.as_ref().map(|r| r.leaf_index),
            "receipt_tree_size": p.receipt.as_ref().and_then(|r| r.proof.as_ref()).map(|x| x.tree_size),
            "records": p.records.iter().map(verified_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
