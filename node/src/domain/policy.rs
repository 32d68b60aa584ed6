//! The holder's own rules for consented queries (docs/design.md §4): who may
//! ask, for which purposes, how much, and how often. Read from the node's
//! configuration (`[policy]`), applied by [`super::consent::decide`].

use serde::{Deserialize, Serialize};

use super::purpose::Scope;
use crate::pki::InstitutionId;

/// What this node, as a holder, accepts from requesters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HolderPolicy {
    /// Institutions allowed to query; empty = every consortium node.
    pub allowed_institutions: Vec<InstitutionId>,
    /// Purposes accepted, e.g. `POST_LOAN_MANAGEMENT`.
    pub allowed_purposes: Vec<String>,
    pub max_scope: Scope,
    /// Longest consent validity accepted, days.
    pub max_validity_days: u32,
    /// Clock-skew allowance on consent windows, seconds.
    pub clock_skew_seconds: u32,
    /// Peer queries per requesting institution per minute.
    pub rate_limit_per_minute: u32,
    /// Revocations a peer may push per minute.
    pub revocation_rate_limit_per_minute: u32,
}

impl Default for HolderPolicy {
    fn default() -> Self {
        Self {
            allowed_institutions: Vec::new(),
            allowed_purposes: vec![
                "POST_LOAN_MANAGEMENT".into(),
                "CREDIT_APPROVAL".into(),
                "GUARANTEE_REVIEW".into(),
            ],
            max_scope: Scope::Detail,
            max_validity_days: 366,
            clock_skew_seconds: 300,
            rate_limit_per_minute: 600,
            revocation_rate_limit_per_minute: 60,
        }
    }
}
