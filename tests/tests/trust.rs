//! Trust that changes while nodes run (docs/operations.md): certificates
//! revoked and CRLs re-signed without a restart, stale CRLs, signer keys
//! rotated on a running node, and consents that cannot outlive their
//! revocation — locally, at peers that join later, and at peers restored
//! from an older copy of their data directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::offline::copy_dir;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use credshare_e2e::{Consortium, NodeProcess, NodeSpec, bin, channel, credshare};
use credshare_e2e::{eventually, now_ms, plain, text};
use credshare_node::audit::receipt::verify_receipt;
use credshare_node::pki::{self, InstitutionId};
use credshare_node::signing::SignatureVerifier;
use credshare_proto::v1 as pb;

type PeerClient = pb::peer_service_client::PeerServiceClient<tonic::transport::Channel>;
type AdminClient = pb::admin_service_client::AdminServiceClient<tonic::transport::Channel>;

/// Trust files are polled every second in these tests.
const FAST_RELOAD: (&str, &str) = ("CREDSHARE_TLS__RELOAD_INTERVAL_SECONDS", "1");
/// Revocation passes every 200 ms.
const FAST_OUTBOX: (&str, &str) = ("CREDSHARE_LIMITS__OUTBOX_RETRY_MS", "200");

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ca(c: &Consortium) -> String {
    c.ca_dir().display().to_string()
}

fn verifier(c: &Consortium) -> SignatureVerifier {
    let certs = pki::load_certs(&c.ca_dir().join("ca.crt")).unwrap();
    let crls = pki::load_crls(&c.ca_dir().join("ca.crl")).unwrap();
    SignatureVerifier::new(certs, crls).unwrap()
}

async fn admin(c: &Consortium, node: &NodeProcess) -> anyhow::Result<AdminClient> {
    let tls = c.tls(&node.institution, "admin")?;
    Ok(AdminClient::new(channel(&tls, node.admin_addr).await?))
}

async fn peer(c: &Consortium, as_bank: &str, node: &NodeProcess) -> PeerClient {
    let tls = c.tls(as_bank, "node").unwrap();
    PeerClient::new(channel(&tls, node.peer_addr).await.unwrap())
}

/// Starts one node per (institution, peers) with `extra` environment.
fn start(c: &Consortium, institution: &str, peers: &[(&str, u16)], port: u16) -> NodeProcess {
    let spec = NodeSpec {
        institution: institution.into(),
        peer_port: port,
        peers: peers
            .iter()
            .map(|(p, port)| (p.to_string(), *port))
            .collect(),
        env: env(&[FAST_RELOAD, FAST_OUTBOX]),
    };
    NodeProcess::start(c, &spec).unwrap()
}

async fn issue_consent(admin: &mut AdminClient, borrower: &[u8]) -> pb::IssueConsentResponse {
    admin
        .issue_consent(pb::IssueConsentRequest {
            borrower_key: borrower.to_vec(),
            key_generation: 0,
            purposes: vec![pb::Purpose::LoanApproval as i32],
            scope: pb::Scope::Summary as i32,
            not_before_ms: 0,
            not_after_ms: now_ms() + 86_400_000,
            authorization_sha256: vec![9; 32],
        })
        .await
        .unwrap()
        .into_inner()
}

