//! Fixtures of the discovery service's end-to-end tests: certificates for
//! a discovery-mode institution, starting one with `[discovery]`
//! overrides, the `credshare discovery` CLI, sample borrowers and a gRPC
//! client with a bank's certificate. Fixtures panic on failure: it is the
//! test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use credshare_cli::commands::discovery::ServiceArgs;
use credshare_cli::commands::discovery::client::Services;
use credshare_cli::commands::discovery::enrol::read_ids;
use credshare_cli::connection::ConnectionArgs;
use serde_json::Value;

use crate::{Consortium, NodeProcess, NodeSpec, bin, credshare, free_port, issue};

/// Issues node and signer certificates for a discovery-mode institution.
pub fn service_certs(c: &Consortium, institution: &str) {
    let out = c.certs(institution);
    issue(
        &c.ca_dir(),
        "node",
        institution,
        &out,
        &["--ip", "127.0.0.1", "--dns", "localhost"],
    )
    .unwrap();
    issue(&c.ca_dir(), "signer", institution, &out, &[]).unwrap();
}

/// Starts `institution` as a discovery service with `key` and `extra`
/// `[discovery]` overrides; returns it and its discovery address.
pub fn start_service(
    c: &Consortium,
    institution: &str,
    key: &Path,
    extra: &[(&str, &str)],
) -> (NodeProcess, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut spec = NodeSpec::new(institution);
    spec.env = vec![
        ("CREDSHARE_DISCOVERY__LISTEN".into(), addr.clone()),
        (
            "CREDSHARE_DISCOVERY__KEY_FILE".into(),
            key.display().to_string(),
        ),
    ];
    spec.env.extend(
        extra
            .iter()
            .map(|(k, v)| (format!("CREDSHARE_DISCOVERY__{k}"), v.to_string())),
    );
    (NodeProcess::start(c, &spec).unwrap(), addr)
}

/// `credshare --json discovery ARGS` with `certs`: (exit code, stdout, stderr).
/// Without `certs` (`""`): a ceremony command, which takes none.
pub fn discovery(c: &Consortium, certs: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(bin("credshare"));
    cmd.args(["--json", "discovery"])
        .args(args)
        .env("HOME", c.root());
    if !certs.is_empty() {
        cmd.arg("--certs")
            .arg(c.certs(certs))
            .arg("--crl")
            .arg(c.ca_dir().join("ca.crl"));
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn discovery_ok(c: &Consortium, certs: &str, args: &[&str]) -> Value {
    let (code, stdout, stderr) = discovery(c, certs, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

pub fn holders(c: &Consortium, addr: &str, id: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "lookup",
        "--discovery",
        addr,
        "--id",
        id,
        "--purpose",
        "loan-approval",
        "--consent-sha256",
        CONSENT,
    ];
    args.extend_from_slice(extra);
    let v = discovery_ok(c, "BANK-A", &args);
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

pub const CONSENT: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// A bank's sample records (same seed: 30% of borrowers shared).
pub fn sample(c: &Consortium, bank: &str, borrowers: u64) -> PathBuf {
    let out = c.root().join(format!("sample-{bank}"));
    credshare(&[
        "sample",
        "--institution",
        bank,
        "--borrowers",
        &borrowers.to_string(),
        "--seed",
        "11",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    out.join("credit.csv")
}

pub fn ids(file: &Path) -> BTreeSet<String> {
    read_ids(file)
        .unwrap()
        .iter()
        .map(|i| i.normalized().to_owned())
        .collect()
}

/// A gRPC client of the discovery service with `bank`'s admin certificate.
pub async fn services(c: &Consortium, bank: &str, addr: &str) -> Services {
    Services::connect(&ServiceArgs {
        discovery: addr.into(),
        custodian: Vec::new(),
        public_key: None,
        conn: ConnectionArgs {
            certs: Some(c.certs(bank)),
            ..blank_conn()
        },
    })
    .await
    .unwrap()
}

pub fn blank_conn() -> ConnectionArgs {
    ConnectionArgs {
        node: None,
        certs: None,
        cert: None,
        key: None,
        ca: None,
        crl: Vec::new(),
        secret: None,
        key_generation: None,
        key_service: None,
        key_service_public_key: None,
        key_custodian: Vec::new(),
        profile: None,
    }
}

/// `credshare discovery enrol` (or `withdraw`) of `file` as `bank`.
pub fn enrol(c: &Consortium, bank: &str, verb: &str, addr: &str, file: &Path) -> Value {
    discovery_ok(
        c,
        bank,
        &[verb, "--discovery", addr, "--file", file.to_str().unwrap()],
    )
}

/// Imports one live facility of `borrower` at `node` and enrols the file
/// at the discovery service `addr`.
pub fn hold(c: &Consortium, node: &NodeProcess, addr: &str, borrower: &str) {
    let file = c.root().join(format!("{}-credit.csv", node.institution));
    let row = format!(
        "{borrower},F-1,1,WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,NORMAL,0,0,0,ACTIVE,{}",
        crate::day(-100),
        crate::day(300),
        crate::day(0)
    );
    std::fs::write(&file, format!("{}\n{row}\n", crate::CREDIT_HEADER)).unwrap();
    let path = file.to_str().unwrap();
    let (code, stdout, stderr) =
        crate::cli_json(c, node, &["records", "import", path, "--kind", "credit"]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let enrolled = enrol(c, &node.institution, "enrol", addr, &file);
    assert_eq!(enrolled["registered"], 1, "{enrolled}");
}
