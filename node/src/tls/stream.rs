//! An authenticated connection: the caller's identity, and reads that fail
//! once trust in the client is withdrawn or the connection sat idle too
//! long, which closes it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::admission::Slot;
use super::connections::Registration;
use super::load::{ConnectionLoad, IdleTimer};
use crate::pki::{Identity, Officer};

/// Who is on the other end of an accepted connection; every request on it
/// carries this in its extensions.
#[derive(Debug, Clone)]
pub struct CallerInfo {
    pub identity: Identity,
    pub remote: SocketAddr,
    /// SHA-256 fingerprint of the client's leaf certificate.
    pub cert_fingerprint: String,
    /// The officer an admin certificate names (Regulation art. 22).
    pub officer: Option<Officer>,
    /// The connection's open streams and buffered bytes.
    pub load: Arc<ConnectionLoad>,
}

/// A TLS connection whose client certificate was verified and whose
/// consortium identity was read. Reads fail once trust in the client is
/// withdrawn, or once it has had no open stream for its idle timeout,
/// which closes the connection.
pub struct AuthenticatedStream {
    pub(super) inner: tokio_rustls::server::TlsStream<TcpStream>,
    pub(super) info: CallerInfo,
    pub(super) registration: Option<Registration>,
    /// This connection's place under the connection caps.
    pub(super) _slot: Option<Slot>,
    pub(super) idle: Option<IdleTimer>,
}

fn withdrawn() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "client certificate is no longer trusted",
    )
}

impl tonic::transport::server::Connected for AuthenticatedStream {
    type ConnectInfo = CallerInfo;
    fn connect_info(&self) -> CallerInfo {
        self.info.clone()
    }
}

impl AsyncRead for AuthenticatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(reg) = &mut self.registration
            && reg.closed.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(withdrawn()));
        }
        if let Some(idle) = &mut self.idle
            && idle.poll_expired(cx)
        {
            tracing::debug!(remote = %self.info.remote, caller = %self.info.identity, "idle connection closed");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no open stream for network.idle_timeout_seconds",
            )));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthenticatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(reg) = &mut self.registration
            && reg.closed.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(withdrawn()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    forward_async_write_to_inner!();
}

impl AuthenticatedStream {
    /// The client's certificate chain, leaf first.
    pub(super) fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.inner
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
            .unwrap_or_default()
    }
}
