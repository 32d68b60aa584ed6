//! Whether the node should receive traffic ([`Node::readiness`], served as
//! `/readyz` and as the gRPC health status) and the expiry of the trust it
//! holds. Liveness is simpler: a process that answers HTTP is alive.

use std::time::SystemTime;

use super::Node;

/// Below this much free space on the data directory's file system the
/// node reports not ready: sled needs room to write its segments.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

impl Node {
    /// `Ok` while the node can do its work: its start-up check of the log's
    /// newest part passed (a `Node` exists only after it), the background
    /// check of the whole log has found nothing (a mismatch is a store
    /// fault naming the entry), the store can be written, and its
    /// certificates, CRLs and membership manifest are in force. `Err` names
    /// the first reason it cannot.
    pub fn readiness(&self) -> Result<(), String> {
        let now = SystemTime::now();
        // First: a store that cannot be written is never ready.
        if let Some(fault) = self.committer.health().fault() {
            return Err(format!("store refuses writes: {fault}"));
        }
        self.disk_room()?;
        if let Some(refusal) = self.trust.refusal(now) {
            return Err(refusal);
        }
        if let Some(expired) = self.expired_certificate(now) {
            return Err(expired);
        }
        if let Some(stopped) = self.membership.stopped(now) {
            return Err(stopped);
        }
        Ok(())
    }

    /// Free space as last measured ([`Node::refresh_metrics`]); unknown
    /// (never measured, or not measurable) counts as enough.
    fn disk_room(&self) -> Result<(), String> {
        let free = self.metrics.free_bytes.get();
        if free >= 0 && (free as u64) < MIN_FREE_BYTES && self.disk_measured() {
            return Err(format!(
                "the data directory's file system has {free} bytes free (at least {MIN_FREE_BYTES} needed)"
            ));
        }
        Ok(())
    }

    fn disk_measured(&self) -> bool {
        self.metrics.store_bytes.get() > 0
    }

    /// The first loaded certificate past its end: a CA, the TLS
    /// certificate or the signer certificate.
    fn expired_certificate(&self, now: SystemTime) -> Option<String> {
        certificate_expiries(&self.trust.current())
            .into_iter()
            .find(|c| c.not_after < now)
            .map(|c| {
                format!(
                    "the {} certificate {} expired at {}",
                    c.kind,
                    c.subject,
                    crate::trust::rfc3339(c.not_after)
                )
            })
    }
}

/// One loaded certificate's end of validity.
#[derive(Debug, Clone)]
pub struct CertificateExpiry {
    /// `ca`, `tls` or `signer`.
    pub kind: &'static str,
    pub subject: String,
    pub not_after: SystemTime,
}

/// Every certificate the node has loaded: the CAs, its TLS chain and its
/// signer certificate. A certificate that does not parse is left out (it
/// could not have been loaded).
pub fn certificate_expiries(state: &crate::trust::TrustState) -> Vec<CertificateExpiry> {
    let ca = state.material.ca_certs.iter().map(|c| ("ca", c.as_ref()));
    let tls = state
        .material
        .cert_chain
        .iter()
        .map(|c| ("tls", c.as_ref()));
    let signer = std::iter::once(("signer", state.signer.certificate_der()));
    ca.chain(tls)
        .chain(signer)
        .filter_map(|(kind, der)| {
            let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
            let secs = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
            Some(CertificateExpiry {
                kind,
                subject: cert.subject().to_string(),
                not_after: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            })
        })
        .collect()
}
