//! Every limit is explicit and enforced: rate, message size, rows per
//! import message. A refused request changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use credshare_e2e::credit_fixture as credit;
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, admin_client, channel, status};
use credshare_node::signing::{CONSENT_GRANT_TYPE, Signer};
use credshare_proto::v1 as pb;
use prost::Message;

fn row(n: u64, c: pb::CreditSummary) -> pb::ImportRow {
    pb::ImportRow {
        row_number: n,
        record: Some(pb::RecordInput {
            record: Some(pb::record_input::Record::Credit(c)),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_message_size_and_rows_per_message_limits_are_enforced() {
    let c = Consortium::new().unwrap();
    let mut spec = NodeSpec::new("BANK-B");
    spec.env = vec![
        ("CREDSHARE_POLICY__RATE_LIMIT_PER_MINUTE".into(), "5".into()),
        ("CREDSHARE_LIMITS__MAX_MESSAGE_BYTES".into(), "65536".into()),
        (
            "CREDSHARE_LIMITS__MAX_IMPORT_ROWS_PER_MESSAGE".into(),
            "100".into(),
        ),
    ];
    let b = NodeProcess::start(&c, &spec).unwrap();
    let admin_tls = c.tls("BANK-B", "admin").unwrap();
    let mut admin = admin_client(&admin_tls, b.admin_addr).await.unwrap();

    // Rows per message: 101 rows in one message is refused; nothing stored.
    let rows: Vec<pb::ImportRow> = (1..=101)
        .map(|i| row(i, credit("BANK-B", &format!("F-{i}"))))
        .collect();
    let err = admin
        .import_records(tokio_stream::iter(vec![pb::ImportRecordsRequest { rows }]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("at most 100"), "{}", err.message());
    assert_eq!(status(&mut admin).await.unwrap().record_count, 0);

    // Message size: a request over 64 KiB is refused before any handler runs.
    let mut big = credit("BANK-B", "F-BIG");
    big.facility_id = "X".repeat(70_000);
    let err = admin
        .put_record(pb::PutRecordRequest {
            record: Some(pb::RecordInput {
                record: Some(pb::record_input::Record::Credit(big)),
            }),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{err:?}"
    );
    assert_eq!(status(&mut admin).await.unwrap().record_count, 0);

    // Rate: the sixth query within a minute is RESOURCE_EXHAUSTED.
    let dir = c.certs("BANK-A");
    let signer = Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let grant = pb::ConsentGrant {
        consent_id: "BANK-A-RATE".into(),
        borrower_key: vec![5; 32],
        key_generation: 0,
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: now - 1000,
        not_after_ms: now + 3_600_000,
        authorization_sha256: vec![1; 32],
        issued_at_ms: now,
    };
    let env = signer.sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec());
    let node_tls = c.tls("BANK-A", "node").unwrap();
    let mut peer = pb::peer_service_client::PeerServiceClient::new(
        channel(&node_tls, b.peer_addr).await.unwrap(),
    );
    let ask = || pb::QueryBorrowerRequest {
        consent: Some(env.clone()),
        borrower_key: vec![5; 32],
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        request_nonce: vec![],
        ..Default::default()
    };
    for _ in 0..5 {
        peer.query_borrower(ask()).await.unwrap();
    }
    let err = peer.query_borrower(ask()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(
        err.message().contains("5 queries per minute"),
        "{}",
        err.message()
    );
    // Another institution has its own budget.
    let c_tls = c.tls("BANK-C", "node").unwrap();
    let mut other = pb::peer_service_client::PeerServiceClient::new(
        channel(&c_tls, b.peer_addr).await.unwrap(),
    );
    let err = other.query_borrower(ask()).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::PermissionDenied,
        "BANK-C is denied (wrong grantee), not rate-limited"
    );
    // A too-long nonce is refused as invalid.
    let mut req = ask();
    req.request_nonce = vec![0; 65];
    let err = other.query_borrower(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}
