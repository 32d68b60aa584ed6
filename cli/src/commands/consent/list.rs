//! `credshare consent list`: consents this institution issued, with their
//! state and any revocation still being delivered.

use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use crate::commands::borrower_keys::borrower_key;
use crate::connection::ConnectionArgs;
use crate::output::{Output, Table};

/// Options of `credshare consent list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only this borrower's.
    #[arg(long)]
    pub id: Option<String>,
    /// Include expired, not-yet-valid and revoked consents.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// One consent as listed.
struct Listed {
    id: String,
    grant: pb::ConsentGrant,
    state: String,
    pending: Vec<String>,
}

impl ListArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let resolved = self.conn.resolve()?;
        let mut client = resolved.admin_client().await?;
        let borrower = match &self.id {
            Some(id) => Some(borrower_key(&self.conn, id).await?),
            None => None,
        };
        let r = client
            .list_consents(pb::ListConsentsRequest {
                borrower_key: borrower.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
                include_inactive: self.all,
            })
            .await?
            .into_inner();
        let rows: Vec<Listed> = r.consents.iter().map(listed).collect();
        out.print_list(&rows, listed_json, render);
        Ok(())
    }
}

fn listed(c: &pb::ConsentSummary) -> Listed {
    let grant = c
        .grant
        .as_ref()
        .and_then(|g| pb::ConsentGrant::decode(g.payload.as_slice()).ok())
        .unwrap_or_default();
    Listed {
        id: c.consent_id.clone(),
        grant,
        state: code_label::<pb::ConsentState>(c.state).into_owned(),
        pending: c.revocation_pending.clone(),
    }
}

fn purposes(g: &pb::ConsentGrant) -> Vec<String> {
    g.purposes.iter().map(|p| purpose_label(*p)).collect()
}

fn listed_json(l: &Listed) -> serde_json::Value {
    let g = &l.grant;
    json!({
        "consent_id": l.id, "state": l.state, "borrower_key": hex::encode(&g.borrower_key),
        "purposes": purposes(g),
        "scope": code_label::<pb::Scope>(g.scope), "not_after_ms": g.not_after_ms, "revocation_pending": l.pending,
    })
}

fn render(rows: &[Listed]) -> String {
    let mut t = Table::new("CONSENT|STATE|BORROWER|PURPOSES|SCOPE|UNTIL|REVOCATION PENDING");
    for l in rows {
        t.row(vec![
            l.id.clone(),
            l.state.clone(),
            hex::encode(&l.grant.borrower_key).chars().take(8).collect(),
            purposes(&l.grant).join(","),
            code_label::<pb::Scope>(l.grant.scope).into(),
            crate::dates::time(l.grant.not_after_ms),
            l.pending.join(","),
        ]);
    }
    t.render()
}
