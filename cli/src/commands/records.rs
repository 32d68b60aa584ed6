//! `credshare records import` and `credshare borrower show`.
//!
//! Raw borrower identifiers are hashed here, with the consortium secret,
//! before anything is sent: the node never sees them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use futures::StreamExt;
use prost::Message;
use serde_json::json;
use tonic::transport::Channel;

use crate::client::ConnectionArgs;
use crate::output::{Partial, Table, print_json};
use crate::rows::{ImportContext, RecordKind, RecordReader, RowError};

/// Rows per gRPC message (the node's default limit is 1000).
pub const ROWS_PER_MESSAGE: usize = 1000;
/// Rows per `ImportRecords` call; each call is one acknowledgement.
pub const ROWS_PER_CALL: usize = 20_000;
/// Calls in flight at once.
const CALLS_IN_FLIGHT: usize = 2;

/// Options of `credshare records import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// A .csv (with header) or .jsonl file; columns are listed in the README.
    pub file: PathBuf,
    /// What the file holds.
    #[arg(long, value_enum)]
    pub kind: RecordKind,
    /// Validate only; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write rejected rows (row, field, reason) to this CSV file.
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    /// Rows per acknowledged call.
    #[arg(long, default_value_t = ROWS_PER_CALL)]
    pub rows_per_call: usize,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// Counts of one import.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportTotals {
    pub rows: u64,
    pub stored: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Milliseconds from sending each call to its acknowledgement.
    #[serde(skip)]
    pub call_latencies_ms: Vec<f64>,
}

pub struct Rejects {
    /// Print nothing per call (benchmarks).
    pub quiet: bool,
    writer: Option<csv::Writer<std::fs::File>>,
    shown: usize,
    json: bool,
}

impl Rejects {
    pub fn open(path: Option<&Path>, json: bool) -> anyhow::Result<Self> {
        let writer = match path {
            Some(p) => {
                let mut w = csv::Writer::from_path(p)
                    .with_context(|| format!("creating {}", p.display()))?;
                w.write_record(["row", "field", "reason"])?;
                Some(w)
            }
            None => None,
        };
        Ok(Self {
            quiet: false,
            writer,
            shown: 0,
            json,
        })
    }

    fn add(&mut self, row: u64, field: &str, reason: &str) -> anyhow::Result<()> {
        if let Some(w) = &mut self.writer {
            w.write_record([row.to_string().as_str(), field, reason])?;
        }
        // The first few go to the terminal too; the rest are counted.
        if self.shown < 20 && !self.json {
            self.shown += 1;
            eprintln!(
                "rejected row {row}: {}{reason}",
                if field.is_empty() {
                    String::new()
                } else {
                    format!("{field}: ")
                }
            );
        }
        Ok(())
    }
}

/// `credshare records import`.
pub async fn import(args: &ImportArgs, json: bool) -> anyhow::Result<()> {
    let resolved = args.conn.resolve()?;
    let institution = resolved.tls()?.identity()?.institution;
    let secret_path = resolved.secret.clone().ok_or_else(|| {
        anyhow!("no consortium secret: pass --secret FILE, set CREDSHARE_SECRET, or use a profile")
    })?;
    let secret = ConsortiumSecret::from_file(&secret_path)?;
    let reader = RecordReader::open(
        &args.file,
        args.kind,
        ImportContext::new(institution, secret),
    )?;
    let client = if args.dry_run {
        None
    } else {
        let addr = resolved.admin_addr()?.to_owned();
        Some(pb::admin_service_client::AdminServiceClient::new(
            resolved.channel(&addr).await?,
        ))
    };
    let mut rejects = Rejects::open(args.reject_file.as_deref(), json)?;
    let totals = run_import(
        reader,
        client,
        args.rows_per_call.max(1),
        &mut rejects,
        json,
    )
    .await?;
    if let Some(w) = &mut rejects.writer {
        w.flush()?;
    }
    if json {
        // One line, like the "ack" events before it (JSON Lines).
        println!(
            "{}",
            json!({"event": "summary", "dry_run": args.dry_run, "totals": totals})
        );
    } else {
        println!(
            "{}: {} rows, {} stored, {} unchanged, {} rejected in {:.1}s ({:.0} rows/s){}",
            if args.dry_run {
                "validated"
            } else {
                "imported"
            },
            totals.rows,
            totals.stored,
            totals.unchanged,
            totals.rejected,
            totals.seconds,
            totals.rows_per_second,
            args.reject_file
                .as_ref()
                .map(|p| format!("; rejected rows in {}", p.display()))
                .unwrap_or_default()
        );
    }
    if totals.rejected > 0 {
        return Err(anyhow!(Partial(format!(
            "{} rows rejected",
            totals.rejected
        ))));
    }
    Ok(())
}

