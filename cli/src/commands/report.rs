//! `credshare report --id ID --out FILE [--format html|json] [--as-of]`:
//! the borrower's own report (Regulation art. 17) — what your node holds
//! about them (records, annotations, disputes) and every query about them in
//! the last two years, listed and summed per reason, like the national
//! report's summary. The JSON is the report's exact content; the HTML is
//! the same content as one self-contained printable page. The raw id
//! appears only in this file: the node sees the borrower key.

use std::path::PathBuf;

use anyhow::Context;
use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_node::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::{Value, json};

use super::audit::format_time_ms;
use super::dispute::{annotation_json, summary_json};
use super::status::reason_count_json;
use crate::commands::borrower_keys::BorrowerArgs;
use crate::output::Output;
use crate::records_view::{credit_json, visit_json};

/// The report's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Json,
}

/// Options of `credshare report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Where to write the report (it holds the raw id: hand it to the
    /// borrower only).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "html")]
    pub format: Format,
    /// The report's day (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub borrower: BorrowerArgs,
}

impl ReportArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let (mut client, key) = self.borrower.connect().await?;
        let r = client
            .borrower_report(pb::BorrowerReportRequest {
                borrower_key: key.as_bytes().to_vec(),
                as_of_date: self.as_of.clone().unwrap_or_default(),
            })
            .await?
            .into_inner();
        let content = report_json(self.borrower.id.trim(), &hex::encode(key.as_bytes()), &r);
        let text = match self.format {
            Format::Json => serde_json::to_string_pretty(&content)?,
            Format::Html => html::render(&content),
        };
        std::fs::write(&self.out, text).with_context(|| format!("--out {}", self.out.display()))?;
        // The id stays in the file: the summary names the key only.
        let summary = json!({
            "out": self.out, "borrower_key": key.short(),
            "records": r.records.len(), "queries": r.queries.len(),
        });
        out.print(&summary, || {
            format!(
                "report of borrower {} written to {}: {} records, {} queries in two years\n",
                key.short(),
                self.out.display(),
                r.records.len(),
                r.queries.len()
            )
        });
        Ok(())
    }
}

/// The HTML page of a report, for the demo.
pub(crate) fn render_html(id: &str, key_hex: &str, r: &pb::BorrowerReportResponse) -> String {
    html::render(&report_json(id, key_hex, r))
}

/// The report's content.
fn report_json(id: &str, key_hex: &str, r: &pb::BorrowerReportResponse) -> Value {
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    for env in r.records.iter().filter_map(|s| s.envelope.as_ref()) {
        match env.payload_type.as_str() {
            CREDIT_SUMMARY_TYPE => credits.extend(
                pb::CreditSummary::decode(env.payload.as_slice())
                    .ok()
                    .map(|c| credit_json(&c)),
            ),
            VISIT_SUMMARY_TYPE => visits.extend(
                pb::VisitSummary::decode(env.payload.as_slice())
                    .ok()
                    .map(|v| visit_json(&v)),
            ),
            _ => {}
        }
    }
    json!({
        "title": "Credit report of the borrower (信用报告)",
        "borrower_id": id,
        "borrower_key": key_hex,
        "institution": r.institution_id,
        "generated_at": format_time_ms(r.generated_at_ms),
        "as_of_date": r.as_of_date,
        "queries_since_date": r.queries_since_date,
        "credit": credits,
        "visits": visits,
        "annotations": r.annotations.iter().map(annotation_json).collect::<Vec<_>>(),
        "disputes": r.disputes.iter().map(summary_json).collect::<Vec<_>>(),
        "queries": r.queries.iter().map(|q| json!({
            "time": format_time_ms(q.time_ms),
            "direction": if q.sent { "SENT" } else { "RECEIVED" },
            "institution": if q.sent { q.peer_institution.clone() } else { q.requester_institution.clone() },
            "reason": purpose_label(q.purpose),
            "scope": code_label::<pb::Scope>(q.scope),
            "outcome": q.decision,
        })).collect::<Vec<_>>(),
        "summary_by_reason": r.reason_counts.iter().map(|c| {
            let mut value = reason_count_json(c);
            value["total"] = json!(c.answered + c.denied + c.sent);
            value
        }).collect::<Vec<_>>(),
    })
}

/// The HTML page of a report's content: one file, inline style, no
/// scripts, no external assets; every value escaped.
mod html {
    use serde_json::Value;

    const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111}\
        h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #999}\
        table{border-collapse:collapse;width:100%;font-size:.85em}\
        th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}\
        th{background:#eee}@media print{body{margin:0}h2{page-break-after:avoid}}";

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    fn cell(v: &Value) -> String {
        match v {
            Value::String(s) => escape(s),
            Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
            Value::Null => String::new(),
            other => escape(&other.to_string()),
        }
    }

    /// A table of an array of objects, columns from the first object.
    fn table(rows: &Value) -> String {
        let Some(rows) = rows.as_array().filter(|r| !r.is_empty()) else {
            return "<p>None.</p>".into();
        };
        let columns: Vec<String> = rows[0]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut out = String::from("<table><tr>");
        for c in &columns {
            out.push_str(&format!("<th>{}</th>", escape(c)));
        }
        out.push_str("</tr>");
        for row in rows {
            out.push_str("<tr>");
            for c in &columns {
                out.push_str(&format!("<td>{}</td>", cell(&row[c.as_str()])));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        out
    }

    /// The page.
    pub fn render(r: &Value) -> String {
        let sections = [
            (
                "Queries in the last two years, per reason",
                "summary_by_reason",
            ),
            ("Every query", "queries"),
            ("Credit facilities", "credit"),
            ("Post-loan visits", "visits"),
            ("Disputes", "disputes"),
            (
                "Annotations (explanations, statements, dispute marks)",
                "annotations",
            ),
        ];
        let mut body = format!(
            "<h1>{}</h1><table><tr><th>Borrower</th><td>{}</td></tr>\
             <tr><th>Reporting institution</th><td>{}</td></tr>\
             <tr><th>As of</th><td>{}</td></tr><tr><th>Queries since</th><td>{}</td></tr>\
             <tr><th>Generated</th><td>{}</td></tr></table>",
            cell(&r["title"]),
            cell(&r["borrower_id"]),
            cell(&r["institution"]),
            cell(&r["as_of_date"]),
            cell(&r["queries_since_date"]),
            cell(&r["generated_at"]),
        );
        for (title, key) in sections {
            body.push_str(&format!("<h2>{}</h2>{}", escape(title), table(&r[key])));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
            cell(&r["title"])
        )
    }
}
