//! Disputes and annotations at the data provider (docs/domain.md "Disputes
//! and annotations"): open a dispute (the record is marked at once, the
//! answer due 20 days later, the borrower's statement filed with it),
//! resolve it, list disputes, add explanations and statements. Every
//! annotation is signed with the node's signer key, stored and logged with
//! the officer in one commit; the indicators of the borrower are refreshed
//! so that peers see the mark at their next query.

use credshare_proto::v1 as pb;
use prost::Message;
use time::Date;

use super::Node;
use crate::blocking;
use crate::domain::dates::{iso_date, now_ms};
use crate::domain::{BorrowerKey, consent, disputes};
use crate::error::NodeError;
use crate::signing::{ANNOTATION_TYPE, CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE, sha256};
use crate::storage::{AnnotationWrite, CommitRequest, LogAppend};

/// `OpenDispute`, converted from the wire.
#[derive(Debug, Clone)]
pub struct OpenDispute {
    pub borrower: BorrowerKey,
    pub record_id: String,
    pub reason: String,
    /// The borrower's statement, if any.
    pub statement: Option<String>,
    /// The day it is opened; `None` = today.
    pub as_of: Option<Date>,
    pub officer: String,
}

impl Node {
    /// Marks a record as disputed and files the borrower's statement.
    pub async fn open_dispute(&self, req: OpenDispute) -> Result<pb::DisputeResponse, NodeError> {
        let today = req
            .as_of
            .unwrap_or_else(|| self.config.business_time_zone.today());
        disputes::validate_text("reason", &req.reason, today)?;
        if let Some(statement) = &req.statement {
            disputes::validate_text("statement", statement, today)?;
        }
        let version = self.record_version(req.borrower, &req.record_id).await?;
        let marks = self.annotations_of(Some(req.borrower)).await?;
        if marks.iter().any(|(_, m)| {
            m.record_id == req.record_id
                && m.r#type == pb::AnnotationType::DisputeMark as i32
                && disputes::marks_record(m.dispute_status)
        }) {
            return Err(NodeError::FailedPrecondition(format!(
                "record {} is already under dispute",
                req.record_id
            )));
        }
        let now = now_ms();
        let dispute_id = format!(
            "D-{}",
            consent::new_consent_id(self.institution(), now, random()?)
        );
        let mark = pb::Annotation {
            annotation_id: dispute_id.clone(),
            institution_id: self.institution().to_string(),
            borrower_key: req.borrower.as_bytes().to_vec(),
            record_id: req.record_id.clone(),
            r#type: pb::AnnotationType::DisputeMark as i32,
            text: req.reason.clone(),
            dispute_id: dispute_id.clone(),
            dispute_status: pb::DisputeStatus::Open as i32,
            opened_date: iso_date(today),
            due_date: iso_date(disputes::due_date(today)),
            officer: req.officer.clone(),
            created_at_ms: now,
            record_version: version,
            ..Default::default()
        };
        let mut annotations = vec![mark.clone()];
        if let Some(statement) = req.statement {
            annotations.push(pb::Annotation {
                annotation_id: format!("{dispute_id}-S"),
                r#type: pb::AnnotationType::BorrowerStatement as i32,
                text: statement,
                dispute_status: 0,
                due_date: String::new(),
                ..mark
            });
        }
        let mut envelopes = self.store_annotations(req.borrower, annotations).await?;
        let mark = envelopes.remove(0);
        Ok(pb::DisputeResponse {
            dispute_id,
            mark: Some(mark),
            annotations: envelopes,
        })
    }

    /// Resolves a dispute: the mark is re-signed with the outcome and note.
    pub async fn resolve_dispute(
        &self,
        dispute_id: &str,
        outcome: pb::DisputeStatus,
        note: &str,
        officer: &str,
    ) -> Result<pb::DisputeResponse, NodeError> {
        let today = self.config.business_time_zone.today();
        disputes::validate_text("note", note, today)?;
        let (borrower, mut mark) = self.dispute_mark(dispute_id).await?;
        let version = self.record_version(borrower, &mark.record_id).await?;
        disputes::check_resolution(&mark, outcome, version)
            .map_err(NodeError::FailedPrecondition)?;
        mark.dispute_status = outcome as i32;
        mark.resolution_note = note.to_owned();
        mark.officer = officer.to_owned();
        mark.created_at_ms = now_ms();
        let mut envelopes = self.store_annotations(borrower, vec![mark]).await?;
        Ok(pb::DisputeResponse {
            dispute_id: dispute_id.to_owned(),
            mark: envelopes.pop(),
            annotations: Vec::new(),
        })
    }

