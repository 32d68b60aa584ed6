//! End-to-end fixtures: a fresh consortium PKI in a temporary directory (made
//! by the real `credshare pki` commands), real `credshare-node` processes on
//! 127.0.0.1 with OS-assigned admin ports, and mTLS clients.
//!
//! The binaries are the workspace's own: `cargo test --workspace` builds them
//! into the same target directory as these tests.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use credshare_node::tls::{self, TlsMaterial};
use tonic::transport::Channel;

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

/// A dev consortium (CA, three banks, a regulator, a consortium secret) in a
/// temporary directory.
pub struct Consortium {
    dir: tempfile::TempDir,
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
        Ok(Self { dir })
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
        let (ca_s, out_s) = (ca.display().to_string(), out.display().to_string());
        if !ca.join("ca.crt").exists() {
            credshare(&["pki", "init-ca", "--dir", &ca_s, "--name", "Foreign CA"])?;
        }
        credshare(&[
            "pki",
            "issue",
            "--ca",
            &ca_s,
            "--role",
            role,
            "--institution",
            institution,
            "--out",
            &out_s,
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

/// A free port on 127.0.0.1 (bound and released; peers need to know each
/// other's peer ports before the nodes start).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A running `credshare-node` process.
pub struct NodeProcess {
    pub institution: String,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub peer_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

/// How to start one node.
pub struct NodeSpec<'a> {
    pub institution: &'a str,
    pub peer_port: u16,
    /// (institution, peer port) of the node's peers.
    pub peers: Vec<(String, u16)>,
    /// Extra `CREDSHARE_*` environment overrides.
    pub env: Vec<(String, String)>,
}

impl<'a> NodeSpec<'a> {
    pub fn new(institution: &'a str) -> Self {
        Self {
            institution,
            peer_port: free_port(),
            peers: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl NodeProcess {
    /// Writes the node's config with `credshare node init` and starts it.
    pub fn start(consortium: &Consortium, spec: &NodeSpec) -> anyhow::Result<Self> {
        let work = consortium.root().join(format!("node-{}", spec.institution));
        std::fs::create_dir_all(&work)?;
        let config = work.join("node.toml");
        let ready = work.join("ready.json");
        let peer_listen = format!("127.0.0.1:{}", spec.peer_port);
        let mut args: Vec<String> = [
            "node",
            "init",
            "--institution",
            spec.institution,
            "--listen",
            &peer_listen,
            "--admin-listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (flag, path) in [
            ("--certs", consortium.certs(spec.institution)),
            ("--data", work.join("data")),
            ("--secret", consortium.secret()),
            ("--ready-file", ready.clone()),
            ("--out", config.clone()),
        ] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        for (inst, port) in &spec.peers {
            args.push("--peer".into());
            args.push(format!("{inst}=127.0.0.1:{port}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        credshare(&refs)?;
        let mut node = Self {
            institution: spec.institution.to_owned(),
            data_dir: work.join("data"),
            log_file: work.join("node.log"),
            config,
            peer_addr: peer_listen.parse()?,
            admin_addr: "127.0.0.1:0".parse()?,
            env: spec.env.clone(),
            child: None,
        };
        node.restart()?;
        Ok(node)
    }

    fn ready_file(&self) -> PathBuf {
        self.config.with_file_name("ready.json")
    }

    /// Starts (or restarts) the process with its environment and waits
    /// until it serves.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let env = self.env.clone();
        self.spawn(&env)
    }

    /// Starts the process with `env` and waits until it serves.
    pub fn spawn(&mut self, env: &[(String, String)]) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(self.ready_file());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)?;
        let child = Command::new(bin("credshare-node"))
            .arg("--config")
            .arg(&self.config)
            .envs(env.iter().cloned())
            .env("CREDSHARE_LOG__LEVEL", "info,credshare_node=debug")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(30))
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(self.ready_file()) {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                self.peer_addr = v["peer"].as_str().context("peer")?.parse()?;
                self.admin_addr = v["admin"].as_str().context("admin")?.parse()?;
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "{} exited with {status} before serving:\n{}",
                    self.institution,
                    self.log()
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} not ready after {timeout:?}:\n{}",
                    self.institution,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait()? {
                return Ok(s);
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                bail!("{} did not stop within 30 s", self.institution);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
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

/// Starts the three dev banks with extra environment overrides for each.
pub fn start_federation_with(
    consortium: &Consortium,
    env: &[(&str, &str)],
) -> anyhow::Result<Vec<NodeProcess>> {
    let ports: Vec<u16> = BANKS.iter().map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for (i, bank) in BANKS.iter().enumerate() {
        let mut spec = NodeSpec::new(bank);
        spec.peer_port = ports[i];
        spec.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        spec.peers = BANKS
            .iter()
            .zip(&ports)
            .filter(|(b, _)| *b != bank)
            .map(|(b, p)| (b.to_string(), *p))
            .collect();
        nodes.push(NodeProcess::start(consortium, &spec)?);
    }
    Ok(nodes)
}
