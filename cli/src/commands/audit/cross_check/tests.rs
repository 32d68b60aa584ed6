//! The matcher on constructed logs (entries fed through `LogView::take`,
//! as they stream), and witness evidence re-checked from a real dev CA with
//! notes signed by real signer keys.

use std::time::SystemTime;

use credshare_node::audit::{Checkpoint, SignedCheckpoint, consistency_proof, leaf_hash};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::{SignatureVerifier, Signer};
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::collect::LogView;
use super::matcher::{FindingKind, match_logs};
use super::witness::{WitnessVerdict, recheck};
use crate::commands::audit::session::FetchedCheckpoint;
use crate::commands::audit::tests::MemoryTree;

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;

/// An empty log of `institution` whose newest checkpoint is at `newest_ms`.
fn log(institution: &str, newest_ms: i64) -> LogView {
    let checkpoint = Checkpoint {
        origin: format!("credshare.example/{institution}/query-log"),
        size: 0,
        root: [0; 32],
        timestamp_ms: Some(newest_ms),
        extensions: Vec::new(),
    };
    let newest = FetchedCheckpoint {
        note: String::new(),
        signer_certificate: Vec::new(),
        signed: SignedCheckpoint {
            checkpoint,
            signer: InstitutionId::parse(institution).unwrap(),
            signer_key_id: format!("{institution}-key"),
        },
    };
    let mut view = LogView::new("127.0.0.1:1", newest);
    // The first entry (a signer key) opens the time the log covers.
    view.take(0, entry(T0, Kind::SignerKey(pb::SignerKeyEntry::default())));
    view
}

fn entry(time_ms: i64, kind: Kind) -> pb::LogEntry {
    pb::LogEntry {
        time_ms,
        kind: Some(kind),
    }
}

fn sent(holder: &str, nonce: u8, leaf: Option<u64>, outcome: &str) -> Kind {
    Kind::OutgoingQuery(pb::OutgoingQueryEntry {
        peer_institution: holder.into(),
        borrower_key: vec![7; 32],
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        outcome: outcome.into(),
        peer_leaf_index: leaf,
        request_nonce: vec![nonce; 16],
        ..Default::default()
    })
}

fn received(requester: &str, nonce: u8, decision: pb::Decision) -> Kind {
    Kind::PeerQuery(pb::PeerQueryEntry {
        requester_institution: requester.into(),
        borrower_key: vec![7; 32],
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        decision: decision as i32,
        request_nonce: vec![nonce; 16],
        ..Default::default()
    })
}

#[test]
fn a_query_in_both_logs_matches_and_one_side_missing_is_a_finding() {
    let mut a = log("BANK-A", T0 + 10 * MINUTE);
    let mut b = log("BANK-B", T0 + 10 * MINUTE);
    // 1: in both logs. 2: A holds a receipt, B has nothing. 3: B answered,
    // A has nothing. 4: sent, timed out, no receipt, B never saw it.
    b.take(
        1,
        entry(T0 + MINUTE, received("BANK-A", 1, pb::Decision::Answered)),
    );
    a.take(
        1,
        entry(T0 + MINUTE, sent("BANK-B", 1, Some(1), "ANSWERED")),
    );
    a.take(
        2,
        entry(
            T0 + 2 * MINUTE,
            sent("BANK-B", 2, Some(0), "DENIED:EXPIRED"),
        ),
    );
    b.take(
        2,
        entry(
            T0 + 3 * MINUTE,
            received("BANK-A", 3, pb::Decision::Answered),
        ),
    );
    a.take(
        3,
        entry(T0 + 4 * MINUTE, sent("BANK-B", 4, None, "TIMED_OUT")),
    );

    let (findings, counts) = match_logs(&[a, b], 0);
    assert_eq!((counts.matched, counts.unanswered), (1, 1));
    let kinds: Vec<_> = findings.iter().map(|f| (f.kind, f.nonce[0])).collect();
    assert_eq!(
        kinds,
        [
            (FindingKind::HolderDidNotLog, 2),
            (FindingKind::RequesterDidNotLog, 3)
        ]
    );
    // A leaf of 0 is a receipt: "no receipt" is told apart from it.
    assert_eq!(
        findings[0]
            .sent
            .as_ref()
            .unwrap()
            .receipt
            .as_ref()
            .unwrap()
            .leaf,
        0
    );
    assert_eq!(findings[1].received.as_ref().unwrap().query.index, 2);
    assert!(findings[1].sent.is_none());
}

