//! Witnessing between real nodes (docs/protocol.md §13): every node cosigns
//! its peers' checkpoints; receipts carry the cosignatures, which the
//! requester and a regulator verify; a witness refuses submissions that are
//! not the caller's own log, or malformed, and changes nothing. Faults (a
//! rewritten log, an older copy of the data, a declared restore) are in
//! `witness_faults.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use credshare_e2e::witness::{FAST, import, newest_checkpoint, node_status, wait_cosigned};
use credshare_e2e::{
    Consortium, NodeProcess, cli_json, regulator_audit, start_federation_with, text,
};
use credshare_node::audit::witnessed::verify_receipt_witnesses;
use credshare_node::pki::InstitutionId;
use credshare_node::signing::SignatureVerifier;
use credshare_proto::v1 as pb;
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

fn ok(c: &Consortium, node: &NodeProcess, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli_json(c, node, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    stdout
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
    let consent_id = credshare_e2e::loan_consent(&c, a, BORROWER);
    let assessment: Value = serde_json::from_str(&ok(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            &consent_id,
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
    let envelope = credshare_e2e::signed_loan_grant(c, "BANK-A", "W-1", vec![9; 32]);
    credshare_e2e::peer_client(c, "BANK-A", holder)
        .await
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
        credshare_e2e::witness::refused_submission(&c, who, role, b, request)
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
