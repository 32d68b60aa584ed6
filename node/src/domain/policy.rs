//! The holder's own rules for consented queries (docs/design.md §4): who may
//! ask, for which purposes, how much, and how often. Read from the node's
//! configuration (`[policy]`), applied by [`super::consent::decide`].

use serde::{Deserialize, Serialize};

use super::purpose::{Purpose, Scope};
use crate::pki::InstitutionId;

/// What this node, as a holder, accepts from requesters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HolderPolicy {
    /// Institutions allowed to query; empty = every consortium node.
    pub allowed_institutions: Vec<InstitutionId>,
    /// Purposes accepted, each a name (`POST_LOAN_MANAGEMENT`), a CLI name
    /// (`loan-approval`) or a reason code (`24` or `"24"`).
    #[serde(deserialize_with = "purpose_entries")]
    pub allowed_purposes: Vec<String>,
    pub max_scope: Scope,
    /// Longest consent validity accepted, days.
    pub max_validity_days: u32,
    /// Clock-skew allowance on consent windows, seconds.
    pub clock_skew_seconds: u32,
    /// Peer queries per requesting institution per minute.
    pub rate_limit_per_minute: u32,
    /// A post-loan query's relationship record must have been reported
    /// (as-of date) within this many days.
    pub relationship_max_age_days: u32,
    /// Revocations a peer may push per minute.
    pub revocation_rate_limit_per_minute: u32,
}

impl Default for HolderPolicy {
    fn default() -> Self {
        Self {
            allowed_institutions: Vec::new(),
            allowed_purposes: Purpose::ALL.iter().map(|p| p.name().to_owned()).collect(),
            max_scope: Scope::Detail,
            max_validity_days: 366,
            clock_skew_seconds: 300,
            rate_limit_per_minute: 600,
            relationship_max_age_days: 45,
            revocation_rate_limit_per_minute: 60,
        }
    }
}

/// A purpose as written in TOML: a string, or a bare reason code.
#[derive(Deserialize)]
#[serde(untagged)]
enum PurposeEntry {
    Text(String),
    Code(i64),
}

/// Reads `allowed_purposes`, turning bare codes into their text so
/// [`Purpose::parse`] and the config check see one form.
fn purpose_entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<PurposeEntry>::deserialize(d)?;
    Ok(entries
        .into_iter()
        .map(|e| match e {
            PurposeEntry::Text(s) => s,
            PurposeEntry::Code(c) => c.to_string(),
        })
        .collect())
}
