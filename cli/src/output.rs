//! The one output path: every command prints through an [`Output`], made
//! from the global `--json` flag — human text and tables by default, one
//! JSON value with `--json` (imports and `audit entries` stream JSON Lines).
//! Errors go the same way: a line on stderr, or one JSON object on stderr
//! with `--json`.
//!
//! Exit codes scripts can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (bad input file, server error, I/O) |
//! | 2 | usage error (bad or missing flags, an unknown business time zone) |
//! | 3 | partial: some rows rejected, or an incomplete assessment |
//! | 4 | denied: the node refused the caller (PERMISSION_DENIED, UNAUTHENTICATED, or its client certificate at the connect) |
//! | 5 | unreachable: no connection to the node, or it is unavailable |

mod table;

use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

pub use table::{Table, escape_controls, fields};

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_PARTIAL: u8 = 3;
pub const EXIT_DENIED: u8 = 4;
pub const EXIT_UNREACHABLE: u8 = 5;

/// An error that carries its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum ExitKind {
    /// Some rows or peers failed while the command as a whole ran (exit code 3).
    #[error("{0}")]
    Partial(String),
    /// A connection that could not be made (exit code 5).
    #[error("{0}")]
    Unreachable(String),
    /// Bad options or settings, found after parsing (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The node refused the caller (exit code 4).
    #[error("{0}")]
    Denied(String),
}

/// Where a command's results go: human text, or JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether `--json` was given (progress bars and chatter stay quiet).
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// `bar` drawn with the indicatif `template`; with `--json` a hidden
    /// bar instead (progress stays quiet).
    pub fn progress(&self, bar: indicatif::ProgressBar, template: &str) -> indicatif::ProgressBar {
        if self.json {
            return indicatif::ProgressBar::hidden();
        }
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar
    }

    /// Prints `value` as pretty JSON with `--json`, else the text `human`
    /// makes (printed as it is, with no newline added).
    pub fn print<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            stdout(&format!("{}\n", to_pretty(value)));
        } else {
            stdout(&human());
        }
    }

    /// Prints a list: one JSON array of `json(item)` with `--json`, else
    /// `human(items)`.
    pub fn print_list<T>(
        &self,
        items: &[T],
        json: impl Fn(&T) -> serde_json::Value,
        human: impl FnOnce(&[T]) -> String,
    ) {
        if self.json {
            let value: Vec<_> = items.iter().map(json).collect();
            stdout(&format!("{}\n", to_pretty(&value)));
        } else {
            stdout(&human(items));
        }
    }

    /// Prints human text; nothing with `--json`.
    pub fn text(&self, text: impl std::fmt::Display) {
        if !self.json {
            stdout(&format!("{text}\n"));
        }
    }

    /// With `--json`, prints `value` as one line (JSON Lines events).
    pub fn event<T: Serialize + ?Sized>(&self, value: &T) {
        if self.json {
            let line = serde_json::to_string(value).unwrap_or_default();
            stdout(&format!("{line}\n"));
        }
    }

    /// Reports a failed command on stderr and returns its exit code.
    pub fn error(&self, e: &anyhow::Error) -> ExitCode {
        let code = exit_code(e);
        let message = render_error(e);
        if self.json {
            let grpc = e
                .chain()
                .find_map(|c| c.downcast_ref::<tonic::Status>())
                .map(|s| grpc_code_name(s.code()));
            self.json_error(&message, grpc, code);
        } else {
            eprintln!("credshare: {message}");
        }
        ExitCode::from(code)
    }

    /// Reports a usage error (exit code 2) as JSON; clap prints it otherwise.
    pub fn usage_error(&self, message: &str) -> ExitCode {
        self.json_error(message.trim(), None, EXIT_USAGE);
        ExitCode::from(EXIT_USAGE)
    }

    fn json_error(&self, message: &str, grpc: Option<String>, exit_code: u8) {
        let error = json!({"error": {"message": message, "code": grpc, "exit_code": exit_code}});
        eprintln!("{error}");
    }
}

/// Writes to stdout; a reader that went away (`| head`) ends the output
/// quietly instead of a panic, as `cat` does.
fn stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("credshare: cannot write output: {e}");
    }
}

fn to_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Maps an error to the documented exit code.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<ExitKind>() {
        Some(ExitKind::Partial(_)) => return EXIT_PARTIAL,
        Some(ExitKind::Unreachable(_)) => return EXIT_UNREACHABLE,
        Some(ExitKind::Usage(_)) => return EXIT_USAGE,
        Some(ExitKind::Denied(_)) => return EXIT_DENIED,
        None => {}
    }
    match e.downcast_ref::<tonic::Status>().map(tonic::Status::code) {
        Some(tonic::Code::PermissionDenied | tonic::Code::Unauthenticated) => EXIT_DENIED,
        Some(tonic::Code::Unavailable | tonic::Code::DeadlineExceeded) => EXIT_UNREACHABLE,
        _ => EXIT_FAILURE,
    }
}

/// Context first, then the cause; a gRPC status as code and message only.
pub fn render_error(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| match cause.downcast_ref::<tonic::Status>() {
            Some(status) => describe(status),
            None => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// Describes a failed RPC for a person.
pub fn describe(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The canonical gRPC name of a code, e.g. `PERMISSION_DENIED`.
fn grpc_code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// `error: cause: cause` on one line, without repeating a cause already
/// in the text.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_have_their_canonical_names() {
        assert_eq!(
            grpc_code_name(tonic::Code::PermissionDenied),
            "PERMISSION_DENIED"
        );
        assert_eq!(grpc_code_name(tonic::Code::Ok), "OK");
        assert_eq!(
            grpc_code_name(tonic::Code::DeadlineExceeded),
            "DEADLINE_EXCEEDED"
        );
    }

    #[test]
    fn exit_codes_follow_the_table() {
        let partial = anyhow::Error::new(ExitKind::Partial("x".into()));
        assert_eq!(exit_code(&partial), EXIT_PARTIAL);
        let gone = anyhow::Error::new(ExitKind::Unreachable("x".into())).context("status");
        assert_eq!(exit_code(&gone), EXIT_UNREACHABLE);
        let denied = anyhow::Error::new(tonic::Status::permission_denied("no"));
        assert_eq!(exit_code(&denied), EXIT_DENIED);
        assert_eq!(exit_code(&anyhow::anyhow!("bad file")), EXIT_FAILURE);
    }
}
