//! Disputes (Regulation art. 25–26) through real nodes and the real CLI:
//! BANK-B marks a record as disputed; BANK-A sees the mark at its next
//! query, at SUMMARY and at DETAIL (signed annotations), with the figures
//! left out and the level they would give; the dispute is overdue after 20
//! days (clock injected with --as-of), and resolved each of the three
//! ways — corrected only after a newer version is imported. Every step is
//! logged with the officer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{CREDIT_HEADER, cli_json as run, cli_ok_json as json, day};
use credshare_e2e::{Consortium, NodeProcess, start_federation};
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

/// Imports credit rows of BORROWER at `node`.
fn import(c: &Consortium, node: &NodeProcess, name: &str, rows: &[String]) {
    let file = c.root().join(name);
    let body: Vec<String> = rows.iter().map(|r| format!("{BORROWER},{r}")).collect();
    std::fs::write(&file, format!("{CREDIT_HEADER}\n{}\n", body.join("\n"))).unwrap();
    let (code, stdout, stderr) = run(
        c,
        node,
        &[
            "records",
            "import",
            file.to_str().unwrap(),
            "--kind",
            "credit",
        ],
    );
    assert_eq!(code, Some(0), "{stdout} {stderr}");
}

fn facility(id: &str, version: u32, class: &str, overdue: u32, status: &str) -> String {
    let amount = if overdue > 0 { "1000000" } else { "0" };
    format!(
        "{id},{version},WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,{class},{amount},{amount},{overdue},{status},{}",
        day(-500),
        day(300),
        day(0)
    )
}

fn assess(c: &Consortium, a: &NodeProcess, consent: &str, scope: &str) -> Value {
    let (_, stdout, stderr) = run(
        c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent,
            "--purpose",
            "02",
            "--scope",
            scope,
        ],
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"))
}

