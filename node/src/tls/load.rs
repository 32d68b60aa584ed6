//! What one connection holds: its open streams (an idle connection, one
//! without any for `network.idle_timeout_seconds`, is closed) and the bytes
//! of unfinished request messages it has buffered (see [`super::budget`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The load of one authenticated connection, shared by its requests.
#[derive(Debug)]
pub struct ConnectionLoad {
    /// Request-body bytes of unfinished gRPC messages now buffered.
    pub(super) buffered: AtomicUsize,
    open_streams: AtomicUsize,
    /// When the last stream closed (or the connection was accepted).
    idle_since: Mutex<Instant>,
    /// Who holds the connection, for log lines: identity and address.
    caller: String,
}

impl Default for ConnectionLoad {
    fn default() -> Self {
        Self {
            buffered: AtomicUsize::new(0),
            open_streams: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            caller: String::new(),
        }
    }
}

impl ConnectionLoad {
    /// The load of a new connection of `caller` (identity and address).
    pub fn new(caller: String) -> Self {
        Self {
            caller,
            ..Self::default()
        }
    }

    /// Who holds the connection (identity and address).
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// Counts a stream open until the guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.open_streams.fetch_add(1, Ordering::SeqCst);
        StreamGuard(self.clone())
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }

    /// Request-body bytes of unfinished messages buffered now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered.load(Ordering::SeqCst)
    }

    /// How long the connection has had no open stream; `None` while one is.
    fn idle_for(&self) -> Option<Duration> {
        let since = *self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        (self.open_streams() == 0).then(|| since.elapsed())
    }
}

/// One open stream of a connection; closes it when dropped.
#[derive(Debug)]
pub struct StreamGuard(Arc<ConnectionLoad>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut since = self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        if self.0.open_streams.fetch_sub(1, Ordering::SeqCst) == 1 {
            *since = Instant::now();
        }
    }
}

/// Fires once a connection has had no open stream for its timeout.
pub(super) struct IdleTimer {
    load: Arc<ConnectionLoad>,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl IdleTimer {
    pub(super) fn new(load: Arc<ConnectionLoad>, timeout: Duration) -> Self {
        Self {
            load,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// True once the connection has been idle for the timeout; otherwise
    /// registers `cx` to be woken when it next could be.
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            let wait = match self.load.idle_for() {
                None => self.timeout,
                Some(idle) if idle >= self.timeout => return true,
                Some(idle) => self.timeout - idle,
            };
            self.sleep.as_mut().reset(Instant::now() + wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_without_open_streams() {
        let load = Arc::new(ConnectionLoad::default());
        let mut timer = IdleTimer::new(load.clone(), Duration::from_secs(1));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let guard = load.stream_opened();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!timer.poll_expired(&mut cx), "a stream is open");
        drop(guard);
        assert_eq!(load.open_streams(), 0);
        assert!(!timer.poll_expired(&mut cx), "idle since just now");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(timer.poll_expired(&mut cx), "idle for the timeout");
    }
}
