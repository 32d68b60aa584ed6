//! `bench scale`'s log-size and start-up parts: the data directory's size
//! on disk, synthetic log entries written through the store's own commit
//! path (the node stopped), and the time from starting a node to serving,
//! then to the end of its background check of the whole log.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use credshare_node::config::NodeConfig;
use credshare_node::signing::{Signer, SignerSlot};
use credshare_node::storage::{CommitRequest, Committer, LogAppend, Store};
use credshare_proto::v1 as pb;
use serde::Serialize;

use super::BenchNode;
use crate::federation::NodeProcess;
use crate::output::Output;

/// Entries per commit of the synthetic log (one signed checkpoint each).
const SYNTHETIC_BATCH: u64 = 8192;
/// The longest wait for a background task of a restart to end.
const FULL_CHECK_PATIENCE: Duration = Duration::from_secs(3600);

/// Bytes the files under `dir` occupy on disk (allocated blocks).
pub(super) fn data_bytes(dir: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            data_bytes(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

/// Appends `n` administrative entries marked as synthetic ("bench scale:
/// synthetic log entry") to the stopped node's log, in batches of
/// [`SYNTHETIC_BATCH`], each signed and made durable by the node's own
/// writer code with the node's signer. About the size of a peer query
/// entry. Returns the log size after, once the store is closed.
pub(super) async fn append_synthetic_entries(
    bench: &BenchNode,
    n: u64,
    out: &Output,
) -> anyhow::Result<u64> {
    let node = &bench.node;
    let config = NodeConfig::load(&node.config, std::iter::empty())?;
    let certs = bench.ws.pki.join(&node.institution);
    let signer = Signer::load(&certs.join("signer.crt"), &certs.join("signer.key"))?;
    let bar = progress(n, out);
    let started = Instant::now();
    let runtime = tokio::runtime::Handle::current();
    let dir = config.data_dir.clone();
    let handle = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let store = Store::open(&config.data_dir, config.storage.cache_capacity_mb)?;
        let slot = Arc::new(SignerSlot::new(Arc::new(signer)));
        let batch = usize::try_from(SYNTHETIC_BATCH)?;
        let committer = Committer::start(store.clone(), slot, config.log_origin(), batch + 1)?;
        let mut done = 0;
        while done < n {
            let count = SYNTHETIC_BATCH.min(n - done);
            let log = (done..done + count).map(synthetic).collect();
            let request = CommitRequest {
                log,
                ..Default::default()
            };
            runtime.block_on(committer.commit(request))?;
            done += count;
            bar.set_position(done);
        }
        drop(committer);
        store.close()?;
        bar.finish_and_clear();
        Ok(())
    });
    handle.await??;
    out.text(format!(
        "  appended {n} synthetic log entries in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    closed_log_size(&dir).await
}

/// The log size of the store in `dir` once this process's writer thread
/// has let go of it (it ends shortly after its committer is dropped).
async fn closed_log_size(dir: &Path) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        match Store::open(dir, 16) {
            Ok(store) => return Ok(store.log_size()?),
            Err(e) if started.elapsed() > Duration::from_secs(60) => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn synthetic(i: u64) -> LogAppend {
    let mut filler = [0u8; 64];
    filler[..8].copy_from_slice(&i.to_be_bytes());
    LogAppend {
        entry: pb::LogEntry {
            time_ms: i64::try_from(i).unwrap_or(i64::MAX),
            kind: Some(pb::log_entry::Kind::Admin(pb::AdminMutationEntry {
                actor: "bench".into(),
                action: "bench scale: synthetic log entry".into(),
                detail: hex::encode(filler),
                ..Default::default()
            })),
        },
        query_index: None,
    }
}

fn progress(n: u64, out: &Output) -> indicatif::ProgressBar {
    out.progress(
        indicatif::ProgressBar::new(n),
        "  synthetic log entries {bar:30} {pos}/{len}  {per_sec}  {elapsed}",
    )
}

/// A restart of the node: how long until it served, until its background
/// check of the whole log passed and its start-up retention sweep read every
/// record, and its memory then.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Restart {
    pub(super) log_entries: u64,
    pub(super) seconds_to_serving: f64,
    pub(super) full_check_seconds: Option<f64>,
    pub(super) retention_sweep_seconds: Option<f64>,
    /// VmRSS once both background tasks ended.
    pub(super) rss_kib: Option<u64>,
    /// VmHWM then: the most the restarted node held, start-up included.
    pub(super) rss_peak_kib: Option<u64>,
}

/// Starts the stopped node holding `log_entries` entries, timing it to
/// serving (its ready file), then waits for the background check of the
/// whole log and the start-up retention sweep (both read the whole store).
pub(super) fn time_restart(
    node: &mut NodeProcess,
    log_entries: u64,
    out: &Output,
) -> anyhow::Result<Restart> {
    out.text(format!("  restarting the node ({log_entries} log entries)"));
    let skip = node.log().len();
    let started = Instant::now();
    node.restart()?;
    let seconds_to_serving = started.elapsed().as_secs_f64();
    let full_check_seconds = wait_seconds(node, skip, FULL_CHECK_PASSED)?;
    let retention_sweep_seconds = wait_seconds(node, skip, SWEEP_DONE)?;
    let pid = node.pid();
    Ok(Restart {
        log_entries,
        seconds_to_serving,
        full_check_seconds,
        retention_sweep_seconds,
        rss_kib: super::proc_status_kib(pid, "VmRSS:"),
        rss_peak_kib: super::rss_kib(pid),
    })
}

/// The node's log line when the whole log verified in the background.
const FULL_CHECK_PASSED: &str = "background check of the whole query log passed";
/// The node's log line when a retention sweep has read every record.
const SWEEP_DONE: &str = "retention sweep read every record";

/// The `seconds=` of the node's first log line containing `line` logged
/// after byte `skip` of its log; an error if the log check failed.
fn wait_seconds(node: &NodeProcess, skip: usize, line: &str) -> anyhow::Result<Option<f64>> {
    let started = Instant::now();
    while started.elapsed() < FULL_CHECK_PATIENCE {
        let log = node.log();
        let fresh = log.get(skip..).unwrap_or_default();
        if fresh.contains("fails verification") {
            anyhow::bail!("the node's log check failed:\n{fresh}");
        }
        if let Some(found) = fresh.lines().find(|l| l.contains(line)) {
            return Ok(found
                .split_whitespace()
                .find_map(|w| w.strip_prefix("seconds="))
                .and_then(|v| v.parse().ok()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(None)
}
