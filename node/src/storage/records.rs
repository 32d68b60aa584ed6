//! Signed borrower records: every version kept, newest supersedes.
//!
//! Version rule (checked by the single writer, so it is race-free): a new
//! higher version is stored; the same version with the same content is an
//! idempotent no-op; a lower or equal version with different content is
//! refused. A new version was checked against the newest version stored
//! when it was prepared (`base_version`, see `domain::records` successor
//! rules); if another version was stored meanwhile it is refused, so no
//! check is ever made against a stale predecessor.

use std::collections::HashMap;

use credshare_proto::v1 as pb;

use super::keys;
use super::{StorageError, Store};
use crate::domain::BorrowerKey;

/// Which kind of record; part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Credit,
    Visit,
}

impl RecordKind {
    pub fn tag(self) -> u8 {
        match self {
            RecordKind::Credit => b'C',
            RecordKind::Visit => b'V',
        }
    }
}

/// One signed record version to store.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    pub borrower_key: BorrowerKey,
    pub kind: RecordKind,
    pub record_id: String,
    pub version: u64,
    pub record: pb::StoredRecord,
    /// The newest stored version this write was checked against (`None`:
    /// there was none).
    pub base_version: Option<u64>,
}

/// What happened to one [`RecordWrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    Stored,
    Unchanged,
    /// Refused by the version rule; the reason names the versions.
    Refused(String),
}

/// Versions already decided in the current batch, so that two writes of one
/// record in one batch obey the same rule as two batches.
#[derive(Debug, Default)]
pub(crate) struct PendingVersions {
    by_record: HashMap<Vec<u8>, Vec<(u64, Vec<u8>)>>,
}

impl Store {
    /// Decides one write against stored and pending versions.
    pub(crate) fn decide_write(
        &self,
        w: &RecordWrite,
        pending: &mut PendingVersions,
    ) -> Result<WriteResult, StorageError> {
        let prefix =
            keys::record_versions_prefix(w.borrower_key.as_bytes(), w.kind.tag(), &w.record_id);
        let versions = match pending.by_record.get(&prefix) {
            Some(v) => v.clone(),
            None => self.stored_versions(&prefix)?,
        };
        let hash = &w.record.content_sha256;
        let result = if let Some((_, existing)) = versions.iter().find(|(v, _)| *v == w.version) {
            if existing == hash {
                WriteResult::Unchanged
            } else {
                WriteResult::Refused(format!(
                    "version {} of record {} is already stored with different content; use a higher version",
                    w.version, w.record_id
                ))
            }
        } else if let Some(max) = versions
            .iter()
            .map(|(v, _)| *v)
            .max()
            .filter(|m| *m > w.version)
        {
            WriteResult::Refused(format!(
                "version {} of record {} is older than stored version {max}",
                w.version, w.record_id
            ))
        } else if let Some(newer) = newest_besides(&versions, w.base_version) {
            WriteResult::Refused(format!(
                "version {newer} of record {} was stored while this row was checked; send it again",
                w.record_id
            ))
        } else {
            WriteResult::Stored
        };
        if result == WriteResult::Stored {
            let mut versions = versions;
            versions.push((w.version, hash.clone()));
            pending.by_record.insert(prefix, versions);
        }
        Ok(result)
    }

    /// The newest stored version of one record, if any. One short scan.
    pub fn current_record(
        &self,
        borrower_key: &BorrowerKey,
        kind: RecordKind,
        record_id: &str,
    ) -> Result<Option<(u64, pb::StoredRecord)>, StorageError> {
        let prefix = keys::record_versions_prefix(borrower_key.as_bytes(), kind.tag(), record_id);
        let Some(item) = self.tree.scan_prefix(&prefix).next_back() else {
            return Ok(None);
        };
        let (key, value) = item?;
        let version = super::be_u64(&key[prefix.len()..])?;
        Ok(Some((version, self.decode_record(&value)?)))
    }

