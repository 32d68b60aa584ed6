//! Group commit: one writer thread owns every write. It takes the first
//! waiting request, drains what else is waiting (up to `max_batch`), decides
//! record versions, appends log entries to the Merkle tree, signs ONE
//! checkpoint for the batch, applies one atomic sled batch, flushes and
//! fdatasyncs; a release thread then raises the high-water file (its
//! fdatasync overlapping the writer's next batch) — and only then answers
//! every request ([`syncer`]). Under load, batches grow and the fsync and
//! the signature are shared.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use credshare_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};

use super::annotations::AnnotationWrite;
use super::consents::ConsentWrite;
use super::records::{RecordExpiry, RecordWrite, WriteResult};
use super::{StorageError, Store};
use crate::audit::Hash;
use crate::domain::BorrowerKey;
use crate::signing::SignerSlot;

/// Requests waiting for the writer, at most.
const QUEUE_DEPTH: usize = 4096;

/// One log entry to append.
#[derive(Debug, Clone)]
pub struct LogAppend {
    pub entry: pb::LogEntry,
    /// Index the entry under this borrower for `QueryHistory`.
    pub query_index: Option<BorrowerKey>,
}

/// Everything one caller wants written atomically and durably.
#[derive(Debug, Default)]
pub struct CommitRequest {
    pub records: Vec<RecordWrite>,
    /// Who wrote `records`; a `RecordBatchEntry` naming it is logged when
    /// at least one record is stored.
    pub record_actor: String,
    /// The officer of `record_actor`, logged with it.
    pub record_officer: String,
    pub log: Vec<LogAppend>,
    /// Consent state written in the same atomic batch.
    pub consents: Vec<ConsentWrite>,
    /// Annotations written in the same atomic batch.
    pub annotations: Vec<AnnotationWrite>,
    /// Record bodies the retention sweep deletes (keys and hashes stay).
    pub expiries: Vec<RecordExpiry>,
    /// Holder-directory changes (discovery service) in the same batch.
    pub directory: Vec<super::DirectoryWrite>,
    /// Peer-log views this node holds as a witness.
    pub witness: Vec<super::witness::WitnessWrite>,
}

impl CommitRequest {
    /// Adds the request's typed writes (consents, annotations, expiries,
    /// directory changes, witness views) to `batch`.
    pub(super) fn apply_typed_writes(&self, batch: &mut sled::Batch) {
        for write in &self.consents {
            write.apply(batch);
        }
        for write in &self.annotations {
            write.apply(batch);
        }
        for expiry in &self.expiries {
            expiry.apply(batch);
        }
        for write in &self.directory {
            write.apply(batch);
        }
        for write in &self.witness {
            write.apply(batch);
        }
    }

    pub(super) fn weight(&self) -> usize {
        self.records.len()
            + self.log.len()
            + self.consents.len()
            + self.annotations.len()
            + self.expiries.len()
            + self.directory.len()
            + self.witness.len()
            + 1
    }
}

/// A checkpoint signed for one batch.
#[derive(Debug, Clone)]
pub struct CommittedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note.
    pub note: String,
}

/// Hashes a batch touched: the right edge before it and every subtree it
/// completed. Inclusion proofs for the batch's leaves against its checkpoint
/// come from here without a store read; anything else falls back to the store.
#[derive(Debug, Default)]
pub struct ProofOverlay {
    pub(super) hashes: std::collections::HashMap<(u8, u64), Hash>,
}

/// [`ProofOverlay`] over the store.
pub struct OverlayStore<'a> {
    overlay: &'a ProofOverlay,
    store: &'a Store,
}

impl crate::audit::SubtreeHashes for OverlayStore<'_> {
    type Error = StorageError;

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, StorageError> {
        match self.overlay.hashes.get(&(level, index)) {
            Some(h) => Ok(*h),
            None => self.store.subtree_hash(level, index),
        }
    }
}

