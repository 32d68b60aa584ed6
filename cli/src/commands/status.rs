//! `credshare status`: your node's figures (admin listener) and whether it
//! reaches each peer over mTLS.

use std::time::{Duration, Instant};

use credshare_node::domain::borrower::KeyGeneration;
use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::{AdminClient, ConnectionArgs};
use crate::output::{Output, Table, fields};

/// Options of `credshare status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Wait up to SECONDS (30 when no value is given) for the node to
    /// answer and reach every peer, e.g. right after starting nodes.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "30")]
    pub wait: Option<u64>,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// Pause between two tries of `--wait`.
const WAIT_RETRY: Duration = Duration::from_millis(200);

impl StatusArgs {
    /// Shows your node's status and whether it reaches each peer.
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let s = match self.wait {
            None => self.once().await?,
            Some(seconds) => self.wait_for(Duration::from_secs(seconds)).await?,
        };
        out.print(&status_json(&s), || render_status(&s));
        Ok(())
    }

    async fn once(&self) -> anyhow::Result<pb::StatusResponse> {
        let client = self.conn.resolve()?.admin_client().await?;
        fetch_status(client).await
    }

    /// Tries until the node answers with every peer reachable, or the time
    /// is up: then the last answer (peers unreachable shown), or the error.
    async fn wait_for(&self, limit: Duration) -> anyhow::Result<pb::StatusResponse> {
        let deadline = Instant::now() + limit;
        loop {
            let result = self.once().await;
            let ready = matches!(&result, Ok(s) if s.peers.iter().all(|p| p.reachable));
            if ready || Instant::now() >= deadline {
                return result;
            }
            tokio::time::sleep(WAIT_RETRY).await;
        }
    }
}

/// Calls `AdminService.Status`.
pub async fn fetch_status(mut client: AdminClient) -> anyhow::Result<pb::StatusResponse> {
    Ok(client.status(pb::StatusRequest {}).await?.into_inner())
}

/// The JSON form of a status.
/// An oversight flag (`status` and `audit report` show them).
pub(crate) fn oversight_flag_json(f: &pb::OversightFlag) -> serde_json::Value {
    json!({
        "requester": f.requester_institution,
        "purpose": purpose_label(f.purpose),
        "pattern": code_label::<pb::OversightPattern>(f.pattern),
        "count": f.count,
        "threshold": f.threshold,
        "window_days": f.window_days,
    })
}

/// Queries of one purpose: answered, denied and sent (`status` and the
/// borrower's `report` show them).
pub(crate) fn reason_count_json(c: &pb::ReasonCount) -> serde_json::Value {
    json!({
        "reason": purpose_label(c.purpose),
        "answered": c.answered,
        "denied": c.denied,
        "sent": c.sent,
    })
}

pub fn status_json(s: &pb::StatusResponse) -> serde_json::Value {
    json!({
        "institution": s.institution_id,
        "version": s.version,
        "uptime_seconds": s.uptime_seconds,
        "peer_listen": s.peer_listen,
        "admin_listen": s.admin_listen,
        "metrics_listen": s.metrics_listen,
        "ready": s.ready,
        "not_ready_reason": s.not_ready_reason,
        "data_dir": s.data_dir,
        "records": s.record_count,
        "borrowers": s.borrower_count,
        "consents": s.consent_count,
        "borrower_key_generation": s.borrower_key_generation,
        "log_size": s.log_size,
        "store_bytes": s.store_bytes,
        "signer_key_id": s.signer_key_id,
        "signer_not_after_ms": s.signer_not_after_ms,
        "warnings": s.warnings,
        "disputes_open": s.disputes_open,
        "disputes_overdue": s.disputes_overdue,
        "oversight_flags": s.oversight_flags.iter().map(oversight_flag_json).collect::<Vec<_>>(),
        "queries_by_reason": s.reason_counts.iter().map(reason_count_json).collect::<Vec<_>>(),
        "witnesses": s.witnesses.iter().map(|w| json!({
            "institution": w.institution_id,
            "state": w.state,
            "cosigned_size": w.cosigned_size,
            "held_size": w.held_size,
            "detail": w.detail,
        })).collect::<Vec<_>>(),
        "witness_evidence_against": s.witness_evidence_against,
        "witness_evidence_entries": s.witness_evidence_entries,
        "log_missing": (s.log_missing_to > 0).then(|| json!({"from": s.log_missing_from, "to": s.log_missing_to})),
        "peers": s.peers.iter().map(|p| json!({
            "institution": p.institution_id,
            "reachable": p.reachable,
            "latency_ms": p.latency_ms,
            "error": p.error,
            "version": p.version,
            "log_size": p.log_size,
        })).collect::<Vec<_>>(),
    })
}

