//! Take a consistent online backup of the store (`credshare-node backup`,
//! `AdminService.Backup`): the copy is made between two group commits,
//! as of the newest signed checkpoint; writes wait for it, reads do not.

use std::path::PathBuf;

use credshare_proto::v1 as pb;

use super::Node;
use crate::blocking;
use crate::error::NodeError;
use crate::storage::backup::{BackupOf, MANIFEST};

impl Node {
    /// Writes a backup into `out_dir` (absolute, created, must be empty).
    pub async fn backup(&self, out_dir: &str) -> Result<pb::BackupResponse, NodeError> {
        let out = PathBuf::from(out_dir);
        if !out.is_absolute() {
            return Err(NodeError::invalid("out_dir", "must be an absolute path"));
        }
        let store = self.store.clone();
        let of = BackupOf {
            institution: self.institution().to_string(),
            log_origin: self.config.log_origin(),
        };
        let dir = out.clone();
        let started = std::time::Instant::now();
        let manifest = blocking::run(move || store.backup(&dir, &of)).await?;
        let bytes = std::fs::metadata(out.join(crate::storage::backup::KV_FILE))
            .map(|m| m.len())
            .unwrap_or(0);
        tracing::info!(
            out = %out.display(),
            log_size = manifest.log_size,
            entries = manifest.entries,
            bytes,
            took_ms = started.elapsed().as_millis() as u64,
            "backup written"
        );
        Ok(pb::BackupResponse {
            log_size: manifest.log_size,
            checkpoint: manifest.checkpoint,
            manifest: out.join(MANIFEST).display().to_string(),
            entries: manifest.entries,
            bytes,
        })
    }
}
