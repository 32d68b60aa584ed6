//! `credshare audit cross-check` against a real three-bank federation:
//! every query logged by both sides matches; a holder that drops an entry
//! from its log (rewritten offline, re-signed with its own signer key) and
//! a requester that omits one are both reported, each with its signed
//! evidence and exit code 3. Also: both logs of a query carry the same
//! nonce, and the requester's entry carries the holder's signed checkpoint
//! (`history`, `audit entries`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::offline::sign_head;
use std::path::Path;
use std::process::Command;

use credshare_e2e::{
    Consortium, NodeProcess, bin, cli_json, cli_ok_json, regulator_audit, start_federation, text,
};
use credshare_node::audit::{Checkpoint, RightEdge, leaf_hash};
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;
use prost::Message;
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

/// Imports one live facility of BORROWER at `node`, reported today, so it
/// may ask its peers for post-loan management (reason 01).
fn import_live_facility(c: &Consortium, node: &NodeProcess) {
    credshare_e2e::import_live_facility(c, node, BORROWER);
}

/// A three-bank federation where A and B each asked both peers twice.
fn federation_with_queries(c: &Consortium) -> Vec<NodeProcess> {
    let nodes = start_federation(c).unwrap();
    import_live_facility(c, &nodes[0]);
    import_live_facility(c, &nodes[1]);
    for requester in [0, 1, 0, 1] {
        let args = ["assess", "--id", BORROWER, "--purpose", "01"];
        let (code, stdout, stderr) = cli_json(c, &nodes[requester], &args);
        assert_eq!(code, Some(0), "{stdout} {stderr}");
    }
    nodes
}

/// `credshare --json audit cross-check` over every node, as the regulator:
/// (exit code, the JSON report).
fn cross_check(c: &Consortium, nodes: &[NodeProcess]) -> (Option<i32>, Value) {
    credshare_e2e::regulator_cross_check(c, &nodes[0], nodes)
}

#[test]
fn a_clean_federation_cross_checks_clean_and_a_dropped_entry_is_caught() {
    let c = Consortium::new().unwrap();
    let mut nodes = federation_with_queries(&c);
    both_logs_carry_each_query(&c, &nodes);

    // A clean federation: every query in both logs.
    let (code, report) = cross_check(&c, &nodes);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["consistent"], true);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["counts"]["matched"], 8, "{report:#}");
    // One distinct holder checkpoint per receipt, each checked.
    assert_eq!(report["counts"]["holder_checkpoints_checked"], 8);
    let logs = report["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 3);
    for log in logs {
        assert_eq!(log["verified"], true);
        assert!(log["size"].as_u64().unwrap() > 0);
    }

    // BANK-B drops BANK-A's first query from its log, offline, and signs
    // the shorter log with its own key (old checkpoints and the high-water
    // mark gone, so it starts and a fresh `audit verify` of it passes).
    nodes[1].stop().unwrap();
    let dropped = drop_entry(
        &nodes[1].data_dir,
        &c.certs("BANK-B"),
        |e| matches!(&e.kind, Some(Kind::PeerQuery(q)) if q.requester_institution == "BANK-A"),
    );
    let Some(Kind::PeerQuery(dropped)) = dropped.kind else {
        unreachable!()
    };
    nodes[1].spawn(&[]).unwrap();
    let out = regulator_audit(&c, &nodes[1], &["verify"]);
    assert!(
        out.status.success(),
        "the rewritten log verifies alone: {}",
        text(&out)
    );
    the_dropped_query_is_reported(&c, &nodes, &hex::encode(&dropped.request_nonce));
}

/// Both logs of a query carry the same nonce; the requester's has the
/// holder's receipt (leaf and tree size) and its signed checkpoint.
fn both_logs_carry_each_query(c: &Consortium, nodes: &[NodeProcess]) {
    let sent = cli_ok_json(c, &nodes[0], &["history", "--id", BORROWER]);
    let received = cli_ok_json(c, &nodes[1], &["history", "--id", BORROWER]);
    let to_b: Vec<&Value> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["direction"] == "SENT" && i["peer"] == "BANK-B")
        .collect();
    assert_eq!(to_b.len(), 2, "{sent:#}");
    for item in &to_b {
        let nonce = item["request_nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 32, "{item}");
        let leaf = item["receipt"]["leaf_index"].as_u64().unwrap();
        let theirs = received
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["request_nonce"] == nonce)
            .unwrap_or_else(|| panic!("BANK-B logged nonce {nonce}: {received:#}"));
        assert_eq!(theirs["leaf_index"].as_u64(), Some(leaf), "{theirs}");
        assert_eq!(theirs["direction"], "RECEIVED");
        assert!(theirs["receipt"].is_null(), "{theirs}");
    }
    let out = regulator_audit(c, &nodes[0], &["--json", "entries"]);
    assert!(out.status.success(), "{}", text(&out));
    let outgoing: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "outgoing-query")
        .collect();
    assert_eq!(outgoing.len(), 4);
    for q in &outgoing {
        assert_eq!(q["receipt"], true, "{q}");
        let note = q["peer_checkpoint"].as_str().unwrap();
        assert!(
            note.starts_with(&format!(
                "credshare.example/{}/",
                q["peer"].as_str().unwrap()
            )),
            "{note}"
        );
        assert_eq!(q["peer_signer_key_id"].as_str().unwrap().len(), 64, "{q}");
    }
}

