//! Step 2 → 3 of the store format: every key copied into a fresh sled store
//! with zstd-compressed pages (sled cannot turn compression on for an
//! existing store), records and checkpoints re-encoded compactly on the way
//! (`storage/certificates.rs`), then swapped into place.
//!
//! Crash-safe at every point, finished or redone at the next open:
//! 1. the copy is built in [`STAGING`] and, once flushed and fdatasynced,
//!    marked [`COMPLETE`]; an unmarked copy is thrown away and redone;
//! 2. the old store's sled files move to [`OLD`] (renames), then
//!    [`MOVING`] is written: from then on only step 3 runs;
//! 3. the copy's files move into the data directory; [`OLD`] and
//!    [`STAGING`] are removed. A store whose sled `conf` already says
//!    compression was swapped before the crash: nothing is left to do.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use crate::storage::{StorageError, certificates, durability};

/// Where the copy is built, inside the data directory.
pub(super) const STAGING: &str = ".format-3-staging";
/// Where the old store's sled files wait while the copy moves in.
pub(super) const OLD: &str = ".format-2-files";
/// In [`STAGING`]: the copy is whole and durable.
const COMPLETE: &str = "COPY-COMPLETE";
/// In [`STAGING`]: the old files are out of the way; the copy is moving in.
const MOVING: &str = "MOVING-IN";

/// Runs (or finishes) the step on the closed store in `dir`.
pub(super) fn compressed_copy(dir: &Path) -> Result<(), StorageError> {
    let staging = dir.join(STAGING);
    if is_compressed(dir)? && !staging.exists() {
        return Ok(());
    }
    if !staging.join(COMPLETE).exists() {
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        let copied = copy_into(dir, &staging)?;
        mark(&staging, COMPLETE)?;
        tracing::info!(
            keys = copied,
            "store copied with compact values and compression"
        );
    }
    if !staging.join(MOVING).exists() {
        let old = dir.join(OLD);
        std::fs::create_dir_all(&old)?;
        move_files(dir, &old, is_sled_file)?;
        mark(&staging, MOVING)?;
    }
    move_files(&staging, dir, |name| name != COMPLETE && name != MOVING)?;
    for done in [dir.join(OLD), staging] {
        if done.exists() {
            std::fs::remove_dir_all(done)?;
        }
    }
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Whether the sled store in `dir` was made with compression (its `conf`:
/// text lines, then a binary checksum).
fn is_compressed(dir: &Path) -> Result<bool, StorageError> {
    match std::fs::read(dir.join("conf")) {
        Ok(conf) => Ok(conf
            .split(|b| *b == b'\n')
            .any(|l| l == b"use_compression: true")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Copies every tree of the format-2 store in `dir` into a new compressed
/// store in `staging`, durably. Returns the keys written.
fn copy_into(dir: &Path, staging: &Path) -> Result<u64, StorageError> {
    let old = crate::storage::open_sled(dir, sled::Config::new().flush_every_ms(None))?;
    let new = crate::storage::open_sled(staging, crate::storage::sled_config(staging))?;
    let mut copied = 0;
    for name in old.tree_names() {
        let from = old.open_tree(&name)?;
        let to = new.open_tree(&name)?;
        let mut known = HashSet::new();
        copied += certificates::write_upgraded(from.iter(), &to, &mut known, true)?;
    }
    new.flush()?;
    drop((old, new));
    durability::sync_dir_files(staging)?;
    Ok(copied)
}

/// sled's own files in a data directory (not ours: marker, high-water,
/// backups, staging).
fn is_sled_file(name: &str) -> bool {
    matches!(name, "db" | "conf" | "blobs") || name.starts_with("snap.")
}

/// Renames every entry of `from` whose name `select` picks into `to`.
fn move_files(from: &Path, to: &Path, select: fn(&str) -> bool) -> Result<(), StorageError> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_str().is_some_and(select) {
            std::fs::rename(entry.path(), to.join(&name))?;
        }
    }
    File::open(from)?.sync_all()?;
    File::open(to)?.sync_all()?;
    Ok(())
}

/// Writes the empty file `name` in `dir` durably.
fn mark(dir: &Path, name: &str) -> Result<(), StorageError> {
    File::create(dir.join(name))?.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::storage::TREE;

    /// An uncompressed (format 2) sled store in `dir` with 100 keys.
    fn format_2_store(dir: &Path) {
        let db = crate::storage::open_sled(dir, sled::Config::new()).unwrap();
        let tree = db.open_tree(TREE).unwrap();
        for i in 0..100u32 {
            tree.insert(format!("L{i:08}"), vec![7u8; 50]).unwrap();
        }
        db.flush().unwrap();
    }

    /// Keys of the store in `dir`, opened as format 3 opens it.
    fn keys_of(dir: &Path) -> usize {
        let db = crate::storage::open_sled(dir, crate::storage::sled_config(dir)).unwrap();
        db.open_tree(TREE).unwrap().len()
    }

    fn assert_clean(dir: &Path) {
        for leftover in [STAGING, OLD] {
            assert!(!dir.join(leftover).exists(), "{leftover} left behind");
        }
        assert!(is_compressed(dir).unwrap());
    }

    #[test]
    fn an_unfinished_copy_is_thrown_away_and_redone() {
        let dir = tempfile::tempdir().unwrap();
        format_2_store(dir.path());
        let staging = dir.path().join(STAGING);
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("db"), b"half a copy").unwrap();
        compressed_copy(dir.path()).unwrap();
        assert_clean(dir.path());
        assert_eq!(keys_of(dir.path()), 100);
    }

    #[test]
    fn a_swap_cut_short_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        format_2_store(dir.path());
        let staging = dir.path().join(STAGING);
        copy_into(dir.path(), &staging).unwrap();
        mark(&staging, COMPLETE).unwrap();
        let old = dir.path().join(OLD);
        std::fs::create_dir_all(&old).unwrap();
        move_files(dir.path(), &old, is_sled_file).unwrap();
        mark(&staging, MOVING).unwrap();
        // The crash: `db` moved in, the copy's `conf` not yet.
        std::fs::rename(staging.join("db"), dir.path().join("db")).unwrap();
        compressed_copy(dir.path()).unwrap();
        assert_clean(dir.path());
        assert_eq!(keys_of(dir.path()), 100);
        // Run again (a crash before the marker moved on): nothing to do.
        compressed_copy(dir.path()).unwrap();
        assert_eq!(keys_of(dir.path()), 100);
    }
}
