//! The trust a node holds *now* (docs/operations.md, "Revoking and
//! rotating"): the consortium CA certificates and their CRLs, the node's own
//! TLS identity and its signer key, with the TLS configurations and the
//! signature verifier built from them. Reloaded on SIGHUP and when any of
//! the files changes (`service::trust`), without a restart: new handshakes
//! and signature checks use the new CRLs at once, and connections whose
//! client is no longer trusted are closed.
//!
//! Loading checks what a bad file would otherwise silently switch off: every
//! CRL file holds a CRL, every trust anchor has one, the TLS certificate is
//! this institution's `node`, the signer certificate is this institution's
//! and valid now. A CRL past its `nextUpdate` is warned about from
//! `tls.crl_warn_days` before, and after `tls.crl_grace_hours` new
//! handshakes are refused (fail closed).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::UnixTime;

use crate::config::NodeConfig;
use crate::pki::Identity;
use crate::signing::{SignatureVerifier, Signer, SignerSlot};
use crate::tls::{Connections, HandshakePolicy, TlsMaterial};

mod load;
use load::read_state;

/// Why trust material could not be loaded; names the config key.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: {message}")]
pub struct TrustError {
    pub key: String,
    pub message: String,
}

fn trust_error(key: &str, message: impl std::fmt::Display) -> TrustError {
    TrustError {
        key: key.to_owned(),
        message: message.to_string(),
    }
}

/// One CRL as loaded: whose it is and until when it is current.
#[derive(Debug, Clone)]
pub struct CrlInfo {
    pub issuer: String,
    pub next_update: Option<SystemTime>,
}

/// Everything built from one reading of the trust files.
pub struct TrustState {
    pub material: TlsMaterial,
    pub server_config: Arc<rustls::ServerConfig>,
    pub client_config: Arc<rustls::ClientConfig>,
    /// Re-checks live connections' client chains after a reload.
    client_verifier: Arc<dyn ClientCertVerifier>,
    pub verifier: Arc<SignatureVerifier>,
    pub signer: Arc<Signer>,
    pub crls: Vec<CrlInfo>,
    /// SHA-256 over every file's bytes: what "changed" means.
    digest: Vec<u8>,
}

/// How the node treats CRLs nearing or past their `nextUpdate`.
#[derive(Debug, Clone, Copy)]
pub struct CrlPolicy {
    pub warn: Duration,
    pub grace: Duration,
}

/// The node's trust, shared by the listeners, the use cases and the writer.
pub struct Trust {
    config: Arc<NodeConfig>,
    policy: CrlPolicy,
    state: RwLock<Arc<TrustState>>,
    signer: Arc<SignerSlot>,
    connections: Arc<Connections>,
    /// The last reload's error, until a reload succeeds.
    reload_error: Mutex<Option<String>>,
}

impl Trust {
    /// Loads every trust file named in `config`; fails naming the key.
    pub fn load(config: Arc<NodeConfig>) -> Result<Self, TrustError> {
        let state = read_state(&config, SystemTime::now())?;
        let policy = CrlPolicy {
            warn: Duration::from_secs(u64::from(config.tls.crl_warn_days) * 86_400),
            grace: Duration::from_secs(u64::from(config.tls.crl_grace_hours) * 3_600),
        };
        Ok(Self {
            config,
            policy,
            signer: Arc::new(SignerSlot::new(state.signer.clone())),
            state: RwLock::new(Arc::new(state)),
            connections: Arc::default(),
            reload_error: Mutex::new(None),
        })
    }

    pub fn current(&self) -> Arc<TrustState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn verifier(&self) -> Arc<SignatureVerifier> {
        self.current().verifier.clone()
    }

    /// The signer in use (the writer reads the same slot every batch).
    pub fn signer(&self) -> Arc<Signer> {
        self.signer.current()
    }

    pub fn signer_slot(&self) -> Arc<SignerSlot> {
        self.signer.clone()
    }