fn disputed(a: &Value) -> Vec<(String, String, String)> {
    a["disputed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["institution"].as_str().unwrap().to_owned(),
                d["record_id"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_dispute_is_seen_by_peers_at_once_and_resolved_three_ways() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    import(
        &c,
        b,
        "b1.csv",
        &[
            facility("F-1", 1, "NORMAL", 0, "ACTIVE"),
            facility("F-2", 1, "LOSS", 400, "OVERDUE"),
        ],
    );
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "authorization").unwrap();
    let consent = json(
        &c,
        a,
        &[
            "consent",
            "issue",
            "--id",
            BORROWER,
            "--purpose",
            "02",
            "--scope",
            "detail",
            "--until",
            &day(30),
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    let consent_id = consent["consent_id"].as_str().unwrap().to_owned();
    assert_eq!(assess(&c, a, &consent_id, "summary")["level"], "RED");

    // BANK-B marks F-2 at once, with the borrower's statement.
    let statement = c.root().join("statement.txt");
    std::fs::write(&statement, "The loan was repaid in full last spring.").unwrap();
    let opened = json(
        &c,
        b,
        &[
            "dispute",
            "open",
            "--id",
            BORROWER,
            "--record",
            "F-2",
            "--reason",
            "borrower says the loan was repaid",
            "--statement",
            statement.to_str().unwrap(),
        ],
    );
    let dispute_id = opened["dispute_id"].as_str().unwrap().to_owned();
    assert_eq!(opened["mark"]["status"], "OPEN");
    assert_eq!(opened["mark"]["due_date"], day(20));
    assert_eq!(opened["mark"]["officer"], "OFFICER-1");
    assert_eq!(opened["annotations"][0]["type"], "BORROWER_STATEMENT");

    // The peer's next query, at both scopes: figures without F-2, the mark,
    // and the level F-2 would give.
    for scope in ["summary", "detail"] {
        let x = assess(&c, a, &consent_id, scope);
        assert_eq!(
            disputed(&x),
            [("BANK-B".into(), "F-2".into(), "OPEN".into())],
            "{scope}: {x:#}"
        );
        assert_eq!(x["level"], "GREEN", "{scope}: {x:#}");
        assert_eq!(x["level_with_disputed"], "RED", "{scope}");
    }

    // Overdue after 20 days (clock injected); counted in status.
    let list = |as_of: &str| json(&c, b, &["dispute", "list", "--overdue", "--as-of", as_of]);
    assert_eq!(list(&day(20)).as_array().unwrap().len(), 0);
    let overdue = list(&day(21));
    assert_eq!(overdue[0]["dispute_id"], dispute_id.as_str());
    assert_eq!(overdue[0]["days_overdue"], 1);
    let status = json(&c, b, &["status"]);
    assert_eq!(
        (
            status["disputes_open"].as_u64(),
            status["disputes_overdue"].as_u64()
        ),
        (Some(1), Some(0))
    );

    // Confirmed: the mark goes, the record stands.
    let resolved = json(
        &c,
        b,
        &[
            "dispute",
            "resolve",
            "--id",
            &dispute_id,
            "--outcome",
            "confirmed",
            "--note",
            "the ledger shows the arrears",
        ],
    );
    assert_eq!(resolved["mark"]["status"], "CONFIRMED");
    let x = assess(&c, a, &consent_id, "summary");
    assert!(disputed(&x).is_empty());
    assert_eq!(x["level"], "RED");

    // Corrected needs a newer version first.
    let again = json(
        &c,
        b,
        &[
            "dispute",
            "open",
            "--id",
            BORROWER,
            "--record",
            "F-2",
            "--reason",
            "repaid, says the borrower again",
        ],
    );
    let second = again["dispute_id"].as_str().unwrap().to_owned();
    let (code, _, stderr) = run(
        &c,
        b,
        &[
            "dispute",
            "resolve",
            "--id",
            &second,
            "--outcome",
            "corrected",
            "--note",
            "fixed",
        ],
    );
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("import the corrected version first"),
        "{stderr}"
    );
    import(
        &c,
        b,
        "b2.csv",
        &[facility("F-2", 2, "NORMAL", 0, "ACTIVE")],
    );
    let corrected = json(
        &c,
        b,
        &[
            "dispute",
            "resolve",
            "--id",
            &second,
            "--outcome",
            "corrected",
            "--note",
            "arrears were posted in error",
        ],
    );
    assert_eq!(corrected["mark"]["status"], "CORRECTED");
    assert_eq!(assess(&c, a, &consent_id, "summary")["level"], "GREEN");

    // Unresolved: the mark stays, with the explanation.
    let third = json(
        &c,
        b,
        &[
            "dispute",
            "open",
            "--id",
            BORROWER,
            "--record",
            "F-1",
            "--reason",
            "borrower disputes the contract amount",
        ],
    );
    let third_id = third["dispute_id"].as_str().unwrap().to_owned();
    json(
        &c,
        b,
        &[
            "dispute",
            "resolve",
            "--id",
            &third_id,
            "--outcome",
            "unresolved",
            "--note",
            "the contract is being checked",
        ],
    );
    let x = assess(&c, a, &consent_id, "detail");
    assert_eq!(
        disputed(&x),
        [("BANK-B".into(), "F-1".into(), "UNRESOLVED".into())]
    );
    assert_eq!(x["level"], "GREEN", "{x:#}");
    json(
        &c,
        b,
        &[
            "annotate",
            "--id",
            BORROWER,
            "--record",
            "F-1",
            "--text",
            "contract amount per the signed agreement",
        ],
    );

    // Every step is logged with the officer.
    let out = c
        .admin_cli(b)
        .args(["--json", "audit", "entries"])
        .output()
        .unwrap();
    let logged: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "annotation")
        .collect();
    // open (mark + statement), confirm, open, correct, open, unresolved, explanation.
    assert_eq!(logged.len(), 8, "{logged:#?}");
    assert!(logged.iter().all(|e| e["officer"] == "OFFICER-1"));
}
