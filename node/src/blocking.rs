//! The one way the node runs blocking work (sled reads and scans, signing
//! batches, start-up checks) off the async workers, and the one error a
//! failed task becomes.

/// A blocking task panicked or was cancelled. Internal: logged, never sent
/// to a caller in detail.
#[derive(Debug, thiserror::Error)]
#[error("background task failed: {0}")]
pub struct TaskFailed(String);

/// Runs `work` on tokio's blocking pool and returns its result; a task that
/// panicked becomes `E::from(TaskFailed)`.
pub async fn run<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| E::from(TaskFailed(e.to_string())))?
}
