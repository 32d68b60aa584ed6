//! fdatasync of sled's files. sled 0.34's `flush()` issues only
//! `sync_file_range` on Linux, which does not persist file metadata or flush
//! the device cache, so an acknowledged write could be lost by a crash.
//!
//! [`DurableDir`] keeps the main `db` file open and `fdatasync`s it after
//! every flush; other files (`conf`, snapshots, blobs) and the directory
//! itself are synced only when the set of files or their sizes changed,
//! because a directory fsync forces a journal commit (about a millisecond
//! here) that an unchanged directory does not need.

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
            let meta = entry.metadata()?;
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
        if entry.file_type()?.is_file() {
            // A read-only handle suffices for fdatasync on Linux.
            File::open(entry.path())?.sync_data()?;
        }
    }
    Ok(())
}
