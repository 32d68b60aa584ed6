//! End-to-end fixtures: a fresh consortium PKI in a temporary directory (made
//! by the real `credshare pki` commands), real `credshare-node` processes on
//! 127.0.0.1 with OS-assigned admin ports (started by the CLI library's
//! federation starter, the one `credshare demo` and `credshare bench` use),
//! and mTLS clients.
//!
//! The binaries are the workspace's own: `cargo test --workspace` builds them
//! into the same target directory as these tests.
#![forbid(unsafe_code)]

pub mod witness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use credshare_cli::federation::{self, NodeProgram, Site};
use credshare_node::tls::{self, TlsMaterial};
use tonic::transport::Channel;

pub mod discovery;
#[allow(clippy::unwrap_used)]
pub mod offline;
pub mod privacy;
mod regulator;
mod setup;

pub use credshare_cli::connection::AdminClient;
pub use credshare_cli::federation::{NodeProcess, NodeSpec};
use credshare_proto::v1 as pb;
pub use regulator::{regulator_audit, regulator_cross_check};
pub use setup::{import_live_facility, loan_consent, peer_client, signed_loan_grant};

/// The three dev-consortium banks and the regulator.
pub const BANKS: [&str; 3] = ["BANK-A", "BANK-B", "BANK-C"];
pub const REGULATOR: &str = "REG-1";

/// Path of a workspace binary (`credshare`, `credshare-node`).
pub fn bin(name: &str) -> PathBuf {
    // tests run from target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` (or `cargo test --workspace`) first",
        path.display()
    );
    path
}

