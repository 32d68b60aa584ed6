//! Post-loan answers an officer acts on, through three real nodes and the
//! real CLI: a crafted borrower with hand-computed expectations for
//! `credshare assess` (debt share across currencies, settled lenders) and
//! `credshare visits due` (every open obligation, downgrade dated by its
//! version, a phone call that satisfies nothing), and the import checks
//! that refuse visits to unknown or undisbursed facilities and versions
//! that go back in time (docs/domain.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use credshare_e2e::{CREDIT_HEADER, VISIT_HEADER, cli_json as cli, day};
use credshare_e2e::{Consortium, NodeProcess, start_federation_with};
use credshare_proto::v1 as pb;

/// The crafted borrower (a valid USCC).
const BORROWER: &str = "USCC:91350100M000100Y43";

fn write(dir: &Path, name: &str, header: &str, rows: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

/// Imports `file` and returns (exit code, rejections as "row field: reason").
fn import(
    c: &Consortium,
    node: &NodeProcess,
    file: &Path,
    kind: &str,
) -> (Option<i32>, Vec<String>) {
    let rejects = file.with_extension("rejects.csv");
    let (code, stdout, stderr) = cli(
        c,
        node,
        &[
            "records",
            "import",
            file.to_str().unwrap(),
            "--kind",
            kind,
            "--reject-file",
            rejects.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains("\"summary\""),
        "import of {} printed no summary: {stdout} {stderr}",
        file.display()
    );
    let mut reader = csv::Reader::from_path(&rejects).unwrap();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            format!("{} {}: {}", &r[0], &r[1], &r[2])
        })
        .collect();
    (code, rows)
}

fn credit_row(facility: &str, version: u32, fields: &str) -> String {
    format!("{BORROWER},{facility},{version},{fields}")
}

/// BANK-B: CNY 8,000,000.00 NORMAL. BANK-C: USD 50,000.00, overdue and
/// downgraded over three versions. BANK-A: a settled facility only.
fn import_the_borrower(c: &Consortium, nodes: &[NodeProcess], dir: &Path) {
    let (a, b, bank_c) = (&nodes[0], &nodes[1], &nodes[2]);
    let a_file = write(
        dir,
        "a-credit.csv",
        CREDIT_HEADER,
        &[credit_row(
            "A1",
            1,
            &format!(
                "WORKING_CAPITAL,CNY,100000000,0,{},{},CREDIT,NORMAL,0,0,0,SETTLED,{}",
                day(-800),
                day(-100),
                day(-50)
            ),
        )],
    );
    let b_file = write(
        dir,
        "b-credit.csv",
        CREDIT_HEADER,
        &[credit_row(
            "B1",
            1,
            &format!(
                "WORKING_CAPITAL,CNY,800000000,800000000,{},{},MORTGAGE,NORMAL,0,0,0,ACTIVE,{}",
                day(-400),
                day(400),
                day(-1)
            ),
        )],
    );
    let c1 = |version, class: &str, days: i64, as_of: i64| {
        credit_row(
            "C1",
            version,
            &format!(
                "TRADE_FINANCE,USD,5000000,5000000,{},{},GUARANTEED,{class},5000000,5100000,{days},OVERDUE,{}",
                day(-500),
                day(-160),
                day(as_of)
            ),
        )
    };
    // 60 days overdue as of −41 (SPECIAL_MENTION), refreshed as of −20,
    // downgraded to SUBSTANDARD as of −1 (100 days), refreshed as of today.
    let c_file = write(
        dir,
        "c-credit.csv",
        CREDIT_HEADER,
        &[
            c1(1, "SPECIAL_MENTION", 60, -41),
            c1(2, "SPECIAL_MENTION", 81, -20),
            c1(3, "SUBSTANDARD", 100, -1),
            c1(4, "SUBSTANDARD", 101, 0),
        ],
    );
    for (node, file) in [(a, &a_file), (b, &b_file), (bank_c, &c_file)] {
        assert_eq!(import(c, node, file, "credit"), (Some(0), vec![]));
    }
    let visit = |id: &str, date: i64, kind: &str, channel: &str, proposed: &str| {
        format!(
            "{BORROWER},{id},1,C1,{},{kind},{channel},AS_AGREED,DECLINING,NOT_APPLICABLE,INTACT,NORMAL,,{proposed},NONE,",
            day(date)
        )
    };
    let visits = write(
        dir,
        "c-visits.csv",
        VISIT_HEADER,
        &[
            visit("V1", -490, "FIRST", "ONSITE", "NORMAL"),
            visit("V2", -38, "FOCUSED", "PHONE", "NORMAL"),
            visit("V3", -20, "ROUTINE", "ONSITE", "NORMAL"),
        ],
    );
    assert_eq!(import(c, bank_c, &visits, "visit"), (Some(0), vec![]));
}

