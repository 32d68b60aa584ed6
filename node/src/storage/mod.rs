//! Storage: the only code that touches sled. It owns every tree and key
//! format, and the durability rule: nothing is acknowledged until sled has
//! flushed *and* its files have been `fdatasync`ed (sled 0.34's `flush()`
//! only issues `sync_file_range` on Linux).
//!
//! Records and checkpoints are stored compactly, each signer certificate
//! once (`compact.rs`, store format 3); sled's pages are not compressed
//! ([`sled_config`]).
//!
//! One tree, `credshare`, with one-byte key prefixes, so that one
//! `apply_batch` is atomic across records, log entries and their indexes:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `R` | borrower key ‖ kind ‖ record id ‖ 0x00 ‖ version (u64 BE) | compact `StoredRecord` ([`compact`]) |
//! | `L` | leaf index (u64 BE) | `LogEntry` bytes |
//! | `H` | level (u8) ‖ index (u64 BE) | complete-subtree hash |
//! | `C` | tree size (u64 BE) | compact checkpoint: signer certificate ref ‖ signed note |
//! | `K` | certificate ref (first 8 bytes of its SHA-256) | signer certificate (DER), once |
//! | `Q` | borrower key ‖ leaf index (u64 BE) | (empty) peer-query index |
//! | `G` | consent id | grant envelope issued by this node |
//! | `V` | grantee ‖ 0x00 ‖ consent id | revocation envelope (issued or received) |
//! | `O` | peer ‖ 0x00 ‖ consent id | revocation envelope still to deliver |
//! | `N` | borrower key ‖ annotation id | signed annotation (dispute mark, explanation, statement) |
//! | `D`, `E` | pseudonym ‖ institution, institution ‖ 0x00 ‖ pseudonym | the discovery service's holder directory ([`directory`]) |
//! | `M` | `key-generation` | the borrower key generation of an OPRF store, u32 BE ([`key_generation`]) |
//! | `M` | `record-counts` | record versions and borrowers stored, u64 BE each, kept by the writer ([`counts`]) |
//! | `W` | institution | the newest checkpoint of that peer's log this node cosigned as its witness (`witness.rs`) |

use std::path::{Path, PathBuf};

pub mod annotations;
pub mod backup;
pub mod census;
mod certificates;
pub mod commit;
pub mod compact;
pub mod consents;
pub mod counts;
pub mod directory;
pub mod durability;
pub mod format;
pub mod health;
pub mod high_water;
pub mod key_generation;
mod keys;
pub mod log;
mod open_guard;

pub mod records;
#[cfg(test)]
pub(crate) mod test_log;
pub mod verify;
pub mod witness;

pub use annotations::AnnotationWrite;
pub use commit::{CommitReply, CommitRequest, CommittedCheckpoint, Committer, LogAppend};
pub use consents::{ConsentWrite, HeldRevocation, OutboxItem};
pub use directory::DirectoryWrite;
pub use health::{StoreFault, StoreHealth};
pub use records::{RecordExpiry, RecordHistory, RecordKind, RecordWrite, WriteResult};
pub use witness::{WitnessWrite, WitnessedLog};

/// Name of the one sled tree.
const TREE: &str = "credshare";

