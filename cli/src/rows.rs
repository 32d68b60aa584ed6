//! Record files for `credshare records import`: CSV with a header row, or
//! JSON Lines with one object per line, read as a stream.
//!
//! This is the edge of docs/design.md §3: each row's raw `borrower_id` is parsed and
//! replaced by its borrower key here ([`RowKeys`]: an HMAC, or an OPRF
//! pseudonym evaluated beforehand), and goes no further: not into the
//! record, not into an error message. Every row is also validated with the
//! node's own rules, so `--dry-run` finds what the node would reject.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use credshare_node::domain::borrower::{BorrowerId, ConsortiumSecret};
use credshare_node::domain::codes::{CodeEnum, parse_code};
use credshare_node::domain::dates::BusinessZone;
use credshare_node::domain::field::{FieldError, quote_unless_identifying};
use credshare_node::domain::records::{validate_credit, validate_visit};
use credshare_node::pki::InstitutionId;
use credshare_proto::v1 as pb;
use time::Date;

mod keys;
mod source;

pub use keys::{RowKeys, distinct_ids};
use source::{Cells, Source};

/// Columns of a credit file, in the order `credshare sample` writes them.
pub const CREDIT_COLUMNS: &[&str] = &[
    "borrower_id",
    "facility_id",
    "version",
    "facility_type",
    "currency",
    "contract_amount",
    "outstanding_balance",
    "open_date",
    "maturity_date",
    "guarantee_type",
    "risk_class",
    "overdue_principal",
    "overdue_total",
    "overdue_days",
    "account_status",
    "as_of_date",
];

/// Columns of a visit file, in the order `credshare sample` writes them.
pub const VISIT_COLUMNS: &[&str] = &[
    "borrower_id",
    "visit_id",
    "version",
    "facility_id",
    "visit_date",
    "visit_type",
    "channel",
    "fund_usage",
    "operations",
    "project_progress",
    "collateral",
    "guarantor",
    "warning_signals",
    "proposed_risk_class",
    "action_taken",
    "conclusion",
];

/// Columns that may be absent or empty (no signals, no conclusion).
pub const OPTIONAL_COLUMNS: &[&str] = &["warning_signals", "conclusion"];

/// Separator of warning signal codes inside one cell.
pub const SIGNAL_SEPARATOR: char = ';';

/// Which records a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordKind {
    Credit,
    Visit,
}

impl RecordKind {
    /// The file's columns (= JSON keys).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RecordKind::Credit => CREDIT_COLUMNS,
            RecordKind::Visit => VISIT_COLUMNS,
        }
    }
}

/// How a file is encoded, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `.csv`: comma-separated, UTF-8 (a BOM is fine), header row first.
    Csv,
    /// `.jsonl` or `.ndjson`: one JSON object per line.
    Jsonl,
}

impl FileFormat {
    pub fn from_path(path: &Path) -> Result<Self, RowsError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("jsonl" | "ndjson") => Ok(Self::Jsonl),
            _ => Err(RowsError::UnknownFormat(path.display().to_string())),
        }
    }
}

/// What every row needs besides its cells.
#[derive(Debug, Clone)]
pub struct ImportContext {
    /// Written into every record's `institution_id`.
    pub institution: InstitutionId,
    /// Turns raw identifiers into borrower keys.
    pub keys: RowKeys,
    /// Latest acceptable record date and birth date.
    pub today: Date,
}

impl ImportContext {
    /// A context whose `today` is today in the business time zone, keys
    /// hashed with the consortium secret (generation 1).
    pub fn new(institution: InstitutionId, secret: ConsortiumSecret) -> Self {
        Self::with_keys(institution, RowKeys::Hmac(secret))
    }

    /// A context whose `today` is today in the business time zone.
    pub fn with_keys(institution: InstitutionId, keys: RowKeys) -> Self {
        Self {
            institution,
            keys,
            today: business_zone().today(),
        }
    }
}

