//! A cross-check's report ([`CrossCheck`]) for people (a summary per log, the counts, each finding
//! with its evidence in short) and for machines (`--json`, field names
//! stable: `consistent`, `logs`, `counts`, `findings[].kind|requester|
//! holder|nonce|detail|evidence`).

use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use serde_json::{Value, json};

use super::collect::LogView;
use super::matcher::{Finding, FindingKind, MatchCounts};
use crate::commands::audit::entries::describe::short_key;
use crate::commands::audit::{base64_root, checkpoint_time};
use crate::output::{ExitKind, fields};

/// What a cross-check established.
pub(crate) struct CrossCheck {
    pub logs: Vec<LogView>,
    pub findings: Vec<Finding>,
    pub counts: MatchCounts,
    /// Distinct recorded holder checkpoints checked against holders' logs.
    pub checkpoints_checked: u64,
    pub settle_seconds: u32,
}

impl CrossCheck {
    /// The exit status: findings are exit code 3.
    pub(crate) fn outcome(&self) -> anyhow::Result<()> {
        match self.findings.len() {
            0 => Ok(()),
            n => Err(ExitKind::Partial(format!("{n} cross-check findings")).into()),
        }
    }

    /// The report for people.
    pub(crate) fn render(&self) -> String {
        text(self)
    }
}

pub(super) fn json(c: &CrossCheck) -> Value {
    let mut counts = json!(c.counts);
    counts["holder_checkpoints_checked"] = json!(c.checkpoints_checked);
    json!({
        "consistent": c.findings.is_empty(),
        "settle_seconds": c.settle_seconds,
        "logs": c.logs.iter().map(log_json).collect::<Vec<_>>(),
        "counts": counts,
        "findings": c.findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}

fn log_json(l: &LogView) -> Value {
    let cp = &l.newest.signed.checkpoint;
    json!({
        "node": l.node,
        "institution": l.institution,
        "origin": cp.origin,
        "size": cp.size,
        "root": base64_root(&cp.root),
        "checkpoint_time_ms": cp.timestamp_ms,
        "verified": true,
        "queries_sent": l.sent.len(),
        "queries_received": l.received.len(),
        "witness_evidence": l.witness.len(),
    })
}

fn kind_name(kind: FindingKind) -> Value {
    json!(kind)
}

fn finding_json(f: &Finding) -> Value {
    let (a, b) = if f.kind == FindingKind::WitnessEvidence {
        ("witness", "log")
    } else {
        ("requester", "holder")
    };
    let query = f
        .sent
        .as_ref()
        .map(|s| &s.query)
        .or(f.received.as_ref().map(|r| &r.query))
        .map(|q| (q.borrower.as_slice(), q.purpose, q.scope));
    let mut value = json!({
        "kind": kind_name(f.kind),
        a: f.requester,
        b: f.holder,
        "nonce": hex::encode(&f.nonce),
        "detail": f.detail,
        "requester_index": f.sent.as_ref().map(|s| s.query.index),
        "holder_index": f.received.as_ref().map(|r| r.query.index),
        "evidence": Value::Object(f.evidence.clone()),
    });
    if let Some((borrower, purpose, scope)) = query {
        value["borrower"] = json!(short_key(borrower));
        value["purpose"] = json!(purpose_label(purpose));
        value["scope"] = json!(code_label::<pb::Scope>(scope));
    }
    value
}

pub(super) fn text(c: &CrossCheck) -> String {
    let mut out = String::new();
    for l in &c.logs {
        let cp = &l.newest.signed.checkpoint;
        out.push_str(&fields(&[
            ("log", format!("{} at {}", l.institution, l.node)),
            (
                "checkpoint",
                format!(
                    "size {} at {}, root recomputed from all entries",
                    cp.size,
                    checkpoint_time(cp.timestamp_ms)
                ),
            ),
            (
                "queries",
                format!("{} sent, {} received", l.sent.len(), l.received.len()),
            ),
        ]));
        out.push('\n');
    }
    let n = &c.counts;
    out.push_str(&fields(&[
        ("matched", n.matched.to_string()),
        ("sent, no receipt", n.unanswered.to_string()),
        ("other log absent", n.other_log_not_audited.to_string()),
        ("not yet covered", n.not_covered.to_string()),
        ("without nonce", n.unmatchable.to_string()),
        (
            "holder checkpoints",
            format!("{} checked", c.checkpoints_checked),
        ),
    ]));
    if c.findings.is_empty() {
        out.push_str("OK: every query is in both logs, and every recorded checkpoint fits\n");
        return out;
    }
    for f in &c.findings {
        out.push('\n');
        out.push_str(&finding_text(f));
    }
    out.push_str(&format!("\nFINDINGS: {}\n", c.findings.len()));
    out
}

fn finding_text(f: &Finding) -> String {
    let kind = kind_name(f.kind);
    let kind = kind.as_str().unwrap_or("?");
    let mut line = format!("{kind} {} -> {}", f.requester, f.holder);
    if !f.nonce.is_empty() {
        line.push_str(&format!(" nonce {}", hex::encode(&f.nonce)));
    }
    let mut text = format!("{line}\n  {}\n", f.detail);
    for (name, value) in &f.evidence {
        text.push_str(&format!("  evidence {name}: {}\n", evidence_line(value)));
    }
    text
}

/// One evidence item in short: where it is and what was checked.
fn evidence_line(value: &Value) -> String {
    if let Some(e) = value.get("error") {
        return format!("could not be fetched: {e}");
    }
    if let (Some(log), Some(index)) = (value.get("log"), value.get("index")) {
        let included = value.get("inclusion_verified") == Some(&json!(true));
        return format!(
            "{} entry {index}{}",
            log.as_str().unwrap_or("?"),
            if included {
                ", inclusion in its signed checkpoint verified"
            } else {
                ""
            }
        );
    }
    if let Some(fit) = value.get("fit") {
        return format!(
            "signed checkpoint of {} recorded by {} at entry {}: {}",
            value["holder"].as_str().unwrap_or("?"),
            value["recorded_by"].as_str().unwrap_or("?"),
            value["recorded_at_index"],
            fit["fits"].as_str().unwrap_or("?")
        );
    }
    if let Some(note) = value.as_str() {
        return note.lines().take(2).collect::<Vec<_>>().join(" size ");
    }
    value.to_string()
}
