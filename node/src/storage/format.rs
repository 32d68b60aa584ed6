//! The store's format version, kept in a small file next to sled's own
//! (`credshare-format`), read before sled opens the store.
//!
//! * No marker and no sled files: a new store; the marker is written.
//! * A marker newer than [`CURRENT`]: refused, naming both versions — an
//!   older binary must never write a store it does not understand.
//! * Format 1 (the store before markers existed: sled files, no marker) or
//!   any older marker: the whole directory is first copied to
//!   `backups/pre-format-<N>-<unix ms>/` inside it (unless every step to
//!   run only adds keys), then each migration step runs in order and the
//!   marker is rewritten after each.
//!
//! Format history:
//!
//! | format | what changed |
//! |---|---|
//! | 1 | the store until credshare 0.1 (implicit: no marker) |
//! | 2 | the marker; query logs may hold `LogEpochEntry` (a restore's declared epoch) |
//! | 3 | compact record and checkpoint values, signer certificates once under `K` (`storage/compact.rs`), re-encoded in place |
//! | 4 | record and borrower counts kept under `M` ‖ `record-counts` (`storage/counts.rs`), counted once in place; no copy taken (one key added, none changed) |
//!
//! sled's own page compression (its `compression` feature) is not used: it
//! builds a new zstd context for every page write, which doubled the node's
//! CPU per audited query (221 → 423 µs) and per imported record (73 → 146
//! µs) for 1,025 → 645 bytes per record on disk (README, Performance).

use std::path::{Path, PathBuf};

use super::StorageError;

/// The format this build writes.
pub const CURRENT: u32 = 4;
/// The marker's file name in the data directory.
pub const MARKER: &str = "credshare-format";
/// Where pre-migration copies go, inside the data directory.
pub const BACKUPS: &str = "backups";

/// One migration step: from `from` to `from + 1`, on the closed store.
struct Step {
    from: u32,
    what: &'static str,
    run: fn(&Path) -> Result<(), StorageError>,
    /// Whether the step changes or removes data (then the store is copied
    /// first); a step that only adds keys does not need the copy.
    changes_data: bool,
}

const STEPS: &[Step] = &[
    Step {
        from: 1,
        what: "record the format version (no key changes)",
        run: |_| Ok(()),
        changes_data: true,
    },
    Step {
        from: 2,
        what: "re-encode records and checkpoints compactly, in place (resumable)",
        run: compact_in_place,
        changes_data: true,
    },
    Step {
        from: 3,
        what: "count records and borrowers once (one key added)",
        run: super::counts::count_in_place,
        changes_data: false,
    },
];

/// What opening did to the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatCheck {
    /// A new store, marked with [`CURRENT`].
    Created,
    /// Already at [`CURRENT`].
    Current,
    /// Migrated from `from`; the copy taken first is at `backup` (none when
    /// no step changed data).
    Upgraded { from: u32, backup: Option<PathBuf> },
}

/// Checks `dir`'s format before sled opens it; creates, refuses or
/// upgrades as the module docs say. Blocking (file I/O, a copy).
pub fn check_and_upgrade(dir: &Path) -> Result<FormatCheck, StorageError> {
    std::fs::create_dir_all(dir)?;
    let found = match read_marker(dir)? {
        Some(v) => v,
        None if !dir.join("db").exists() => {
            write_marker(dir, CURRENT)?;
            return Ok(FormatCheck::Created);
        }
        None => 1,
    };
    if found > CURRENT {
        return Err(StorageError::FormatTooNew {
            dir: dir.display().to_string(),
            found,
            supported: CURRENT,
        });
    }
    if found == CURRENT {
        return Ok(FormatCheck::Current);
    }
    let steps = || STEPS.iter().filter(|s| s.from >= found && s.from < CURRENT);
    let backup = match steps().any(|s| s.changes_data) {
        true => Some(backup_dir(dir, found)?),
        false => None,
    };
    for step in steps() {
        tracing::info!(
            from = step.from,
            to = step.from + 1,
            step = step.what,
            "store migration"
        );
        (step.run)(dir)?;
        write_marker(dir, step.from + 1)?;
    }
    Ok(FormatCheck::Upgraded {
        from: found,
        backup,
    })
}

/// The marker's version, if the file exists.
pub fn read_marker(dir: &Path) -> Result<Option<u32>, StorageError> {
    let text = match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("format = "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| StorageError::Corrupt(format!("{MARKER}: no `format = N` line")))?;
    Ok(Some(version))
}

/// Writes the marker durably (write, fsync, rename, fsync the directory).
pub fn write_marker(dir: &Path, version: u32) -> Result<(), StorageError> {
    let text = format!(
        "# credshare store format; do not edit (docs/operations.md, Upgrade)\nformat = {version}\nwritten_by = \"{}\"\n",
        crate::VERSION
    );
    let tmp = dir.join(format!("{MARKER}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(MARKER))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Copies every file of `dir` (but earlier backups) to a new backup folder.
fn backup_dir(dir: &Path, from: u32) -> Result<PathBuf, StorageError> {
    let ms = crate::domain::dates::now_ms();
    let target = dir.join(BACKUPS).join(format!("pre-format-{from}-{ms}"));
    copy_tree(dir, &target, &[BACKUPS])?;
    super::durability::sync_dir_files(&target)?;
    tracing::info!(backup = %target.display(), from, to = CURRENT, "store backed up before migration");
    Ok(target)
}

/// Copies `from` into `to` recursively, skipping top-level names in `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name), &[])?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// Step 2 → 3: every format-2 record and checkpoint of the closed store in
/// `dir` re-encoded compactly, in atomic batches that also add the
/// certificates they refer to. Resumable: a crash leaves a mix of both
/// encodings, which readers accept, and the next open (the marker still
/// says 2) skips the values already compact.
fn compact_in_place(dir: &Path) -> Result<(), StorageError> {
    let db = super::open_sled(dir, super::sled_config(dir))?;
    let tree = db.open_tree(super::TREE)?;
    let changed = super::certificates::upgrade_tree(&tree)?;
    db.flush()?;
    drop((tree, db));
    super::durability::sync_dir_files(dir)?;
    tracing::info!(values = changed, "store re-encoded with compact values");
    Ok(())
}

#[cfg(test)]
mod tests;