/// A file that can't be read at all (as opposed to a bad row).
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{0}: unknown file type; use .csv or .jsonl")]
    UnknownFormat(String),
    #[error("cannot read the header row: {0}")]
    Header(String),
    #[error("unknown columns: {}; expected {}", .0.join(", "), .1.join(", "))]
    UnknownColumns(Vec<String>, &'static [&'static str]),
    #[error("missing columns: {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("column {0} appears twice")]
    DuplicateColumn(String),
}

/// A row that was rejected: 1-based data row (CSV: header not counted;
/// JSON Lines: line number), the column at fault (empty if the row as a whole
/// is bad) and why. Never contains a raw identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "row {}: {}", self.row, self.reason)
        } else {
            write!(f, "row {}: {}: {}", self.row, self.field, self.reason)
        }
    }
}

impl std::error::Error for RowError {}

impl RowError {
    fn new(row: u64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            row,
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn from_field(row: u64, e: FieldError) -> Self {
        Self::new(row, e.field, e.reason)
    }
}

/// A valid record, hashed and ready for `ImportRecords` or `PutRecord`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    pub row: u64,
    pub record: pb::RecordInput,
}

impl From<ParsedRow> for pb::ImportRow {
    fn from(parsed: ParsedRow) -> Self {
        pb::ImportRow {
            row_number: parsed.row,
            record: Some(parsed.record),
        }
    }
}

/// Streams the rows of a record file. Memory stays bounded by one row
/// (at most [`source::MAX_LINE_BYTES`] per JSON line) whatever the file size.
pub struct RecordReader<R: Read> {
    source: Source<R>,
    kind: RecordKind,
    ctx: ImportContext,
}

