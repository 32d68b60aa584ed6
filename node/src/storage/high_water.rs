//! The size and root of the newest durable signed checkpoint, kept outside
//! the store in `<data_dir>/high-water`: peers hold receipts up to it, so a
//! store whose log is shorter at start-up lost acknowledged entries (a
//! damaged tail) and must not start and sign a diverging log.
//!
//! The file is one fixed 48-byte record — size (u64 BE), root (32 bytes),
//! the first 8 bytes of SHA-256 over both — overwritten in place and
//! `fdatasync`ed by the group commit's release thread after each batch's
//! store sync and before its replies (so it is never ahead of the store,
//! and never behind a checkpoint a reply disclosed). A write within one sector is not torn on
//! the devices we run on; the checksum catches it if it is.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::StorageError;
use crate::audit::Hash;

/// Name of the file in the data directory.
pub const FILE_NAME: &str = "high-water";
const RECORD_BYTES: usize = 48;

/// The newest signed checkpoint made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HighWater {
    pub size: u64,
    pub root: Hash,
}

impl HighWater {
    fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut out = [0u8; RECORD_BYTES];
        out[..8].copy_from_slice(&self.size.to_be_bytes());
        out[8..40].copy_from_slice(&self.root);
        let sum = ring::digest::digest(&ring::digest::SHA256, &out[..40]);
        out[40..].copy_from_slice(&sum.as_ref()[..8]);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; RECORD_BYTES] = bytes.try_into().ok()?;
        let sum = ring::digest::digest(&ring::digest::SHA256, &bytes[..40]);
        if sum.as_ref()[..8] != bytes[40..] {
            return None;
        }
        let mut root = [0u8; 32];
        root.copy_from_slice(&bytes[8..40]);
        Some(Self {
            size: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            root,
        })
    }

    /// The recorded high water of `dir`, if the file exists. A file that
    /// does not decode is an error naming it.
    pub fn read(dir: &Path) -> Result<Option<Self>, StorageError> {
        let path = dir.join(FILE_NAME);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(file) => file.take(1024).read_to_end(&mut bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Created at start-up, nothing recorded yet (no write since).
        if bytes.is_empty() {
            return Ok(None);
        }
        Self::decode(&bytes).map(Some).ok_or_else(|| {
            StorageError::Corrupt(format!(
                "{} is damaged ({} bytes, checksum mismatch)",
                path.display(),
                bytes.len()
            ))
        })
    }

    /// Refuses a log of `log_size` entries with root `log_root` that is
    /// shorter than this high water, or of the same size with another root.
    pub fn check(&self, log_size: u64, log_root: Hash, dir: &Path) -> Result<(), StorageError> {
        let diverged = log_size == self.size && log_root != self.root;
        if log_size < self.size || diverged {
            return Err(StorageError::TailLost {
                log_size,
                high_water: self.size,
                file: dir.join(FILE_NAME).display().to_string(),
            });
        }
        Ok(())
    }
}

/// The open high-water file the writer updates.
#[derive(Debug)]
pub struct HighWaterFile {
    file: File,
    last: Option<HighWater>,
}

impl HighWaterFile {
    /// Opens (creating) the file in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE_NAME))?;
        Ok(Self { file, last: None })
    }

    /// Overwrites the record and `fdatasync`s it; nothing when unchanged.
    /// Blocking: one small write and one fdatasync.
    pub fn record(&mut self, mark: HighWater) -> std::io::Result<()> {
        if self.last == Some(mark) {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&mark.encode())?;
        self.file.set_len(RECORD_BYTES as u64)?;
        self.file.sync_data()?;
        self.last = Some(mark);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_marks_read_back_and_shorter_logs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(HighWater::read(dir.path()).unwrap(), None);
        let mut file = HighWaterFile::open(dir.path()).unwrap();
        assert_eq!(HighWater::read(dir.path()).unwrap(), None, "opened, empty");
        file.record(HighWater {
            size: 3,
            root: [1; 32],
        })
        .unwrap();
        let mark = HighWater {
            size: 70,
            root: [2; 32],
        };
        file.record(mark).unwrap();
        let read = HighWater::read(dir.path()).unwrap().unwrap();
        assert_eq!(read, mark);
        assert!(read.check(70, [2; 32], dir.path()).is_ok());
        assert!(read.check(71, [9; 32], dir.path()).is_ok());
        let err = read.check(3, [1; 32], dir.path()).unwrap_err().to_string();
        assert!(err.contains("3 entries") && err.contains("70"), "{err}");
        assert!(
            read.check(70, [9; 32], dir.path()).is_err(),
            "same size, other root"
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), [7u8; RECORD_BYTES]).unwrap();
        let err = HighWater::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains(FILE_NAME), "{err}");
    }
}
