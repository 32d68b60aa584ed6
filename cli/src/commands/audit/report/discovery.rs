//! `credshare audit report --discovery ADDR`: the regulator's view of the
//! discovery service. Members at or over 80 % of a budget of the current
//! window (from `GetDiscoveryStatus`), members registering beyond their
//! declared portfolio, and lookups never followed by a query: an answered
//! lookup (at least one holder) of the current window, at least
//! `--follow-seconds` old, whose receipt id no audited node's
//! `PeerQueryEntry` from the same member carries. Every log is downloaded
//! and checked against its signed checkpoint, as `audit cross-check` does.

use std::collections::HashSet;

use anyhow::Context;
use credshare_proto::v1 as pb;
use serde::Serialize;

use crate::commands::audit::cross_check::collect::{LogView, download};
use crate::commands::audit::format_time_ms;
use crate::commands::audit::session::AuditSession;
use crate::commands::discovery::client::DiscoveryClient;
use crate::connection::Resolved;
use crate::output::{Output, Table};

/// A budget at or above this share of its limit is listed.
const NEAR_BUDGET: f64 = 0.8;

/// A member near or over one of its limits in the current window.
#[derive(Debug, Clone, Serialize)]
pub(super) struct BudgetFinding {
    pub institution: String,
    /// `assessment` or `enrolment` (elements evaluated against the
    /// member's budget), `portfolio` (pseudonyms registered against the
    /// declared portfolio) or `refused` (evaluations refused over any
    /// budget: member, officer, purpose or enrolment).
    pub limit: &'static str,
    pub used: u64,
    /// The limit (0 for `refused`).
    pub allowed: u64,
    pub percent: f64,
    /// `NEAR` (at least 80 %), `EXHAUSTED` (all used), `OVER` (beyond the
    /// declared portfolio) or `REFUSED`.
    pub state: &'static str,
}

/// An answered lookup no audited holder saw a query for.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Unfollowed {
    pub log_index: u64,
    pub time_ms: i64,
    pub institution: String,
    pub officer: String,
    pub receipt_id: String,
    /// Holders the lookup returned (its entry's count).
    pub holders: u32,
}

/// The discovery part of the report.
#[derive(Debug, Clone, Serialize)]
pub(super) struct DiscoveryReport {
    pub service: String,
    pub institution: String,
    pub window_seconds: u64,
    pub window_start_ms: i64,
    pub follow_seconds: u64,
    pub budgets: Vec<BudgetFinding>,
    /// Answered lookups of the window old enough to judge.
    pub lookups_checked: u64,
    pub unfollowed_lookups: Vec<Unfollowed>,
    /// Nodes whose logs could not be read: the unfollowed list may name
    /// lookups their queries followed.
    pub unread_nodes: Vec<String>,
}

/// Builds the discovery report: the service's figures and log, and the
/// logs of `nodes` (already audited holders' addresses).
pub(super) async fn report(
    resolved: &Resolved,
    service: &str,
    nodes: &[String],
    follow_seconds: u64,
    out: &Output,
) -> anyhow::Result<DiscoveryReport> {
    let mut client = DiscoveryClient::new(resolved.channel(service).await?);
    let status = client
        .get_discovery_status(pb::DiscoveryStatusRequest {})
        .await
        .context("discovery service: GetDiscoveryStatus")?
        .into_inner();
    let mut session = AuditSession::open(resolved, service).await?;
    let log = download(&mut session, out).await?;
    let mut received = HashSet::new();
    let mut unread_nodes = Vec::new();
    for node in nodes {
        match node_log(resolved, node, out).await {
            Ok(view) => received.extend(view.receipts_received),
            Err(e) => unread_nodes.push(format!("{node}: {e:#}")),
        }
    }
    let now = credshare_node::domain::dates::now_ms();
    let window_ms = (status.window_seconds.max(1) * 1000) as i64;
    let window_start_ms = now.div_euclid(window_ms) * window_ms;
    let judged_until = now - (follow_seconds * 1000) as i64;
    let judged: Vec<_> = log
        .lookups
        .iter()
        .filter(|(_, t, l)| {
            l.refused.is_empty() && l.holders > 0 && *t >= window_start_ms && *t <= judged_until
        })
        .collect();
    let unfollowed_lookups = judged
        .iter()
        .filter(|(_, _, l)| !received.contains(&(l.institution.clone(), l.receipt_id.clone())))
        .map(|(index, time_ms, l)| Unfollowed {
            log_index: *index,
            time_ms: *time_ms,
            institution: l.institution.clone(),
            officer: l.officer.clone(),
            receipt_id: l.receipt_id.clone(),
            holders: l.holders,
        })
        .collect();
    Ok(DiscoveryReport {
        service: service.to_owned(),
        institution: log.institution,
        window_seconds: status.window_seconds,
        window_start_ms,
        follow_seconds,
        budgets: status.members.iter().flat_map(budget_findings).collect(),
        lookups_checked: judged.len() as u64,
        unfollowed_lookups,
        unread_nodes,
    })
}