/// Storage failures. Messages never contain record payloads or raw ids.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store sync: {0}")]
    Sync(#[from] std::io::Error),
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("store is shutting down")]
    Closed,
    /// The store refuses writes for now ([`health`]).
    #[error("store refuses writes: {0}")]
    Fault(StoreFault),
    #[error("query log entry {index} fails verification: {reason}")]
    Tampered { index: u64, reason: String },
    /// The configured origin is not the one the log was signed under.
    #[error(
        "config key `log.origin`: the query log was signed as {stored:?}, but the configuration says {configured:?}; the origin is part of the log's identity and cannot change (set log.origin = {stored:?})"
    )]
    OriginChanged { stored: String, configured: String },
    /// The log is shorter than the newest checkpoint made durable before.
    #[error(
        "the query log holds {log_size} entries but {high_water} were acknowledged (recorded in {file}): the store lost acknowledged entries, and peers hold receipts for them. Refusing to start, which would sign a diverging log. Restore the data directory from a backup taken at or after size {high_water}; only if the loss is accepted and reported to the regulator, move {file} aside to start from the shorter log"
    )]
    TailLost {
        log_size: u64,
        high_water: u64,
        file: String,
    },
    #[error("{0}")]
    Range(String),
    #[error("backup: {0}")]
    Backup(String),
    /// The store was written by a newer credshare.
    #[error(
        "the store in {dir} is format {found}, newer than this credshare-node {version} reads (format {supported}): run the newer credshare-node, or restore a backup made by this version (docs/operations.md, Upgrade)",
        version = crate::VERSION
    )]
    FormatTooNew {
        dir: String,
        found: u32,
        supported: u32,
    },
    /// The store holds borrower keys of another generation than configured.
    #[error(
        "the store in {dir} holds borrower keys of generation {stored}, but the configuration serves borrower_keys.generation = {served}: a node serves one generation; re-key by importing the institution's source files into a fresh data directory (docs/operations.md, Switching borrower key generations)"
    )]
    KeyGeneration {
        dir: String,
        stored: u32,
        served: u32,
    },
    /// A blocking task that read or wrote the store failed.
    #[error(transparent)]
    Task(#[from] crate::blocking::TaskFailed),
}