#[test]
fn entries_of_one_query_that_say_different_things_are_reported() {
    let mut a = log("BANK-A", T0 + 10 * MINUTE);
    let mut b = log("BANK-B", T0 + 10 * MINUTE);
    let mut wrong_purpose = received("BANK-A", 1, pb::Decision::Answered);
    if let Kind::PeerQuery(q) = &mut wrong_purpose {
        q.purpose = pb::Purpose::PostLoanManagement as i32;
        q.discovery_receipt_id = "0123456789abcdef0123456789abcdef".into();
    }
    b.take(1, entry(T0, wrong_purpose));
    a.take(1, entry(T0, sent("BANK-B", 1, Some(1), "ANSWERED")));
    b.take(2, entry(T0, received("BANK-A", 2, pb::Decision::Denied)));
    a.take(2, entry(T0, sent("BANK-B", 2, Some(2), "ANSWERED")));
    b.take(3, entry(T0, received("BANK-A", 3, pb::Decision::Answered)));
    a.take(3, entry(T0, sent("BANK-B", 3, Some(9), "ANSWERED")));
    let (findings, counts) = match_logs(&[a, b], 0);
    assert_eq!(counts.matched, 0);
    let details: Vec<_> = findings
        .iter()
        .map(|f| (f.kind, f.detail.as_str()))
        .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details
            .iter()
            .all(|(k, _)| *k == FindingKind::EntriesDisagree)
    );
    assert!(details[0].1.contains("purpose"), "{details:?}");
    let receipt =
        "discovery receipt (requester logged none, holder 0123456789abcdef0123456789abcdef)";
    assert!(details[0].1.contains(receipt), "{details:?}");
    assert!(
        details[1]
            .1
            .contains("decision (requester logged ANSWERED, holder DENIED)")
    );
    assert!(
        details[2]
            .1
            .contains("the receipt names leaf 9, the holder's entry is at 3")
    );
}

#[test]
fn nonces_match_only_between_the_two_parties_of_the_query() {
    let mut a = log("BANK-A", T0 + 10 * MINUTE);
    let mut b = log("BANK-B", T0 + 10 * MINUTE);
    let mut c = log("BANK-C", T0 + 10 * MINUTE);
    // B holds nonce 1 from BANK-C, not from BANK-A: A's receipt is unmatched.
    b.take(1, entry(T0, received("BANK-C", 1, pb::Decision::Answered)));
    a.take(1, entry(T0, sent("BANK-B", 1, Some(1), "ANSWERED")));
    c.take(1, entry(T0, sent("BANK-B", 1, Some(1), "ANSWERED")));
    let (findings, counts) = match_logs(&[a, b, c], 0);
    assert_eq!(counts.matched, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, FindingKind::HolderDidNotLog);
    assert_eq!(findings[0].requester, "BANK-A");
}

