//! Targeted assessment end to end (docs/design.md §9): a real discovery
//! service (DISC-1) and the three dev banks as real processes, the real
//! `credshare` CLI. BANK-A and BANK-B hold borrower X and enrol it; BANK-C
//! holds another borrower. `credshare assess --discovery` from BANK-A
//! reaches exactly the holders (BANK-C's log has no entry of it), the
//! holder's entry and BANK-A's outgoing entry carry the discovery receipt
//! id, and the table lists BANK-C as not a holder. A borrower nobody holds
//! is "no holder found" (NO_DATA, never GREEN). A reused receipt is refused
//! by the service (through the lookup step the CLI runs), an evaluation over
//! budget stops the assessment before any member is asked, a holder the
//! node does not know is refused by the node; without `--discovery` every
//! peer is asked, as before; `audit cross-check` finds both logs agree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_cli::commands::assess::discover;
use credshare_cli::commands::discovery::client::Use;
use credshare_cli::output::{exit_code, render_error};
use credshare_e2e::discovery::{discovery_ok, enrol, service_certs, services, start_service};
use credshare_e2e::{CREDIT_HEADER, Consortium, NodeProcess, admin_client, day, text};
use credshare_e2e::{cli_json, cli_ok_json, regulator_audit, start_federation};
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use credshare_proto::v1 as pb;
use serde_json::Value;

/// Held by BANK-A and BANK-B.
const X: &str = "USCC:91350100M000100Y43";
/// Held by BANK-C only.
const Y: &str = "RID:110105198001010016";
/// Held by nobody.
const Z: &str = "RID:440301197506150038";

