//! fdatasync of sled's files. sled 0.34's `flush()` issues only
//! `sync_file_range` on Linux, which does not persist file metadata or flush
//! the device cache, so an acknowledged write could be lost by a crash.
//!
//! [`DurableDir`] keeps the main `db` file open and `fdatasync`s it after
//! every flush; other files (`conf`, snapshots, blobs) and the directory
//! itself are synced only when the set of files or their sizes changed,
//! because a directory fsync forces a journal commit (about a millisecond
//! here) that an unchanged directory does not need.
//!
//! sled deletes blob files (values over its inline limit) when they are
//! superseded, possibly between our listing and our fsync. A file that is
//! gone has nothing left to make durable, so `NotFound` on a file counts as
//! done, never as a failure.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Name of sled's main data file.
const DB_FILE: &str = "db";

/// The store directory's durability state.
#[derive(Debug)]
pub struct DurableDir {
    dir: PathBuf,
    db: File,
    /// (name, length) of every file, as of the last full sync.
    seen: Mutex<Vec<(String, u64)>>,
}

impl DurableDir {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            db: File::open(dir.join(DB_FILE))?,
            dir: dir.to_owned(),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// Makes everything sled has written durable (call after `flush`).
    pub fn sync(&self) -> std::io::Result<()> {
        self.db.sync_data()?;
        let listing = listing(&self.dir)?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if *seen != listing {
            sync_dir_files(&self.dir)?;
            *seen = listing;
        }
        Ok(())
    }
}

/// Every regular file below `dir` (one level of subdirectories) with its size.
fn listing(dir: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for base in [dir.to_path_buf(), dir.join("blobs")] {
        if !base.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&base)? {
            let entry = entry?;
            let Some(meta) = gone_is_none(entry.metadata())? else {
                continue;
            };
            if meta.is_file() && entry.file_name() != DB_FILE {
                out.push((entry.path().display().to_string(), meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `fdatasync`s every regular file directly in `dir` and in its `blobs/`,
/// then fsyncs the directories so new files' entries are durable.
pub fn sync_dir_files(dir: &Path) -> std::io::Result<()> {
    sync_files_in(dir)?;
    let blobs = dir.join("blobs");
    if blobs.is_dir() {
        sync_files_in(&blobs)?;
        File::open(&blobs)?.sync_all()?;
    }
    File::open(dir)?.sync_all()
}

fn sync_files_in(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if gone_is_none(entry.file_type())?.is_some_and(|t| t.is_file()) {
            sync_file(&entry.path())?;
        }
    }
    Ok(())
}

/// `fdatasync`s one file; a file deleted meanwhile is done.
fn sync_file(path: &Path) -> std::io::Result<()> {
    // A read-only handle suffices for fdatasync on Linux.
    match gone_is_none(File::open(path))? {
        Some(file) => gone_is_none(file.sync_data()).map(|_| ()),
        None => Ok(()),
    }
}

/// `NotFound` as `None`: the file was deleted after it was listed.
fn gone_is_none<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_deleted_before_its_fsync_is_done_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("blob-1");
        std::fs::write(&gone, b"x").unwrap();
        std::fs::remove_file(&gone).unwrap();
        sync_file(&gone).unwrap();
    }

    #[test]
    fn other_errors_still_fail() {
        let e = gone_is_none::<()>(Err(std::io::Error::other("disk"))).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Other);
    }

    #[test]
    fn syncing_a_directory_whose_blobs_vanish_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), b"").unwrap();
        std::fs::create_dir(dir.path().join("blobs")).unwrap();
        let durable = DurableDir::open(dir.path()).unwrap();
        for i in 0..50 {
            std::fs::write(dir.path().join("blobs").join(i.to_string()), b"v").unwrap();
        }
        let blobs = dir.path().join("blobs");
        let deleter = std::thread::spawn(move || {
            for i in 0..50 {
                let _ = std::fs::remove_file(blobs.join(i.to_string()));
            }
        });
        for _ in 0..20 {
            durable.sync().unwrap();
        }
        deleter.join().unwrap();
        durable.sync().unwrap();
    }
}
