//! Opening the store at start-up: the format check, the key generation it
//! is bound to, and the writer's check of the log's newest part.

use std::sync::Arc;
use std::time::Duration;

use super::ServeError;
use crate::blocking;
use crate::config::NodeConfig;
use crate::signing::SignerSlot;
use crate::storage::{Committer, StorageError, Store};

/// Opens the store and starts the writer, which first verifies the query
/// log's newest part against the newest signed checkpoint and the
/// high-water mark ([`Store::open_log`]): O(newest batch + log n).
pub(super) async fn open_store(
    config: &NodeConfig,
    signer: Arc<SignerSlot>,
) -> Result<(Store, Committer, Duration), ServeError> {
    let dir = config.data_dir.clone();
    let cache = config.storage.cache_capacity_mb;
    let origin = config.log_origin();
    let max_batch = config.storage.max_batch;
    let generation = config.borrower_keys.generation;
    let reserve = config.storage.min_free_mb.saturating_mul(1024 * 1024);
    crate::audit::checkpoint::validate_origin(&origin)
        .and_then(|_| crate::audit::checkpoint::validate_key_name(&origin))
        .map_err(|e| ServeError::Startup(format!("config key `log.origin`: {e}")))?;
    blocking::run(move || {
        let opening = std::time::Instant::now();
        let store = Store::open(&dir, cache).map_err(config_or_storage)?;
        store
            .bind_key_generation(generation)
            .map_err(config_or_storage)?;
        tracing::info!(
            open_ms = opening.elapsed().as_millis() as u64,
            "store opened"
        );
        store.health().set_reserve(reserve);
        let started = std::time::Instant::now();
        let committer = Committer::start(store.clone(), signer, origin, max_batch)
            .map_err(config_or_storage)?;
        let verify = started.elapsed();
        tracing::info!(
            log_size = committer.latest().size,
            verify_ms = verify.as_millis() as u64,
            "query log's newest part verified against its newest signed checkpoint; the rest is checked in the background"
        );
        Ok::<_, ServeError>((store, committer, verify))
    })
    .await
}

/// A store that cannot open because of how the node is configured (a newer
/// format, another key generation, another log origin) stops the node as a
/// configuration error does: retrying cannot help. Other errors are the
/// store's.
fn config_or_storage(e: StorageError) -> ServeError {
    match e {
        StorageError::FormatTooNew { .. }
        | StorageError::KeyGeneration { .. }
        | StorageError::OriginChanged { .. } => ServeError::Config(e.to_string()),
        other => ServeError::Storage(other),
    }
}
