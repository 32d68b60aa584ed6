//! Signed checkpoints of the query log: C2SP tlog-checkpoint bodies in C2SP
//! signed-note envelopes with Ed25519 signatures.
//!
//! A checkpoint commits the node to its log's size and root at a time; a
//! regulator who holds two checkpoints and a consistency proof knows nothing
//! was rewritten in between. The note format is the Go ecosystem's
//! (`golang.org/x/mod/sumdb/note`), so standard witnesses and tools read it:
//!
//! ```text
//! credshare.example/BANK-A/query-log
//! 42
//! <base64 root hash>
//! Timestamp: 1718000000000
//!
//! — credshare.example/BANK-A/query-log <base64(key id || signature)>
//! ```
//!
//! As C2SP says, extension lines after the root hash are optional: a
//! checkpoint with none (or with others, kept in order) parses; credshare
//! writes one, `Timestamp:`. Parsing is otherwise strict (bounded size,
//! canonical numbers and base64) because checkpoints arrive from peers and
//! are kept as evidence: two texts that mean the same checkpoint would be
//! one too many.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use super::merkle::Hash;

/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Most signature lines accepted on one note (as in Go's note package).
pub const MAX_SIGNATURES: usize = 100;

/// Starts every signature line: U+2014 EM DASH and a space.
pub(super) const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";
/// The signed-note signature type byte of Ed25519 keys.
const ED25519_KEY_TYPE: u8 = 0x01;
const KEY_ID_LEN: usize = 4;
const ED25519_SIGNATURE_LEN: usize = 64;
const ED25519_PUBLIC_KEY_LEN: usize = 32;
const TIMESTAMP_PREFIX: &str = "Timestamp: ";
/// Most extension lines accepted after the root hash.
pub const MAX_EXTENSION_LINES: usize = 16;

/// Why a signed checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("signed note is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("signed note does not end with a newline")]
    NoFinalNewline,
    #[error("signed note text contains a control character other than newline")]
    ControlCharacter,
    #[error("signed note has no signature lines after a blank line")]
    NoSignatures,
    #[error("signed note has {count} signature lines, more than the {max} allowed")]
    TooManySignatures { count: usize, max: usize },
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("signed note carries two signatures by key {key_name}")]
    DuplicateSignature { key_name: String },
    #[error("invalid key name: {reason}")]
    InvalidKeyName { reason: &'static str },
    #[error("Ed25519 public key is {len} bytes, expected 32")]
    InvalidPublicKey { len: usize },
    #[error("no signature by key {key_name} (key id {key_id}) on the note")]
    NoMatchingSignature { key_name: String, key_id: String },
    #[error("the signature by key {key_name} does not verify")]
    BadSignature { key_name: String },
    #[error("checkpoint {field} is malformed: {reason}")]
    MalformedBody { field: &'static str, reason: String },
}

/// A log checkpoint: the tree of `size` leaves with root `root`, as of
/// `timestamp_ms` (Unix milliseconds, UTC) when it carries a `Timestamp:`
/// extension line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub timestamp_ms: Option<i64>,
    /// Other extension lines, in order, without their newline.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint body, each line ending in `\n`: origin, size, base64
    /// root, the `Timestamp:` line when there is a time, then the other
    /// extension lines. These are the signed bytes.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        if let Some(ms) = self.timestamp_ms {
            body.push_str(&format!("{TIMESTAMP_PREFIX}{ms}\n"));
        }
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Signed note text. key: ring::signature::Ed25519KeyPair.
    ///
    /// The origin must be valid ([`validate_origin`]) and `key_name` a valid
    /// key name ([`validate_key_name`]), or the note will not verify; check
    /// both once at start-up.
    pub fn sign(&self, key_name: &str, key: &Ed25519KeyPair) -> String {
        sign_note(&self.body(), key_name, key)
    }

    /// Parses a signed note and verifies the signature line whose key name and
    /// key id match (ignore other signature lines); errors name what failed.
    ///
    /// Does not compare the origin with `key_name`: callers that expect a
    /// particular log check `origin` themselves.
    pub fn verify(
        note: &str,
        key_name: &str,
        public_key: &[u8],
    ) -> Result<Checkpoint, CheckpointError> {
        let body = verify_note(note, key_name, public_key)?;
        parse_body(body)
    }

    /// Parses without verifying (for display).
    pub fn parse_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
        let (body, _) = split_note(note)?;
        parse_body(body)
    }
}

