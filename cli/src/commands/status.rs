//! `credshare status` (your node, admin listener) and `credshare node-info`
//! (any node's peer listener).

use credshare_proto::v1 as pb;
use serde_json::json;

use crate::client::ConnectionArgs;
use crate::output::{Table, fields, print_json};

/// Shows your node's status and whether it reaches each peer.
pub async fn status(conn: &ConnectionArgs, json: bool) -> anyhow::Result<()> {
    let resolved = conn.resolve()?;
    let addr = resolved.admin_addr()?.to_owned();
    let channel = resolved.channel(&addr).await?;
    let s = fetch_status(channel).await?;
    if json {
        print_json(&status_json(&s));
    } else {
        print!("{}", render_status(&s));
    }
    Ok(())
}

/// Calls `AdminService.Status` on a connected channel.
pub async fn fetch_status(
    channel: tonic::transport::Channel,
) -> anyhow::Result<pb::StatusResponse> {
    let mut client = pb::admin_service_client::AdminServiceClient::new(channel);
    Ok(client.status(pb::StatusRequest {}).await?.into_inner())
}

pub fn status_json(s: &pb::StatusResponse) -> serde_json::Value {
    json!({
        "institution": s.institution_id,
        "version": s.version,
        "uptime_seconds": s.uptime_seconds,
        "peer_listen": s.peer_listen,
        "admin_listen": s.admin_listen,
        "data_dir": s.data_dir,
        "records": s.record_count,
        "borrowers": s.borrower_count,
        "consents": s.consent_count,
        "log_size": s.log_size,
        "store_bytes": s.store_bytes,
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

pub fn render_status(s: &pb::StatusResponse) -> String {
    let mut out = fields(&[
        ("institution", s.institution_id.clone()),
        ("version", s.version.clone()),
        ("uptime", format!("{}s", s.uptime_seconds)),
        ("peer listener", s.peer_listen.clone()),
        ("admin listener", s.admin_listen.clone()),
        ("data dir", s.data_dir.clone()),
        ("records", s.record_count.to_string()),
        ("borrowers", s.borrower_count.to_string()),
        ("consents", s.consent_count.to_string()),
        ("query log", format!("{} entries", s.log_size)),
        ("store", format!("{} bytes", s.store_bytes)),
    ]);
    if s.peers.is_empty() {
        out.push_str("peers           none configured\n");
        return out;
    }
    let mut table = Table::new(&["PEER", "REACHABLE", "LATENCY", "VERSION", "LOG", "ERROR"]);
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

/// Shows a node's identity through its peer listener.
pub async fn node_info(conn: &ConnectionArgs, peer: &str, json: bool) -> anyhow::Result<()> {
    let resolved = conn.resolve()?;
    let channel = resolved.channel(peer).await?;
    let mut client = pb::peer_service_client::PeerServiceClient::new(channel);
    let info = client
        .get_node_info(pb::GetNodeInfoRequest {})
        .await?
        .into_inner();
    if json {
        print_json(&json!({
            "institution": info.institution_id,
            "version": info.version,
            "uptime_seconds": info.uptime_seconds,
            "peers": info.peer_institutions,
            "log_origin": info.log_origin,
            "log_size": info.log_size,
        }));
    } else {
        print!(
            "{}",
            fields(&[
                ("institution", info.institution_id),
                ("version", info.version),
                ("uptime", format!("{}s", info.uptime_seconds)),
                ("peers", info.peer_institutions.join(", ")),
                ("log origin", info.log_origin),
                ("log size", info.log_size.to_string()),
            ])
        );
    }
    Ok(())
}
