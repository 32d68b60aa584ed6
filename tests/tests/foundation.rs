//! Foundation: mTLS, roles and configuration, against real node processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{
    Consortium, NodeProcess, NodeSpec, admin_client, channel, credshare, issue, start_federation,
    status,
};
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn health(material: &TlsMaterial, addr: std::net::SocketAddr) -> anyhow::Result<i32> {
    let mut client = HealthClient::new(channel(material, addr).await?);
    let resp = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(resp.into_inner().status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_over_mtls_and_peers_reach_each_other() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let serving = tonic_health::ServingStatus::Serving as i32;
    for node in &nodes {
        let admin = c.tls(&node.institution, "admin").unwrap();
        assert_eq!(health(&admin, node.admin_addr).await.unwrap(), serving);
        let peer = c.tls("BANK-C", "node").unwrap();
        assert_eq!(health(&peer, node.peer_addr).await.unwrap(), serving);
        let regulator = c.tls("REG-1", "regulator").unwrap();
        assert_eq!(health(&regulator, node.peer_addr).await.unwrap(), serving);

        let mut admin_client = admin_client(&admin, node.admin_addr).await.unwrap();
        let status = status(&mut admin_client).await.unwrap();
        assert_eq!(status.institution_id, node.institution);
        assert_eq!(status.peers.len(), 2);
        for p in &status.peers {
            assert!(
                p.reachable,
                "{} cannot reach {}: {}",
                node.institution, p.institution_id, p.error
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_client_cannot_connect() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    for addr in [node.peer_addr, node.admin_addr] {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
        let result = match endpoint.connect().await {
            Ok(ch) => HealthClient::new(ch)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ()),
            Err(e) => Err(tonic::Status::unavailable(e.to_string())),
        };
        assert!(result.is_err(), "plaintext call to {addr} succeeded");
    }
    assert!(node.log().contains("TLS handshake refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_revoked_and_expired_certificates_fail_the_handshake() {
    let c = Consortium::new().unwrap();
    let root = c.root().display().to_string();
    // A certificate from another CA.
    let foreign = c.issue_from_foreign_ca("admin", "BANK-A").unwrap();
    // A revoked admin certificate of BANK-A.
    let ca = format!("{root}/ca");
    let ca_dir = c.ca_dir();
    issue(&ca_dir, "admin", "BANK-A", &c.root().join("revoked"), &[]).unwrap();
    credshare(&[
        "pki",
        "revoke",
        "--ca",
        &ca,
        "--cert",
        &format!("{root}/revoked/admin.crt"),
    ])
    .unwrap();
    // An expired admin certificate of BANK-A.
    let validity = ["--not-before", "2020-01-01", "--not-after", "2020-12-31"];
    let expired = c.root().join("expired");
    issue(&ca_dir, "admin", "BANK-A", &expired, &validity).unwrap();

    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let good = c.tls("BANK-A", "admin").unwrap();
    assert!(health(&good, node.admin_addr).await.is_ok());
    for dir in [foreign, c.root().join("revoked"), c.root().join("expired")] {
        let bad = dir.display().to_string();
        let material = TlsMaterial::load(
            &c.ca_dir().join("ca.crt"),
            &[],
            &dir.join("admin.crt"),
            &dir.join("admin.key"),
        )
        .unwrap();
        assert!(
            health(&material, node.admin_addr).await.is_err(),
            "{bad} certificate was accepted"
        );
    }
    let log = node.log();
    assert!(log.contains("TLS handshake refused"), "{log}");

    // The CLI: a refused certificate fails the connect, exit code 4, and
    // under --json the error is one JSON object on stderr.
    let ca_crt = c.ca_dir().join("ca.crt");
    for dir in [c.root().join("revoked"), expired] {
        let out = std::process::Command::new(credshare_e2e::bin("credshare"))
            .args(["--json", "status", "--node", &node.admin_addr.to_string()])
            .arg("--certs")
            .arg(&dir)
            .arg("--ca")
            .arg(&ca_crt)
            .env("HOME", c.root())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{}: {stderr}", dir.display());
        let error: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
        assert_eq!(error["error"]["exit_code"], 4, "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("refused this client's certificate"),
            "{message}"
        );
    }
}

/// `credshare --json status` with the admin certificate in `dir`: exit code
/// and stderr.
fn cli_status(c: &Consortium, node: &NodeProcess, dir: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(credshare_e2e::bin("credshare"))
        .args(["--json", "status", "--node", &node.admin_addr.to_string()])
        .arg("--certs")
        .arg(dir)
        .env("HOME", c.root())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_client_certificate_revoked_while_the_node_runs_is_denied_with_exit_code_4() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let officer = c.root().join("officer");
    issue(&c.ca_dir(), "admin", "BANK-A", &officer, &[]).unwrap();
    assert_eq!(cli_status(&c, &node, &officer).0, Some(0));
    let (ca, cert) = (c.ca_dir(), officer.join("admin.crt"));
    credshare(&[
        "pki",
        "revoke",
        "--ca",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
    ])
    .unwrap();
    // The node takes in the new CRL on SIGHUP, without a restart.
    let pid = node.pid().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (code, stderr) = loop {
        let (code, stderr) = cli_status(&c, &node, &officer);
        if code != Some(0) || std::time::Instant::now() > deadline {
            break (code, stderr);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(code, Some(4), "{stderr}");
    let error: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(error["error"]["exit_code"], 4, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced() {
    let c = Consortium::new().unwrap();
    let a = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let denied = tonic::Code::PermissionDenied;

    // A node certificate calling AdminService.
    let node_cert = c.tls("BANK-A", "node").unwrap();
    let mut admin = pb::admin_service_client::AdminServiceClient::new(
        channel(&node_cert, a.admin_addr).await.unwrap(),
    );
    assert_eq!(
        admin.status(pb::StatusRequest {}).await.unwrap_err().code(),
        denied
    );

    // BANK-B's admin calling BANK-A's admin listener.
    let b_admin = c.tls("BANK-B", "admin").unwrap();
    let mut admin = pb::admin_service_client::AdminServiceClient::new(
        channel(&b_admin, a.admin_addr).await.unwrap(),
    );
    let err = admin.status(pb::StatusRequest {}).await.unwrap_err();
    assert_eq!(err.code(), denied);
    assert!(err.message().contains("admin:BANK-B"), "{}", err.message());

    // A regulator calling PeerService.
    let reg = c.tls("REG-1", "regulator").unwrap();
    let mut peer =
        pb::peer_service_client::PeerServiceClient::new(channel(&reg, a.peer_addr).await.unwrap());
    let err = peer
        .query_borrower(pb::QueryBorrowerRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), denied);

    // BANK-A's own admin is allowed, and so is a regulator on AuditService's listener.
    let own = c.tls("BANK-A", "admin").unwrap();
    let mut admin = admin_client(&own, a.admin_addr).await.unwrap();
    assert_eq!(status(&mut admin).await.unwrap().institution_id, "BANK-A");
    assert!(a.log().contains("permission denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_exits_non_zero_naming_the_key() {
    let c = Consortium::new().unwrap();
    let mut node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    assert!(node.stop().unwrap().success(), "clean stop on SIGTERM");
    let bin = credshare_e2e::bin("credshare-node");
    let text = std::fs::read_to_string(&node.config).unwrap();
    let cases = [
        (
            text.replace("cache_capacity_mb = 64", "cache_capacity_mb = 0"),
            "storage.cache_capacity_mb",
        ),
        (
            text.replace("institution = \"BANK-A\"", "institution = \"bank a\""),
            "institution",
        ),
        (format!("{text}\nunknown_key = 1\n"), "unknown_key"),
    ];
    for (i, (bad, key)) in cases.iter().enumerate() {
        let path = c.root().join(format!("bad-{i}.toml"));
        std::fs::write(&path, bad).unwrap();
        let out = std::process::Command::new(&bin)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "case {i}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "case {i}: {stderr}");
    }
    // An environment override is validated the same way.
    let out = std::process::Command::new(&bin)
        .arg("--config")
        .arg(&node.config)
        .env("CREDSHARE_STORAGE__MAX_BATCH", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("storage.max_batch"));
}
