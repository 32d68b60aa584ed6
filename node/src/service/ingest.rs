//! Ingest records: validate each row with the domain rules, check it
//! against the stored state it changes ([`prepare`]), sign the valid ones
//! as DSSE envelopes with the institution's key, and commit them
//! through the single writer (group commit, durable before the
//! acknowledgement). One bad row never fails the others; it is reported
//! with its row number and field, and changes nothing.
//!
//! Signing runs on the blocking pool so the async workers stay free; an
//! import pipelines several messages so that receiving, signing and the
//! writer overlap.

use credshare_proto::v1 as pb;
use futures::{Stream, StreamExt};

use super::{Actor, Node};
use crate::blocking;
use crate::domain::BorrowerKey;
use crate::error::NodeError;
use crate::storage::{CommitRequest, RecordWrite, WriteResult};
use prepare::{Prepared, Preparer};

mod prepare;

/// Most rows one `ImportRecords` call may carry.
pub const MAX_IMPORT_ROWS_PER_CALL: u64 = 1_000_000;
/// Messages of one import being signed or committed at once.
const IMPORT_PIPELINE_DEPTH: usize = 4;

/// An import failed as a whole: the request stream broke (`E`, e.g. the
/// client went away), or the node refused or failed.
#[derive(Debug)]
pub enum ImportError<E> {
    Stream(E),
    Node(NodeError),
}

impl<E> From<NodeError> for ImportError<E> {
    fn from(e: NodeError) -> Self {
        ImportError::Node(e)
    }
}