/// Runs the real `credshare` CLI; fails with its stderr if it fails.
pub fn credshare(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin("credshare")).args(args).output()?;
    if !out.status.success() {
        bail!(
            "credshare {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `credshare pki issue --ca CA --role ROLE --institution ID --out OUT`
/// with `extra` flags.
pub fn issue(
    ca: &Path,
    role: &str,
    institution: &str,
    out: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    let (ca, out) = (ca.display().to_string(), out.display().to_string());
    let mut args = vec![
        "pki",
        "issue",
        "--ca",
        &ca,
        "--role",
        role,
        "--institution",
        institution,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    credshare(&args).map(drop)
}

/// A dev consortium (CA, three banks, a regulator, a consortium secret) in a
/// temporary directory.
pub struct Consortium {
    dir: tempfile::TempDir,
    /// Nodes run as `credshare-node`, with debug logs of the node crate.
    site: Site,
}

impl AsRef<Site> for Consortium {
    fn as_ref(&self) -> &Site {
        &self.site
    }
}

impl Consortium {
    pub fn new() -> anyhow::Result<Self> {
        credshare_node::install_crypto_provider();
        let dir = tempfile::tempdir()?;
        let root = dir.path().to_str().context("utf-8 temp path")?;
        credshare(&["pki", "dev-consortium", "--dir", root])?;
        credshare(&[
            "consortium-secret",
            "generate",
            "--out",
            &format!("{root}/consortium.secret"),
        ])?;
        let program = NodeProgram::node_binary(bin("credshare-node"))
            .with_env("CREDSHARE_LOG__LEVEL", "info,credshare_node=debug");
        let site = Site {
            certs_root: dir.path().to_path_buf(),
            secret: dir.path().join("consortium.secret"),
            work_root: dir.path().to_path_buf(),
            program,
        };
        Ok(Self { dir, site })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.root().join("ca")
    }

    /// Directory of one institution's certificates.
    pub fn certs(&self, institution: &str) -> PathBuf {
        self.root().join(institution)
    }

    pub fn secret(&self) -> PathBuf {
        self.root().join("consortium.secret")
    }

    /// Issues `<role>` for `institution` from a second, untrusted CA (made
    /// on first use); returns the directory holding `<role>.{crt,key}`.
    pub fn issue_from_foreign_ca(&self, role: &str, institution: &str) -> anyhow::Result<PathBuf> {
        let ca = self.root().join("foreign-ca");
        let out = self.root().join(format!("foreign-{role}"));
        if !ca.join("ca.crt").exists() {
            let ca_s = ca.display().to_string();
            credshare(&["pki", "init-ca", "--dir", &ca_s, "--name", "Foreign CA"])?;
        }
        issue(&ca, role, institution, &out, &[])?;
        Ok(out)
    }

    /// `credshare sample` of `borrowers` BANK-A borrowers with `seed` into
    /// `<root>/<name>`; returns that directory.
    pub fn sample_a(&self, name: &str, borrowers: u64, seed: u64) -> anyhow::Result<PathBuf> {
        let out = self.root().join(name);
        credshare(&[
            "sample",
            "--institution",
            "BANK-A",
            "--borrowers",
            &borrowers.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            out.to_str().context("utf-8 path")?,
        ])?;
        Ok(out)
    }

    /// The `credshare` CLI with `node`'s institution's admin connection
    /// options (certificates, admin address, consortium secret).
    pub fn admin_cli(&self, node: &NodeProcess) -> Command {
        let mut cmd = Command::new(bin("credshare"));
        cmd.env("CREDSHARE_CERTS", self.certs(&node.institution))
            .env("CREDSHARE_ADMIN_ADDR", node.admin_addr.to_string())
            .env("CREDSHARE_SECRET", self.secret())
            .env("HOME", self.root());
        cmd
    }

    /// TLS material of `<institution>/<role>.{crt,key}`, honouring the CA's CRL.
    pub fn tls(&self, institution: &str, role: &str) -> anyhow::Result<TlsMaterial> {
        let dir = self.certs(institution);
        Ok(TlsMaterial::load(
            &self.ca_dir().join("ca.crt"),
            &[self.ca_dir().join("ca.crl")],
            &dir.join(format!("{role}.crt")),
            &dir.join(format!("{role}.key")),
        )?)
    }
}

/// A free port on 127.0.0.1, below the ephemeral range and different on
/// each call (see [`federation::free_port`]).
pub fn free_port() -> u16 {
    federation::free_port().expect("bind 127.0.0.1:0")
}

/// Starts the three dev banks, each configured with the other two as peers.
pub fn start_federation(consortium: &Consortium) -> anyhow::Result<Vec<NodeProcess>> {
    start_federation_with(consortium, &[])
}

/// An mTLS channel to `addr` with the given client material.
pub async fn channel(material: &TlsMaterial, addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(tls::connect_channel(
        material.client_config()?,
        &addr.to_string(),
        None,
        None,
        Duration::from_secs(5),
    )
    .await?)
}

/// An `AdminService` client with `material` at `addr`.
pub async fn admin_client(material: &TlsMaterial, addr: SocketAddr) -> anyhow::Result<AdminClient> {
    Ok(AdminClient::new(channel(material, addr).await?))
}

/// `AdminService.Status`.
pub async fn status(admin: &mut AdminClient) -> anyhow::Result<pb::StatusResponse> {
    Ok(admin.status(pb::StatusRequest {}).await?.into_inner())
}

/// Starts the three dev banks with extra environment overrides for each.
pub fn start_federation_with(
    consortium: &Consortium,
    env: &[(&str, &str)],
) -> anyhow::Result<Vec<NodeProcess>> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    federation::start_federation(consortium, &BANKS, &env)
}

/// Header of a credit-summary CSV (docs/domain.md, record fields).
pub const CREDIT_HEADER: &str = "borrower_id,facility_id,version,facility_type,currency,contract_amount,outstanding_balance,open_date,maturity_date,guarantee_type,risk_class,overdue_principal,overdue_total,overdue_days,account_status,as_of_date";
/// Header of a visit-summary CSV.
pub const VISIT_HEADER: &str = "borrower_id,visit_id,version,facility_id,visit_date,visit_type,channel,fund_usage,operations,project_progress,collateral,guarantor,warning_signals,proposed_risk_class,action_taken,conclusion";

/// Today in the business time zone plus `offset` days, `YYYY-MM-DD`.
pub fn day(offset: i64) -> String {
    let today = credshare_node::domain::dates::BusinessZone::default().today();
    (today + time::Duration::days(offset)).to_string()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    credshare_node::domain::dates::now_ms()
}

/// `credshare --json ARGS` as `node`'s admin: (exit code, stdout, stderr).
pub fn cli_json(
    c: &Consortium,
    node: &NodeProcess,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = c
        .admin_cli(node)
        .arg("--json")
        .args(args)
        .output()
        .expect("running the credshare CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`cli_json`] that must succeed; its stdout parsed as one JSON document.
pub fn cli_ok_json(c: &Consortium, node: &NodeProcess, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = cli_json(c, node, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {stdout}"))
}

/// A finished process's status and output, for assertion messages.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `text` without ANSI colour codes (node logs written by a terminal-less
/// process may still carry them).
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `GET path` over plain HTTP/1.1 (the metrics and probe listener):
/// (status code, body). Panics when the listener does not answer.
#[allow(clippy::unwrap_used)]
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}

/// Polls `check` every 100 ms until it holds; panics naming `what` after
/// `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A minimal valid NORMAL credit summary of borrower key `[5; 32]`.
pub fn credit_fixture(institution: &str, facility: &str) -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: facility.into(),
        version: 1,
        institution_id: institution.into(),
        borrower_key: vec![5; 32],
        facility_type: pb::FacilityType::WorkingCapital as i32,
        currency: "CNY".into(),
        contract_amount: 1_000,
        outstanding_balance: 500,
        open_date: "2024-01-10".into(),
        maturity_date: "2027-01-10".into(),
        guarantee_type: pb::GuaranteeType::Credit as i32,
        risk_class: pb::RiskClass::Normal as i32,
        as_of_date: "2026-01-31".into(),
        account_status: pb::AccountStatus::Active as i32,
        ..Default::default()
    }
}
