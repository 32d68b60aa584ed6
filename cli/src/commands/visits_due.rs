//! `credshare visits due`: every open post-loan visit obligation that is
//! due or overdue (or due within a horizon), by the node's configured
//! schedule, with what triggered it and which visits satisfy it.

use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::output::{Output, Table};

/// Options of `credshare visits due`.
#[derive(Debug, Clone, clap::Args)]
pub struct DueArgs {
    /// Evaluate on this date (YYYY-MM-DD); default today in the node's
    /// business time zone.
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

impl DueArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut client = self.conn.resolve()?.admin_client().await?;
        let visits = client
            .due_visits(pb::DueVisitsRequest {
                as_of_date: self.as_of.clone().unwrap_or_default(),
                horizon_days: self.horizon_days,
                limit: self.limit,
            })
            .await?
            .into_inner()
            .visits;
        out.print_list(&visits, due_json, render);
        Ok(())
    }
}

fn due_json(v: &pb::DueVisit) -> serde_json::Value {
    json!({
        "borrower_key": hex::encode(&v.borrower_key), "facility_id": v.facility_id,
        "risk_class": code_label::<pb::RiskClass>(v.risk_class), "last_visit_date": v.last_visit_date,
        "due_date": v.due_date, "required_type": code_label::<pb::VisitType>(v.required_type),
        "days_overdue": v.days_overdue, "reason": v.reason,
        "trigger_date": v.trigger_date, "satisfied_by": v.satisfied_by,
    })
}

fn render(visits: &[pb::DueVisit]) -> String {
    let mut t =
        Table::new("BORROWER|FACILITY|CLASS|LAST VISIT|TYPE|SINCE|DUE|OVERDUE|REASON|SATISFIED BY");
    for v in visits {
        t.row(vec![
            hex::encode(&v.borrower_key).chars().take(8).collect(),
            v.facility_id.clone(),
            code_label::<pb::RiskClass>(v.risk_class).into(),
            v.last_visit_date.clone(),
            code_label::<pb::VisitType>(v.required_type).into(),
            v.trigger_date.clone(),
            v.due_date.clone(),
            format!("{}d", v.days_overdue),
            v.reason.clone(),
            v.satisfied_by.clone(),
        ]);
    }
    t.render()
}
