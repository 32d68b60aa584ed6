//! `credshare discovery status`: the discovery service's figures per member
//! (regulators): declared portfolio, pseudonyms registered, budget use in
//! the current window, refusals and lookups, and flags: `OVER_PORTFOLIO`,
//! `OVER_BUDGET` (refused evaluations), `NEAR_BUDGET` (≥ 80% of a budget).

use anyhow::Context;
use credshare_proto::v1 as pb;
use serde_json::json;

use super::client::DiscoveryClient;
use crate::connection::ConnectionArgs;
use crate::output::{Output, Table, fields};

/// Options of `credshare discovery status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The discovery service's listener, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", env = "CREDSHARE_DISCOVERY_ADDR")]
    pub discovery: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl StatusArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve_auditor()?;
        let mut client = DiscoveryClient::new(resolved.channel(&self.discovery).await?);
        let s = client
            .get_discovery_status(pb::DiscoveryStatusRequest {})
            .await
            .context("discovery service: GetDiscoveryStatus")?
            .into_inner();
        let members: Vec<_> = s.members.iter().map(member_json).collect();
        let value = json!({
            "public_key": hex::encode(&s.public_key),
            "log_size": s.log_size,
            "pseudonyms": s.pseudonyms,
            "window_seconds": s.window_seconds,
            "members": members,
        });
        out.print(&value, || {
            let mut text = fields(&[
                ("public key", hex::encode(&s.public_key)),
                ("log size", s.log_size.to_string()),
                ("pseudonyms", s.pseudonyms.to_string()),
                ("budget window", format!("{}s", s.window_seconds)),
            ]);
            let mut table =
                Table::new("MEMBER|PORTFOLIO|REGISTERED|ENROLMENT|ASSESSMENT|REFUSED|LOOKUPS|FLAG");
            for m in &s.members {
                table.row(vec![
                    m.institution_id.clone(),
                    m.declared_portfolio.to_string(),
                    m.registered.to_string(),
                    format!("{}/{}", m.enrolment_evaluated, m.enrolment_budget),
                    format!("{}/{}", m.assessment_evaluated, m.assessment_budget),
                    m.refused.to_string(),
                    m.lookups.to_string(),
                    flags(m).join(", "),
                ]);
            }
            text.push_str(&table.render());
            text
        });
        Ok(())
    }
}

fn member_json(m: &pb::DiscoveryMemberFigures) -> serde_json::Value {
    json!({
        "institution": m.institution_id,
        "declared_portfolio": m.declared_portfolio,
        "registered": m.registered,
        "over_portfolio": m.over_portfolio,
        "enrolment_evaluated": m.enrolment_evaluated,
        "enrolment_budget": m.enrolment_budget,
        "assessment_evaluated": m.assessment_evaluated,
        "assessment_budget": m.assessment_budget,
        "refused": m.refused,
        "lookups": m.lookups,
        "flags": flags(m),
    })
}

/// A member's budget use at or above this share of a budget is flagged.
const NEAR_BUDGET_PERCENT: u64 = 80;

/// What the regulator should look at: registrations beyond the declared
/// portfolio, refused evaluations, and budgets nearly used up.
fn flags(m: &pb::DiscoveryMemberFigures) -> Vec<&'static str> {
    let near = |used: u64, budget: u64| budget > 0 && used * 100 >= budget * NEAR_BUDGET_PERCENT;
    let mut flags = Vec::new();
    if m.over_portfolio {
        flags.push("OVER_PORTFOLIO");
    }
    if m.refused > 0 {
        flags.push("OVER_BUDGET");
    }
    if near(m.enrolment_evaluated, m.enrolment_budget)
        || near(m.assessment_evaluated, m.assessment_budget)
    {
        flags.push("NEAR_BUDGET");
    }
    flags
}