/// The durable outcome of one request.
#[derive(Debug, Clone)]
pub struct CommitReply {
    pub records: Vec<WriteResult>,
    /// Leaf index of each appended entry, in request order (a record-batch
    /// entry, if any, comes last).
    pub leaves: Vec<u64>,
    /// The checkpoint covering this request's entries.
    pub checkpoint: Arc<CommittedCheckpoint>,
    /// Number of requests that shared this batch (for figures).
    pub batch_requests: usize,
    /// For inclusion proofs of `leaves` against `checkpoint`.
    pub overlay: Arc<ProofOverlay>,
}

impl CommitReply {
    /// Subtree hashes for inclusion proofs of `leaves` against `checkpoint`:
    /// the batch's own, then the store's.
    pub fn proof_hashes<'a>(&'a self, store: &'a Store) -> OverlayStore<'a> {
        OverlayStore {
            overlay: &self.overlay,
            store,
        }
    }
}

pub(super) struct Job {
    pub(super) request: CommitRequest,
    pub(super) reply: oneshot::Sender<Result<CommitReply, StorageError>>,
}

/// Handle to the writer thread. Cloning shares the writer.
#[derive(Debug, Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
    latest: Arc<std::sync::RwLock<Arc<CommittedCheckpoint>>>,
    stats: Arc<CommitStats>,
    health: Arc<super::StoreHealth>,
}

/// Counters of the writer since start.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Durable batches (one fsync and at most one signature each).
    pub batches: std::sync::atomic::AtomicU64,
    /// Requests those batches carried.
    pub requests: std::sync::atomic::AtomicU64,
    /// Commit latency, batch size and fsync time (Prometheus).
    pub histograms: crate::metrics::CommitHistograms,
}

