//! Backups of the store: a logical copy of every key and value, taken
//! while the single writer is held between two batches (so it is one
//! consistent state, as of one signed checkpoint), with a manifest that
//! names the log size, the signed checkpoint and the SHA-256 of each file.
//! Independent of sled's file format, so a backup restores into any later
//! store format.
//!
//! `store.kv` is a sequence of `u32 BE key length ‖ key ‖ u32 BE value
//! length ‖ value`, in key order.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use super::{StorageError, Store};

/// The manifest's file name in a backup directory.
pub const MANIFEST: &str = "manifest.json";
/// The store's keys and values.
pub const KV_FILE: &str = "store.kv";

/// What a backup holds, written as `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Store format the backup was taken from.
    pub format: u32,
    pub credshare_version: String,
    pub institution: String,
    pub log_origin: String,
    pub log_size: u64,
    /// The newest signed checkpoint (C2SP note), at `log_size`.
    pub checkpoint: String,
    pub taken_at_ms: i64,
    /// Keys in `store.kv`.
    pub entries: u64,
    /// File name → lower-case hex SHA-256.
    pub files: std::collections::BTreeMap<String, String>,
}

/// Who the backup is of.
#[derive(Debug, Clone)]
pub struct BackupOf {
    pub institution: String,
    pub log_origin: String,
}

impl Store {
    /// Writes a consistent backup into `out` (created; must be empty).
    /// Holds the writer's gate for the copy: writes wait, reads go on.
    pub fn backup(&self, out: &Path, of: &BackupOf) -> Result<BackupManifest, StorageError> {
        std::fs::create_dir_all(out)?;
        if std::fs::read_dir(out)?.next().is_some() {
            return Err(StorageError::Backup(format!(
                "{} is not empty",
                out.display()
            )));
        }
        let gate = self.write_gate.write().unwrap_or_else(|p| p.into_inner());
        let log_size = self.log_size()?;
        let checkpoint = self
            .checkpoint(None)?
            .and_then(|c| c.checkpoint)
            .map(|c| c.signed_note)
            .unwrap_or_default();
        let (entries, digest) = self.write_kv(&out.join(KV_FILE))?;
        drop(gate);
        let manifest = BackupManifest {
            format: super::format::CURRENT,
            credshare_version: crate::VERSION.into(),
            institution: of.institution.clone(),
            log_origin: of.log_origin.clone(),
            log_size,
            checkpoint,
            taken_at_ms: crate::domain::dates::now_ms(),
            entries,
            files: [(KV_FILE.to_owned(), digest)].into(),
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StorageError::Backup(e.to_string()))?;
        std::fs::write(out.join(MANIFEST), json)?;
        super::durability::sync_dir_files(out)?;
        Ok(manifest)
    }

    fn write_kv(&self, path: &Path) -> Result<(u64, String), StorageError> {
        let mut file = BufWriter::new(std::fs::File::create(path)?);
        let mut hash = Context::new(&SHA256);
        let mut entries = 0u64;
        for item in self.tree.iter() {
            let (k, v) = item?;
            for part in [&k[..], &v[..]] {
                let len = (part.len() as u32).to_be_bytes();
                file.write_all(&len)?;
                file.write_all(part)?;
                hash.update(&len);
                hash.update(part);
            }
            entries += 1;
        }
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok((entries, hex::encode(hash.finish())))
    }

    /// Loads `store.kv` of a verified backup into this (empty) store; the
    /// values of a backup of an older format are upgraded as the store's
    /// own would be at open (`format.rs`), and the records are counted.
    pub fn import_kv(&self, backup: &Path) -> Result<u64, StorageError> {
        let mut reader = BufReader::new(std::fs::File::open(backup.join(KV_FILE))?);
        let mut batch = sled::Batch::default();
        let (mut n, mut in_batch) = (0u64, 0usize);
        while let Some(key) = read_part(&mut reader)? {
            let value = read_part(&mut reader)?
                .ok_or_else(|| StorageError::Backup(format!("{KV_FILE}: a key without value")))?;
            batch.insert(key, value);
            n += 1;
            in_batch += 1;
            if in_batch == 10_000 {
                self.tree.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
        self.tree.apply_batch(batch)?;
        super::certificates::upgrade_tree(&self.tree)?;
        super::counts::recount(&self.tree)?;
        self.sync()?;
        Ok(n)
    }
}

fn read_part(reader: &mut impl Read) -> Result<Option<Vec<u8>>, StorageError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut part = vec![0u8; u32::from_be_bytes(len) as usize];
    reader.read_exact(&mut part)?;
    Ok(Some(part))
}

/// Reads a backup's manifest and checks every file's hash; names the
/// first that differs.
pub fn read_verified(from: &Path) -> Result<BackupManifest, StorageError> {
    let text = std::fs::read(from.join(MANIFEST))
        .map_err(|e| StorageError::Backup(format!("{}: {e}", from.join(MANIFEST).display())))?;
    let manifest: BackupManifest = serde_json::from_slice(&text)
        .map_err(|e| StorageError::Backup(format!("{MANIFEST}: {e}")))?;
    if !manifest.files.contains_key(KV_FILE) {
        return Err(StorageError::Backup(format!(
            "{MANIFEST} lists no {KV_FILE}"
        )));
    }
    for (name, want) in &manifest.files {
        let got = file_sha256(&from.join(name))?;
        if &got != want {
            return Err(StorageError::Backup(format!(
                "{name}: SHA-256 {got} differs from the manifest's {want}"
            )));
        }
    }
    Ok(manifest)
}

fn file_sha256(path: &PathBuf) -> Result<String, StorageError> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut hash = Context::new(&SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hash.finish()));
        }
        hash.update(&buf[..n]);
    }
}
