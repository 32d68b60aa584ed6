//! The borrower's own report (Regulation art. 17) through real nodes and
//! the real CLI: BANK-B's report lists its records and disputes, and every
//! query about the borrower in two years (from BANK-A and BANK-C, with
//! their reasons), summed per reason; the HTML is one self-contained page
//! with the same content as the JSON; the report is logged; the raw id is
//! only in the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{CREDIT_HEADER, day};
use credshare_e2e::{Consortium, NodeProcess, start_federation};
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

fn json(c: &Consortium, node: &NodeProcess, args: &[&str]) -> Value {
    let out = c.admin_cli(node).arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One document, or JSON Lines (import): the whole output, else its last line.
    serde_json::from_str(&stdout)
        .or_else(|_| serde_json::from_str(stdout.lines().last().unwrap_or("null")))
        .unwrap_or(Value::Null)
}

/// `node` assesses the borrower for `reason` under a fresh consent.
fn ask(c: &Consortium, node: &NodeProcess, reason: &str) {
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "authorization").unwrap();
    let consent = json(
        c,
        node,
        &[
            "consent",
            "issue",
            "--id",
            BORROWER,
            "--purpose",
            reason,
            "--scope",
            "summary",
            "--until",
            &day(30),
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    let id = consent["consent_id"].as_str().unwrap();
    json(
        c,
        node,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            id,
            "--purpose",
            reason,
        ],
    );
}

#[test]
fn the_report_lists_records_and_every_query_with_counts_per_reason() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let (a, b, bank_c) = (&nodes[0], &nodes[1], &nodes[2]);
    let file = c.root().join("b.csv");
    let row = format!(
        "{BORROWER},F-1,1,WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,NORMAL,0,0,0,ACTIVE,{}",
        day(-100),
        day(300),
        day(0)
    );
    std::fs::write(&file, format!("{CREDIT_HEADER}\n{row}\n")).unwrap();
    json(
        &c,
        b,
        &[
            "records",
            "import",
            file.to_str().unwrap(),
            "--kind",
            "credit",
        ],
    );
    json(
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
            "amount is wrong",
        ],
    );
    ask(&c, a, "02");
    ask(&c, a, "24");
    ask(&c, bank_c, "loan-approval");

    let out_json = c.root().join("report.json");
    let out_html = c.root().join("report.html");
    let summary = json(
        &c,
        b,
        &[
            "report",
            "--id",
            BORROWER,
            "--out",
            out_json.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(!summary.to_string().contains(BORROWER), "{summary}");
    json(
        &c,
        b,
        &[
            "report",
            "--id",
            BORROWER,
            "--out",
            out_html.to_str().unwrap(),
        ],
    );

    let r: Value = serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();
    assert_eq!(r["borrower_id"], BORROWER);
    assert_eq!(r["credit"][0]["facility_id"], "F-1");
    assert_eq!(r["disputes"][0]["status"], "OPEN");
    assert_eq!(r["annotations"][0]["type"], "DISPUTE_MARK");
    let mut queries: Vec<(String, String, String)> = r["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["institution"].as_str().unwrap().to_owned(),
                q["reason"].as_str().unwrap().to_owned(),
                q["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    queries.sort();
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned(), "ANSWERED".to_owned());
    assert_eq!(
        queries,
        [
            s("BANK-A", "02 LOAN_APPROVAL"),
            s("BANK-A", "24 FINANCING_APPROVAL"),
            s("BANK-C", "02 LOAN_APPROVAL")
        ]
    );
    let counts: Vec<(String, u64)> = r["summary_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap().to_owned(),
                c["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("02 LOAN_APPROVAL".into(), 2),
            ("24 FINANCING_APPROVAL".into(), 1)
        ]
    );

    // The HTML: one self-contained page with the same content.
    let html = std::fs::read_to_string(&out_html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needle in [
        BORROWER,
        "24 FINANCING_APPROVAL",
        "BANK-C",
        "F-1",
        "DISPUTE_MARK",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    for external in ["<script", "<link", "src=", "http://", "https://"] {
        assert!(!html.contains(external), "{external}");
    }

    // Logged, with the officer; the node never saw the raw id.
    let out = c
        .admin_cli(b)
        .args(["--json", "audit", "entries"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let reports: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "borrower-report")
        .collect();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["officer"], "OFFICER-1");
    assert_eq!(reports[0]["queries"], 3);
    assert!(!log.contains("91350100M000100Y43"));
}
