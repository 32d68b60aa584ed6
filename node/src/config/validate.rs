//! The checks of [`NodeConfig::validate`] that serde cannot make: files
//! exist, values are in range, lists hold no duplicates.

use crate::domain::purpose::Purpose;

use super::{ConfigError, NodeConfig, invalid};

impl NodeConfig {
    pub(super) fn validate_files(&self) -> Result<(), ConfigError> {
        let files = [
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

    pub(super) fn validate_limits(&self) -> Result<(), ConfigError> {
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

    pub(super) fn validate_policy(&self) -> Result<(), ConfigError> {
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
        at_least_one(&[
            (
                "oversight.window_days",
                u64::from(self.oversight.window_days),
            ),
            (
                "oversight.follow_up_days",
                u64::from(self.oversight.follow_up_days),
            ),
            (
                "policy.relationship_max_age_days",
                u64::from(self.policy.relationship_max_age_days),
            ),
            (
                "policy.max_validity_days",
                u64::from(self.policy.max_validity_days),
            ),
            (
                "policy.rate_limit_per_minute",
                u64::from(self.policy.rate_limit_per_minute),
            ),
            (
                "policy.revocation_rate_limit_per_minute",
                u64::from(self.policy.revocation_rate_limit_per_minute),
            ),
            (
                "limits.refused_log_interval_seconds",
                self.limits.refused_log_interval_seconds,
            ),
        ])
    }

    pub(super) fn validate_membership(&self) -> Result<(), ConfigError> {
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
        at_least_one(&[("membership.poll_seconds", u64::from(m.poll_seconds))])
    }

    pub(super) fn validate_peers(&self) -> Result<(), ConfigError> {
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
}

/// The first key whose value is 0, as an error: each of these counts or
/// periods must be at least 1.
fn at_least_one(values: &[(&str, u64)]) -> Result<(), ConfigError> {
    match values.iter().find(|(_, value)| *value == 0) {
        Some((key, _)) => Err(invalid(key, "must be at least 1")),
        None => Ok(()),
    }
}
