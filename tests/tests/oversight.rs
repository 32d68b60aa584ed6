//! Query-pattern oversight through real nodes and the real CLI: BANK-A asks
//! about borrowers no peer holds; each holder counts the answered queries
//! per requester and reason, raises a PROBING flag once at its threshold
//! (one log entry), shows it in `status`, keeps it across a restart (counts
//! rebuilt from the log in the background, a query decided meanwhile
//! counted once and the flag not raised again) and serves it to the
//! regulator's `credshare audit report --nodes …`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::{Consortium, NodeProcess, bin, start_federation_with};
use serde_json::Value;

fn cli(c: &Consortium, node: &NodeProcess, args: &[&str]) -> Value {
    let out = c.admin_cli(node).arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or(Value::Null)
}

/// Log entries of kind `kind` (`audit entries --json`, JSON Lines).
fn entries_of(c: &Consortium, node: &NodeProcess, kind: &str) -> Vec<Value> {
    let out = c
        .admin_cli(node)
        .args(["--json", "audit", "entries"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Borrower ids of a BANK-A sample nobody imports.
fn unheld_borrowers(c: &Consortium, n: usize) -> Vec<String> {
    let dir = c.sample_a("probe", 8, 3).unwrap();
    let mut reader = csv::Reader::from_path(dir.join("credit.csv")).unwrap();
    let mut ids: Vec<String> = Vec::new();
    for row in reader.records() {
        let id = row.unwrap()[0].to_owned();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.truncate(n);
    assert_eq!(ids.len(), n);
    ids
}

/// BANK-A assesses `id` for loan approval under a fresh consent.
fn probe(c: &Consortium, a: &NodeProcess, id: &str) {
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "authorization").unwrap();
    let until = (credshare_node::domain::dates::BusinessZone::default().today()
        + time::Duration::days(30))
    .to_string();
    let consent = cli(
        c,
        a,
        &[
            "consent",
            "issue",
            "--id",
            id,
            "--purpose",
            "02",
            "--scope",
            "summary",
            "--until",
            &until,
            "--evidence",
            letter.to_str().unwrap(),
        ],
    );
    let consent_id = consent["consent_id"].as_str().unwrap();
    cli(
        c,
        a,
        &[
            "assess",
            "--id",
            id,
            "--consent-id",
            consent_id,
            "--purpose",
            "02",
        ],
    );
}

/// Waits until `node`'s oversight counts are rebuilt (no "oversight counts
/// rebuilding" warning in `status`).
fn wait_rebuilt(c: &Consortium, node: &NodeProcess) {
    let started = std::time::Instant::now();
    loop {
        let status = cli(c, node, &["status"]);
        let warnings = status["warnings"].as_array().unwrap();
        if !warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("oversight"))
        {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "oversight counts still rebuilding: {warnings:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn flags(c: &Consortium, node: &NodeProcess) -> Vec<(String, String, String, u64)> {
    cli(c, node, &["status"])["oversight_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["requester"].as_str().unwrap().to_owned(),
                f["purpose"].as_str().unwrap().to_owned(),
                f["pattern"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn probing_raises_one_flag_that_the_regulator_sees() {
    let c = Consortium::new().unwrap();
    let env = [("CREDSHARE_OVERSIGHT__PROBING_THRESHOLD", "3")];
    let mut nodes = start_federation_with(&c, &env).unwrap();
    let ids = unheld_borrowers(&c, 5);
    for id in &ids[..2] {
        probe(&c, &nodes[0], id);
    }
    assert!(flags(&c, &nodes[1]).is_empty());
    probe(&c, &nodes[0], &ids[2]);
    let expected = vec![(
        "BANK-A".to_owned(),
        "02 LOAN_APPROVAL".to_owned(),
        "PROBING".to_owned(),
        3,
    )];
    assert_eq!(flags(&c, &nodes[1]), expected);
    // Raised once: a fourth probe counts but logs nothing new.
    probe(&c, &nodes[0], &ids[3]);
    assert_eq!(flags(&c, &nodes[1])[0].3, 4);
    let logged = entries_of(&c, &nodes[1], "oversight-flag");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["requester"], "BANK-A");
    assert_eq!(logged[0]["count"], 3);

    // Rebuilt from the log after a restart, in the background: a probe
    // decided right after the restart (during the rebuild or after it) is
    // counted once, and the flag restored from the log is not raised again.
    assert!(nodes[1].stop().unwrap().success());
    nodes[1].restart().unwrap();
    probe(&c, &nodes[0], &ids[4]);
    wait_rebuilt(&c, &nodes[1]);
    assert_eq!(flags(&c, &nodes[1])[0].0, "BANK-A");
    assert_eq!(flags(&c, &nodes[1])[0].3, 5);
    assert_eq!(entries_of(&c, &nodes[1], "oversight-flag").len(), 1);

    // The regulator lists every node's flags.
    let addrs = format!("{},{}", nodes[1].peer_addr, nodes[2].peer_addr);
    let out = std::process::Command::new(bin("credshare"))
        .env("CREDSHARE_CERTS", c.certs("REG-1"))
        .env("HOME", c.root())
        .args(["--json", "audit", "report", "--nodes", &addrs])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let holders: Vec<(&str, usize)> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["institution"].as_str().unwrap(),
                n["flags"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(holders, [("BANK-B", 1), ("BANK-C", 1)]);
    assert_eq!(report["nodes"][0]["flags"][0]["pattern"], "PROBING");
}
