//! Checkpoint and signed-note tests: the Go `sumdb/note` published vector,
//! a known answer computed independently (Python `cryptography`), tampering
//! and strict parsing.

use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::*;
use crate::audit::merkle::EMPTY_ROOT;

const ORIGIN: &str = "credshare.example/BANK-A/query-log";

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("32-byte seed")
}

fn public(key: &Ed25519KeyPair) -> Vec<u8> {
    key.public_key().as_ref().to_vec()
}

fn sample() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 42,
        root: std::array::from_fn(|i| i as u8),
        timestamp_ms: Some(1_718_000_000_000),
        extensions: Vec::new(),
    }
}

/// golang.org/x/mod/sumdb/note: the package documentation's example note,
/// signed by `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`.
#[test]
fn go_sumdb_note_vector() {
    let seed = hex::decode("810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173")
        .expect("hex");
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    assert_eq!(
        hex::encode(key_id("PeterNeumann", key.public_key().as_ref())),
        "c74f20a3"
    );
    assert_eq!(sign_note(text, "PeterNeumann", &key), note);
    assert_eq!(verify_note(note, "PeterNeumann", &public(&key)), Ok(text));
    let altered = note.replace("cryptography", "cryptographY");
    assert!(verify_note(&altered, "PeterNeumann", &public(&key)).is_err());
}

/// Computed with Python's `cryptography` from the C2SP specifications.
#[test]
fn checkpoint_known_answer() {
    let key = key(7);
    assert_eq!(
        hex::encode(key.public_key().as_ref()),
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    );
    assert_eq!(
        hex::encode(key_id(ORIGIN, key.public_key().as_ref())),
        "b679f96f"
    );
    let note = "credshare.example/BANK-A/query-log\n42\n\
                AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nTimestamp: 1718000000000\n\n\
                \u{2014} credshare.example/BANK-A/query-log \
                tnn5b1UcP1ps43XM9Vaqe+R5f8StBKn2s1eUTNd+8n1qV5sPXsMjMFs5Mmer1WUkWCp3y5bSIN0x6+7WsRl83/upTQo=\n";
    assert_eq!(sample().sign(ORIGIN, &key), note);
    assert_eq!(
        Checkpoint::verify(note, ORIGIN, &public(&key)),
        Ok(sample())
    );
    assert_eq!(Checkpoint::parse_unverified(note), Ok(sample()));
}

#[test]
fn body_is_the_c2sp_layout() {
    let checkpoint = Checkpoint {
        origin: "example.org/log".to_owned(),
        size: 0,
        root: EMPTY_ROOT,
        timestamp_ms: Some(5),
        extensions: Vec::new(),
    };
    assert_eq!(
        checkpoint.body(),
        "example.org/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nTimestamp: 5\n"
    );
}

#[test]
fn round_trips_at_the_extremes() {
    let key = key(1);
    for (size, timestamp_ms) in [(0, 0), (1, -1), (u64::MAX, i64::MAX), (7, i64::MIN)] {
        let checkpoint = Checkpoint {
            size,
            timestamp_ms: Some(timestamp_ms),
            ..sample()
        };
        let note = checkpoint.sign(ORIGIN, &key);
        assert_eq!(
            Checkpoint::verify(&note, ORIGIN, &public(&key)),
            Ok(checkpoint)
        );
    }
}

#[test]
fn any_flipped_bit_fails() {
    let key = key(7);
    let note = sample().sign(ORIGIN, &key);
    let mut checked = 0;
    for position in 0..note.len() {
        for bit in 0..8 {
            let mut bytes = note.clone().into_bytes();
            bytes[position] ^= 1 << bit;
            // A flip that breaks UTF-8 cannot even reach the parser as &str.
            let Ok(tampered) = String::from_utf8(bytes) else {
                continue;
            };
            assert!(
                Checkpoint::verify(&tampered, ORIGIN, &public(&key)).is_err(),
                "bit {bit} of byte {position} flipped and still verified"
            );
            checked += 1;
        }
    }
    assert!(checked > note.len() * 6);
}