/// The signed-note key id: `SHA-256(key_name || 0x0A || 0x01 || public_key)[:4]`.
pub fn key_id(key_name: &str, public_key: &[u8]) -> [u8; 4] {
    typed_key_id(key_name, ED25519_KEY_TYPE, public_key)
}

/// A signed-note key id for signature type `key_type`:
/// `SHA-256(key_name || 0x0A || key_type || public_key)[:4]`.
pub(super) fn typed_key_id(key_name: &str, key_type: u8, public_key: &[u8]) -> [u8; 4] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(key_name.as_bytes());
    context.update(&[b'\n', key_type]);
    context.update(public_key);
    let digest = context.finish();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest.as_ref()[..KEY_ID_LEN]);
    id
}

/// Signs `text` (which must end in `\n`) as a C2SP signed note with one
/// Ed25519 signature line by `key_name`.
pub fn sign_note(text: &str, key_name: &str, key: &Ed25519KeyPair) -> String {
    let signature = key.sign(text.as_bytes());
    let mut blob = Vec::with_capacity(KEY_ID_LEN + ED25519_SIGNATURE_LEN);
    blob.extend_from_slice(&key_id(key_name, key.public_key().as_ref()));
    blob.extend_from_slice(signature.as_ref());
    format!(
        "{text}\n{SIGNATURE_LINE_PREFIX}{key_name} {}\n",
        BASE64.encode(blob)
    )
}

/// Checks the signature by `key_name` / `public_key` on a C2SP signed note
/// and returns the signed text. Signature lines of other keys are ignored.
pub fn verify_note<'a>(
    note: &'a str,
    key_name: &str,
    public_key: &[u8],
) -> Result<&'a str, CheckpointError> {
    validate_key_name(key_name)?;
    if public_key.len() != ED25519_PUBLIC_KEY_LEN {
        return Err(CheckpointError::InvalidPublicKey {
            len: public_key.len(),
        });
    }
    let (text, signatures) = split_note(note)?;
    let wanted_id = key_id(key_name, public_key);
    let mut matching = signatures
        .iter()
        .filter(|s| s.key_name == key_name && s.key_id == wanted_id);
    let Some(signature) = matching.next() else {
        return Err(CheckpointError::NoMatchingSignature {
            key_name: key_name.to_owned(),
            key_id: hex::encode(wanted_id),
        });
    };
    if matching.next().is_some() {
        return Err(CheckpointError::DuplicateSignature {
            key_name: key_name.to_owned(),
        });
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(text.as_bytes(), &signature.signature)
        .map_err(|_| CheckpointError::BadSignature {
            key_name: key_name.to_owned(),
        })?;
    Ok(text)
}

/// Checks a key name as C2SP signed-note requires: non-empty, no Unicode
/// whitespace, no `+` (and, here, no control characters).
pub fn validate_key_name(key_name: &str) -> Result<(), CheckpointError> {
    let reason = if key_name.is_empty() {
        "it is empty"
    } else if key_name.chars().any(char::is_whitespace) {
        "it contains whitespace"
    } else if key_name.contains('+') {
        "it contains '+'"
    } else if key_name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(CheckpointError::InvalidKeyName { reason })
}

/// Checks a checkpoint origin: non-empty, no whitespace (so no newline) and
/// no control characters, e.g. `credshare.example/BANK-A/query-log`.
pub fn validate_origin(origin: &str) -> Result<(), CheckpointError> {
    let reason = if origin.is_empty() {
        "it is empty"
    } else if origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains whitespace or a control character"
    } else {
        return Ok(());
    };
    Err(malformed("origin", reason))
}

/// One parsed signature line; the signature bytes are not yet checked.
pub(super) struct NoteSignature<'a> {
    pub(super) key_name: &'a str,
    pub(super) key_id: [u8; KEY_ID_LEN],
    /// The bytes after the key id (for cosignatures: timestamp ‖ signature).
    pub(super) signature: Vec<u8>,
}

