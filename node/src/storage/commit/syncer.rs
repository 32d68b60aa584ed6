//! The durability step of group commit, in two stages:
//!
//! 1. [`Syncer`], on the writer thread right after the apply: flush and
//!    fdatasync the store, then hand the batch over to
//! 2. [`Releaser`], a thread of its own: raise the high-water file to the
//!    newest checkpoint handed over (one write and one fdatasync for all
//!    batches waiting), and only then answer the batches' requests.
//!
//! So the high-water file is never ahead of the store (it names a batch only
//! after that batch's store sync) and is durable before any reply discloses
//! the batch's checkpoint, while its fdatasync overlaps the writer's next
//! apply and store sync instead of adding to them.
//!
//! A failed fsync in either stage poisons the store: the page cache state
//! is unknown, so nothing after it is ever acknowledged.
//!
//! (Running the store sync itself on another thread, so the next batch is
//! applied during it, was measured slower here: batches shrank, and every
//! extra apply holds sled's global batch lock, which stalls every reader.)

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::{Applied, CommitReply, CommitStats, CommittedCheckpoint, StageTiming, fail};
use crate::storage::high_water::{HighWater, HighWaterFile};
use crate::storage::{StorageError, Store};

/// Store-synced batches waiting for the releaser, at most; the writer
/// waits when it is full.
pub(super) const RELEASE_QUEUE: usize = 64;

/// The writer thread's half: the store sync.
pub(super) struct Syncer {
    pub store: Store,
    pub stats: Arc<CommitStats>,
    pub poison: Arc<Mutex<Option<String>>>,
    pub timing: StageTiming,
    /// To the [`Releaser`].
    pub release: SyncSender<Applied>,
}

impl Syncer {
    /// Makes `applied` durable in the store and hands it to the releaser;
    /// on failure poisons the store and fails the batch.
    pub fn complete(&mut self, applied: Applied) {
        let started = Instant::now();
        let synced = self.store.sync();
        let took = started.elapsed();
        self.timing.record("sync", took);
        let fsync = &self.stats.histograms.fsync_seconds;
        fsync.observe(took.as_secs_f64());
        match synced {
            Ok(()) => {
                if let Err(lost) = self.release.send(applied) {
                    fail(lost.0.jobs, "the release thread stopped");
                }
            }
            Err(e) => {
                let reason = poison(&self.poison, &self.store, "store sync", &e);
                fail(applied.jobs, &reason);
            }
        }
    }
}

/// The release thread: high water, then answers.
pub(super) struct Releaser {
    pub store: Store,
    pub latest: Arc<RwLock<Arc<CommittedCheckpoint>>>,
    pub stats: Arc<CommitStats>,
    pub poison: Arc<Mutex<Option<String>>>,
    pub timing: StageTiming,
    /// Size and root of the newest durable checkpoint, outside the store.
    pub high_water: HighWaterFile,
    /// Set when a high-water write failed: every later batch fails too.
    pub failed: Option<String>,
}

impl Releaser {
    /// Releases batches in the order the writer synced them, every batch
    /// waiting at once, until the writer is gone.
    pub fn run(mut self, batches: Receiver<Applied>) {
        while let Ok(first) = batches.recv() {
            let mut waiting = vec![first];
            waiting.extend(batches.try_iter());
            self.release(waiting);
        }
    }

    fn release(&mut self, batches: Vec<Applied>) {
        if let Some(reason) = &self.failed {
            return batches.into_iter().for_each(|b| fail(b.jobs, reason));
        }
        let started = Instant::now();
        let recorded = self.raise_high_water(&batches);
        self.timing.record("high-water", started.elapsed());
        match recorded {
            Ok(()) => batches.into_iter().for_each(|b| self.acknowledge(b)),
            Err(e) => {
                let reason = poison(&self.poison, &self.store, "high-water sync", &e);
                self.failed = Some(reason.clone());
                batches.into_iter().for_each(|b| fail(b.jobs, &reason));
            }
        }
    }

    /// Records the batches' newest checkpoint; every one of them is
    /// already durable in the store, so the file is never ahead of it.
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

/// Marks the store failed after `step` failed with `e`: the writer refuses
/// every later batch and health turns `NOT_SERVING`. Returns the reason.
fn poison(
    poison: &Mutex<Option<String>>,
    store: &Store,
    step: &str,
    e: &dyn std::fmt::Display,
) -> String {
    let reason = format!("{step} failed: {e}");
    tracing::error!(error = %e, step, "fsync failed: refusing every further write");
    *poison.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
    store.health().sync_failed(e.to_string());
    reason
}
