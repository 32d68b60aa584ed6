//! `credshare bench scale --borrowers N`: what one node costs at a size, in
//! one run — bytes on disk per stored record and per log entry (data
//! directory deltas), node RSS idle and under query load, import rows/s,
//! audited `QueryBorrower` and health throughput and p50/p99 at C=64, and
//! the node's start-up time at that size — beside the same figures at a
//! reference size (10,000 borrowers by default), for the ratios.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::phase::Phase;
use super::query::{connect_as_bank_a, grant_requests, load_holder, run_phase};
use super::scale_census::{CensusFigures, census};
use super::scale_log::{Restart, append_synthetic_entries, data_bytes, time_restart};
use super::{BenchNode, proc_status_kib, rss_kib};
use crate::commands::status::fetch_status;
use crate::output::Output;

/// Options of `credshare bench scale`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleBenchArgs {
    /// Keep the work directories (one per size: PKI, config, store, node log) here.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sample borrowers imported into the node (about 10 credit and visit records each).
    #[arg(long, default_value_t = 100_000)]
    pub borrowers: u64,
    /// The reference size measured in the same run, for the ratios (0: none).
    #[arg(long, default_value_t = 10_000)]
    pub reference: u64,
    /// Concurrent requests in flight in the query phases.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// mTLS connections shared by the query workers.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Seconds per query phase (health, then audited).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Synthetic log entries appended through the store's own commit path
    /// (node stopped) before the start-up measurement at N borrowers: the
    /// start-up time at a long log without hours of queries.
    #[arg(long, default_value_t = 0)]
    pub log_entries: u64,
}

/// Throughput and latency of one query phase.
#[derive(Debug, Clone, Serialize)]
struct PhaseFigures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

impl From<&Phase> for PhaseFigures {
    fn from(p: &Phase) -> Self {
        Self {
            per_second: p.rate(),
            p50_ms: p.pct(0.5),
            p99_ms: p.pct(0.99),
            errors: p.errors,
        }
    }
}

/// Every figure measured at one size.
#[derive(Debug, Clone, Serialize)]
struct SizeFigures {
    borrowers: u64,
    records: u64,
    import_rows: u64,
    import_rows_per_second: f64,
    store_bytes_empty: u64,
    store_bytes_imported: u64,
    bytes_per_record: f64,
    log_entries_measured: u64,
    bytes_per_log_entry: f64,
    /// Growth per synthetic entry (`--log-entries`, big batches).
    bytes_per_synthetic_entry: Option<f64>,
    rss_idle_kib: Option<u64>,
    rss_load_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
    health: PhaseFigures,
    audited: PhaseFigures,
    audited_over_health: f64,
    startup: Restart,
    /// Keys and bytes per key type at the end of the run (node stopped).
    census: CensusFigures,
}

impl ScaleBenchArgs {
    /// `credshare bench scale`.
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut sizes = Vec::new();
        if self.reference > 0 && self.reference != self.borrowers {
            sizes.push(self.measure(self.reference, 0, out).await?);
        }
        sizes.push(self.measure(self.borrowers, self.log_entries, out).await?);
        let value = serde_json::json!({
            "bench": "scale",
            "concurrency": self.concurrency,
            "phase_seconds": self.duration.max(1),
            "sizes": sizes,
        });
        out.print(&value, || self.text(&sizes));
        Ok(())
    }

    /// One fresh node at `borrowers`, measured; `log_entries` synthetic
    /// entries are appended before the start-up measurement.
    async fn measure(
        &self,
        borrowers: u64,
        log_entries: u64,
        out: &Output,
    ) -> anyhow::Result<SizeFigures> {
        out.text(format!(
            "\n== {borrowers} borrowers: dev consortium, one node (BANK-B)"
        ));
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.join(format!("borrowers-{borrowers}")));
        let mut bench = BenchNode::start(dir.as_deref(), "BANK-B")?;
        let data = bench.node.data_dir.clone();
        let empty = data_bytes(&data)?;
        let (credit, imported) = load_holder(&bench, borrowers, out).await?;
        let records = fetch_status(bench.admin().await?).await?.record_count;
        let filled = data_bytes(&data)?;
        let rss_idle = proc_status_kib(bench.node.pid(), "VmRSS:");
        let load = self.query_load(&bench, &credit, out).await?;
        bench.node.stop()?;
        let before_synthetic = data_bytes(&data)?;
        let log_size = match log_entries {
            0 => load.log_size,
            n => append_synthetic_entries(&bench, n, out).await?,
        };
        let synthetic_bytes = data_bytes(&data)?.saturating_sub(before_synthetic);
        let startup = time_restart(&mut bench.node, log_size, out)?;
        bench.node.stop()?;
        let census = census(&data).await?;
        Ok(SizeFigures {
            borrowers,
            records,
            import_rows: imported.rows,
            import_rows_per_second: imported.rows as f64 / imported.seconds.max(1e-9),
            store_bytes_empty: empty,
            store_bytes_imported: filled,
            bytes_per_record: filled.saturating_sub(empty) as f64 / records.max(1) as f64,
            log_entries_measured: load.entries,
            bytes_per_log_entry: load.bytes as f64 / load.entries.max(1) as f64,
            bytes_per_synthetic_entry: (log_entries > 0)
                .then(|| synthetic_bytes as f64 / log_entries as f64),
            rss_idle_kib: rss_idle,
            rss_load_kib: load.rss,
            rss_peak_kib: load.rss_peak,
            audited_over_health: load.audited.rate() / load.health.rate().max(1e-9),
            health: (&load.health).into(),
            audited: (&load.audited).into(),
            startup,
            census,
        })
    }

    /// The health phase, then the audited phase, measuring the log's
    /// growth on disk during the latter and the node's memory after it.
    async fn query_load(
        &self,
        bench: &BenchNode,
        credit: &Path,
        out: &Output,
    ) -> anyhow::Result<QueryLoad> {
        out.text(format!(
            "  measuring: C={}, {} s per phase",
            self.concurrency,
            self.duration.max(1)
        ));
        let data = &bench.node.data_dir;
        let requests = Arc::new(grant_requests(bench, credit, 1000)?);
        let channels = connect_as_bank_a(bench, self.connections).await?;
        let phase = Duration::from_secs(self.duration.max(1));
        let c = self.concurrency;
        let health = run_phase(&channels, c, phase, requests.clone(), false).await;
        let before = fetch_status(bench.admin().await?).await?.log_size;
        let bytes_before = data_bytes(data)?;
        let audited = run_phase(&channels, c, phase, requests, true).await;
        let log_size = fetch_status(bench.admin().await?).await?.log_size;
        let pid = bench.node.pid();
        Ok(QueryLoad {
            health,
            audited,
            entries: log_size - before,
            log_size,
            bytes: data_bytes(data)?.saturating_sub(bytes_before),
            rss: proc_status_kib(pid, "VmRSS:"),
            rss_peak: rss_kib(pid),
        })
    }

    /// The figures as a table, one column per size.
    fn text(&self, sizes: &[SizeFigures]) -> String {
        let mut t = format!(
            "\ncredshare bench scale (C={}, {} s per query phase; disk = allocated blocks of the data directory)\n",
            self.concurrency,
            self.duration.max(1)
        );
        for (name, cell) in ROWS {
            t.push_str(&format!("  {name:<34}"));
            for s in sizes {
                t.push_str(&format!(" {:>16}", cell(s)));
            }
            t.push('\n');
        }
        if let [reference, .., at] = sizes {
            t.push_str(&format!(
                "  ratios {} / {} borrowers: audited p99 {:.2}, RSS under load {:.2}, bytes per record {:.2}\n",
                at.borrowers,
                reference.borrowers,
                at.audited.p99_ms / reference.audited.p99_ms.max(1e-9),
                at.rss_load_kib.unwrap_or(0) as f64 / reference.rss_load_kib.unwrap_or(0).max(1) as f64,
                at.bytes_per_record / reference.bytes_per_record.max(1e-9),
            ));
        }
        for s in sizes {
            t.push_str(&super::scale_census::text(s.borrowers, &s.census));
        }
        t
    }
}

