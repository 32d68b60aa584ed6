//! Staff accountability (Regulation art. 22) through real nodes and the
//! real CLI: the dev consortium's admin certificates name OFFICER-1; the
//! officer is logged with every import, consent and query, on the
//! requester's side and the holder's; a certificate without an officer may
//! look at the node's status but not at borrowers; only admin certificates
//! name an officer. The assessment of a borrower nobody holds is NO_DATA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::cli_json as cli;
use credshare_e2e::{Consortium, NodeProcess, issue, start_federation};
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

fn ok(c: &Consortium, node: &NodeProcess, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(c, node, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    stdout
}

/// The node's log entries (`audit entries --json`, JSON Lines).
fn entries(c: &Consortium, node: &NodeProcess) -> Vec<Value> {
    ok(c, node, &["audit", "entries"])
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_officer_is_recorded_in_every_action_and_required_for_queries() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);

    // Import, consent and an assessment by BANK-A's OFFICER-1.
    let sample = c.sample_a("sample", 3, 7).unwrap();
    let credit = sample.join("credit.csv");
    ok(
        &c,
        a,
        &[
            "records",
            "import",
            credit.to_str().unwrap(),
            "--kind",
            "credit",
        ],
    );
    let consent_id = &credshare_e2e::loan_consent(&c, a, BORROWER);
    let assessment: Value = serde_json::from_str(&ok(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent_id,
            "--purpose",
            "02",
        ],
    ))
    .unwrap();
    // Nobody (BANK-A included) holds this borrower: NO_DATA, never GREEN.
    assert_eq!(assessment["level"], "NO_DATA", "{assessment:#}");
    assert_eq!(assessment["missing"], serde_json::json!([]));

    // BANK-A's log names the officer for the import, the consent and each
    // query sent.
    let log = entries(&c, a);
    let officer_of = |kind: &str| -> Vec<String> {
        log.iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["officer"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        officer_of("record-batch").first().map(String::as_str),
        Some("OFFICER-1")
    );
    assert!(officer_of("record-batch").iter().all(|o| o == "OFFICER-1"));
    assert_eq!(officer_of("consent"), ["OFFICER-1"]);
    assert_eq!(officer_of("outgoing-query"), ["OFFICER-1", "OFFICER-1"]);

    // The holder logs the requester's officer; both histories show it, and
    // BANK-A's history lists the queries it sent.
    let b_log = entries(&c, b);
    let asked: Vec<&Value> = b_log.iter().filter(|e| e["kind"] == "peer-query").collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["requester_officer"], "OFFICER-1");
    let b_history: Value =
        serde_json::from_str(&ok(&c, b, &["history", "--id", BORROWER])).unwrap();
    assert_eq!(b_history[0]["direction"], "RECEIVED");
    assert_eq!(b_history[0]["requester"], "BANK-A");
    assert_eq!(b_history[0]["officer"], "OFFICER-1");
    let a_history: Value =
        serde_json::from_str(&ok(&c, a, &["history", "--id", BORROWER])).unwrap();
    let sent: Vec<(String, String, String)> = a_history
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["direction"].as_str().unwrap().to_owned(),
                i["peer"].as_str().unwrap().to_owned(),
                i["officer"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("SENT".into(), "BANK-B".into(), "OFFICER-1".into()),
            ("SENT".into(), "BANK-C".into(), "OFFICER-1".into())
        ]
    );

    // An admin certificate without an officer: status yes, borrowers no.
    let anonymous = c.root().join("anonymous");
    issue(&c.ca_dir(), "admin", "BANK-A", &anonymous, &[]).unwrap();
    let run = |args: &[&str]| {
        let out = c
            .admin_cli(a)
            .env("CREDSHARE_CERTS", &anonymous)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(&["status"]).0, Some(0));
    for args in [
        vec!["history", "--id", BORROWER],
        vec!["borrower", "show", "--id", BORROWER],
        vec![
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent_id,
            "--purpose",
            "02",
        ],
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(4), "{args:?}: {stderr}");
        assert!(stderr.contains("names no officer"), "{stderr}");
    }

    // Only admin certificates name an officer.
    let err = issue(
        &c.ca_dir(),
        "node",
        "BANK-A",
        &c.root().join("n"),
        &["--officer", "X"],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("only admin certificates"), "{err}");
    let err = issue(
        &c.ca_dir(),
        "admin",
        "BANK-A",
        &c.root().join("m"),
        &["--officer", "a b"],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("officer id"), "{err}");
}