/// BANK-A's consent for the borrower at `scope`, valid 90 days: its id.
fn issue_consent(c: &Consortium, node: &NodeProcess, dir: &Path, scope: &str) -> String {
    let letter = dir.join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();
    let until = day(90);
    let (code, stdout, stderr) = cli(
        c,
        node,
        &[
            "consent",
            "issue",
            "--id",
            BORROWER,
            "--purpose",
            "loan-approval",
            "--scope",
            scope,
            "--until",
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let consent: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    consent["consent_id"].as_str().unwrap().to_owned()
}

#[test]
fn assess_and_visits_due_give_the_hand_computed_answers() {
    let c = Consortium::new().unwrap();
    let env = [
        ("CREDSHARE_ASSESSMENT__RATES", r#"{ USD = "7.1000" }"#),
        ("CREDSHARE_ASSESSMENT__RATES_AS_OF", "2026-11-30"),
    ];
    let nodes = start_federation_with(&c, &env).unwrap();
    let dir = tempfile::tempdir().unwrap();
    import_the_borrower(&c, &nodes, dir.path());

    // BANK-A assesses under a consent of its own.
    let consent_id = issue_consent(&c, &nodes[0], dir.path(), "summary");
    let consent_id = consent_id.as_str();
    let (code, stdout, stderr) = cli(
        &c,
        &nodes[0],
        &[
            "assess",
            "--id",
            BORROWER,
            "--consent-id",
            consent_id,
            "--purpose",
            "loan-approval",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let a: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // CNY 8,000,000.00 + USD 50,000.00 × 7.1 = CNY 8,355,000.00, of which
    // CNY 355,000.00 is more than 90 days overdue: 4.24 %, not RED.
    assert_eq!(a["over_90_days_share_bp"], 424, "{a:#}");
    assert_eq!(
        a["share_basis"],
        "CNY equivalent at the rates of 2026-11-30: USD 7.1000"
    );
    assert_eq!(a["level"], "ORANGE", "{a:#}");
    let reasons: Vec<&str> = a["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("SUBSTANDARD reported by BANK-C")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("101 days overdue")),
        "{reasons:?}"
    );
    assert!(!reasons.iter().any(|r| r.starts_with("RED")), "{reasons:?}");
    // BANK-A's facility is settled: two lenders, BANK-A listed apart.
    assert_eq!(a["lender_count"], 2);
    assert_eq!(a["settled_only_lenders"], serde_json::json!(["BANK-A"]));

    // BANK-C's visits due within 7 days: the FOCUSED visit for > 60 days
    // overdue (crossed 101 − 61 = 40 days ago, due 33 days ago: the phone
    // call 38 days ago does not satisfy it), and the FOCUSED visit for the
    // downgrade dated by version 3 (yesterday, due in 6 days) — version 4,
    // a refresh, does not move it. The routine visit (30 days after the
    // on-site visit 20 days ago) is due in 10 days: beyond the horizon.
    let (code, stdout, stderr) = cli(&c, &nodes[2], &["visits", "due", "--horizon-days", "7"]);
    assert_eq!(code, Some(0), "{stderr}");
    let due: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows: Vec<(String, String, i64, String)> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["required_type"].as_str().unwrap().to_owned(),
                d["trigger_date"].as_str().unwrap().to_owned(),
                d["days_overdue"].as_i64().unwrap(),
                d["due_date"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("FOCUSED".into(), day(-40), 33, day(-33)),
            ("FOCUSED".into(), day(-1), -6, day(6)),
        ],
        "{due:#}"
    );
    assert!(
        due[0]["satisfied_by"].as_str().unwrap().contains("ONSITE"),
        "{due:#}"
    );
    assert!(
        due[1]["reason"]
            .as_str()
            .unwrap()
            .contains("downgraded from SPECIAL_MENTION to SUBSTANDARD"),
        "{due:#}"
    );
}

#[test]
fn detail_shows_every_institutions_verified_records() {
    let c = Consortium::new().unwrap();
    let nodes = start_federation_with(&c, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    import_the_borrower(&c, &nodes, dir.path());
    let consent_id = issue_consent(&c, &nodes[0], dir.path(), "detail");
    let args = [
        "assess",
        "--id",
        BORROWER,
        "--consent-id",
        &consent_id,
        "--purpose",
        "loan-approval",
        "--scope",
        "detail",
    ];
    let (code, stdout, stderr) = cli(&c, &nodes[0], &args);
    assert_eq!(code, Some(0), "{stderr}");
    let a: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(a["consent_id"], consent_id.as_str(), "{a:#}");
    let peer = |name: &str| {
        a["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["institution"] == name)
            .unwrap()
            .clone()
    };
    // BANK-C: the newest version of C1 and three visits, each verified as
    // signed by BANK-C, with the envelope as received.
    let bank_c = peer("BANK-C");
    let records = bank_c["records"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{bank_c:#}");
    for r in records {
        assert_eq!(r["verification"]["status"], "VERIFIED", "{r:#}");
        assert_eq!(r["verification"]["signer_institution"], "BANK-C", "{r:#}");
        let key_id = r["verification"]["signer_key_id"].as_str().unwrap();
        assert_eq!(r["envelope"]["signatures"][0]["keyid"], key_id, "{r:#}");
        assert!(r["envelope"]["payload"].as_str().unwrap().len() > 10);
    }
    let credit = records.iter().find(|r| r["kind"] == "credit").unwrap();
    assert_eq!(credit["record"]["facility_id"], "C1");
    assert_eq!(credit["record"]["version"], 4);
    assert_eq!(credit["record"]["risk_class"], "SUBSTANDARD");
    // Own records are verified the same way.
    let own = peer("BANK-A");
    assert_eq!(
        own["records"][0]["verification"]["signer_institution"],
        "BANK-A"
    );

    // The officer's view: a section per institution, visits newest first.
    let out = c.admin_cli(&nodes[0]).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "== BANK-A: 1 facility, 0 visits — every record signed by BANK-A key",
        "== BANK-B: 1 facility, 0 visits",
        "== BANK-C: 1 facility, 3 visits",
        "USD 50,000.00",
        "101 d, USD 51,000.00",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let (v3, v1) = (
        text.find(&day(-20)).unwrap(),
        text.find(&day(-490)).unwrap(),
    );
    assert!(v3 < v1, "visits are not newest first:\n{text}");
    assert!(
        text.contains(&format!("consent used: {consent_id}")),
        "{text}"
    );
}

#[test]
fn times_read_the_same_everywhere_in_the_business_time_zone() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &credshare_e2e::NodeSpec::new("BANK-A")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let consent_id = issue_consent(&c, &node, dir.path(), "summary");
    let list = |zone: &str| {
        c.admin_cli(&node)
            .env("CREDSHARE_BUSINESS_TIME_ZONE", zone)
            .args(["consent", "list"])
            .output()
            .unwrap()
    };
    let out = list("Asia/Shanghai");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&consent_id), "{text}");
    // Valid through the last day, in the zone named.
    let until = format!("{} 23:59:59 Asia/Shanghai", day(90));
    assert!(text.contains(&until), "{until:?} missing from:\n{text}");
    let out = list("UTC");
    assert!(String::from_utf8_lossy(&out.stdout).contains(" UTC"));
    // An unknown zone is a usage error, as JSON under --json.
    let out = c
        .admin_cli(&node)
        .env("CREDSHARE_BUSINESS_TIME_ZONE", "Mars/Olympus")
        .args(["--json", "consent", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["exit_code"], 2);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mars/Olympus")
    );
}

#[test]
fn imports_refuse_visits_to_unknown_or_undisbursed_facilities_and_versions_back_in_time() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &credshare_e2e::NodeSpec::new("BANK-A")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let credit = |version, as_of: i64, balance: &str, overdue_principal: &str| {
        credit_row(
            "F1",
            version,
            &format!(
                "WORKING_CAPITAL,CNY,1000000,{balance},{},{},CREDIT,NORMAL,{overdue_principal},{overdue_principal},{},ACTIVE,{}",
                day(-100),
                day(300),
                if overdue_principal == "0" { 0 } else { 3 },
                day(as_of)
            ),
        )
    };
    let file = write(
        dir.path(),
        "credit.csv",
        CREDIT_HEADER,
        &[
            credit(1, -10, "500000", "0"),
            // Overdue principal above the balance.
            credit(2, -5, "1000", "2000"),
        ],
    );
    let (code, rejected) = import(&c, &node, &file, "credit");
    assert_eq!(code, Some(3));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].starts_with("2 overdue_principal: 2000 exceeds outstanding_balance 1000"),
        "{rejected:?}"
    );

    // One business day: a row dated tomorrow in the business time zone is
    // in the future whatever the hour (the node once accepted it in the
    // evening, checking against UTC+14).
    let file = write(
        dir.path(),
        "tomorrow.csv",
        CREDIT_HEADER,
        &[credit(2, 1, "500000", "0")],
    );
    let (code, rejected) = import(&c, &node, &file, "credit");
    assert_eq!(code, Some(3));
    assert_eq!(
        rejected,
        vec![format!("1 as_of_date: {} is in the future", day(1))]
    );
    // The node itself applies the same day (not only the CLI's check).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let tls = c.tls("BANK-A", "admin").unwrap();
        let mut admin = credshare_e2e::admin_client(&tls, node.admin_addr)
            .await
            .unwrap();
        let record = pb::CreditSummary {
            facility_id: "F9".into(),
            version: 1,
            borrower_key: vec![9; 32],
            facility_type: pb::FacilityType::WorkingCapital as i32,
            currency: "CNY".into(),
            contract_amount: 100,
            outstanding_balance: 100,
            open_date: day(-10),
            maturity_date: day(100),
            guarantee_type: pb::GuaranteeType::Credit as i32,
            risk_class: pb::RiskClass::Normal as i32,
            account_status: pb::AccountStatus::Active as i32,
            as_of_date: day(1),
            ..Default::default()
        };
        let put = pb::PutRecordRequest {
            record: Some(pb::RecordInput {
                record: Some(pb::record_input::Record::Credit(record)),
            }),
        };
        admin.put_record(put).await.unwrap_err()
    });
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.message(),
        format!("as_of_date: {} is in the future", day(1))
    );

    // Version 3 dated before stored version 1 goes back in time.
    let file = write(
        dir.path(),
        "older.csv",
        CREDIT_HEADER,
        &[credit(3, -20, "400000", "0")],
    );
    let (code, rejected) = import(&c, &node, &file, "credit");
    assert_eq!(code, Some(3));
    assert!(rejected[0].starts_with("1 as_of_date: "), "{rejected:?}");
    assert!(rejected[0].contains("stored version 1"), "{rejected:?}");

    let visit = |id: &str, facility: &str, date: i64| {
        format!(
            "{BORROWER},{id},1,{facility},{},FIRST,ONSITE,AS_AGREED,NORMAL,NOT_APPLICABLE,INTACT,NORMAL,,NORMAL,NONE,",
            day(date)
        )
    };
    let file = write(
        dir.path(),
        "visits.csv",
        VISIT_HEADER,
        &[
            visit("V1", "F1", -90),
            visit("V2", "NO-SUCH-FACILITY", -90),
            visit("V3", "F1", -101),
        ],
    );
    let (code, rejected) = import(&c, &node, &file, "visit");
    assert_eq!(code, Some(3));
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[0]
            .starts_with("2 facility_id: no credit summary of facility \"NO-SUCH-FACILITY\""),
        "{rejected:?}"
    );
    assert!(
        rejected[1].starts_with(&format!(
            "3 visit_date: {} is before the facility's open date {}",
            day(-101),
            day(-100)
        )),
        "{rejected:?}"
    );
}
