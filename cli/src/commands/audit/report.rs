//! `credshare audit report --nodes A,B,…`: the regulator's list of every
//! node's query-pattern flags (probing, approval without lending), from
//! each node's `AuditService.GetOversightReport`. A node that cannot be
//! reached is listed as such (exit code 3). With `--discovery ADDR`, also
//! the discovery service's members near or over a budget and its lookups
//! never followed by a query ([`discovery`]).

mod discovery;

use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use super::format_time_ms;
use crate::commands::status::oversight_flag_json;
use crate::connection::ConnectionArgs;
use crate::output::{ExitKind, Output, Table};

/// Options of `credshare audit report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// The nodes to ask (their peer listeners for a regulator), HOST:PORT,
    /// comma-separated or repeated; default: --node.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT")]
    pub nodes: Vec<String>,
    /// The discovery service's listener: also list its members at or over
    /// 80 % of a budget of the current window and its answered lookups that
    /// no node of --nodes received a query for (give every member's node).
    #[arg(long, value_name = "HOST:PORT")]
    pub discovery: Option<String>,
    /// A lookup is judged once it is this many seconds old (a targeted
    /// assessment queries right after its lookup; the receipt lives 300 s).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub follow_seconds: u64,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// One node's answer: its report, or why there is none.
type NodeReport = (String, Result<pb::OversightReport, String>);

impl ReportArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve_auditor()?;
        let nodes = if self.nodes.is_empty() {
            vec![resolved.node_addr()?.to_owned()]
        } else {
            self.nodes.clone()
        };
        let mut reports: Vec<NodeReport> = Vec::new();
        for node in nodes.clone() {
            let report = async {
                let mut client = resolved.audit_client(&node).await?;
                let report = client
                    .get_oversight_report(pb::GetOversightReportRequest {})
                    .await?
                    .into_inner();
                anyhow::Ok(report)
            }
            .await
            .map_err(|e| format!("{e:#}"));
            reports.push((node, report));
        }
        let found = match &self.discovery {
            Some(service) => {
                Some(discovery::report(&resolved, service, &nodes, self.follow_seconds, out).await?)
            }
            None => None,
        };
        let mut value = report_json(&reports);
        if let Some(found) = &found {
            value["discovery"] = serde_json::to_value(found)?;
        }
        out.print(&value, || {
            let mut text = render(&reports);
            if let Some(found) = &found {
                text.push_str(&discovery::render(found));
            }
            text
        });
        let unread = found.as_ref().is_some_and(|f| !f.unread_nodes.is_empty());
        if unread || reports.iter().any(|(_, r)| r.is_err()) {
            return Err(ExitKind::Partial("some nodes did not answer".into()).into());
        }
        Ok(())
    }
}

fn flag_json(f: &pb::OversightFlag) -> serde_json::Value {
    let mut value = oversight_flag_json(f);
    value["raised_at_ms"] = json!(f.raised_at_ms);
    value
}

fn report_json(reports: &[NodeReport]) -> serde_json::Value {
    let nodes: Vec<_> = reports
        .iter()
        .map(|(node, r)| match r {
            Ok(r) => json!({
                "node": node,
                "institution": r.institution_id,
                "flags": r.flags.iter().map(flag_json).collect::<Vec<_>>(),
            }),
            Err(e) => json!({"node": node, "error": e}),
        })
        .collect();
    json!({ "nodes": nodes })
}

fn render(reports: &[NodeReport]) -> String {
    let mut table = Table::new("HOLDER|REQUESTER|PURPOSE|PATTERN|COUNT|THRESHOLD|RAISED");
    let mut errors = String::new();
    for (node, r) in reports {
        match r {
            Ok(r) => {
                for f in &r.flags {
                    table.row(vec![
                        r.institution_id.clone(),
                        f.requester_institution.clone(),
                        purpose_label(f.purpose),
                        code_label::<pb::OversightPattern>(f.pattern).into(),
                        f.count.to_string(),
                        format!("{} in {} days", f.threshold, f.window_days),
                        format_time_ms(f.raised_at_ms),
                    ]);
                }
            }
            Err(e) => errors.push_str(&format!("{node}: UNREACHABLE {e}\n")),
        }
    }
    format!("{}{errors}", table.render())
}
