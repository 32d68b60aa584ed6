//! Receipts and checkpoints from a real small log in memory, signed by
//! signer certificates of an in-memory consortium CA (rcgen).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::SystemTime;

use ring::signature::Ed25519KeyPair;
use rustls_pki_types::PrivateKeyDer;

use super::*;
use crate::audit::checkpoint::CheckpointError;
use crate::audit::merkle::{RightEdge, SubtreeHashes};
use crate::audit::proof::{consistency_proof, inclusion_proof};
use crate::pki::Role;
use crate::signing::Signer;
use crate::signing::test_ca::{Leaf, TestCa};

/// Asserts that `value` matches `pattern`, printing it when it does not.
macro_rules! assert_matches {
    ($value:expr, $pattern:pat) => {{
        let value = &$value;
        assert!(matches!(value, $pattern), "{value:?}");
    }};
}

const ORIGIN: &str = "credshare.example/BANK-A/query-log";

fn inst(id: &str) -> InstitutionId {
    InstitutionId::parse(id).unwrap()
}

/// The checkpoint error a receipt failed with; panics on any other outcome.
fn checkpoint_error(result: Result<VerifiedReceipt, ReceiptError>) -> CheckpointError {
    match result {
        Err(ReceiptError::Checkpoint(e)) => e,
        other => panic!("{other:?}"),
    }
}

fn ed25519(key: &PrivateKeyDer<'_>) -> Ed25519KeyPair {
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        panic!("PKCS#8 key expected")
    };
    Ed25519KeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()).unwrap()
}

/// A log in memory: entries, complete-subtree hashes, the right edge.
struct MemoryLog {
    entries: Vec<Vec<u8>>,
    hashes: HashMap<(u8, u64), Hash>,
    edge: RightEdge,
}

impl SubtreeHashes for MemoryLog {
    type Error = Infallible;

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, Infallible> {
        Ok(self.hashes[&(level, index)])
    }
}

impl MemoryLog {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            hashes: HashMap::new(),
            edge: RightEdge::empty(),
        }
    }

    fn append(&mut self, entry: Vec<u8>) {
        for (level, index, hash) in self.edge.append(leaf_hash(&entry)) {
            self.hashes.insert((level, index), hash);
        }
        self.entries.push(entry);
    }

    /// A log of `n` record-batch entries.
    fn with_entries(n: u64) -> Self {
        let mut log = Self::new();
        for i in 0..n {
            log.append(sample_entry(i).encode_to_vec());
        }
        log
    }

    fn checkpoint(&self, size: u64) -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size,
            root: crate::audit::root_at(self, size).unwrap(),
            timestamp_ms: Some(1_900_000_000_000 + size as i64),
            extensions: Vec::new(),
        }
    }

    /// The receipt of `leaf` against the checkpoint of the whole log.
    fn receipt(&self, leaf: u64, signer: &Signer) -> pb::Receipt {
        let size = self.edge.size();
        let note = self.checkpoint(size).sign(ORIGIN, signer.key_pair());
        pb::Receipt {
            leaf_index: leaf,
            entry: self.entries[leaf as usize].clone(),
            checkpoint: Some(pb::Checkpoint { signed_note: note }),
            proof: Some(pb::InclusionProof {
                leaf_index: leaf,
                tree_size: size,
                hashes: inclusion_proof(self, leaf, size)
                    .unwrap()
                    .iter()
                    .map(|h| h.to_vec())
                    .collect(),
            }),
            signer_certificate: signer.certificate_der().to_vec(),
            ..Default::default()
        }
    }
}

fn sample_entry(i: u64) -> pb::LogEntry {
    pb::LogEntry {
        time_ms: 1_718_000_000_000 + i as i64,
        kind: Some(pb::log_entry::Kind::RecordBatch(pb::RecordBatchEntry {
            actor: "urn:credshare:admin:BANK-A".into(),
            stored: i as u32 + 1,
            unchanged: 0,
            records_digest: vec![i as u8; 32],
            ..Default::default()
        })),
    }
}

struct Fixture {
    ca: TestCa,
    signer: Signer,
    verifier: SignatureVerifier,
    log: MemoryLog,
}

fn fixture() -> Fixture {
    let mut ca = TestCa::new("Test Consortium CA");
    Fixture {
        signer: ca.signer("BANK-A"),
        verifier: ca.verifier(&[]),
        log: MemoryLog::with_entries(13),
        ca,
    }
}

impl Fixture {
    fn verify(&self, receipt: &pb::Receipt) -> Result<VerifiedReceipt, ReceiptError> {
        verify_receipt(
            receipt,
            &self.verifier,
            &inst("BANK-A"),
            None,
            SystemTime::now(),
        )
    }
}

fn assert_not_included(result: Result<VerifiedReceipt, ReceiptError>, expected: ProofError) {
    match result {
        Err(ReceiptError::NotIncluded { source, .. }) => assert_eq!(source, expected),
        other => panic!("expected NotIncluded({expected:?}), got {other:?}"),
    }
}

