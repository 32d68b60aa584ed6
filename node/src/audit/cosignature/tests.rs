//! Cosignature tests: a known answer computed independently (Python
//! `cryptography`), the C2SP example's layout, and what must not verify.

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::*;
use crate::audit::checkpoint;

const WITNESS: &str = "credshare.example/BANK-B/witness";

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("32-byte seed")
}

fn sample() -> Checkpoint {
    Checkpoint {
        origin: "credshare.example/BANK-A/query-log".to_owned(),
        size: 42,
        root: std::array::from_fn(|i| i as u8),
        timestamp_ms: Some(1_718_000_000_000),
        extensions: Vec::new(),
    }
}

/// The log's own note over `sample()`, signed by seed 1.
fn log_note() -> String {
    let cp = sample();
    cp.sign(&cp.origin, &key(1))
}

/// Computed with Python `cryptography` from the C2SP text alone: seed
/// [7; 32], name WITNESS, time 1718000001, over `sample()`'s body.
#[test]
fn known_answer_from_an_independent_implementation() {
    let line = cosign(&sample(), WITNESS, &key(7), 1_718_000_001);
    assert_eq!(
        line,
        "\u{2014} credshare.example/BANK-B/witness nrnUEAAAAABmZpmBAVd6tSZ9FcY8T8+X0wZEPv8Nd5kNcKhZbvwFd0s+xKRBI8kqQ2/r4t2Tq69MEj2jEkO67vmJ6VJW0xuSR2ZRDQ==\n"
    );
}

#[test]
fn signed_message_is_header_time_and_whole_body() {
    let body = sample().body();
    assert_eq!(
        cosigned_message(&body, 1_679_315_147),
        format!("cosignature/v1\ntime 1679315147\n{body}")
    );
}

/// tlog-cosignature's example line: key id (4) ‖ timestamp (8, BE) ‖
/// signature (64), its timestamp the one its example message shows.
#[test]
fn c2sp_example_line_has_the_layout_we_write() {
    let blob = base64::engine::general_purpose::STANDARD
        .decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")
        .expect("base64");
    assert_eq!(blob.len(), 4 + 8 + 64);
    let time = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
    assert_eq!(time, 1_679_315_147);
}

#[test]
fn cosigned_note_verifies_for_log_and_witness() {
    let witness = key(7);
    let note = append_signatures(
        &log_note(),
        [cosign(&sample(), WITNESS, &witness, 1_718_000_001).as_str()],
    );
    let got = verify_cosignature(&note, witness.public_key().as_ref()).expect("cosignature");
    assert_eq!(got.name, WITNESS);
    assert_eq!(got.timestamp, 1_718_000_001);
    let cp = sample();
    let public = key(1).public_key().as_ref().to_vec();
    assert_eq!(
        Checkpoint::verify(&note, &cp.origin, &public).expect("log"),
        cp
    );
}

#[test]
fn cosignature_of_another_checkpoint_or_key_does_not_verify() {
    let witness = key(7);
    let mut other = sample();
    other.size = 43;
    let line = cosign(&other, WITNESS, &witness, 5);
    let note = append_signatures(&log_note(), [line.as_str()]);
    assert!(matches!(
        verify_cosignature(&note, witness.public_key().as_ref()),
        Err(CheckpointError::BadSignature { .. })
    ));
    let good = append_signatures(
        &log_note(),
        [cosign(&sample(), WITNESS, &witness, 5).as_str()],
    );
    assert!(matches!(
        verify_cosignature(&good, key(8).public_key().as_ref()),
        Err(CheckpointError::NoMatchingSignature { .. })
    ));
}

/// The log's own signature (type 0x01) is never taken for a cosignature
/// (type 0x04), even when the log and witness key are the same.
#[test]
fn log_signature_is_not_a_cosignature() {
    let note = log_note();
    assert!(matches!(
        verify_cosignature(&note, key(1).public_key().as_ref()),
        Err(CheckpointError::NoMatchingSignature { .. })
    ));
    assert_ne!(
        cosigner_key_id(WITNESS, key(1).public_key().as_ref()),
        checkpoint::key_id(WITNESS, key(1).public_key().as_ref())
    );
}

#[test]
fn two_cosignatures_by_one_key_are_refused() {
    let witness = key(7);
    let line = cosign(&sample(), WITNESS, &witness, 5);
    let note = append_signatures(&log_note(), [line.as_str(), line.as_str()]);
    assert!(matches!(
        verify_cosignature(&note, witness.public_key().as_ref()),
        Err(CheckpointError::DuplicateSignature { .. })
    ));
}
