//! The node's configuration: one serde struct read from TOML, with
//! `CREDSHARE_*` environment overrides, validated at start-up with messages
//! that name the offending key.
//!
//! Environment overrides address keys by path: `CREDSHARE_INSTITUTION`,
//! `CREDSHARE_LISTEN__PEER`, `CREDSHARE_POLICY__MAX_SCOPE`, … (sections joined
//! by a double underscore). A value is read as TOML when it parses as a TOML
//! value (numbers, booleans, arrays) and as a string otherwise.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::domain::assessment::exchange::RateTable;
use crate::domain::dates::BusinessZone;
use crate::domain::oversight::OversightConfig;
use crate::domain::policy::HolderPolicy;
use crate::domain::visits::VisitSchedule;
use crate::pki::InstitutionId;

mod borrower_keys;
mod discovery;
mod env;
mod keys;
mod limits;
mod listen;
mod log;
mod membership;
mod network;
mod peers;
mod staff;
mod storage;
mod validate;
pub use borrower_keys::BorrowerKeysConfig;
pub use discovery::DiscoveryConfig;
mod witness;
pub use keys::{SignerConfig, TlsConfig};
pub use limits::LimitsConfig;
pub use listen::{DEFAULT_METRICS_LISTEN, ListenConfig};
pub use log::{LogConfig, LogFormat};
pub use membership::MembershipConfig;
pub use network::NetworkConfig;
pub use peers::PeerConfig;
pub use staff::{RetentionConfig, StaffConfig};
pub use storage::StorageConfig;
pub use witness::WitnessConfig;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "CREDSHARE_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's institution id; must match its certificates.
    pub institution: InstitutionId,
    /// Directory of the sled store. Created if missing.
    pub data_dir: PathBuf,
    /// File holding the consortium secret used to hash borrower ids;
    /// required with borrower key generation 1, optional with 2+.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consortium_secret_file: Option<PathBuf>,
    /// Which borrower key generation this node serves.
    #[serde(default)]
    pub borrower_keys: BorrowerKeysConfig,
    /// The consortium's business time zone (IANA name): which calendar day
    /// "today" is for every rule. Default `Asia/Shanghai`.
    #[serde(default)]
    pub business_time_zone: BusinessZone,
    pub listen: ListenConfig,
    pub tls: TlsConfig,
    pub signer: SignerConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub policy: HolderPolicy,
    #[serde(default)]
    pub staff: StaffConfig,
    /// Query-pattern thresholds (docs/domain.md "Query-pattern oversight").
    #[serde(default)]
    pub oversight: OversightConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub visits: VisitSchedule,
    /// Rates that convert debts to one currency for the assessment.
    #[serde(default)]
    pub assessment: RateTable,
    /// Other nodes of the consortium this node queries and notifies; a
    /// membership manifest in force replaces this list.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// The consortium operator's signed membership manifest.
    #[serde(default)]
    pub membership: MembershipConfig,
    /// Set only on the regulator's discovery service.
    #[serde(default)]
    pub discovery: Option<DiscoveryConfig>,
    /// Witnessing: cosigning peers' logs, having this log cosigned.
    #[serde(default)]
    pub witness: WitnessConfig,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A domain rule's field error, as a config error naming the key.
fn field_invalid(e: FieldError) -> ConfigError {
    invalid(e.field, e.reason)
}

impl NodeConfig {
    /// Reads `path`, applies `CREDSHARE_*` overrides from `env`, validates.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string(), env)
    }

    /// Parses TOML text (`origin` names it in errors), applies overrides, validates.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let parse_err = |message: String| ConfigError::Parse {
            path: origin.into(),
            message,
        };
        let mut value: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        let applied = env::apply_env_overrides(&mut value, env)?;
        let config: NodeConfig = NodeConfig::deserialize(value).map_err(|e| {
            let message = e.to_string();
            env::name_unknown_key(&applied, &message).unwrap_or_else(|| parse_err(message))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: files exist, values are in range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_files()?;
        self.validate_borrower_keys()?;
        self.validate_limits()?;
        self.network.validate(self.limits.max_message_bytes)?;
        self.validate_policy()?;
        self.visits.validate().map_err(field_invalid)?;
        self.assessment.validate().map_err(field_invalid)?;
        self.validate_peers()?;
        self.validate_membership()?;
        if let Some(discovery) = &self.discovery {
            discovery.validate()?;
        }
        self.witness.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", e.to_string()))?;
        Ok(())
    }

    /// The checkpoint origin line.
    pub fn log_origin(&self) -> String {
        self.log
            .origin
            .clone()
            .unwrap_or_else(|| format!("credshare.example/{}/query-log", self.institution))
    }
}

#[cfg(test)]
mod tests;