/// What the query phases measured.
struct QueryLoad {
    health: Phase,
    audited: Phase,
    /// Log entries the audited phase added, and the bytes the data
    /// directory grew by meanwhile.
    entries: u64,
    bytes: u64,
    /// The log's size after the audited phase.
    log_size: u64,
    rss: Option<u64>,
    rss_peak: Option<u64>,
}

type Cell = fn(&SizeFigures) -> String;

/// The rows of the text table.
const ROWS: [(&str, Cell); 23] = [
    ("borrowers", |s| s.borrowers.to_string()),
    ("records stored", |s| s.records.to_string()),
    ("import rows/s", |s| {
        format!("{:.0}", s.import_rows_per_second)
    }),
    ("store after import", |s| mb(s.store_bytes_imported)),
    ("bytes per record", |s| format!("{:.0}", s.bytes_per_record)),
    ("log entries in the audited phase", |s| {
        s.log_entries_measured.to_string()
    }),
    ("bytes per log entry", |s| {
        format!("{:.0}", s.bytes_per_log_entry)
    }),
    ("bytes per synthetic log entry", |s| {
        s.bytes_per_synthetic_entry
            .map_or("n/a".into(), |b| format!("{b:.0}"))
    }),
    ("node RSS idle (after import)", |s| kib(s.rss_idle_kib)),
    ("node RSS after the audited phase", |s| kib(s.rss_load_kib)),
    ("node RSS peak (VmHWM)", |s| kib(s.rss_peak_kib)),
    ("health Check req/s", |s| {
        format!("{:.0}", s.health.per_second)
    }),
    ("health p50 / p99 ms", |s| {
        format!("{:.2} / {:.2}", s.health.p50_ms, s.health.p99_ms)
    }),
    ("audited QueryBorrower req/s", |s| {
        format!("{:.0}", s.audited.per_second)
    }),
    ("audited p50 / p99 ms", |s| {
        format!("{:.2} / {:.2}", s.audited.p50_ms, s.audited.p99_ms)
    }),
    ("audited / health", |s| {
        format!("{:.2}", s.audited_over_health)
    }),
    ("errors (health, audited)", |s| {
        format!("{}, {}", s.health.errors, s.audited.errors)
    }),
    ("log entries at restart", |s| {
        s.startup.log_entries.to_string()
    }),
    ("start-up to serving", |s| {
        format!("{:.2} s", s.startup.seconds_to_serving)
    }),
    ("background full log check", |s| {
        seconds(s.startup.full_check_seconds)
    }),
    ("start-up retention sweep", |s| {
        seconds(s.startup.retention_sweep_seconds)
    }),
    ("node RSS after restart, sweep and check", |s| {
        kib(s.startup.rss_kib)
    }),
    ("node RSS peak since restart (VmHWM)", |s| {
        kib(s.startup.rss_peak_kib)
    }),
];

fn seconds(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2} s"))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn kib(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}