#[test]
fn wrong_key_or_key_name_fails() {
    let key = key(7);
    let note = sample().sign(ORIGIN, &key);
    let other = public(&self::key(8));
    assert!(matches!(
        Checkpoint::verify(&note, ORIGIN, &other),
        Err(CheckpointError::NoMatchingSignature { .. })
    ));
    assert!(matches!(
        Checkpoint::verify(&note, "credshare.example/BANK-B/query-log", &public(&key)),
        Err(CheckpointError::NoMatchingSignature { .. })
    ));
    assert_eq!(
        Checkpoint::verify(&note, ORIGIN, &public(&key)[..31]),
        Err(CheckpointError::InvalidPublicKey { len: 31 })
    );
    assert!(matches!(
        Checkpoint::verify(&note, "has space", &public(&key)),
        Err(CheckpointError::InvalidKeyName { .. })
    ));
    // Right name and key id, signature made by a different key.
    let forged_blob = [
        &key_id(ORIGIN, key.public_key().as_ref())[..],
        self::key(8).sign(sample().body().as_bytes()).as_ref(),
    ]
    .concat();
    let forged = format!(
        "{}\n\u{2014} {ORIGIN} {}\n",
        sample().body(),
        BASE64.encode(forged_blob)
    );
    assert_eq!(
        Checkpoint::verify(&forged, ORIGIN, &public(&key)),
        Err(CheckpointError::BadSignature {
            key_name: ORIGIN.to_owned()
        })
    );
}

/// The signature line of `key_name`/`key` over `text`, for co-signed notes.
fn signature_line(text: &str, key_name: &str, key: &Ed25519KeyPair) -> String {
    let note = sign_note(text, key_name, key);
    note[text.len() + 1..].to_owned()
}

#[test]
fn other_signature_lines_are_ignored() {
    let (ours, witness) = (key(7), key(9));
    let body = sample().body();
    let ours_line = signature_line(&body, ORIGIN, &ours);
    let witness_line = signature_line(&body, "witness.example", &witness);
    let unknown_line = format!("\u{2014} someone.else {}\n", BASE64.encode([1u8; 68]));
    let note = format!("{body}\n{witness_line}{unknown_line}{ours_line}");
    assert_eq!(
        Checkpoint::verify(&note, ORIGIN, &public(&ours)),
        Ok(sample())
    );
    assert_eq!(
        verify_note(&note, "witness.example", &public(&witness)),
        Ok(body.as_str())
    );

    let twice = format!("{body}\n{ours_line}{ours_line}");
    assert_eq!(
        Checkpoint::verify(&twice, ORIGIN, &public(&ours)),
        Err(CheckpointError::DuplicateSignature {
            key_name: ORIGIN.to_owned()
        })
    );
}

/// C2SP: extension lines are optional, and other extensions are kept.
#[test]
fn extension_lines_are_optional() {
    let key = key(7);
    let root = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let bare = format!("{ORIGIN}\n42\n{root}\n");
    let cp = Checkpoint::verify(&sign_note(&bare, ORIGIN, &key), ORIGIN, &public(&key)).unwrap();
    assert_eq!((cp.size, cp.timestamp_ms), (42, None));
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.body(), bare);
    let extended = format!("{ORIGIN}\n42\n{root}\nTimestamp: 7\nWitnessed-By: x\ntimestamp: 1\n");
    let cp =
        Checkpoint::verify(&sign_note(&extended, ORIGIN, &key), ORIGIN, &public(&key)).unwrap();
    assert_eq!(cp.timestamp_ms, Some(7));
    assert_eq!(cp.extensions, vec!["Witnessed-By: x", "timestamp: 1"]);
    assert_eq!(cp.body(), extended);
}

