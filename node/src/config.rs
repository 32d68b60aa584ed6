//! The node's configuration: one serde struct read from TOML, with
//! `CREDSHARE_*` environment overrides, validated at start-up with messages
//! that name the offending key.
//!
//! Environment overrides address keys by path: `CREDSHARE_INSTITUTION`,
//! `CREDSHARE_LISTEN__PEER`, `CREDSHARE_POLICY__MAX_SCOPE`, … (sections joined
//! by a double underscore). A value is read as TOML when it parses as a TOML
//! value (numbers, booleans, arrays) and as a string otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::domain::assessment::exchange::RateTable;
use crate::domain::dates::BusinessZone;
use crate::domain::oversight::OversightConfig;
use crate::domain::policy::HolderPolicy;
use crate::domain::purpose::Purpose;
use crate::domain::visits::VisitSchedule;
use crate::pki::InstitutionId;

mod env;
mod membership;
pub use membership::MembershipConfig;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "CREDSHARE_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's institution id; must match its certificates.
    pub institution: InstitutionId,
    /// Directory of the sled store. Created if missing.
    pub data_dir: PathBuf,
    /// File holding the consortium secret used to hash borrower ids.
    pub consortium_secret_file: PathBuf,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Listener for other nodes (PeerService) and regulators (AuditService).
    pub peer: SocketAddr,
    /// Listener for this institution's admins (AdminService).
    pub admin: SocketAddr,
    /// If set, the bound addresses are written here as JSON once serving.
    #[serde(default)]
    pub ready_file: Option<PathBuf>,
    /// Plain-HTTP listener for `/metrics`, `/livez` and `/readyz`; `"off"`
    /// disables it. Default `127.0.0.1:9464` (loopback).
    #[serde(default = "default_metrics_listen", with = "metrics_listen")]
    pub metrics: Option<SocketAddr>,
}

/// The metrics listener's default address.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

fn default_metrics_listen() -> Option<SocketAddr> {
    DEFAULT_METRICS_LISTEN.parse().ok()
}

/// `listen.metrics`: an address, or `"off"`.
mod metrics_listen {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "off" {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "listen.metrics: {text:?} is neither host:port nor \"off\""
            ))
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Consortium CA certificate(s), PEM.
    pub ca_cert: PathBuf,
    /// Certificate revocation lists, PEM. Honoured for TLS and signatures.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// This node's TLS certificate chain (role `node`), PEM.
    pub cert: PathBuf,
    /// Its PKCS#8 private key, PEM.
    pub key: PathBuf,
    /// How often the trust files are checked for changes, seconds (a
    /// reload also follows SIGHUP).
    #[serde(default = "default_reload_interval")]
    pub reload_interval_seconds: u32,
    /// Warn this many days before a CRL's nextUpdate.
    #[serde(default = "default_crl_warn_days")]
    pub crl_warn_days: u32,
    /// Hours after a CRL's nextUpdate before new handshakes are refused
    /// (0 = at once: fail closed).
    #[serde(default)]
    pub crl_grace_hours: u32,
}

fn default_reload_interval() -> u32 {
    5
}

