//! Where the accept loop gets its TLS configuration, and the registry of
//! live connections that lets a change of trust close them at once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls_pki_types::CertificateDer;
use tokio::sync::watch;

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

    pub(super) fn register(self: &Arc<Self>, chain: Vec<CertificateDer<'static>>) -> Registration {
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
pub(super) struct Registration {
    id: u64,
    registry: Arc<Connections>,
    /// Resolves when the connection must be closed.
    pub(super) closed: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
