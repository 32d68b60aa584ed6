//! `[limits]`: message sizes, grace periods and intervals.

use serde::{Deserialize, Serialize};

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
