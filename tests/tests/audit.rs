//! The regulator's side of the query log, against real nodes: the
//! `AuditService` API verified from the CA alone, `credshare audit`, who may
//! call it, and tampering with the store while the node is down: found
//! before serving in the log's newest part, by the background check of
//! the whole log deeper in (docs/design.md §5, invariant 6).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::offline::{rehash, sign_head};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use credshare_e2e::regulator_audit as regulator_cli;
use credshare_e2e::text;
use credshare_e2e::{
    Consortium, NodeProcess, NodeSpec, admin_client, channel, credit_fixture, eventually, status,
};
use credshare_node::audit::{
    self, Checkpoint, Hash, leaf_hash, root_of_leaves, verify_checkpoint_consistency,
    verify_receipt, verify_signed_checkpoint,
};
use credshare_node::pki::{self, InstitutionId};
use credshare_node::signing::SignatureVerifier;
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;
use pb::audit_service_client::AuditServiceClient;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const ORIGIN: &str = "credshare.example/BANK-A/query-log";

/// Writes a sample for BANK-A and imports its credit summaries in small
/// calls, so the log gets several record-batch entries and checkpoints.
fn import_sample(c: &Consortium, node: &NodeProcess, borrowers: u64, seed: u64) {
    let out = c
        .sample_a(&format!("sample-{seed}"), borrowers, seed)
        .unwrap();
    let result = c
        .admin_cli(node)
        .args(["records", "import"])
        .arg(out.join("credit.csv"))
        .args(["--kind", "credit", "--rows-per-call", "7"])
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", text(&result));
}

fn verifier(c: &Consortium) -> SignatureVerifier {
    let ca = pki::load_certs(&c.ca_dir().join("ca.crt")).unwrap();
    let crl = pki::load_crls(&c.ca_dir().join("ca.crl")).unwrap();
    SignatureVerifier::new(ca, crl).unwrap()
}

fn bank_a() -> InstitutionId {
    InstitutionId::parse("BANK-A").unwrap()
}

async fn audit_client(
    material: &TlsMaterial,
    addr: std::net::SocketAddr,
) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(channel(material, addr).await.unwrap())
}

/// The latest checkpoint, verified from the CA alone.
async fn latest(client: &mut AuditServiceClient<Channel>, c: &Consortium) -> Checkpoint {
    let response = client
        .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner();
    let note = response.checkpoint.unwrap().signed_note;
    let signed = verify_signed_checkpoint(
        &note,
        &response.signer_certificate,
        &verifier(c),
        Some(&bank_a()),
        Some(ORIGIN),
        SystemTime::now(),
    )
    .unwrap();
    signed.checkpoint
}

async fn entries(client: &mut AuditServiceClient<Channel>, start: u64, end: u64) -> Vec<Vec<u8>> {
    let mut stream = client
        .get_entries(pb::GetEntriesRequest { start, end })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.message().await.unwrap() {
        assert_eq!(item.index, start + out.len() as u64, "entries in order");
        out.push(item.entry);
    }
    out
}

