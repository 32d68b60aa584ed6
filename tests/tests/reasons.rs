//! Query reasons of the national credit report, end to end through three
//! real nodes and the real CLI: one consent naming the ten consented
//! reasons (typed as CLI names, names and codes), an assessment under each
//! reason code — post-loan management (01) without a consent, on BANK-A's
//! own live record — the holder's history and both nodes' status counting
//! them per reason, and a reason the holders' policy leaves out (configured
//! by code) denied. Then the post-loan rule: a relationship record that is
//! another bank's, settled, stale or about another borrower is denied
//! `NO_RELATIONSHIP`, as is any other reason without a consent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{Consortium, NodeProcess, channel, start_federation_with};
use credshare_e2e::{cli_json as cli, cli_ok_json as json, day};
use credshare_node::domain::Purpose;
use credshare_node::signing::{CREDIT_SUMMARY_TYPE, Signer, sha256};
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

/// Imports one live facility of BORROWER at `node`, reported today.
fn import_live_facility(c: &Consortium, node: &NodeProcess) {
    credshare_e2e::import_live_facility(c, node, BORROWER);
}

/// The reasons per node in `status --json`: label → (answered, denied, sent).
fn reason_counts(status: &Value) -> Vec<(String, u64, u64, u64)> {
    status["queries_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap().to_owned(),
                r["answered"].as_u64().unwrap(),
                r["denied"].as_u64().unwrap(),
                r["sent"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_reason_code_travels_end_to_end() {
    let c = Consortium::new().unwrap();
    // Every holder accepts every reason but 26, written in each accepted form.
    let allowed = r#"[1, "02", "credit-card-approval", "GUARANTEE_QUALIFICATION_REVIEW", "PURPOSE_PRE_GUARANTEE_REVIEW", 21, 22, 23, "24", "credit-standing-review"]"#;
    let nodes =
        start_federation_with(&c, &[("CREDSHARE_POLICY__ALLOWED_PURPOSES", allowed)]).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    let dir = tempfile::tempdir().unwrap();
    let letter = dir.path().join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();

    // One consent for the ten consented reasons, typed every way the CLI
    // accepts; post-loan management rests on BANK-A's own live facility.
    import_live_facility(&c, a);
    let typed = [
        "loan-approval",
        "03",
        "8",
        "pre-guarantee-review",
        "POST_GUARANTEE_MANAGEMENT",
        "22",
        "customer-admission-review",
        "24",
        "25",
        "credit-line-approval",
    ];
    let mut args = vec!["consent", "issue", "--id", BORROWER, "--scope", "summary"];
    for t in &typed {
        args.extend(["--purpose", t]);
    }
    let until = (credshare_node::domain::dates::BusinessZone::default().today()
        + time::Duration::days(90))
    .to_string();
    args.extend(["--until", &until, "--evidence", letter.to_str().unwrap()]);
    let consent = json(&c, a, &args);
    let labels: Vec<String> = Purpose::ALL[1..].iter().map(|p| p.label()).collect();
    assert_eq!(
        consent["grant"]["purposes"],
        serde_json::json!(labels),
        "{consent:#}"
    );
    let consent_id = consent["consent_id"].as_str().unwrap().to_owned();

    // An assessment under each reason code: 26 is refused by both holders.
    for p in Purpose::ALL {
        let code = format!("{:02}", p.code());
        let mut args = vec!["assess", "--id", BORROWER, "--purpose", &code];
        if p != Purpose::PostLoanManagement {
            args.extend(["--consent-id", &consent_id]);
        }
        let (exit, stdout, stderr) = cli(&c, a, &args);
        let expected = if p == Purpose::CreditLineApproval {
            3
        } else {
            0
        };
        assert_eq!(exit, Some(expected), "reason {code}: {stdout} {stderr}");
    }
    // An unknown code is a usage error naming the reasons.
    let (exit, _, stderr) = cli(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            &consent_id,
            "--purpose",
            "04",
        ],
    );
    assert_eq!(exit, Some(2), "{stderr}");
    assert!(stderr.contains("financing-approval (24)"), "{stderr}");

    // The holder's history names each query's reason by code and name.
    let history = json(&c, b, &["history", "--id", BORROWER]);
    let mut seen: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["purpose"].as_str().unwrap().to_owned(),
                i["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String)> = Purpose::ALL
        .iter()
        .map(|p| {
            let decision = if *p == Purpose::CreditLineApproval {
                "DENIED:POLICY"
            } else {
                "ANSWERED"
            };
            (p.label(), decision.to_owned())
        })
        .collect();
    assert_eq!(seen, expected, "{history:#}");

    // Status counts per reason: B answered or denied each once, A sent
    // each to both peers.
    let b_counts = reason_counts(&json(&c, b, &["status"]));
    let a_counts = reason_counts(&json(&c, a, &["status"]));
    assert_eq!(b_counts.len(), 11);
    assert_eq!(a_counts.len(), 11);
    for (p, (bc, ac)) in Purpose::ALL.iter().zip(b_counts.iter().zip(&a_counts)) {
        let denied = u64::from(*p == Purpose::CreditLineApproval);
        assert_eq!(bc, &(p.label(), 1 - denied, denied, 0));
        assert_eq!(ac, &(p.label(), 0, 0, 2));
    }
}

/// A post-loan query from BANK-A to `holder` with `relationship` (and no
/// consent), as BANK-A's node.
async fn ask(
    c: &Consortium,
    holder: &NodeProcess,
    borrower: &[u8],
    purpose: pb::Purpose,
    relationship: Option<pb::SignedEnvelope>,
) -> Result<pb::QueryBorrowerResponse, tonic::Status> {
    let tls = c.tls("BANK-A", "node").unwrap();
    let mut client = pb::peer_service_client::PeerServiceClient::new(
        channel(&tls, holder.peer_addr).await.unwrap(),
    );
    client
        .query_borrower(pb::QueryBorrowerRequest {
            borrower_key: borrower.to_vec(),
            purpose: purpose as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: vec![9; 8],
            relationship,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn signer(c: &Consortium, bank: &str) -> Signer {
    let dir = c.certs(bank);
    Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap()
}

/// A credit record of `bank`, signed by `signed_by`'s signer.
fn record(
    c: &Consortium,
    bank: &str,
    signed_by: &str,
    borrower: &[u8],
    status: pb::AccountStatus,
    as_of: &str,
) -> pb::SignedEnvelope {
    let credit = pb::CreditSummary {
        facility_id: "F-9".into(),
        version: 1,
        institution_id: bank.into(),
        borrower_key: borrower.to_vec(),
        account_status: status as i32,
        as_of_date: as_of.into(),
        ..Default::default()
    };
    signer(c, signed_by).sign_envelope(CREDIT_SUMMARY_TYPE, credit.encode_to_vec())
}

fn no_relationship(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let d = credshare_node::federation::denial::from_status(status).unwrap();
    assert_eq!(
        d.reason,
        pb::DenialReason::NoRelationship as i32,
        "{}",
        d.message
    );
    d.message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_loan_queries_rest_on_a_live_relationship() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation_with(&c, &[]).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);

    // Without a live facility of its own, BANK-A asks nobody.
    let (exit, _, stderr) = cli(
        &c,
        a,
        &["assess", "--id", BORROWER, "--purpose", "post-loan"],
    );
    assert_ne!(exit, Some(0));
    assert!(stderr.contains("no live credit record"), "{stderr}");
    assert_eq!(
        json(&c, b, &["history", "--id", BORROWER]),
        serde_json::json!([])
    );

    // With one, the peers answer without a consent; the holder logs the
    // record's content hash and no consent id.
    import_live_facility(&c, a);
    json(
        &c,
        a,
        &["assess", "--id", BORROWER, "--purpose", "post-loan"],
    );
    let history = json(&c, b, &["history", "--id", BORROWER]);
    assert_eq!(
        history[0]["purpose"], "01 POST_LOAN_MANAGEMENT",
        "{history:#}"
    );
    assert_eq!(history[0]["decision"], "ANSWERED");
    assert_eq!(history[0]["consent_id"], "");
    assert_eq!(history[0]["officer"], "OFFICER-1");

    // Directly, as BANK-A's node: a valid relationship is answered and its
    // hash is in the receipt's entry.
    let key = [0x42u8; 32];
    let active = pb::AccountStatus::Active;
    let live = record(&c, "BANK-A", "BANK-A", &key, active, &day(-3));
    let answered = ask(
        &c,
        b,
        &key,
        pb::Purpose::PostLoanManagement,
        Some(live.clone()),
    )
    .await
    .unwrap();
    let entry = pb::LogEntry::decode(answered.receipt.unwrap().entry.as_slice()).unwrap();
    let Some(pb::log_entry::Kind::PeerQuery(q)) = entry.kind else {
        panic!("not a peer query")
    };
    assert_eq!(q.relationship_sha256, sha256(&live.payload));
    assert!(q.consent_id.is_empty());

    // Every broken rule is NO_RELATIONSHIP, naming what is wrong.
    let plm = pb::Purpose::PostLoanManagement;
    let cases = [
        (
            record(&c, "BANK-C", "BANK-C", &key, active, &day(-3)),
            "not BANK-A's own",
        ),
        (
            record(
                &c,
                "BANK-A",
                "BANK-A",
                &key,
                pb::AccountStatus::Settled,
                &day(-3),
            ),
            "settled",
        ),
        (
            record(&c, "BANK-A", "BANK-A", &[0x43; 32], active, &day(-3)),
            "another borrower",
        ),
        (
            record(&c, "BANK-A", "BANK-A", &key, active, &day(-46)),
            "within 45 days",
        ),
    ];
    for (env, expected) in cases {
        let message = no_relationship(&ask(&c, b, &key, plm, Some(env)).await.unwrap_err());
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let message = no_relationship(&ask(&c, b, &key, plm, None).await.unwrap_err());
    assert!(message.contains("none was sent"), "{message}");
    // Any other reason needs a consent, whatever relationship it carries.
    let message = no_relationship(
        &ask(&c, b, &key, pb::Purpose::LoanApproval, Some(live))
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("needs the borrower's consent"),
        "{message}"
    );
}
