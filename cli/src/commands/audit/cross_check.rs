//! `credshare audit cross-check --nodes A,B,C`: the regulator holds every
//! node's log against the others'. Each log is downloaded and verified
//! against its signed checkpoint ([`collect`]); every query is matched in
//! the requester's and the holder's log by nonce ([`matcher`]); every
//! holder checkpoint a requester recorded from a receipt is re-verified and
//! checked against the holder's log as served now, and every witness
//! evidence entry is re-verified ([`witness`]); each finding gets its
//! signed evidence ([`evidence`]) and is reported ([`render`]).
//!
//! Exit codes: 0 every log verifies and every query is consistent; 3 there
//! are findings; 4 a node refused the caller; 5 a node could not be
//! reached; 1 a log could not be downloaded or does not verify; 2 fewer
//! than two nodes, or two addresses serving one log.
//!
//! Memory: per query one small record (nonce, parties, borrower key,
//! purpose, scope, indexes), one per distinct recorded holder checkpoint,
//! and O(log n) hashes per log while it streams; never the whole log.

pub(crate) mod collect;
mod evidence;
mod matcher;
mod render;
mod witness;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use anyhow::Context;
use serde_json::{Value, json};

use super::session::AuditSession;
use crate::connection::{ConnectionArgs, Resolved};
use crate::output::{ExitKind, Output};
use collect::{LogView, position};
use evidence::{Fit, check_recorded, entry_evidence};
use matcher::{Finding, FindingKind};
pub(crate) use render::CrossCheck;

/// Options of `credshare audit cross-check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CrossCheckArgs {
    /// The nodes whose logs to cross-check, at least two (their peer
    /// listeners, as a regulator), HOST:PORT, comma-separated or repeated.
    /// `--node` (and `CREDSHARE_ADMIN_ADDR`) are not used.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT")]
    pub nodes: Vec<String>,
    /// Seconds a requester may take to log a query it sent (its per-peer
    /// deadline, at most 60, plus clock skew): a query a holder logged
    /// later than the requester's newest checkpoint less this is not
    /// judged yet.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub settle_seconds: u32,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl CrossCheckArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve_auditor()?;
        let report = cross_check(&resolved, &self.nodes, self.settle_seconds, out).await?;
        out.print(&render::json(&report), || render::text(&report));
        report.outcome()
    }
}

/// Cross-checks the logs of `nodes`, as the identity `resolved` names.
/// Progress goes to stderr (unless `out` is JSON).
pub(crate) async fn cross_check(
    resolved: &Resolved,
    nodes: &[String],
    settle_seconds: u32,
    out: &Output,
) -> anyhow::Result<CrossCheck> {
    if nodes.len() < 2 {
        return Err(ExitKind::Usage(
            "a cross-check needs at least two nodes: --nodes A,B[,C…]".into(),
        )
        .into());
    }
    let mut sessions = Vec::new();
    let mut logs: Vec<LogView> = Vec::new();
    for node in nodes {
        let mut session = AuditSession::open(resolved, node).await?;
        let log = collect::download(&mut session, out).await?;
        if let Some(twin) = logs.iter().find(|l| l.institution == log.institution) {
            return Err(ExitKind::Usage(format!(
                "{} and {} both serve the log of {}",
                twin.node, log.node, log.institution
            ))
            .into());
        }
        sessions.push(session);
        logs.push(log);
    }
    let settle_ms = i64::from(settle_seconds) * 1000;
    let (mut findings, counts) = matcher::match_logs(&logs, settle_ms);
    let checkpoints_checked = check_checkpoints(&mut sessions, &logs, &mut findings).await;
    findings.extend(witness_findings(&mut sessions, &logs).await);
    attach_entries(&mut sessions, &logs, &mut findings).await;
    Ok(CrossCheck {
        logs,
        findings,
        counts,
        checkpoints_checked,
        settle_seconds,
    })
}