/// The node's sled store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    pub(crate) tree: sled::Tree,
    dir: PathBuf,
    durable: std::sync::Arc<durability::DurableDir>,
    /// Held (shared) by the writer for each batch and (exclusive) by a
    /// backup, so a backup sees no batch half-applied.
    pub(crate) write_gate: std::sync::Arc<std::sync::RwLock<()>>,
    health: std::sync::Arc<StoreHealth>,
    /// Signer certificates of compact values, read once from `K`.
    certs: std::sync::Arc<certificates::CertificateCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Counts shown by `Status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreFigures {
    pub record_versions: u64,
    pub borrowers: u64,
    pub consents: u64,
    pub log_size: u64,
    pub bytes_on_disk: u64,
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with an explicit cache.
    pub fn open(dir: &Path, cache_capacity_mb: u64) -> Result<Self, StorageError> {
        let opened = open_guard::catch_panics(|| open_db(dir, cache_capacity_mb))
            .map_err(|panic| damaged(dir, &format!("sled failed while reading it: {panic}")))??;
        let (db, tree) = opened;
        let durable = std::sync::Arc::new(durability::DurableDir::open(dir)?);
        Ok(Self {
            db,
            tree,
            dir: dir.to_owned(),
            durable,
            write_gate: Default::default(),
            health: std::sync::Arc::new(StoreHealth::new(0)),
            certs: Default::default(),
        })
    }

    /// Directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether writes are accepted now, and why not; see [`health`].
    pub fn health(&self) -> &std::sync::Arc<StoreHealth> {
        &self.health
    }

    /// Makes every applied write durable: sled flush, then fdatasync of its
    /// files. Blocking; call from a blocking context. Costs one or two fsyncs.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        self.durable.sync()?;
        Ok(())
    }

    /// Figures for `Status` and the metrics. The record counts are kept by
    /// the writer ([`counts`]); consents are counted by a scan of their keys.
    pub fn figures(&self) -> Result<StoreFigures, StorageError> {
        let records = self.record_counts()?;
        Ok(StoreFigures {
            record_versions: records.versions,
            borrowers: records.borrowers,
            consents: self.grant_count() as u64,
            log_size: self.log_size()?,
            bytes_on_disk: self.db.size_on_disk()?,
        })
    }

    /// Number of entries in the query log.
    pub fn log_size(&self) -> Result<u64, StorageError> {
        match self.tree.scan_prefix(b"L").keys().next_back() {
            None => Ok(0),
            Some(key) => Ok(be_u64(&key?[1..])? + 1),
        }
    }

    /// Flushes before the process exits.
    pub fn close(&self) -> Result<(), StorageError> {
        self.sync()
    }
}

/// Reads a big-endian u64 from exactly 8 bytes.
pub(crate) fn be_u64(bytes: &[u8]) -> Result<u64, StorageError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StorageError::Corrupt(format!("expected 8 key bytes, found {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Checks the format (upgrading an older store) and opens sled. A file
/// that cannot be read as what it should be is [`damaged`]; an I/O error
/// (permissions, a missing directory) is reported as such.
fn open_db(dir: &Path, cache_capacity_mb: u64) -> Result<(sled::Db, sled::Tree), StorageError> {
    std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
        path: dir.display().to_string(),
        source: sled::Error::Io(e),
    })?;
    let format = format::check_and_upgrade(dir).map_err(|e| match e {
        StorageError::Sync(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            damaged(dir, &format!("{}: {e}", format::MARKER))
        }
        StorageError::Corrupt(reason) => damaged(dir, &reason),
        other => other,
    })?;
    if let format::FormatCheck::Upgraded { from, backup } = &format {
        match backup {
            Some(backup) => {
                tracing::warn!(from, to = format::CURRENT, backup = %backup.display(), "store upgraded; the copy taken before can be deleted once the node runs well")
            }
            None => tracing::info!(
                from,
                to = format::CURRENT,
                "store upgraded; keys were only added, so no copy was taken"
            ),
        }
    }
    let sled_err = |e: sled::Error| match e {
        sled::Error::Io(_) => StorageError::Open {
            path: dir.display().to_string(),
            source: e,
        },
        other => damaged(dir, &other.to_string()),
    };
    let config = sled_config(dir).cache_capacity(cache_capacity_mb * 1024 * 1024);
    let db = open_sled(dir, config).map_err(sled_err)?;
    let tree = db.open_tree(TREE).map_err(sled_err)?;
    Ok((db, tree))
}

/// How every store is opened: no background flushes (we flush at every
/// group commit) and no page compression (sled 0.34 makes a new zstd
/// context for every page it writes: twice the CPU per logged query for a
/// third less disk; docs/design.md §8). Tests that edit a store's sled
/// files directly open it with this too.
pub fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None)
}

/// How long [`open_sled`] waits for a dropped store's threads to let go of
/// the file lock.
const UNLOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Opens the sled store in `dir` with `config`. sled's I/O threads keep the
/// lock on `db` a moment after a store is dropped, so a store reopened in
/// the same process (the format upgrade, restore, tests) would fail with
/// `WouldBlock`; this waits up to [`UNLOCK_PATIENCE`] for the lock first.
/// A store another process holds stays locked and fails after the wait.
pub fn open_sled(dir: &Path, config: sled::Config) -> sled::Result<sled::Db> {
    wait_unlocked(&dir.join("db"))?;
    config.path(dir).open()
}

/// Opens the sled files of a stopped node's store in `dir` as the node
/// does, for tools and tests that read or edit it offline (waiting for the
/// lock like [`open_sled`]).
pub fn open_offline(dir: &Path) -> sled::Result<sled::Db> {
    open_sled(dir, sled_config(dir))
}

/// Waits until no open sled store holds the lock on `db`.
fn wait_unlocked(db: &Path) -> std::io::Result<()> {
    use fs2::FileExt;
    let started = std::time::Instant::now();
    loop {
        let file = match std::fs::File::open(db) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match file.try_lock_exclusive() {
            // Closing the file releases the lock.
            Ok(()) => return Ok(()),
            Err(_) if started.elapsed() < UNLOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{} is locked by another open store: {e}", db.display()),
                ));
            }
        }
    }
}

/// The store in `dir` cannot be read: what happened and what to do.
fn damaged(dir: &Path, reason: &str) -> StorageError {
    StorageError::Corrupt(format!(
        "the store in {} cannot be read ({reason}). Its files are damaged: do not edit or delete them. Move the data directory aside and restore it from a backup (`credshare-node restore --from BACKUP --config CONFIG`, docs/operations.md \"Restore\")",
        dir.display()
    ))
}