#[test]
fn only_times_the_requester_log_covers_are_judged() {
    let newest = T0 + 10 * MINUTE;
    let mut a = log("BANK-A", newest);
    let mut b = log("BANK-B", newest);
    // A logged an outgoing entry before nonces were recorded, at T0 + 1 min,
    // and declares a restore that lost [T0 + 5 min, T0 + 6 min].
    let mut legacy = sent("BANK-C", 0, Some(3), "ANSWERED");
    if let Kind::OutgoingQuery(q) = &mut legacy {
        q.request_nonce.clear();
    }
    a.take(1, entry(T0 + MINUTE, legacy));
    let restore = pb::LogEpochEntry {
        epoch: 2,
        backup_taken_ms: T0 + 5 * MINUTE,
        ..Default::default()
    };
    a.take(2, entry(T0 + 6 * MINUTE, Kind::Epoch(restore)));
    let at = [
        (1, T0 - MINUTE),     // before A's log begins
        (2, T0 + MINUTE / 2), // before A recorded nonces
        (3, T0 + 5 * MINUTE), // declared lost
        (4, T0 + 9 * MINUTE), // within the settle time
        (5, newest + MINUTE), // after A's newest checkpoint
        (6, T0 + 3 * MINUTE), // covered: A must have it
    ];
    for (i, (nonce, time)) in at.into_iter().enumerate() {
        let q = received("BANK-A", nonce, pb::Decision::Answered);
        b.take(i as u64 + 1, entry(time, q));
    }
    let (findings, counts) = match_logs(&[a, b], 2 * MINUTE);
    assert_eq!(counts.not_covered, 5);
    assert_eq!(counts.unmatchable, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (findings[0].kind, findings[0].nonce[0]),
        (FindingKind::RequesterDidNotLog, 6)
    );
}

#[test]
fn logs_not_audited_are_counted_not_judged() {
    let mut a = log("BANK-A", T0 + 10 * MINUTE);
    let b = log("BANK-B", T0 + 10 * MINUTE);
    a.take(1, entry(T0, sent("BANK-C", 1, Some(1), "ANSWERED")));
    a.take(2, entry(T0, received("BANK-C", 2, pb::Decision::Answered)));
    let (findings, counts) = match_logs(&[a, b], 0);
    assert!(findings.is_empty());
    assert_eq!(counts.other_log_not_audited, 2);
}

/// A dev consortium's CA verifier and the signers of BANK-A and BANK-B.
fn dev_pki() -> (tempfile::TempDir, SignatureVerifier, Signer, Signer) {
    let dir = tempfile::tempdir().unwrap();
    crate::pki::dev_consortium(dir.path()).unwrap();
    let ca = credshare_node::pki::load_certs(&dir.path().join("ca/ca.crt")).unwrap();
    let crl = credshare_node::pki::load_crls(&dir.path().join("ca/ca.crl")).unwrap();
    let verifier = SignatureVerifier::new(ca, crl).unwrap();
    let signer = |bank: &str| {
        let certs = dir.path().join(bank);
        Signer::load(&certs.join("signer.crt"), &certs.join("signer.key")).unwrap()
    };
    let (a, b) = (signer("BANK-A"), signer("BANK-B"));
    (dir, verifier, a, b)
}

const ORIGIN: &str = "credshare.example/BANK-A/query-log";

/// BANK-A's log of `n` entries (entry i reads "entry i", or "forged i"
/// past `forged_from`): its tree, and its checkpoint signed by `signer`.
fn signed_tree(n: usize, forged_from: usize, at_ms: i64, signer: &Signer) -> (MemoryTree, String) {
    let leaves: Vec<_> = (0..n)
        .map(|i| {
            let word = if i >= forged_from { "forged" } else { "entry" };
            leaf_hash(format!("{word} {i}").as_bytes())
        })
        .collect();
    let tree = MemoryTree::new(&leaves);
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.size,
        root: tree.root,
        timestamp_ms: Some(at_ms),
        extensions: Vec::new(),
    };
    let note = checkpoint.sign(ORIGIN, signer.key_pair());
    (tree, note)
}

fn evidence(
    held: &str,
    offered: &str,
    proof: Vec<Vec<u8>>,
    signer: &Signer,
) -> pb::WitnessEvidenceEntry {
    pb::WitnessEvidenceEntry {
        institution: "BANK-A".into(),
        origin: ORIGIN.into(),
        held_checkpoint: held.into(),
        offered_checkpoint: offered.into(),
        offered_proof: proof,
        conflict: "SAME_SIZE_DIFFERENT_ROOT".into(),
        signer_certificate: signer.certificate_der().to_vec(),
    }
}

