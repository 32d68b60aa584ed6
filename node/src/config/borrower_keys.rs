//! `[borrower_keys]`: which borrower key generation this node serves
//! (docs/design.md §3), and the consortium secret only generation 1 needs.

use serde::{Deserialize, Serialize};

use super::{ConfigError, NodeConfig, invalid};
use crate::domain::borrower::KeyGeneration;

/// The borrower keys a node serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BorrowerKeysConfig {
    /// 1 (default) = HMAC under the consortium secret; 2+ = OPRF
    /// pseudonyms from the discovery service. Records, grants and peer
    /// queries of any other generation are refused.
    #[serde(default)]
    pub generation: KeyGeneration,
}

impl NodeConfig {
    /// The consortium secret is named (and must exist) with generation 1;
    /// with an OPRF generation it may be left out (the node never uses it).
    pub(super) fn validate_borrower_keys(&self) -> Result<(), ConfigError> {
        match &self.consortium_secret_file {
            Some(path) if !path.is_file() => Err(invalid(
                "consortium_secret_file",
                format!("{} is not a readable file", path.display()),
            )),
            None if !self.borrower_keys.generation.is_oprf() => Err(invalid(
                "consortium_secret_file",
                "required with borrower key generation 1 (borrower_keys.generation = 1, the default)",
            )),
            _ => Ok(()),
        }
    }
}
