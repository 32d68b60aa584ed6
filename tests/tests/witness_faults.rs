//! Witnessing faults between real nodes (docs/protocol.md §13.2–13.3): a
//! log rewritten offline and re-signed is refused by its witnesses, with the
//! evidence retrievable; a node restarted from an older copy of its data is
//! told at start-up which sizes it lost, and refused; a declared restore is
//! kept as evidence, then followed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::offline::{copy_dir, rehash, sign_head};
use std::path::Path;
use std::time::Duration;

use credshare_e2e::witness::{FAST, evidence_entry, import, node_status, wait_cosigned};
use credshare_e2e::{Consortium, eventually, regulator_audit, start_federation_with, text};
use credshare_node::audit::Checkpoint;
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_rewritten_offline_is_refused_by_its_witnesses_with_evidence() {
    let c = Consortium::new().unwrap();
    let mut nodes = start_federation_with(&c, FAST).unwrap();
    import(&c, &nodes[0], 4, 3);
    let size = wait_cosigned(&c, &nodes[0], 2).await;

    // BANK-A edits an entry, rebuilds its tree and re-signs, erasing its
    // own older checkpoints and the high-water file: a forgery that its own
    // start-up checks cannot see.
    let a = &mut nodes[0];
    a.stop().unwrap();
    rewrite_history(&a.data_dir, &c.certs("BANK-A"));
    std::fs::remove_file(a.data_dir.join("high-water")).unwrap();
    a.restart().unwrap();

    // Its witnesses hold the honest root at that size: they refuse the
    // forged checkpoint and keep both as evidence.
    for witness in [&nodes[1], &nodes[2]] {
        eventually(
            Duration::from_secs(20),
            "the witness keeps evidence",
            || async { node_status(&c, witness).await.witness_evidence_against == ["BANK-A"] },
        )
        .await;
        // Offered again (BANK-A retries every 100 ms, and once more here),
        // the same forged checkpoint is refused without a second entry.
        let status = resubmit_newest(&c, &nodes[0], witness).await;
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        let conflict = credshare_node::federation::conflict::from_status(&status).unwrap();
        assert!(conflict.evidence_recorded, "{conflict:?}");
        let out = regulator_audit(&c, witness, &["--json", "entries"]);
        assert!(out.status.success(), "{}", text(&out));
        let evidence: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["kind"] == "witness-evidence")
            .collect();
        assert_eq!(evidence.len(), 1, "{evidence:?}");
        let raw = evidence_entry(&c, witness).await;
        assert_eq!(raw.institution, "BANK-A");
        assert_eq!(raw.conflict, "SAME_SIZE_DIFFERENT_ROOT");
        let held = Checkpoint::parse_unverified(&raw.held_checkpoint).unwrap();
        let offered = Checkpoint::parse_unverified(&raw.offered_checkpoint).unwrap();
        assert_eq!((held.size, offered.size), (size, size));
        assert_ne!(held.root, offered.root);
    }
    let s = node_status(&c, &nodes[0]).await;
    assert!(
        s.witnesses.iter().all(|w| w.state == "REFUSED"),
        "{:?}",
        s.witnesses
    );
    assert!(
        s.warnings.iter().any(|w| w.contains("refuses this log")),
        "{:?}",
        s.warnings
    );

    // The regulator's cross-check of the three logs finds the evidence in
    // both witnesses' logs, re-verified from the CA, and exits 3.
    let (code, report) = credshare_e2e::regulator_cross_check(&c, &nodes[1], &nodes);
    assert_eq!(code, Some(3), "{report:#}");
    let mut witnesses: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "WITNESS_EVIDENCE")
        .inspect(|f| assert_eq!(f["log"], "BANK-A", "{f}"))
        .filter_map(|f| f["witness"].as_str())
        .collect();
    witnesses.sort_unstable();
    assert_eq!(witnesses, ["BANK-B", "BANK-C"], "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_from_an_older_copy_of_its_data_is_detected_at_start_up() {
    let c = Consortium::new().unwrap();
    let mut nodes = start_federation_with(&c, FAST).unwrap();
    import(&c, &nodes[0], 3, 4);
    let old_size = wait_cosigned(&c, &nodes[0], 2).await;
    let copy = c.root().join("a-data-copy");
    nodes[0].stop().unwrap();
    copy_dir(&nodes[0].data_dir, &copy);
    nodes[0].restart().unwrap();
    for seed in 5..8 {
        import(&c, &nodes[0], 2, seed);
    }
    let new_size = wait_cosigned(&c, &nodes[0], 2).await;
    assert!(new_size > old_size);

    // The operator restarts BANK-A from the older copy.
    let a = &mut nodes[0];
    a.stop().unwrap();
    std::fs::remove_dir_all(&a.data_dir).unwrap();
    copy_dir(&copy, &a.data_dir);
    a.restart().unwrap();

    eventually(
        Duration::from_secs(20),
        "the node reports its lost tail",
        || async {
            let s = node_status(&c, &nodes[0]).await;
            (s.log_missing_from, s.log_missing_to) == (old_size, new_size)
        },
    )
    .await;
    let s = node_status(&c, &nodes[0]).await;
    let expected = format!(
        "the entries at sizes {}..={new_size} are missing",
        old_size + 1
    );
    assert!(
        s.warnings.iter().any(|w| w.contains(&expected)),
        "{:?}",
        s.warnings
    );
    assert!(
        s.witnesses.iter().all(|w| w.held_size == new_size),
        "{:?}",
        s.witnesses
    );

    // Once the shorter log signs a newer checkpoint, its witnesses refuse
    // it and keep the pair: a smaller tree signed after a larger one.
    import(&c, &nodes[0], 1, 9);
    for witness in [&nodes[1], &nodes[2]] {
        eventually(
            Duration::from_secs(20),
            "the witness keeps evidence",
            || async { node_status(&c, witness).await.witness_evidence_against == ["BANK-A"] },
        )
        .await;
        let raw = evidence_entry(&c, witness).await;
        assert_eq!(raw.conflict, "SMALLER", "{raw:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_restore_is_kept_as_evidence_then_followed() {
    let c = Consortium::new().unwrap();
    let mut nodes = start_federation_with(&c, FAST).unwrap();
    import(&c, &nodes[0], 2, 10);
    wait_cosigned(&c, &nodes[0], 2).await;
    let backup = c.root().join("backup-a");
    let out = std::process::Command::new(credshare_e2e::bin("credshare-node"))
        .args(["backup", "--config"])
        .arg(&nodes[0].config)
        .arg("--out")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for seed in 11..14 {
        import(&c, &nodes[0], 2, seed);
    }
    let lost = wait_cosigned(&c, &nodes[0], 2).await;

    // Restored from the backup: the log declares epoch 2 at the backup's
    // size, below the size the witnesses cosigned.
    let a = &mut nodes[0];
    a.stop().unwrap();
    std::fs::rename(&a.data_dir, a.data_dir.with_file_name("data-lost")).unwrap();
    let out = std::process::Command::new(credshare_e2e::bin("credshare-node"))
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--config")
        .arg(&a.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    a.restart().unwrap();

    // Each witness keeps the loss as evidence, then follows the new epoch.
    let size = wait_cosigned(&c, &nodes[0], 2).await;
    assert!(size < lost, "{size} < {lost}");
    for witness in [&nodes[1], &nodes[2]] {
        assert_eq!(
            node_status(&c, witness).await.witness_evidence_against,
            ["BANK-A"]
        );
        assert_eq!(evidence_entry(&c, witness).await.conflict, "SMALLER");
    }
    let out = regulator_audit(&c, &nodes[0], &["verify", "--witness-quorum", "2"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Edits entry 1 (a record batch), rebuilds every hash, drops every older
/// checkpoint and re-signs the newest (as tests/tests/audit.rs does).
fn rewrite_history(data_dir: &Path, certs: &Path) {
    let db = credshare_node::storage::open_offline(data_dir).unwrap();
    let tree = db.open_tree("credshare").unwrap();
    for key in tree.scan_prefix([b'C']).keys() {
        tree.remove(key.unwrap()).unwrap();
    }
    let key1 = [&[b'L'][..], &1u64.to_be_bytes()].concat();
    let mut entry = pb::LogEntry::decode(tree.get(&key1).unwrap().unwrap().as_ref()).unwrap();
    let Some(pb::log_entry::Kind::RecordBatch(batch)) = &mut entry.kind else {
        panic!("entry 1 is a record batch")
    };
    batch.stored += 1000;
    tree.insert(key1, entry.encode_to_vec()).unwrap();
    let edge = rehash(&tree);
    sign_head(&tree, certs, "credshare.example/BANK-A/query-log", &edge);
    db.flush().unwrap();
}

/// Offers `log`'s newest checkpoint to `witness` as `log`'s node would,
/// returning the refusal.
async fn resubmit_newest(
    c: &Consortium,
    log: &credshare_e2e::NodeProcess,
    witness: &credshare_e2e::NodeProcess,
) -> tonic::Status {
    let newest = credshare_e2e::witness::newest_checkpoint(c, log).await;
    let request = pb::AddCheckpointRequest {
        checkpoint: newest.checkpoint.unwrap().signed_note,
        signer_certificate: newest.signer_certificate,
        ..Default::default()
    };
    credshare_e2e::witness::refused_submission(c, &log.institution, "node", witness, request).await
}
