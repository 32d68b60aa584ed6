//! DSSE envelopes signed with the institution's Ed25519 signing key, and the
//! one verification function every signature goes through (docs/design.md §3).
//!
//! An envelope carries the exact payload bytes, their type, and signatures
//! over `PAE(type, payload)`. Each signature embeds the signer certificate, so
//! a verifier needs only the consortium CA certificate and CRL. The signing
//! key is a dedicated `signer` certificate, never the TLS key (docs/design.md §2).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use credshare_proto::v1 as pb;
use ring::signature::{Ed25519KeyPair, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki::{self, Identity, InstitutionId, PkiError};

mod verify;
pub use verify::{SignatureVerifier, VerifiedSigner};

/// The raw Ed25519 public key of a signer certificate (DER).
pub fn certificate_public_key(cert_der: &[u8]) -> Result<[u8; 32], String> {
    verify::ed25519_public_key(cert_der)
}

#[cfg(test)]
pub(crate) mod test_ca;
#[cfg(test)]
mod tests;

/// Payload type of a signed `CreditSummary`.
pub const CREDIT_SUMMARY_TYPE: &str = "application/vnd.credshare.credit-summary.v1+protobuf";
/// Payload type of a signed `VisitSummary`.
pub const VISIT_SUMMARY_TYPE: &str = "application/vnd.credshare.visit-summary.v1+protobuf";
/// Payload type of a signed `ConsentGrant`.
/// The consortium operator's membership manifest (docs/design.md#membership).
pub const MEMBERSHIP_MANIFEST_TYPE: &str =
    "application/vnd.credshare.membership-manifest.v1+protobuf";
pub const CONSENT_GRANT_TYPE: &str = "application/vnd.credshare.consent-grant.v1+protobuf";
/// Payload type of a signed `Annotation` (dispute mark, explanation,
/// statement).
pub const ANNOTATION_TYPE: &str = "application/vnd.credshare.annotation.v1+protobuf";
/// Payload type of a signed `ConsentRevocation`.
pub const CONSENT_REVOCATION_TYPE: &str =
    "application/vnd.credshare.consent-revocation.v1+protobuf";

/// Largest payload a verifier accepts. Records and consents are a few KiB;
/// the bound keeps a hostile peer from making us hash megabytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Largest payload type a verifier accepts.
pub const MAX_PAYLOAD_TYPE_BYTES: usize = 128;
/// Largest embedded signer certificate a verifier accepts.
pub const MAX_CERTIFICATE_BYTES: usize = 8 * 1024;

/// SHA-256 of `bytes`: a record's content hash (of its payload), a logged
/// response hash, an authorization document's hash.
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn certificate_not_after(der: &[u8]) -> Result<SystemTime, SigningError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| SigningError::Setup(format!("cannot parse signer certificate: {e}")))?;
    let secs = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// DSSE pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in
/// ASCII decimal. This, not the payload, is what gets signed, so the type is
/// bound to the bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Errors signing and verifying envelopes. Callers map `BadSignature` to the
/// denial reason `BAD_SIGNATURE` and `UntrustedSigner` to `UNTRUSTED_SIGNER`.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The envelope is malformed or oversized, its type is not the expected
    /// one, its key id does not name the embedded certificate, or the
    /// Ed25519 signature does not verify over the exact payload bytes.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The signer certificate does not chain to the consortium CA, is
    /// revoked, expired or not yet valid, or is not a `signer` certificate.
    #[error("untrusted signer: {0}")]
    UntrustedSigner(String),
    /// A valid signature, but by another institution than the one the
    /// payload claims to come from.
    #[error("signed by {actual}, but expected a signature by {expected}")]
    WrongOriginator {
        expected: InstitutionId,
        actual: InstitutionId,
    },
    /// Reading signing material (key, certificate, CRL) failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// Signing material is unusable: wrong role, key does not match the
    /// certificate, no CA certificate, unparsable CRL.
    #[error("{0}")]
    Setup(String),
}