    /// Adds a provider explanation or a borrower statement to a record.
    pub async fn annotate(
        &self,
        borrower: BorrowerKey,
        record_id: &str,
        kind: pb::AnnotationType,
        text: &str,
        officer: &str,
    ) -> Result<pb::SignedEnvelope, NodeError> {
        if !matches!(
            kind,
            pb::AnnotationType::ProviderExplanation | pb::AnnotationType::BorrowerStatement
        ) {
            return Err(NodeError::invalid(
                "type",
                "an annotation is a PROVIDER_EXPLANATION or a BORROWER_STATEMENT",
            ));
        }
        let today = self.config.business_time_zone.today();
        disputes::validate_text("text", text, today)?;
        let version = self.record_version(borrower, record_id).await?;
        let now = now_ms();
        let annotation = pb::Annotation {
            annotation_id: format!(
                "A-{}",
                consent::new_consent_id(self.institution(), now, random()?)
            ),
            institution_id: self.institution().to_string(),
            borrower_key: borrower.as_bytes().to_vec(),
            record_id: record_id.to_owned(),
            r#type: kind as i32,
            text: text.to_owned(),
            officer: officer.to_owned(),
            created_at_ms: now,
            record_version: version,
            ..Default::default()
        };
        let mut envelopes = self.store_annotations(borrower, vec![annotation]).await?;
        envelopes
            .pop()
            .ok_or_else(|| NodeError::internal("annotation not stored"))
    }

    /// Disputes, oldest first: every one, or only those overdue on `as_of`.
    pub async fn list_disputes(
        &self,
        borrower: Option<BorrowerKey>,
        overdue_only: bool,
        as_of: Option<Date>,
    ) -> Result<Vec<pb::DisputeSummary>, NodeError> {
        let as_of = as_of.unwrap_or_else(|| self.config.business_time_zone.today());
        let mut list: Vec<pb::DisputeSummary> = self
            .annotations_of(borrower)
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| a.r#type == pb::AnnotationType::DisputeMark as i32)
            .filter(|a| !overdue_only || disputes::is_overdue(a, as_of))
            .map(|a| summary(a, as_of))
            .collect();
        list.sort_by(|a, b| (&a.opened_date, &a.dispute_id).cmp(&(&b.opened_date, &b.dispute_id)));
        Ok(list)
    }

    /// Open disputes and those overdue today, for `Status`.
    pub async fn dispute_counts(&self) -> Result<(u64, u64), NodeError> {
        let today = self.config.business_time_zone.today();
        let marks = self.annotations_of(None).await?;
        let open = marks
            .iter()
            .filter(|(_, m)| m.dispute_status == pb::DisputeStatus::Open as i32)
            .count() as u64;
        let overdue = marks
            .iter()
            .filter(|(_, m)| disputes::is_overdue(m, today))
            .count() as u64;
        Ok((open, overdue))
    }

    /// Stored annotations, decoded, with their envelopes.
    pub(crate) async fn annotations_of(
        &self,
        borrower: Option<BorrowerKey>,
    ) -> Result<Vec<(pb::SignedEnvelope, pb::Annotation)>, NodeError> {
        let store = self.store.clone();
        let envelopes = blocking::run(move || store.annotations(borrower.as_ref())).await?;
        Ok(envelopes
            .into_iter()
            .filter_map(|e| Some((pb::Annotation::decode(e.payload.as_slice()).ok()?, e)))
            .map(|(a, e)| (e, a))
            .collect())
    }

