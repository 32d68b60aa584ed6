//! `bench scale`'s store census: on the stopped node, keys and bytes per key
//! type (the store's own count, `Store::census`), beside the data
//! directory's allocated blocks, so where the bytes per record and per log
//! entry go stays measurable as the encodings change.

use std::path::Path;
use std::time::{Duration, Instant};

use credshare_node::storage::Store;
use credshare_node::storage::census::StoreCensus;
use serde::Serialize;

use super::scale_log::data_bytes;

/// The census of one stopped node's store, with per-unit figures.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CensusFigures {
    /// Allocated blocks of the data directory (sled's files and ours).
    pub(super) data_dir_bytes: u64,
    /// Data directory bytes over the live key and value bytes: sled's
    /// overhead and fragmentation.
    pub(super) disk_over_live: f64,
    pub(super) records: u64,
    pub(super) log_entries: u64,
    /// Live key+value bytes of the record keys, per record version.
    pub(super) live_bytes_per_record: f64,
    /// Live key+value bytes of every log key type (entries, hashes,
    /// checkpoints, indexes), per log entry.
    pub(super) live_bytes_per_log_entry: f64,
    pub(super) store: StoreCensus,
}

/// Key prefixes that hold the query log and what serves it.
const LOG_PREFIXES: &[u8] = b"LHCQ";

/// Opens the stopped node's store in `data` and counts it.
pub(super) async fn census(data: &Path) -> anyhow::Result<CensusFigures> {
    let data_dir_bytes = data_bytes(data)?;
    let store = open_closed(data).await?;
    let store = tokio::task::spawn_blocking(move || store.census()).await??;
    let live = |prefixes: &[u8]| -> u64 {
        store
            .key_types
            .iter()
            .filter(|k| u8::try_from(k.prefix).is_ok_and(|p| prefixes.contains(&p)))
            .map(|k| k.key_bytes + k.value_bytes)
            .sum()
    };
    let count = |prefix: u8| store.key_type(prefix).map_or(0, |k| k.keys);
    let (records, log_entries) = (count(b'R'), count(b'L'));
    Ok(CensusFigures {
        data_dir_bytes,
        disk_over_live: data_dir_bytes as f64 / store.live_bytes.max(1) as f64,
        records,
        log_entries,
        live_bytes_per_record: live(b"R") as f64 / records.max(1) as f64,
        live_bytes_per_log_entry: live(LOG_PREFIXES) as f64 / log_entries.max(1) as f64,
        store,
    })
}

/// Opens the store once the node process has let go of it.
async fn open_closed(dir: &Path) -> anyhow::Result<Store> {
    let started = Instant::now();
    loop {
        match Store::open(dir, 64) {
            Ok(store) => return Ok(store),
            Err(e) if started.elapsed() > Duration::from_secs(60) => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The census as text: one line per key type, then the per-unit figures.
pub(super) fn text(borrowers: u64, c: &CensusFigures) -> String {
    let mut t = format!(
        "\nstore census at {borrowers} borrowers (node stopped; live = key + value bytes)\n  {:<2} {:<24} {:>10} {:>12} {:>12} {:>10}\n",
        "", "key type", "keys", "key bytes", "value bytes", "per key"
    );
    for k in &c.store.key_types {
        t.push_str(&format!(
            "  {:<2} {:<24} {:>10} {:>12} {:>12} {:>10.1}\n",
            k.prefix,
            k.name,
            k.keys,
            k.key_bytes,
            k.value_bytes,
            (k.key_bytes + k.value_bytes) as f64 / k.keys.max(1) as f64
        ));
    }
    t.push_str(&format!(
        "  live {:.1} MB; sled's size_on_disk {:.1} MB; data directory {:.1} MB ({:.2} x live)\n",
        c.store.live_bytes as f64 / 1e6,
        c.store.sled_bytes_on_disk as f64 / 1e6,
        c.data_dir_bytes as f64 / 1e6,
        c.disk_over_live,
    ));
    t.push_str(&format!(
        "  live bytes per record version {:.0} ({} records); per log entry, all log keys {:.0} ({} entries)\n",
        c.live_bytes_per_record, c.records, c.live_bytes_per_log_entry, c.log_entries
    ));
    t
}
