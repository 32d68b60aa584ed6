//! The consortium secret and the HMAC borrower key derived from it.
//!
//! `BorrowerKey = HMAC-SHA256(secret, "credshare/borrower/v1\0" || kind ||
//! ":" || normalized_id)` (docs/design.md §3). The secret is sensitive (hashing is
//! de-identification, not anonymization), so it is never printed.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::{BorrowerId, IdError};

/// Domain separation for borrower keys; changing it re-keys every borrower.
pub const BORROWER_KEY_CONTEXT: &[u8] = b"credshare/borrower/v1\0";
/// Shortest accepted consortium secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// Longest accepted consortium secret: a bigger file is the wrong file.
pub const MAX_SECRET_LEN: usize = 4096;
/// Bytes written by [`generate_secret_file`].
pub const GENERATED_SECRET_LEN: usize = 32;

/// Errors loading or creating the consortium secret file.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read consortium secret {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("consortium secret {path} holds {len} bytes; at least {MIN_SECRET_LEN} are required")]
    TooShort { path: String, len: usize },
    #[error("consortium secret {path} holds {len} bytes; at most {MAX_SECRET_LEN} are accepted")]
    TooLong { path: String, len: usize },
    #[error("cannot create consortium secret {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("the system random generator failed")]
    Random,
}

/// The consortium-wide HMAC key: the exact bytes of the secret file.
#[derive(Clone)]
pub struct ConsortiumSecret {
    key: hmac::Key,
}

impl ConsortiumSecret {
    /// Loads the secret from a file whose bytes, as stored, are the key
    /// (32..=4096 bytes). Warns if the file is readable by group or others.
    pub fn from_file(path: &Path) -> Result<Self, SecretError> {
        let shown = path.display().to_string();
        let read_err = |source| SecretError::Read {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        // Read one byte past the limit, so a huge (or endless) file is
        // refused without reading it whole.
        let mut bytes = Vec::new();
        file.take(MAX_SECRET_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %shown, mode = format!("{:o}", mode & 0o777),
                    "consortium secret is readable by group or others");
            }
        }
        Self::from_bytes_for(&bytes, &shown)
    }

    /// Uses `bytes` as the secret (32..=4096 bytes); for tests and tooling.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        Self::from_bytes_for(bytes, "(in memory)")
    }

    fn from_bytes_for(bytes: &[u8], path: &str) -> Result<Self, SecretError> {
        let len = bytes.len();
        if len < MIN_SECRET_LEN {
            return Err(SecretError::TooShort {
                path: path.to_owned(),
                len,
            });
        }
        if len > MAX_SECRET_LEN {
            return Err(SecretError::TooLong {
                path: path.to_owned(),
                len,
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        })
    }
}

impl fmt::Debug for ConsortiumSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsortiumSecret(…)")
    }
}

/// Writes a new secret of 32 random bytes to `path` with mode 0600. Refuses
/// to overwrite an existing file: replacing the secret re-keys every
/// borrower in the consortium.
pub fn generate_secret_file(path: &Path) -> Result<(), SecretError> {
    let create_err = |source| SecretError::Create {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = [0u8; GENERATED_SECRET_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(create_err)?;
    file.write_all(&bytes).map_err(create_err)?;
    file.sync_all().map_err(create_err)
}

/// A borrower's pseudonymous key, 32 bytes: in generation 1 HMAC-SHA256 of
/// the normalized identifier under the consortium secret ([`derive`]); in
/// generation 2+ the borrower's OPRF pseudonym, computed by the member's
/// CLI with the discovery service ([`from_slice`]). Safe to store, log
/// ([`BorrowerKey::short`]) and send to peers.
///
/// [`derive`]: BorrowerKey::derive
/// [`from_slice`]: BorrowerKey::from_slice
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BorrowerKey([u8; 32]);

impl BorrowerKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// Derives the key of `id`. Deterministic; differs by kind and secret.
    pub fn derive(secret: &ConsortiumSecret, id: &BorrowerId) -> Self {
        let mut ctx = hmac::Context::with_key(&secret.key);
        ctx.update(BORROWER_KEY_CONTEXT);
        ctx.update(id.kind().as_bytes());
        ctx.update(b":");
        ctx.update(id.normalized().as_bytes());
        let mut key = [0u8; Self::LEN];
        key.copy_from_slice(ctx.sign().as_ref());
        Self(key)
    }

    /// Takes a key received as bytes (e.g. a protobuf field): exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| IdError::KeyLength(bytes.len()))
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Self, IdError> {
        let bytes = hex::decode(s.trim()).map_err(|_| IdError::KeyHex)?;
        Self::from_slice(&bytes).map_err(|_| IdError::KeyHex)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 hex characters, for logs and tables.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for BorrowerKey {
    /// Lower-case hex, 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BorrowerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BorrowerKey({self})")
    }
}

impl FromStr for BorrowerKey {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}
