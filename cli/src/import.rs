//! The streaming import engine behind `credshare records import`, the demo
//! and `credshare bench import`: rows are parsed (and their borrower ids
//! hashed) while earlier calls are in flight; each `ImportRecords` call is
//! one durable acknowledgement.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use credshare_proto::v1 as pb;
use futures::StreamExt;
use serde_json::json;

use crate::connection::AdminClient;
use crate::output::Output;
use crate::rows::{ImportContext, RecordKind, RecordReader, RowError};

/// Rows per gRPC message (the node's default limit is 1000).
pub const ROWS_PER_MESSAGE: usize = 1000;
/// Rows per `ImportRecords` call; each call is one acknowledgement.
pub const ROWS_PER_CALL: usize = 20_000;
/// Calls in flight at once.
const CALLS_IN_FLIGHT: usize = 2;
/// Rejected rows shown on the terminal; the rest are counted.
const REJECTS_SHOWN: usize = 20;

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

/// Where rejected rows go: a CSV file if asked, and the first few to the
/// terminal.
pub struct Rejects {
    writer: Option<csv::Writer<std::fs::File>>,
    shown: usize,
    out: Output,
}

impl Rejects {
    pub fn open(path: Option<&Path>, out: Output) -> anyhow::Result<Self> {
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
            writer,
            shown: 0,
            out,
        })
    }

    fn add(&mut self, row: u64, field: &str, reason: &str) -> anyhow::Result<()> {
        if let Some(w) = &mut self.writer {
            w.write_record([row.to_string().as_str(), field, reason])?;
        }
        if self.shown < REJECTS_SHOWN && !self.out.is_json() {
            self.shown += 1;
            let field = if field.is_empty() {
                String::new()
            } else {
                format!("{field}: ")
            };
            eprintln!("rejected row {row}: {field}{reason}");
        }
        Ok(())
    }

    /// Flushes the reject file, if any.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        Ok(())
    }
}

/// One call's worth of parsed rows.
struct Chunk {
    rows: Vec<pb::ImportRow>,
    last_row: u64,
}

/// What a call's acknowledgement said, and how long it took.
type Acked = (
    u64,
    u64,
    Result<tonic::Response<pb::ImportRecordsResponse>, tonic::Status>,
    f64,
);

/// Reads every row and, with a client, imports them `rows_per_call` rows
/// per acknowledged call (dry run without one). With `--json`, prints an
/// `ack` event per acknowledged call.
pub async fn run_import(
    mut reader: RecordReader<std::fs::File>,
    client: Option<AdminClient>,
    rows_per_call: usize,
    rejects: &mut Rejects,
    out: &Output,
) -> anyhow::Result<ImportTotals> {
    let started = Instant::now();
    let bar = progress_bar(out);
    let mut totals = ImportTotals::default();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    loop {
        // Parse the next call's rows while earlier calls are in flight.
        let chunk = next_chunk(&mut reader, rows_per_call, &mut totals, rejects)?;
        let done = chunk.rows.is_empty();
        let Some(client) = &client else {
            bar.set_position(totals.rows);
            if done {
                break;
            }
            continue;
        };
        if !done {
            in_flight.push_back(send(client.clone(), chunk));
        }
        while in_flight.len() >= CALLS_IN_FLIGHT || (done && !in_flight.is_empty()) {
            let Some(acked) = in_flight.next().await else {
                break;
            };
            record_ack(acked, &mut totals, rejects, out)?;
            bar.set_position(totals.stored + totals.unchanged + totals.rejected);
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

/// Up to `rows_per_call` valid rows; invalid ones are counted and reported.
fn next_chunk(
    reader: &mut RecordReader<std::fs::File>,
    rows_per_call: usize,
    totals: &mut ImportTotals,
    rejects: &mut Rejects,
) -> anyhow::Result<Chunk> {
    let mut chunk = Chunk {
        rows: Vec::with_capacity(rows_per_call),
        last_row: 0,
    };
    for item in reader.by_ref() {
        totals.rows += 1;
        match item {
            Ok(parsed) => {
                chunk.last_row = parsed.row;
                chunk.rows.push(parsed.into());
            }
            Err(RowError { row, field, reason }) => {
                chunk.last_row = row;
                totals.rejected += 1;
                rejects.add(row, &field, &reason)?;
            }
        }
        if chunk.rows.len() >= rows_per_call {
            break;
        }
    }
    Ok(chunk)
}

/// One `ImportRecords` call of `chunk`, in messages of [`ROWS_PER_MESSAGE`].
async fn send(mut client: AdminClient, chunk: Chunk) -> Acked {
    let sent = Instant::now();
    let n = chunk.rows.len() as u64;
    let messages: Vec<pb::ImportRecordsRequest> = chunk
        .rows
        .chunks(ROWS_PER_MESSAGE)
        .map(|rows| pb::ImportRecordsRequest {
            rows: rows.to_vec(),
        })
        .collect();
    let response = client.import_records(tokio_stream::iter(messages)).await;
    let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
    (n, chunk.last_row, response, latency_ms)
}

fn record_ack(
    (n, through_row, response, latency_ms): Acked,
    totals: &mut ImportTotals,
    rejects: &mut Rejects,
    out: &Output,
) -> anyhow::Result<()> {
    totals.call_latencies_ms.push(latency_ms);
    let response = response?.into_inner();
    totals.stored += response.stored;
    totals.unchanged += response.unchanged;
    totals.rejected += response.rejected;
    for r in &response.rejections {
        rejects.add(r.row_number, &r.field, &r.reason)?;
    }
    out.event(&json!({"event": "ack", "rows": n, "through_row": through_row, "stored": totals.stored, "unchanged": totals.unchanged}));
    Ok(())
}

fn progress_bar(out: &Output) -> indicatif::ProgressBar {
    let bar = out.progress(
        indicatif::ProgressBar::new_spinner(),
        "{spinner} {pos} rows acknowledged  {per_sec}  {elapsed}",
    );
    if !out.is_json() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}

/// Imports one whole file through `client` (no reject file), as the demo
/// and the benchmarks do.
pub async fn import_file(
    client: AdminClient,
    file: &Path,
    kind: RecordKind,
    context: ImportContext,
    out: &Output,
) -> anyhow::Result<ImportTotals> {
    let reader = RecordReader::open(file, kind, context)?;
    let mut rejects = Rejects::open(None, *out)?;
    run_import(reader, Some(client), ROWS_PER_CALL, &mut rejects, out).await
}
