//! Retention (Regulation art. 16) through real nodes and the real CLI: a
//! sweep removes exactly the negative versions whose bad behaviour ended
//! more than 5 years ago (dated by the records: the curing version, a later
//! clean visit), a dry run changes nothing, the log still verifies, a peer
//! no longer receives them, and re-sending an expired version does not
//! restore it. A legal hold freezes a borrower: stored, not swept, not
//! served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{CREDIT_HEADER, VISIT_HEADER, cli_json as run, cli_ok_json as json};
use credshare_e2e::{Consortium, NodeProcess, start_federation};
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

/// Imports rows (without the borrower column) and returns the summary line.
fn import(
    c: &Consortium,
    node: &NodeProcess,
    name: &str,
    header: &str,
    kind: &str,
    rows: &[&str],
) -> String {
    let file = c.root().join(name);
    let body: Vec<String> = rows.iter().map(|r| format!("{BORROWER},{r}")).collect();
    std::fs::write(&file, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let (code, stdout, stderr) = run(
        c,
        node,
        &["records", "import", file.to_str().unwrap(), "--kind", kind],
    );
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    stdout
}

fn record_ids(c: &Consortium, node: &NodeProcess) -> (Vec<(String, u64)>, Vec<String>) {
    let shown = json(c, node, &["borrower", "show", "--id", BORROWER]);
    let credits = shown["credit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["facility_id"].as_str().unwrap().to_owned(),
                r["version"].as_u64().unwrap(),
            )
        })
        .collect();
    let visits = shown["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["visit_id"].as_str().unwrap().to_owned())
        .collect();
    (credits, visits)
}

const OLD_VISIT: &str = "V-OLD,1,F-OLD,2019-02-01,FOCUSED,ONSITE,AS_AGREED,DECLINING,NOT_APPLICABLE,INTACT,NORMAL,FIN_DETERIORATION,NORMAL,NONE,";

#[test]
fn a_sweep_removes_exactly_the_expired_negative_versions() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation(&c).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    import(
        &c,
        b,
        "credit.csv",
        CREDIT_HEADER,
        "credit",
        &[
            // Cured on 2020-06-01: expired since 2025-06-01.
            "F-OLD,1,WORKING_CAPITAL,CNY,100000000,50000000,2018-01-01,2030-01-01,CREDIT,SUBSTANDARD,1000,1000,100,OVERDUE,2019-03-01",
            "F-OLD,2,WORKING_CAPITAL,CNY,100000000,50000000,2018-01-01,2030-01-01,CREDIT,NORMAL,0,0,0,ACTIVE,2020-06-01",
            // Cured in 2024: kept until 2029.
            "F-NEW,1,WORKING_CAPITAL,CNY,100000000,50000000,2023-01-01,2030-01-01,CREDIT,SPECIAL_MENTION,1000,1000,30,OVERDUE,2024-01-01",
            "F-NEW,2,WORKING_CAPITAL,CNY,100000000,50000000,2023-01-01,2030-01-01,CREDIT,NORMAL,0,0,0,ACTIVE,2024-06-01",
        ],
    );
    import(
        &c,
        b,
        "visits.csv",
        VISIT_HEADER,
        "visit",
        &[
            // A warning signal followed by a clean visit in 2019: expired.
            OLD_VISIT,
            "V-CLEAN,1,F-OLD,2019-08-01,ROUTINE,ONSITE,AS_AGREED,NORMAL,NOT_APPLICABLE,INTACT,NORMAL,,NORMAL,NONE,",
        ],
    );
    let before = record_ids(&c, b);
    assert_eq!(before.1.len(), 2);

    // A dry run lists what would go and changes nothing.
    let dry = json(&c, b, &["retention", "sweep", "--dry-run"]);
    assert_eq!(dry["expired_versions"], 2, "{dry:#}");
    assert_eq!(dry["log_entries"], 0);
    assert_eq!(record_ids(&c, b), before);

    // The sweep: F-OLD v1 and V-OLD go; F-OLD v2, F-NEW and V-CLEAN stay.
    let swept = json(&c, b, &["retention", "sweep"]);
    assert_eq!(swept["expired_versions"], 2);
    assert_eq!(swept["expired_records"], 2);
    assert_eq!(swept["log_entries"], 1);
    let (credits, visits) = record_ids(&c, b);
    assert_eq!(visits, ["V-CLEAN"]);
    let mut credits = credits;
    credits.sort();
    assert_eq!(credits, [("F-NEW".to_owned(), 2), ("F-OLD".to_owned(), 2)]);
    // Nothing more expires on a second sweep.
    assert_eq!(
        json(&c, b, &["retention", "sweep", "--dry-run"])["expired_versions"],
        0
    );

    // The log still verifies, and names the removed hashes with the officer.
    let (code, stdout, stderr) = run(&c, b, &["audit", "verify"]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let out = c
        .admin_cli(b)
        .args(["--json", "audit", "entries"])
        .output()
        .unwrap();
    let sweeps: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "retention-sweep")
        .collect();
    assert_eq!(sweeps.len(), 1, "{sweeps:?}");
    assert_eq!(sweeps[0]["removed_sha256"].as_array().unwrap().len(), 2);
    assert_eq!(sweeps[0]["officer"], "OFFICER-1");

    // Re-sending the expired version does not restore it.
    let summary = import(&c, b, "again.csv", VISIT_HEADER, "visit", &[OLD_VISIT]);
    assert!(summary.contains("\"unchanged\":1"), "{summary}");
    assert_eq!(record_ids(&c, b).1, ["V-CLEAN"]);

    // A peer no longer receives it: one visit at DETAIL.
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "authorization").unwrap();
    let until = (credshare_node::domain::dates::BusinessZone::default().today()
        + time::Duration::days(30))
    .to_string();
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
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    let x = json(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent["consent_id"].as_str().unwrap(),
            "--purpose",
            "02",
            "--scope",
            "detail",
        ],
    );
    let bank_b = x["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["institution"] == "BANK-B")
        .unwrap();
    assert_eq!(bank_b["visits"], 1, "{x:#}");
}

