//! `[storage]`: the sled store's cache, batches and disk reserve.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// sled page cache, MiB. sled counts the cached pages' on-disk size:
    /// the node holds several times this in memory (docs/operations.md,
    /// Memory). 64 by default: at 50,000 borrowers the node held 1,540 MiB
    /// after a query load with 256, 678 MiB with 64.
    pub cache_capacity_mb: u64,
    /// Most entries or records one group commit takes.
    pub max_batch: usize,
    /// Free space kept in the data directory's file system, MiB: below it
    /// writes are refused (health `NOT_SERVING`) until space is freed.
    pub min_free_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            cache_capacity_mb: 64,
            max_batch: 4096,
            min_free_mb: 64,
        }
    }
}
