use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::*;
use crate::pki::{Identity, Role};
use crate::signing::Signer;

/// A CA, and a verifier that trusts it (with its empty CRL).
fn ca() -> (CertifiedIssuer<'static, KeyPair>, SignatureVerifier) {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ca = CertifiedIssuer::self_signed(params, key).unwrap();
    let now = OffsetDateTime::now_utc();
    let crl = CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(7),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = crl.signed_by(&ca).unwrap().der().clone();
    let verifier = SignatureVerifier::new(vec![ca.der().clone()], vec![crl]).unwrap();
    (ca, verifier)
}

fn signer(ca: &CertifiedIssuer<'static, KeyPair>, id: &str) -> Signer {
    let institution = InstitutionId::parse(id).unwrap();
    let mut params = CertificateParams::default();
    let uri = Identity::new(Role::Signer, institution).to_uri();
    params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![
        1, 3, 6, 1, 5, 5, 7, 3, 36,
    ])];
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    let key: PrivateKeyDer<'static> = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    Signer::from_der(cert.der().clone(), &key).unwrap()
}

fn credit(signer: &Signer, borrower: &BorrowerKey) -> pb::SignedEnvelope {
    let record = pb::CreditSummary {
        facility_id: "F-1".into(),
        institution_id: signer.institution().to_string(),
        borrower_key: borrower.as_bytes().to_vec(),
        currency: "CNY".into(),
        ..Default::default()
    };
    signer.sign_envelope(CREDIT_SUMMARY_TYPE, record.encode_to_vec())
}

#[test]
fn verified_records_are_decoded_with_their_signer_and_envelope() {
    let (ca, verifier) = ca();
    let bank_b = signer(&ca, "BANK-B");
    let borrower = BorrowerKey::from_slice(&[7; 32]).unwrap();
    let env = credit(&bank_b, &borrower);
    let originator = InstitutionId::parse("BANK-B").unwrap();
    let verified = verify_records(
        &verifier,
        &originator,
        &borrower,
        std::slice::from_ref(&env),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.credits.len(), 1);
    let row = &verified.rows[0];
    assert_eq!(row.signer_institution, "BANK-B");
    assert_eq!(row.signer_key_id, bank_b.key_id());
    assert_eq!(row.envelope.as_ref(), Some(&env));
    assert!(matches!(
        row.record,
        Some(pb::verified_record::Record::Credit(_))
    ));
}

#[test]
fn a_tampered_foreign_or_misaddressed_record_fails_and_is_named() {
    let (ca, verifier) = ca();
    let bank_b = signer(&ca, "BANK-B");
    let borrower = BorrowerKey::from_slice(&[7; 32]).unwrap();
    let originator = InstitutionId::parse("BANK-B").unwrap();
    let good = credit(&bank_b, &borrower);
    let check = |records: &[pb::SignedEnvelope]| {
        verify_records(
            &verifier,
            &originator,
            &borrower,
            records,
            SystemTime::now(),
        )
        .unwrap_err()
    };
    let mut tampered = good.clone();
    tampered.payload.push(0);
    let err = check(&[good.clone(), tampered]);
    assert!(err.starts_with("record 2 of 2: signature"), "{err}");
    let other_bank = credit(&signer(&ca, "BANK-C"), &borrower);
    assert!(check(&[other_bank]).contains("signature"));
    let other_borrower = credit(&bank_b, &BorrowerKey::from_slice(&[8; 32]).unwrap());
    assert!(check(&[other_borrower]).contains("another borrower"));
}