#[test]
fn good_receipts_verify_for_every_leaf() {
    let f = fixture();
    for leaf in 0..13 {
        let verified = f.verify(&f.log.receipt(leaf, &f.signer)).unwrap();
        assert_eq!(verified.leaf_index, leaf);
        assert_eq!(verified.tree_size, 13);
        assert_eq!(verified.root, f.log.edge.root());
        assert_eq!(verified.entry, sample_entry(leaf));
        assert_eq!(verified.origin, ORIGIN);
        assert_eq!(verified.signer, inst("BANK-A"));
        assert_eq!(verified.timestamp_ms, Some(1_900_000_000_013));
    }
    let receipt = f.log.receipt(4, &f.signer);
    let strict = verify_receipt(
        &receipt,
        &f.verifier,
        &inst("BANK-A"),
        Some(ORIGIN),
        SystemTime::now(),
    );
    assert!(strict.is_ok(), "{strict:?}");
}

#[test]
fn a_flipped_entry_byte_is_not_included() {
    let f = fixture();
    let good = f.log.receipt(6, &f.signer);
    for position in 0..good.entry.len() {
        let mut receipt = good.clone();
        receipt.entry[position] ^= 0x01;
        assert_not_included(f.verify(&receipt), ProofError::RootMismatch);
    }
}

#[test]
fn a_wrong_index_is_rejected() {
    let f = fixture();
    // Another index for the same entry and proof.
    let mut receipt = f.log.receipt(6, &f.signer);
    receipt.leaf_index = 7;
    receipt.proof.as_mut().unwrap().leaf_index = 7;
    assert_not_included(f.verify(&receipt), ProofError::RootMismatch);
    // Receipt and proof disagree.
    let mut receipt = f.log.receipt(6, &f.signer);
    receipt.leaf_index = 5;
    assert!(matches!(
        f.verify(&receipt),
        Err(ReceiptError::LeafMismatch {
            receipt: 5,
            proof: 6
        })
    ));
    // Beyond the tree.
    let mut receipt = f.log.receipt(12, &f.signer);
    receipt.leaf_index = 13;
    receipt.proof.as_mut().unwrap().leaf_index = 13;
    assert_not_included(
        f.verify(&receipt),
        ProofError::IndexOutOfRange {
            index: 13,
            size: 13,
        },
    );
}

#[test]
fn a_wrong_proof_is_rejected() {
    let f = fixture();
    let good = f.log.receipt(6, &f.signer);

    let mut flipped = good.clone();
    flipped.proof.as_mut().unwrap().hashes[1][0] ^= 0x80;
    assert_not_included(f.verify(&flipped), ProofError::RootMismatch);

    // The proof of another leaf.
    let mut other = good.clone();
    other.proof.as_mut().unwrap().hashes = f.log.receipt(9, &f.signer).proof.unwrap().hashes;
    assert_not_included(f.verify(&other), ProofError::RootMismatch);

    let mut short = good.clone();
    short.proof.as_mut().unwrap().hashes.pop();
    assert!(matches!(
        f.verify(&short),
        Err(ReceiptError::NotIncluded {
            source: ProofError::WrongLength { .. },
            ..
        })
    ));

    let mut bad_hash = good.clone();
    bad_hash.proof.as_mut().unwrap().hashes[0].truncate(31);
    assert!(matches!(
        f.verify(&bad_hash),
        Err(ReceiptError::MalformedProofHash {
            position: 0,
            len: 31
        })
    ));

    let mut wrong_size = good.clone();
    wrong_size.proof.as_mut().unwrap().tree_size = 12;
    assert!(matches!(
        f.verify(&wrong_size),
        Err(ReceiptError::TreeSizeMismatch {
            proof: 12,
            checkpoint: 13
        })
    ));

    let mut missing = good.clone();
    missing.proof = None;
    assert!(matches!(
        f.verify(&missing),
        Err(ReceiptError::Missing("inclusion proof"))
    ));
    let mut missing = good;
    missing.checkpoint = None;
    assert!(matches!(
        f.verify(&missing),
        Err(ReceiptError::Missing("checkpoint"))
    ));
}

#[test]
fn another_institutions_signer_is_rejected() {
    let mut f = fixture();
    let signer_b = f.ca.signer("BANK-B");
    // BANK-B signed the checkpoint and attached its own certificate.
    let receipt = f.log.receipt(3, &signer_b);
    match f.verify(&receipt) {
        Err(ReceiptError::WrongHolder { expected, actual }) => {
            assert_eq!((expected.as_str(), actual.as_str()), ("BANK-A", "BANK-B"));
        }
        other => panic!("{other:?}"),
    }
    // BANK-B signed, but BANK-A's certificate is attached.
    let mut receipt = f.log.receipt(3, &signer_b);
    receipt.signer_certificate = f.signer.certificate_der().to_vec();
    let error = checkpoint_error(f.verify(&receipt));
    assert_matches!(error, CheckpointError::NoMatchingSignature { .. });
}

