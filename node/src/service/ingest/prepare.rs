//! Preparing rows for the writer: each is validated alone
//! (`domain::records`), then against what it changes — the newest stored
//! (or earlier in the same message) version of the same record, which it
//! may not move back in time or turn into another facility, and for a visit
//! the facility it visits, which must exist and be disbursed by the visit
//! date — and signed. The version checked against travels with the write
//! (`base_version`), so the writer refuses it if another version was stored
//! meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use credshare_proto::v1 as pb;
use prost::Message;
use time::Date;

use crate::domain::borrower::KeyGeneration;
use crate::domain::records::{
    check_credit_successor, check_visit_facility, check_visit_successor, validate_credit,
    validate_visit,
};
use crate::domain::{BorrowerKey, FieldError};
use crate::signing::{CREDIT_SUMMARY_TYPE, Signer, VISIT_SUMMARY_TYPE, sha256};
use crate::storage::{RecordKind, RecordWrite, StorageError, Store};

/// A row that passed every check and is signed.
pub(super) struct Prepared {
    pub row_number: u64,
    pub write: RecordWrite,
}

/// A record as last known: its version and decoded content.
#[derive(Clone)]
enum Known {
    Credit(u64, Box<pb::CreditSummary>),
    Visit(u64, Box<pb::VisitSummary>),
}

impl Known {
    fn version(&self) -> u64 {
        match self {
            Known::Credit(v, _) | Known::Visit(v, _) => *v,
        }
    }

    fn kind(&self) -> RecordKind {
        match self {
            Known::Credit(..) => RecordKind::Credit,
            Known::Visit(..) => RecordKind::Visit,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Known::Credit(_, c) => c.encode_to_vec(),
            Known::Visit(_, v) => v.encode_to_vec(),
        }
    }

    /// Whether `next` may follow this version of the same record.
    fn check_successor(&self, next: &Known) -> Result<(), FieldError> {
        match (self, next) {
            (Known::Credit(_, stored), Known::Credit(_, next)) => {
                check_credit_successor(stored, next)
            }
            (Known::Visit(_, stored), Known::Visit(_, next)) => check_visit_successor(stored, next),
            _ => Ok(()),
        }
    }
}

/// Prepares the rows of one message.
pub(super) struct Preparer {
    institution: String,
    /// Today in the business time zone: the latest acceptable date.
    today: Date,
    now_ms: i64,
    signer: Arc<Signer>,
    store: Store,
    /// The borrower key generation this node serves; rows of another are
    /// rejected (field `key_generation`).
    generation: KeyGeneration,
    /// Records prepared earlier in this message, newest version each.
    chunk: HashMap<(RecordKind, BorrowerKey, String), Known>,
}

impl Preparer {
    pub fn new(
        institution: String,
        today: Date,
        signer: Arc<Signer>,
        store: Store,
        generation: KeyGeneration,
    ) -> Self {
        Self {
            institution,
            today,
            now_ms: crate::domain::dates::now_ms(),
            signer,
            store,
            generation,
            chunk: HashMap::new(),
        }
    }

    /// Prepared rows and rejected ones; a store failure fails the message.
    pub fn prepare_rows(
        &mut self,
        rows: Vec<pb::ImportRow>,
    ) -> Result<(Vec<Prepared>, Vec<pb::RowRejection>), StorageError> {
        let mut prepared = Vec::with_capacity(rows.len());
        let mut rejections = Vec::new();
        for row in rows {
            match self.prepare_row(row.record)? {
                Ok(write) => prepared.push(Prepared {
                    row_number: row.row_number,
                    write,
                }),
                Err(e) => rejections.push(pb::RowRejection {
                    row_number: row.row_number,
                    field: e.field.into(),
                    reason: e.reason,
                }),
            }
        }
        Ok((prepared, rejections))
    }

    /// Checks and signs one record.
    fn prepare_row(
        &mut self,
        input: Option<pb::RecordInput>,
    ) -> Result<Result<RecordWrite, FieldError>, StorageError> {
        let Some(mut record) = input.and_then(|r| r.record) else {
            return Ok(Err(FieldError::new(
                "record",
                "row carries no credit or visit record",
            )));
        };
        let key = match self.checked_key(&mut record) {
            Ok(key) => key,
            Err(e) => return Ok(Err(e)),
        };
        match record {
            pb::record_input::Record::Credit(c) => {
                let id = c.facility_id.clone();
                self.stage(key, &id, Known::Credit(c.version, Box::new(c)))
            }
            pb::record_input::Record::Visit(v) => self.prepare_visit(key, v),
        }
    }

