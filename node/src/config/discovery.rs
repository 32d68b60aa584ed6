//! `[discovery]`: present only on the regulator's discovery service. The
//! node then also serves `DiscoveryService` on its own mTLS listener, with
//! the OPRF key, the budgets and the holder directory (docs/operations.md,
//! "Discovery service").

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};
use crate::domain::purpose::Purpose;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// mTLS listener of `DiscoveryService` (plus `AuditService` over the
    /// discovery log and gRPC health).
    pub listen: SocketAddr,
    /// The OPRF key file (0600): the whole key, or in stage 2 the
    /// regulator's part or a custodian's share.
    pub key_file: PathBuf,
    /// Budgets count per window of this many seconds. Default one day.
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// How long an evaluation receipt may be used for a lookup. Default 300.
    #[serde(default = "default_receipt_ttl")]
    pub receipt_ttl_seconds: u64,
    /// Assessment evaluations per member per window. Default 50,000.
    #[serde(default = "default_member_budget")]
    pub member_budget: u64,
    /// Assessment evaluations per officer per window (certificates that
    /// name no officer count as one officer). Default 2,000.
    #[serde(default = "default_officer_budget")]
    pub officer_budget: u64,
    /// Assessment evaluations per member per window for a purpose, by its
    /// CLI name (`loan-approval = 20000`); a purpose not listed is bounded
    /// by `member_budget` alone.
    #[serde(default)]
    pub purpose_budgets: BTreeMap<String, u64>,
    /// Enrolment evaluations per member per window, as a multiple of the
    /// member's declared portfolio. Default 2.
    #[serde(default = "default_enrolment_factor")]
    pub enrolment_factor: u64,
    /// Each member's declared portfolio (borrowers it holds). A member not
    /// listed may not enrol; one registering more pseudonyms is flagged.
    #[serde(default)]
    pub portfolios: BTreeMap<String, u64>,
}

fn default_window() -> u64 {
    86_400
}
fn default_receipt_ttl() -> u64 {
    300
}
fn default_member_budget() -> u64 {
    50_000
}
fn default_officer_budget() -> u64 {
    2_000
}
fn default_enrolment_factor() -> u64 {
    2
}

impl DiscoveryConfig {
    /// Checks ranges and purpose names, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=31 * 86_400).contains(&self.window_seconds) {
            return Err(invalid("discovery.window_seconds", "must be 60..=2678400"));
        }
        if !(1..=86_400).contains(&self.receipt_ttl_seconds) {
            return Err(invalid(
                "discovery.receipt_ttl_seconds",
                "must be 1..=86400",
            ));
        }
        if !(1..=1_000).contains(&self.enrolment_factor) {
            return Err(invalid("discovery.enrolment_factor", "must be 1..=1000"));
        }
        for name in self.purpose_budgets.keys() {
            if Purpose::parse(name).is_none() {
                return Err(invalid(
                    &format!("discovery.purpose_budgets.{name}"),
                    "not a purpose (use the CLI names, e.g. loan-approval)",
                ));
            }
        }
        if !self.key_file.is_file() {
            return Err(invalid(
                "discovery.key_file",
                format!("{} is not a readable file", self.key_file.display()),
            ));
        }
        Ok(())
    }

    /// The budget for `purpose` per member per window, if one is set.
    pub fn purpose_budget(&self, purpose: Purpose) -> Option<u64> {
        self.purpose_budgets
            .iter()
            .find(|(name, _)| Purpose::parse(name) == Some(purpose))
            .map(|(_, b)| *b)
    }

    /// A member's declared portfolio (0 when not declared).
    pub fn portfolio(&self, institution: &str) -> u64 {
        self.portfolios.get(institution).copied().unwrap_or(0)
    }
}
