//! `[network]`: connection limits of each listener, and the bound on bytes
//! buffered for unfinished request messages.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

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
    /// An authenticated connection with no open stream for this many
    /// seconds is closed.
    pub idle_timeout_seconds: u64,
    /// Bytes of unfinished request messages one connection may have
    /// buffered; past it the request fails with `RESOURCE_EXHAUSTED`. At
    /// least `limits.max_message_bytes`.
    pub max_buffered_bytes_per_connection: usize,
    /// The same, for the whole node (both listeners); at least
    /// `max_buffered_bytes_per_connection`.
    pub max_buffered_bytes: usize,
    /// HTTP/2 flow-control windows the node grants a client: bytes one
    /// stream, and one connection, may send ahead of what the node has read.
    pub initial_stream_window_bytes: u32,
    pub initial_connection_window_bytes: u32,
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
            idle_timeout_seconds: 300,
            max_buffered_bytes_per_connection: 16 * 1024 * 1024,
            max_buffered_bytes: 256 * 1024 * 1024,
            initial_stream_window_bytes: 1024 * 1024,
            initial_connection_window_bytes: 1024 * 1024,
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
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
        }
    }

    /// The node-wide budget of bytes buffered for unfinished messages.
    pub fn buffer_budget(&self) -> std::sync::Arc<crate::tls::BufferBudget> {
        crate::tls::BufferBudget::new(
            self.max_buffered_bytes,
            self.max_buffered_bytes_per_connection,
        )
    }

    /// Checks every limit; `max_message_bytes` is `limits.max_message_bytes`.
    pub(super) fn validate(&self, max_message_bytes: usize) -> Result<(), ConfigError> {
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
            ("network.idle_timeout_seconds", self.idle_timeout_seconds),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(key, "must be at least 1"));
        }
        self.validate_buffers(max_message_bytes)
    }

    fn validate_buffers(&self, max_message_bytes: usize) -> Result<(), ConfigError> {
        if self.max_buffered_bytes_per_connection < max_message_bytes {
            return Err(invalid(
                "network.max_buffered_bytes_per_connection",
                format!(
                    "must be at least limits.max_message_bytes ({max_message_bytes}), or no message of that size could arrive"
                ),
            ));
        }
        if self.max_buffered_bytes < self.max_buffered_bytes_per_connection {
            return Err(invalid(
                "network.max_buffered_bytes",
                "must be at least network.max_buffered_bytes_per_connection",
            ));
        }
        let windows = [
            (
                "network.initial_stream_window_bytes",
                self.initial_stream_window_bytes,
            ),
            (
                "network.initial_connection_window_bytes",
                self.initial_connection_window_bytes,
            ),
        ];
        for (key, value) in windows {
            if !(65_535..=i32::MAX as u32).contains(&value) {
                return Err(invalid(key, "must be 65535..=2147483647 (HTTP/2)"));
            }
        }
        Ok(())
    }
}
