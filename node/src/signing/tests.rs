//! Signing and verification against an in-memory consortium PKI (rcgen).
#![allow(clippy::unwrap_used)] // Tests may panic on a broken fixture.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

use super::test_ca::{Leaf, TestCa};
use super::*;
use crate::pki::{Identity, InstitutionId, Role};

fn inst(id: &str) -> InstitutionId {
    InstitutionId::parse(id).unwrap()
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn envelope(signer: &Signer) -> pb::SignedEnvelope {
    signer.sign_envelope(CREDIT_SUMMARY_TYPE, b"credit summary bytes".to_vec())
}

/// BANK-A's signer, a verifier trusting its CA (nothing revoked) and a
/// credit summary envelope BANK-A signed.
fn signed_by_bank_a() -> (Signer, SignatureVerifier, pb::SignedEnvelope) {
    let mut ca = TestCa::new("Test CA");
    let signer = ca.signer("BANK-A");
    let verifier = ca.verifier(&[]);
    let env = envelope(&signer);
    (signer, verifier, env)
}

fn assert_bad_signature(result: Result<VerifiedSigner, SigningError>) {
    assert!(
        matches!(result, Err(SigningError::BadSignature(_))),
        "{result:?}"
    );
}

fn assert_untrusted(result: Result<VerifiedSigner, SigningError>) {
    assert!(
        matches!(result, Err(SigningError::UntrustedSigner(_))),
        "{result:?}"
    );
}

#[test]
fn pae_matches_the_dsse_known_answer() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

#[test]
fn sign_verify_round_trip() {
    let (signer, verifier, env) = signed_by_bank_a();
    assert_eq!(env.signatures[0].keyid, signer.key_id());
    let verified = verifier
        .verify(&env, CREDIT_SUMMARY_TYPE, Some(&inst("BANK-A")), now())
        .unwrap();
    assert_eq!(
        verified.identity,
        Identity::new(Role::Signer, inst("BANK-A"))
    );
    assert_eq!(verified.key_id, signer.key_id());
    // Without an expected originator, and a second time (cached).
    let again = verifier
        .verify(&env, CREDIT_SUMMARY_TYPE, None, now())
        .unwrap();
    assert_eq!(again, verified);
}

#[test]
fn signer_without_eku_is_accepted() {
    let mut ca = TestCa::new("Test CA");
    ca.signer_eku = false;
    let signer = ca.signer("BANK-A");
    let verifier = ca.verifier(&[]);
    assert!(
        verifier
            .verify(&envelope(&signer), CREDIT_SUMMARY_TYPE, None, now())
            .is_ok()
    );
}

#[test]
fn tampered_and_malformed_envelopes_are_bad_signatures() {
    let (signer, verifier, env) = signed_by_bank_a();
    let bad = |e: &pb::SignedEnvelope, ty: &str| {
        assert_bad_signature(verifier.verify(e, ty, None, now()));
    };
    let tampered: [fn(&mut pb::SignedEnvelope); 7] = [
        |e| e.payload[0] ^= 1,
        |e| e.signatures[0].sig[10] ^= 1,
        // A flipped type fails the type check (and the signature: below).
        |e| e.payload_type = VISIT_SUMMARY_TYPE.into(),
        |e| e.signatures[0].keyid = "00".repeat(32),
        |e| e.signatures.clear(),
        |e| e.signatures.push(e.signatures[0].clone()),
        |e| e.signatures[0].sig.truncate(63),
    ];
    for tamper in tampered {
        let mut changed = env.clone();
        tamper(&mut changed);
        bad(&changed, CREDIT_SUMMARY_TYPE);
    }
    // A flipped type fails the signature even when the verifier expects it.
    let mut ty = env.clone();
    ty.payload_type = VISIT_SUMMARY_TYPE.into();
    bad(&ty, VISIT_SUMMARY_TYPE);
    let big = signer.sign_envelope(CREDIT_SUMMARY_TYPE, vec![0; MAX_PAYLOAD_BYTES + 1]);
    bad(&big, CREDIT_SUMMARY_TYPE);
}

#[test]
fn another_institutions_signer_is_wrong_originator() {
    let mut ca = TestCa::new("Test CA");
    let signer_b = ca.signer("BANK-B");
    let verifier = ca.verifier(&[]);
    let result = verifier.verify(
        &envelope(&signer_b),
        CREDIT_SUMMARY_TYPE,
        Some(&inst("BANK-A")),
        now(),
    );
    match result {
        Err(SigningError::WrongOriginator { expected, actual }) => {
            assert_eq!((expected.as_str(), actual.as_str()), ("BANK-A", "BANK-B"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoked_signer_is_untrusted() {
    let mut ca = TestCa::new("Test CA");
    let leaf = ca.leaf(Role::Signer, "BANK-A");
    let other = ca.leaf(Role::Signer, "BANK-C");
    let signer = Signer::from_der(leaf.cert, &leaf.key).unwrap();
    let env = envelope(&signer);

    // A CRL that lists someone else does not affect BANK-A.
    let not_listed = ca.verifier(&[&other.serial]);
    assert!(
        not_listed
            .verify(&env, CREDIT_SUMMARY_TYPE, None, now())
            .is_ok()
    );

    let revoked = ca.verifier(&[&other.serial, &leaf.serial]);
    assert_untrusted(revoked.verify(&env, CREDIT_SUMMARY_TYPE, None, now()));
}

#[test]
fn expired_and_not_yet_valid_signers_are_untrusted() {
    let mut ca = TestCa::new("Test CA");
    let verifier = ca.verifier(&[]);
    // Valid 2020 to 2021 (expired), then 2200 to 2201 (not yet valid).
    for (from, until) in [(2020, 2021), (2200, 2201)] {
        let validity = (
            rcgen::date_time_ymd(from, 1, 1),
            rcgen::date_time_ymd(until, 1, 1),
        );
        let leaf = ca.leaf_with(Role::Signer, Role::Signer, "BANK-A", validity);
        let signer = Signer::from_der(leaf.cert, &leaf.key).unwrap();
        let envelope = envelope(&signer);
        assert_untrusted(verifier.verify(&envelope, CREDIT_SUMMARY_TYPE, None, now()));
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn cached_signer_does_not_outlive_its_certificate() {
    let (signer, verifier, env) = signed_by_bank_a();
    assert!(
        verifier
            .verify(&env, CREDIT_SUMMARY_TYPE, None, now())
            .is_ok()
    );
    // A signature made after the certificate expired fails, cached or not.
    let later = now() + Duration::from_secs(31 * 24 * 3600);
    let late = signer.sign_envelope_at(CREDIT_SUMMARY_TYPE, b"x".to_vec(), unix_ms(later));
    assert_untrusted(verifier.verify(&late, CREDIT_SUMMARY_TYPE, None, later));
    // One made while it was valid still verifies after it expired.
    assert!(
        verifier
            .verify(&env, CREDIT_SUMMARY_TYPE, None, later)
            .is_ok()
    );
}

#[test]
fn a_signature_made_before_a_revocation_still_verifies() {
    let mut ca = TestCa::new("Test CA");
    let leaf = ca.leaf(Role::Signer, "BANK-A");
    let serial = leaf.serial.clone();
    let signer = Signer::from_der(leaf.cert, &leaf.key).unwrap();
    // The test CA revokes as of now: a signature stated an hour ago stands,
    // one stated now (or later) does not, nor one without a stated time.
    let hour_ago = unix_ms(now() - Duration::from_secs(3600));
    let before = signer.sign_envelope_at(CREDIT_SUMMARY_TYPE, b"x".to_vec(), hour_ago);
    let after = signer.sign_envelope_at(CREDIT_SUMMARY_TYPE, b"x".to_vec(), unix_ms(now()) + 1000);
    let verifier = ca.verifier(&[&serial]);
    assert!(
        verifier
            .verify(&before, CREDIT_SUMMARY_TYPE, None, now())
            .is_ok()
    );
    assert_untrusted(verifier.verify(
        &after,
        CREDIT_SUMMARY_TYPE,
        None,
        now() + Duration::from_secs(2),
    ));
    let mut unstated = before.clone();
    unstated.signatures[0].signed_at_ms = 0;
    assert_untrusted(verifier.verify(
        &unstated,
        CREDIT_SUMMARY_TYPE,
        None,
        now() + Duration::from_secs(2),
    ));
}

/// Signs like a `Signer` would, but with any key and certificate.
fn forge_envelope(leaf: &Leaf) -> pb::SignedEnvelope {
    let PrivateKeyDer::Pkcs8(pkcs8) = &leaf.key else {
        panic!("pkcs8")
    };
    let key = Ed25519KeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()).unwrap();
    let payload = b"credit summary bytes".to_vec();
    let sig = key.sign(&pae(CREDIT_SUMMARY_TYPE, &payload));
    pb::SignedEnvelope {
        payload,
        payload_type: CREDIT_SUMMARY_TYPE.into(),
        signatures: vec![pb::EnvelopeSignature {
            keyid: crate::pki::fingerprint(&leaf.cert),
            sig: sig.as_ref().to_vec(),
            certificate: leaf.cert.to_vec(),
            signed_at_ms: 0,
        }],
    }
}

#[test]
fn tls_certificates_are_not_signers() {
    let mut ca = TestCa::new("Test CA");
    let verifier = ca.verifier(&[]);
    let node = ca.leaf(Role::Node, "BANK-A");
    assert!(matches!(
        Signer::from_der(node.cert.clone(), &node.key),
        Err(SigningError::Setup(_))
    ));
    assert_untrusted(verifier.verify(&forge_envelope(&node), CREDIT_SUMMARY_TYPE, None, now()));

    // The signer key usage profile alone is not enough: the role must be signer.
    let now_utc = OffsetDateTime::now_utc();
    let validity = (
        now_utc - time::Duration::days(1),
        now_utc + time::Duration::days(1),
    );
    let admin = ca.leaf_with(Role::Admin, Role::Signer, "BANK-A", validity);
    assert_untrusted(verifier.verify(&forge_envelope(&admin), CREDIT_SUMMARY_TYPE, None, now()));
}

#[test]
fn signer_from_another_ca_is_untrusted() {
    let ours = TestCa::new("Consortium CA");
    let mut theirs = TestCa::new("Consortium CA");
    let signer = theirs.signer("BANK-A");
    let verifier = ours.verifier(&[]);
    assert_untrusted(verifier.verify(&envelope(&signer), CREDIT_SUMMARY_TYPE, None, now()));
}

#[test]
fn crl_of_another_ca_leaves_status_unknown() {
    let mut ours = TestCa::new("Consortium CA");
    let theirs = TestCa::new("Other CA");
    let signer = ours.signer("BANK-A");
    let verifier = SignatureVerifier::new(vec![ours.ca_der()], vec![theirs.crl(&[])]).unwrap();
    assert_untrusted(verifier.verify(&envelope(&signer), CREDIT_SUMMARY_TYPE, None, now()));
}

#[test]
fn load_checks_role_and_key_match() {
    let mut ca = TestCa::new("Test CA");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, label: &str, der: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem_encode(label, der)).unwrap();
        path
    };
    let signer = ca.leaf(Role::Signer, "BANK-A");
    let other = ca.leaf(Role::Signer, "BANK-A");
    let node = ca.leaf(Role::Node, "BANK-A");
    let cert = write("signer.crt", "CERTIFICATE", &signer.cert);
    let key = write("signer.key", "PRIVATE KEY", signer.key.secret_der());
    let other_key = write("other.key", "PRIVATE KEY", other.key.secret_der());
    let node_cert = write("node.crt", "CERTIFICATE", &node.cert);
    let node_key = write("node.key", "PRIVATE KEY", node.key.secret_der());

    let loaded = Signer::load(&cert, &key).unwrap();
    assert_eq!(loaded.institution().as_str(), "BANK-A");
    assert_eq!(loaded.certificate_der(), signer.cert.as_ref());
    assert!(matches!(
        Signer::load(&cert, &other_key),
        Err(SigningError::Setup(_))
    ));
    assert!(matches!(
        Signer::load(&node_cert, &node_key),
        Err(SigningError::Setup(_))
    ));
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

#[test]
fn manifests_need_the_operator_and_everything_else_a_signer() {
    let mut ca = TestCa::new("Test CA");
    let verifier = ca.verifier(&[]);
    let now_odt = OffsetDateTime::now_utc();
    let validity = (
        now_odt - time::Duration::days(1),
        now_odt + time::Duration::days(30),
    );
    let leaf = ca.leaf_with(Role::Operator, Role::Signer, "CONSORTIUM-OP", validity);
    let operator = Signer::from_der(leaf.cert, &leaf.key).unwrap();
    let institution = ca.signer("BANK-A");

    let manifest = operator.sign_envelope(MEMBERSHIP_MANIFEST_TYPE, b"m".to_vec());
    let signed = verifier.verify(&manifest, MEMBERSHIP_MANIFEST_TYPE, None, now());
    assert_eq!(signed.unwrap().identity.role, Role::Operator);
    // An institution's signer cannot sign the manifest, nor the operator a
    // record or a checkpoint.
    let forged = institution.sign_envelope(MEMBERSHIP_MANIFEST_TYPE, b"m".to_vec());
    assert_untrusted(verifier.verify(&forged, MEMBERSHIP_MANIFEST_TYPE, None, now()));
    let record = operator.sign_envelope(CREDIT_SUMMARY_TYPE, b"r".to_vec());
    assert_untrusted(verifier.verify(&record, CREDIT_SUMMARY_TYPE, None, now()));
    assert_untrusted(verifier.verify_signer_certificate(operator.certificate_der(), now()));
}
