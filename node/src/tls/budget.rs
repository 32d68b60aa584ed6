//! Bytes buffered for unfinished request messages, bounded per connection
//! and node-wide.
//!
//! tonic buffers each request message until its last byte has arrived, so
//! without a bound memory grows with streams × message size × connections.
//! [`BudgetLayer`] wraps every request body: it follows the gRPC framing
//! (a 5-byte prefix announcing the length, then the message) and counts the
//! bytes of messages not yet complete. Past
//! `network.max_buffered_bytes_per_connection` on one connection, or
//! `network.max_buffered_bytes` on the node, the request fails with
//! `RESOURCE_EXHAUSTED` (its stream is reset, its bytes freed). A message's
//! bytes are released once it is complete or its request is dropped. The
//! layer also counts each request as an open stream of its connection until
//! its response is finished (see `network.idle_timeout_seconds`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

use super::load::{ConnectionLoad, StreamGuard};
use super::stream::CallerInfo;

/// The node-wide budget and its per-connection share.
#[derive(Debug)]
pub struct BufferBudget {
    used: AtomicUsize,
    max_total: usize,
    max_per_connection: usize,
}

impl BufferBudget {
    pub fn new(max_total: usize, max_per_connection: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max_total,
            max_per_connection,
        })
    }

    /// Bytes of unfinished request messages buffered node-wide now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// Takes `n` bytes for `conn`, or says which limit refuses them.
    fn take(&self, conn: &ConnectionLoad, n: usize) -> Result<(), Status> {
        let held = conn.buffered.fetch_add(n, Ordering::SeqCst) + n;
        if held > self.max_per_connection {
            conn.buffered.fetch_sub(n, Ordering::SeqCst);
            return Err(Status::resource_exhausted(format!(
                "unfinished request messages on this connection would hold {held} bytes, more than network.max_buffered_bytes_per_connection ({}): finish or cancel the calls in progress",
                self.max_per_connection
            )));
        }
        let used = self.used.fetch_add(n, Ordering::SeqCst) + n;
        if used > self.max_total {
            self.used.fetch_sub(n, Ordering::SeqCst);
            conn.buffered.fetch_sub(n, Ordering::SeqCst);
            return Err(Status::resource_exhausted(format!(
                "the node is buffering more than network.max_buffered_bytes ({}) of unfinished request messages: retry later",
                self.max_total
            )));
        }
        Ok(())
    }

    fn release(&self, conn: &ConnectionLoad, n: usize) {
        if n > 0 {
            conn.buffered.fetch_sub(n, Ordering::SeqCst);
            self.used.fetch_sub(n, Ordering::SeqCst);
        }
    }
}

/// Where a request body stands in the gRPC framing.
#[derive(Debug, Default)]
struct Framing {
    prefix: [u8; 5],
    prefix_read: usize,
    /// Bytes of the current message still to come, once its prefix is read.
    body_left: usize,
    /// Bytes of the current (unfinished) message seen, prefix included.
    unfinished: usize,
}

impl Framing {
    /// Follows `data`; returns the unfinished bytes before and after.
    fn advance(&mut self, mut data: &[u8]) -> (usize, usize) {
        let before = self.unfinished;
        while !data.is_empty() {
            let take = if self.prefix_read < 5 {
                let take = (5 - self.prefix_read).min(data.len());
                self.prefix[self.prefix_read..self.prefix_read + take]
                    .copy_from_slice(&data[..take]);
                self.prefix_read += take;
                if self.prefix_read == 5 {
                    let len = [
                        self.prefix[1],
                        self.prefix[2],
                        self.prefix[3],
                        self.prefix[4],
                    ];
                    self.body_left = u32::from_be_bytes(len) as usize;
                }
                take
            } else {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                take
            };
            self.unfinished += take;
            data = &data[take..];
            if self.prefix_read == 5 && self.body_left == 0 {
                *self = Self::default();
            }
        }
        (before, self.unfinished)
    }
}

/// A request body whose unfinished message is counted against the budget.
struct BudgetedBody {
    inner: Body,
    budget: Arc<BufferBudget>,
    conn: Arc<ConnectionLoad>,
    framing: Framing,
    /// Bytes taken from the budget now.
    held: usize,
}

impl BudgetedBody {
    /// Takes or releases budget so that `held` is the unfinished bytes.
    fn account(&mut self, data: &[u8]) -> Result<(), Status> {
        let (_, after) = self.framing.advance(data);
        if after > self.held {
            self.budget.take(&self.conn, after - self.held)?;
        } else {
            self.budget.release(&self.conn, self.held - after);
        }
        self.held = after;
        Ok(())
    }

    fn release_all(&mut self) {
        self.budget
            .release(&self.conn, std::mem::take(&mut self.held));
    }
}

impl Drop for BudgetedBody {
    fn drop(&mut self) {
        self.release_all();
    }
}

impl HttpBody for BudgetedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(other) => {
                self.release_all();
                return Poll::Ready(other);
            }
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref()
            && let Err(refused) = self.account(data)
        {
            // Debug only: a client could otherwise flood the log.
            tracing::debug!(caller = %self.conn.caller(), reason = %refused.message(), "request refused: buffered request bytes over budget");
            self.release_all();
            return Poll::Ready(Some(Err(refused)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its stream counted open until it is done.
struct GuardedBody {
    inner: Body,
    _open: StreamGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a listener's routes (see the module documentation).
#[derive(Debug, Clone)]
pub struct BudgetLayer {
    budget: Arc<BufferBudget>,
}

impl BudgetLayer {
    pub fn new(budget: Arc<BufferBudget>) -> Self {
        Self { budget }
    }
}

impl<S> tower::Layer<S> for BudgetLayer {
    type Service = Budgeted<S>;
    fn layer(&self, inner: S) -> Budgeted<S> {
        Budgeted {
            inner,
            budget: self.budget.clone(),
        }
    }
}

/// The service [`BudgetLayer`] makes.
#[derive(Debug, Clone)]
pub struct Budgeted<S> {
    inner: S,
    budget: Arc<BufferBudget>,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Budgeted<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let Some(conn) = request
            .extensions()
            .get::<CallerInfo>()
            .map(|c| c.load.clone())
        else {
            return Box::pin(self.inner.call(request));
        };
        let open = conn.stream_opened();
        let budget = self.budget.clone();
        let request = request.map(|inner| {
            Body::new(BudgetedBody {
                inner,
                budget,
                conn,
                framing: Framing::default(),
                held: 0,
            })
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| Body::new(GuardedBody { inner, _open: open })))
        })
    }
}

#[cfg(test)]
mod tests;