    /// Reads the files again; when they changed and load, swaps the new
    /// trust in, moves the signer slot to the new signer and closes live
    /// connections whose client the new trust refuses. A failed load keeps
    /// the old trust and is reported (log, `Status`) until one succeeds.
    /// Returns whether anything changed. Blocking (file reads).
    pub fn reload(&self) -> Result<bool, TrustError> {
        let fresh = match read_state(&self.config, SystemTime::now()) {
            Ok(fresh) => fresh,
            Err(e) => {
                *self.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                return Err(e);
            }
        };
        *self.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if fresh.digest == self.current().digest {
            return Ok(false);
        }
        let fresh = Arc::new(fresh);
        let old_key = self.signer().key_id().to_owned();
        if fresh.signer.key_id() != old_key {
            self.signer.replace(fresh.signer.clone());
            tracing::info!(
                old_key,
                new_key = fresh.signer.key_id(),
                "signer key rotated: the next batch is signed with the new key and logs it"
            );
        }
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        let closed = self.close_untrusted(&fresh);
        tracing::info!(
            closed,
            "trust reloaded: CA certificates, CRLs, TLS identity and signer"
        );
        Ok(true)
    }

    /// Closes live connections whose client identity `keep` refuses
    /// (members a new membership manifest no longer lists).
    pub fn close_connections_unless(&self, keep: impl Fn(&Identity) -> bool) -> usize {
        self.connections.close_untrusted(|chain| {
            chain
                .first()
                .and_then(|leaf| Identity::from_cert_der(leaf).ok())
                .is_some_and(|identity| keep(&identity))
        })
    }

    fn close_untrusted(&self, state: &TrustState) -> usize {
        let now = UnixTime::now();
        self.connections
            .close_untrusted(|chain| match chain.split_first() {
                Some((leaf, intermediates)) => state
                    .client_verifier
                    .verify_client_cert(leaf, intermediates, now)
                    .is_ok(),
                None => false,
            })
    }

    /// Warnings about the trust as of `now` (CRLs near or past their
    /// `nextUpdate`, a signer certificate near its end, a failed reload).
    pub fn warnings(&self, now: SystemTime) -> Vec<String> {
        let state = self.current();
        let mut out: Vec<String> = state
            .crls
            .iter()
            .filter_map(|crl| crl_warning(crl, now, self.policy))
            .collect();
        let signer_end = state.signer.not_after();
        if signer_end < now + self.policy.warn {
            out.push(format!(
                "signer certificate {} expires at {}",
                state.signer.key_id(),
                rfc3339(signer_end)
            ));
        }
        if let Some(e) = self
            .reload_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            out.push(format!(
                "trust reload failed (the previous trust stays in use): {e}"
            ));
        }
        out
    }

    /// Why new handshakes are refused now, if they are: a CRL past its
    /// `nextUpdate` by more than the grace.
    pub fn refusal(&self, now: SystemTime) -> Option<String> {
        self.current().crls.iter().find_map(|crl| {
            let next = crl.next_update?;
            (now > next + self.policy.grace).then(|| {
                format!(
                    "the CRL of {} expired at {} (grace {} h): new connections are refused until a current CRL is installed",
                    crl.issuer,
                    rfc3339(next),
                    self.policy.grace.as_secs() / 3600
                )
            })
        })
    }
}

impl HandshakePolicy for Trust {
    fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        match self.refusal(SystemTime::now()) {
            Some(reason) => Err(reason),
            None => Ok(self.current().server_config.clone()),
        }
    }

    fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }
}

fn crl_warning(crl: &CrlInfo, now: SystemTime, policy: CrlPolicy) -> Option<String> {
    let next = crl.next_update?;
    if now > next {
        return Some(format!(
            "the CRL of {} is past its nextUpdate {}; new connections are refused after {}",
            crl.issuer,
            rfc3339(next),
            rfc3339(next + policy.grace)
        ));
    }
    (next < now + policy.warn).then(|| {
        format!(
            "the CRL of {} must be re-signed by {}",
            crl.issuer,
            rfc3339(next)
        )
    })
}

/// RFC 3339 UTC for messages.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s"))
}
