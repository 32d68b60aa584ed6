//! Output and exit codes. Human tables by default, `--json` for machines.
//!
//! Exit codes scripts can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (bad input file, server error, I/O) |
//! | 2 | usage error (bad flags) |
//! | 3 | partial: some rows rejected, or an incomplete assessment |
//! | 4 | denied: the node refused the caller (PERMISSION_DENIED, UNAUTHENTICATED) |
//! | 5 | unreachable: no connection to the node, or it is unavailable |

use std::process::ExitCode;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_PARTIAL: u8 = 3;
pub const EXIT_DENIED: u8 = 4;
pub const EXIT_UNREACHABLE: u8 = 5;

/// A connection that could not be made (exit code 5).
#[derive(Debug)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConnectError {}

/// Some rows or peers failed while the command as a whole ran (exit code 3).
#[derive(Debug)]
pub struct Partial(pub String);

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Partial {}

/// Maps an error to the documented exit code.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<ConnectError>().is_some() {
        return ExitCode::from(EXIT_UNREACHABLE);
    }
    if e.downcast_ref::<Partial>().is_some() {
        return ExitCode::from(EXIT_PARTIAL);
    }
    if let Some(status) = e.downcast_ref::<tonic::Status>() {
        return ExitCode::from(match status.code() {
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => EXIT_DENIED,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => EXIT_UNREACHABLE,
            _ => EXIT_FAILURE,
        });
    }
    ExitCode::from(EXIT_FAILURE)
}

/// Describes a failed RPC for a person.
pub fn describe(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A plain left-aligned text table.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(w - cell.chars().count() + 2));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// Key/value lines, keys aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}