    /// The originator filled in (or checked: this node stores only its
    /// own institution's records), the record's own rules, then its
    /// borrower key and that key's generation.
    fn checked_key(
        &self,
        record: &mut pb::record_input::Record,
    ) -> Result<BorrowerKey, FieldError> {
        use pb::record_input::Record;
        match record {
            Record::Credit(c) => own_institution(&mut c.institution_id, &self.institution)?,
            Record::Visit(v) => own_institution(&mut v.institution_id, &self.institution)?,
        }
        let (borrower, generation) = match record {
            Record::Credit(c) => {
                validate_credit(c, self.today)?;
                (&c.borrower_key, c.key_generation)
            }
            Record::Visit(v) => {
                validate_visit(v, self.today)?;
                (&v.borrower_key, v.key_generation)
            }
        };
        self.generation
            .check(generation)
            .map_err(|e| FieldError::new("key_generation", e.to_string()))?;
        borrower_key(borrower)
    }

    /// A visit also needs its facility: known and disbursed by its date.
    fn prepare_visit(
        &mut self,
        key: BorrowerKey,
        v: pb::VisitSummary,
    ) -> Result<Result<RecordWrite, FieldError>, StorageError> {
        let facility = match self.known(RecordKind::Credit, key, &v.facility_id)? {
            Some(Known::Credit(_, c)) => Some(c),
            _ => None,
        };
        if let Err(e) = check_visit_facility(&v, facility.as_deref()) {
            return Ok(Err(e));
        }
        let id = v.visit_id.clone();
        self.stage(key, &id, Known::Visit(v.version, Box::new(v)))
    }

    /// Stages a checked record: refuses a newer version that breaks the
    /// rules of the one it follows, signs it and remembers it for later
    /// rows of this message.
    fn stage(
        &mut self,
        key: BorrowerKey,
        id: &str,
        next: Known,
    ) -> Result<Result<RecordWrite, FieldError>, StorageError> {
        let kind = next.kind();
        let known = self.known(kind, key, id)?;
        if let Some(stored) = &known
            && stored.version() < next.version()
            && let Err(e) = stored.check_successor(&next)
        {
            return Ok(Err(e));
        }
        let write = self.sign(kind, key, id, next.version(), known.as_ref(), next.encode());
        self.remember(kind, key, id, next, known);
        Ok(Ok(write))
    }

    /// The newest version of a record: earlier in this message, else stored.
    fn known(
        &self,
        kind: RecordKind,
        key: BorrowerKey,
        id: &str,
    ) -> Result<Option<Known>, StorageError> {
        if let Some(known) = self.chunk.get(&(kind, key, id.to_owned())) {
            return Ok(Some(known.clone()));
        }
        let Some((version, stored)) = self.store.current_record(&key, kind, id)? else {
            return Ok(None);
        };
        let payload = stored.envelope.map(|e| e.payload).unwrap_or_default();
        let decoded = match kind {
            RecordKind::Credit => pb::CreditSummary::decode(payload.as_slice())
                .map(|c| Known::Credit(version, Box::new(c))),
            RecordKind::Visit => pb::VisitSummary::decode(payload.as_slice())
                .map(|v| Known::Visit(version, Box::new(v))),
        };
        decoded
            .map(Some)
            .map_err(|e| StorageError::Corrupt(format!("stored record {id}: {e}")))
    }

    /// Keeps `now` as the newest version of its record for later rows of
    /// this message, when it is newer than what was known.
    fn remember(
        &mut self,
        kind: RecordKind,
        key: BorrowerKey,
        id: &str,
        now: Known,
        before: Option<Known>,
    ) {
        if before.is_none_or(|b| b.version() < now.version()) {
            self.chunk.insert((kind, key, id.to_owned()), now);
        }
    }

    /// Signs the payload as a DSSE envelope of its record type.
    fn sign(
        &self,
        kind: RecordKind,
        borrower_key: BorrowerKey,
        record_id: &str,
        version: u64,
        base: Option<&Known>,
        payload: Vec<u8>,
    ) -> RecordWrite {
        let payload_type = match kind {
            RecordKind::Credit => CREDIT_SUMMARY_TYPE,
            RecordKind::Visit => VISIT_SUMMARY_TYPE,
        };
        let content_sha256 = sha256(&payload);
        let envelope = self.signer.sign_envelope(payload_type, payload);
        RecordWrite {
            borrower_key,
            kind,
            record_id: record_id.to_owned(),
            version,
            record: pb::StoredRecord {
                envelope: Some(envelope),
                content_sha256,
                stored_at_ms: self.now_ms,
            },
            base_version: base.map(Known::version),
        }
    }
}

fn borrower_key(bytes: &[u8]) -> Result<BorrowerKey, FieldError> {
    BorrowerKey::from_slice(bytes).map_err(|_| FieldError::new("borrower_key", "must be 32 bytes"))
}

/// Records carry their originator; an admin may only write its own.
fn own_institution(field: &mut String, institution: &str) -> Result<(), FieldError> {
    if field.is_empty() {
        institution.clone_into(field);
    }
    if field != institution {
        return Err(FieldError::new(
            "institution_id",
            format!("record is from {field}, but this node stores only {institution}'s records"),
        ));
    }
    Ok(())
}