fn hashes(wire: &[Vec<u8>]) -> Vec<Hash> {
    audit::receipt::proof_hashes(wire).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulator_verifies_entries_and_proofs_from_the_ca_alone() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    import_sample(&c, &node, 30, 5);
    let regulator = c.tls("REG-1", "regulator").unwrap();
    let mut client = audit_client(&regulator, node.peer_addr).await;

    let newest = latest(&mut client, &c).await;
    let size = newest.size;
    assert!(size >= 4, "several record batches, got {size}");
    let all = entries(&mut client, 0, 0).await;
    assert_eq!(all.len() as u64, size);
    let leaves: Vec<Hash> = all.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(root_of_leaves(&leaves), newest.root);
    // Leaf 0 records the signer key's first use; then record batches.
    for (i, entry) in all.iter().enumerate() {
        let entry = pb::LogEntry::decode(entry.as_slice()).unwrap();
        if i == 0 {
            assert!(matches!(
                entry.kind,
                Some(pb::log_entry::Kind::SignerKey(_))
            ));
        } else {
            assert!(matches!(
                entry.kind,
                Some(pb::log_entry::Kind::RecordBatch(_))
            ));
        }
    }
    assert_eq!(entries(&mut client, 1, 3).await, all[1..3].to_vec());

    // Every leaf's inclusion proof makes a receipt that verifies.
    let newest_response = client
        .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner();
    for leaf in 0..size {
        let proof = client
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf_index: leaf,
                tree_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let receipt = pb::Receipt {
            leaf_index: leaf,
            entry: all[leaf as usize].clone(),
            checkpoint: newest_response.checkpoint.clone(),
            proof: Some(proof),
            signer_certificate: newest_response.signer_certificate.clone(),
            ..Default::default()
        };
        let verified = verify_receipt(
            &receipt,
            &verifier(&c),
            &bank_a(),
            Some(ORIGIN),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(verified.tree_size, size);
    }

    // Every signed size is a prefix of the log and consistent with the newest.
    let mut signed_sizes = Vec::new();
    for s in 1..=size {
        match client
            .get_checkpoint(pb::GetCheckpointRequest { tree_size: s })
            .await
        {
            Ok(response) => {
                let response = response.into_inner();
                let cp = verify_signed_checkpoint(
                    &response.checkpoint.unwrap().signed_note,
                    &response.signer_certificate,
                    &verifier(&c),
                    Some(&bank_a()),
                    Some(ORIGIN),
                    SystemTime::now(),
                )
                .unwrap()
                .checkpoint;
                assert_eq!(cp.root, root_of_leaves(&leaves[..s as usize]));
                signed_sizes.push(cp);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound);
                assert!(
                    status.message().contains(&format!("size {s}")),
                    "{status:?}"
                );
                // No proofs against unsigned roots.
                let err = client
                    .get_inclusion_proof(pb::GetInclusionProofRequest {
                        leaf_index: 0,
                        tree_size: s,
                    })
                    .await
                    .unwrap_err();
                assert_eq!(err.code(), Code::NotFound, "{err:?}");
            }
        }
    }
    assert!(signed_sizes.len() >= 2, "several checkpoints");
    for old in &signed_sizes {
        let proof = client
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: old.size,
                new_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((proof.old_size, proof.new_size), (old.size, size));
        verify_checkpoint_consistency(old, &newest, &hashes(&proof.hashes)).unwrap();
    }

    // Bad requests get clear statuses.
    let expect = |result: Result<_, tonic::Status>, code: Code, needle: &str| {
        let status = result.map(|_: ()| ()).unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(needle), "{status:?}");
    };
    let checkpoint = client
        .get_checkpoint(pb::GetCheckpointRequest {
            tree_size: size + 1,
        })
        .await;
    expect(
        checkpoint.map(drop),
        Code::NotFound,
        &format!("size {}", size + 1),
    );
    let beyond = client
        .get_entries(pb::GetEntriesRequest {
            start: 0,
            end: size + 1,
        })
        .await;
    expect(beyond.map(drop), Code::OutOfRange, "beyond");
    let reversed = client
        .get_entries(pb::GetEntriesRequest { start: 3, end: 2 })
        .await;
    expect(reversed.map(drop), Code::InvalidArgument, "after end");
    let leaf = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf_index: size,
            tree_size: 0,
        })
        .await;
    expect(leaf.map(drop), Code::OutOfRange, "out of range");
    let order = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: size,
            new_size: 1,
        })
        .await;
    expect(order.map(drop), Code::InvalidArgument, "larger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_regulators_and_own_admins_may_audit() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    import_sample(&c, &node, 5, 6);
    let request = pb::GetCheckpointRequest { tree_size: 0 };

    for (institution, role) in [("BANK-A", "node"), ("BANK-B", "node"), ("BANK-B", "admin")] {
        let material = c.tls(institution, role).unwrap();
        let mut client = audit_client(&material, node.peer_addr).await;
        let err = client.get_checkpoint(request).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{institution} {role}");
        // Not even a stream starts.
        let err = client
            .get_entries(pb::GetEntriesRequest { start: 0, end: 0 })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{institution} {role}");
    }

    // BANK-A's admin, on the admin listener.
    let admin = c.tls("BANK-A", "admin").unwrap();
    let mut client = audit_client(&admin, node.admin_addr).await;
    let cp = latest(&mut client, &c).await;
    assert!(cp.size >= 1);
    // The regulator, on the admin listener too (AuditService is on both).
    let regulator = c.tls("REG-1", "regulator").unwrap();
    let mut client = audit_client(&regulator, node.admin_addr).await;
    assert_eq!(latest(&mut client, &c).await.size, cp.size);
    assert!(node.log().contains("permission denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credshare_audit_verifies_and_catches_rewritten_history() {
    let c = Consortium::new().unwrap();
    let mut node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    import_sample(&c, &node, 10, 7);
    let first = c.root().join("first.note");
    let out = regulator_cli(
        &c,
        &node,
        &["verify", "--save-checkpoint", first.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK: the query log verifies"), "{stdout}");
    assert!(stdout.contains("record batches"), "{stdout}");

    import_sample(&c, &node, 12, 8);
    let second = c.root().join("second.note");
    let out = regulator_cli(
        &c,
        &node,
        &[
            "verify",
            "--from-checkpoint",
            first.to_str().unwrap(),
            "--save-checkpoint",
            second.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("consistency proof verified"));

    // Machine-readable forms.
    let out = regulator_cli(&c, &node, &["--json", "checkpoint"]);
    assert!(out.status.success(), "{}", text(&out));
    let cp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cp["origin"], ORIGIN);
    assert_eq!(cp["signer"], "BANK-A");
    assert_eq!(cp["signature_verified"], true);
    let size = cp["size"].as_u64().unwrap();
    let out = regulator_cli(
        &c,
        &node,
        &["--json", "entries", "--start", "1", "--end", "4"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["index"], 1);
    assert_eq!(lines[0]["kind"], "record-batch");
    // A range past the end shows what exists and says so.
    let past = (size + 7).to_string();
    let out = regulator_cli(&c, &node, &["entries", "--start", "0", "--end", &past]);
    assert!(out.status.success(), "{}", text(&out));
    let note = format!(
        "the log has {size} entries: showing 0 to {} (asked for up to {})",
        size - 1,
        size + 6
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&note),
        "{}",
        text(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        size + 1
    );
    let out = regulator_cli(&c, &node, &["--json", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["verified"], true);
    assert_eq!(summary["entries"]["record_batches"], size - 1);
    assert_eq!(summary["entries"]["signer_keys"], 1);

    // The holder rewrites entry 1 and re-signs a newest checkpoint: its own
    // older signed checkpoints disagree, so the node refuses to start and
    // names the first index that can be bad.
    node.stop().unwrap();
    rewrite_history(&node.data_dir, &c.certs("BANK-A"), false);
    let err = node.spawn(&[]).unwrap_err().to_string();
    assert!(
        err.contains("query log entry 0 fails verification"),
        "{err}"
    );
    // A thorough forger also deletes the older checkpoints: the node starts
    // and a fresh audit passes, but the regulator's saved checkpoints
    // expose the rewrite.
    rewrite_history(&node.data_dir, &c.certs("BANK-A"), true);
    // The high-water file (same size, the honest root) would stop this
    // forgery at start-up too; a thorough forger removes it.
    std::fs::remove_file(node.data_dir.join("high-water")).unwrap();
    node.spawn(&[]).unwrap();
    let out = regulator_cli(&c, &node, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = regulator_cli(
        &c,
        &node,
        &["verify", "--from-checkpoint", second.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("history was rewritten"),
        "{}",
        text(&out)
    );

    let out = regulator_cli(
        &c,
        &node,
        &["verify", "--from-checkpoint", first.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The forger deleted its older checkpoints: it cannot show the one the
    // regulator saved, let alone prove the new log extends it.
    let message = text(&out);
    assert!(
        message.contains("no longer serves its checkpoint of size"),
        "{message}"
    );
}

/// Key of log entry `index` in the store (`L` ‖ index big-endian).
fn entry_key(index: u64) -> Vec<u8> {
    let mut key = vec![b'L'];
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// What a dishonest holder with its own signing key could do offline:
/// edit entry 1 (the first record batch), rebuild every hash and re-sign
/// the newest checkpoint.
fn rewrite_history(data_dir: &Path, certs: &Path, drop_old_checkpoints: bool) {
    let db = credshare_node::storage::open_offline(data_dir).unwrap();
    let tree = db.open_tree("credshare").unwrap();
    if drop_old_checkpoints {
        for key in tree.scan_prefix([b'C']).keys() {
            tree.remove(key.unwrap()).unwrap();
        }
    }
    let mut entry =
        pb::LogEntry::decode(tree.get(entry_key(1)).unwrap().unwrap().as_ref()).unwrap();
    let Some(pb::log_entry::Kind::RecordBatch(batch)) = &mut entry.kind else {
        panic!("entry 1 is a record batch")
    };
    batch.stored = 1000 + batch.stored % 1000;
    tree.insert(entry_key(1), entry.encode_to_vec()).unwrap();
    let edge = rehash(&tree);
    sign_head(&tree, certs, ORIGIN, &edge);
    db.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_dropped_entry_stops_the_node() {
    let c = Consortium::new().unwrap();
    let mut node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    import_sample(&c, &node, 10, 9);
    node.stop().unwrap();
    let store: PathBuf = node.data_dir.clone();
    let last = edit_store(&store, |tree| {
        let (key, _) = tree.scan_prefix([b'L']).next_back().unwrap().unwrap();
        u64::from_be_bytes(key[1..].try_into().unwrap())
    });
    // Entry 1 is in the first batch: several signed checkpoints ago.
    assert!(last >= 3, "several batches, one checkpoint each: {last}");

    // One flipped byte in the newest batch: found before serving.
    let original = flip_entry(&store, last);
    let err = respawn_fails(&mut node);
    assert!(
        err.contains(&format!("query log entry {last} fails verification")),
        "{err}"
    );
    put_entry(&store, last, original);

    // One flipped byte deep in the log: the node serves at once, and the
    // background check of the whole log finds it and stops serving.
    let original = flip_entry(&store, 1);
    node.spawn(&[]).unwrap();
    let why = not_ready_reason(&c, &node).await;
    assert!(
        why.contains("query log entry 1 fails verification"),
        "{why}"
    );
    let http = node.metrics_addr.unwrap();
    let (code, body) = credshare_e2e::http_get(http, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("query log entry 1 fails"), "{body}");
    let (_, metrics) = credshare_e2e::http_get(http, "/metrics");
    assert!(
        metrics.contains("credshare_log_verify_state -1"),
        "{metrics}"
    );
    let tls = c.tls("BANK-A", "admin").unwrap();
    let ch = channel(&tls, node.admin_addr).await.unwrap();
    let health = HealthClient::new(ch.clone());
    eventually(Duration::from_secs(10), "gRPC health NOT_SERVING", || {
        let mut health = health.clone();
        async move {
            let status = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            status == ServingStatus::NotServing as i32
        }
    })
    .await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ch);
    let refused = admin
        .put_record(pb::PutRecordRequest {
            record: Some(pb::RecordInput {
                record: Some(pb::record_input::Record::Credit(credit_fixture(
                    "BANK-A", "F-AFTER",
                ))),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    node.stop().unwrap();
    assert_eq!(
        edit_store(&store, |tree| tree.scan_prefix([b'L']).count() as u64),
        last + 1,
        "nothing was written on top of the bad entry"
    );

    // Restored, the node starts again and the background check passes.
    put_entry(&store, 1, original);
    node.spawn(&[]).unwrap();
    let http = node.metrics_addr.unwrap();
    eventually(Duration::from_secs(10), "background check passed", || {
        let (_, metrics) = credshare_e2e::http_get(http, "/metrics");
        async move { metrics.contains("credshare_log_verify_state 1") }
    })
    .await;
    assert_eq!(credshare_e2e::http_get(http, "/readyz").0, 200);
    node.stop().unwrap();

    // The last entry dropped.
    edit_store(&store, |tree| {
        let (last, _) = tree.scan_prefix([b'L']).next_back().unwrap().unwrap();
        tree.remove(last).unwrap();
    });
    let err = respawn_fails(&mut node);
    assert!(err.contains("fails verification"), "{err}");
    assert!(err.contains("newest checkpoint says size"), "{err}");
}

/// Flips one byte in the middle of entry `index`; returns the original.
fn flip_entry(dir: &Path, index: u64) -> Vec<u8> {
    edit_store(dir, |tree| {
        let original = tree.get(entry_key(index)).unwrap().unwrap().to_vec();
        let mut edited = original.clone();
        edited[original.len() / 2] ^= 0x01;
        tree.insert(entry_key(index), edited).unwrap();
        original
    })
}

fn put_entry(dir: &Path, index: u64, bytes: Vec<u8>) {
    edit_store(dir, |tree| {
        tree.insert(entry_key(index), bytes).unwrap();
    });
}

/// Waits until the node's `Status` says it is not ready; returns why.
async fn not_ready_reason(c: &Consortium, node: &NodeProcess) -> String {
    let tls = c.tls("BANK-A", "admin").unwrap();
    let admin = admin_client(&tls, node.admin_addr).await.unwrap();
    eventually(Duration::from_secs(30), "node reports not ready", || {
        let mut admin = admin.clone();
        async move { !status(&mut admin).await.unwrap().ready }
    })
    .await;
    status(&mut admin.clone()).await.unwrap().not_ready_reason
}

fn edit_store<T>(dir: &Path, edit: impl FnOnce(&sled::Tree) -> T) -> T {
    let db = credshare_node::storage::open_offline(dir).unwrap();
    let tree = db.open_tree("credshare").unwrap();
    let result = edit(&tree);
    db.flush().unwrap();
    result
}

/// Restarts the node, expecting it to refuse; returns what it said since.
fn respawn_fails(node: &mut NodeProcess) -> String {
    let before = node.log().len();
    let err = node.spawn(&[]).expect_err("node must refuse to start");
    let said = node.log()[before..].to_string();
    assert!(err.to_string().contains("exit status: 1"), "{err}");
    said
}