impl RecordReader<File> {
    /// Opens `path`; the format follows its extension. Fails if the file
    /// can't be opened or (CSV) its header names unknown or too few columns.
    pub fn open(path: &Path, kind: RecordKind, ctx: ImportContext) -> Result<Self, RowsError> {
        let format = FileFormat::from_path(path)?;
        let file = File::open(path).map_err(|source| RowsError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_reader(file, format, kind, ctx)
    }
}

impl<R: Read> RecordReader<R> {
    /// Reads records of `kind` in `format` from any byte stream.
    pub fn from_reader(
        reader: R,
        format: FileFormat,
        kind: RecordKind,
        ctx: ImportContext,
    ) -> Result<Self, RowsError> {
        let source = match format {
            FileFormat::Csv => Source::csv(reader, kind.columns())?,
            FileFormat::Jsonl => Source::jsonl(BufReader::new(reader), kind.columns()),
        };
        Ok(Self { source, kind, ctx })
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<ParsedRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (row, cells) = match self.source.next_row()? {
            Ok(next) => next,
            Err(e) => return Some(Err(e)),
        };
        let record = match self.kind {
            RecordKind::Credit => {
                build_credit(&cells, &self.ctx).map(pb::record_input::Record::Credit)
            }
            RecordKind::Visit => {
                build_visit(&cells, &self.ctx).map(pb::record_input::Record::Visit)
            }
        };
        Some(
            record
                .map(|r| ParsedRow {
                    row,
                    record: pb::RecordInput { record: Some(r) },
                })
                .map_err(|e| RowError::from_field(row, e)),
        )
    }
}

/// Parses the row's identifier and keys it; the raw value stops here.
fn borrower_key(cells: &Cells, ctx: &ImportContext) -> Result<Vec<u8>, FieldError> {
    let raw = cells.text("borrower_id")?;
    let id = BorrowerId::parse_at(raw, ctx.today)
        .map_err(|e| FieldError::new("borrower_id", e.to_string()))?;
    let key = ctx
        .keys
        .key(&id)
        .ok_or_else(|| FieldError::new("borrower_id", "no key was evaluated for this id"))?;
    Ok(key.as_bytes().to_vec())
}

fn code<E: CodeEnum>(cells: &Cells, field: &'static str) -> Result<i32, FieldError> {
    parse_code::<E>(field, cells.text(field)?).map(E::to_i32)
}

fn build_credit(cells: &Cells, ctx: &ImportContext) -> Result<pb::CreditSummary, FieldError> {
    let record = pb::CreditSummary {
        borrower_key: borrower_key(cells, ctx)?,
        key_generation: ctx.keys.generation().to_wire(),
        facility_id: cells.text("facility_id")?.to_owned(),
        version: cells.whole_number("version")?,
        institution_id: ctx.institution.to_string(),
        facility_type: code::<pb::FacilityType>(cells, "facility_type")?,
        currency: cells.text("currency")?.to_ascii_uppercase(),
        contract_amount: cells.amount("contract_amount")?,
        outstanding_balance: cells.amount("outstanding_balance")?,
        open_date: cells.text("open_date")?.to_owned(),
        maturity_date: cells.text("maturity_date")?.to_owned(),
        guarantee_type: code::<pb::GuaranteeType>(cells, "guarantee_type")?,
        risk_class: code::<pb::RiskClass>(cells, "risk_class")?,
        overdue_principal: cells.amount("overdue_principal")?,
        overdue_total: cells.amount("overdue_total")?,
        overdue_days: cells.whole_number("overdue_days")?,
        account_status: code::<pb::AccountStatus>(cells, "account_status")?,
        as_of_date: cells.text("as_of_date")?.to_owned(),
    };
    validate_credit(&record, ctx.today)?;
    Ok(record)
}

fn build_visit(cells: &Cells, ctx: &ImportContext) -> Result<pb::VisitSummary, FieldError> {
    let record = pb::VisitSummary {
        borrower_key: borrower_key(cells, ctx)?,
        key_generation: ctx.keys.generation().to_wire(),
        visit_id: cells.text("visit_id")?.to_owned(),
        version: cells.whole_number("version")?,
        institution_id: ctx.institution.to_string(),
        facility_id: cells.text("facility_id")?.to_owned(),
        visit_date: cells.text("visit_date")?.to_owned(),
        visit_type: code::<pb::VisitType>(cells, "visit_type")?,
        channel: code::<pb::VisitChannel>(cells, "channel")?,
        fund_usage: code::<pb::FundUsage>(cells, "fund_usage")?,
        operations: code::<pb::OperationsStatus>(cells, "operations")?,
        project_progress: code::<pb::ProjectProgress>(cells, "project_progress")?,
        collateral: code::<pb::CollateralStatus>(cells, "collateral")?,
        guarantor: code::<pb::GuarantorStatus>(cells, "guarantor")?,
        warning_signals: warning_signals(cells.optional("warning_signals"))?,
        proposed_risk_class: code::<pb::RiskClass>(cells, "proposed_risk_class")?,
        action_taken: code::<pb::ActionTaken>(cells, "action_taken")?,
        conclusion: cells.optional("conclusion").to_owned(),
    };
    validate_visit(&record, ctx.today)?;
    Ok(record)
}

/// `FIN_DETERIORATION;LITIGATION` → wire values; empty parts are ignored.
fn warning_signals(cell: &str) -> Result<Vec<i32>, FieldError> {
    cell.split(SIGNAL_SEPARATOR)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| parse_code::<pb::WarningSignal>("warning_signals", part).map(|s| s as i32))
        .collect()
}

/// The business time zone whose "today" bounds record dates: the node's
/// `business_time_zone`, from the same `CREDSHARE_BUSINESS_TIME_ZONE`
/// variable that overrides it, else the consortium default.
fn business_zone() -> BusinessZone {
    std::env::var("CREDSHARE_BUSINESS_TIME_ZONE")
        .ok()
        .and_then(|name| BusinessZone::parse(&name).ok())
        .unwrap_or_default()
}

/// Quotes a header or key for an error, unless it might be data (a file
/// without a header row puts an identifier where a column name should be).
fn describe_column(name: &str) -> String {
    quote_unless_identifying(name)
}

#[cfg(test)]
mod tests;