/// The cross-check after BANK-B dropped BANK-A's query with `nonce`.
fn the_dropped_query_is_reported(c: &Consortium, nodes: &[NodeProcess], nonce: &str) {
    let (code, report) = cross_check(c, nodes);
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(report["consistent"], false);
    let findings = report["findings"].as_array().unwrap();
    let missing = findings
        .iter()
        .find(|f| f["kind"] == "HOLDER_DID_NOT_LOG" && f["nonce"] == nonce)
        .unwrap_or_else(|| panic!("the dropped query is reported: {report:#}"));
    assert_eq!(missing["requester"], "BANK-A");
    assert_eq!(missing["holder"], "BANK-B");
    assert_eq!(missing["purpose"], "01 POST_LOAN_MANAGEMENT");
    let evidence = &missing["evidence"];
    assert_eq!(evidence["requester_entry"]["log"], "BANK-A");
    assert_eq!(evidence["requester_entry"]["inclusion_verified"], true);
    let recorded = &evidence["recorded_checkpoint"];
    assert_eq!(recorded["fit"]["fits"], "CONFLICTS", "{missing:#}");
    assert!(
        recorded["note"]
            .as_str()
            .unwrap()
            .contains("— credshare.example/BANK-B/")
    );
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("rewrote its log or showed a split view")
    );
    // Everything reported is about BANK-B's log: as the holder, or as the
    // log its witnesses (BANK-A, BANK-C) refused once it was rewritten,
    // if they were offered its new checkpoint before this cross-check.
    for f in findings {
        let about = if f["kind"] == "WITNESS_EVIDENCE" {
            &f["log"]
        } else {
            &f["holder"]
        };
        assert_eq!(about, "BANK-B", "{f:#}");
    }
    // People get the same, in short.
    let all: Vec<String> = nodes.iter().map(|n| n.peer_addr.to_string()).collect();
    let args = [
        "cross-check",
        "--nodes",
        &all.join(","),
        "--settle-seconds",
        "0",
    ];
    let out = regulator_audit(c, &nodes[0], &args);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!(
            "HOLDER_DID_NOT_LOG BANK-A -> BANK-B nonce {nonce}"
        )),
        "{shown}"
    );
    assert!(shown.contains("FINDINGS:"), "{shown}");
}

