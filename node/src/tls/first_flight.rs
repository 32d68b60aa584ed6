//! Waiting for the server's first message after a client handshake.
//!
//! In TLS 1.3 the client finishes its handshake before the server has
//! checked the client certificate, so a refused certificate (revoked,
//! untrusted) otherwise surfaces later as "connection closed" on the first
//! request. A server that accepts the client sends its session tickets (or
//! data) right away; one that refuses sends a fatal alert. So a client that
//! wants to know waits briefly for that first message: an alert or a close
//! fails the connect itself, as `PermissionDenied`. Anything read that is
//! data is kept and read again first ([`Prefetched`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Most bytes of data read while waiting.
const PREFETCH_BYTES: usize = 16 * 1024;

/// A stream with bytes already read from it served first.
pub struct Prefetched<S> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: S,
}

impl<S> Prefetched<S> {
    pub fn new(inner: S, prefix: Vec<u8>) -> Self {
        Self {
            prefix,
            consumed: 0,
            inner,
        }
    }
}

/// Waits up to `limit` for the server's first message after the handshake
/// of `tls`. Errors (`PermissionDenied`) when the server answers with an
/// alert or closes the connection; no message in time is not an error.
pub async fn await_first_flight(
    mut tls: TlsStream<TcpStream>,
    limit: Duration,
) -> io::Result<Prefetched<TlsStream<TcpStream>>> {
    let mut probe = [0u8; 1];
    match tokio::time::timeout(limit, tls.get_ref().0.peek(&mut probe)).await {
        Err(_) => return Ok(Prefetched::new(tls, Vec::new())),
        Ok(Err(e)) => return Err(refused(&e.to_string())),
        Ok(Ok(0)) => return Err(refused("the server closed the connection")),
        Ok(Ok(_)) => {}
    }
    // Something arrived: let TLS process it once, without waiting for more.
    let mut buf = vec![0u8; PREFETCH_BYTES];
    let read = std::future::poll_fn(|cx| {
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut tls).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Ready(Ok(None)),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Some(rb.filled().len()))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    })
    .await;
    match read {
        // Session tickets only: accepted, nothing to keep.
        Ok(None) => Ok(Prefetched::new(tls, Vec::new())),
        Ok(Some(0)) => Err(refused("the server closed the connection")),
        Ok(Some(n)) => {
            buf.truncate(n);
            Ok(Prefetched::new(tls, buf))
        }
        Err(e) => Err(refused(&e.to_string())),
    }
}

fn refused(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("the server refused this client's certificate after the handshake: {why}"),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefetched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.consumed < this.prefix.len() {
            let rest = &this.prefix[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefetched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    forward_async_write_to_inner!();
}