/// The institution's signing key and certificate.
pub struct Signer {
    identity: Identity,
    certificate: CertificateDer<'static>,
    key_id: String,
    key_pair: Ed25519KeyPair,
    not_after: SystemTime,
}

/// The signer in use, replaced while the node runs when the signer key is
/// rotated; the writer reads it for every batch.
#[derive(Debug)]
pub struct SignerSlot(RwLock<Arc<Signer>>);

impl SignerSlot {
    pub fn new(signer: Arc<Signer>) -> Self {
        Self(RwLock::new(signer))
    }

    pub fn current(&self) -> Arc<Signer> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn replace(&self, signer: Arc<Signer>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = signer;
    }
}

impl fmt::Debug for Signer {
    // Never print the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("identity", &self.identity)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads the signer certificate (first PEM certificate of `cert_path`)
    /// and its PKCS#8 Ed25519 key.
    ///
    /// Errors if the certificate is not a `signer` certificate or the key is
    /// not the certificate's key. The chain is not checked here: peers do it.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, SigningError> {
        let certificate = pki::load_certs(cert_path)?.remove(0);
        let key = pki::load_private_key(key_path)?;
        Self::from_der(certificate, &key).map_err(|e| match e {
            SigningError::Setup(msg) => SigningError::Setup(format!(
                "{} / {}: {msg}",
                cert_path.display(),
                key_path.display()
            )),
            other => other,
        })
    }

    /// Builds a signer from DER material already in memory (see [`Self::load`]).
    pub fn from_der(
        certificate: CertificateDer<'static>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<Self, SigningError> {
        let identity = Identity::from_cert_der(&certificate)?;
        if !identity.role.signs_documents() {
            return Err(SigningError::Setup(format!(
                "certificate is a {} certificate, not a signer (or operator) certificate",
                identity.role
            )));
        }
        let PrivateKeyDer::Pkcs8(pkcs8) = key else {
            return Err(SigningError::Setup("signing key must be PKCS#8".into()));
        };
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.secret_pkcs8_der())
            .map_err(|e| SigningError::Setup(format!("signing key is not Ed25519: {e}")))?;
        let cert_key = verify::ed25519_public_key(&certificate).map_err(SigningError::Setup)?;
        if key_pair.public_key().as_ref() != cert_key.as_slice() {
            return Err(SigningError::Setup(
                "signing key does not match the signer certificate".into(),
            ));
        }
        let not_after = certificate_not_after(&certificate)?;
        Ok(Self {
            key_id: pki::fingerprint(&certificate),
            identity,
            certificate,
            key_pair,
            not_after,
        })
    }

    /// End of the signer certificate's validity.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// The institution this key signs for.
    /// The certificate's identity (role signer, or operator).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn institution(&self) -> &InstitutionId {
        &self.identity.institution
    }

    /// The signer certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// Lower-case hex SHA-256 of the certificate DER: the DSSE key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The raw Ed25519 key pair, for signing log checkpoints.
    pub fn key_pair(&self) -> &Ed25519KeyPair {
        &self.key_pair
    }

    /// Signs `payload` as `payload_type` and wraps both in an envelope that
    /// embeds the signer certificate. Cost: one Ed25519 signature.
    pub fn sign_envelope(&self, payload_type: &str, payload: Vec<u8>) -> pb::SignedEnvelope {
        self.sign_envelope_at(payload_type, payload, crate::domain::dates::now_ms())
    }

    /// [`Self::sign_envelope`] stating `signed_at_ms` as the signing time.
    pub fn sign_envelope_at(
        &self,
        payload_type: &str,
        payload: Vec<u8>,
        signed_at_ms: i64,
    ) -> pb::SignedEnvelope {
        let sig = self.key_pair.sign(&pae(payload_type, &payload));
        pb::SignedEnvelope {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: vec![pb::EnvelopeSignature {
                keyid: self.key_id.clone(),
                sig: sig.as_ref().to_vec(),
                certificate: self.certificate.to_vec(),
                signed_at_ms,
            }],
        }
    }
}