    /// The dispute mark `dispute_id` and its borrower.
    async fn dispute_mark(
        &self,
        dispute_id: &str,
    ) -> Result<(BorrowerKey, pb::Annotation), NodeError> {
        self.annotations_of(None)
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .find(|a| {
                a.annotation_id == dispute_id && a.r#type == pb::AnnotationType::DisputeMark as i32
            })
            .and_then(|a| Some((BorrowerKey::from_slice(&a.borrower_key).ok()?, a)))
            .ok_or_else(|| NodeError::NotFound(format!("no dispute {dispute_id} at this node")))
    }

    /// The current version of one of this node's records of `borrower`.
    async fn record_version(
        &self,
        borrower: BorrowerKey,
        record_id: &str,
    ) -> Result<u64, NodeError> {
        let (records, _) = self.borrower_records(borrower).await?;
        records
            .iter()
            .filter_map(|r| r.envelope.as_ref())
            .find_map(|e| match e.payload_type.as_str() {
                CREDIT_SUMMARY_TYPE => pb::CreditSummary::decode(e.payload.as_slice())
                    .ok()
                    .filter(|c| c.facility_id == record_id)
                    .map(|c| c.version),
                VISIT_SUMMARY_TYPE => pb::VisitSummary::decode(e.payload.as_slice())
                    .ok()
                    .filter(|v| v.visit_id == record_id)
                    .map(|v| v.version),
                _ => None,
            })
            .ok_or_else(|| {
                NodeError::NotFound(format!(
                    "this node holds no record {record_id} of that borrower"
                ))
            })
    }

    /// Signs, stores and logs annotations in one commit; refreshes the
    /// borrower's indicators.
    async fn store_annotations(
        &self,
        borrower: BorrowerKey,
        annotations: Vec<pb::Annotation>,
    ) -> Result<Vec<pb::SignedEnvelope>, NodeError> {
        let signer = self.signer();
        let now = now_ms();
        let (mut writes, mut log, mut envelopes) = (Vec::new(), Vec::new(), Vec::new());
        for a in annotations {
            let envelope = signer.sign_envelope(ANNOTATION_TYPE, a.encode_to_vec());
            log.push(LogAppend {
                entry: pb::LogEntry {
                    time_ms: now,
                    kind: Some(pb::log_entry::Kind::Annotation(annotation_entry(
                        &a, &envelope,
                    ))),
                },
                query_index: None,
            });
            writes.push(AnnotationWrite {
                borrower,
                annotation_id: a.annotation_id.clone(),
                envelope: envelope.clone(),
            });
            envelopes.push(envelope);
        }
        self.committer
            .commit(CommitRequest {
                log,
                annotations: writes,
                ..Default::default()
            })
            .await?;
        self.indicators.invalidate([&borrower]);
        Ok(envelopes)
    }
}

fn annotation_entry(a: &pb::Annotation, envelope: &pb::SignedEnvelope) -> pb::AnnotationEntry {
    pb::AnnotationEntry {
        annotation_id: a.annotation_id.clone(),
        borrower_key: a.borrower_key.clone(),
        record_id: a.record_id.clone(),
        annotation_type: a.r#type,
        dispute_id: a.dispute_id.clone(),
        dispute_status: a.dispute_status,
        envelope_sha256: sha256(&envelope.payload),
        officer: a.officer.clone(),
    }
}

fn summary(a: pb::Annotation, as_of: Date) -> pb::DisputeSummary {
    let days_overdue = if a.dispute_status == pb::DisputeStatus::Open as i32 {
        disputes::days_overdue(&a.due_date, as_of)
    } else {
        0
    };
    pb::DisputeSummary {
        dispute_id: a.dispute_id,
        borrower_key: a.borrower_key,
        record_id: a.record_id,
        status: a.dispute_status,
        opened_date: a.opened_date,
        due_date: a.due_date,
        days_overdue,
        reason: a.text,
        officer: a.officer,
        resolution_note: a.resolution_note,
    }
}

fn random() -> Result<[u8; 8], NodeError> {
    ring::rand::generate(&ring::rand::SystemRandom::new())
        .map(|r: ring::rand::Random<[u8; 8]>| r.expose())
        .map_err(|_| NodeError::internal("no system randomness"))
}
