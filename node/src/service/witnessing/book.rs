//! The log side's book of its witnesses: what each holds of this log, the
//! newest checkpoint they cosigned (for receipts), and any tail loss found.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use credshare_proto::v1 as pb;

/// The newest checkpoint of this log its witnesses cosigned.
#[derive(Debug, Clone)]
pub struct CosignedCheckpoint {
    pub size: u64,
    /// The log's signed note with one cosignature line per witness.
    pub note: String,
    /// The log's signer certificate that signed the note.
    pub signer_certificate: Vec<u8>,
    /// The witnesses' signer certificates, in line order.
    pub witness_certificates: Vec<Vec<u8>>,
}

/// What one witness holds of this log, as last learnt.
#[derive(Debug, Clone, Default)]
pub(super) struct WitnessState {
    /// Asked at least once since start.
    pub(super) met: bool,
    pub(super) cosigned_size: u64,
    pub(super) cosigned_at_ms: i64,
    /// Size of the checkpoint last submitted (skip resubmitting it).
    pub(super) submitted_size: Option<u64>,
    /// The size the witness says it holds.
    pub(super) held_size: u64,
    /// `COSIGNED`, `REFUSED`, `UNREACHABLE`.
    pub(super) state: &'static str,
    pub(super) detail: String,
    /// The cosignature line on the last submitted checkpoint and the
    /// witness's certificate.
    pub(super) line: Option<(String, Vec<u8>)>,
}

/// The log side of witnessing: per witness state and the newest cosigned
/// checkpoint.
#[derive(Debug, Default)]
pub struct WitnessBook {
    pub(super) inner: Mutex<BookState>,
}

#[derive(Debug, Default)]
pub(super) struct BookState {
    pub(super) witnesses: BTreeMap<String, WitnessState>,
    pub(super) cosigned: Option<Arc<CosignedCheckpoint>>,
    /// Sizes (from, to] a witness cosigned that the log lacks.
    pub(super) missing: Option<(u64, u64)>,
    /// The log's newest declared restore, once looked for.
    pub(super) epoch: Option<Option<super::epoch::EpochDeclaration>>,
}

impl WitnessBook {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BookState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest cosigned checkpoint, if any witness cosigned one.
    pub fn cosigned(&self) -> Option<Arc<CosignedCheckpoint>> {
        self.lock().cosigned.clone()
    }

    /// Sizes (from, to] of this log a witness cosigned and it lacks.
    pub fn missing(&self) -> Option<(u64, u64)> {
        self.lock().missing
    }

    /// One row per witness for `Status`.
    pub fn views(&self) -> Vec<pb::WitnessView> {
        self.lock()
            .witnesses
            .iter()
            .map(|(institution, w)| pb::WitnessView {
                institution_id: institution.clone(),
                cosigned_size: w.cosigned_size,
                cosigned_at_ms: w.cosigned_at_ms,
                state: if w.met { w.state } else { "PENDING" }.to_owned(),
                detail: w.detail.clone(),
                held_size: w.held_size,
            })
            .collect()
    }
}