/// Starts the release thread (high-water fdatasync, then the replies) and
/// returns the syncer the writer hands each stored batch to.
fn spawn_releaser(
    store: &Store,
    latest: &Arc<std::sync::RwLock<Arc<CommittedCheckpoint>>>,
    stats: &Arc<CommitStats>,
    poison: &Arc<std::sync::Mutex<Option<String>>>,
    high_water: super::high_water::HighWaterFile,
) -> Result<syncer::Syncer, StorageError> {
    let (release, released) = std::sync::mpsc::sync_channel(syncer::RELEASE_QUEUE);
    let releaser = syncer::Releaser {
        store: store.clone(),
        latest: latest.clone(),
        stats: stats.clone(),
        poison: poison.clone(),
        timing: Default::default(),
        high_water,
        failed: None,
    };
    thread::Builder::new()
        .name("credshare-release".into())
        .spawn(move || releaser.run(released))
        .map_err(StorageError::Sync)?;
    Ok(syncer::Syncer {
        store: store.clone(),
        stats: stats.clone(),
        poison: poison.clone(),
        timing: Default::default(),
        release,
    })
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Committer {
    /// Verifies the stored log's newest part ([`Store::open_log`]; the
    /// rest is checked in the background, `storage::verify`), then starts
    /// the writer thread, which signs with whatever signer `signer` holds
    /// at each batch; when that key is not the one that signed the newest
    /// checkpoint, the next batch logs a `SignerKeyEntry` first.
    pub fn start(
        store: Store,
        signer: Arc<SignerSlot>,
        origin: String,
        max_batch: usize,
    ) -> Result<Self, StorageError> {
        let (edge, last_certificate) = store.open_log(&origin)?;
        if let Some(mark) = super::high_water::HighWater::read(store.dir())? {
            mark.check(edge.size(), edge.root(), store.dir())?;
        }
        let high_water = super::high_water::HighWaterFile::open(store.dir())?;
        let signing_key_id = last_certificate.map(|der| crate::pki::fingerprint(&der));
        let current = signer.current();
        if let Some(old) = &signing_key_id
            && old != current.key_id()
        {
            tracing::info!(old_key = %old, new_key = %current.key_id(), "signer key changed since the newest checkpoint; the next batch records the new key");
        }
        let latest = Arc::new(CommittedCheckpoint {
            size: edge.size(),
            root: edge.root(),
            note: store
                .checkpoint(None)?
                .and_then(|c| c.checkpoint)
                .map(|c| c.signed_note)
                .unwrap_or_default(),
        });
        let health = store.health().clone();
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(CommitStats::default());
        let poison = Arc::new(std::sync::Mutex::new(None));
        let latest_slot = Arc::new(std::sync::RwLock::new(latest.clone()));
        let syncer = spawn_releaser(&store, &latest_slot, &stats, &poison, high_water)?;
        let counts = store.record_counts()?;
        let mut writer = writer::Writer {
            counts,
            store,
            signer,
            signing_key_id,
            origin,
            max_batch,
            edge,
            last_signed: latest,
            poison,
            syncer,
            timing: Default::default(),
        };
        thread::Builder::new()
            .name("credshare-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(StorageError::Sync)?;
        Ok(Self {
            tx,
            latest: latest_slot,
            stats,
            health,
        })
    }

    /// Writes `request` durably; resolves once it is on disk.
    pub async fn commit(&self, request: CommitRequest) -> Result<CommitReply, StorageError> {
        let (reply, rx) = oneshot::channel();
        let started = Instant::now();
        self.tx
            .send(Job { request, reply })
            .await
            .map_err(|_| StorageError::Closed)?;
        let reply = rx.await.map_err(|_| StorageError::Closed)?;
        let took = started.elapsed().as_secs_f64();
        self.stats.histograms.commit_seconds.observe(took);
        reply
    }

    /// The writer's histograms, to register with the node's metrics.
    pub fn histograms(&self) -> &crate::metrics::CommitHistograms {
        &self.stats.histograms
    }

    /// Counters since start.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.batches.load(Relaxed),
            self.stats.requests.load(Relaxed),
        )
    }

    /// The store's health: [`super::StoreHealth::is_healthy`] is one atomic
    /// load, [`super::StoreHealth::fault`] says why writes are refused.
    pub fn health(&self) -> Arc<super::StoreHealth> {
        self.health.clone()
    }

    /// The newest durable checkpoint.
    pub fn latest(&self) -> Arc<CommittedCheckpoint> {
        match self.latest.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// A batch applied to sled, waiting for its fsync.
pub(super) struct Applied {
    pub(super) jobs: Vec<Job>,
    pub(super) per_job: Vec<(Vec<WriteResult>, Vec<u64>)>,
    pub(super) checkpoint: Arc<CommittedCheckpoint>,
    pub(super) overlay: Arc<ProofOverlay>,
}

/// Answers every job of a batch with the store's fault.
pub(super) fn refuse(jobs: Vec<Job>, fault: &super::StoreFault) {
    for job in jobs {
        let _ = job.reply.send(Err(StorageError::Fault(fault.clone())));
    }
}

/// Answers every job of a batch with the same error.
pub(super) fn fail(jobs: Vec<Job>, reason: &str) {
    for job in jobs {
        let _ = job
            .reply
            .send(Err(StorageError::Corrupt(reason.to_owned())));
    }
}

/// Mean time per batch of one stage, logged at debug level every 10 s.
#[derive(Default)]
pub(super) struct StageTiming {
    batches: u32,
    total: Duration,
    since: Option<Instant>,
}

impl StageTiming {
    pub(super) fn record(&mut self, stage: &'static str, took: Duration) {
        self.batches += 1;
        self.total += took;
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= Duration::from_secs(10) {
            let mean_us = self.total.as_micros() as u64 / u64::from(self.batches.max(1));
            tracing::debug!(
                stage,
                batches = self.batches,
                mean_us,
                "group commit stage timing"
            );
            *self = Self::default();
        }
    }
}

mod syncer;
#[cfg(test)]
mod tests;
mod writer;