#[test]
fn a_legal_hold_freezes_records_stored_unswept_unserved() {
    use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
    let c = Consortium::new().unwrap();
    let secret = ConsortiumSecret::from_file(&c.secret()).unwrap();
    let key = BorrowerKey::derive(&secret, &BorrowerId::parse(BORROWER).unwrap());
    let hold = format!("[\"{}\"]", hex::encode(key.as_bytes()));
    let nodes =
        credshare_e2e::start_federation_with(&c, &[("CREDSHARE_RETENTION__LEGAL_HOLDS", &hold)])
            .unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    import(
        &c,
        b,
        "visits-credit.csv",
        CREDIT_HEADER,
        "credit",
        &[
            "F-OLD,1,WORKING_CAPITAL,CNY,100000000,50000000,2018-01-01,2030-01-01,CREDIT,SUBSTANDARD,1000,1000,100,OVERDUE,2019-03-01",
            "F-OLD,2,WORKING_CAPITAL,CNY,100000000,50000000,2018-01-01,2030-01-01,CREDIT,NORMAL,0,0,0,ACTIVE,2020-06-01",
        ],
    );
    // Expired, but frozen: counted as held, not deleted.
    let swept = json(&c, b, &["retention", "sweep"]);
    assert_eq!(
        (
            swept["expired_versions"].as_u64(),
            swept["held_versions"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(record_ids(&c, b).0.len(), 1);
    // Never served to a peer.
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "authorization").unwrap();
    let until = (credshare_node::domain::dates::BusinessZone::default().today()
        + time::Duration::days(30))
    .to_string();
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
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    let x = json(
        &c,
        a,
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent["consent_id"].as_str().unwrap(),
            "--purpose",
            "02",
            "--scope",
            "detail",
        ],
    );
    let bank_b = x["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["institution"] == "BANK-B")
        .unwrap();
    assert_eq!(bank_b["facilities"], 0, "{x:#}");
}
