//! Signed records through real nodes: import, validation, durability across
//! `kill -9`, and no raw identifier on disk or in logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use credshare_e2e::privacy::{find_ids_in, raw_ids};
use credshare_e2e::{Consortium, NodeProcess, NodeSpec};

/// A consortium, BANK-A's node, and the credit file of a BANK-A sample of
/// `borrowers` borrowers (seed 3).
fn bank_a_with_sample(borrowers: u64) -> (Consortium, NodeProcess, std::path::PathBuf) {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let credit = c
        .sample_a("sample", borrowers, 3)
        .unwrap()
        .join("credit.csv");
    (c, node, credit)
}

fn import_json(
    c: &Consortium,
    node: &NodeProcess,
    file: &Path,
    kind: &str,
) -> (Option<i32>, serde_json::Value) {
    let out = c
        .admin_cli(node)
        .args([
            "--json",
            "records",
            "import",
            file.to_str().unwrap(),
            "--kind",
            kind,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "summary")
        .unwrap_or_else(|| {
            panic!(
                "no summary: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (out.status.code(), summary["totals"].clone())
}

#[test]
fn hundred_thousand_rows_import_and_no_raw_id_is_stored_or_logged() {
    let (c, node, credit) = bank_a_with_sample(61_000);
    let rows = csv::Reader::from_path(&credit).unwrap().records().count() as u64;
    assert!(rows >= 100_000, "sample has {rows} credit rows");
    let (code, totals) = import_json(&c, &node, &credit, "credit");
    assert_eq!(code, Some(0), "{totals}");
    assert_eq!(totals["stored"], rows, "{totals}");
    assert_eq!(totals["rejected"], 0);

    // Re-import: every row is an idempotent no-op.
    let (code, totals) = import_json(&c, &node, &credit, "credit");
    assert_eq!(code, Some(0));
    assert_eq!(totals["unchanged"], rows, "{totals}");

    // A borrower is visible through the CLI, hashed locally.
    let first = csv::Reader::from_path(&credit)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap()[0]
        .to_string();
    let out = c
        .admin_cli(&node)
        .args(["--json", "borrower", "show", "--id", &first])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!shown["credit"].as_array().unwrap().is_empty());

    let ids = raw_ids(&credit);
    assert!(ids.len() > 50_000);
    let leaks = find_ids_in(&node.data_dir, &ids);
    assert!(
        leaks.is_empty(),
        "raw ids on disk: {:?}",
        &leaks[..leaks.len().min(5)]
    );
    let log_dir = node.log_file.parent().unwrap();
    let leaks = find_ids_in(log_dir, &ids);
    assert!(
        leaks.is_empty(),
        "raw ids in logs: {:?}",
        &leaks[..leaks.len().min(5)]
    );
}

#[test]
fn bad_rows_are_rejected_with_row_and_field_and_change_nothing() {
    let (c, node, credit) = bank_a_with_sample(20);
    let text = std::fs::read_to_string(&credit).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<String> = lines[0].split(',').map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut set = |line: usize, name: &str, value: &str| {
        let mut cells: Vec<String> = lines[line].split(',').map(String::from).collect();
        cells[col(name)] = value.to_string();
        lines[line] = cells.join(",");
    };
    set(2, "currency", "XYZ");
    set(4, "contract_amount", "0");
    set(5, "borrower_id", "USCC:91350100M000100Y44");
    set(7, "open_date", "2020-13-01");
    let bad = c.root().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let rejects = c.root().join("rejects.csv");
    let out = c
        .admin_cli(&node)
        .args([
            "records",
            "import",
            bad.to_str().unwrap(),
            "--kind",
            "credit",
            "--reject-file",
            rejects.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(u64, String)> = csv::Reader::from_path(&rejects)
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_string())
        })
        .collect();
    // Data rows are numbered from 1 (line 2 of the file is row 1).
    assert_eq!(
        got,
        vec![
            (2, "currency".to_string()),
            (4, "contract_amount".to_string()),
            (5, "borrower_id".to_string()),
            (7, "open_date".to_string()),
        ]
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 rejected"), "{stdout}");
}

#[test]
fn kill_9_during_import_loses_no_acknowledged_row() {
    let (c, mut node, credit) = bank_a_with_sample(60_000);
    let mut child = c
        .admin_cli(&node)
        .args([
            "--json",
            "records",
            "import",
            credit.to_str().unwrap(),
            "--kind",
            "credit",
            "--rows-per-call",
            "5000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked_through = 0u64;
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
            continue;
        };
        if v["event"] == "ack" {
            acked_through = v["through_row"].as_u64().unwrap();
            if !killed && acked_through >= 15_000 {
                node.kill9();
                killed = true;
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(killed, "import finished before the node could be killed");
    assert!(!status.success(), "the CLI must report the failed import");
    assert!(acked_through >= 15_000);

    // Restart: the store opens, the log verifies, and every acknowledged row
    // is there with identical content (re-importing it changes nothing).
    node.restart().unwrap();
    let text = std::fs::read_to_string(&credit).unwrap();
    let prefix: Vec<&str> = text.lines().take(1 + acked_through as usize).collect();
    let acked = c.root().join("acked.csv");
    std::fs::write(&acked, prefix.join("\n") + "\n").unwrap();
    let (code, totals) = import_json(&c, &node, &acked, "credit");
    assert_eq!(code, Some(0), "{totals}");
    assert_eq!(totals["unchanged"], acked_through, "{totals}");
    assert_eq!(totals["stored"], 0, "{totals}");
}
