//! `credshare assess` (one screen: what every institution knows, verified),
//! `credshare history` (who asked about a borrower) and `credshare visits due`.

use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::client::ConnectionArgs;
use crate::commands::consent::{PurposeArg, ScopeArg};
use crate::commands::records::borrower_key;
use crate::output::{Partial, Table, fields, print_json};

#[derive(Debug, Clone, clap::Args)]
pub struct AssessArgs {
    /// Borrower id (hashed locally).
    #[arg(long)]
    pub id: String,
    /// A consent this institution issued for the borrower.
    #[arg(long)]
    pub consent_id: String,
    #[arg(long, value_enum, default_value = "post-loan-management")]
    pub purpose: PurposeArg,
    #[arg(long, value_enum, default_value = "summary")]
    pub scope: ScopeArg,
    /// Per-peer deadline in ms (0 = the node's default).
    #[arg(long, default_value_t = 0)]
    pub deadline_ms: u32,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// `credshare assess`; exit code 3 when any peer did not answer.
pub async fn assess(args: &AssessArgs, json: bool) -> anyhow::Result<()> {
    let (resolved, mut client) = args.conn.admin().await?;
    let key = borrower_key(&args.id, &resolved)?;
    let a = client
        .assess(pb::AssessRequest {
            borrower_key: key.as_bytes().to_vec(),
            consent_id: args.consent_id.clone(),
            purpose: args.purpose.proto() as i32,
            scope: args.scope.proto() as i32,
            deadline_ms: args.deadline_ms,
        })
        .await?
        .into_inner();
    if json {
        print_json(&assessment_json(&a));
    } else {
        print!("{}", render_assessment(&a));
    }
    if !a.complete {
        return Err(anyhow::anyhow!(Partial(
            "assessment is incomplete: not every institution answered".into()
        )));
    }
    Ok(())
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

pub fn render_assessment(a: &pb::Assessment) -> String {
    let level = code_label::<pb::AssessmentLevel>(a.level);
    let mut out = fields(&[
        (
            "level",
            format!("{level}{}", if a.complete { "" } else { "  (INCOMPLETE)" }),
        ),
        ("lenders", a.lender_count.to_string()),
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
            format!("{:.1}%", f64::from(a.over_90_days_share_bp) / 100.0),
        ),
    ]);
    out.push_str("reasons:\n");
    for r in &a.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    let mut t = Table::new(&["CURRENCY", "CONTRACT", "OUTSTANDING", "> 90 DAYS"]);
    for e in &a.exposures {
        t.row(vec![
            e.currency.clone(),
            e.contract_amount.to_string(),
            e.outstanding_balance.to_string(),
            e.outstanding_over_90_days.to_string(),
        ]);
    }
    out.push_str(&format!("\nexposure (minor units)\n{}", t.render()));
    if !a.recent_signals.is_empty() {
        let mut t = Table::new(&["SIGNAL", "DATE", "INSTITUTION"]);
        for s in &a.recent_signals {
            t.row(vec![
                code_label::<pb::WarningSignal>(s.signal).into(),
                s.visit_date.clone(),
                s.institution_id.clone(),
            ]);
        }
        out.push_str(&format!("\nwarning signals, last 180 days\n{}", t.render()));
    }
    let mut t = Table::new(&[
        "INSTITUTION",
        "STATUS",
        "FACILITIES",
        "LAST VISIT",
        "RECEIPT",
        "LATENCY",
        "DETAIL",
    ]);
    for p in &a.peers {
        let ind = p.indicators.clone().unwrap_or_default();
        t.row(vec![
            format!(
                "{}{}",
                p.institution_id,
                if p.local { " (own)" } else { "" }
            ),
            peer_status(p),
            ind.facility_count.to_string(),
            ind.last_visit_date.clone(),
            p.receipt
                .as_ref()
                .map(|r| {
                    format!(
                        "leaf {} of {} ✓",
                        r.leaf_index,
                        r.proof.as_ref().map_or(0, |x| x.tree_size)
                    )
                })
                .unwrap_or_default(),
            format!("{} ms", p.latency_ms),
            p.detail.clone(),
        ]);
    }
    out.push_str(&format!("\ninstitutions\n{}", t.render()));
    out
}

pub fn assessment_json(a: &pb::Assessment) -> serde_json::Value {
    json!({
        "borrower_key": hex::encode(&a.borrower_key),
        "level": code_label::<pb::AssessmentLevel>(a.level),
        "complete": a.complete,
        "reasons": a.reasons,
        "lender_count": a.lender_count,
        "worst_risk_class": code_label::<pb::RiskClass>(a.worst_risk_class),
        "worst_risk_reported_by": a.worst_risk_reported_by,
        "max_overdue_days": a.max_overdue_days,
        "over_90_days_share_bp": a.over_90_days_share_bp,
        "exposures": a.exposures.iter().map(|e| json!({"currency": e.currency, "contract": e.contract_amount, "outstanding": e.outstanding_balance, "over_90_days": e.outstanding_over_90_days})).collect::<Vec<_>>(),
        "recent_signals": a.recent_signals.iter().map(|s| json!({"signal": code_label::<pb::WarningSignal>(s.signal), "date": s.visit_date, "institution": s.institution_id})).collect::<Vec<_>>(),
        "last_visits": a.last_visits.iter().map(|v| json!({"institution": v.institution_id, "date": v.visit_date})).collect::<Vec<_>>(),
        "peers": a.peers.iter().map(|p| json!({
            "institution": p.institution_id, "local": p.local,
            "status": code_label::<pb::PeerStatus>(p.status),
            "denial_reason": code_label::<pb::DenialReason>(p.denial_reason),
            "detail": p.detail, "latency_ms": p.latency_ms,
            "facilities": p.indicators.as_ref().map_or(0, |i| i.facility_count),
            "receipt_leaf": p.receipt.as_ref().map(|r| r.leaf_index),
            "receipt_tree_size": p.receipt.as_ref().and_then(|r| r.proof.as_ref()).map(|x| x.tree_size),
        })).collect::<Vec<_>>(),
    })
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Borrower id (hashed locally).
    #[arg(long)]
    pub id: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// `credshare history`: who asked this node about a borrower.
pub async fn history(args: &HistoryArgs, json: bool) -> anyhow::Result<()> {
    let (resolved, mut client) = args.conn.admin().await?;
    let key = borrower_key(&args.id, &resolved)?;
    let items = client
        .query_history(pb::QueryHistoryRequest {
            borrower_key: key.as_bytes().to_vec(),
        })
        .await?
        .into_inner()
        .items;
    if json {
        print_json(&json!(items.iter().map(|i| json!({
            "leaf_index": i.leaf_index, "time_ms": i.time_ms, "requester": i.requester_institution,
            "purpose": code_label::<pb::Purpose>(i.purpose), "scope": code_label::<pb::Scope>(i.scope),
            "consent_id": i.consent_id, "decision": i.decision,
        })).collect::<Vec<_>>()));
        return Ok(());
    }
    let mut t = Table::new(&[
        "LEAF",
        "TIME (UTC)",
        "REQUESTER",
        "PURPOSE",
        "SCOPE",
        "CONSENT",
        "DECISION",
    ]);
    for i in &items {
        let when =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(i.time_ms) * 1_000_000)
                .map(|t| {
                    format!(
                        "{} {:02}:{:02}:{:02}",
                        t.date(),
                        t.hour(),
                        t.minute(),
                        t.second()
                    )
                })
                .unwrap_or_default();
        t.row(vec![
            i.leaf_index.to_string(),
            when,
            i.requester_institution.clone(),
            code_label::<pb::Purpose>(i.purpose).into(),
            code_label::<pb::Scope>(i.scope).into(),
            i.consent_id.clone(),
            i.decision.clone(),
        ]);
    }
    println!("{} queries about borrower {}", items.len(), key.short());
    print!("{}", t.render());
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct DueArgs {
    /// Evaluate on this date (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Also list visits due within this many days.
    #[arg(long, default_value_t = 0)]
    pub horizon_days: u32,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// `credshare visits due`.
pub async fn due(args: &DueArgs, json: bool) -> anyhow::Result<()> {
    let (_, mut client) = args.conn.admin().await?;
    let visits = client
        .due_visits(pb::DueVisitsRequest {
            as_of_date: args.as_of.clone().unwrap_or_default(),
            horizon_days: args.horizon_days,
            limit: args.limit,
        })
        .await?
        .into_inner()
        .visits;
    if json {
        print_json(&json!(visits.iter().map(|v| json!({
            "borrower_key": hex::encode(&v.borrower_key), "facility_id": v.facility_id,
            "risk_class": code_label::<pb::RiskClass>(v.risk_class), "last_visit_date": v.last_visit_date,
            "due_date": v.due_date, "required_type": code_label::<pb::VisitType>(v.required_type),
            "days_overdue": v.days_overdue, "reason": v.reason,
        })).collect::<Vec<_>>()));
        return Ok(());
    }
    let mut t = Table::new(&[
        "BORROWER",
        "FACILITY",
        "CLASS",
        "LAST VISIT",
        "DUE",
        "TYPE",
        "OVERDUE",
        "REASON",
    ]);
    for v in &visits {
        t.row(vec![
            hex::encode(&v.borrower_key).chars().take(8).collect(),
            v.facility_id.clone(),
            code_label::<pb::RiskClass>(v.risk_class).into(),
            v.last_visit_date.clone(),
            v.due_date.clone(),
            code_label::<pb::VisitType>(v.required_type).into(),
            format!("{}d", v.days_overdue),
            v.reason.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
