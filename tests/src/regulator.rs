//! The regulator's CLI against real nodes: `credshare audit` as REG-1.

use std::process::Command;

use crate::{Consortium, NodeProcess, bin, text};

/// `credshare audit ARGS` as the regulator REG-1 against `node`'s peer
/// listener, with the CA's CRL.
pub fn regulator_audit(c: &Consortium, node: &NodeProcess, args: &[&str]) -> std::process::Output {
    Command::new(bin("credshare"))
        .arg("audit")
        .args(args)
        .arg("--node")
        .arg(node.peer_addr.to_string())
        .arg("--certs")
        .arg(c.certs("REG-1"))
        .arg("--crl")
        .arg(c.ca_dir().join("ca.crl"))
        .env("HOME", c.root())
        .output()
        .expect("running the credshare CLI")
}

/// `credshare audit --json cross-check` of every log in `nodes` as the
/// regulator, asked through `via`: the exit code and the JSON report.
pub fn regulator_cross_check(
    c: &Consortium,
    via: &NodeProcess,
    nodes: &[NodeProcess],
) -> (Option<i32>, serde_json::Value) {
    let all: Vec<String> = nodes.iter().map(|n| n.peer_addr.to_string()).collect();
    let all = all.join(",");
    let args = [
        "--json",
        "cross-check",
        "--nodes",
        &all,
        "--settle-seconds",
        "0",
    ];
    let out = regulator_audit(c, via, &args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", text(&out)));
    (out.status.code(), report)
}
