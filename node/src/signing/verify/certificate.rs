//! The signer certificate check behind every verification: chain to the
//! consortium CA and revocation through rustls-webpki (a certificate revoked
//! after a signature still covers it), then role, key usage and the Ed25519
//! key read from the certificate.

use std::time::{Duration, SystemTime};

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, KeyUsage, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};
use x509_parser::oid_registry::OID_SIG_ED25519;

use super::{SignatureVerifier, SigningError, VerifiedSigner};
use crate::pki::Identity;

/// id-kp-documentSigning (RFC 9336), DER content octets. Signer certificates
/// carry it as their only EKU (which keeps them out of TLS); one without any
/// EKU is accepted too. TLS certificates (serverAuth/clientAuth) fail here.
const EKU_DOCUMENT_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x24];

/// Signature algorithms accepted on the chain (the CA's signature over the
/// signer certificate). The envelope signature itself is always Ed25519.
static CHAIN_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ED25519,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
];

/// A signer certificate that passed chain, revocation, role and key usage
/// checks, valid in `[not_before, not_after)` and, when it was revoked, for
/// signatures made before its revocation.
#[derive(Clone)]
pub(super) struct CachedSigner {
    pub(super) verified: VerifiedSigner,
    not_before: SystemTime,
    /// When a CRL says the certificate was revoked.
    revoked_at: Option<SystemTime>,
}

impl CachedSigner {
    pub(super) fn valid_at(&self, at: SystemTime) -> bool {
        self.not_before <= at
            && at < self.verified.not_after
            && self.revoked_at.is_none_or(|revoked| at < revoked)
    }
}

impl SignatureVerifier {
    pub(super) fn verify_uncached(
        &self,
        cert_der: &[u8],
        key_id: String,
        at: SystemTime,
    ) -> Result<CachedSigner, SigningError> {
        let cert = CertificateDer::from(cert_der);
        let end_entity = EndEntityCert::try_from(&cert)
            .map_err(|e| untrusted(format!("cannot parse signer certificate: {e}")))?;
        let crl_refs: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Deny)
                .build()
        });
        let check = |revocation| {
            end_entity.verify_for_usage(
                CHAIN_ALGORITHMS,
                &self.anchors,
                &self.intermediates,
                unix_time(at),
                KeyUsage::required_if_present(EKU_DOCUMENT_SIGNING),
                revocation,
                None,
            )
        };
        let revoked_at = match check(revocation) {
            Ok(_) => None,
            // webpki authenticated the CRL that revokes it; a signature
            // made before the revocation date still stands.
            Err(webpki::Error::CertRevoked) => {
                let revoked = self.revocation_time(cert_der);
                match revoked {
                    Some(when) if at < when => {
                        check(None).map_err(|e| untrusted(describe_webpki_error(&e)))?;
                        Some(when)
                    }
                    _ => return Err(untrusted(describe_revoked(revoked))),
                }
            }
            Err(e) => return Err(untrusted(describe_webpki_error(&e))),
        };
        let mut signer = inspect_signer_certificate(cert_der, key_id)?;
        signer.revoked_at = revoked_at;
        Ok(signer)
    }

    /// When the CRL of the certificate's issuer says it was revoked.
    fn revocation_time(&self, cert_der: &[u8]) -> Option<SystemTime> {
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
        // webpki gives the issuer Name's content, x509-parser its whole DER.
        let issuer = cert.issuer().as_raw();
        let serial = cert.raw_serial();
        self.crls
            .iter()
            .filter(|crl| issuer.len() <= crl.issuer().len() + 4 && issuer.ends_with(crl.issuer()))
            .find_map(|crl| crl.find_serial(serial).ok().flatten())
            .map(|revoked| {
                SystemTime::UNIX_EPOCH + Duration::from_secs(revoked.revocation_date.as_secs())
            })
    }
}

/// Role, key usage and key of a chain-verified certificate.
fn inspect_signer_certificate(
    cert_der: &[u8],
    key_id: String,
) -> Result<CachedSigner, SigningError> {
    let identity = Identity::from_cert_der(cert_der).map_err(|e| untrusted(e.to_string()))?;
    if !identity.role.signs_documents() {
        return Err(untrusted(format!(
            "certificate of {} has role {}, not signer or operator",
            identity.institution, identity.role
        )));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| untrusted(format!("cannot parse signer certificate: {e}")))?;
    let usage_ok = matches!(
        cert.key_usage(),
        Ok(Some(ku)) if ku.value.digital_signature() && ku.value.non_repudiation()
    );
    if !usage_ok {
        return Err(untrusted(
            "key usage must include digitalSignature and nonRepudiation".into(),
        ));
    }
    let public_key = ed25519_public_key(cert_der).map_err(untrusted)?;
    let validity = cert.validity();
    Ok(CachedSigner {
        verified: VerifiedSigner {
            identity,
            key_id,
            public_key,
            not_after: system_time(validity.not_after.timestamp()),
        },
        not_before: system_time(validity.not_before.timestamp()),
        revoked_at: None,
    })
}

/// The raw Ed25519 public key of a certificate.
pub(in crate::signing) fn ed25519_public_key(cert_der: &[u8]) -> Result<[u8; 32], String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| format!("cannot parse certificate: {e}"))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != OID_SIG_ED25519 {
        return Err("certificate key is not Ed25519".into());
    }
    <[u8; 32]>::try_from(spki.subject_public_key.data.as_ref())
        .map_err(|_| "Ed25519 public key must be 32 bytes".into())
}

pub(super) fn untrusted(msg: String) -> SigningError {
    SigningError::UntrustedSigner(msg)
}

fn describe_webpki_error(err: &webpki::Error) -> String {
    use webpki::Error as E;
    match err {
        E::CertExpired { .. } => "signer certificate has expired".into(),
        E::CertNotValidYet { .. } => "signer certificate is not valid yet".into(),
        E::CertRevoked => "signer certificate is revoked".into(),
        E::UnknownIssuer | E::InvalidSignatureForPublicKey => {
            "signer certificate is not issued by the consortium CA".into()
        }
        E::UnknownRevocationStatus => "no CRL covers the signer certificate's issuer".into(),
        E::RequiredEkuNotFoundContext(_) => {
            "certificate's extended key usage does not allow signing (a TLS certificate?)".into()
        }
        other => format!("signer certificate rejected: {other}"),
    }
}

fn describe_revoked(when: Option<SystemTime>) -> String {
    let since = when
        .and_then(|w| w.duration_since(SystemTime::UNIX_EPOCH).ok())
        .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.as_secs() as i64).ok());
    match since {
        Some(t) => format!("signer certificate was revoked on {t} (UTC), before the signature"),
        None => "signer certificate is revoked".into(),
    }
}

fn unix_time(t: SystemTime) -> UnixTime {
    UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
}

fn system_time(unix_secs: i64) -> SystemTime {
    match u64::try_from(unix_secs) {
        Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}
