//! The two file encodings, reduced to the same thing: numbered rows of
//! named cells.

use std::io::{BufRead, BufReader, Read};
use std::str::FromStr;

use credshare_node::domain::field::{FieldError, quote_unless_identifying};

use super::{OPTIONAL_COLUMNS, RowError, RowsError, describe_column};

/// Longest accepted JSON line; a longer one is reported and skipped, so a
/// file without line breaks can't exhaust memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One row's cells, by column (`None`: column or key absent, or JSON null).
pub(super) struct Cells {
    columns: &'static [&'static str],
    values: Vec<Option<String>>,
}

impl Cells {
    fn get(&self, field: &'static str) -> Option<&str> {
        let index = self.columns.iter().position(|c| *c == field)?;
        self.values.get(index)?.as_deref().map(str::trim)
    }

    /// A required cell, trimmed and non-empty.
    pub(super) fn text(&self, field: &'static str) -> Result<&str, FieldError> {
        match self.get(field) {
            None => Err(FieldError::new(field, "is missing")),
            Some("") => Err(FieldError::new(field, "is empty")),
            Some(value) => Ok(value),
        }
    }

    /// An optional cell, trimmed; empty if absent.
    pub(super) fn optional(&self, field: &'static str) -> &str {
        self.get(field).unwrap_or("")
    }

    /// An integer amount in minor units (no separators, no decimals).
    pub(super) fn amount(&self, field: &'static str) -> Result<i64, FieldError> {
        let value = self.text(field)?;
        value.parse().map_err(|_| {
            FieldError::new(
                field,
                format!(
                    "{} is not an integer amount in minor units",
                    quote_unless_identifying(value)
                ),
            )
        })
    }

    /// A non-negative whole number (a version, a number of days).
    pub(super) fn whole_number<T: FromStr>(&self, field: &'static str) -> Result<T, FieldError> {
        let value = self.text(field)?;
        value.parse().map_err(|_| {
            FieldError::new(
                field,
                format!("{} is not a whole number", quote_unless_identifying(value)),
            )
        })
    }
}

/// A record file being read.
pub(super) enum Source<R: Read> {
    Csv(CsvSource<R>),
    Jsonl(JsonlSource<R>),
}

/// Bytes read since the current CSV record began, shared with [`Capped`].
type RecordBytes = std::rc::Rc<std::cell::Cell<u64>>;

/// A reader that fails once one CSV record passes [`MAX_LINE_BYTES`] (to
/// within the CSV reader's 8 KiB buffer), so one huge field cannot
/// exhaust memory: the csv crate buffers a whole record.
pub(super) struct Capped<R> {
    inner: R,
    read: RecordBytes,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.get() > MAX_LINE_BYTES as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the row is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

pub(super) struct CsvSource<R: Read> {
    reader: csv::Reader<Capped<R>>,
    record_bytes: RecordBytes,
    headers: csv::StringRecord,
    columns: &'static [&'static str],
    /// For each of `columns`, its field index in the file.
    positions: Vec<Option<usize>>,
    record: csv::StringRecord,
    row: u64,
    done: bool,
}

pub(super) struct JsonlSource<R: Read> {
    reader: BufReader<R>,
    columns: &'static [&'static str],
    line: Vec<u8>,
    line_number: u64,
    done: bool,
}

impl<R: Read> Source<R> {
    /// Reads and checks the header row: every column known, none twice,
    /// every required one present.
    pub(super) fn csv(reader: R, columns: &'static [&'static str]) -> Result<Self, RowsError> {
        let record_bytes = RecordBytes::default();
        let capped = Capped {
            inner: reader,
            read: record_bytes.clone(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(capped);
        let headers = reader
            .headers()
            .map_err(|e| RowsError::Header(csv_reason(&e, None)))?
            .clone();
        let mut positions = vec![None; columns.len()];
        let mut unknown = Vec::new();
        for (index, name) in headers.iter().enumerate() {
            let wanted = name.to_ascii_lowercase();
            match columns.iter().position(|c| *c == wanted) {
                Some(k) if positions[k].is_some() => {
                    return Err(RowsError::DuplicateColumn(describe_column(name)));
                }
                Some(k) => positions[k] = Some(index),
                None => unknown.push(describe_column(name)),
            }
        }
        if !unknown.is_empty() {
            return Err(RowsError::UnknownColumns(unknown, columns));
        }
        let missing: Vec<&'static str> = columns
            .iter()
            .zip(&positions)
            .filter(|(c, p)| p.is_none() && !OPTIONAL_COLUMNS.contains(c))
            .map(|(c, _)| *c)
            .collect();
        if !missing.is_empty() {
            return Err(RowsError::MissingColumns(missing));
        }
        record_bytes.set(0);
        Ok(Self::Csv(CsvSource {
            reader,
            record_bytes,
            headers,
            columns,
            positions,
            record: csv::StringRecord::new(),
            row: 0,
            done: false,
        }))
    }

    pub(super) fn jsonl(reader: BufReader<R>, columns: &'static [&'static str]) -> Self {
        Self::Jsonl(JsonlSource {
            reader,
            columns,
            line: Vec::new(),
            line_number: 0,
            done: false,
        })
    }

    /// The next row and its number, or `None` at the end of the file.
    pub(super) fn next_row(&mut self) -> Option<Result<(u64, Cells), RowError>> {
        match self {
            Source::Csv(csv) => csv.next_row(),
            Source::Jsonl(jsonl) => jsonl.next_row(),
        }
    }
}

