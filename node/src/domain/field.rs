//! The one error every domain rule returns for bad input: which field, and
//! why. Messages are safe to show and to log: an untrusted value is quoted
//! only when it cannot be an identifier ([`quote_unless_identifying`]).

/// The first rule a value breaks: the protobuf (or file) field name and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Quotes an untrusted value for an error message, unless it might carry an
/// identifier (a misplaced column, a missing header row): then only its
/// length is shown.
pub fn quote_unless_identifying(value: &str) -> String {
    let longest_alnum_run = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if value.chars().count() <= 40 && longest_alnum_run < 15 {
        format!("{value:?}")
    } else {
        format!(
            "a value of {} characters (not shown)",
            value.chars().count()
        )
    }
}
