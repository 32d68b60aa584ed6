//! Witnessing between real nodes (docs/protocol.md §12): every node cosigns
//! its peers' checkpoints; receipts carry the cosignatures, which the
//! requester and a regulator verify; a log rewritten offline, or a node
//! restarted from an older copy of its data, is refused by its witnesses,
//! with the evidence kept and the missing sizes named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use credshare_e2e::{
    Consortium, NodeProcess, admin_client, cli_json, eventually, regulator_audit,
    start_federation_with, status, text,
};
use credshare_node::audit::witnessed::verify_receipt_witnesses;
use credshare_node::audit::{Checkpoint, RightEdge, leaf_hash};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::{SignatureVerifier, Signer};
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";
const FAST: &[(&str, &str)] = &[("CREDSHARE_WITNESS__SUBMIT_INTERVAL_MS", "100")];

fn ok(c: &Consortium, node: &NodeProcess, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli_json(c, node, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    stdout
}

fn import(c: &Consortium, node: &NodeProcess, borrowers: u64, seed: u64) {
    let dir = c
        .sample_a(&format!("s-{}-{seed}", node.institution), borrowers, seed)
        .unwrap();
    let credit = dir.join("credit.csv");
    let out = c
        .admin_cli(node)
        .env("CREDSHARE_CERTS", c.certs(&node.institution))
        .args([
            "records",
            "import",
            credit.to_str().unwrap(),
            "--kind",
            "credit",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

async fn node_status(c: &Consortium, node: &NodeProcess) -> pb::StatusResponse {
    let tls = c.tls(&node.institution, "admin").unwrap();
    status(&mut admin_client(&tls, node.admin_addr).await.unwrap())
        .await
        .unwrap()
}

/// Waits until every witness of `node` cosigned its log at its size;
/// returns that size.
async fn wait_cosigned(c: &Consortium, node: &NodeProcess, witnesses: usize) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let s = node_status(c, node).await;
        let done = s.witnesses.len() == witnesses
            && s.witnesses
                .iter()
                .all(|w| w.state == "COSIGNED" && w.cosigned_size == s.log_size);
        if done {
            return s.log_size;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "witnesses did not cosign {}'s log: {:?}",
            node.institution,
            s.witnesses
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_carry_cosignatures_the_requester_and_the_regulator_verify() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation_with(&c, FAST).unwrap();
    let (a, b, cc) = (&nodes[0], &nodes[1], &nodes[2]);
    import(&c, b, 3, 1);
    import(&c, cc, 3, 2);
    wait_cosigned(&c, b, 2).await;
    wait_cosigned(&c, cc, 2).await;

    // The requester verifies every receipt's cosignatures against the
    // quorum (1 in a federation of three) and says so per peer.
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();
    let until = credshare_e2e::day(30);
    let consent: Value = serde_json::from_str(&ok(
        &c,
        a,
        &[
            "consent",
            "issue",
            "--id",
            BORROWER,
            "--purpose",
            "loan-approval",
            "--scope",
            "summary",
            "--until",
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let assessment: Value = serde_json::from_str(&ok(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent["consent_id"].as_str().unwrap(),
            "--purpose",
            "02",
        ],
    ))
    .unwrap();
    let peers = assessment["peers"].as_array().unwrap();
    let remote: Vec<&Value> = peers.iter().filter(|p| p["local"] != true).collect();
    assert_eq!(remote.len(), 2, "{assessment:#}");
    for p in remote {
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("witnessed: 2 cosignature(s) (quorum 1)"),
            "{detail}"
        );
    }

    check_receipt_by_hand(&c, b).await;

    // The regulator: audit verify --witness-quorum 1 passes, 3 does not.
    let out = regulator_audit(&c, b, &["--json", "verify", "--witness-quorum", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["witnesses"]["by"].as_array().unwrap().len(), 2, "{v:#}");
    let out = regulator_audit(&c, b, &["verify", "--witness-quorum", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("short of witness quorum: 2 of 3"),
        "{}",
        text(&out)
    );
}

/// A receipt of BANK-B from the wire: both other banks' cosignatures
/// verify; one taken off no longer counts; a forged note fails.
async fn check_receipt_by_hand(c: &Consortium, b: &NodeProcess) {
    let receipt = direct_receipt(c, b).await;
    let tls = c.tls("BANK-A", "admin").unwrap();
    let verifier = SignatureVerifier::new(tls.ca_certs.clone(), tls.crls.clone()).unwrap();
    let bank_b = InstitutionId::parse("BANK-B").unwrap();
    let witnessed =
        verify_receipt_witnesses(&receipt, &bank_b, &verifier, &|_| true, SystemTime::now())
            .unwrap();
    let mut names: Vec<String> = witnessed.witnesses.iter().map(|w| w.to_string()).collect();
    names.sort();
    assert_eq!(names, ["BANK-A", "BANK-C"]);
    // A cosignature taken off the note no longer counts; a forged one fails.
    let mut stripped = receipt.clone();
    stripped.witness_certificates.truncate(1);
    let one = verify_receipt_witnesses(&stripped, &bank_b, &verifier, &|_| true, SystemTime::now())
        .unwrap();
    assert_eq!(one.witnesses.len(), 1);
    let mut tampered = receipt.clone();
    if let Some(cp) = tampered.cosigned_checkpoint.as_mut() {
        cp.signed_note = cp.signed_note.replacen('\n', "\n1", 1);
    }
    assert!(
        verify_receipt_witnesses(&tampered, &bank_b, &verifier, &|_| true, SystemTime::now())
            .is_err()
    );
}

/// A query of BANK-A's node to `holder` about a borrower it does not hold:
/// the receipt of its (answered, empty) answer.
async fn direct_receipt(c: &Consortium, holder: &NodeProcess) -> pb::Receipt {
    let a_signer = signer(c, "BANK-A");
    let now = credshare_e2e::now_ms();
    let grant = pb::ConsentGrant {
        consent_id: "W-1".into(),
        borrower_key: vec![9; 32],
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: now - 60_000,
        not_after_ms: now + 3_600_000,
        authorization_sha256: vec![7; 32],
        issued_at_ms: now - 60_000,
    };
    let envelope = a_signer.sign_envelope(
        credshare_node::signing::CONSENT_GRANT_TYPE,
        grant.encode_to_vec(),
    );
    let channel = credshare_e2e::channel(&c.tls("BANK-A", "node").unwrap(), holder.peer_addr)
        .await
        .unwrap();
    pb::peer_service_client::PeerServiceClient::new(channel)
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(envelope),
            borrower_key: vec![9; 32],
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: vec![1, 2, 3],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap()
}

fn signer(c: &Consortium, bank: &str) -> Signer {
    let dir = c.certs(bank);
    Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap()
}

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
}

/// The newest `WitnessEvidenceEntry` in `node`'s log, as a regulator reads it.
async fn evidence_entry(c: &Consortium, node: &NodeProcess) -> pb::WitnessEvidenceEntry {
    let tls = c.tls("REG-1", "regulator").unwrap();
    let channel = credshare_e2e::channel(&tls, node.peer_addr).await.unwrap();
    let mut audit = pb::audit_service_client::AuditServiceClient::new(channel);
    // Entries up to the newest durable checkpoint (what GetEntries serves).
    let newest = newest_checkpoint(c, node).await.checkpoint.unwrap();
    let size = Checkpoint::parse_unverified(&newest.signed_note).unwrap().size;
    let mut stream = audit
        .get_entries(pb::GetEntriesRequest {
            start: 0,
            end: size,
        })
        .await
        .unwrap()
        .into_inner();
    let mut found = None;
    while let Some(item) = stream.message().await.unwrap() {
        let entry = pb::LogEntry::decode(item.entry.as_slice()).unwrap();
        if let Some(pb::log_entry::Kind::WitnessEvidence(w)) = entry.kind {
            found = Some(w);
        }
    }
    found.expect("a witness-evidence entry")
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Edits entry 1 (a record batch), rebuilds every hash, drops every older
/// checkpoint and re-signs the newest (as tests/tests/audit.rs does).
fn rewrite_history(data_dir: &Path, certs: &Path) {
    let db = sled::open(data_dir).unwrap();
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
    let mut edge = RightEdge::empty();
    for item in tree.scan_prefix([b'L']) {
        let (_, bytes) = item.unwrap();
        for (level, index, hash) in edge.append(leaf_hash(&bytes)) {
            let key = [&[b'H', level][..], &index.to_be_bytes()].concat();
            tree.insert(key, &hash[..]).unwrap();
        }
    }
    let signer = Signer::load(&certs.join("signer.crt"), &certs.join("signer.key")).unwrap();
    let origin = "credshare.example/BANK-A/query-log";
    let checkpoint = Checkpoint {
        origin: origin.into(),
        size: edge.size(),
        root: edge.root(),
        timestamp_ms: Some(credshare_e2e::now_ms()),
        extensions: Vec::new(),
    };
    let stored = pb::GetCheckpointResponse {
        checkpoint: Some(pb::Checkpoint {
            signed_note: checkpoint.sign(origin, signer.key_pair()),
        }),
        signer_certificate: signer.certificate_der().to_vec(),
    };
    let key = [&[b'C'][..], &edge.size().to_be_bytes()].concat();
    tree.insert(key, stored.encode_to_vec()).unwrap();
    db.flush().unwrap();
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

/// `GetCheckpoint` of `node`'s newest checkpoint, as the regulator.
async fn newest_checkpoint(c: &Consortium, node: &NodeProcess) -> pb::GetCheckpointResponse {
    let tls = c.tls("REG-1", "regulator").unwrap();
    let channel = credshare_e2e::channel(&tls, node.peer_addr).await.unwrap();
    pb::audit_service_client::AuditServiceClient::new(channel)
        .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_refuses_foreign_and_malformed_submissions_and_changes_nothing() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation_with(&c, FAST).unwrap();
    let (a, b, cc) = (&nodes[0], &nodes[1], &nodes[2]);
    import(&c, a, 2, 20);
    import(&c, cc, 2, 21);
    let cosigned = wait_cosigned(&c, a, 2).await;
    let own = newest_checkpoint(&c, a).await;
    let foreign = newest_checkpoint(&c, cc).await;
    let submit = |who: &'static str, role: &'static str, request: pb::AddCheckpointRequest| {
        let c = &c;
        async move {
            let channel = credshare_e2e::channel(&c.tls(who, role).unwrap(), b.peer_addr)
                .await
                .unwrap();
            pb::witness_service_client::WitnessServiceClient::new(channel)
                .add_checkpoint(request)
                .await
                .unwrap_err()
        }
    };
    let request =
        |cp: &pb::GetCheckpointResponse, old_size: u64, hashes: usize| pb::AddCheckpointRequest {
            old_size,
            consistency_proof: vec![vec![0; 32]; hashes],
            checkpoint: cp.checkpoint.clone().unwrap().signed_note,
            signer_certificate: cp.signer_certificate.clone(),
            ..Default::default()
        };
    // BANK-A submits BANK-C's log: a node submits only its own.
    let status = submit("BANK-A", "node", request(&foreign, 0, 0)).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("BANK-C"), "{status:?}");
    // 64 proof hashes (tlog-witness: at most 63); an old size past the tree.
    let status = submit("BANK-A", "node", request(&own, cosigned, 64)).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("63"), "{status:?}");
    let status = submit("BANK-A", "node", request(&own, cosigned + 1, 0)).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    // A stale old size: the size held comes back in the detail.
    let status = submit("BANK-A", "node", request(&own, 0, 0)).await;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    let conflict = credshare_node::federation::conflict::from_status(&status).unwrap();
    assert_eq!(conflict.held_size, cosigned);
    assert!(!conflict.evidence_recorded);
    // Only nodes may submit.
    let status = submit("REG-1", "regulator", request(&own, cosigned, 0)).await;
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    // Nothing changed: no evidence, BANK-A's log still cosigned at its size.
    assert!(node_status(&c, b).await.witness_evidence_against.is_empty());
    let s = node_status(&c, a).await;
    assert!(
        s.witnesses.iter().all(|w| w.cosigned_size == cosigned),
        "{s:?}"
    );
}
