//! `credshare borrower show`: one borrower's current records at your node
//! (the id is hashed locally), decoded from their signed envelopes.

use anyhow::anyhow;
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use crate::connection::BorrowerArgs;
use crate::output::{Output, Table};

/// Options of `credshare borrower show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

impl ShowArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let (mut client, key) = self.borrower.connect().await?;
        let response = client
            .get_borrower(pb::GetBorrowerRequest {
                borrower_key: key.as_bytes().to_vec(),
            })
            .await?
            .into_inner();
        let (credits, visits) = decode_records(&response.records)?;
        let value = json!({
            "borrower_key": key.to_string(),
            "history_count": response.history_count,
            "credit": credits.iter().map(credit_json).collect::<Vec<_>>(),
            "visits": visits.iter().map(visit_json).collect::<Vec<_>>(),
        });
        out.print(&value, || {
            format!(
                "borrower key {} — {} current records, {} versions stored\n\ncredit summaries\n{}\nvisit summaries\n{}\n",
                key.short(),
                response.records.len(),
                response.history_count,
                render_credits(&credits),
                render_visits(&visits)
            )
        });
        Ok(())
    }
}

fn render_credits(credits: &[pb::CreditSummary]) -> String {
    let mut t = Table::new("FACILITY|V|TYPE|CCY|CONTRACT|OUTSTANDING|CLASS|OVERDUE|STATUS|AS OF");
    for c in credits {
        t.row(vec![
            c.facility_id.clone(),
            c.version.to_string(),
            code_label::<pb::FacilityType>(c.facility_type).into(),
            c.currency.clone(),
            minor(c.contract_amount),
            minor(c.outstanding_balance),
            code_label::<pb::RiskClass>(c.risk_class).into(),
            format!("{}d", c.overdue_days),
            code_label::<pb::AccountStatus>(c.account_status).into(),
            c.as_of_date.clone(),
        ]);
    }
    t.render()
}

fn render_visits(visits: &[pb::VisitSummary]) -> String {
    let mut t = Table::new("VISIT|FACILITY|DATE|TYPE|FUNDS|OPERATIONS|SIGNALS|PROPOSED");
    for v in visits {
        t.row(vec![
            v.visit_id.clone(),
            v.facility_id.clone(),
            v.visit_date.clone(),
            code_label::<pb::VisitType>(v.visit_type).into(),
            code_label::<pb::FundUsage>(v.fund_usage).into(),
            code_label::<pb::OperationsStatus>(v.operations).into(),
            v.warning_signals
                .iter()
                .map(|s| code_label::<pb::WarningSignal>(*s).into_owned())
                .collect::<Vec<_>>()
                .join(","),
            code_label::<pb::RiskClass>(v.proposed_risk_class).into(),
        ]);
    }
    t.render()
}

/// Decodes the payloads of stored envelopes by their payload type.
pub fn decode_records(
    records: &[pb::StoredRecord],
) -> anyhow::Result<(Vec<pb::CreditSummary>, Vec<pb::VisitSummary>)> {
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    for r in records {
        let env = r
            .envelope
            .as_ref()
            .ok_or_else(|| anyhow!("stored record without envelope"))?;
        match env.payload_type.as_str() {
            credshare_node::signing::CREDIT_SUMMARY_TYPE => {
                credits.push(pb::CreditSummary::decode(env.payload.as_slice())?)
            }
            credshare_node::signing::VISIT_SUMMARY_TYPE => {
                visits.push(pb::VisitSummary::decode(env.payload.as_slice())?)
            }
            other => return Err(anyhow!("unknown payload type {other}")),
        }
    }
    Ok((credits, visits))
}

fn minor(amount: i64) -> String {
    format!("{}.{:02}", amount / 100, (amount % 100).abs())
}

pub(crate) fn credit_json(c: &pb::CreditSummary) -> serde_json::Value {
    json!({
        "facility_id": c.facility_id, "version": c.version, "institution": c.institution_id,
        "facility_type": code_label::<pb::FacilityType>(c.facility_type), "currency": c.currency,
        "contract_amount": c.contract_amount, "outstanding_balance": c.outstanding_balance,
        "open_date": c.open_date, "maturity_date": c.maturity_date,
        "guarantee_type": code_label::<pb::GuaranteeType>(c.guarantee_type),
        "risk_class": code_label::<pb::RiskClass>(c.risk_class),
        "overdue_principal": c.overdue_principal, "overdue_total": c.overdue_total, "overdue_days": c.overdue_days,
        "account_status": code_label::<pb::AccountStatus>(c.account_status), "as_of_date": c.as_of_date,
    })
}

pub(crate) fn visit_json(v: &pb::VisitSummary) -> serde_json::Value {
    json!({
        "visit_id": v.visit_id, "version": v.version, "institution": v.institution_id, "facility_id": v.facility_id,
        "visit_date": v.visit_date, "visit_type": code_label::<pb::VisitType>(v.visit_type),
        "channel": code_label::<pb::VisitChannel>(v.channel), "fund_usage": code_label::<pb::FundUsage>(v.fund_usage),
        "operations": code_label::<pb::OperationsStatus>(v.operations),
        "project_progress": code_label::<pb::ProjectProgress>(v.project_progress),
        "collateral": code_label::<pb::CollateralStatus>(v.collateral),
        "guarantor": code_label::<pb::GuarantorStatus>(v.guarantor),
        "warning_signals": v.warning_signals.iter().map(|s| code_label::<pb::WarningSignal>(*s)).collect::<Vec<_>>(),
        "proposed_risk_class": code_label::<pb::RiskClass>(v.proposed_risk_class),
        "action_taken": code_label::<pb::ActionTaken>(v.action_taken), "conclusion": v.conclusion,
    })
}
