//! An in-memory consortium CA (rcgen) for unit tests: signer, node and
//! other certificates with their keys, CRLs, and verifiers trusting it.
#![allow(clippy::unwrap_used)] // Test fixture: panics on a broken setup.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SanType, SerialNumber,
};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use time::OffsetDateTime;

use super::{SignatureVerifier, Signer};
use crate::pki::{Identity, InstitutionId, Role};

fn inst(id: &str) -> InstitutionId {
    InstitutionId::parse(id).unwrap()
}

pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    next_serial: u64,
    /// Whether signer certificates carry id-kp-documentSigning.
    pub(crate) signer_eku: bool,
}

/// A leaf certificate with its key and serial.
pub(crate) struct Leaf {
    pub(crate) cert: CertificateDer<'static>,
    pub(crate) key: PrivateKeyDer<'static>,
    pub(crate) serial: SerialNumber,
}

impl TestCa {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let issuer = CertifiedIssuer::self_signed(params, key).unwrap();
        Self {
            issuer,
            next_serial: 1000,
            signer_eku: true,
        }
    }

    pub(crate) fn ca_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Issues a certificate with the profile of `profile` but the SAN URI of
    /// `role`, valid in `[not_before, not_after)`.
    pub(crate) fn leaf_with(
        &mut self,
        role: Role,
        profile: Role,
        id: &str,
        validity: (OffsetDateTime, OffsetDateTime),
    ) -> Leaf {
        self.next_serial += 1;
        let serial = SerialNumber::from(self.next_serial);
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{role} {id}"));
        let uri = Identity::new(role, inst(id)).to_uri();
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        params.serial_number = Some(serial.clone());
        (params.not_before, params.not_after) = validity;
        params.use_authority_key_identifier_extension = true;
        if profile == Role::Signer {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
            // id-kp-documentSigning, as `credshare pki issue` sets it; every
            // other test certificate of this profile has it, and
            // `signer_without_eku_is_accepted` covers the EKU-less form.
            if self.signer_eku {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![
                    1, 3, 6, 1, 5, 5, 7, 3, 36,
                ])];
            }
        } else {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            serial,
        }
    }

    pub(crate) fn leaf(&mut self, role: Role, id: &str) -> Leaf {
        let now = OffsetDateTime::now_utc();
        let validity = (
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        );
        self.leaf_with(role, role, id, validity)
    }

    pub(crate) fn signer(&mut self, id: &str) -> Signer {
        let leaf = self.leaf(Role::Signer, id);
        Signer::from_der(leaf.cert, &leaf.key).unwrap()
    }

    pub(crate) fn crl(&self, revoked: &[&SerialNumber]) -> CertificateRevocationListDer<'static> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - time::Duration::hours(1),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: (*serial).clone(),
                    revocation_time: now - time::Duration::minutes(5),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().der().clone()
    }

    pub(crate) fn verifier(&self, revoked: &[&SerialNumber]) -> SignatureVerifier {
        SignatureVerifier::new(vec![self.ca_der()], vec![self.crl(revoked)]).unwrap()
    }
}
