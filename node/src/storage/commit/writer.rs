//! The writer of group commit: batches waiting requests, decides record
//! versions, appends log entries, signs one checkpoint, applies one atomic
//! sled batch, then has the [`super::syncer`] make it durable and answer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use credshare_proto::v1 as pb;
use prost::Message;
use tokio::sync::mpsc;

use super::{
    Applied, CommitRequest, CommittedCheckpoint, Job, ProofOverlay, StageTiming, fail, refuse,
};
use crate::audit::{self, Checkpoint, RightEdge};
use crate::domain::BorrowerKey;
use crate::domain::dates::now_ms;
use crate::signing::{Signer, SignerSlot};
use crate::storage::certificates::certificate_key;
use crate::storage::compact;
use crate::storage::counts::{CountingBatch, RecordCounts};
use crate::storage::keys;
use crate::storage::records::{PendingVersions, WriteResult};
use crate::storage::{StorageError, Store};

pub(super) struct Writer {
    pub store: Store,
    /// The signer in use; read once per batch (key rotation).
    pub signer: Arc<SignerSlot>,
    /// Key id of the certificate that signed the newest checkpoint.
    pub signing_key_id: Option<String>,
    pub origin: String,
    pub max_batch: usize,
    /// The tree as applied (possibly ahead of the durable checkpoint).
    pub edge: RightEdge,
    /// The newest checkpoint signed (possibly not yet durable).
    pub last_signed: Arc<CommittedCheckpoint>,
    /// Set by the syncer after a failed fsync: nothing more may be written.
    pub poison: Arc<Mutex<Option<String>>>,
    pub syncer: super::syncer::Syncer,
    pub timing: StageTiming,
    /// Record versions and borrowers as applied (`storage/counts.rs`).
    pub counts: RecordCounts,
}

type Prepared = (
    sled::Batch,
    Vec<(Vec<WriteResult>, Vec<u64>)>,
    Arc<CommittedCheckpoint>,
    RecordCounts,
);

