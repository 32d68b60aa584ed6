//! Group commit: one writer thread owns every write. It takes the first
//! waiting request, drains what else is waiting (up to `max_batch`), decides
//! record versions, appends log entries to the Merkle tree, signs ONE
//! checkpoint for the batch, applies one atomic sled batch, flushes and
//! fdatasyncs — and only then answers every request. Under load, batches
//! grow and the fsync and the signature are shared.

use std::sync::Arc;
use std::thread;

use credshare_proto::v1 as pb;
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use super::keys;
use super::records::{PendingVersions, RecordWrite, WriteResult};
use super::{StorageError, Store};
use crate::audit::{self, Checkpoint, Hash, RightEdge};
use crate::signing::Signer;

/// Requests waiting for the writer, at most.
const QUEUE_DEPTH: usize = 4096;

/// One log entry to append.
#[derive(Debug, Clone)]
pub struct LogAppend {
    pub entry: pb::LogEntry,
    /// Index the entry under this borrower for `QueryHistory`.
    pub query_index: Option<[u8; 32]>,
}

/// Everything one caller wants written atomically and durably.
#[derive(Debug, Default)]
pub struct CommitRequest {
    pub records: Vec<RecordWrite>,
    /// Who wrote `records`; a `RecordBatchEntry` naming it is logged when
    /// at least one record is stored.
    pub record_actor: String,
    pub log: Vec<LogAppend>,
    /// Other keys written in the same atomic batch (consents, outbox).
    pub puts: Vec<(Vec<u8>, Vec<u8>)>,
    pub removes: Vec<Vec<u8>>,
}

impl CommitRequest {
    fn weight(&self) -> usize {
        self.records.len() + self.log.len() + self.puts.len() + 1
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
}

struct Job {
    request: CommitRequest,
    reply: oneshot::Sender<Result<CommitReply, StorageError>>,
}

/// Handle to the writer thread. Cloning shares the writer.
#[derive(Debug, Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
    latest: Arc<std::sync::RwLock<Arc<CommittedCheckpoint>>>,
    stats: Arc<CommitStats>,
}

