//! What this node holds as a witness of its peers' logs: for each peer
//! institution, the newest checkpoint of its log this node cosigned, and how
//! many conflicts it logged as evidence. Written only through the group
//! commit ([`super::CommitRequest::witness`]), so a cosignature leaves only
//! once the view it states is durable.
//!
//! Key `W ‖ institution`; value the JSON of [`WitnessedLog`] (a few KiB at
//! most: one signed note and one certificate per peer).

use super::keys;
use super::{StorageError, Store};

/// This node's view of one peer's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WitnessedLog {
    /// The log's origin line, fixed at the first checkpoint cosigned.
    pub origin: String,
    /// Size of the newest checkpoint cosigned (0: none yet).
    pub size: u64,
    /// That checkpoint: the log's signed note with this node's cosignature
    /// line appended (empty when none).
    pub cosigned_note: String,
    /// The log's signer certificate (DER, hex) that signed it.
    pub signer_certificate_hex: String,
    /// When this node cosigned it (Unix ms).
    pub cosigned_at_ms: i64,
    /// Conflicts of this log this node logged as evidence.
    pub evidence: u64,
    /// The log's epoch this view is of: 0 until the log declares a restore
    /// (`LogEpochEntry`) to this witness, then that entry's epoch.
    #[serde(default)]
    pub epoch: u32,
    /// SHA-256 (hex) of the newest offered checkpoint logged as evidence:
    /// the same conflicting checkpoint offered again is refused without a
    /// second entry (a log retrying its submission, or flooding on purpose).
    #[serde(default)]
    pub last_evidence_sha256: String,
}

/// A new view of `institution`'s log, written atomically with the batch.
#[derive(Debug, Clone)]
pub struct WitnessWrite {
    pub institution: String,
    pub view: WitnessedLog,
}

impl WitnessWrite {
    /// Adds this change to a sled batch (called by the writer).
    pub(super) fn apply(&self, batch: &mut sled::Batch) {
        // Serializing a struct of strings and integers cannot fail.
        let value = serde_json::to_vec(&self.view).unwrap_or_default();
        batch.insert(keys::named(keys::WITNESSED, &self.institution), value);
    }
}

impl Store {
    /// The view of `institution`'s log this node holds as its witness.
    pub fn witnessed_log(&self, institution: &str) -> Result<Option<WitnessedLog>, StorageError> {
        self.tree
            .get(keys::named(keys::WITNESSED, institution))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every peer log this node witnesses, by institution.
    pub fn witnessed_logs(&self) -> Result<Vec<(String, WitnessedLog)>, StorageError> {
        self.tree
            .scan_prefix([keys::WITNESSED])
            .map(|item| {
                let (k, v) = item?;
                let institution = String::from_utf8_lossy(&k[1..]).into_owned();
                Ok((institution, decode(&v)?))
            })
            .collect()
    }
}

fn decode(bytes: &[u8]) -> Result<WitnessedLog, StorageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt(format!("witnessed log view: {e}")))
}
