//! One running node process: configured, spawned with its output appended
//! to its log, ready once it has written its ready file; stopped with
//! SIGTERM (or killed with SIGKILL, and on drop).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{NodeProgram, NodeSpec, Site};
use crate::commands::node::{InitArgs, build_config, write_config};

/// How long a node may take to serve, or to stop.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running node process.
#[derive(Debug)]
pub struct NodeProcess {
    pub institution: String,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub peer_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The plain-HTTP metrics and probe listener, once serving.
    pub metrics_addr: Option<SocketAddr>,
    program: NodeProgram,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl NodeProcess {
    /// Writes the node's config (as `credshare node init` does) and starts it.
    pub fn start(site: &impl AsRef<Site>, spec: &NodeSpec) -> anyhow::Result<Self> {
        let site = site.as_ref();
        let work = site.work_root.join(format!("node-{}", spec.institution));
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let peer_listen: SocketAddr = format!("127.0.0.1:{}", spec.peer_port).parse()?;
        let generation = key_generation(&spec.env);
        let oprf = generation >= 2;
        let init = InitArgs {
            institution: spec.institution.clone(),
            certs: site.certs_root.join(&spec.institution),
            data: work.join("data"),
            listen: peer_listen,
            admin_listen: "127.0.0.1:0".parse()?,
            metrics_listen: None,
            log_origin: None,
            secret: (!oprf).then(|| site.secret.clone()),
            key_generation: generation,
            crl: Vec::new(),
            peers: spec
                .peers
                .iter()
                .map(|(institution, port)| format!("{institution}=127.0.0.1:{port}"))
                .collect(),
            ready_file: Some(work.join("ready.json")),
            out: work.join("node.toml"),
        };
        write_config(&build_config(&init)?, &init.out)?;
        let mut node = Self {
            institution: spec.institution.clone(),
            config: init.out,
            data_dir: init.data,
            log_file: work.join("node.log"),
            peer_addr: peer_listen,
            admin_addr: init.admin_listen,
            metrics_addr: None,
            program: site.program.clone(),
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
            .open(&self.log_file)
            .with_context(|| format!("cannot open {}", self.log_file.display()))?;
        let child = Command::new(&self.program.program)
            .args(&self.program.args)
            .arg("--config")
            .arg(&self.config)
            // As the deploy image and the systemd unit run nodes: four glibc
            // malloc arenas (the default, 8 per core, about doubles RSS under
            // load); a value the caller sets wins.
            .env(
                "MALLOC_ARENA_MAX",
                std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "4".into()),
            )
            .envs(env.iter().cloned())
            .envs(self.program.env.iter().cloned())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.program.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(self.ready_file()) {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                self.peer_addr = v["peer"].as_str().context("peer")?.parse()?;
                self.admin_addr = v["admin"].as_str().context("admin")?.parse()?;
                self.metrics_addr = v["metrics"].as_str().map(str::parse).transpose()?;
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
            if start.elapsed() > PATIENCE {
                bail!(
                    "{} not ready after {PATIENCE:?}:\n{}",
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
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
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
            if start.elapsed() > PATIENCE {
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

/// The borrower key generation a spec's `CREDSHARE_BORROWER_KEYS__GENERATION`
/// override names (1 without one): with 2+ the config names no
/// consortium secret.
fn key_generation(env: &[(String, String)]) -> u32 {
    env.iter()
        .find(|(k, _)| k == "CREDSHARE_BORROWER_KEYS__GENERATION")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1)
}
