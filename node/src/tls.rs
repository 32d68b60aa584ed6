//! Mutual TLS: rustls configurations built directly (so CRLs and our own
//! client-identity checks apply), the accept loop that attaches the caller's
//! identity to every connection, and the client connector for tonic channels.
//!
//! tonic's own `ServerTlsConfig` cannot take CRLs, so the server side is a
//! rustls `ServerConfig` with a `WebPkiClientVerifier`, accepted with
//! tokio-rustls and handed to tonic through `serve_with_incoming_shutdown`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::pki::{self, Identity, PkiError};

/// The `AsyncWrite` methods a stream wrapper passes straight to its
/// `inner` stream: flush, shutdown and vectored writes (its own `poll_write`
/// is where wrappers differ).
macro_rules! forward_async_write_to_inner {
    () => {
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
    };
}

mod accept;
mod admission;
mod budget;
mod client;
mod connections;
mod first_flight;
mod load;
mod stream;
pub use accept::accept_authenticated;
pub use admission::AcceptLimits;
pub use budget::{BudgetLayer, Budgeted, BufferBudget};
pub use client::{FIRST_FLIGHT_WAIT, connect_channel, lazy_channel};
pub use connections::{Connections, FixedPolicy, HandshakePolicy};
pub use load::{ConnectionLoad, StreamGuard};
pub use stream::{AuthenticatedStream, CallerInfo};

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
