//! A consortium whose certificates come from an intermediate CA under a
//! root: `pki init-ca --intermediate`, certificates issued as chains and a
//! `ca.crt` bundle (intermediate + root). Real nodes verify it everywhere —
//! TLS in both directions (admin and peer), consent grants, record
//! signatures at DETAIL, receipts' checkpoints — with only the root as a
//! trust anchor, so revoking the intermediate at the root takes effect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use credshare_cli::federation::{NodeProgram, Site};
use credshare_e2e::{NodeProcess, NodeSpec, bin, credshare, free_port, issue};
use credshare_node::pki;
use credshare_node::signing::SignatureVerifier;

/// `credshare --json ARGS` as `bank`'s admin of `node`: (exit code, stdout, stderr).
fn admin(
    root: &Path,
    bank: &str,
    node: &NodeProcess,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = Command::new(bin("credshare"))
        .arg("--json")
        .args(args)
        .env("CREDSHARE_CERTS", root.join(bank))
        .env("CREDSHARE_ADMIN_ADDR", node.admin_addr.to_string())
        .env("CREDSHARE_SECRET", root.join("consortium.secret"))
        .env("HOME", root)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Root CA in `root/`, the issuing intermediate in `ca/`, BANK-A and BANK-B
/// (node, admin, signer) issued by the intermediate, a consortium secret.
fn consortium(root: &Path) {
    let path = |p: &str| root.join(p).display().to_string();
    credshare(&[
        "pki",
        "init-ca",
        "--dir",
        &path("root"),
        "--name",
        "Test Root CA",
    ])
    .unwrap();
    credshare(&[
        "pki",
        "init-ca",
        "--intermediate",
        "--ca",
        &path("root"),
        "--dir",
        &path("ca"),
        "--name",
        "Test Issuing CA",
    ])
    .unwrap();
    for bank in ["BANK-A", "BANK-B"] {
        for role in ["node", "admin", "signer"] {
            let hosts: &[&str] = match role {
                "node" => &["--ip", "127.0.0.1"],
                "admin" => &["--officer", "OFFICER-1"],
                _ => &[],
            };
            issue(&root.join("ca"), role, bank, &root.join(bank), hosts).unwrap();
        }
    }
    credshare(&[
        "consortium-secret",
        "generate",
        "--out",
        &path("consortium.secret"),
    ])
    .unwrap();
}

fn verifier(root: &Path) -> SignatureVerifier {
    let bundle = pki::load_certs(&root.join("BANK-A/ca.crt")).unwrap();
    let mut crls = pki::load_crls(&root.join("root/ca.crl")).unwrap();
    crls.extend(pki::load_crls(&root.join("ca/ca.crl")).unwrap());
    SignatureVerifier::new(bundle, crls).unwrap()
}

#[test]
fn certificates_from_an_intermediate_ca_verify_everywhere() {
    credshare_node::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    consortium(root);
    // The chain file and the bundle: leaf + intermediate, intermediate + root.
    assert_eq!(
        pki::load_certs(&root.join("BANK-A/node.crt"))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        pki::load_certs(&root.join("BANK-A/ca.crt")).unwrap().len(),
        2
    );

    let site = Site {
        certs_root: root.to_path_buf(),
        secret: root.join("consortium.secret"),
        work_root: root.to_path_buf(),
        program: NodeProgram::node_binary(bin("credshare-node")),
    };
    let crls = format!(
        "[\"{}\", \"{}\"]",
        root.join("root/ca.crl").display(),
        root.join("ca/ca.crl").display()
    );
    let (a_port, b_port) = (free_port(), free_port());
    let spec = |bank: &str, port: u16, peer: (&str, u16)| NodeSpec {
        institution: bank.into(),
        peer_port: port,
        peers: vec![(peer.0.into(), peer.1)],
        env: vec![("CREDSHARE_TLS__CRL_FILES".into(), crls.clone())],
    };
    let a = NodeProcess::start(&site, &spec("BANK-A", a_port, ("BANK-B", b_port))).unwrap();
    let b = NodeProcess::start(&site, &spec("BANK-B", b_port, ("BANK-A", a_port))).unwrap();

    // TLS: admin to node, and node to node (peer reachability) both ways.
    for (bank, node) in [("BANK-A", &a), ("BANK-B", &b)] {
        let (code, stdout, stderr) = admin(root, bank, node, &["status", "--wait", "20"]);
        assert_eq!(code, Some(0), "{stderr}");
        let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(s["peers"][0]["reachable"], true, "{s:#}");
    }

    // Grants, records and receipts: a DETAIL assessment of a borrower B holds.
    let sample = root.join("sample-b");
    let sample_s = sample.display().to_string();
    credshare(&[
        "sample",
        "--institution",
        "BANK-B",
        "--borrowers",
        "10",
        "--out",
        &sample_s,
    ])
    .unwrap();
    for (file, kind) in [("credit.csv", "credit"), ("visits.csv", "visit")] {
        let path = sample.join(file).display().to_string();
        let (code, _, stderr) = admin(
            root,
            "BANK-B",
            &b,
            &["records", "import", &path, "--kind", kind],
        );
        assert_eq!(code, Some(0), "{stderr}");
    }
    let shared = std::fs::read_to_string(sample.join("shared-borrowers.txt")).unwrap();
    let id = shared.lines().next().unwrap();
    let letter = root.join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();
    let letter = letter.display().to_string();
    let issue_args = [
        "consent",
        "issue",
        "--id",
        id,
        "--purpose",
        "loan-approval",
        "--scope",
        "detail",
        "--valid-days",
        "30",
        "--evidence",
        &letter,
    ];
    let (code, _, stderr) = admin(root, "BANK-A", &a, &issue_args);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = admin(
        root,
        "BANK-A",
        &a,
        &[
            "assess",
            "--id",
            id,
            "--purpose",
            "loan-approval",
            "--scope",
            "detail",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    let assessment: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let bank_b = assessment["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["institution"] == "BANK-B")
        .unwrap();
    assert_eq!(bank_b["status"], "ANSWERED", "{bank_b:#}");
    let records = bank_b["records"].as_array().unwrap();
    assert!(!records.is_empty(), "{bank_b:#}");
    assert!(
        records
            .iter()
            .all(|r| r["verification"]["signer_institution"] == "BANK-B")
    );

    // Only the root is an anchor: revoking the intermediate at the root
    // makes what it issued stop verifying.
    let signer = pki::load_certs(&root.join("BANK-A/signer.crt")).unwrap();
    let now = SystemTime::now();
    verifier(root)
        .verify_signer_certificate(&signer[0], now)
        .unwrap();
    let path = |p: &str| root.join(p).display().to_string();
    credshare(&[
        "pki",
        "revoke",
        "--ca",
        &path("root"),
        "--cert",
        &path("ca/ca.crt"),
    ])
    .unwrap();
    let err = verifier(root)
        .verify_signer_certificate(&signer[0], now + std::time::Duration::from_secs(5))
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
}
