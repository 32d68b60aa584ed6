//! `grpc.health.v1` follows the store: the services that write (the one
//! of this listener, and the server as a whole, `""`) turn `NOT_SERVING`
//! while the store refuses writes and `SERVING` again once it heals.
//! `AuditService` only reads and stays `SERVING`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::storage::StoreHealth;

/// How often the store's free space is re-checked when nothing is written.
const RECHECK: Duration = Duration::from_secs(1);

/// Re-checks the store every [`RECHECK`] and reports `services` (and `""`)
/// accordingly. Runs until the runtime stops.
pub fn follow_store(
    reporter: HealthReporter,
    health: Arc<StoreHealth>,
    dir: PathBuf,
    services: Vec<&'static str>,
) {
    tokio::spawn(async move {
        let mut reported = None;
        loop {
            let checked = health.clone();
            let path = dir.clone();
            // statvfs: cheap, but a hung file system must not stall a worker.
            let _ = tokio::task::spawn_blocking(move || checked.check_space(&path)).await;
            let healthy = health.is_healthy();
            if reported != Some(healthy) {
                let status = if healthy {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                // The overall status ("") follows `Node::readiness`, which
                // includes this fault (`spawn_health_follower`).
                for name in services.iter().copied() {
                    reporter.set_service_status(name, status).await;
                }
                reported = Some(healthy);
            }
            tokio::time::sleep(RECHECK).await;
        }
    });
}