#[test]
fn a_wrong_holder_is_rejected() {
    let f = fixture();
    let receipt = f.log.receipt(3, &f.signer);
    let result = verify_receipt(
        &receipt,
        &f.verifier,
        &inst("BANK-C"),
        None,
        SystemTime::now(),
    );
    assert_matches!(result, Err(ReceiptError::WrongHolder { .. }));
    let result = verify_receipt(
        &receipt,
        &f.verifier,
        &inst("BANK-A"),
        Some("credshare.example/BANK-C/query-log"),
        SystemTime::now(),
    );
    assert_matches!(result, Err(ReceiptError::WrongOrigin { .. }));
}

#[test]
fn a_node_certificate_is_not_a_signer() {
    let mut f = fixture();
    let Leaf { cert, key, .. } = f.ca.leaf(Role::Node, "BANK-A");
    let mut receipt = f.log.receipt(3, &f.signer);
    let note = f.log.checkpoint(13).sign(ORIGIN, &ed25519(&key));
    receipt.checkpoint = Some(pb::Checkpoint { signed_note: note });
    receipt.signer_certificate = cert.to_vec();
    let result = f.verify(&receipt);
    assert_matches!(result, Err(ReceiptError::UntrustedSigner(_)));
}

#[test]
fn a_signer_of_another_ca_is_untrusted() {
    let f = fixture();
    let foreign = TestCa::new("Test Consortium CA").signer("BANK-A");
    let result = f.verify(&f.log.receipt(3, &foreign));
    assert_matches!(result, Err(ReceiptError::UntrustedSigner(_)));
}

#[test]
fn a_tampered_note_is_rejected() {
    let f = fixture();
    let mut receipt = f.log.receipt(3, &f.signer);
    let note = &mut receipt.checkpoint.as_mut().unwrap().signed_note;
    *note = note.replacen("\n13\n", "\n14\n", 1);
    let error = checkpoint_error(f.verify(&receipt));
    assert_matches!(error, CheckpointError::BadSignature { .. });
}

#[test]
fn an_entry_that_is_not_a_log_entry_is_rejected() {
    let f = fixture();
    let mut log = MemoryLog::with_entries(3);
    log.append(vec![0xff; 5]);
    let result = f.verify(&log.receipt(3, &f.signer));
    assert!(
        matches!(
            result,
            Err(ReceiptError::MalformedEntry { leaf_index: 3, .. })
        ),
        "{result:?}"
    );
}

#[test]
fn consistent_checkpoints_verify_and_rewritten_history_does_not() {
    let log = MemoryLog::with_entries(13);
    let proof = |old, new| consistency_proof(&log, old, new).unwrap();
    for old in 1..=13 {
        let result = verify_checkpoint_consistency(
            &log.checkpoint(old),
            &log.checkpoint(13),
            &proof(old, 13),
        );
        assert!(result.is_ok(), "{old}: {result:?}");
    }

    // A log whose entry 2 was edited after the checkpoint of size 5.
    let mut rewritten = MemoryLog::new();
    for i in 0..13 {
        let entry = if i == 2 {
            sample_entry(99)
        } else {
            sample_entry(i)
        };
        rewritten.append(entry.encode_to_vec());
    }
    let forged_proof = consistency_proof(&rewritten, 5, 13).unwrap();
    let result =
        verify_checkpoint_consistency(&log.checkpoint(5), &rewritten.checkpoint(13), &forged_proof);
    assert!(
        matches!(
            result,
            Err(ReceiptError::Inconsistent {
                old_size: 5,
                new_size: 13,
                ..
            })
        ),
        "{result:?}"
    );

    // Shrinking is never consistent.
    let result = verify_checkpoint_consistency(&log.checkpoint(13), &log.checkpoint(5), &[]);
    assert!(matches!(
        result,
        Err(ReceiptError::Inconsistent {
            source: ProofError::SizeOrder { .. },
            ..
        })
    ));

    let mut other_log = log.checkpoint(13);
    other_log.origin = "credshare.example/BANK-B/query-log".into();
    let result = verify_checkpoint_consistency(&log.checkpoint(5), &other_log, &proof(5, 13));
    assert!(matches!(result, Err(ReceiptError::DifferentLogs { .. })));
}

#[test]
fn signed_checkpoints_verify_from_the_ca_alone() {
    let f = fixture();
    let note = f.log.checkpoint(13).sign(ORIGIN, f.signer.key_pair());
    let signed = verify_signed_checkpoint(
        &note,
        f.signer.certificate_der(),
        &f.verifier,
        None,
        None,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(signed.checkpoint, f.log.checkpoint(13));
    assert_eq!(signed.signer, inst("BANK-A"));
    assert_eq!(signed.signer_key_id, f.signer.key_id());
    let oversized = vec![0u8; crate::signing::MAX_CERTIFICATE_BYTES + 1];
    assert!(matches!(
        verify_signed_checkpoint(
            &note,
            &oversized,
            &f.verifier,
            None,
            None,
            SystemTime::now()
        ),
        Err(ReceiptError::TooLarge { .. })
    ));
}