/// Splits a note into its text (ending in `\n`) and its signature lines,
/// checking the envelope's syntax as Go's `note.Open` does.
pub(super) fn split_note(note: &str) -> Result<(&str, Vec<NoteSignature<'_>>), CheckpointError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    if !note.ends_with('\n') {
        return Err(CheckpointError::NoFinalNewline);
    }
    let split = note.rfind("\n\n").ok_or(CheckpointError::NoSignatures)?;
    let (text, signature_block) = (&note[..=split], &note[split + 2..]);
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CheckpointError::ControlCharacter);
    }
    let lines: Vec<&str> = signature_block.split_terminator('\n').collect();
    if lines.is_empty() {
        return Err(CheckpointError::NoSignatures);
    }
    if lines.len() > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures {
            count: lines.len(),
            max: MAX_SIGNATURES,
        });
    }
    let signatures = lines
        .iter()
        .enumerate()
        .map(|(i, line)| parse_signature_line(line).map_err(|reason| signature_error(i, reason)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((text, signatures))
}

fn parse_signature_line(line: &str) -> Result<NoteSignature<'_>, &'static str> {
    let rest = line
        .strip_prefix(SIGNATURE_LINE_PREFIX)
        .ok_or("it does not start with an em dash and a space")?;
    let (key_name, encoded) = rest
        .split_once(' ')
        .ok_or("it has no space between key name and signature")?;
    if validate_key_name(key_name).is_err() {
        return Err("the key name is invalid");
    }
    let blob = BASE64
        .decode(encoded)
        .map_err(|_| "the signature is not canonical padded base64")?;
    if blob.len() <= KEY_ID_LEN {
        return Err("the signature is too short");
    }
    let mut key_id = [0u8; KEY_ID_LEN];
    key_id.copy_from_slice(&blob[..KEY_ID_LEN]);
    Ok(NoteSignature {
        key_name,
        key_id,
        signature: blob[KEY_ID_LEN..].to_vec(),
    })
}

fn signature_error(index: usize, reason: &'static str) -> CheckpointError {
    CheckpointError::MalformedSignatureLine {
        line: index + 1,
        reason,
    }
}

/// Parses a C2SP checkpoint body: origin, size, root hash, then zero or
/// more extension lines; a `Timestamp:` line (at most one) gives the time.
fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
    let lines: Vec<&str> = body.split_terminator('\n').collect();
    let [origin, size, root, extensions @ ..] = &lines[..] else {
        return Err(malformed(
            "layout",
            format!(
                "expected at least 3 lines (origin, size, root hash), found {}",
                lines.len()
            ),
        ));
    };
    validate_origin(origin)?;
    if extensions.len() > MAX_EXTENSION_LINES {
        return Err(malformed(
            "extensions",
            format!("{} lines, at most {MAX_EXTENSION_LINES}", extensions.len()),
        ));
    }
    let mut checkpoint = Checkpoint {
        origin: (*origin).to_owned(),
        size: parse_canonical::<u64>(size, "tree size")?,
        root: parse_root(root)?,
        timestamp_ms: None,
        extensions: Vec::new(),
    };
    for line in extensions {
        if line.is_empty() {
            return Err(malformed("extensions", "an extension line is empty"));
        }
        match line.strip_prefix(TIMESTAMP_PREFIX) {
            Some(_) if checkpoint.timestamp_ms.is_some() => {
                return Err(malformed("timestamp", "more than one Timestamp line"));
            }
            Some(ms) => checkpoint.timestamp_ms = Some(parse_canonical::<i64>(ms, "timestamp")?),
            None => checkpoint.extensions.push((*line).to_owned()),
        }
    }
    Ok(checkpoint)
}

/// Decimal integer in its one canonical spelling (no sign on positives, no
/// leading zeros), which is what the body writer produces.
fn parse_canonical<T>(text: &str, field: &'static str) -> Result<T, CheckpointError>
where
    T: std::str::FromStr + ToString,
{
    match text.parse::<T>() {
        Ok(value) if value.to_string() == text => Ok(value),
        Ok(_) => Err(malformed(field, "not in canonical decimal form")),
        Err(_) => Err(malformed(field, "not a decimal number in range")),
    }
}

fn parse_root(text: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(text)
        .map_err(|_| malformed("root hash", "not canonical padded base64"))?;
    Hash::try_from(bytes.as_slice())
        .map_err(|_| malformed("root hash", format!("{} bytes, expected 32", bytes.len())))
}

fn malformed(field: &'static str, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::MalformedBody {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