    /// (version, content hash) of every stored version of one record.
    fn stored_versions(&self, prefix: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix) {
            let (key, value) = item?;
            let version = super::be_u64(&key[prefix.len()..])?;
            let record = self.decode_record(&value)?;
            out.push((version, record.content_sha256));
        }
        Ok(out)
    }

    /// Newest version of every record of one borrower, and the number of
    /// stored versions. One prefix scan.
    pub fn borrower_records(
        &self,
        borrower_key: &BorrowerKey,
    ) -> Result<(Vec<pb::StoredRecord>, u64), StorageError> {
        let prefix = keys::record_prefix(borrower_key.as_bytes());
        let mut current: Vec<pb::StoredRecord> = Vec::new();
        let mut last_record: Option<Vec<u8>> = None;
        let mut history = 0u64;
        for item in self.tree.scan_prefix(&prefix) {
            let (key, value) = item?;
            history += 1;
            // Versions of one record are adjacent and ascending; keep the last.
            let record_part = key[..key.len() - 8].to_vec();
            let record = self.decode_record(&value)?;
            if last_record.as_deref() == Some(&record_part[..]) {
                if let Some(slot) = current.last_mut() {
                    *slot = record;
                }
            } else {
                current.push(record);
                last_record = Some(record_part);
            }
        }
        // A version whose body the retention sweep deleted is never served,
        // nor any older one in its place.
        current.retain(|r| r.envelope.is_some());
        Ok((current, history))
    }

    /// Visits every stored version of every record, borrower by borrower,
    /// each record's versions oldest first; `current` is true for the
    /// newest version of its record. One scan (for schedules and sweeps).
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(&BorrowerKey, &pb::StoredRecord, bool),
    ) -> Result<(), StorageError> {
        let mut pending: Option<(Vec<u8>, BorrowerKey, pb::StoredRecord)> = None;
        for item in self.tree.scan_prefix([keys::RECORD]) {
            let (key, value) = item?;
            let record_part = key[..key.len() - 8].to_vec();
            let bk = BorrowerKey::from_slice(key.get(1..33).unwrap_or_default())
                .map_err(|_| StorageError::Corrupt("short record key".into()))?;
            let record = self.decode_record(&value)?;
            if let Some((part, pbk, prev)) = pending.take() {
                f(&pbk, &prev, part != record_part);
            }
            pending = Some((record_part, bk, record));
        }
        if let Some((_, bk, rec)) = pending {
            f(&bk, &rec, true);
        }
        Ok(())
    }
}

/// The newest of `versions` when it is not `base` (the write was checked
/// against an older state).
fn newest_besides(versions: &[(u64, Vec<u8>)], base: Option<u64>) -> Option<u64> {
    let newest = versions.iter().map(|(v, _)| *v).max();
    (newest != base).then_some(newest).flatten()
}

/// Every stored version of one record, ascending.
#[derive(Debug, Clone)]
pub struct RecordHistory {
    pub borrower_key: BorrowerKey,
    pub kind: RecordKind,
    pub record_id: String,
    pub versions: Vec<(u64, pb::StoredRecord)>,
}

/// A version whose body the retention sweep deletes: its key and content
/// hash stay, so the version rule still knows it (re-sending the same
/// version is `Unchanged`, never a restore).
#[derive(Debug, Clone)]
pub struct RecordExpiry {
    pub borrower_key: BorrowerKey,
    pub kind: RecordKind,
    pub record_id: String,
    pub version: u64,
    pub content_sha256: Vec<u8>,
    pub stored_at_ms: i64,
}

impl RecordExpiry {
    /// Adds this deletion to a sled batch (called by the writer).
    pub(super) fn apply(&self, batch: &mut sled::Batch) {
        let key = keys::record_key(
            self.borrower_key.as_bytes(),
            self.kind.tag(),
            &self.record_id,
            self.version,
        );
        let stub = pb::StoredRecord {
            envelope: None,
            content_sha256: self.content_sha256.clone(),
            stored_at_ms: self.stored_at_ms,
        };
        batch.insert(key, super::compact::encode_record(&stub).0);
    }
}

impl Store {
    /// Every record of every borrower with all its versions, handed to `f`
    /// one borrower at a time (one scan of the records; for the retention
    /// sweep). Only one borrower's records are held at a time: at a million
    /// borrowers the whole store does not fit in memory.
    pub fn for_each_borrower_history(
        &self,
        mut f: impl FnMut(Vec<RecordHistory>),
    ) -> Result<(), StorageError> {
        let mut borrower: Vec<RecordHistory> = Vec::new();
        for item in self.tree.scan_prefix([keys::RECORD]) {
            let (key, value) = item?;
            let Some((borrower_key, kind, record_id, version)) = split_record_key(&key) else {
                return Err(StorageError::Corrupt("malformed record key".into()));
            };
            let record = self.decode_record(&value)?;
            match borrower.last_mut() {
                Some(h)
                    if h.borrower_key == borrower_key
                        && h.kind == kind
                        && h.record_id == record_id =>
                {
                    h.versions.push((version, record));
                    continue;
                }
                Some(h) if h.borrower_key != borrower_key => f(std::mem::take(&mut borrower)),
                _ => {}
            }
            borrower.push(RecordHistory {
                borrower_key,
                kind,
                record_id,
                versions: vec![(version, record)],
            });
        }
        if !borrower.is_empty() {
            f(borrower);
        }
        Ok(())
    }
}

/// `R` ‖ borrower key ‖ kind ‖ record id ‖ 0x00 ‖ version BE.
fn split_record_key(key: &[u8]) -> Option<(BorrowerKey, RecordKind, String, u64)> {
    let borrower = BorrowerKey::from_slice(key.get(1..33)?).ok()?;
    let kind = match *key.get(33)? {
        b'C' => RecordKind::Credit,
        b'V' => RecordKind::Visit,
        _ => return None,
    };
    let rest = key.get(34..key.len().checked_sub(9)?)?;
    let record_id = String::from_utf8(rest.to_vec()).ok()?;
    let version = u64::from_be_bytes(key.get(key.len() - 8..)?.try_into().ok()?);
    Some((borrower, kind, record_id, version))
}
