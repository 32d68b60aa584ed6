//! Query reasons of the national credit report, end to end through three
//! real nodes and the real CLI: one consent naming all eleven reasons
//! (typed as CLI names, names and codes), an assessment under each reason
//! code, the holder's history and both nodes' status counting them per
//! reason, and a reason the holders' policy leaves out (configured by code)
//! denied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{Consortium, NodeProcess, start_federation_with};
use credshare_node::domain::Purpose;
use serde_json::Value;

const BORROWER: &str = "USCC:91350100M000100Y43";

/// `credshare --json …` as `node`'s admin: (exit code, stdout, stderr).
fn cli(c: &Consortium, node: &NodeProcess, args: &[&str]) -> (Option<i32>, String, String) {
    let out = c.admin_cli(node).arg("--json").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(c: &Consortium, node: &NodeProcess, args: &[&str]) -> Value {
    let (code, stdout, stderr) = cli(c, node, args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
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

    // One consent for all eleven reasons, typed every way the CLI accepts.
    let typed = [
        "post-loan",
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
    let labels: Vec<String> = Purpose::ALL.iter().map(|p| p.label()).collect();
    assert_eq!(
        consent["grant"]["purposes"],
        serde_json::json!(labels),
        "{consent:#}"
    );
    let consent_id = consent["consent_id"].as_str().unwrap().to_owned();

    // An assessment under each reason code: 26 is refused by both holders.
    for p in Purpose::ALL {
        let code = format!("{:02}", p.code());
        let (exit, stdout, stderr) = cli(
            &c,
            a,
            &[
                "assess",
                "--id",
                BORROWER,
                "--consent-id",
                &consent_id,
                "--purpose",
                &code,
            ],
        );
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