impl Node {
    /// Imports a stream of messages of rows, `limits.max_import_rows_per_message`
    /// per message and [`MAX_IMPORT_ROWS_PER_CALL`] per call. `actor` names
    /// the caller in the query log. Returns counts and every rejected row.
    pub async fn import<S, E>(
        &self,
        mut messages: S,
        actor: &Actor,
    ) -> Result<pb::ImportRecordsResponse, ImportError<E>>
    where
        S: Stream<Item = Result<Vec<pb::ImportRow>, E>> + Unpin,
    {
        let max_rows = self.config.limits.max_import_rows_per_message;
        let mut in_flight = futures::stream::FuturesOrdered::new();
        let mut response = pb::ImportRecordsResponse::default();
        let mut rows_seen: u64 = 0;
        while let Some(rows) = messages.next().await {
            let rows = rows.map_err(ImportError::Stream)?;
            if rows.len() > max_rows {
                return Err(NodeError::invalid(
                    "rows",
                    format!(
                        "a message carries {} rows; at most {max_rows} per message (limits.max_import_rows_per_message)",
                        rows.len()
                    ),
                )
                .into());
            }
            rows_seen += rows.len() as u64;
            if rows_seen > MAX_IMPORT_ROWS_PER_CALL {
                return Err(NodeError::invalid(
                    "rows",
                    format!(
                        "more than {MAX_IMPORT_ROWS_PER_CALL} rows in one call; split the import"
                    ),
                )
                .into());
            }
            in_flight.push_back(self.ingest(rows, actor));
            // Bounded pipelining: signing, committing and receiving overlap.
            while in_flight.len() >= IMPORT_PIPELINE_DEPTH {
                if let Some(done) = in_flight.next().await {
                    merge(&mut response, done?);
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            merge(&mut response, done?);
        }
        self.count_import(&response);
        tracing::info!(
            caller = %actor.identity,
            officer = %actor.officer,
            stored = response.stored,
            unchanged = response.unchanged,
            rejected = response.rejected,
            "import finished"
        );
        Ok(response)
    }

    /// Validates, signs and stores one record; returns what happened and
    /// the stored form. A refused version is `FailedPrecondition`, a bad
    /// field `Invalid`.
    pub async fn put_record(
        &self,
        record: Option<pb::RecordInput>,
        actor: &Actor,
    ) -> Result<(pb::WriteOutcome, pb::StoredRecord), NodeError> {
        let row = pb::ImportRow {
            row_number: 1,
            record,
        };
        let (mut prepared, rejections) = self.prepare(vec![row]).await?;
        if let Some(r) = rejections.into_iter().next() {
            return Err(NodeError::Invalid {
                field: r.field,
                reason: r.reason,
            });
        }
        let prepared = prepared
            .pop()
            .ok_or_else(|| NodeError::internal("record was neither prepared nor rejected"))?;
        let stored = prepared.write.record.clone();
        let result = self.commit_writes(vec![prepared.write], actor).await?;
        match result.into_iter().next() {
            Some(WriteResult::Stored) => Ok((pb::WriteOutcome::Stored, stored)),
            Some(WriteResult::Unchanged) => Ok((pb::WriteOutcome::Unchanged, stored)),
            Some(WriteResult::Refused(reason)) => Err(NodeError::FailedPrecondition(reason)),
            None => Err(NodeError::internal("the writer returned no result")),
        }
    }

    /// Current records of a borrower and the number of stored versions.
    pub async fn borrower_records(
        &self,
        borrower: BorrowerKey,
    ) -> Result<(Vec<pb::StoredRecord>, u64), NodeError> {
        let store = self.store.clone();
        Ok(blocking::run(move || store.borrower_records(&borrower)).await?)
    }

    /// Validates, signs and durably stores `rows`; never fails a whole chunk
    /// for one bad row.
    async fn ingest(
        &self,
        rows: Vec<pb::ImportRow>,
        actor: &Actor,
    ) -> Result<pb::ImportRecordsResponse, NodeError> {
        let (prepared, mut rejections) = self.prepare(rows).await?;
        let mut summary = pb::ImportRecordsResponse::default();
        let (row_numbers, writes): (Vec<u64>, Vec<RecordWrite>) = prepared
            .into_iter()
            .map(|p| (p.row_number, p.write))
            .unzip();
        if !writes.is_empty() {
            let results = self.commit_writes(writes, actor).await?;
            for (result, row_number) in results.into_iter().zip(row_numbers) {
                match result {
                    WriteResult::Stored => summary.stored += 1,
                    WriteResult::Unchanged => summary.unchanged += 1,
                    WriteResult::Refused(reason) => rejections.push(pb::RowRejection {
                        row_number,
                        field: "version".into(),
                        reason,
                    }),
                }
            }
        }
        rejections.sort_by_key(|r| r.row_number);
        summary.rejected = rejections.len() as u64;
        summary.rejections = rejections;
        Ok(summary)
    }

    /// Validates, checks against the stored state and signs rows on the
    /// blocking pool.
    async fn prepare(
        &self,
        rows: Vec<pb::ImportRow>,
    ) -> Result<(Vec<Prepared>, Vec<pb::RowRejection>), NodeError> {
        let mut preparer = Preparer::new(
            self.institution().to_string(),
            self.config.business_time_zone.today(),
            self.signer(),
            self.store.clone(),
            self.key_generation(),
        );
        blocking::run(move || Ok(preparer.prepare_rows(rows)?)).await
    }

    /// Commits signed records and invalidates the indicators they change.
    async fn commit_writes(
        &self,
        writes: Vec<RecordWrite>,
        actor: &Actor,
    ) -> Result<Vec<WriteResult>, NodeError> {
        let borrowers: Vec<BorrowerKey> = writes.iter().map(|w| w.borrower_key).collect();
        let reply = self
            .committer
            .commit(CommitRequest {
                records: writes,
                record_actor: actor.identity.clone(),
                record_officer: actor.officer.clone(),
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
        Ok(reply.records)
    }
}

impl Node {
    /// Counts imported rows by outcome (metrics).
    fn count_import(&self, response: &pb::ImportRecordsResponse) {
        let counts = [
            ("stored", response.stored),
            ("unchanged", response.unchanged),
            ("rejected", response.rejected),
        ];
        for (outcome, n) in counts {
            let label = crate::metrics::OutcomeLabel {
                outcome: outcome.into(),
            };
            self.metrics.import_rows.get_or_create(&label).inc_by(n);
        }
    }
}

fn merge(response: &mut pb::ImportRecordsResponse, chunk: pb::ImportRecordsResponse) {
    response.stored += chunk.stored;
    response.unchanged += chunk.unchanged;
    response.rejected += chunk.rejected;
    response.rejections.extend(chunk.rejections);
}
