//! `credshare dispute open | resolve | list` and `credshare annotate`:
//! disputes (异议) and annotations of your institution's records, signed by
//! your node and logged with your officer (Regulation art. 25–26).

use std::path::PathBuf;

use anyhow::Context;
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use crate::commands::borrower_keys::BorrowerArgs;
use crate::connection::ConnectionArgs;
use crate::output::{Output, Table};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DisputeCommand {
    /// Mark a record as disputed at once (answer due in 20 days), with the
    /// borrower's optional statement.
    Open(OpenArgs),
    /// Resolve a dispute: corrected (import the new version first),
    /// confirmed or unresolved.
    Resolve(ResolveArgs),
    /// Disputes at your node (oldest first).
    List(ListArgs),
}

run_subcommands!(DisputeCommand: Open, Resolve, List);

#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    /// The disputed record: a facility id or visit id.
    #[arg(long)]
    pub record: String,
    /// What the borrower objects to (no identifiers).
    #[arg(long)]
    pub reason: String,
    /// A file holding the borrower's statement (UTF-8 text).
    #[arg(long)]
    pub statement: Option<PathBuf>,
    /// The day the dispute is opened (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

impl OpenArgs {
    async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let statement = match &self.statement {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("--statement {}", path.display()))?,
            None => String::new(),
        };
        let (mut client, key) = self.borrower.connect().await?;
        let r = client
            .open_dispute(pb::OpenDisputeRequest {
                borrower_key: key.as_bytes().to_vec(),
                record_id: self.record.clone(),
                reason: self.reason.clone(),
                statement: statement.trim().to_owned(),
                as_of_date: self.as_of.clone().unwrap_or_default(),
            })
            .await?
            .into_inner();
        print_response(out, &r);
        Ok(())
    }
}

/// Outcome of a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Outcome {
    Corrected,
    Confirmed,
    Unresolved,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ResolveArgs {
    #[arg(long)]
    pub id: String,
    #[arg(long, value_enum)]
    pub outcome: Outcome,
    /// The written answer (no identifiers).
    #[arg(long)]
    pub note: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl ResolveArgs {
    async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let outcome = match self.outcome {
            Outcome::Corrected => pb::DisputeStatus::Corrected,
            Outcome::Confirmed => pb::DisputeStatus::Confirmed,
            Outcome::Unresolved => pb::DisputeStatus::Unresolved,
        };
        let mut client = self.conn.resolve()?.admin_client().await?;
        let r = client
            .resolve_dispute(pb::ResolveDisputeRequest {
                dispute_id: self.id.clone(),
                outcome: outcome as i32,
                note: self.note.clone(),
            })
            .await?
            .into_inner();
        print_response(out, &r);
        Ok(())
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only open disputes past their due date.
    #[arg(long)]
    pub overdue: bool,
    /// The day to evaluate on (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl ListArgs {
    async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut client = self.conn.resolve()?.admin_client().await?;
        let list = client
            .list_disputes(pb::ListDisputesRequest {
                overdue_only: self.overdue,
                as_of_date: self.as_of.clone().unwrap_or_default(),
                borrower_key: Vec::new(),
            })
            .await?
            .into_inner()
            .disputes;
        out.print_list(&list, summary_json, render);
        Ok(())
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct AnnotateArgs {
    /// The record: a facility id or visit id.
    #[arg(long)]
    pub record: String,
    /// Who speaks: the provider's explanation or the borrower's statement.
    #[arg(long, value_enum, default_value = "explanation")]
    pub kind: AnnotationKind,
    /// The text (no identifiers).
    #[arg(long)]
    pub text: String,
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

/// Annotation types an officer adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnnotationKind {
    /// 数据提供机构说明.
    Explanation,
    /// 信息主体声明.
    Statement,
}

impl AnnotateArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let kind = match self.kind {
            AnnotationKind::Explanation => pb::AnnotationType::ProviderExplanation,
            AnnotationKind::Statement => pb::AnnotationType::BorrowerStatement,
        };
        let (mut client, key) = self.borrower.connect().await?;
        let r = client
            .annotate(pb::AnnotateRequest {
                borrower_key: key.as_bytes().to_vec(),
                record_id: self.record.clone(),
                r#type: kind as i32,
                text: self.text.clone(),
            })
            .await?
            .into_inner();
        let a = r.annotation.as_ref().map(annotation_json);
        out.print(&json!({ "annotation": a }), || {
            format!("annotation signed and stored for record {}\n", self.record)
        });
        Ok(())
    }
}

pub(crate) fn annotation_json(env: &pb::SignedEnvelope) -> serde_json::Value {
    use prost::Message;
    let a = pb::Annotation::decode(env.payload.as_slice()).unwrap_or_default();
    json!({
        "annotation_id": a.annotation_id,
        "record_id": a.record_id,
        "type": code_label::<pb::AnnotationType>(a.r#type),
        "text": a.text,
        "dispute_id": a.dispute_id,
        "status": code_label::<pb::DisputeStatus>(a.dispute_status),
        "opened_date": a.opened_date,
        "due_date": a.due_date,
        "resolution_note": a.resolution_note,
        "officer": a.officer,
    })
}

fn print_response(out: &Output, r: &pb::DisputeResponse) {
    let mark = r.mark.as_ref().map(annotation_json);
    let value = json!({
        "dispute_id": r.dispute_id,
        "mark": mark,
        "annotations": r.annotations.iter().map(annotation_json).collect::<Vec<_>>(),
    });
    out.print(&value, || {
        let m = mark.clone().unwrap_or_default();
        format!(
            "dispute {}: record {} {} (due {})\n",
            r.dispute_id, m["record_id"], m["status"], m["due_date"]
        )
    });
}

pub(crate) fn summary_json(d: &pb::DisputeSummary) -> serde_json::Value {
    json!({
        "dispute_id": d.dispute_id,
        "borrower": hex::encode(&d.borrower_key),
        "record_id": d.record_id,
        "status": code_label::<pb::DisputeStatus>(d.status),
        "opened_date": d.opened_date,
        "due_date": d.due_date,
        "days_overdue": d.days_overdue,
        "reason": d.reason,
        "officer": d.officer,
        "resolution_note": d.resolution_note,
    })
}

fn render(list: &[pb::DisputeSummary]) -> String {
    let mut t = Table::new("DISPUTE|RECORD|STATUS|OPENED|DUE|OVERDUE|OFFICER|REASON");
    for d in list {
        t.row(vec![
            d.dispute_id.clone(),
            d.record_id.clone(),
            code_label::<pb::DisputeStatus>(d.status).into(),
            d.opened_date.clone(),
            d.due_date.clone(),
            if d.days_overdue > 0 {
                format!("{} days", d.days_overdue)
            } else {
                String::new()
            },
            d.officer.clone(),
            d.reason.clone(),
        ]);
    }
    t.render()
}
