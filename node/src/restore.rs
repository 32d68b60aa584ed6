//! `credshare-node restore --from DIR --config F`: verifies a backup, then
//! writes it into an empty data directory and starts a new, declared log
//! epoch — its first entry (at the backup's log size N) is a signed
//! `LogEpochEntry` saying "restored from the backup at size N; entries
//! after N at the old epoch are lost". So a restored node never silently
//! signs a log that diverges from what peers hold receipts for.
//!
//! Verification happens before anything reaches the data directory: file
//! hashes against the manifest, the backup's institution and log origin
//! against the config, and the whole log rebuilt into a staging store
//! inside the data directory and checked against the newest signed
//! checkpoint; only then are the staged files moved into place.

use std::path::Path;
use std::sync::Arc;

use credshare_proto::v1 as pb;
use prost::Message;

use crate::config::NodeConfig;
use crate::storage::backup::{self, BackupManifest};
use crate::storage::{CommitRequest, Committer, LogAppend, StorageError, Store};
use crate::trust::Trust;

/// Where the backup is staged inside the data directory while verified.
const STAGING: &str = ".restore-staging";

/// Why a restore stopped; nothing was written to the data directory
/// unless the error says so.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Trust(String),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub restored_size: u64,
    pub epoch: u32,
    pub entries: u64,
}

/// Verifies the backup in `from` and restores it into `config.data_dir`.
pub async fn restore(config: Arc<NodeConfig>, from: &Path) -> Result<Restored, RestoreError> {
    let manifest = backup::read_verified(from)?;
    check_matches(&config, &manifest)?;
    let dir = config.data_dir.clone();
    if dir.join("db").exists() {
        return Err(RestoreError::Refused(format!(
            "{} already holds a store: move it aside first (restore never overwrites)",
            dir.display()
        )));
    }
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(StorageError::from)?;
    }
    let entries = stage(&staging, from, &config, &manifest)?;
    move_into_place(&staging, &dir)?;
    let trust = Trust::load(config.clone()).map_err(|e| RestoreError::Trust(e.to_string()))?;
    let store = Store::open(&dir, config.storage.cache_capacity_mb)?;
    let epoch = previous_epochs(&store, manifest.log_size)? + 1;
    let committer = Committer::start(
        store.clone(),
        trust.signer_slot(),
        config.log_origin(),
        config.storage.max_batch,
    )?;
    let entry = epoch_entry(&manifest, epoch);
    committer
        .commit(CommitRequest {
            log: vec![LogAppend {
                entry,
                query_index: None,
            }],
            ..Default::default()
        })
        .await?;
    store.close()?;
    Ok(Restored {
        restored_size: manifest.log_size,
        epoch,
        entries,
    })
}

fn check_matches(config: &NodeConfig, m: &BackupManifest) -> Result<(), RestoreError> {
    if m.institution != config.institution.as_str() {
        return Err(RestoreError::Refused(format!(
            "the backup is of {}, this config is {}",
            m.institution, config.institution
        )));
    }
    if m.log_origin != config.log_origin() {
        return Err(RestoreError::Refused(format!(
            "the backup's log origin is {:?}, the config's {:?} (set log.origin)",
            m.log_origin,
            config.log_origin()
        )));
    }
    if m.format > crate::storage::format::CURRENT {
        return Err(RestoreError::Refused(format!(
            "the backup is store format {}, newer than this node reads ({})",
            m.format,
            crate::storage::format::CURRENT
        )));
    }
    Ok(())
}

/// Imports the backup into `staging` and verifies its whole log against
/// the newest signed checkpoint, which must be the manifest's.
fn stage(
    staging: &Path,
    from: &Path,
    config: &NodeConfig,
    manifest: &BackupManifest,
) -> Result<u64, RestoreError> {
    let store = Store::open(staging, config.storage.cache_capacity_mb)?;
    let entries = store.import_kv(from)?;
    let (edge, _) = store.verify_log(&config.log_origin())?;
    let newest = store
        .checkpoint(None)?
        .and_then(|c| c.checkpoint)
        .map(|c| c.signed_note)
        .unwrap_or_default();
    if edge.size() != manifest.log_size || newest != manifest.checkpoint {
        return Err(RestoreError::Refused(format!(
            "the backup's log rebuilds to size {} but its manifest says {} (or another checkpoint)",
            edge.size(),
            manifest.log_size
        )));
    }
    store.close()?;
    Ok(entries)
}

/// Moves every staged file into the data directory, then removes staging.
fn move_into_place(staging: &Path, dir: &Path) -> Result<(), RestoreError> {
    for entry in std::fs::read_dir(staging).map_err(StorageError::from)? {
        let entry = entry.map_err(StorageError::from)?;
        std::fs::rename(entry.path(), dir.join(entry.file_name())).map_err(StorageError::from)?;
    }
    std::fs::remove_dir(staging).map_err(StorageError::from)?;
    crate::storage::durability::sync_dir_files(dir).map_err(StorageError::from)?;
    Ok(())
}

/// The highest epoch declared in the first `size` entries (1 if none).
fn previous_epochs(store: &Store, size: u64) -> Result<u32, StorageError> {
    let mut epoch = 1;
    for item in store.log_entries(0, size) {
        let (_, bytes) = item?;
        if let Ok(pb::LogEntry {
            kind: Some(pb::log_entry::Kind::Epoch(e)),
            ..
        }) = pb::LogEntry::decode(bytes.as_slice())
        {
            epoch = epoch.max(e.epoch);
        }
    }
    Ok(epoch)
}

fn epoch_entry(m: &BackupManifest, epoch: u32) -> pb::LogEntry {
    let n = m.log_size;
    pb::LogEntry {
        time_ms: crate::domain::dates::now_ms(),
        kind: Some(pb::log_entry::Kind::Epoch(pb::LogEpochEntry {
            epoch,
            restored_size: n,
            backup_checkpoint: m.checkpoint.clone(),
            backup_taken_ms: m.taken_at_ms,
            statement: format!(
                "restored from the backup at size {n}; entries after {n} at epoch {} are lost",
                epoch - 1
            ),
        })),
    }
}
