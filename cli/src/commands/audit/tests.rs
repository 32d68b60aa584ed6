//! Entry rendering, tallies and locating an edited entry by bisection
//! against a real in-memory tree.

use std::collections::HashMap;
use std::convert::Infallible;

use credshare_node::audit::{Hash, RightEdge, SubtreeHashes, inclusion_proof, leaf_hash};
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::entries::clamp_range;
use super::entries::describe::{describe_entry, short_key};
use super::verify::bisect::{InclusionProofs, locate_mismatch};
use super::verify::tally::{EpochBreak, LogTally};

/// Complete-subtree hashes of a tree built from `leaves`.
pub(super) struct MemoryTree {
    hashes: HashMap<(u8, u64), Hash>,
    pub(super) size: u64,
    pub(super) root: Hash,
}

impl SubtreeHashes for MemoryTree {
    type Error = Infallible;

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, Infallible> {
        Ok(self.hashes[&(level, index)])
    }
}

impl MemoryTree {
    pub(super) fn new(leaves: &[Hash]) -> Self {
        let mut edge = RightEdge::empty();
        let mut hashes = HashMap::new();
        for leaf in leaves {
            for (level, index, hash) in edge.append(*leaf) {
                hashes.insert((level, index), hash);
            }
        }
        Self {
            hashes,
            size: edge.size(),
            root: edge.root(),
        }
    }
}

