//! The durability step of group commit: flush and fdatasync what the writer
//! applied, then answer the batch's requests. A failed fsync poisons the
//! store: the page cache state is unknown, so nothing after it is ever
//! acknowledged.
//!
//! It runs on the writer thread, right after the apply. (Running it on a
//! thread of its own, so the next batch is applied during the fsync, was
//! measured slower here: batches shrank, and every extra apply holds sled's
//! global batch lock, which stalls every reader.)

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::{Applied, CommitReply, CommitStats, CommittedCheckpoint, StageTiming, fail};
use crate::storage::high_water::{HighWater, HighWaterFile};
use crate::storage::{StorageError, Store};

pub(super) struct Syncer {
    pub store: Store,
    pub latest: Arc<RwLock<Arc<CommittedCheckpoint>>>,
    pub stats: Arc<CommitStats>,
    pub poison: Arc<Mutex<Option<String>>>,
    pub timing: StageTiming,
    /// Size and root of the newest durable checkpoint, outside the store.
    pub high_water: HighWaterFile,
}

impl Syncer {
    /// Makes `batches` durable and answers their requests.
    pub fn complete(&mut self, batches: Vec<Applied>) {
        let started = Instant::now();
        let synced = self
            .store
            .sync()
            .and_then(|()| self.raise_high_water(&batches));
        let took = started.elapsed();
        self.timing.record("sync", took);
        let fsync = &self.stats.histograms.fsync_seconds;
        fsync.observe(took.as_secs_f64());
        match synced {
            Ok(()) => batches.into_iter().for_each(|b| self.acknowledge(b)),
            Err(e) => {
                let reason = format!("store sync failed: {e}");
                tracing::error!(error = %e, "fsync failed: refusing every further write");
                *self.poison.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
                self.store.health().sync_failed(e.to_string());
                for b in batches {
                    fail(b.jobs, &reason);
                }
            }
        }
    }

    /// Records the batches' newest checkpoint after the store sync, so the
    /// file is never ahead of the store.
    fn raise_high_water(&mut self, batches: &[Applied]) -> Result<(), StorageError> {
        let Some(newest) = batches.iter().map(|b| &b.checkpoint).max_by_key(|c| c.size) else {
            return Ok(());
        };
        if newest.size == 0 {
            return Ok(());
        }
        let mark = HighWater {
            size: newest.size,
            root: newest.root,
        };
        self.high_water.record(mark)?;
        Ok(())
    }

    fn acknowledge(&self, applied: Applied) {
        let Applied {
            jobs,
            per_job,
            checkpoint,
            overlay,
        } = applied;
        if let Ok(mut latest) = self.latest.write()
            && latest.size <= checkpoint.size
        {
            *latest = checkpoint.clone();
        }
        let batch_requests = jobs.len();
        self.stats.batches.fetch_add(1, Relaxed);
        let sizes = &self.stats.histograms.batch_requests;
        sizes.observe(batch_requests as f64);
        self.stats
            .requests
            .fetch_add(batch_requests as u64, Relaxed);
        for (job, (records, leaves)) in jobs.into_iter().zip(per_job) {
            let _ = job.reply.send(Ok(CommitReply {
                records,
                leaves,
                checkpoint: checkpoint.clone(),
                batch_requests,
                overlay: overlay.clone(),
            }));
        }
    }
}
