#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::storage::test_log;

fn signed_record() -> (pb::StoredRecord, Arc<StoredCertificate>) {
    let signer = test_log::signer();
    let payload = b"a credit summary's protobuf bytes".to_vec();
    let content_sha256 = ring::digest::digest(&ring::digest::SHA256, &payload)
        .as_ref()
        .to_vec();
    let envelope = signer.sign_envelope(CREDIT_SUMMARY_TYPE, payload);
    let cert = Arc::new(StoredCertificate::new(signer.certificate_der().to_vec()));
    let record = pb::StoredRecord {
        envelope: Some(envelope),
        content_sha256,
        stored_at_ms: 1_700_000_000_123,
    };
    (record, cert)
}

fn decode_with(value: &[u8], cert: &Arc<StoredCertificate>) -> pb::StoredRecord {
    let cert = cert.clone();
    decode_record(value, &move |r| {
        assert_eq!(*r, cert.reference());
        Ok(cert.clone())
    })
    .unwrap()
}

#[test]
fn a_signed_record_round_trips_without_its_certificate() {
    let (record, cert) = signed_record();
    let (value, certs) = encode_record(&record);
    assert_eq!(value[0], BODY);
    assert_eq!(certs, vec![cert.der.as_slice()]);
    let legacy = record.encode_to_vec();
    assert!(
        value.len() + cert.der.len() < legacy.len(),
        "compact {} vs protobuf {}",
        value.len(),
        legacy.len()
    );
    assert_eq!(decode_with(&value, &cert), record);
}

#[test]
fn a_record_without_body_keeps_its_hash() {
    let stub = pb::StoredRecord {
        envelope: None,
        content_sha256: vec![7; 32],
        stored_at_ms: -5,
    };
    let (value, certs) = encode_record(&stub);
    assert_eq!((value[0], value.len(), certs.len()), (STUB, 41, 0));
    let (_, cert) = signed_record();
    assert_eq!(decode_with(&value, &cert), stub);
}

#[test]
fn what_compact_cannot_say_is_kept_verbatim() {
    let (record, cert) = signed_record();
    let mut unknown_type = record.clone();
    unknown_type.envelope.as_mut().unwrap().payload_type = "text/plain".into();
    let mut other_key_id = record.clone();
    other_key_id.envelope.as_mut().unwrap().signatures[0].keyid = "abc".into();
    let mut other_hash = record.clone();
    other_hash.content_sha256 = vec![1; 32];
    for odd in [unknown_type, other_key_id, other_hash] {
        let (value, certs) = encode_record(&odd);
        assert_eq!((value[0], certs.len()), (VERBATIM, 0));
        assert_eq!(decode_with(&value, &cert), odd);
    }
}

#[test]
fn a_format_2_value_still_decodes() {
    let (record, cert) = signed_record();
    let legacy = record.encode_to_vec();
    assert!(is_legacy(&legacy));
    assert!(!is_legacy(&encode_record(&record).0));
    assert_eq!(decode_with(&legacy, &cert), record);
}

#[test]
fn a_checkpoint_keeps_its_note_and_names_its_signer() {
    let (_, cert) = signed_record();
    let value = encode_checkpoint("origin\n5\nroot=\n", &cert.der);
    assert_eq!(value.len(), 9 + 15);
    let (note, signer) = decode_checkpoint(&value).unwrap();
    assert_eq!(note, "origin\n5\nroot=\n");
    assert_eq!(signer, CheckpointSigner::Ref(cert.reference()));
    let legacy = pb::GetCheckpointResponse {
        checkpoint: Some(pb::Checkpoint {
            signed_note: note.clone(),
        }),
        signer_certificate: cert.der.clone(),
    }
    .encode_to_vec();
    let (old_note, old_signer) = decode_checkpoint(&legacy).unwrap();
    assert_eq!(old_note, note);
    assert_eq!(old_signer, CheckpointSigner::Der(cert.der.clone()));
}

#[test]
fn a_truncated_or_padded_compact_record_is_corrupt() {
    let (record, cert) = signed_record();
    let (value, _) = encode_record(&record);
    for bad in [
        &value[..value.len() - 1],
        &[value.as_slice(), &[0]].concat()[..],
    ] {
        let c = cert.clone();
        let err = decode_record(bad, &move |_| Ok(c.clone())).unwrap_err();
        assert!(err.to_string().contains("malformed compact value"), "{err}");
    }
}