/// Counters of the writer since start.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Durable batches (one fsync and at most one signature each).
    pub batches: std::sync::atomic::AtomicU64,
    /// Requests those batches carried.
    pub requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Committer {
    /// Verifies the stored log, then starts the writer thread.
    pub fn start(
        store: Store,
        signer: Arc<Signer>,
        origin: String,
        max_batch: usize,
    ) -> Result<Self, StorageError> {
        let public_key = ring::signature::KeyPair::public_key(signer.key_pair())
            .as_ref()
            .to_vec();
        let edge = store.verify_log(&origin, &public_key)?;
        let latest = Arc::new(CommittedCheckpoint {
            size: edge.size(),
            root: edge.root(),
            note: store
                .checkpoint(None)?
                .and_then(|c| c.checkpoint)
                .map(|c| c.signed_note)
                .unwrap_or_default(),
        });
        let latest = Arc::new(std::sync::RwLock::new(latest));
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(CommitStats::default());
        let mut writer = Writer {
            timing: WriterTiming::default(),
            stats: stats.clone(),
            store,
            signer,
            origin,
            max_batch,
            edge,
            latest: latest.clone(),
            poisoned: None,
        };
        thread::Builder::new()
            .name("credshare-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(StorageError::Sync)?;
        Ok(Self { tx, latest, stats })
    }

    /// Writes `request` durably; resolves once it is on disk.
    pub async fn commit(&self, request: CommitRequest) -> Result<CommitReply, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { request, reply })
            .await
            .map_err(|_| StorageError::Closed)?;
        rx.await.map_err(|_| StorageError::Closed)?
    }

    /// Counters since start.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.batches.load(Relaxed),
            self.stats.requests.load(Relaxed),
        )
    }

    /// The newest durable checkpoint.
    pub fn latest(&self) -> Arc<CommittedCheckpoint> {
        match self.latest.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

struct Writer {
    stats: Arc<CommitStats>,
    timing: WriterTiming,
    store: Store,
    signer: Arc<Signer>,
    origin: String,
    max_batch: usize,
    edge: RightEdge,
    latest: Arc<std::sync::RwLock<Arc<CommittedCheckpoint>>>,
    /// Set after a failed sync: nothing more may be acknowledged.
    poisoned: Option<String>,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut weight = first.request.weight();
            let mut jobs = vec![first];
            while weight < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => {
                        weight += job.request.weight();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(jobs);
        }
    }

    fn commit_batch(&mut self, jobs: Vec<Job>) {
        if let Some(reason) = &self.poisoned {
            for job in jobs {
                let _ = job.reply.send(Err(StorageError::Corrupt(reason.clone())));
            }
            return;
        }
        let mut edge = self.edge.clone();
        let t0 = std::time::Instant::now();
        let prepared = self.prepare(&jobs, &mut edge);
        let t1 = std::time::Instant::now();
        let outcome = prepared.and_then(|(batch, per_job, checkpoint)| {
            self.store.tree.apply_batch(batch)?;
            let t2 = std::time::Instant::now();
            let synced = self.store.sync();
            self.timing.record(t1 - t0, t2 - t1, t2.elapsed());
            if let Err(e) = synced {
                // fsync failure: the page cache state is unknown. Refuse everything from now on.
                self.poisoned = Some(format!("store sync failed earlier: {e}"));
                return Err(e);
            }
            Ok((per_job, checkpoint))
        });
        match outcome {
            Ok((per_job, checkpoint)) => {
                self.edge = edge;
                if let Ok(mut latest) = self.latest.write() {
                    *latest = checkpoint.clone();
                }
                let batch_requests = jobs.len();
                self.stats
                    .batches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.stats
                    .requests
                    .fetch_add(batch_requests as u64, std::sync::atomic::Ordering::Relaxed);
                for (job, (records, leaves)) in jobs.into_iter().zip(per_job) {
                    let _ = job.reply.send(Ok(CommitReply {
                        records,
                        leaves,
                        checkpoint: checkpoint.clone(),
                        batch_requests,
                    }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let msg = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(StorageError::Corrupt(msg.clone())));
                }
            }
        }
    }

    /// Builds the sled batch for all jobs and signs the batch's checkpoint.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        jobs: &[Job],
        edge: &mut RightEdge,
    ) -> Result<
        (
            sled::Batch,
            Vec<(Vec<WriteResult>, Vec<u64>)>,
            Arc<CommittedCheckpoint>,
        ),
        StorageError,
    > {
        let mut batch = sled::Batch::default();
        let mut pending = PendingVersions::default();
        let mut per_job = Vec::with_capacity(jobs.len());
        let now = now_ms();
        for job in jobs {
            let req = &job.request;
            let mut results = Vec::with_capacity(req.records.len());
            let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
            let (mut stored, mut unchanged) = (0u32, 0u32);
            for w in &req.records {
                let result = self.store.decide_write(w, &mut pending)?;
                match result {
                    WriteResult::Stored => {
                        stored += 1;
                        digest.update(&w.record.content_sha256);
                        let key = keys::record_key(
                            &w.borrower_key,
                            w.kind.tag(),
                            &w.record_id,
                            w.version,
                        );
                        batch.insert(key, w.record.encode_to_vec());
                    }
                    WriteResult::Unchanged => unchanged += 1,
                    WriteResult::Refused(_) => {}
                }
                results.push(result);
            }
            let mut leaves = Vec::with_capacity(req.log.len() + 1);
            for append in &req.log {
                leaves.push(append_entry(
                    &mut batch,
                    edge,
                    &append.entry.encode_to_vec(),
                    append.query_index.as_ref(),
                ));
            }
            if stored > 0 {
                let entry = pb::LogEntry {
                    time_ms: now,
                    kind: Some(pb::log_entry::Kind::RecordBatch(pb::RecordBatchEntry {
                        actor: req.record_actor.clone(),
                        stored,
                        unchanged,
                        records_digest: digest.finish().as_ref().to_vec(),
                    })),
                };
                leaves.push(append_entry(&mut batch, edge, &entry.encode_to_vec(), None));
            }
            for (k, v) in &req.puts {
                batch.insert(k.as_slice(), v.as_slice());
            }
            for k in &req.removes {
                batch.remove(k.as_slice());
            }
            per_job.push((results, leaves));
        }
        let checkpoint = if edge.size() == self.edge.size() {
            self.latest_checkpoint()
        } else {
            let cp = Checkpoint {
                origin: self.origin.clone(),
                size: edge.size(),
                root: edge.root(),
                timestamp_ms: now,
            };
            let note = cp.sign(&self.origin, self.signer.key_pair());
            let stored = pb::GetCheckpointResponse {
                checkpoint: Some(pb::Checkpoint {
                    signed_note: note.clone(),
                }),
                signer_certificate: self.signer.certificate_der().to_vec(),
            };
            batch.insert(
                &keys::indexed(keys::CHECKPOINT, cp.size)[..],
                stored.encode_to_vec(),
            );
            Arc::new(CommittedCheckpoint {
                size: cp.size,
                root: cp.root,
                note,
            })
        };
        Ok((batch, per_job, checkpoint))
    }

    fn latest_checkpoint(&self) -> Arc<CommittedCheckpoint> {
        match self.latest.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Where the writer's time goes, logged at debug level every 10 seconds.
#[derive(Default)]
struct WriterTiming {
    batches: u32,
    prepare: std::time::Duration,
    apply: std::time::Duration,
    sync: std::time::Duration,
    since: Option<std::time::Instant>,
}

impl WriterTiming {
    fn record(&mut self, prepare: std::time::Duration, apply: std::time::Duration, sync: std::time::Duration) {
        self.batches += 1;
        self.prepare += prepare;
        self.apply += apply;
        self.sync += sync;
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= std::time::Duration::from_secs(10) {
            let per = |d: std::time::Duration| d.as_micros() as u64 / u64::from(self.batches.max(1));
            tracing::debug!(
                batches = self.batches,
                prepare_us = per(self.prepare),
                apply_us = per(self.apply),
                sync_us = per(self.sync),
                "group commit timings (mean per batch)"
            );
            *self = Self::default();
        }
    }
}

/// Appends one entry: entry, new subtree hashes, optional query index.
fn append_entry(
    batch: &mut sled::Batch,
    edge: &mut RightEdge,
    bytes: &[u8],
    query_index: Option<&[u8; 32]>,
) -> u64 {
    let index = edge.size();
    batch.insert(&keys::indexed(keys::LOG_ENTRY, index)[..], bytes);
    for (level, i, hash) in edge.append(audit::leaf_hash(bytes)) {
        batch.insert(&keys::hash_key(level, i)[..], &hash[..]);
    }
    if let Some(bk) = query_index {
        batch.insert(keys::query_index_key(bk, index), &[][..]);
    }
    index
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
