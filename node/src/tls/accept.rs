//! The accept loop: connection caps, first-byte and handshake timeouts,
//! mTLS handshakes, and the caller identity of every accepted connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use super::HandshakePolicy;
use super::admission::{AcceptLimits, Admission, FailureLog, Slot};
use super::load::{ConnectionLoad, IdleTimer};
use super::stream::{AuthenticatedStream, CallerInfo};
use crate::pki::{self, Identity, Officer, Role};

/// Accepts TCP connections within the caps of `limits`, completes TLS
/// handshakes concurrently (bounded, with a timeout; no handshake slot is
/// held while waiting for a client's first byte) with the configuration
/// `policy` gives at that moment, and yields only connections whose client
/// certificate carries a consortium identity, registered with the policy's
/// [`Connections`](super::Connections). Failed or refused connections are
/// counted and logged once per interval: they never reach gRPC. Stops when
/// `shutdown` changes.
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
        stream.idle = Some(IdleTimer::new(
            stream.info.load.clone(),
            self.limits.idle_timeout,
        ));
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
    let load = Arc::new(ConnectionLoad::new(format!("{identity} from {remote}")));
    Ok(AuthenticatedStream {
        inner: tls,
        info: CallerInfo {
            identity,
            remote,
            cert_fingerprint,
            officer,
            load,
        },
        registration: None,
        _slot: None,
        idle: None,
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
