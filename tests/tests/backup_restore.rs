//! Backup and restore against real nodes: an online backup taken under
//! query load, more queries, then a restore into an empty data directory.
//! The restored node starts, its log declares the new epoch (`credshare
//! audit verify` shows the break), receipts issued before the backup still
//! verify, and a checkpoint saved before the backup is still extended.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use credshare_e2e::regulator_audit as regulator;
use credshare_e2e::{Consortium, bin, channel, start_federation};
use credshare_node::audit::receipt::verify_receipt;
use credshare_node::pki::InstitutionId;
use credshare_node::signing::{CONSENT_GRANT_TYPE, SignatureVerifier, Signer};
use credshare_proto::v1 as pb;
use prost::Message;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn text(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// BANK-A's node asks BANK-B once with a current grant; the receipt.
async fn query_b(c: &Consortium, b_addr: std::net::SocketAddr, n: u64) -> pb::Receipt {
    let dir = c.certs("BANK-A");
    let signer = Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap();
    let borrower = vec![(n % 200) as u8; 32];
    let from = now_ms() - 60_000;
    let grant = pb::ConsentGrant {
        consent_id: format!("BANK-A-BACKUP-{n}"),
        borrower_key: borrower.clone(),
        key_generation: 0,
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: from,
        not_after_ms: from + 86_400_000,
        authorization_sha256: vec![7; 32],
        issued_at_ms: from,
    };
    let env = signer.sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec());
    let ch = channel(&c.tls("BANK-A", "node").unwrap(), b_addr)
        .await
        .unwrap();
    let response = pb::peer_service_client::PeerServiceClient::new(ch)
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(env),
            borrower_key: borrower,
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: vec![1, 2, 3, 4],
            ..Default::default()
        })
        .await
        .unwrap();
    response.into_inner().receipt.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_declares_a_new_epoch_and_old_receipts_still_verify() {
    let c = Arc::new(Consortium::new().unwrap());
    let mut nodes = start_federation(&c).unwrap();
    let b_addr = nodes[1].peer_addr;
    let mut before = Vec::new();
    for n in 0..5 {
        before.push(query_b(&c, b_addr, n).await);
    }
    let saved = c.root().join("b-before.cp");
    let out = regulator(
        &c,
        &nodes[1],
        &["verify", "--save-checkpoint", saved.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Online backup while BANK-A keeps querying.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (c, stop) = (c.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 100;
            while !stop.load(Ordering::Relaxed) {
                query_b(&c, b_addr, n).await;
                n += 1;
            }
            n - 100
        })
    };
    let backup_dir = c.root().join("backup-b");
    let out = Command::new(bin("credshare-node"))
        .args(["backup", "--config"])
        .arg(&nodes[1].config)
        .arg("--out")
        .arg(&backup_dir)
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let during = load.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(backup_dir.join("manifest.json").is_file());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let backup_size = manifest["log_size"].as_u64().unwrap();

    // More queries after the backup: these entries are lost by the restore.
    for n in 1000..1005 {
        query_b(&c, b_addr, n).await;
    }

    // A tampered backup is refused before anything is written.
    let b = &mut nodes[1];
    b.stop().unwrap();
    let old = b.data_dir.with_file_name("data-before-restore");
    std::fs::rename(&b.data_dir, &old).unwrap();
    let tampered = c.root().join("backup-tampered");
    credshare_node::storage::format::copy_tree(&backup_dir, &tampered, &[]).unwrap();
    let kv = tampered.join("store.kv");
    let mut bytes = std::fs::read(&kv).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&kv, bytes).unwrap();
    let restore = |from: &std::path::Path| {
        Command::new(bin("credshare-node"))
            .args(["restore", "--from"])
            .arg(from)
            .arg("--config")
            .arg(&b.config)
            .output()
            .unwrap()
    };
    let out = restore(&tampered);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("SHA-256"), "{}", text(&out));
    assert!(
        !b.data_dir.join("db").exists(),
        "a refused restore wrote a store"
    );

    let out = restore(&backup_dir);
    assert!(out.status.success(), "{}", text(&out));
    b.restart().unwrap();

    let out = regulator(&c, b, &["verify"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("EPOCH BREAK"), "{shown}");
    assert!(
        shown.contains(&format!("at entry {backup_size}: epoch 2")),
        "{shown}"
    );
    let out = regulator(
        &c,
        b,
        &["verify", "--from-checkpoint", saved.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));

    let tls = c.tls("BANK-A", "admin").unwrap();
    let verifier = SignatureVerifier::new(tls.ca_certs.clone(), tls.crls.clone()).unwrap();
    let bank_b = InstitutionId::parse("BANK-B").unwrap();
    for r in &before {
        verify_receipt(r, &verifier, &bank_b, None, SystemTime::now()).unwrap();
    }
    // The restored node answers again, at the new epoch.
    query_b(&c, b.peer_addr, 2000).await;
    assert!(during > 0, "no query ran during the backup");
}