/// Downloads and verifies one node's log.
async fn node_log(resolved: &Resolved, node: &str, out: &Output) -> anyhow::Result<LogView> {
    let mut session = AuditSession::open(resolved, node).await?;
    download(&mut session, out).await
}

/// A member's limits at or above [`NEAR_BUDGET`] of what it may use, and
/// its refused evaluations.
fn budget_findings(m: &pb::DiscoveryMemberFigures) -> Vec<BudgetFinding> {
    let limits = [
        ("assessment", m.assessment_evaluated, m.assessment_budget),
        ("enrolment", m.enrolment_evaluated, m.enrolment_budget),
        ("portfolio", m.registered, m.declared_portfolio),
    ];
    let finding = |limit, used, allowed, percent, state| BudgetFinding {
        institution: m.institution_id.clone(),
        limit,
        used,
        allowed,
        percent,
        state,
    };
    let mut found: Vec<_> = limits
        .into_iter()
        .filter_map(|(limit, used, allowed)| {
            let share = used as f64 / allowed.max(1) as f64;
            let state = match used.cmp(&allowed) {
                _ if used == 0 || share < NEAR_BUDGET => return None,
                std::cmp::Ordering::Greater => "OVER",
                std::cmp::Ordering::Equal => "EXHAUSTED",
                std::cmp::Ordering::Less => "NEAR",
            };
            let percent = (share * 1000.0).round() / 10.0;
            Some(finding(limit, used, allowed, percent, state))
        })
        .collect();
    if m.refused > 0 {
        found.push(finding("refused", m.refused, 0, 0.0, "REFUSED"));
    }
    found
}

/// The discovery part as text.
pub(super) fn render(r: &DiscoveryReport) -> String {
    let mut text = format!(
        "\ndiscovery service {} at {}: window of {} s from {}\n",
        r.institution,
        r.service,
        r.window_seconds,
        format_time_ms(r.window_start_ms)
    );
    let mut budgets = Table::new("MEMBER|LIMIT|USED|ALLOWED|PERCENT|STATE");
    for b in &r.budgets {
        let (allowed, percent) = match b.state {
            "REFUSED" => ("-".to_owned(), "-".to_owned()),
            _ => (b.allowed.to_string(), format!("{:.1} %", b.percent)),
        };
        budgets.row(vec![
            b.institution.clone(),
            b.limit.into(),
            b.used.to_string(),
            allowed,
            percent,
            b.state.into(),
        ]);
    }
    text.push_str(&budgets.render());
    text.push_str(&format!(
        "lookups never followed by a query ({} answered lookups at least {} s old checked):\n",
        r.lookups_checked, r.follow_seconds
    ));
    let mut lookups = Table::new("LEAF|TIME|MEMBER|OFFICER|RECEIPT|HOLDERS");
    for u in &r.unfollowed_lookups {
        lookups.row(vec![
            u.log_index.to_string(),
            format_time_ms(u.time_ms),
            u.institution.clone(),
            u.officer.clone(),
            u.receipt_id.clone(),
            u.holders.to_string(),
        ]);
    }
    text.push_str(&lookups.render());
    for node in &r.unread_nodes {
        text.push_str(&format!("{node}: UNREAD (lookups may be listed wrongly)\n"));
    }
    text
}