/// Imports one live facility of `borrower` at `node` and enrols the file.
fn hold(c: &Consortium, node: &NodeProcess, addr: &str, borrower: &str) {
    let file = c.root().join(format!("{}-credit.csv", node.institution));
    let row = format!(
        "{borrower},F-1,1,WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,NORMAL,0,0,0,ACTIVE,{}",
        day(-100),
        day(300),
        day(0)
    );
    std::fs::write(&file, format!("{CREDIT_HEADER}\n{row}\n")).unwrap();
    let path = file.to_str().unwrap();
    let (code, stdout, stderr) =
        cli_json(c, node, &["records", "import", path, "--kind", "credit"]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let enrolled = enrol(c, &node.institution, "enrol", addr, &file);
    assert_eq!(enrolled["registered"], 1, "{enrolled}");
}

/// BANK-A's consent for loan and credit-card approval of `borrower`: its id.
fn consent(c: &Consortium, a: &NodeProcess, borrower: &str) -> String {
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();
    let until = day(90);
    let issued = cli_ok_json(
        c,
        a,
        &[
            "consent",
            "issue",
            "--id",
            borrower,
            "--purpose",
            "loan-approval",
            "--purpose",
            "credit-card-approval",
            "--scope",
            "summary",
            "--until",
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    issued["consent_id"].as_str().unwrap().to_owned()
}

fn assess(c: &Consortium, a: &NodeProcess, borrower: &str, discovery: Option<&str>) -> Value {
    let mut args = vec!["assess", "--id", borrower, "--purpose", "loan-approval"];
    if let Some(addr) = discovery {
        args.extend(["--discovery", addr]);
    }
    cli_ok_json(c, a, &args)
}

/// Each peer's (institution, status, detail) in an assessment; detail only
/// for rows that did not answer.
fn peers(a: &Value) -> Vec<(String, String, String)> {
    a["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            // An answered row's detail is the witness verdict on its
            // receipt, which depends on how far witnessing has got.
            let detail = if s("status") == "ANSWERED" {
                String::new()
            } else {
                s("detail")
            };
            (s("institution"), s("status"), detail)
        })
        .collect()
}

/// `node`'s log entries of `kind` (`peer-query`, `outgoing-query`).
fn entries(c: &Consortium, node: &NodeProcess, kind: &str) -> Vec<Value> {
    let out = regulator_audit(c, node, &["--json", "entries"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn receipts(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["discovery_receipt_id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessments_reach_exactly_the_holders_discovery_names() {
    let c = Consortium::new().unwrap();
    service_certs(&c, "DISC-1");
    let key = c.root().join("oprf.key");
    discovery_ok(&c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let portfolios = ("PORTFOLIOS", "{BANK-A = 10, BANK-B = 10, BANK-C = 10}");
    let budgets = ("PURPOSE_BUDGETS", "{credit-card-approval = 0}");
    let (_disc, addr) = start_service(&c, "DISC-1", &key, &[portfolios, budgets]);
    let nodes = start_federation(&c).unwrap();
    let (a, b, bank_c) = (&nodes[0], &nodes[1], &nodes[2]);
    hold(&c, a, &addr, X);
    hold(&c, b, &addr, X);
    hold(&c, bank_c, &addr, Y);
    let consent_x = consent(&c, a, X);

    // Targeted: BANK-A (own data) and BANK-B answer; BANK-C is not asked.
    let t = assess(&c, a, X, Some(&addr));
    let receipt = t["discovery_receipt_id"].as_str().unwrap().to_owned();
    assert_eq!(receipt.len(), 32, "{t:#}");
    assert_eq!(
        t["discovery_holders"],
        serde_json::json!(["BANK-A", "BANK-B"])
    );
    assert_eq!(
        peers(&t),
        [
            ("BANK-A".into(), "ANSWERED".into(), String::new()),
            ("BANK-B".into(), "ANSWERED".into(), String::new()),
            (
                "BANK-C".into(),
                "NOT_HOLDER".into(),
                "not a holder (discovery)".into()
            ),
        ]
    );
    assert_eq!(
        (t["complete"].as_bool(), t["lender_count"].as_u64()),
        (Some(true), Some(2))
    );
    assert!(
        entries(&c, bank_c, "peer-query").is_empty(),
        "BANK-C was queried"
    );
    assert_eq!(receipts(&entries(&c, b, "peer-query")), [receipt.as_str()]);
    let sent = entries(&c, a, "outgoing-query");
    assert_eq!(receipts(&sent), [receipt.as_str()]);
    assert_eq!(sent[0]["peer"], "BANK-B");
    let human = regulator_audit(&c, b, &["entries"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains(&format!("discovery receipt {receipt}")),
        "{human}"
    );

    no_holder_found(&c, a, &addr).await;
    receipts_and_holders_are_refused(&c, [a, b], &addr, &consent_x, &t).await;

    // Without --discovery: every peer is asked, with no receipt id.
    let all = assess(&c, a, X, None);
    assert_eq!(all["discovery_receipt_id"], "");
    assert!(peers(&all).iter().all(|p| p.1 == "ANSWERED"), "{all:#}");
    assert_eq!(receipts(&entries(&c, bank_c, "peer-query")), [""]);
    assert_eq!(
        receipts(&entries(&c, b, "peer-query")),
        [receipt.as_str(), ""]
    );

    // Over a budget (credit-card approval: 0): refused by the service,
    // and no member is asked.
    let args = [
        "assess",
        "--id",
        X,
        "--purpose",
        "credit-card-approval",
        "--discovery",
        &addr,
    ];
    let (code, stdout, stderr) = cli_json(&c, a, &args);
    assert_eq!(code, Some(1), "{stdout} {stderr}");
    assert!(stderr.contains("PURPOSE_BUDGET"), "{stderr}");
    assert_eq!(entries(&c, b, "peer-query").len(), 2);

    // The requester's and holders' logs agree on every query, receipt ids
    // included.
    let all: Vec<String> = nodes.iter().map(|n| n.peer_addr.to_string()).collect();
    let all = all.join(",");
    let args = ["cross-check", "--nodes", &all, "--settle-seconds", "0"];
    let out = regulator_audit(&c, a, &args);
    assert!(out.status.success(), "{}", text(&out));
}

/// A borrower nobody registered: NO_DATA with "no holder found", no query.
async fn no_holder_found(c: &Consortium, a: &NodeProcess, addr: &str) {
    consent(c, a, Z);
    let z = assess(c, a, Z, Some(addr));
    assert_eq!(z["level"], "NO_DATA", "{z:#}");
    let first = z["reasons"][0].as_str().unwrap();
    assert!(first.starts_with("NO_DATA: no holder found"), "{z:#}");
    assert_eq!(z["discovery_holders"], serde_json::json!([]));
    let statuses: Vec<String> = peers(&z).into_iter().map(|p| p.1).collect();
    assert_eq!(statuses, ["ANSWERED", "NOT_HOLDER", "NOT_HOLDER"]);
    let args = [
        "assess",
        "--id",
        Z,
        "--purpose",
        "loan-approval",
        "--discovery",
        addr,
    ];
    let out = c.admin_cli(a).args(args).output().unwrap();
    let human = text(&out);
    assert!(out.status.success(), "{human}");
    for said in [
        "): no holder found",
        "NO_DATA: no holder found",
        "not a holder (discovery)",
    ] {
        assert!(human.contains(said), "{said}: {human}");
    }
}

/// A receipt is single use at the service (the CLI's own lookup step,
/// exit code 1 with the reason); the node refuses a holder it does not
/// know, a holder refuses (and does not log) a malformed receipt id, and
/// post-loan management cannot be targeted (exit code 2).
async fn receipts_and_holders_are_refused(
    c: &Consortium,
    [a, b]: [&NodeProcess; 2],
    addr: &str,
    consent_id: &str,
    targeted: &Value,
) {
    let mut admin = admin_client(&c.tls("BANK-A", "admin").unwrap(), a.admin_addr)
        .await
        .unwrap();
    let key = hex::decode(targeted["borrower_key"].as_str().unwrap()).unwrap();
    let listed = admin
        .list_consents(pb::ListConsentsRequest {
            borrower_key: key.clone(),
            include_inactive: false,
        })
        .await
        .unwrap()
        .into_inner();
    let grant = listed.consents[0].grant.clone().unwrap();
    let hash: [u8; 32] = credshare_node::signing::sha256(&grant.payload)
        .try_into()
        .unwrap();
    let mut svc = services(c, "BANK-A", addr).await;
    let usage = Use::Assessment {
        purpose: Purpose::LoanApproval,
        consent_sha256: hash,
    };
    let ev = svc
        .pseudonyms(&[BorrowerId::parse(X).unwrap()], usage)
        .await
        .unwrap();
    let pseudonym = ev.pseudonyms[0].0.to_vec();
    let once = discover::lookup(&mut svc, pseudonym.clone(), &ev.receipt_id, hash).await;
    assert_eq!(once.unwrap(), ["BANK-A", "BANK-B"]);
    let again = discover::lookup(&mut svc, pseudonym, &ev.receipt_id, hash)
        .await
        .unwrap_err();
    assert!(
        render_error(&again).contains("RECEIPT_USED"),
        "{}",
        render_error(&again)
    );
    assert_eq!(exit_code(&again), 1);

    let unknown = admin
        .assess(pb::AssessRequest {
            borrower_key: key,
            consent_id: consent_id.to_owned(),
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            discovery_receipt_id: ev.receipt_id.clone(),
            discovery_holders: vec!["BANK-B".into(), "BANK-Q".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().contains("BANK-Q is not a member"),
        "{unknown}"
    );

    let mut peer = credshare_e2e::peer_client(c, "BANK-A", b).await;
    let malformed = peer
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(grant),
            borrower_key: hex::decode(targeted["borrower_key"].as_str().unwrap()).unwrap(),
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            discovery_receipt_id: ev.receipt_id.to_uppercase(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
    assert!(
        malformed.message().contains("discovery_receipt_id"),
        "{malformed}"
    );

    let args = [
        "assess",
        "--id",
        X,
        "--purpose",
        "post-loan",
        "--discovery",
        addr,
    ];
    let (code, stdout, stderr) = cli_json(c, a, &args);
    assert_eq!(code, Some(2), "{stdout} {stderr}");
    assert!(stderr.contains("post-loan management"), "{stderr}");
}