/// [`recheck`] of evidence offering `offered` (with `proof`, signed as
/// `signer`) against `held`, now, with no other certificates.
fn recheck_offer(
    verifier: &SignatureVerifier,
    held: &str,
    offered: &str,
    proof: Vec<Vec<u8>>,
    signer: &Signer,
) -> WitnessVerdict {
    recheck(
        &evidence(held, offered, proof, signer),
        verifier,
        &[],
        SystemTime::now(),
    )
}

/// Two notes of one log that a witness would hold against each other: the
/// checkpoint of an honest tree of 8 entries (`held`, signed at `t`) and a
/// split view of another tree of 8 (`other`, at `t + 1`), both by BANK-A.
struct SplitView {
    _dir: tempfile::TempDir,
    verifier: SignatureVerifier,
    bank_a: Signer,
    bank_b: Signer,
    t: i64,
    held: String,
    other: String,
}

fn split_view() -> SplitView {
    let (_dir, verifier, bank_a, bank_b) = dev_pki();
    let t = credshare_node::domain::dates::now_ms() - 60_000;
    let (_, held) = signed_tree(8, usize::MAX, t, &bank_a);
    let (_, other) = signed_tree(8, 5, t + 1, &bank_a);
    SplitView {
        _dir,
        verifier,
        bank_a,
        bank_b,
        t,
        held,
        other,
    }
}

#[test]
fn witness_evidence_is_reverified_from_the_ca_alone() {
    let s = split_view();
    // The split view: another tree of 8 entries, also signed by BANK-A.
    let v = recheck_offer(&s.verifier, &s.held, &s.other, vec![], &s.bank_a);
    assert!(v.held.is_ok() && v.offered.is_ok(), "{v:?}");
    assert_eq!(
        v.proven.as_deref(),
        Some("the log signed two different trees of 8 entries")
    );
    // A log that shrank: a newer checkpoint of fewer entries.
    let (_, smaller) = signed_tree(6, usize::MAX, s.t + 2, &s.bank_a);
    let v = recheck_offer(&s.verifier, &s.held, &smaller, vec![], &s.bank_a);
    assert!(v.proven.unwrap().contains("shrank"));
}

#[test]
fn witness_evidence_that_proves_nothing_is_said_to() {
    let s = split_view();
    // A larger tree with a proof that links it: no conflict, said so.
    let (tree, larger) = signed_tree(11, usize::MAX, s.t + 3, &s.bank_a);
    let proof = consistency_proof(&tree, 8, 11).unwrap();
    let wire: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
    let v = recheck_offer(&s.verifier, &s.held, &larger, wire, &s.bank_a);
    assert_eq!(v.proven, None);
    assert!(v.detail.contains("no conflict"), "{v:?}");
    // A rewritten larger tree: the proof fails; the log's own proofs decide.
    let (_, rewritten) = signed_tree(11, 3, s.t + 3, &s.bank_a);
    let wire: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
    let v = recheck_offer(&s.verifier, &s.held, &rewritten, wire, &s.bank_a);
    assert_eq!(v.proven, None);
    assert!(v.detail.contains("fails"), "{v:?}");
    // A witness cannot frame a log with notes signed by someone else.
    let (_, framed) = signed_tree(8, 5, s.t + 1, &s.bank_b);
    let v = recheck_offer(&s.verifier, &s.held, &framed, vec![], &s.bank_b);
    assert!(v.offered.is_err() && v.proven.is_none(), "{v:?}");
    assert!(v.detail.contains("does not verify"), "{v:?}");
    // Nor with a note whose signature does not match its text.
    let tampered = s.other.replacen("\n8\n", "\n9\n", 1);
    let v = recheck_offer(&s.verifier, &s.held, &tampered, vec![], &s.bank_a);
    assert!(v.offered.is_err() && v.proven.is_none(), "{v:?}");
}
