use std::time::SystemTime;

use super::*;
use crate::signing::Signer;
use crate::signing::test_ca::TestCa;

/// A test CA, a verifier trusting it, BANK-B's signer and borrower [7; 32].
fn bank_b_fixture() -> (TestCa, SignatureVerifier, Signer, BorrowerKey) {
    let mut ca = TestCa::new("Test CA");
    let verifier = ca.verifier(&[]);
    let bank_b = ca.signer("BANK-B");
    (
        ca,
        verifier,
        bank_b,
        BorrowerKey::from_slice(&[7; 32]).unwrap(),
    )
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
    let (_, verifier, bank_b, borrower) = bank_b_fixture();
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
    let (mut ca, verifier, bank_b, borrower) = bank_b_fixture();
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
    let other_bank = credit(&ca.signer("BANK-C"), &borrower);
    assert!(check(&[other_bank]).contains("signature"));
    let other_borrower = credit(&bank_b, &BorrowerKey::from_slice(&[8; 32]).unwrap());
    assert!(check(&[other_borrower]).contains("another borrower"));
}