type Client = pb::admin_service_client::AdminServiceClient<Channel>;

pub async fn run_import(
    mut reader: RecordReader<std::fs::File>,
    client: Option<Client>,
    rows_per_call: usize,
    rejects: &mut Rejects,
    json: bool,
) -> anyhow::Result<ImportTotals> {
    let started = Instant::now();
    let bar = progress_bar(json);
    let mut totals = ImportTotals::default();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    loop {
        // Parse the next call's rows while earlier calls are in flight.
        let mut chunk: Vec<pb::ImportRow> = Vec::with_capacity(rows_per_call);
        let mut last_row = 0;
        for item in reader.by_ref() {
            totals.rows += 1;
            match item {
                Ok(parsed) => {
                    last_row = parsed.row;
                    chunk.push(parsed.into());
                }
                Err(RowError { row, field, reason }) => {
                    last_row = row;
                    totals.rejected += 1;
                    rejects.add(row, &field, &reason)?;
                }
            }
            if chunk.len() >= rows_per_call {
                break;
            }
        }
        let done = chunk.is_empty();
        if let Some(client) = &client {
            if !chunk.is_empty() {
                let mut client = client.clone();
                in_flight.push_back(async move {
                    let sent = Instant::now();
                    let n = chunk.len() as u64;
                    let messages: Vec<pb::ImportRecordsRequest> = chunk
                        .chunks(ROWS_PER_MESSAGE)
                        .map(|rows| pb::ImportRecordsRequest {
                            rows: rows.to_vec(),
                        })
                        .collect();
                    let response = client.import_records(tokio_stream::iter(messages)).await;
                    (n, last_row, response, sent.elapsed().as_secs_f64() * 1000.0)
                });
            }
            while in_flight.len() >= CALLS_IN_FLIGHT || (done && !in_flight.is_empty()) {
                let Some((n, through_row, response, latency_ms)) = in_flight.next().await else {
                    break;
                };
                totals.call_latencies_ms.push(latency_ms);
                let response = response?.into_inner();
                totals.stored += response.stored;
                totals.unchanged += response.unchanged;
                totals.rejected += response.rejected;
                for r in &response.rejections {
                    rejects.add(r.row_number, &r.field, &r.reason)?;
                }
                if json {
                    println!(
                        "{}",
                        json!({"event": "ack", "rows": n, "through_row": through_row, "stored": totals.stored, "unchanged": totals.unchanged})
                    );
                }
                bar.set_position(totals.stored + totals.unchanged + totals.rejected);
            }
        } else {
            bar.set_position(totals.rows);
        }
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    totals.seconds = started.elapsed().as_secs_f64();
    totals.rows_per_second = totals.rows as f64 / totals.seconds.max(1e-9);
    Ok(totals)
}

fn progress_bar(json: bool) -> indicatif::ProgressBar {
    if json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos} rows acknowledged  {per_sec}  {elapsed}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Options of `credshare borrower show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// Borrower id, e.g. USCC:91350100M000100Y43 or RID:11010519491231002X.
    #[arg(long)]
    pub id: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// Hashes a raw id with the consortium secret (from the connection options).
pub fn borrower_key(id: &str, conn: &crate::client::Resolved) -> anyhow::Result<BorrowerKey> {
    let secret_path = conn.secret.as_ref().ok_or_else(|| {
        anyhow!("no consortium secret: pass --secret FILE, set CREDSHARE_SECRET, or use a profile")
    })?;
    let secret = ConsortiumSecret::from_file(secret_path)?;
    let id = BorrowerId::parse(id).context("--id")?;
    Ok(BorrowerKey::derive(&secret, &id))
}

/// `credshare borrower show`.
pub async fn show(args: &ShowArgs, json: bool) -> anyhow::Result<()> {
    let resolved = args.conn.resolve()?;
    let key = borrower_key(&args.id, &resolved)?;
    let addr = resolved.admin_addr()?.to_owned();
    let mut client =
        pb::admin_service_client::AdminServiceClient::new(resolved.channel(&addr).await?);
    let response = client
        .get_borrower(pb::GetBorrowerRequest {
            borrower_key: key.as_bytes().to_vec(),
        })
        .await?
        .into_inner();
    let (credits, visits) = decode_records(&response.records)?;
    if json {
        print_json(&json!({
            "borrower_key": key.to_string(),
            "history_count": response.history_count,
            "credit": credits.iter().map(credit_json).collect::<Vec<_>>(),
            "visits": visits.iter().map(visit_json).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    println!(
        "borrower key {} — {} current records, {} versions stored",
        key.short(),
        response.records.len(),
        response.history_count
    );
    let mut t = Table::new(&[
        "FACILITY",
        "V",
        "TYPE",
        "CCY",
        "CONTRACT",
        "OUTSTANDING",
        "CLASS",
        "OVERDUE",
        "STATUS",
        "AS OF",
    ]);
    for c in &credits {
        t.row(vec![
            c.facility_id.clone(),
            c.version.to_string(),
            code_label::<pb::FacilityType>(c.facility_type).into(),
            c.currency.clone(),
            minor(c.contract_amount),
            minor(c.outstanding_balance),
            code_label::<pb::RiskClass>(c.risk_class).into(),
            format!("{}d", c.overdue_days),
            code_label::<pb::AccountStatus>(c.account_status).into(),
            c.as_of_date.clone(),
        ]);
    }
    println!("\ncredit summaries\n{}", t.render());
    let mut t = Table::new(&[
        "VISIT",
        "FACILITY",
        "DATE",
        "TYPE",
        "FUNDS",
        "OPERATIONS",
        "SIGNALS",
        "PROPOSED",
    ]);
    for v in &visits {
        t.row(vec![
            v.visit_id.clone(),
            v.facility_id.clone(),
            v.visit_date.clone(),
            code_label::<pb::VisitType>(v.visit_type).into(),
            code_label::<pb::FundUsage>(v.fund_usage).into(),
            code_label::<pb::OperationsStatus>(v.operations).into(),
            v.warning_signals
                .iter()
                .map(|s| code_label::<pb::WarningSignal>(*s).into_owned())
                .collect::<Vec<_>>()
                .join(","),
            code_label::<pb::RiskClass>(v.proposed_risk_class).into(),
        ]);
    }
    println!("visit summaries\n{}", t.render());
    Ok(())
}

/// Decodes the payloads of stored envelopes by their payload type.
pub fn decode_records(
    records: &[pb::StoredRecord],
) -> anyhow::Result<(Vec<pb::CreditSummary>, Vec<pb::VisitSummary>)> {
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    for r in records {
        let env = r
            .envelope
            .as_ref()
            .ok_or_else(|| anyhow!("stored record without envelope"))?;
        match env.payload_type.as_str() {
            credshare_node::signing::CREDIT_SUMMARY_TYPE => {
                credits.push(pb::CreditSummary::decode(env.payload.as_slice())?)
            }
            credshare_node::signing::VISIT_SUMMARY_TYPE => {
                visits.push(pb::VisitSummary::decode(env.payload.as_slice())?)
            }
            other => return Err(anyhow!("unknown payload type {other}")),
        }
    }
    Ok((credits, visits))
}

fn minor(amount: i64) -> String {
    format!("{}.{:02}", amount / 100, (amount % 100).abs())
}

fn credit_json(c: &pb::CreditSummary) -> serde_json::Value {
    json!({
        "facility_id": c.facility_id, "version": c.version, "institution": c.institution_id,
        "facility_type": code_label::<pb::FacilityType>(c.facility_type), "currency": c.currency,
        "contract_amount": c.contract_amount, "outstanding_balance": c.outstanding_balance,
        "open_date": c.open_date, "maturity_date": c.maturity_date,
        "guarantee_type": code_label::<pb::GuaranteeType>(c.guarantee_type),
        "risk_class": code_label::<pb::RiskClass>(c.risk_class),
        "overdue_principal": c.overdue_principal, "overdue_total": c.overdue_total, "overdue_days": c.overdue_days,
        "account_status": code_label::<pb::AccountStatus>(c.account_status), "as_of_date": c.as_of_date,
    })
}

fn visit_json(v: &pb::VisitSummary) -> serde_json::Value {
    json!({
        "visit_id": v.visit_id, "version": v.version, "institution": v.institution_id, "facility_id": v.facility_id,
        "visit_date": v.visit_date, "visit_type": code_label::<pb::VisitType>(v.visit_type),
        "channel": code_label::<pb::VisitChannel>(v.channel), "fund_usage": code_label::<pb::FundUsage>(v.fund_usage),
        "operations": code_label::<pb::OperationsStatus>(v.operations),
        "project_progress": code_label::<pb::ProjectProgress>(v.project_progress),
        "collateral": code_label::<pb::CollateralStatus>(v.collateral),
        "guarantor": code_label::<pb::GuarantorStatus>(v.guarantor),
        "warning_signals": v.warning_signals.iter().map(|s| code_label::<pb::WarningSignal>(*s)).collect::<Vec<_>>(),
        "proposed_risk_class": code_label::<pb::RiskClass>(v.proposed_risk_class),
        "action_taken": code_label::<pb::ActionTaken>(v.action_taken), "conclusion": v.conclusion,
    })
}
