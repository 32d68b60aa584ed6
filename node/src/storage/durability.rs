//! fdatasync of sled's files. sled 0.34's `flush()` issues only
//! `sync_file_range` on Linux, which does not persist file metadata or flush
//! the device cache, so an acknowledged write could be lost by a crash.

use std::fs::File;
use std::path::Path;

/// `fdatasync`s every regular file directly in `dir` and in its `blobs/`,
/// then fsyncs the directory itself so new files' entries are durable.
pub fn sync_dir_files(dir: &Path) -> std::io::Result<()> {
    sync_files_in(dir)?;
    let blobs = dir.join("blobs");
    if blobs.is_dir() {
        sync_files_in(&blobs)?;
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
