//! Envelope verification: signer certificate chain and revocation through
//! rustls-webpki, then one Ed25519 verification over the PAE.
//!
//! Verified signer certificates are cached by fingerprint, so in steady state
//! a verification is a hash of the certificate plus one Ed25519 verify.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use credshare_proto::v1 as pb;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use super::{MAX_CERTIFICATE_BYTES, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_TYPE_BYTES, SigningError, pae};
use crate::pki::{self, Identity, InstitutionId, Role};

mod certificate;
pub(super) use certificate::ed25519_public_key;
use certificate::{CachedSigner, untrusted};

/// Bound on cached signer certificates; a consortium has a few dozen.
const MAX_CACHED_SIGNERS: usize = 1024;

/// Who signed an envelope, after every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// Role `Signer`, or `Operator` for a membership manifest.
    pub identity: Identity,
    /// SHA-256 fingerprint of the signer certificate (the DSSE key id).
    pub key_id: String,
    /// The signer's raw Ed25519 public key.
    pub public_key: [u8; 32],
    /// End of the signer certificate's validity.
    pub not_after: SystemTime,
}

impl VerifiedSigner {
    /// The institution that signed.
    pub fn institution(&self) -> &InstitutionId {
        &self.identity.institution
    }
}

/// Verifies envelopes against the consortium CA and CRLs.
///
/// The CRLs are fixed for the verifier's lifetime (cached results depend on
/// them): when the CRL changes, build a new verifier.
pub struct SignatureVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    /// Intermediate CA certificates of the bundle: for chain building only.
    intermediates: Vec<CertificateDer<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    cache: Mutex<HashMap<String, CachedSigner>>,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("anchors", &self.anchors.len())
            .field("crls", &self.crls.len())
            .finish_non_exhaustive()
    }
}

