//! Whether the store can make writes durable now, and if not, why.
//!
//! sled 0.34 turns a failed write (ENOSPC, EIO) into a sticky global error
//! that only reopening clears, so the writer never lets sled reach a full
//! disk: before each batch it checks the free space of the data directory
//! against a reserve (`storage.min_free_mb`) and refuses the batch while
//! space is short. Reads go on. That fault clears by itself: the check is
//! retried at every batch and every second by the health reporting, and
//! the first check that finds the reserve free again makes the store
//! healthy. A failed flush or fsync is different: the page cache state is
//! unknown, so the store stays failed until a restart re-verifies the log.
//!
//! [`StoreHealth::is_healthy`] and [`StoreHealth::fault`] are cheap (one
//! atomic load, one read lock) and meant for readiness probes.

use std::path::Path;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::StorageError;

/// Why the store refuses writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFault {
    /// Free space in the data directory is below the reserve. Clears by
    /// itself once space is freed.
    LowSpace { available: u64, reserve: u64 },
    /// The free space could not be read.
    SpaceUnknown(String),
    /// A flush or fsync failed: nothing more is written until a restart.
    SyncFailed(String),
    /// The background re-verification of the query log found entry
    /// `index` bad ([`super::verify`]): nothing more is signed on top of
    /// it. Permanent: restore the data directory from a backup.
    LogTampered { index: u64, reason: String },
}

impl StoreFault {
    /// Whether the fault goes away without a restart once its cause does.
    pub fn clears_by_itself(&self) -> bool {
        !matches!(self, Self::SyncFailed(_) | Self::LogTampered { .. })
    }
}

impl std::fmt::Display for StoreFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LowSpace { available, reserve } => write!(
                f,
                "disk space low: {available} bytes free in the data directory, below the reserve of {reserve} bytes (storage.min_free_mb); writes resume once space is freed"
            ),
            Self::SpaceUnknown(e) => write!(f, "free space of the data directory unknown: {e}"),
            Self::SyncFailed(e) => write!(
                f,
                "store sync failed ({e}); writes refused until the node is restarted"
            ),
            Self::LogTampered { index, reason } => write!(
                f,
                "query log entry {index} fails verification: {reason} (found by the background check of the whole log); writes refused, restore the data directory from a backup (docs/operations.md, Restore)"
            ),
        }
    }
}

/// The store's health, shared by the writer and whoever reports it.
#[derive(Debug, Default)]
pub struct StoreHealth {
    healthy_flag: AtomicBool,
    fault: RwLock<Option<StoreFault>>,
    reserve_bytes: AtomicU64,
}

impl StoreHealth {
    /// A healthy store that keeps `reserve_bytes` free.
    pub fn new(reserve_bytes: u64) -> Self {
        Self {
            healthy_flag: AtomicBool::new(true),
            fault: RwLock::new(None),
            reserve_bytes: AtomicU64::new(reserve_bytes),
        }
    }

    /// True when writes are accepted. One atomic load.
    pub fn is_healthy(&self) -> bool {
        self.healthy_flag.load(Ordering::Acquire)
    }

    /// The current fault, if any.
    pub fn fault(&self) -> Option<StoreFault> {
        self.fault.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets the free-space reserve, bytes.
    pub fn set_reserve(&self, bytes: u64) {
        self.reserve_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Reads the free space of `dir` and sets or clears the low-space
    /// fault; a sync failure is never cleared here. One `statvfs`.
    pub fn check_space(&self, dir: &Path) -> Result<(), StorageError> {
        let reserve = self.reserve_bytes.load(Ordering::Relaxed);
        let found = match fs2::available_space(dir) {
            Ok(available) if available < reserve => {
                Some(StoreFault::LowSpace { available, reserve })
            }
            Ok(_) => None,
            Err(e) => Some(StoreFault::SpaceUnknown(e.to_string())),
        };
        let mut fault = self.fault.write().unwrap_or_else(|p| p.into_inner());
        if let Some(permanent) = fault.as_ref().filter(|f| !f.clears_by_itself()) {
            return Err(StorageError::Fault(permanent.clone()));
        }
        if *fault != found {
            match &found {
                Some(f) => tracing::error!(fault = %f, "store refuses writes"),
                None => tracing::info!("store healthy again: writes accepted"),
            }
        }
        self.healthy_flag.store(found.is_none(), Ordering::Release);
        *fault = found.clone();
        found.map_or(Ok(()), |f| Err(StorageError::Fault(f)))
    }

    /// Records a failed flush or fsync; permanent until restart.
    pub(crate) fn sync_failed(&self, reason: String) {
        let mut fault = self.fault.write().unwrap_or_else(|p| p.into_inner());
        self.healthy_flag.store(false, Ordering::Release);
        *fault = Some(StoreFault::SyncFailed(reason));
    }

    /// Records that the query log fails verification at `index`;
    /// permanent until restart (which checks the log again).
    pub(crate) fn log_tampered(&self, index: u64, reason: String) {
        let mut fault = self.fault.write().unwrap_or_else(|p| p.into_inner());
        self.healthy_flag.store(false, Ordering::Release);
        *fault = Some(StoreFault::LogTampered { index, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_space_sets_and_clears_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let health = StoreHealth::new(u64::MAX);
        assert!(health.check_space(dir.path()).is_err());
        assert!(!health.is_healthy());
        assert!(matches!(health.fault(), Some(StoreFault::LowSpace { .. })));
        health.set_reserve(0);
        health.check_space(dir.path()).unwrap();
        assert!(health.is_healthy());
        assert_eq!(health.fault(), None);
    }

    #[test]
    fn a_sync_failure_is_not_cleared_by_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let health = StoreHealth::new(0);
        health.sync_failed("EIO".into());
        assert!(health.check_space(dir.path()).is_err());
        assert!(!health.is_healthy());
        let fault = health.fault().unwrap();
        assert!(!fault.clears_by_itself());
        assert!(fault.to_string().contains("restarted"));
    }

    #[test]
    fn a_tampered_log_is_permanent_and_names_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let health = StoreHealth::new(0);
        health.log_tampered(17, "entry does not match its stored leaf hash".into());
        assert!(
            health.check_space(dir.path()).is_err(),
            "free space clears nothing"
        );
        assert!(!health.is_healthy());
        let fault = health.fault().unwrap();
        assert!(!fault.clears_by_itself());
        assert!(
            fault
                .to_string()
                .contains("query log entry 17 fails verification"),
            "{fault}"
        );
    }
}
