//! `credshare bench import`: end-to-end import throughput against a real
//! node over mTLS (durable acknowledgements), beside a raw sled baseline of
//! the same rows measured in the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use credshare_node::domain::borrower::ConsortiumSecret;
use credshare_node::pki::InstitutionId;
use credshare_proto::v1 as pb;
use prost::Message;

use crate::commands::demo;
use crate::commands::records::{self, ROWS_PER_CALL};
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

/// A benchmark's work directory with a fresh dev consortium and secret.
pub struct BenchWorkspace {
    /// Removed on drop unless the user named a directory.
    _temp: Option<tempfile::TempDir>,
    pub root: std::path::PathBuf,
    pub pki: std::path::PathBuf,
    pub secret: std::path::PathBuf,
}

impl BenchWorkspace {
    /// In `dir` (kept) or a temporary directory (removed).
    pub fn create(dir: Option<&Path>) -> anyhow::Result<Self> {
        let (temp, root) = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, std::path::absolute(d)?)
            }
            None => {
                let t = tempfile::tempdir()?;
                let root = t.path().to_path_buf();
                (Some(t), root)
            }
        };
        let pki = root.join("pki");
        crate::pki::dev_consortium(&pki)?;
        let secret = pki.join("consortium.secret");
        credshare_node::domain::borrower::generate_secret_file(&secret)?;
        Ok(Self {
            _temp: temp,
            root,
            pki,
            secret,
        })
    }
}

/// `credshare bench import`.
pub async fn import(args: &ImportBenchArgs) -> anyhow::Result<()> {
    println!(
        "preparing: dev consortium, one node, {} sample credit rows",
        args.rows
    );
    let ws = BenchWorkspace::create(args.dir.as_deref())?;
    let (root, pki, secret) = (ws.root.as_path(), &ws.pki, &ws.secret);
    let institution = InstitutionId::parse("BANK-A")?;
    // About 1.65 credit rows per sample borrower.
    let borrowers = (args.rows * 10 / 16).max(1);
    let sample = crate::sample::write_sample(&institution, borrowers, 11, &root.join("sample"))?;
    let file = truncate_csv(&sample.credit_file, args.rows, &root.join("bench.csv"))?;

    let mut nodes = demo::start_nodes_for(root, pki, secret, &["BANK-A"]).await?;
    let node = &nodes[0];
    let ctx = ImportContext::new(institution.clone(), ConsortiumSecret::from_file(secret)?);
    let reader = RecordReader::open(&file, RecordKind::Credit, ctx)?;
    let client = pb::admin_service_client::AdminServiceClient::new(demo::channel(node).await?);
    let mut rejects = records::Rejects::open(None, true)?;
    rejects.quiet = true;
    let totals =
        records::run_import(reader, Some(client), ROWS_PER_CALL, &mut rejects, true).await?;
    let rss = rss_kib(node.child.id());
    for n in &mut nodes {
        demo::stop(&mut n.child)?;
    }

    let ctx = ImportContext::new(institution, ConsortiumSecret::from_file(secret)?);
    let (baseline_rows, baseline_secs) = raw_sled_baseline(&file, ctx, &root.join("baseline"))?;
    let baseline_rate = baseline_rows as f64 / baseline_secs;

    let mut lat = totals.call_latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "\ncredshare bench import ({} rows, {} per acknowledged call)",
        totals.rows, ROWS_PER_CALL
    );
    println!(
        "  end to end (CLI parse+hash → mTLS → validate+sign → group commit + fdatasync → ack)"
    );
    println!("    records/s         {:>10.0}", totals.rows_per_second);
    println!("    stored            {:>10}", totals.stored);
    println!("    call latency p50  {:>10.1} ms", pct(0.5));
    println!("    call latency p99  {:>10.1} ms", pct(0.99));
    println!(
        "    node RSS (peak)   {:>10} KiB",
        rss.map(|r| r.to_string()).unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  raw sled baseline (same rows, parse+hash+encode, batches of {ROWS_PER_CALL}, flush + fdatasync)"
    );
    println!("    records/s         {:>10.0}", baseline_rate);
    println!(
        "  ratio end-to-end / baseline {:.2}",
        totals.rows_per_second / baseline_rate
    );
    Ok(())
}

/// The first `rows` data rows of a CSV file, with its header.
fn truncate_csv(src: &Path, rows: u64, out: &Path) -> anyhow::Result<std::path::PathBuf> {
    let text =
        std::fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    let lines: Vec<&str> = text.lines().take(rows as usize + 1).collect();
    std::fs::write(out, lines.join("\n") + "\n")?;
    Ok(out.to_path_buf())
}

/// Inserts the same rows straight into sled: parse and hash as the CLI does,
/// encode, batch, flush and fdatasync. No TLS, no validation, no signature.
fn raw_sled_baseline(file: &Path, ctx: ImportContext, dir: &Path) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let db = sled::Config::new()
        .path(dir)
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

/// Peak resident set of a process, from /proc (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
