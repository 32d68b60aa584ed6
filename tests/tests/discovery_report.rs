//! The regulator's report on the discovery service, end to end: a real
//! discovery service (DISC-1) and two real banks. BANK-A and BANK-B hold
//! borrower X. BANK-A makes one targeted assessment (lookup followed by a
//! query to BANK-B) and one bare lookup (never followed); BANK-B evaluates
//! 4 of its 5 assessment evaluations (80 %) and is refused 2 more.
//! `credshare audit report --discovery` lists BANK-B near its budget and
//! refused, and exactly the bare lookup as never followed by a query; a
//! lookup younger than `--follow-seconds` is not judged yet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_cli::commands::discovery::client::Use;
use credshare_cli::federation;
use credshare_e2e::discovery::{
    CONSENT, discovery_ok, hold, service_certs, services, start_service,
};
use credshare_e2e::{Consortium, cli_ok_json, regulator_audit, text};
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use serde_json::{Value, json};

const X: &str = "USCC:91350100M000100Y43";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_lists_members_near_budget_and_lookups_never_followed() {
    let c = Consortium::new().unwrap();
    service_certs(&c, "DISC-1");
    let key = c.root().join("oprf.key");
    discovery_ok(&c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let portfolios = ("PORTFOLIOS", "{BANK-A = 10, BANK-B = 10}");
    let budget = ("MEMBER_BUDGET", "5");
    let (_disc, addr) = start_service(&c, "DISC-1", &key, &[portfolios, budget]);
    let nodes = federation::start_federation(&c, &["BANK-A", "BANK-B"], &[]).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    hold(&c, a, &addr, X);
    hold(&c, b, &addr, X);

    // Followed: the targeted assessment queries BANK-B with its receipt.
    credshare_e2e::loan_consent(&c, a, X);
    let args = ["assess", "--id", X, "--purpose", "loan-approval"];
    let assessed = cli_ok_json(&c, a, &[&args[..], &["--discovery", &addr]].concat());
    let followed = assessed["discovery_receipt_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(assessed["discovery_holders"], json!(["BANK-A", "BANK-B"]));
    // Never followed: a lookup and nothing after it.
    let lookup = [
        "lookup",
        "--discovery",
        &addr,
        "--id",
        X,
        "--purpose",
        "loan-approval",
        "--consent-sha256",
        CONSENT,
    ];
    let bare = discovery_ok(&c, "BANK-A", &lookup);
    let bare = bare["receipt_id"].as_str().unwrap().to_owned();

    // BANK-B: 4 of 5 assessment evaluations, then 2 more refused.
    let mut svc = services(&c, "BANK-B", &addr).await;
    let usage = Use::Assessment {
        purpose: Purpose::LoanApproval,
        consent_sha256: [7; 32],
    };
    let ids = vec![BorrowerId::parse(X).unwrap(); 4];
    svc.pseudonyms(&ids, usage).await.unwrap();
    let refused = svc.pseudonyms(&ids[..2], usage).await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("MEMBER_BUDGET"),
        "{refused:#}"
    );

    let all = format!("{},{}", a.peer_addr, b.peer_addr);
    let report = |follow: &str, json: bool| {
        let mut args = vec!["report", "--nodes", &all, "--discovery", &addr];
        args.extend(["--follow-seconds", follow]);
        if json {
            args.insert(0, "--json");
        }
        let out = regulator_audit(&c, a, &args);
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let r: Value = serde_json::from_slice(&report("0", true).stdout).unwrap();
    let d = &r["discovery"];
    assert_eq!(d["institution"], "DISC-1", "{r:#}");
    assert_eq!(d["lookups_checked"], 2, "{r:#}");
    let unfollowed = d["unfollowed_lookups"].as_array().unwrap();
    assert_eq!(unfollowed.len(), 1, "{r:#}");
    assert_eq!(unfollowed[0]["receipt_id"], bare.as_str());
    assert_eq!(unfollowed[0]["institution"], "BANK-A");
    assert_eq!(unfollowed[0]["holders"], 2);
    assert_ne!(bare, followed);
    let findings: Vec<(String, String, String, u64)> = d["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            (
                s("institution"),
                s("limit"),
                s("state"),
                f["used"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            ("BANK-B".into(), "assessment".into(), "NEAR".into(), 4),
            ("BANK-B".into(), "refused".into(), "REFUSED".into(), 1),
        ],
        "{r:#}"
    );
    assert_eq!(r["nodes"].as_array().unwrap().len(), 2, "{r:#}");

    let human = text(&report("0", false));
    for said in ["BANK-B", "NEAR", "80.0 %", "REFUSED", bare.as_str()] {
        assert!(human.contains(said), "{said}: {human}");
    }
    assert!(!human.contains(&followed), "{human}");

    // Lookups younger than --follow-seconds are not judged yet.
    let r: Value = serde_json::from_slice(&report("300", true).stdout).unwrap();
    assert_eq!(r["discovery"]["lookups_checked"], 0, "{r:#}");
    assert_eq!(r["discovery"]["unfollowed_lookups"], json!([]), "{r:#}");
}
