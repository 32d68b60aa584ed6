//! OPRF key files: the whole key (stage 1), the regulator's part `k_R` or
//! a custodian's share of `k_G` (stage 2). A small TOML file, written
//! 0600 and never overwritten; refused on read when others may read it.
//!
//! ```toml
//! format = "credshare-oprf-key/v1"
//! part = "custodian"          # "whole", "regulator" or "custodian"
//! index = 2                   # custodians only: 1..3
//! scalar = "…64 hex…"         # little-endian canonical scalar
//! public_key = "…64 hex…"     # scalar·G, for checking
//! ```

use std::path::Path;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::scalar::Scalar;
use serde::{Deserialize, Serialize};

use super::oprf::scalar_from_bytes;
use super::threshold::{CUSTODIANS, Share};

const FORMAT: &str = "credshare-oprf-key/v1";

/// Which part of the OPRF key a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPart {
    Whole,
    Regulator,
    Custodian,
}

impl KeyPart {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPart::Whole => "whole",
            KeyPart::Regulator => "regulator",
            KeyPart::Custodian => "custodian",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileText {
    format: String,
    part: KeyPart,
    #[serde(default)]
    index: u8,
    scalar: String,
    public_key: String,
}

/// A key file's content.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub part: KeyPart,
    /// Custodian index 1..=3; 0 for the other parts.
    pub index: u8,
    pub scalar: Scalar,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("part", &self.part)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl KeyFile {
    /// The public key `scalar·G`, encoded.
    pub fn public_key(&self) -> [u8; 32] {
        (self.scalar * RISTRETTO_BASEPOINT_POINT)
            .compress()
            .to_bytes()
    }

    /// A custodian file as a [`Share`].
    pub fn share(&self) -> Option<Share> {
        (self.part == KeyPart::Custodian).then_some(Share {
            index: self.index,
            scalar: self.scalar,
        })
    }

    /// Reads and checks a key file (format, part, index, scalar, public
    /// key, and that group and others cannot read it).
    pub fn read(path: &Path) -> Result<Self, KeyFileError> {
        let name = path.display().to_string();
        let invalid = |reason: String| KeyFileError::Invalid {
            path: name.clone(),
            reason,
        };
        check_private(path).map_err(&invalid)?;
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            path: name.clone(),
            source,
        })?;
        let raw: KeyFileText = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if raw.format != FORMAT {
            return Err(invalid(format!(
                "format is {:?}, expected {FORMAT:?}",
                raw.format
            )));
        }
        let bytes = hex::decode(&raw.scalar).map_err(|e| invalid(format!("scalar: {e}")))?;
        let scalar = scalar_from_bytes(&bytes).map_err(|e| invalid(format!("scalar: {e}")))?;
        let file = KeyFile {
            part: raw.part,
            index: raw.index,
            scalar,
        };
        let index_ok = match raw.part {
            KeyPart::Custodian => (1..=CUSTODIANS).contains(&raw.index),
            _ => raw.index == 0,
        };
        if !index_ok {
            return Err(invalid(format!(
                "index {} does not fit part {:?}",
                raw.index,
                raw.part.as_str()
            )));
        }
        if hex::encode(file.public_key()) != raw.public_key.to_ascii_lowercase() {
            return Err(invalid("public_key does not match the scalar".into()));
        }
        Ok(file)
    }

    /// Writes the file with mode 0600; refuses to overwrite.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyFileError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let raw = KeyFileText {
            format: FORMAT.into(),
            part: self.part,
            index: self.index,
            scalar: hex::encode(self.scalar.as_bytes()),
            public_key: hex::encode(self.public_key()),
        };
        let io = |source| KeyFileError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = toml::to_string(&raw).map_err(|e| KeyFileError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }
}

fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "mode {mode:o} lets others read the OPRF key; chmod 600 it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::oprf::random_scalar;

    #[test]
    fn a_key_file_round_trips_at_0600_and_is_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c2.key");
        let key = KeyFile {
            part: KeyPart::Custodian,
            index: 2,
            scalar: random_scalar(),
        };
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(KeyFile::read(&path).unwrap(), key);
        assert!(key.write_new(&path).is_err(), "overwrote a key file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn inconsistent_key_files_are_refused() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let good = KeyFile {
            part: KeyPart::Whole,
            index: 0,
            scalar: random_scalar(),
        };
        let scalar = hex::encode(good.scalar.as_bytes());
        let pk = hex::encode(good.public_key());
        let cases = [
            (
                format!(
                    "format = \"credshare-oprf-key/v1\"\npart = \"whole\"\nindex = 1\nscalar = \"{scalar}\"\npublic_key = \"{pk}\"\n"
                ),
                "index",
            ),
            (
                format!(
                    "format = \"credshare-oprf-key/v1\"\npart = \"custodian\"\nindex = 4\nscalar = \"{scalar}\"\npublic_key = \"{pk}\"\n"
                ),
                "index",
            ),
            (
                format!(
                    "format = \"credshare-oprf-key/v1\"\npart = \"whole\"\nscalar = \"{scalar}\"\npublic_key = \"{}\"\n",
                    "00".repeat(32)
                ),
                "public_key",
            ),
            (
                format!(
                    "format = \"credshare-oprf-key/v1\"\npart = \"whole\"\nscalar = \"{}\"\npublic_key = \"{pk}\"\n",
                    "00".repeat(32)
                ),
                "scalar",
            ),
            (
                format!(
                    "format = \"v0\"\npart = \"whole\"\nscalar = \"{scalar}\"\npublic_key = \"{pk}\"\n"
                ),
                "format",
            ),
        ];
        for (n, (text, what)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("{n}.key"));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
            let err = KeyFile::read(&path).unwrap_err().to_string();
            assert!(err.contains(what), "case {n}: {err}");
        }
    }
}