impl Writer {
    pub fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
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
            self.apply(jobs);
        }
    }

    fn apply(&mut self, jobs: Vec<Job>) {
        let poisoned = self
            .poison
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(reason) = poisoned {
            return fail(jobs, &reason);
        }
        // Never let sled meet a full disk: its write errors are sticky.
        if let Err(StorageError::Fault(fault)) = self.store.health().check_space(self.store.dir()) {
            return refuse(jobs, &fault);
        }
        // A backup holds the gate exclusively: no batch is half in its copy.
        let gate = self.store.write_gate.clone();
        let _gate = gate.read().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let mut edge = self.edge.clone();
        let mut overlay = ProofOverlay::default();
        overlay
            .hashes
            .extend(edge.subtrees().into_iter().map(|(l, i, h)| ((l, i), h)));
        let signer = self.signer.current();
        let outcome = self
            .prepare(&jobs, &signer, &mut edge, &mut overlay)
            .and_then(|(batch, per_job, checkpoint, counts)| {
                self.store.tree.apply_batch(batch)?;
                Ok((per_job, checkpoint, counts))
            });
        match outcome {
            Ok((per_job, checkpoint, counts)) => {
                self.edge = edge;
                self.counts = counts;
                if checkpoint.size > self.last_signed.size {
                    self.signing_key_id = Some(signer.key_id().to_owned());
                }
                self.last_signed = checkpoint.clone();
                self.timing.record("apply", started.elapsed());
                let applied = Applied {
                    jobs,
                    per_job,
                    checkpoint,
                    overlay: Arc::new(overlay),
                };
                self.syncer.complete(applied);
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                fail(jobs, &e.to_string());
            }
        }
    }

    /// Builds the sled batch for all jobs and signs the batch's checkpoint
    /// with `signer`; a key not used before is first recorded in the log.
    fn prepare(
        &self,
        jobs: &[Job],
        signer: &Signer,
        edge: &mut RightEdge,
        overlay: &mut ProofOverlay,
    ) -> Result<Prepared, StorageError> {
        let mut batch = BatchBuilder {
            batch: sled::Batch::default(),
            store: &self.store,
            new_certificates: Vec::new(),
            edge,
            overlay,
            counting: CountingBatch::new(self.counts),
        };
        let mut pending = PendingVersions::default();
        let mut per_job = Vec::with_capacity(jobs.len());
        let now = now_ms();
        let size_before = batch.edge.size();
        if self.signing_key_id.as_deref() != Some(signer.key_id()) {
            let entry = self.key_entry(signer, now);
            batch.append(&entry.encode_to_vec(), None);
        }
        for job in jobs {
            let req = &job.request;
            let (results, record_entry) = self.decide_records(req, &mut pending, &mut batch)?;
            let mut leaves = Vec::with_capacity(req.log.len() + 1);
            for append in &req.log {
                let bytes = append.entry.encode_to_vec();
                leaves.push(batch.append(&bytes, append.query_index.as_ref()));
            }
            if let Some(kind) = record_entry {
                let entry = pb::LogEntry {
                    time_ms: now,
                    kind: Some(kind),
                };
                leaves.push(batch.append(&entry.encode_to_vec(), None));
            }
            req.apply_typed_writes(&mut batch.batch);
            per_job.push((results, leaves));
        }
        let checkpoint = if batch.edge.size() == size_before {
            self.last_signed.clone()
        } else {
            self.sign_checkpoint(&mut batch, signer, now)?
        };
        batch.counting.write(&mut batch.batch);
        Ok((batch.batch, per_job, checkpoint, batch.counting.counts))
    }

    /// Decides every record write of one request by the version rule and
    /// adds the stored ones to the batch; returns the results and, when at
    /// least one was stored, the `RecordBatchEntry` to log for them.
    fn decide_records(
        &self,
        req: &CommitRequest,
        pending: &mut PendingVersions,
        batch: &mut BatchBuilder<'_>,
    ) -> Result<(Vec<WriteResult>, Option<pb::log_entry::Kind>), StorageError> {
        let mut results = Vec::with_capacity(req.records.len());
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let (mut stored, mut unchanged) = (0u32, 0u32);
        for w in &req.records {
            let result = self.store.decide_write(w, pending)?;
            match result {
                WriteResult::Stored => {
                    stored += 1;
                    batch.counting.stored(&self.store, &w.borrower_key)?;
                    digest.update(&w.record.content_sha256);
                    let key = keys::record_key(
                        w.borrower_key.as_bytes(),
                        w.kind.tag(),
                        &w.record_id,
                        w.version,
                    );
                    let (value, certificates) = compact::encode_record(&w.record);
                    for der in certificates {
                        batch.certificate(der)?;
                    }
                    batch.batch.insert(key, value);
                }
                WriteResult::Unchanged => unchanged += 1,
                WriteResult::Refused(_) => {}
            }
            results.push(result);
        }
        let entry = (stored > 0).then(|| {
            pb::log_entry::Kind::RecordBatch(pb::RecordBatchEntry {
                actor: req.record_actor.clone(),
                officer: req.record_officer.clone(),
                stored,
                unchanged,
                records_digest: digest.finish().as_ref().to_vec(),
            })
        });
        Ok((results, entry))
    }

    /// The log entry that records `signer`'s key coming into use.
    fn key_entry(&self, signer: &Signer, now: i64) -> pb::LogEntry {
        let public_key = ring::signature::KeyPair::public_key(signer.key_pair());
        pb::LogEntry {
            time_ms: now,
            kind: Some(pb::log_entry::Kind::SignerKey(pb::SignerKeyEntry {
                certificate: signer.certificate_der().to_vec(),
                key_id: signer.key_id().to_owned(),
                note_key_id: audit::key_id(&self.origin, public_key.as_ref()).to_vec(),
                previous_key_id: self.signing_key_id.clone().unwrap_or_default(),
            })),
        }
    }

    /// Signs the batch's checkpoint and adds it to the batch (kept forever,
    /// with the certificate that signed it: auditors ask for consistency
    /// from any old one).
    fn sign_checkpoint(
        &self,
        batch: &mut BatchBuilder<'_>,
        signer: &Signer,
        now: i64,
    ) -> Result<Arc<CommittedCheckpoint>, StorageError> {
        let edge = &batch.edge;
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: edge.size(),
            root: edge.root(),
            timestamp_ms: Some(now),
            extensions: Vec::new(),
        };
        let note = cp.sign(&self.origin, signer.key_pair());
        batch.certificate(signer.certificate_der())?;
        batch.batch.insert(
            &keys::indexed(keys::CHECKPOINT, cp.size)[..],
            compact::encode_checkpoint(&note, signer.certificate_der()),
        );
        Ok(Arc::new(CommittedCheckpoint {
            size: cp.size,
            root: cp.root,
            note,
        }))
    }
}

/// One batch being built: the sled batch and the tree it extends.
struct BatchBuilder<'a> {
    batch: sled::Batch,
    store: &'a Store,
    /// Certificates this batch adds to the `K` table.
    new_certificates: Vec<compact::CertRef>,
    edge: &'a mut RightEdge,
    overlay: &'a mut ProofOverlay,
    /// Record counts with this batch's records.
    counting: CountingBatch,
}

impl BatchBuilder<'_> {
    /// Adds signer certificate `der` to the batch unless the store or the
    /// batch already holds it (compact values refer to it).
    fn certificate(&mut self, der: &[u8]) -> Result<(), StorageError> {
        let reference = compact::cert_ref(der);
        if self.new_certificates.contains(&reference) || self.store.has_certificate(&reference)? {
            return Ok(());
        }
        self.batch.insert(&certificate_key(&reference)[..], der);
        self.new_certificates.push(reference);
        Ok(())
    }

    /// Appends one entry: entry, new subtree hashes, optional query index.
    /// Returns its leaf index.
    fn append(&mut self, bytes: &[u8], query_index: Option<&BorrowerKey>) -> u64 {
        let index = self.edge.size();
        self.batch
            .insert(&keys::indexed(keys::LOG_ENTRY, index)[..], bytes);
        for (level, i, hash) in self.edge.append(audit::leaf_hash(bytes)) {
            self.batch.insert(&keys::hash_key(level, i)[..], &hash[..]);
            self.overlay.hashes.insert((level, i), hash);
        }
        if let Some(bk) = query_index {
            self.batch
                .insert(keys::query_index_key(bk.as_bytes(), index), &[][..]);
        }
        index
    }
}
