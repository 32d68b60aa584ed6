//! The plain-HTTP metrics and probe listener of real nodes: `/livez`,
//! `/readyz` (ready once serving; not ready, naming why, when the CRL has
//! expired), `/metrics` with the query, commit, store, peer and trust
//! families after answered and denied queries; gRPC health follows
//! readiness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credshare_e2e::http_get as get;
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, channel, credshare, start_federation};
use credshare_node::signing::{CONSENT_GRANT_TYPE, Signer};
use credshare_proto::v1 as pb;
use prost::Message;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// BANK-A's node asks BANK-B once with a grant valid `from..until`.
async fn query_b(
    c: &Consortium,
    b: &NodeProcess,
    from: i64,
    until: i64,
) -> Result<(), tonic::Status> {
    let dir = c.certs("BANK-A");
    let signer = Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap();
    let borrower = vec![9u8; 32];
    let grant = pb::ConsentGrant {
        consent_id: format!("BANK-A-METRICS-{from}"),
        borrower_key: borrower.clone(),
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: from,
        not_after_ms: until,
        authorization_sha256: vec![7; 32],
        issued_at_ms: from,
        ..Default::default()
    };
    let env = signer.sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec());
    let ch = channel(&c.tls("BANK-A", "node").unwrap(), b.peer_addr)
        .await
        .unwrap();
    let mut client = pb::peer_service_client::PeerServiceClient::new(ch);
    client
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(env),
            borrower_key: borrower,
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: vec![1, 2, 3, 4],
            ..Default::default()
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_probes_tell_the_truth() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let b = &nodes[1];
    let http = b.metrics_addr.expect("metrics listener in the ready file");

    assert_eq!(get(http, "/livez").0, 200);
    let (code, body) = get(http, "/readyz");
    assert_eq!(code, 200, "{body}");
    assert_eq!(get(http, "/nowhere").0, 404);

    let now = now_ms();
    query_b(&c, b, now - 60_000, now + 86_400_000)
        .await
        .unwrap();
    let denied = query_b(&c, b, now - 7_200_000, now - 3_600_000).await;
    assert_eq!(denied.unwrap_err().code(), tonic::Code::PermissionDenied);

    // Gauges are refreshed on a timer; the first refresh ran at start-up.
    let (code, text) = get(http, "/metrics");
    assert_eq!(code, 200);
    for needle in [
        "credshare_peer_queries_total{peer=\"BANK-A\",purpose=\"LOAN_APPROVAL\",scope=\"SUMMARY\",decision=\"ANSWERED\",reason=\"\"} 1",
        "decision=\"DENIED\",reason=\"EXPIRED\"} 1",
        "credshare_peer_query_duration_seconds_count 2",
        "credshare_commit_duration_seconds_bucket",
        "credshare_commit_batch_requests_count",
        "credshare_commit_fsync_duration_seconds_count",
        "credshare_log_entries ",
        "credshare_store_bytes ",
        "credshare_store_free_bytes ",
        "credshare_records ",
        "credshare_certificate_expiry_seconds{kind=\"signer\"",
        "credshare_certificate_expiry_seconds{kind=\"tls\"",
        "credshare_certificate_expiry_seconds{kind=\"ca\"",
        "credshare_crl_next_update_seconds{issuer=",
        "credshare_peer_up{peer=\"BANK-A\"} 1",
        "credshare_ready 1",
        "credshare_startup_verify_seconds ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(
        !text.contains("0909090909"),
        "a borrower key in metrics:\n{text}"
    );
}

/// Polls `/readyz` until its status is `want`; returns the last body.
async fn readyz_becomes(http: SocketAddr, want: u16) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, body) = get(http, "/readyz");
        if code == want {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz stays {code}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_crl_makes_the_node_not_ready_and_a_current_one_ready_again() {
    let c = Consortium::new().unwrap();
    let spec = NodeSpec {
        env: vec![("CREDSHARE_TLS__RELOAD_INTERVAL_SECONDS".into(), "1".into())],
        ..NodeSpec::new("BANK-A")
    };
    let mut node = NodeProcess::start(&c, &spec).unwrap();
    let http = node.metrics_addr.unwrap();
    readyz_becomes(http, 200).await;

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
    let ca = c.ca_dir().display().to_string();
    credshare(&["pki", "crl", "--ca", &ca, "--next-update", &day]).unwrap();
    let why = readyz_becomes(http, 503).await;
    assert!(why.contains("CRL"), "{why}");
    assert_eq!(get(http, "/livez").0, 200, "not ready is still alive");
    let (_, text) = get(http, "/metrics");
    assert!(
        text.contains("credshare_crl_next_update_seconds{issuer="),
        "{text}"
    );

    credshare(&["pki", "crl", "--ca", &ca]).unwrap();
    readyz_becomes(http, 200).await;
    node.stop().unwrap();
}
