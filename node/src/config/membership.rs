//! `[membership]` of the node's configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[membership]`: where the signed manifest is and how its expiry is
/// handled (docs/design.md#membership).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipConfig {
    /// The signed manifest (`credshare consortium manifest sign`). Unset:
    /// no manifest, the static `[[peers]]` list stands.
    #[serde(default)]
    pub manifest_file: Option<PathBuf>,
    /// The consortium's name; a manifest for another is refused.
    #[serde(default)]
    pub consortium: String,
    /// Warn this many days before the manifest expires.
    #[serde(default = "default_manifest_warn_days")]
    pub warn_days: u32,
    /// Hours after expiry before peer queries stop.
    #[serde(default = "default_manifest_grace_hours")]
    pub grace_hours: u32,
    /// Ask peers for a newer manifest this often.
    #[serde(default = "default_manifest_poll_seconds")]
    pub poll_seconds: u32,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            manifest_file: None,
            consortium: String::new(),
            warn_days: default_manifest_warn_days(),
            grace_hours: default_manifest_grace_hours(),
            poll_seconds: default_manifest_poll_seconds(),
        }
    }
}

fn default_manifest_warn_days() -> u32 {
    7
}

fn default_manifest_grace_hours() -> u32 {
    24
}

fn default_manifest_poll_seconds() -> u32 {
    30
}
