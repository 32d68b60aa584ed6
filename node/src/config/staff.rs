//! `[retention]` and `[staff]`: legal holds and officer accountability.

use serde::{Deserialize, Serialize};

/// Retention (Regulation art. 16; PIPL art. 19, 47).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Borrower keys (64 hex characters) under a legal hold: their records
    /// are frozen — stored, never swept, never served.
    pub legal_holds: Vec<String>,
}

/// Staff accountability (Regulation art. 22).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffConfig {
    /// Refuse admin certificates that name no officer for the calls that
    /// read borrower data (Assess, GetBorrower, QueryHistory); `false` only
    /// while certificates are being reissued.
    pub require_officer: bool,
}

impl Default for StaffConfig {
    fn default() -> Self {
        Self {
            require_officer: true,
        }
    }
}
