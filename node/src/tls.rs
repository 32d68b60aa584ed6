//! Mutual TLS: rustls configurations built directly (so CRLs and our own
//! client-identity checks apply), the accept loop that attaches the caller's
//! identity to every connection, and the client connector for tonic channels.
//!
//! tonic's own `ServerTlsConfig` cannot take CRLs, so the server side is a
//! rustls `ServerConfig` with a `WebPkiClientVerifier`, accepted with
//! tokio-rustls and handed to tonic through `serve_with_incoming_shutdown`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::pki::{self, Identity, Officer, PkiError, Role};

mod admission;
mod first_flight;
pub use admission::AcceptLimits;
use admission::{Admission, FailureLog, Slot};
use first_flight::{Prefetched, await_first_flight};

/// Longest [`connect_channel`] waits after its handshake for the server's
/// first message, so a refused client certificate fails the connect.
pub const FIRST_FLIGHT_WAIT: Duration = Duration::from_millis(500);

/// The stream a client channel runs on.
type ClientStream = hyper_util::rt::TokioIo<Prefetched<tokio_rustls::client::TlsStream<TcpStream>>>;

/// Certificates, key and CRLs of one TLS identity, plus the consortium trust.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_certs: Vec<CertificateDer<'static>>,
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_certs", &self.ca_certs.len())
            .field("crls", &self.crls.len())
            .finish_non_exhaustive()
    }
}

/// Failures building TLS configurations or connecting.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("CA certificate not usable as a trust anchor: {0}")]
    TrustAnchor(String),
    #[error("invalid server name {0:?}")]
    ServerName(String),
    #[error("{0}")]
    Identity(String),
}

impl TlsMaterial {
    /// Loads PEM files: CA certificate(s), CRLs, certificate chain and key.
    pub fn load(
        ca_cert: &std::path::Path,
        crl_files: &[PathBuf],
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, TlsError> {
        let mut crls = Vec::new();
        for f in crl_files {
            crls.extend(pki::load_crls(f)?);
        }
        Ok(Self {
            ca_certs: pki::load_certs(ca_cert)?,
            crls,
            cert_chain: pki::load_certs(cert)?,
            key: Arc::new(pki::load_private_key(key)?),
        })
    }

    /// The identity in our own leaf certificate.
    pub fn identity(&self) -> Result<Identity, TlsError> {
        let leaf = self
            .cert_chain
            .first()
            .ok_or_else(|| TlsError::Identity("no certificate".into()))?;
        Ok(Identity::from_cert_der(leaf)?)
    }

    /// The self-signed CA certificates; intermediates of a bundle are not
    /// anchors (peers present them in their chains).
    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in &pki::split_trust(&self.ca_certs).0 {
            roots
                .add(ca.clone())
                .map_err(|e| TlsError::TrustAnchor(e.to_string()))?;
        }
        Ok(Arc::new(roots))
    }

    /// The client-certificate verifier the server uses: chained to the
    /// consortium CA, checked against the CRLs.
    pub fn client_verifier(
        &self,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
        Ok(WebPkiClientVerifier::builder(self.roots()?)
            .with_crls(self.crls.clone())
            .build()?)
    }

    /// Server side: client certificates required, chained to the consortium
    /// CA, checked against the CRLs; ALPN `h2` only.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let verifier = self.client_verifier()?;
        let mut config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.cert_chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// Client side: presents our certificate, verifies the server against
    /// the consortium CA and CRLs; ALPN `h2`.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let verifier = WebPkiServerVerifier::builder(self.roots()?)
            .with_crls(self.crls.clone())
            .build()?;
        let mut config = rustls::ClientConfig::builder()
            .with_webpki_verifier(verifier)
            .with_client_auth_cert(self.cert_chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

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
}

/// Where the accept loop gets its TLS configuration, so that trust can
/// change while the node runs (see `crate::trust`).
pub trait HandshakePolicy: Send + Sync + 'static {
    /// The configuration for a new handshake, or why new handshakes are
    /// refused now (e.g. a CRL past its grace).
    fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String>;
    /// The registry of live connections.
    fn connections(&self) -> &Arc<Connections>;
}

/// A fixed configuration (tools and tests).
pub struct FixedPolicy {
    config: Arc<rustls::ServerConfig>,
    connections: Arc<Connections>,
}

impl FixedPolicy {
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            config,
            connections: Arc::default(),
        }
    }
}

impl HandshakePolicy for FixedPolicy {
    fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        Ok(self.config.clone())
    }
    fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }
}

/// Every live authenticated connection with its client's certificate chain,
/// so that when trust changes (a CRL revokes a client) its connection can be
/// closed at once rather than at its next handshake.
#[derive(Default)]
pub struct Connections {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, LiveConnection>>,
}

struct LiveConnection {
    chain: Vec<CertificateDer<'static>>,
    close: watch::Sender<bool>,
}