/// The signer key id (short) and the end of its certificate.
fn signer_key(s: &pb::StatusResponse) -> String {
    let key: String = s.signer_key_id.chars().take(16).collect();
    if s.signer_not_after_ms > 0 {
        format!(
            "{key} (valid until {})",
            crate::dates::time(s.signer_not_after_ms)
        )
    } else {
        key
    }
}

/// The borrower key generation served, and what it is.
fn key_generation(wire: u32) -> String {
    let generation = KeyGeneration::from_wire(wire);
    if generation.is_oprf() {
        format!("generation {generation} (OPRF pseudonyms)")
    } else {
        format!("generation {generation} (HMAC, consortium secret)")
    }
}

fn metrics_listen(s: &pb::StatusResponse) -> String {
    match s.metrics_listen.as_str() {
        "" => "off".into(),
        addr => format!("http://{addr}/metrics"),
    }
}

fn ready(s: &pb::StatusResponse) -> String {
    if s.ready {
        "yes".into()
    } else {
        format!("NO: {}", s.not_ready_reason)
    }
}

/// The human form of a status: figures, then a table of peers.
pub fn render_status(s: &pb::StatusResponse) -> String {
    let mut out = fields(&[
        ("institution", s.institution_id.clone()),
        ("version", s.version.clone()),
        ("uptime", format!("{}s", s.uptime_seconds)),
        ("peer listener", s.peer_listen.clone()),
        ("admin listener", s.admin_listen.clone()),
        ("metrics", metrics_listen(s)),
        ("ready", ready(s)),
        ("data dir", s.data_dir.clone()),
        ("records", s.record_count.to_string()),
        ("borrowers", s.borrower_count.to_string()),
        ("consents", s.consent_count.to_string()),
        ("borrower keys", key_generation(s.borrower_key_generation)),
        ("query log", format!("{} entries", s.log_size)),
        ("store", format!("{} bytes", s.store_bytes)),
        ("signer key", signer_key(s)),
        (
            "disputes",
            format!("{} open, {} overdue", s.disputes_open, s.disputes_overdue),
        ),
    ]);
    for w in &s.warnings {
        out.push_str(&format!("WARNING         {w}\n"));
    }
    out.push_str(&render_reasons(&s.reason_counts));
    out.push_str(&render_flags(s));
    if s.peers.is_empty() {
        out.push_str("peers           none configured\n");
        return out;
    }
    let mut table = Table::new("PEER|REACHABLE|LATENCY|VERSION|LOG|ERROR");
    for p in &s.peers {
        table.row(vec![
            p.institution_id.clone(),
            if p.reachable {
                "yes (mTLS)".into()
            } else {
                "NO".into()
            },
            format!("{} ms", p.latency_ms),
            p.version.clone(),
            p.log_size.to_string(),
            p.error.clone(),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}

/// Oversight flags, witnesses of this log and evidence kept as a witness,
/// one line each.
fn render_flags(s: &pb::StatusResponse) -> String {
    let mut out = String::new();
    for f in &s.oversight_flags {
        out.push_str(&format!(
            "OVERSIGHT       {} by {} purpose {}: {} (threshold {} in {} days)\n",
            code_label::<pb::OversightPattern>(f.pattern),
            f.requester_institution,
            purpose_label(f.purpose),
            f.count,
            f.threshold,
            f.window_days
        ));
    }
    for w in &s.witnesses {
        out.push_str(&format!(
            "WITNESS         {} {}: cosigned size {} (holds {}) {}\n",
            w.institution_id, w.state, w.cosigned_size, w.held_size, w.detail
        ));
    }
    if !s.witness_evidence_against.is_empty() {
        out.push_str(&format!(
            "EVIDENCE        conflicts of {} logged as witness ({} entries)\n",
            s.witness_evidence_against.join(", "),
            s.witness_evidence_entries
        ));
    }
    out
}

/// Peer queries per reason since the node started, as a table (empty when
/// there were none).
fn render_reasons(counts: &[pb::ReasonCount]) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let mut table = Table::new("QUERY REASON|ANSWERED|DENIED|SENT");
    for r in counts {
        table.row(vec![
            purpose_label(r.purpose),
            r.answered.to_string(),
            r.denied.to_string(),
            r.sent.to_string(),
        ]);
    }
    format!("\n{}", table.render())
}