/// Re-verifies every distinct holder checkpoint a requester recorded and
/// checks it fits the holder's log now. Attaches the result to the
/// findings about that checkpoint; a conflicting one that no finding names
/// becomes a finding. Returns how many were checked.
async fn check_checkpoints(
    sessions: &mut [AuditSession],
    logs: &[LogView],
    findings: &mut Vec<Finding>,
) -> u64 {
    let certificates: HashMap<String, Vec<u8>> = logs
        .iter()
        .flat_map(|l| l.signer_certificates.clone())
        .collect();
    let mut checked = 0;
    for recorded in logs.iter().flat_map(|l| l.recorded.values()) {
        let Some(h) = position(logs, &recorded.holder) else {
            continue;
        };
        let fit = check_recorded(&mut sessions[h], &logs[h], recorded, &certificates).await;
        checked += 1;
        let at = Some((recorded.checkpoint.size, recorded.checkpoint.root));
        let evidence = json!({
            "holder": recorded.holder,
            "note": recorded.note,
            "signer_key_id": recorded.signer_key_id,
            "recorded_by": recorded.recorded_by,
            "recorded_at_index": recorded.recorded_at,
            "fit": fit.json(),
            "holder_checkpoint_now": logs[h].newest.note,
        });
        let mut named = false;
        for f in findings.iter_mut().filter(|f| {
            f.holder == recorded.holder
                && f.sent
                    .as_ref()
                    .and_then(|s| s.receipt.as_ref())
                    .map(|r| r.checkpoint)
                    == Some(at)
        }) {
            named = true;
            f.evidence
                .insert("recorded_checkpoint".into(), evidence.clone());
            f.detail.push_str(&verdict(f.kind, &fit));
        }
        if let (false, Fit::Conflicts(why)) = (named, &fit) {
            findings.push(conflict_finding(recorded, why, evidence));
        }
    }
    checked
}

/// What a recorded checkpoint's fit says about a finding.
fn verdict(kind: FindingKind, fit: &Fit) -> String {
    match (kind, fit) {
        (FindingKind::HolderDidNotLog, Fit::Conflicts(why)) => format!(
            "; the checkpoint the holder signed for this receipt does not fit its log now ({why}): the holder rewrote its log or showed a split view"
        ),
        (FindingKind::HolderDidNotLog, Fit::Consistent) => "; the checkpoint the holder signed still fits its log, so the receipt's leaf is in it: the requester's entry does not record what the holder logged".into(),
        (_, Fit::Unverifiable(why)) => format!("; the recorded checkpoint could not be checked: {why}"),
        (_, Fit::Conflicts(why)) => format!("; the recorded checkpoint conflicts with the holder's log: {why}"),
        (_, Fit::Consistent) => String::new(),
    }
}

fn conflict_finding(recorded: &collect::RecordedCheckpoint, why: &str, evidence: Value) -> Finding {
    let mut map = serde_json::Map::new();
    map.insert("recorded_checkpoint".into(), evidence);
    Finding {
        kind: FindingKind::HolderCheckpointConflict,
        requester: recorded.recorded_by.clone(),
        holder: recorded.holder.clone(),
        nonce: Vec::new(),
        sent: None,
        received: None,
        detail: format!(
            "{} signed a checkpoint of size {} (recorded by {} at its entry {}) that does not fit its log now: {why}",
            recorded.holder, recorded.checkpoint.size, recorded.recorded_by, recorded.recorded_at
        ),
        evidence: map,
    }
}

/// Every witness evidence entry in any log, re-verified ([`witness`]).
async fn witness_findings(sessions: &mut [AuditSession], logs: &[LogView]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (w, log) in logs.iter().enumerate() {
        for (index, entry) in &log.witness {
            findings.push(witness::finding(sessions, logs, w, *index, entry).await);
        }
    }
    findings
}

/// Each finding's entries as their logs hold them, with inclusion proofs.
async fn attach_entries(sessions: &mut [AuditSession], logs: &[LogView], findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let mut wanted = Vec::new();
        if let Some(s) = &f.sent {
            wanted.push(("requester_entry", s.query.requester.clone(), s.query.index));
        }
        if let Some(r) = &f.received {
            wanted.push(("holder_entry", r.query.holder.clone(), r.query.index));
        }
        if let Some(Value::Object(w)) = f.evidence.get("witness_evidence")
            && let Some(index) = w.get("index").and_then(Value::as_u64)
        {
            wanted.push(("witness_entry", f.requester.clone(), index));
        }
        for (name, institution, index) in wanted {
            let Some(i) = position(logs, &institution) else {
                continue;
            };
            let value = entry_evidence(&mut sessions[i], &logs[i], index)
                .await
                .context("gathering evidence")
                .unwrap_or_else(|e| json!({"error": format!("{e:#}")}));
            f.evidence.insert(name.into(), value);
        }
        if f.kind == FindingKind::RequesterDidNotLog
            && let Some(i) = position(logs, &f.requester)
        {
            f.evidence
                .insert("requester_checkpoint".into(), json!(logs[i].newest.note));
        }
    }
}