impl Connections {
    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every connection whose chain `still_trusted` refuses; returns
    /// how many were closed.
    pub fn close_untrusted(
        &self,
        still_trusted: impl Fn(&[CertificateDer<'static>]) -> bool,
    ) -> usize {
        let live = self.lock();
        let mut closed = 0;
        for conn in live.values() {
            if !still_trusted(&conn.chain) {
                let _ = conn.close.send(true);
                closed += 1;
            }
        }
        closed
    }

    fn register(self: &Arc<Self>, chain: Vec<CertificateDer<'static>>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, mut rx) = watch::channel(false);
        self.lock().insert(id, LiveConnection { chain, close });
        let closed = Box::pin(async move {
            let _ = rx.wait_for(|closed| *closed).await;
        });
        Registration {
            id,
            registry: self.clone(),
            closed,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, LiveConnection>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's place in [`Connections`]; leaves it when dropped.
struct Registration {
    id: u64,
    registry: Arc<Connections>,
    /// Resolves when the connection must be closed.
    closed: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// A TLS connection whose client certificate was verified and whose
/// consortium identity was read. Reads fail once trust in the client is
/// withdrawn, which closes the connection.
pub struct AuthenticatedStream {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    info: CallerInfo,
    registration: Option<Registration>,
    /// This connection's place under the connection caps.
    _slot: Option<Slot>,
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
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Accepts TCP connections within the caps of `limits`, completes TLS
/// handshakes concurrently (bounded, with a timeout; no handshake slot is
/// held while waiting for a client's first byte) with the configuration
/// `policy` gives at that moment, and yields only connections whose client
/// certificate carries a consortium identity, registered with the policy's
/// [`Connections`]. Failed or refused connections are counted and logged
/// once per interval: they never reach gRPC. Stops when `shutdown` changes.
pub fn accept_authenticated(
    listener: TcpListener,
    policy: Arc<dyn HandshakePolicy>,
    mut shutdown: watch::Receiver<bool>,
    listener_name: &'static str,
    limits: AcceptLimits,
) -> tokio_stream::wrappers::ReceiverStream<Result<AuthenticatedStream, io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let accept = Arc::new(Accept {
        handshakes: Arc::new(Semaphore::new(limits.max_pending_handshakes)),
        admission: Admission::new(&limits),
        failures: FailureLog::new(listener_name, limits.failure_log_interval),
        listener_name,
        limits,
    });
    tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                _ = shutdown.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(listener = listener_name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let slot = match accept.admission.admit(remote.ip()) {
                Ok(slot) => slot,
                Err(reason) => {
                    accept.failures.record(remote, reason);
                    continue;
                }
            };
            let (accept, tx, policy) = (accept.clone(), tx.clone(), policy.clone());
            tokio::spawn(async move {
                match accept
                    .authenticate(tcp, remote, slot, policy.as_ref())
                    .await
                {
                    Ok(stream) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Err(Refusal::Failed(e)) => accept.failures.record(remote, &e),
                    Err(Refusal::Logged) => {}
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Why a connection was not authenticated.
enum Refusal {
    /// Still to be counted in the failure log.
    Failed(String),
    /// Already counted.
    Logged,
}

/// The state one listener's accept loop shares with its handshakes.
struct Accept {
    handshakes: Arc<Semaphore>,
    admission: Arc<Admission>,
    failures: FailureLog,
    listener_name: &'static str,
    limits: AcceptLimits,
}

impl Accept {
    /// Waits for the first byte (no slot held), then takes a handshake
    /// slot and completes the handshake within its timeout.
    async fn authenticate(
        &self,
        tcp: TcpStream,
        remote: SocketAddr,
        slot: Slot,
        policy: &dyn HandshakePolicy,
    ) -> Result<AuthenticatedStream, Refusal> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(self.limits.first_byte_timeout, tcp.peek(&mut first)).await {
            Err(_) => {
                return Err(Refusal::Failed(
                    "no data before the first-byte timeout".into(),
                ));
            }
            Ok(Err(e)) => return Err(Refusal::Failed(e.to_string())),
            Ok(Ok(0)) => return Err(Refusal::Failed("closed before sending anything".into())),
            Ok(Ok(_)) => {}
        }
        let config = match policy.server_config() {
            Ok(config) => config,
            Err(reason) => {
                // Logged while the connection is still open, so the log
                // line precedes the client's view of the refusal.
                self.failures.record(remote, &reason);
                return Err(Refusal::Logged);
            }
        };
        let _permit = self
            .handshakes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refusal::Failed("shutting down".into()))?;
        let acceptor = TlsAcceptor::from(config);
        let mut stream = handshake(&acceptor, tcp, remote, self.limits.handshake_timeout)
            .await
            .map_err(Refusal::Failed)?;
        stream._slot = Some(slot);
        let chain = stream.chain();
        stream.registration = Some(policy.connections().register(chain));
        tracing::debug!(listener = self.listener_name, %remote, caller = %stream.info.identity, "connection authenticated");
        Ok(stream)
    }
}

async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
    timeout: Duration,
) -> Result<AuthenticatedStream, String> {
    let _ = tcp.set_nodelay(true);
    let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| "no client certificate".to_string())?;
    let identity = Identity::from_cert_der(leaf).map_err(|e| e.to_string())?;
    let officer = caller_officer(&identity, leaf)?;
    let cert_fingerprint = pki::fingerprint(leaf);
    Ok(AuthenticatedStream {
        inner: tls,
        info: CallerInfo {
            identity,
            remote,
            cert_fingerprint,
            officer,
        },
        registration: None,
        _slot: None,
    })
}

/// The officer a client certificate names: only an admin certificate may
/// name one, and only of its own institution.
fn caller_officer(identity: &Identity, leaf: &[u8]) -> Result<Option<Officer>, String> {
    let officer = Officer::from_cert_der(leaf).map_err(|e| e.to_string())?;
    match &officer {
        Some(o) if identity.role != Role::Admin || o.institution != identity.institution => {
            Err(format!(
                "certificate of {identity} names officer {} of {}: only an admin certificate may name an officer of its own institution",
                o.id(),
                o.institution
            ))
        }
        _ => Ok(officer),
    }
}

impl AuthenticatedStream {
    /// The client's certificate chain, leaf first.
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.inner
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
            .unwrap_or_default()
    }
}

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