fn default_crl_warn_days() -> u32 {
    7
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// The institution's signing certificate (role `signer`), PEM.
    pub cert: PathBuf,
    /// Its Ed25519 PKCS#8 private key, PEM.
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info` or `credshare_node=debug`.
    pub level: String,
    /// Origin line of the query-log checkpoints.
    pub origin: Option<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
            origin: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// sled page cache, MiB.
    pub cache_capacity_mb: u64,
    /// Most entries or records one group commit takes.
    pub max_batch: usize,
    /// Free space kept in the data directory's file system, MiB: below it
    /// writes are refused (health `NOT_SERVING`) until space is freed.
    pub min_free_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            cache_capacity_mb: 256,
            max_batch: 4096,
            min_free_mb: 64,
        }
    }
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest gRPC message accepted, bytes.
    pub max_message_bytes: usize,
    /// Most rows in one ImportRecords message.
    pub max_import_rows_per_message: usize,
    /// Concurrent in-flight requests per connection.
    pub max_concurrent_streams: u32,
    /// Seconds an in-flight call may take to drain at shutdown.
    pub shutdown_grace_seconds: u64,
    /// Interval between delivery attempts of pending revocations, ms.
    pub outbox_retry_ms: u64,
    /// Deadline of one peer's answer during an assessment, ms.
    pub peer_deadline_ms: u64,
    /// Interval of the aggregated log entry of rate-limited calls (one per
    /// peer) and of the purge of revocations of expired grants, seconds.
    pub refused_log_interval_seconds: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_import_rows_per_message: 1000,
            max_concurrent_streams: 256,
            shutdown_grace_seconds: 10,
            outbox_retry_ms: 5_000,
            peer_deadline_ms: 3_000,
            refused_log_interval_seconds: 60,
        }
    }
}

/// Connection limits of each listener (docs/operations.md, "Limits").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Open connections at once per listener.
    pub max_connections: usize,
    /// Open connections at once per listener from one IP address.
    pub max_connections_per_ip: usize,
    /// Longest wait for a new connection's first byte, ms.
    pub first_byte_timeout_ms: u64,
    /// Longest a TLS handshake may take, ms.
    pub handshake_timeout_ms: u64,
    /// Handshakes in progress at once per listener.
    pub max_pending_handshakes: usize,
    /// HTTP/2 keepalive ping interval, seconds; a peer that does not answer
    /// within `keepalive_timeout_seconds` is disconnected.
    pub keepalive_interval_seconds: u64,
    pub keepalive_timeout_seconds: u64,
    /// Largest HTTP/2 header list accepted, bytes.
    pub max_header_list_bytes: u32,
    /// At most one WARN line per this many seconds about failed or refused
    /// connections (with their count).
    pub failure_log_interval_seconds: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_ip: 64,
            first_byte_timeout_ms: 5_000,
            handshake_timeout_ms: 10_000,
            max_pending_handshakes: 256,
            keepalive_interval_seconds: 30,
            keepalive_timeout_seconds: 10,
            max_header_list_bytes: 16 * 1024,
            failure_log_interval_seconds: 60,
        }
    }
}

impl NetworkConfig {
    /// The accept loop's limits.
    pub fn accept_limits(&self) -> crate::tls::AcceptLimits {
        use std::time::Duration;
        crate::tls::AcceptLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            first_byte_timeout: Duration::from_millis(self.first_byte_timeout_ms),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            max_pending_handshakes: self.max_pending_handshakes,
            failure_log_interval: Duration::from_secs(self.failure_log_interval_seconds),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("network.max_connections", self.max_connections as u64),
            (
                "network.max_connections_per_ip",
                self.max_connections_per_ip as u64,
            ),
            ("network.first_byte_timeout_ms", self.first_byte_timeout_ms),
            ("network.handshake_timeout_ms", self.handshake_timeout_ms),
            (
                "network.max_pending_handshakes",
                self.max_pending_handshakes as u64,
            ),
            (
                "network.keepalive_interval_seconds",
                self.keepalive_interval_seconds,
            ),
            (
                "network.keepalive_timeout_seconds",
                self.keepalive_timeout_seconds,
            ),
            (
                "network.max_header_list_bytes",
                u64::from(self.max_header_list_bytes),
            ),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err(invalid(key, "must be at least 1")),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub institution: InstitutionId,
    /// `host:port` of the peer's peer listener.
    pub address: String,
    /// TLS server name to verify; defaults to the host of `address`.
    #[serde(default)]
    pub server_name: Option<String>,
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
        self.validate_limits()?;
        self.network.validate()?;
        self.validate_policy()?;
        self.visits.validate().map_err(field_invalid)?;
        self.assessment.validate().map_err(field_invalid)?;
        self.validate_peers()?;
        self.validate_membership()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", e.to_string()))?;
        Ok(())
    }

    fn validate_files(&self) -> Result<(), ConfigError> {
        let files = [
            ("consortium_secret_file", &self.consortium_secret_file),
            ("tls.ca_cert", &self.tls.ca_cert),
            ("tls.cert", &self.tls.cert),
            ("tls.key", &self.tls.key),
            ("signer.cert", &self.signer.cert),
            ("signer.key", &self.signer.key),
        ];
        let crls = self.tls.crl_files.iter().enumerate();
        let crls = crls.map(|(i, crl)| (format!("tls.crl_files[{i}]"), crl));
        let files = files.into_iter().map(|(k, p)| (k.to_owned(), p));
        for (key, path) in files.chain(crls) {
            if !path.is_file() {
                return Err(invalid(
                    &key,
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.listen.peer == self.listen.admin && self.listen.peer.port() != 0 {
            return Err(invalid("listen.admin", "must differ from listen.peer"));
        }
        if let Some(metrics) = self.listen.metrics
            && metrics.port() != 0
            && (metrics == self.listen.peer || metrics == self.listen.admin)
        {
            return Err(invalid(
                "listen.metrics",
                "must differ from listen.peer and listen.admin",
            ));
        }
        let ranges: [(&str, u64, std::ops::RangeInclusive<u64>, &str); 6] = [
            (
                "storage.cache_capacity_mb",
                self.storage.cache_capacity_mb,
                1..=u64::MAX,
                "must be at least 1",
            ),
            (
                "storage.max_batch",
                self.storage.max_batch as u64,
                1..=65_536,
                "must be 1..=65536",
            ),
            (
                "limits.max_message_bytes",
                self.limits.max_message_bytes as u64,
                64 * 1024..=64 * 1024 * 1024,
                "must be 64 KiB..=64 MiB",
            ),
            (
                "limits.max_import_rows_per_message",
                self.limits.max_import_rows_per_message as u64,
                1..=10_000,
                "must be 1..=10000",
            ),
            (
                "limits.outbox_retry_ms",
                self.limits.outbox_retry_ms,
                50..=3_600_000,
                "must be 50..=3600000",
            ),
            (
                "limits.peer_deadline_ms",
                self.limits.peer_deadline_ms,
                10..=60_000,
                "must be 10..=60000",
            ),
        ];
        for (key, value, range, message) in ranges {
            if !range.contains(&value) {
                return Err(invalid(key, message));
            }
        }
        Ok(())
    }

    fn validate_policy(&self) -> Result<(), ConfigError> {
        for (i, p) in self.policy.allowed_purposes.iter().enumerate() {
            if Purpose::parse(p).is_none() {
                return Err(invalid(
                    &format!("policy.allowed_purposes[{i}]"),
                    format!(
                        "{p:?} is not a query reason; allowed: {} (or their codes)",
                        Purpose::ALL.map(Purpose::name).join(", ")
                    ),
                ));
            }
        }
        for (i, hold) in self.retention.legal_holds.iter().enumerate() {
            let ok = hold.len() == 64 && hold.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(invalid(
                    &format!("retention.legal_holds[{i}]"),
                    "must be a borrower key: 64 hex characters",
                ));
            }
        }
        if self.oversight.window_days == 0 || self.oversight.follow_up_days == 0 {
            return Err(invalid(
                "oversight.window_days/follow_up_days",
                "must be at least 1",
            ));
        }
        if self.policy.relationship_max_age_days == 0 {
            return Err(invalid(
                "policy.relationship_max_age_days",
                "must be at least 1",
            ));
        }
        if self.policy.max_validity_days == 0 {
            return Err(invalid("policy.max_validity_days", "must be at least 1"));
        }
        if self.policy.rate_limit_per_minute == 0 {
            return Err(invalid(
                "policy.rate_limit_per_minute",
                "must be at least 1",
            ));
        }
        if self.policy.revocation_rate_limit_per_minute == 0 {
            return Err(invalid(
                "policy.revocation_rate_limit_per_minute",
                "must be at least 1",
            ));
        }
        if self.limits.refused_log_interval_seconds == 0 {
            return Err(invalid(
                "limits.refused_log_interval_seconds",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_membership(&self) -> Result<(), ConfigError> {
        let m = &self.membership;
        let Some(file) = &m.manifest_file else {
            return Ok(());
        };
        if m.consortium.is_empty() {
            return Err(invalid(
                "membership.consortium",
                "must name the consortium when membership.manifest_file is set",
            ));
        }
        if !file.is_file() {
            return Err(invalid(
                "membership.manifest_file",
                format!("{} is not a file", file.display()),
            ));
        }
        if m.poll_seconds == 0 {
            return Err(invalid("membership.poll_seconds", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_peers(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (i, peer) in self.peers.iter().enumerate() {
            let key = format!("peers[{i}]");
            if peer.institution == self.institution {
                return Err(invalid(
                    &format!("{key}.institution"),
                    "is this node itself",
                ));
            }
            if !seen.insert(&peer.institution) {
                return Err(invalid(&format!("{key}.institution"), "is listed twice"));
            }
            if peer
                .address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(invalid(&format!("{key}.address"), "must be host:port"));
            }
        }
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