/// Bodies that are validly signed but are not a valid checkpoint.
#[test]
fn strict_body_parsing() {
    let key = key(7);
    let root = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let good = format!("{ORIGIN}\n42\n{root}\nTimestamp: 1\n");
    assert!(Checkpoint::verify(&sign_note(&good, ORIGIN, &key), ORIGIN, &public(&key)).is_ok());
    let cases = [
        (
            format!("{ORIGIN}\n042\n{root}\nTimestamp: 1\n"),
            "tree size",
        ),
        (
            format!("{ORIGIN}\n+42\n{root}\nTimestamp: 1\n"),
            "tree size",
        ),
        (format!("{ORIGIN}\n-1\n{root}\nTimestamp: 1\n"), "tree size"),
        (format!("{ORIGIN}\n\n{root}\nTimestamp: 1\n"), "tree size"),
        (
            format!("{ORIGIN}\n18446744073709551616\n{root}\nTimestamp: 1\n"),
            "tree size",
        ),
        (
            format!("{ORIGIN}\n 42\n{root}\nTimestamp: 1\n"),
            "tree size",
        ),
        (
            format!("{ORIGIN}\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\nTimestamp: 1\n"),
            "root hash",
        ),
        (
            format!("{ORIGIN}\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\nTimestamp: 1\n"),
            "root hash",
        ),
        (
            format!("{ORIGIN}\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\nTimestamp: 1\n"),
            "root hash",
        ),
        (
            format!("{ORIGIN}\n42\n{root}\nTimestamp: 01\n"),
            "timestamp",
        ),
        (
            format!("{ORIGIN}\n42\n{root}\nTimestamp: -0\n"),
            "timestamp",
        ),
        (format!("{ORIGIN}\n42\n"), "layout"),
        (
            format!("{ORIGIN}\n42\n{root}\nTimestamp: 1\nTimestamp: 2\n"),
            "timestamp",
        ),
        (
            format!("{ORIGIN}\n42\n{root}\n\nTimestamp: 1\n"),
            "extensions",
        ),
        (format!("\n42\n{root}\nTimestamp: 1\n"), "origin"),
        (
            format!("credshare.example/BANK A\n42\n{root}\nTimestamp: 1\n"),
            "origin",
        ),
    ];
    for (body, field) in cases {
        let note = sign_note(&body, ORIGIN, &key);
        for result in [
            Checkpoint::verify(&note, ORIGIN, &public(&key)),
            Checkpoint::parse_unverified(&note),
        ] {
            match result {
                Err(CheckpointError::MalformedBody { field: got, .. }) => {
                    assert_eq!(got, field, "{body:?}")
                }
                other => panic!("{body:?} gave {other:?}"),
            }
        }
    }
}

#[test]
fn strict_envelope_parsing() {
    let key = key(7);
    let note = sample().sign(ORIGIN, &key);
    let body = sample().body();
    let line = signature_line(&body, ORIGIN, &key);
    let blob = line.trim_end().rsplit(' ').next().expect("blob").to_owned();
    let verify = |text: &str| Checkpoint::verify(text, ORIGIN, &public(&key));
    let malformed = |text: &str| match verify(text) {
        Err(CheckpointError::MalformedSignatureLine { line: 1, .. }) => {}
        other => panic!("{text:?} gave {other:?}"),
    };

    assert_eq!(
        verify(note.trim_end()),
        Err(CheckpointError::NoFinalNewline)
    );
    assert_eq!(verify(&body), Err(CheckpointError::NoSignatures));
    assert_eq!(
        verify(&format!("{body}\n")),
        Err(CheckpointError::NoSignatures)
    );
    assert_eq!(
        verify(&note.replace('\n', "\r\n")),
        Err(CheckpointError::NoSignatures)
    );
    malformed(&format!("{}\r\n", note.trim_end()));
    malformed(&format!("{body}\n- {ORIGIN} {blob}\n"));
    malformed(&format!("{body}\n\u{2014}{ORIGIN} {blob}\n"));
    malformed(&format!("{body}\n\u{2014} {ORIGIN}{blob}\n"));
    malformed(&format!(
        "{body}\n\u{2014} {ORIGIN} {}\n",
        blob.trim_end_matches('=')
    ));
    malformed(&format!("{body}\n\u{2014} {ORIGIN} {blob} \n"));
    malformed(&format!(
        "{body}\n\u{2014} {ORIGIN} {}\n",
        BASE64.encode([0u8; 4])
    ));
    malformed(&format!("{body}\n\u{2014} a+b {blob}\n"));

    let mut huge = body.clone();
    huge.push('\n');
    huge.push_str(&line.repeat(MAX_NOTE_BYTES / line.len() + 1));
    assert!(matches!(
        verify(&huge),
        Err(CheckpointError::TooLarge { .. })
    ));
    let crowded = format!("{body}\n{}", line.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        verify(&crowded),
        Err(CheckpointError::TooManySignatures {
            count: MAX_SIGNATURES + 1,
            max: MAX_SIGNATURES
        })
    );
    let with_tab = sign_note(&body.replacen('\n', "\t\n", 1), ORIGIN, &key);
    assert_eq!(verify(&with_tab), Err(CheckpointError::ControlCharacter));
}

#[test]
fn key_names_and_origins() {
    assert!(validate_key_name(ORIGIN).is_ok());
    for bad in ["", "a b", "a+b", "a\nb", "a\u{a0}b", "a\u{7f}b"] {
        assert!(validate_key_name(bad).is_err(), "{bad:?}");
    }
    assert!(validate_origin(ORIGIN).is_ok());
    assert!(validate_origin("example.org/a+b").is_ok());
    for bad in ["", "a b", "a\nb", "a\tb", "a\u{0}b"] {
        assert!(validate_origin(bad).is_err(), "{bad:?}");
    }
}