async fn revoke(admin: &mut AdminClient, consent_id: &str) -> pb::RevokeConsentResponse {
    admin
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent_id.into(),
            reason: "withdrawn by the borrower".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn query(grant: &pb::SignedEnvelope, borrower: &[u8]) -> pb::QueryBorrowerRequest {
    pb::QueryBorrowerRequest {
        consent: Some(grant.clone()),
        borrower_key: borrower.to_vec(),
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        request_nonce: vec![4, 3, 2, 1],
        ..Default::default()
    }
}

/// The denial reason of `holder`'s answer to `grant`, or None if answered.
async fn denial_of(
    c: &Consortium,
    holder: &NodeProcess,
    grant: &pb::SignedEnvelope,
    borrower: &[u8],
) -> Option<i32> {
    let mut client = peer(c, "BANK-A", holder).await;
    match client.query_borrower(query(grant, borrower)).await {
        Ok(_) => None,
        Err(status) => {
            let denial = credshare_node::federation::denial::from_status(&status)
                .unwrap_or_else(|| panic!("not a denial: {status:?}"));
            Some(denial.reason)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_revoked_while_the_node_runs_is_refused_and_its_connection_closed() {
    let c = Consortium::new().unwrap();
    let node = start(&c, "BANK-A", &[], credshare_e2e::free_port());
    let mut open = admin(&c, &node).await.unwrap();
    open.status(pb::StatusRequest {}).await.unwrap();

    let revoked = credshare(&[
        "pki",
        "revoke",
        "--ca",
        &ca(&c),
        "--cert",
        c.certs("BANK-A").join("admin.crt").to_str().unwrap(),
        "--reason",
        "keyCompromise",
    ]);
    revoked.unwrap();
    // The node reloads the CRL within seconds: the open connection is
    // closed and a new one is refused, with no restart.
    eventually(
        Duration::from_secs(10),
        "the revoked admin's open connection is closed",
        || {
            let mut client = open.clone();
            async move { client.status(pb::StatusRequest {}).await.is_err() }
        },
    )
    .await;
    let fresh = match admin(&c, &node).await {
        Ok(mut client) => client.status(pb::StatusRequest {}).await.is_err(),
        Err(_) => true,
    };
    assert!(fresh, "a revoked admin certificate still gets Status");
    let log = plain(&node.log());
    assert!(log.contains("trust reloaded"), "{log}");
    assert!(log.contains("closed=1"), "{log}");

    // The node itself keeps serving other, still trusted, identities.
    let mut peer_b = peer(&c, "BANK-B", &node).await;
    peer_b
        .get_node_info(pb::GetNodeInfoRequest {})
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_crl_is_warned_about_then_refused_after_the_grace() {
    let c = Consortium::new().unwrap();
    let yesterday = time::OffsetDateTime::now_utc()
        .date()
        .previous_day()
        .unwrap();
    let day = format!(
        "{:04}-{:02}-{:02}",
        yesterday.year(),
        u8::from(yesterday.month()),
        yesterday.day()
    );
    // With a 48-hour grace, a CRL stale since yesterday is warned about
    // (log and Status) but connections still work.
    let spec = NodeSpec {
        env: env(&[FAST_RELOAD, ("CREDSHARE_TLS__CRL_GRACE_HOURS", "48")]),
        ..NodeSpec::new("BANK-A")
    };
    let mut node = NodeProcess::start(&c, &spec).unwrap();
    let out = credshare(&["pki", "crl", "--ca", &ca(&c), "--next-update", &day]).unwrap();
    assert!(out.contains("already past"), "{out}");
    eventually(Duration::from_secs(10), "a stale-CRL warning", || {
        let c = &c;
        let node = &node;
        async move {
            let mut a = admin(c, node).await.unwrap();
            let status = a.status(pb::StatusRequest {}).await.unwrap().into_inner();
            status.warnings.iter().any(|w| w.contains("CRL"))
        }
    })
    .await;

    // Without a grace (the default), the node fails closed: new
    // connections are refused, and Status (over a connection opened
    // before) says why.
    node.stop().unwrap();
    node.spawn(&env(&[FAST_RELOAD])).unwrap();
    let refused = match admin(&c, &node).await {
        Ok(mut fresh) => fresh.status(pb::StatusRequest {}).await.is_err(),
        Err(_) => true,
    };
    assert!(
        refused,
        "a node with a stale CRL and no grace accepted a new connection"
    );
    assert!(node.log().contains("refused"), "{}", node.log());

    // A current CRL, installed while it runs, brings it back.
    credshare(&["pki", "crl", "--ca", &ca(&c)]).unwrap();
    eventually(
        Duration::from_secs(10),
        "connections accepted again",
        || {
            let (c, node) = (&c, &node);
            async move {
                match admin(c, node).await {
                    Ok(mut a) => a.status(pb::StatusRequest {}).await.is_ok(),
                    Err(_) => false,
                }
            }
        },
    )
    .await;
    let status = status(&c, &node).await;
    assert!(status.warnings.is_empty(), "{:?}", status.warnings);
}

#[test]
fn a_crl_file_without_a_crl_is_a_configuration_error_naming_the_key() {
    let c = Consortium::new().unwrap();
    let dir = c.root().join("node-x");
    let config = dir.join("node.toml");
    let out = Command::new(bin("credshare"))
        .args(["node", "init", "--institution", "BANK-A", "--certs"])
        .arg(c.certs("BANK-A"))
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--secret")
        .arg(c.secret())
        .arg("--crl")
        .arg(c.ca_dir().join("ca.crt"))
        .arg("--out")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = Command::new(bin("credshare-node"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("tls.crl_files"), "{stderr}");
    assert!(stderr.contains("no CRL"), "{stderr}");
}

/// Issues a new signer certificate for `bank` and installs it over the old
/// one; returns the old certificate's path (kept aside).
fn rotate_signer(c: &Consortium, bank: &str, extra: &[&str]) -> std::path::PathBuf {
    let fresh = c.root().join(format!("{bank}-signer-new"));
    credshare_e2e::issue(&c.ca_dir(), "signer", bank, &fresh, extra).unwrap();
    let certs = c.certs(bank);
    let old = c.root().join(format!("{bank}-signer-old.crt"));
    std::fs::copy(certs.join("signer.crt"), &old).unwrap();
    // Key first, then certificate: a reload between the two sees a pair
    // that does not match and keeps the old signer until the next check.
    std::fs::copy(fresh.join("signer.key"), certs.join("signer.key")).unwrap();
    std::fs::copy(fresh.join("signer.crt"), certs.join("signer.crt")).unwrap();
    old
}

async fn status(c: &Consortium, node: &NodeProcess) -> pb::StatusResponse {
    let mut a = admin(c, node).await.unwrap();
    a.status(pb::StatusRequest {}).await.unwrap().into_inner()
}

fn audit_verify(c: &Consortium, node: &NodeProcess) -> Output {
    let args = ["--json", "verify", "--institution", &node.institution];
    credshare_e2e::regulator_audit(c, node, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_key_rotated_on_a_running_node_signs_from_the_next_batch() {
    let c = Consortium::new().unwrap();
    let port_b = credshare_e2e::free_port();
    let a = start(
        &c,
        "BANK-A",
        &[("BANK-B", port_b)],
        credshare_e2e::free_port(),
    );
    let borrower = [0x21u8; 32];
    let mut b_peer = peer(&c, "BANK-B", &a).await;
    // BANK-B's grant, signed by BANK-B's signer (no BANK-B node needed).
    let grant_env = {
        let dir = c.certs("BANK-B");
        let signer =
            credshare_node::signing::Signer::load(&dir.join("signer.crt"), &dir.join("signer.key"))
                .unwrap();
        let grant = pb::ConsentGrant {
            consent_id: "BANK-B-ROTATION-1".into(),
            borrower_key: borrower.to_vec(),
            key_generation: 0,
            grantee_institution: "BANK-B".into(),
            purposes: vec![pb::Purpose::LoanApproval as i32],
            scope: pb::Scope::Summary as i32,
            not_before_ms: now_ms() - 1_000,
            not_after_ms: now_ms() + 86_400_000,
            authorization_sha256: vec![7; 32],
            issued_at_ms: now_ms(),
        };
        signer.sign_envelope(
            credshare_node::signing::CONSENT_GRANT_TYPE,
            prost::Message::encode_to_vec(&grant),
        )
    };
    let before = b_peer
        .query_borrower(query(&grant_env, &borrower))
        .await
        .unwrap()
        .into_inner();
    let old_key = status(&c, &a).await.signer_key_id;

    let old_cert = rotate_signer(&c, "BANK-A", &[]);
    eventually(
        Duration::from_secs(10),
        "the new signer key in force",
        || {
            let (c, a, old_key) = (&c, &a, &old_key);
            async move { status(c, a).await.signer_key_id != *old_key }
        },
    )
    .await;
    let after = b_peer
        .query_borrower(query(&grant_env, &borrower))
        .await
        .unwrap()
        .into_inner();

    // The old key is retired (superseded) after the rotation: what it
    // signed before its revocation still verifies.
    credshare(&[
        "pki",
        "revoke",
        "--ca",
        &ca(&c),
        "--cert",
        old_cert.to_str().unwrap(),
        "--reason",
        "superseded",
    ])
    .unwrap();
    let holder = InstitutionId::parse("BANK-A").unwrap();
    let v = verifier(&c);
    for (which, answer) in [("old", &before), ("new", &after)] {
        let receipt = answer.receipt.as_ref().unwrap();
        verify_receipt(receipt, &v, &holder, None, SystemTime::now())
            .unwrap_or_else(|e| panic!("{which} receipt: {e}"));
    }
    let signer_of = |answer: &pb::QueryBorrowerResponse| {
        answer.receipt.as_ref().unwrap().signer_certificate.clone()
    };
    assert_ne!(
        signer_of(&before),
        signer_of(&after),
        "the new checkpoint is signed by the new key"
    );

    // The regulator verifies the whole log across the key change from the
    // CA alone; the log names both keys.
    let out = audit_verify(&c, &a);
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["verified"], true, "{summary}");
    assert_eq!(summary["entries"]["signer_keys"], 2, "{summary}");
    assert!(
        plain(&a.log()).contains("signer key rotated"),
        "{}",
        a.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_an_expired_signer_certificate_does_not_start_and_says_why() {
    let c = Consortium::new().unwrap();
    let mut node = start(&c, "BANK-A", &[], credshare_e2e::free_port());
    node.stop().unwrap();
    rotate_signer(
        &c,
        "BANK-A",
        &["--not-before", "2024-01-01", "--not-after", "2025-01-01"],
    );
    let err = node.spawn(&[]).unwrap_err().to_string();
    assert!(err.contains("signer"), "{err}");
    assert!(err.contains("expired"), "{err}");
    assert!(
        !err.contains("fails verification"),
        "not reported as tampering: {err}"
    );
    let code = Command::new(bin("credshare-node"))
        .arg("--config")
        .arg(&node.config)
        .status()
        .unwrap()
        .code();
    assert_eq!(code, Some(2), "a configuration error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_or_expired_grant_never_leaves_the_requesting_node() {
    let c = Consortium::new().unwrap();
    let port_b = credshare_e2e::free_port();
    let a = start(
        &c,
        "BANK-A",
        &[("BANK-B", port_b)],
        credshare_e2e::free_port(),
    );
    let b = start(&c, "BANK-B", &[("BANK-A", a.peer_addr.port())], port_b);
    let borrower = [0x31u8; 32];
    let mut a_admin = admin(&c, &a).await.unwrap();
    let issued = issue_consent(&mut a_admin, &borrower).await;
    revoke(&mut a_admin, &issued.consent_id).await;
    let b_size_before = status(&c, &b).await.log_size;

    let err = a_admin
        .assess(pb::AssessRequest {
            borrower_key: borrower.to_vec(),
            consent_id: issued.consent_id.clone(),
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            deadline_ms: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("revoked"), "{err:?}");
    assert!(err.message().contains("no query was sent"), "{err:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status(&c, &b).await.log_size,
        b_size_before,
        "BANK-B logged nothing: no query reached it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_join_later_or_come_back_from_a_backup_learn_of_revocations() {
    let c = Consortium::new().unwrap();
    let (port_a, port_b, port_c) = (
        credshare_e2e::free_port(),
        credshare_e2e::free_port(),
        credshare_e2e::free_port(),
    );
    // BANK-A knows only BANK-B at first; BANK-C runs, but is not A's peer.
    let a = start(&c, "BANK-A", &[("BANK-B", port_b)], port_a);
    let mut b = start(&c, "BANK-B", &[("BANK-A", port_a)], port_b);
    let cn = start(&c, "BANK-C", &[("BANK-A", port_a)], port_c);
    let borrower = [0x41u8; 32];
    let mut a_admin = admin(&c, &a).await.unwrap();
    let issued = issue_consent(&mut a_admin, &borrower).await;
    let grant = issued.grant.clone().unwrap();

    // BANK-B's data directory is copied before the revocation.
    b.stop().unwrap();
    let backup = c.root().join("bank-b-backup");
    copy_dir(&b.data_dir, &backup);
    b.restart().unwrap();

    let revoked = revoke(&mut a_admin, &issued.consent_id).await;
    assert_eq!(revoked.delivered_to, vec!["BANK-B".to_string()]);
    let revoked_reason = Some(pb::DenialReason::Revoked as i32);
    assert_eq!(denial_of(&c, &b, &grant, &borrower).await, revoked_reason);
    assert_ne!(
        denial_of(&c, &cn, &grant, &borrower).await,
        revoked_reason,
        "BANK-C was not A's peer when A revoked"
    );

    // BANK-B comes back from its backup: it no longer knows the
    // revocation until BANK-A notices the restart and announces it again.
    b.stop().unwrap();
    std::fs::remove_dir_all(&b.data_dir).unwrap();
    copy_dir(&backup, &b.data_dir);
    b.restart().unwrap();
    eventually(
        Duration::from_secs(15),
        "BANK-B re-learns the revocation",
        || {
            let (c, b, grant) = (&c, &b, &grant);
            async move { denial_of(c, b, grant, &borrower).await == revoked_reason }
        },
    )
    .await;

    assert_eq!(
        plain(&b.log()).matches("revocation received").count(),
        2,
        "the restored copy had lost the revocation and received it again"
    );

    // BANK-A adds BANK-C as a peer (restart with the new peer list): C
    // learns the revocation on first contact.
    let mut a = a;
    a.stop().unwrap();
    drop(a);
    let a = start(
        &c,
        "BANK-A",
        &[("BANK-B", port_b), ("BANK-C", port_c)],
        port_a,
    );
    eventually(
        Duration::from_secs(15),
        "BANK-C learns the revocation",
        || {
            let (c, cn, grant) = (&c, &cn, &grant);
            async move { denial_of(c, cn, grant, &borrower).await == revoked_reason }
        },
    )
    .await;
    assert!(plain(&a.log()).contains("re-announced"), "{}", a.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_log_origin_is_refused_as_a_change_of_the_logs_identity() {
    let c = Consortium::new().unwrap();
    let mut node = start(&c, "BANK-A", &[], credshare_e2e::free_port());
    let mut a = admin(&c, &node).await.unwrap();
    issue_consent(&mut a, &[0x61; 32]).await;
    node.stop().unwrap();
    let moved = env(&[(
        "CREDSHARE_LOG__ORIGIN",
        "credshare.example/BANK-A/another-log",
    )]);
    let err = node.spawn(&moved).unwrap_err().to_string();
    assert!(err.contains("origin"), "{err}");
    assert!(
        !err.contains("fails verification"),
        "not reported as tampering: {err}"
    );
    let code = Command::new(bin("credshare-node"))
        .arg("--config")
        .arg(&node.config)
        .envs(moved)
        .status()
        .unwrap()
        .code();
    assert_eq!(code, Some(2), "a configuration error");
    // With its own origin it starts again.
    node.restart().unwrap();
}
