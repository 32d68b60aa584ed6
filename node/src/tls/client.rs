//! The client side: tonic channels over mTLS that check the server's
//! consortium identity.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::first_flight::{Prefetched, await_first_flight};
use crate::pki::Identity;

/// Longest [`connect_channel`] waits after its handshake for the server's
/// first message, so a refused client certificate fails the connect.
pub const FIRST_FLIGHT_WAIT: Duration = Duration::from_millis(500);

/// The stream a client channel runs on.
type ClientStream = hyper_util::rt::TokioIo<Prefetched<tokio_rustls::client::TlsStream<TcpStream>>>;

/// Connects a tonic channel over mTLS to `address` (`host:port`), verifying
/// the server certificate for `server_name` and, when `expected` is given,
/// that the server's consortium identity is exactly that. Waits up to
/// [`FIRST_FLIGHT_WAIT`] after the handshake for the server's first message,
/// so a client certificate the server refuses fails here (an io error of
/// kind `PermissionDenied` in the source chain), not on the first request.
pub async fn connect_channel(
    client_config: Arc<rustls::ClientConfig>,
    address: &str,
    server_name: Option<&str>,
    expected: Option<Identity>,
    connect_timeout: Duration,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut connector = MtlsConnector::new(client_config, address, server_name, expected);
    connector.first_flight = Some(FIRST_FLIGHT_WAIT);
    endpoint(address, connect_timeout)?
        .connect_with_connector(connector)
        .await
}

/// Like [`connect_channel`] but connects on first use (for peers that may be down).
pub fn lazy_channel(
    client_config: Arc<rustls::ClientConfig>,
    address: &str,
    server_name: Option<&str>,
    expected: Option<Identity>,
    connect_timeout: Duration,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(
        endpoint(address, connect_timeout)?.connect_with_connector_lazy(MtlsConnector::new(
            client_config,
            address,
            server_name,
            expected,
        )),
    )
}

fn endpoint(
    address: &str,
    connect_timeout: Duration,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    // The scheme is "http" because TLS is done by our connector, not tonic.
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(false),
    )
}

/// tower connector: TCP, then TLS with our client certificate, then an
/// identity check of the server's certificate.
#[derive(Clone)]
struct MtlsConnector {
    connector: TlsConnector,
    address: String,
    server_name: String,
    expected: Option<Identity>,
    /// Wait this long after the handshake for the server's first message.
    first_flight: Option<Duration>,
}

impl MtlsConnector {
    fn new(
        config: Arc<rustls::ClientConfig>,
        address: &str,
        server_name: Option<&str>,
        expected: Option<Identity>,
    ) -> Self {
        let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Self {
            connector: TlsConnector::from(config),
            address: address.to_owned(),
            server_name: server_name.unwrap_or(host).to_owned(),
            expected,
            first_flight: None,
        }
    }

    async fn connect(self) -> io::Result<ClientStream> {
        let name = ServerName::try_from(self.server_name.clone()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid server name {:?}", self.server_name),
            )
        })?;
        let tcp = TcpStream::connect(&self.address).await?;
        tcp.set_nodelay(true)?;
        let tls = self.connector.connect(name, tcp).await?;
        if let Some(expected) = &self.expected {
            let found = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|leaf| Identity::from_cert_der(leaf));
            match found {
                Some(Ok(id)) if &id == expected => {}
                Some(Ok(id)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("server identifies as {id}, expected {expected}"),
                    ));
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "server certificate carries no consortium identity",
                    ));
                }
            }
        }
        let stream = match self.first_flight {
            Some(limit) => await_first_flight(tls, limit).await?,
            None => Prefetched::new(tls, Vec::new()),
        };
        Ok(hyper_util::rt::TokioIo::new(stream))
    }
}

impl tower::Service<http::Uri> for MtlsConnector {
    type Response = ClientStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        Box::pin(self.clone().connect())
    }
}
