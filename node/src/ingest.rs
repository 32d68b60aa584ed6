//! Record ingestion: validate each row with the domain rules, sign the valid
//! ones as DSSE envelopes with the institution's key, and commit them through
//! the single writer (group commit, durable before acknowledgement).
//!
//! Signing runs on the blocking pool so the async workers stay free; callers
//! pipeline several chunks so that signing, the writer and the network
//! overlap.

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::records::{self, FieldError};
use crate::node::Node;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};
use crate::storage::{CommitRequest, RecordKind, RecordWrite, StorageError, WriteResult};

/// Outcome of one chunk of rows.
#[derive(Debug, Default, Clone)]
pub struct IngestSummary {
    pub stored: u64,
    pub unchanged: u64,
    pub rejections: Vec<pb::RowRejection>,
    /// The stored form of every accepted row, in order (for `PutRecord`).
    pub accepted: Vec<(WriteResult, pb::StoredRecord)>,
}

/// A row that passed validation and is signed.
struct Prepared {
    row_number: u64,
    write: RecordWrite,
}

impl Node {
    /// Validates, signs and durably stores `rows`; never fails a whole chunk
    /// for one bad row. `actor` names the caller in the query log.
    pub async fn ingest(
        &self,
        rows: Vec<pb::ImportRow>,
        actor: String,
    ) -> Result<IngestSummary, StorageError> {
        let signer = self.signer.clone();
        let institution = self.institution().to_string();
        let (prepared, mut rejections) =
            tokio::task::spawn_blocking(move || prepare_rows(rows, &institution, &signer))
                .await
                .map_err(|e| StorageError::Corrupt(format!("ingest task failed: {e}")))?;
        if prepared.is_empty() {
            return Ok(IngestSummary {
                rejections,
                ..Default::default()
            });
        }
        let row_numbers: Vec<u64> = prepared.iter().map(|p| p.row_number).collect();
        let records: Vec<RecordWrite> = prepared.into_iter().map(|p| p.write).collect();
        let stored_forms: Vec<pb::StoredRecord> =
            records.iter().map(|w| w.record.clone()).collect();
        let borrowers: Vec<[u8; 32]> = records.iter().map(|w| w.borrower_key).collect();
        let reply = self
            .committer
            .commit(CommitRequest {
                records,
                record_actor: actor,
                ..Default::default()
            })
            .await?;
        // Indicators of the borrowers just written are stale now.
        self.indicators.invalidate(
            reply
                .records
                .iter()
                .zip(&borrowers)
                .filter(|(r, _)| **r == WriteResult::Stored)
                .map(|(_, b)| b),
        );
        let mut summary = IngestSummary::default();
        for ((result, row_number), stored) in
            reply.records.into_iter().zip(row_numbers).zip(stored_forms)
        {
            match &result {
                WriteResult::Stored => summary.stored += 1,
                WriteResult::Unchanged => summary.unchanged += 1,
                WriteResult::Refused(reason) => rejections.push(pb::RowRejection {
                    row_number,
                    field: "version".into(),
                    reason: reason.clone(),
                }),
            }
            summary.accepted.push((result, stored));
        }
        rejections.sort_by_key(|r| r.row_number);
        summary.rejections = rejections;
        Ok(summary)
    }
}

fn prepare_rows(
    rows: Vec<pb::ImportRow>,
    institution: &str,
    signer: &crate::signing::Signer,
) -> (Vec<Prepared>, Vec<pb::RowRejection>) {
    let today = records::latest_date_anywhere();
    let now = crate::storage::commit::now_ms();
    let mut prepared = Vec::with_capacity(rows.len());
    let mut rejections = Vec::new();
    for row in rows {
        match prepare_row(row.record, institution, today, now, signer) {
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
    (prepared, rejections)
}

/// Validates and signs one record.
fn prepare_row(
    input: Option<pb::RecordInput>,
    institution: &str,
    today: time::Date,
    now_ms: i64,
    signer: &crate::signing::Signer,
) -> Result<RecordWrite, FieldError> {
    let record = input
        .and_then(|r| r.record)
        .ok_or_else(|| FieldError::new("record", "row carries no credit or visit record"))?;
    let (kind, payload_type, record_id, version, borrower_key, payload) = match record {
        pb::record_input::Record::Credit(mut c) => {
            own_institution(&mut c.institution_id, institution)?;
            records::validate_credit(&c, today)?;
            (
                RecordKind::Credit,
                CREDIT_SUMMARY_TYPE,
                c.facility_id.clone(),
                c.version,
                c.borrower_key.clone(),
                c.encode_to_vec(),
            )
        }
        pb::record_input::Record::Visit(mut v) => {
            own_institution(&mut v.institution_id, institution)?;
            records::validate_visit(&v, today)?;
            (
                RecordKind::Visit,
                VISIT_SUMMARY_TYPE,
                v.visit_id.clone(),
                v.version,
                v.borrower_key.clone(),
                v.encode_to_vec(),
            )
        }
    };
    let borrower_key: [u8; 32] = borrower_key
        .as_slice()
        .try_into()
        .map_err(|_| FieldError::new("borrower_key", "must be 32 bytes"))?;
    let content_sha256 = ring::digest::digest(&ring::digest::SHA256, &payload)
        .as_ref()
        .to_vec();
    let envelope = signer.sign_envelope(payload_type, payload);
    Ok(RecordWrite {
        borrower_key,
        kind,
        record_id,
        version,
        record: pb::StoredRecord {
            envelope: Some(envelope),
            content_sha256,
            stored_at_ms: now_ms,
        },
    })
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
