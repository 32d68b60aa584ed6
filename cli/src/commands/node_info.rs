//! `credshare node-info`: any node's identity, through its peer listener.

use credshare_proto::v1 as pb;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::output::{Output, fields};

/// Options of `credshare node-info`.
#[derive(Debug, Clone, clap::Args)]
// The node's peer listener must be named on the command line (the
// CREDSHARE_ADMIN_ADDR default is an admin listener).
#[command(mut_arg("node", |a| a.required(true).env(None::<&str>)))]
pub struct NodeInfoArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl NodeInfoArgs {
    /// Shows a node's identity through its peer listener.
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve()?;
        let mut client = resolved.peer_client(resolved.node_addr()?).await?;
        let info = client
            .get_node_info(pb::GetNodeInfoRequest {})
            .await?
            .into_inner();
        let value = json!({
            "institution": info.institution_id,
            "version": info.version,
            "uptime_seconds": info.uptime_seconds,
            "peers": info.peer_institutions,
            "log_origin": info.log_origin,
            "log_size": info.log_size,
        });
        out.print(&value, || {
            fields(&[
                ("institution", info.institution_id.clone()),
                ("version", info.version.clone()),
                ("uptime", format!("{}s", info.uptime_seconds)),
                ("peers", info.peer_institutions.join(", ")),
                ("log origin", info.log_origin.clone()),
                ("log size", info.log_size.to_string()),
            ])
        });
        Ok(())
    }
}
