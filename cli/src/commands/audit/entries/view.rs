//! How an entry is shown ([`EntryView`]) and the helpers every describer
//! shares: hashed keys as short prefixes, the officer on a summary line.

use serde_json::Value;

/// Bytes of a hashed key shown.
const SHORT_KEY_BYTES: usize = 6;

/// One entry for display: its kind, a one-line summary and its JSON form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntryView {
    pub kind: &'static str,
    pub summary: String,
    pub json: Value,
}

/// A hashed key as a short hex prefix, e.g. `3fa2c41b09d7…`.
pub(crate) fn short_key(key: &[u8]) -> String {
    if key.is_empty() {
        return "-".into();
    }
    let shown = &key[..key.len().min(SHORT_KEY_BYTES)];
    let ellipsis = if key.len() > SHORT_KEY_BYTES {
        "…"
    } else {
        ""
    };
    format!("{}{ellipsis}", hex::encode(shown))
}

/// ` officer <id>` for a summary line, empty when no officer is named.
pub(crate) fn by_officer(officer: &str) -> String {
    if officer.is_empty() {
        String::new()
    } else {
        format!(" officer {officer}")
    }
}