#[test]
fn a_requester_that_omits_a_query_is_reported() {
    let c = Consortium::new().unwrap();
    let mut nodes = federation_with_queries(&c);
    // BANK-A drops its record of one query it sent to BANK-C.
    nodes[0].stop().unwrap();
    let dropped = drop_entry(
        &nodes[0].data_dir,
        &c.certs("BANK-A"),
        |e| matches!(&e.kind, Some(Kind::OutgoingQuery(q)) if q.peer_institution == "BANK-C"),
    );
    let Some(Kind::OutgoingQuery(dropped)) = dropped.kind else {
        unreachable!()
    };
    nodes[0].spawn(&[]).unwrap();

    let (code, report) = cross_check(&c, &nodes);
    assert_eq!(code, Some(3), "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let nonce = hex::encode(&dropped.request_nonce);
    let omitted = findings
        .iter()
        .find(|f| f["kind"] == "REQUESTER_DID_NOT_LOG" && f["nonce"] == nonce.as_str())
        .unwrap_or_else(|| panic!("the omitted query is reported: {report:#}"));
    assert_eq!(omitted["requester"], "BANK-A");
    assert_eq!(omitted["holder"], "BANK-C");
    assert!(omitted["requester_index"].is_null());
    let holder_entry = &omitted["evidence"]["holder_entry"];
    assert_eq!(holder_entry["log"], "BANK-C");
    assert_eq!(holder_entry["index"], omitted["holder_index"]);
    assert_eq!(holder_entry["inclusion_verified"], true);
    assert!(
        omitted["evidence"]["requester_checkpoint"]
            .as_str()
            .unwrap()
            .starts_with("credshare.example/BANK-A/")
    );
    // Everything reported involves BANK-A's log (its witnesses may already
    // have refused the rewritten log: witness evidence names it as `log`).
    for f in findings {
        assert!(
            f["requester"] == "BANK-A" || f["holder"] == "BANK-A" || f["log"] == "BANK-A",
            "{f:#}"
        );
    }

    // Only regulators may cross-check peers' logs: a bank's admin is
    // refused (exit code 4), and one node is not a cross-check (2).
    let all: Vec<String> = nodes.iter().map(|n| n.peer_addr.to_string()).collect();
    let out = Command::new(bin("credshare"))
        .args(["--json", "audit", "cross-check", "--nodes", &all.join(",")])
        .arg("--certs")
        .arg(c.certs("BANK-A"))
        .env("HOME", c.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let out = regulator_audit(&c, &nodes[0], &["cross-check", "--nodes", &all[0]]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("at least two nodes"), "{}", text(&out));
}

/// Key of `prefix` ‖ `index` (u64 BE) in the store.
fn indexed(prefix: u8, index: u64) -> Vec<u8> {
    let mut key = vec![prefix];
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// What a dishonest node with its own signing key could do offline: remove
/// the first log entry `select` picks, shift the later ones down, rebuild
/// the tree and the history index, sign the new head and delete the older
/// checkpoints and the high-water mark (which would give it away at
/// start-up). Returns the entry removed.
fn drop_entry(
    data_dir: &Path,
    certs: &Path,
    select: impl Fn(&pb::LogEntry) -> bool,
) -> pb::LogEntry {
    let db = credshare_node::storage::open_offline(data_dir).unwrap();
    let tree = db.open_tree("credshare").unwrap();
    let newest = tree
        .scan_prefix([b'C'])
        .values()
        .next_back()
        .unwrap()
        .unwrap();
    let (note, _) = credshare_node::storage::compact::decode_checkpoint(&newest).unwrap();
    let origin = Checkpoint::parse_unverified(&note).unwrap().origin;
    let entries: Vec<Vec<u8>> = tree
        .scan_prefix([b'L'])
        .values()
        .map(|v| v.unwrap().to_vec())
        .collect();
    let gone = entries
        .iter()
        .position(|e| select(&pb::LogEntry::decode(e.as_slice()).unwrap()))
        .expect("an entry to drop");
    for prefix in [b'L', b'H', b'C'] {
        for key in tree.scan_prefix([prefix]).keys() {
            tree.remove(key.unwrap()).unwrap();
        }
    }
    shift_history_index(&tree, gone as u64);
    let edge = rebuild_tree(&tree, &entries, gone);
    sign_head(&tree, certs, &origin, &edge);
    db.flush().unwrap();
    drop(db);
    let _ = std::fs::remove_file(data_dir.join("high-water"));
    pb::LogEntry::decode(entries[gone].as_slice()).unwrap()
}

/// Writes `entries` but the one at `gone` as the log, with every
/// complete-subtree hash; returns the tree's right edge.
fn rebuild_tree(tree: &sled::Tree, entries: &[Vec<u8>], gone: usize) -> RightEdge {
    let mut edge = RightEdge::empty();
    for (i, bytes) in entries.iter().enumerate().filter(|(i, _)| *i != gone) {
        let index = if i > gone { i - 1 } else { i } as u64;
        tree.insert(indexed(b'L', index), bytes.as_slice()).unwrap();
        for (level, at, hash) in edge.append(leaf_hash(bytes)) {
            let mut key = vec![b'H', level];
            key.extend_from_slice(&at.to_be_bytes());
            tree.insert(key, &hash[..]).unwrap();
        }
    }
    edge
}

/// The history index (`Q` ‖ borrower key ‖ leaf): the dropped leaf's key
/// goes, later leaves move down by one.
fn shift_history_index(tree: &sled::Tree, gone: u64) {
    let keys: Vec<Vec<u8>> = tree
        .scan_prefix([b'Q'])
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect();
    for key in keys {
        let (head, leaf) = key.split_at(key.len() - 8);
        let leaf = u64::from_be_bytes(leaf.try_into().unwrap());
        if leaf >= gone {
            tree.remove(&key).unwrap();
        }
        if leaf > gone {
            let mut moved = head.to_vec();
            moved.extend_from_slice(&(leaf - 1).to_be_bytes());
            tree.insert(moved, &[][..]).unwrap();
        }
    }
}