impl<R: Read> CsvSource<R> {
    fn next_row(&mut self) -> Option<Result<(u64, Cells), RowError>> {
        if self.done {
            return None;
        }
        let read = self.reader.read_record(&mut self.record);
        self.record_bytes.set(0);
        if matches!(read, Ok(false)) {
            self.done = true;
            return None;
        }
        self.row += 1;
        if let Err(e) = read {
            // After an I/O error the reader's position is unknown: stop.
            self.done = matches!(e.kind(), csv::ErrorKind::Io(_));
            return Some(Err(RowError::new(
                self.row,
                "",
                csv_reason(&e, Some(&self.headers)),
            )));
        }
        let values = self
            .positions
            .iter()
            .map(|p| p.and_then(|i| self.record.get(i)).map(str::to_owned))
            .collect();
        Some(Ok((
            self.row,
            Cells {
                columns: self.columns,
                values,
            },
        )))
    }
}

/// A CSV error in words, naming the column but never quoting data.
fn csv_reason(e: &csv::Error, headers: Option<&csv::StringRecord>) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            let column = headers
                .and_then(|h| h.get(err.field()))
                .map_or_else(|| format!("field {}", err.field() + 1), str::to_owned);
            format!("{column} is not valid UTF-8 (save the file as UTF-8)")
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields; the header has {expected_len}"),
        csv::ErrorKind::Io(err) => format!("read error: {err}"),
        _ => e.to_string(),
    }
}

impl<R: Read> JsonlSource<R> {
    fn next_row(&mut self) -> Option<Result<(u64, Cells), RowError>> {
        loop {
            if self.done {
                return None;
            }
            self.line.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let read = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.line);
            match read {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => self.line_number += 1,
                Err(e) => {
                    self.done = true;
                    let reason = format!("read error: {e}");
                    return Some(Err(RowError::new(self.line_number + 1, "", reason)));
                }
            }
            let row = self.line_number;
            if self.line.len() > MAX_LINE_BYTES && !self.line.ends_with(b"\n") {
                self.done = self.reader.skip_until(b'\n').is_err();
                let reason = format!("is longer than {MAX_LINE_BYTES} bytes");
                return Some(Err(RowError::new(row, "", reason)));
            }
            let Ok(text) = std::str::from_utf8(&self.line) else {
                return Some(Err(RowError::new(row, "", "is not valid UTF-8")));
            };
            let text = text.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            return Some(parse_json_line(row, text, self.columns).map(|cells| (row, cells)));
        }
    }
}

fn parse_json_line(
    row: u64,
    text: &str,
    columns: &'static [&'static str],
) -> Result<Cells, RowError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| RowError::new(row, "", format!("is not valid JSON: {e}")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(RowError::new(row, "", "is not a JSON object"));
    };
    let mut values = vec![None; columns.len()];
    let mut unknown = Vec::new();
    for (key, value) in object {
        match columns.iter().position(|c| *c == key) {
            Some(k) => {
                values[k] = json_cell(&key, value).map_err(|r| RowError::new(row, key, r))?
            }
            None => unknown.push(describe_column(&key)),
        }
    }
    if !unknown.is_empty() {
        let reason = format!("unknown columns: {}", unknown.join(", "));
        return Err(RowError::new(row, "", reason));
    }
    Ok(Cells { columns, values })
}

/// A JSON value as cell text; `warning_signals` may also be an array.
fn json_cell(key: &str, value: serde_json::Value) -> Result<Option<String>, String> {
    use serde_json::Value;
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Array(items) if key == "warning_signals" => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err("must be a list of signal codes".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|codes| Some(codes.join(";"))),
        _ => Err("must be a string or a number".to_owned()),
    }
}