impl InclusionProofs for MemoryTree {
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>> {
        Ok(inclusion_proof(&*self, leaf, self.size)?)
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn bisection_names_the_first_edited_entry_at_every_size() {
    for n in 1..=70 {
        let signed = leaves(n);
        let mut tree = MemoryTree::new(&signed);
        for edited in 0..n {
            let mut served = signed.clone();
            served[edited] = leaf_hash(b"edited");
            if edited + 3 < n {
                // A second edit further right: the first one is named.
                served[edited + 3] = leaf_hash(b"edited too");
            }
            let root = tree.root;
            let found = block_on(locate_mismatch(&served, root, &mut tree)).unwrap();
            assert_eq!(found, edited as u64, "size {n}");
        }
    }
}

/// A tree whose proofs do not belong to the signed root.
struct LyingTree(MemoryTree);

impl InclusionProofs for LyingTree {
    async fn proof_of(&mut self, leaf: u64) -> anyhow::Result<Vec<Hash>> {
        let mut proof = self.0.proof_of(leaf).await?;
        if let Some(last) = proof.last_mut() {
            last[0] ^= 1;
        }
        Ok(proof)
    }
}

#[test]
fn bisection_refuses_proofs_that_contradict_the_root() {
    let signed = leaves(9);
    let mut served = signed.clone();
    served[4] = leaf_hash(b"edited");
    let mut liar = LyingTree(MemoryTree::new(&signed));
    let root = liar.0.root;
    let err = block_on(locate_mismatch(&served, root, &mut liar)).unwrap_err();
    assert!(err.to_string().contains("contradict"), "{err}");
}

#[test]
fn tally_counts_by_kind_and_decision() {
    let mut tally = LogTally::default();
    let entry = |kind| pb::LogEntry {
        time_ms: 0,
        kind: Some(kind),
    };
    let query = |decision: pb::Decision| pb::PeerQueryEntry {
        decision: decision as i32,
        ..Default::default()
    };
    tally.count(0, &entry(Kind::PeerQuery(query(pb::Decision::Answered))));
    tally.count(0, &entry(Kind::PeerQuery(query(pb::Decision::Answered))));
    tally.count(0, &entry(Kind::PeerQuery(query(pb::Decision::Denied))));
    tally.count(0, &entry(Kind::OutgoingQuery(Default::default())));
    tally.count(0, &entry(Kind::Consent(Default::default())));
    tally.count(0, &entry(Kind::RecordBatch(Default::default())));
    tally.count(0, &entry(Kind::Admin(Default::default())));
    tally.count(0, &entry(Kind::SignerKey(Default::default())));
    tally.count(0, &entry(Kind::OversightFlag(Default::default())));
    tally.count(0, &entry(Kind::Annotation(Default::default())));
    tally.count(0, &entry(Kind::RetentionSweep(Default::default())));
    tally.count(0, &entry(Kind::BorrowerReport(Default::default())));
    tally.count(0, &entry(Kind::RateLimited(Default::default())));
    tally.count(0, &entry(Kind::WitnessEvidence(Default::default())));
    tally.count(0, &pb::LogEntry::default());
    let epoch = pb::LogEpochEntry {
        epoch: 2,
        restored_size: 9,
        statement: "restored".into(),
        ..Default::default()
    };
    tally.count(9, &entry(Kind::Epoch(epoch)));
    assert_eq!(
        tally,
        LogTally {
            peer_queries_answered: 2,
            peer_queries_denied: 1,
            outgoing_queries: 1,
            consent_events: 1,
            record_batches: 1,
            admin_mutations: 1,
            signer_keys: 1,
            oversight_flags: 1,
            annotations: 1,
            retention_sweeps: 1,
            borrower_reports: 1,
            rate_limited_windows: 1,
            witness_evidence: 1,
            discovery: 0,
            other: 1,
            last_signer_key: Some(String::new()),
            epoch_breaks: vec![EpochBreak {
                index: 9,
                epoch: 2,
                restored_size: 9,
                statement: "restored".into(),
            }],
        }
    );
}

#[test]
fn hashed_keys_are_shown_short_and_nothing_else_identifies() {
    let key = [0xabu8; 32];
    assert_eq!(short_key(&key), "abababababab…");
    assert_eq!(short_key(&[]), "-");
    let entry = pb::LogEntry {
        time_ms: 1_718_000_000_000,
        kind: Some(Kind::PeerQuery(pb::PeerQueryEntry {
            requester_institution: "BANK-B".into(),
            borrower_key: key.to_vec(),
            purpose: pb::Purpose::PostLoanManagement as i32,
            scope: pb::Scope::Summary as i32,
            consent_id: "c-1".into(),
            decision: pb::Decision::Denied as i32,
            denial_reason: pb::DenialReason::Expired as i32,
            ..Default::default()
        })),
    };
    let view = describe_entry(&entry);
    assert_eq!(view.kind, "peer-query");
    assert!(
        view.summary
            .contains("BANK-B DENIED borrower abababababab…"),
        "{}",
        view.summary
    );
    assert!(view.summary.contains("reason EXPIRED"));
    let full = hex::encode(key);
    assert!(!view.summary.contains(&full));
    assert!(!view.json.to_string().contains(&full));
    assert_eq!(view.json["borrower"], "abababababab…");
}

#[test]
fn outgoing_entries_tell_no_receipt_from_leaf_zero_and_show_the_nonce() {
    let outgoing = |leaf: Option<u64>| pb::LogEntry {
        time_ms: 0,
        kind: Some(Kind::OutgoingQuery(pb::OutgoingQueryEntry {
            peer_institution: "BANK-B".into(),
            outcome: if leaf.is_some() {
                "ANSWERED"
            } else {
                "TIMED_OUT"
            }
            .into(),
            peer_leaf_index: leaf,
            peer_tree_size: leaf.map_or(0, |l| l + 1),
            request_nonce: vec![0x5a; 16],
            peer_checkpoint: leaf.map_or(String::new(), |_| "note".into()),
            ..Default::default()
        })),
    };
    let none = describe_entry(&outgoing(None));
    assert!(none.summary.contains("TIMED_OUT"), "{}", none.summary);
    assert!(none.summary.contains(" no receipt"), "{}", none.summary);
    assert_eq!(none.json["receipt"], false);
    assert!(none.json["peer_leaf_index"].is_null());
    let zero = describe_entry(&outgoing(Some(0)));
    assert!(
        zero.summary
            .contains("receipt: leaf 0 of 1 root - (signed checkpoint recorded)"),
        "{}",
        zero.summary
    );
    assert_eq!(zero.json["receipt"], true);
    assert_eq!(zero.json["peer_leaf_index"], 0);
    assert_eq!(zero.json["request_nonce"], "5a".repeat(16));
    assert!(
        zero.summary
            .ends_with(&format!("nonce {}", "5a".repeat(16)))
    );
}

#[test]
fn record_batches_name_the_actor_and_counts() {
    let entry = pb::LogEntry {
        time_ms: 0,
        kind: Some(Kind::RecordBatch(pb::RecordBatchEntry {
            actor: "urn:credshare:admin:BANK-A".into(),
            stored: 10,
            unchanged: 2,
            records_digest: vec![1; 32],
            officer: "OFFICER-1".into(),
        })),
    };
    let view = describe_entry(&entry);
    assert_eq!(view.kind, "record-batch");
    assert_eq!(
        view.summary,
        "urn:credshare:admin:BANK-A officer OFFICER-1 stored 10 unchanged 2 digest 010101010101…"
    );
}

#[test]
fn times_are_rfc_3339_utc() {
    assert_eq!(
        super::format_time_ms(1_718_000_000_123),
        "2024-06-10T06:13:20.123Z"
    );
    assert_eq!(super::format_time_ms(i64::MAX), format!("{} ms", i64::MAX));
}

#[test]
fn ranges_past_the_end_show_what_exists_and_say_so() {
    assert_eq!(clamp_range(0, 0, 13).unwrap(), (13, None));
    assert_eq!(clamp_range(2, 5, 13).unwrap(), (5, None));
    let (end, note) = clamp_range(0, 20, 13).unwrap();
    assert_eq!(end, 13);
    assert_eq!(
        note.unwrap(),
        "the log has 13 entries: showing 0 to 12 (asked for up to 19)"
    );
    let (end, note) = clamp_range(15, 20, 13).unwrap();
    assert_eq!(end, 13);
    assert!(note.unwrap().contains("none from 15 on"));
    assert!(clamp_range(9, 3, 13).is_err());
}
