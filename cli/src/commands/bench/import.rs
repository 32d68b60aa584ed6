//! `credshare bench import`: end-to-end import throughput against a real
//! node over mTLS (durable acknowledgements), beside a raw sled baseline of
//! the same rows measured in the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use credshare_node::pki::InstitutionId;
use prost::Message;

use super::{BenchNode, cpu_seconds, quantile, rss_kib};
use crate::import::{ImportTotals, ROWS_PER_CALL, import_file};
use crate::output::Output;
use crate::rows::{ImportContext, RecordKind, RecordReader};

/// Options of `credshare bench import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportBenchArgs {
    /// Keep the work directory (PKI, node config, store, node log) here.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Rows to import.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
}

impl ImportBenchArgs {
    /// `credshare bench import`.
    pub async fn run(&self) -> anyhow::Result<()> {
        println!(
            "preparing: dev consortium, one node, {} sample credit rows",
            self.rows
        );
        let institution = InstitutionId::parse("BANK-A")?;
        let mut bench = BenchNode::start(self.dir.as_deref(), institution.as_str())?;
        let root = bench.ws.root.clone();
        // About 1.65 credit rows per sample borrower.
        let borrowers = (self.rows * 10 / 16).max(1);
        let sample =
            crate::sample::write_sample(&institution, borrowers, 11, &root.join("sample"))?;
        let file = truncate_csv(&sample.credit_file, self.rows, &root.join("bench.csv"))?;

        let context = bench.import_context(&institution)?;
        // JSON output: an ack event per call, no progress bar.
        let quiet = Output::new(true);
        let cpu_before = cpu_seconds(bench.node.pid());
        let totals = import_file(
            bench.admin().await?,
            &file,
            RecordKind::Credit,
            context,
            &quiet,
        )
        .await?;
        let rss = rss_kib(bench.node.pid());
        let node_cpu = cpu_seconds(bench.node.pid())
            .zip(cpu_before)
            .map(|(a, b)| a - b);
        bench.node.stop()?;

        let context = bench.import_context(&institution)?;
        let me = Some(std::process::id());
        let cpu_before = cpu_seconds(me);
        let (baseline_rows, baseline_secs) =
            raw_sled_baseline(&file, context, &root.join("baseline"))?;
        let baseline_cpu = cpu_seconds(me).zip(cpu_before).map(|(a, b)| a - b);
        let baseline = Measured {
            rate: baseline_rows as f64 / baseline_secs,
            cpu: baseline_cpu,
        };
        report(&totals, node_cpu, &baseline, rss);
        Ok(())
    }
}

/// The raw baseline's figures.
struct Measured {
    /// Records per second (wall time).
    rate: f64,
    /// CPU seconds used.
    cpu: Option<f64>,
}

/// CPU milliseconds per 1,000 records, or "n/a".
fn cpu_per_1k(cpu: Option<f64>, records: f64) -> String {
    cpu.map(|c| format!("{:.0} ms", c * 1e6 / records.max(1.0)))
        .unwrap_or_else(|| "n/a".into())
}

fn report(totals: &ImportTotals, node_cpu: Option<f64>, baseline: &Measured, rss: Option<u64>) {
    let baseline_rate = baseline.rate;
    let mut lat = totals.call_latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    println!(
        "\ncredshare bench import ({} rows, {} per acknowledged call)",
        totals.rows, ROWS_PER_CALL
    );
    println!(
        "  end to end (CLI parse+hash → mTLS → validate+sign → group commit + fdatasync → ack)"
    );
    println!("    records/s         {:>10.0}", totals.rows_per_second);
    println!("    stored            {:>10}", totals.stored);
    println!(
        "    node CPU / 1k     {:>10}",
        cpu_per_1k(node_cpu, totals.rows as f64)
    );
    println!("    call latency p50  {:>10.1} ms", quantile(&lat, 0.5));
    println!("    call latency p99  {:>10.1} ms", quantile(&lat, 0.99));
    println!(
        "    node RSS (peak)   {:>10} KiB",
        rss.map(|r| r.to_string()).unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  raw sled baseline (same rows, parse+hash+encode, batches of {ROWS_PER_CALL}, flush + fdatasync)"
    );
    println!("    records/s         {:>10.0}", baseline_rate);
    println!(
        "    CPU / 1k          {:>10}",
        cpu_per_1k(baseline.cpu, totals.rows as f64)
    );
    println!(
        "  ratio end-to-end / baseline {:.2}",
        totals.rows_per_second / baseline_rate
    );
}

/// The first `rows` data rows of a CSV file, with its header.
fn truncate_csv(src: &Path, rows: u64, out: &Path) -> anyhow::Result<std::path::PathBuf> {
    let text =
        std::fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    let lines: Vec<&str> = text.lines().take(rows as usize + 1).collect();
    std::fs::write(out, lines.join("\n") + "\n")?;
    Ok(out.to_path_buf())
}

/// Inserts the same rows straight into sled, configured as the node's store:
/// parse and hash as the CLI does, encode, batch, flush and fdatasync. No
/// TLS, no validation, no signature.
fn raw_sled_baseline(file: &Path, ctx: ImportContext, dir: &Path) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let db = credshare_node::storage::sled_config(dir)
        .cache_capacity(256 << 20)
        .open()?;
    let tree = db.open_tree("baseline")?;
    let mut batch = sled::Batch::default();
    let mut n = 0u64;
    let mut pending = 0;
    for row in RecordReader::open(file, RecordKind::Credit, ctx)? {
        let Ok(row) = row else { continue };
        let bytes = row.record.encode_to_vec();
        let mut key = row.row.to_be_bytes().to_vec();
        key.extend_from_slice(&ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref()[..8]);
        batch.insert(key, bytes);
        n += 1;
        pending += 1;
        if pending == ROWS_PER_CALL {
            tree.apply_batch(std::mem::take(&mut batch))?;
            db.flush()?;
            credshare_node::storage::durability::sync_dir_files(dir)?;
            pending = 0;
        }
    }
    tree.apply_batch(batch)?;
    db.flush()?;
    credshare_node::storage::durability::sync_dir_files(dir)?;
    Ok((n, started.elapsed().as_secs_f64()))
}
