//! The node's background passes (revocation delivery, membership watch,
//! refusal logging): one loop that waits `interval`, runs a pass and stops
//! when the shutdown signal turns true.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Node;

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// `interval` has passed.
    Due,
    /// The node is stopping: the last pass, for tasks that asked for one.
    Last,
}

impl Node {
    /// Spawns a task that runs `pass(node, Pass::Due)` every `interval`
    /// until `stop` turns true, then `pass(node, Pass::Last)` once when
    /// `last_pass` is set. A pass reports its own failures (the loop goes
    /// on).
    pub(crate) fn spawn_every<F, Fut>(
        self: &Arc<Self>,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
        last_pass: bool,
        pass: F,
    ) where
        F: Fn(Arc<Node>, Pass) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = stop.wait_for(|s| *s) => true,
                    _ = tokio::time::sleep(interval) => false,
                };
                if stopping {
                    if last_pass {
                        pass(node.clone(), Pass::Last).await;
                    }
                    break;
                }
                pass(node.clone(), Pass::Due).await;
            }
        });
    }
}