impl SignatureVerifier {
    /// Trusts the self-signed `ca_certs` as anchors (the others are
    /// intermediates, for chain building only) and honours `crls`. With CRLs given, a
    /// signer whose issuer has no CRL among them is refused (unknown status
    /// is not "good"). An empty CRL list disables revocation checks; nodes
    /// always pass the consortium CRL.
    pub fn new(
        ca_certs: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<Self, SigningError> {
        if ca_certs.is_empty() {
            return Err(SigningError::Setup("no CA certificate to trust".into()));
        }
        let (anchors, intermediates) = pki::split_trust(&ca_certs);
        let anchors = anchors
            .iter()
            .map(|der| webpki::anchor_from_trusted_cert(der).map(|a| a.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SigningError::Setup(format!("unusable CA certificate: {e}")))?;
        let crls = crls
            .iter()
            .map(|der| OwnedCertRevocationList::from_der(der).map(CertRevocationList::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SigningError::Setup(format!("unusable CRL: {e}")))?;
        if crls.is_empty() {
            tracing::warn!("signature verifier built without CRLs: revocation is not checked");
        }
        Ok(Self {
            anchors,
            intermediates,
            crls,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// THE one verification function for envelopes.
    ///
    /// Checks, in order: sizes and shape (exactly one signature, with its
    /// certificate), payload type == `expected_type`, key id == fingerprint
    /// of the embedded certificate, the certificate (chain to the CA, role
    /// `signer`, key usage) at the signing time the signature states
    /// (`signed_at_ms`, never later than `now`; `now` when absent) and not
    /// revoked before it, the Ed25519 signature over the PAE of the exact
    /// payload bytes, and the signer's institution == `expected_originator`
    /// when given. So a record signed before its signer certificate expired
    /// or was revoked still verifies. Decode the payload only after this.
    ///
    /// Cost: one SHA-256 of the certificate and one Ed25519 verification;
    /// the first sight of a certificate adds a chain and CRL check.
    pub fn verify(
        &self,
        env: &pb::SignedEnvelope,
        expected_type: &str,
        expected_originator: Option<&InstitutionId>,
        now: SystemTime,
    ) -> Result<VerifiedSigner, SigningError> {
        let signature = check_shape(env, expected_type)?;
        let key_id = pki::fingerprint(&signature.certificate);
        if signature.keyid != key_id {
            return Err(SigningError::BadSignature(
                "key id is not the fingerprint of the embedded certificate".into(),
            ));
        }
        let signed_at = match signature.signed_at_ms {
            ms if ms > 0 => system_time_ms(ms).min(now),
            _ => now,
        };
        let role = if expected_type == super::MEMBERSHIP_MANIFEST_TYPE {
            Role::Operator
        } else {
            Role::Signer
        };
        let signer = self.verify_certificate_for(role, &signature.certificate, signed_at)?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, signer.public_key)
            .verify(&pae(&env.payload_type, &env.payload), &signature.sig)
            .map_err(|_| SigningError::BadSignature("Ed25519 signature does not verify".into()))?;
        if let Some(expected) = expected_originator
            && signer.identity.institution != *expected
        {
            return Err(SigningError::WrongOriginator {
                expected: expected.clone(),
                actual: signer.identity.institution,
            });
        }
        Ok(signer)
    }

    /// Checks a signer certificate (DER) for a signature made at `at`:
    /// chained to the CA and valid then, and not revoked before then. For
    /// signatures outside envelopes, e.g. log checkpoints (checked at their
    /// timestamp). Errors are `UntrustedSigner`. Cached by fingerprint.
    pub fn verify_signer_certificate(
        &self,
        cert_der: &[u8],
        at: SystemTime,
    ) -> Result<VerifiedSigner, SigningError> {
        self.verify_certificate_for(Role::Signer, cert_der, at)
    }

    /// [`Self::verify_signer_certificate`] for a document-signing `role`:
    /// the consortium operator's certificate signs membership manifests,
    /// institutions' signer certificates everything else.
    pub fn verify_certificate_for(
        &self,
        role: Role,
        cert_der: &[u8],
        at: SystemTime,
    ) -> Result<VerifiedSigner, SigningError> {
        let verified = self.verify_document_certificate(cert_der, at)?;
        if verified.identity.role != role {
            return Err(untrusted(format!(
                "certificate of {} has role {}, not {role}",
                verified.identity.institution, verified.identity.role
            )));
        }
        Ok(verified)
    }

    fn verify_document_certificate(
        &self,
        cert_der: &[u8],
        at: SystemTime,
    ) -> Result<VerifiedSigner, SigningError> {
        let key_id = pki::fingerprint(cert_der);
        if let Some(hit) = self.cached(&key_id, at) {
            return Ok(hit);
        }
        let fresh = self.verify_uncached(cert_der, key_id, at)?;
        let verified = fresh.verified.clone();
        self.remember(fresh, at);
        Ok(verified)
    }

    fn cached(&self, key_id: &str, now: SystemTime) -> Option<VerifiedSigner> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key_id)
            .filter(|c| c.valid_at(now))
            .map(|c| c.verified.clone())
    }

    fn remember(&self, signer: CachedSigner, now: SystemTime) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_SIGNERS {
            cache.retain(|_, c| c.valid_at(now));
        }
        if cache.len() >= MAX_CACHED_SIGNERS {
            // Only reachable when flooded with distinct valid certificates;
            // starting over costs a chain check per signer, nothing more.
            cache.clear();
        }
        cache.insert(signer.verified.key_id.clone(), signer);
    }
}

/// Size limits and shape; returns the one signature.
fn check_shape<'e>(
    env: &'e pb::SignedEnvelope,
    expected_type: &str,
) -> Result<&'e pb::EnvelopeSignature, SigningError> {
    let bad = |msg: String| Err(SigningError::BadSignature(msg));
    if env.payload.len() > MAX_PAYLOAD_BYTES {
        return bad(format!("payload exceeds {MAX_PAYLOAD_BYTES} bytes"));
    }
    if env.payload_type.len() > MAX_PAYLOAD_TYPE_BYTES || env.payload_type != expected_type {
        return bad(format!("payload type is not {expected_type}"));
    }
    // One institution signs each payload; a second signature would be a
    // second claim we would have to reconcile, so it is refused outright.
    let [signature] = env.signatures.as_slice() else {
        return bad(format!(
            "envelope has {} signatures; exactly one is required",
            env.signatures.len()
        ));
    };
    if signature.certificate.is_empty() {
        return bad(
            "the signature carries no signer certificate (EnvelopeSignature.certificate, field 3): \
             include the signer's DER certificate so the receiver can chain it to the CA"
                .into(),
        );
    }
    if signature.certificate.len() > MAX_CERTIFICATE_BYTES {
        return bad(format!(
            "signer certificate exceeds {MAX_CERTIFICATE_BYTES} bytes"
        ));
    }
    if signature.sig.len() != 64 {
        return bad("Ed25519 signature must be 64 bytes".into());
    }
    Ok(signature)
}

/// Unix milliseconds as a time (negative = the epoch).
fn system_time_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
