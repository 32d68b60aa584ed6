//! `[witness]`: how this node has its log cosigned by its peers, and the
//! quorum of cosignatures it asks of theirs (docs/protocol.md §13).

use serde::{Deserialize, Serialize};

/// Smallest and largest submission interval accepted, ms.
pub const MIN_SUBMIT_INTERVAL_MS: u64 = 50;
pub const MAX_SUBMIT_INTERVAL_MS: u64 = 3_600_000;
/// Largest quorum accepted (a consortium has a few dozen members).
pub const MAX_QUORUM: u32 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessConfig {
    /// Submit this node's newest checkpoint to each peer (its witness) at
    /// most once per this many ms. Default 1000.
    pub submit_interval_ms: u64,
    /// Whether this node submits its checkpoints at all. Default true; off
    /// only to measure what witnessing costs (a node always serves as a
    /// witness for its peers).
    pub submit: bool,
    /// Cosignatures by witnesses other than the holder a peer's receipt
    /// must carry. Unset: 1 once the federation has three members (this
    /// node and two peers), 0 below.
    pub quorum: Option<u32>,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        Self {
            submit_interval_ms: 1000,
            submit: true,
            quorum: None,
        }
    }
}

impl WitnessConfig {
    /// The quorum in force for a federation of `members` (this node
    /// included).
    pub fn quorum_for(&self, members: usize) -> u32 {
        self.quorum.unwrap_or(u32::from(members >= 3))
    }

    /// Checks the bounds, naming the key.
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        if !(MIN_SUBMIT_INTERVAL_MS..=MAX_SUBMIT_INTERVAL_MS).contains(&self.submit_interval_ms) {
            return Err(super::invalid(
                "witness.submit_interval_ms",
                format!("must be {MIN_SUBMIT_INTERVAL_MS}..={MAX_SUBMIT_INTERVAL_MS}"),
            ));
        }
        if self.quorum.is_some_and(|q| q > MAX_QUORUM) {
            return Err(super::invalid(
                "witness.quorum",
                format!("must be at most {MAX_QUORUM}"),
            ));
        }
        Ok(())
    }
}
