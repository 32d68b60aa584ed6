//! Starting a federation of real node processes on this machine: one
//! starter shared by `credshare demo`, `credshare bench` and the end-to-end
//! tests.
//!
//! A [`Site`] says where the certificates (`<certs_root>/<INSTITUTION>/`),
//! the consortium secret and the nodes' work directories are, and which
//! [`NodeProgram`] runs a node. [`NodeProcess::start`] writes a node's
//! config with the code `credshare node init` uses, spawns the program with
//! its output appended to `node.log`, and waits for the ready file;
//! [`start_federation`] starts several nodes, each peering with the others.

mod process;
mod workspace;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;

pub use process::NodeProcess;
pub use workspace::Workspace;

/// Where a federation's files are, and what runs a node.
#[derive(Debug, Clone)]
pub struct Site {
    /// Holds one certificate directory per institution (`node.crt`,
    /// `signer.crt`, … and `ca.crt`), as `credshare pki dev-consortium`
    /// writes them.
    pub certs_root: PathBuf,
    /// The consortium secret file.
    pub secret: PathBuf,
    /// Each node works in `<work_root>/node-<INSTITUTION>/`: config, store,
    /// ready file, log.
    pub work_root: PathBuf,
    pub program: NodeProgram,
}

impl AsRef<Site> for Site {
    fn as_ref(&self) -> &Site {
        self
    }
}

/// The program that runs a node: `<program> <args…> --config FILE`, with
/// extra environment variables.
#[derive(Debug, Clone)]
pub struct NodeProgram {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

impl NodeProgram {
    /// The `credshare-node` binary (or any program taking `--config FILE`).
    pub fn node_binary(path: PathBuf) -> Self {
        Self {
            program: path,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// This very executable as `credshare node run`.
    pub fn this_cli() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the credshare binary")?;
        Ok(Self {
            program: exe,
            args: vec!["node".into(), "run".into()],
            env: Vec::new(),
        })
    }

    /// Adds an environment variable for every node started.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// How to start one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub institution: String,
    /// Peer listener port on 127.0.0.1 (0: any free port).
    pub peer_port: u16,
    /// (institution, peer port on 127.0.0.1) of the node's peers.
    pub peers: Vec<(String, u16)>,
    /// Extra `CREDSHARE_*` environment overrides.
    pub env: Vec<(String, String)>,
}

impl NodeSpec {
    /// A node with no peers on a free peer port.
    pub fn new(institution: &str) -> Self {
        Self {
            institution: institution.to_owned(),
            // Known before the start, so a restart binds the same port
            // (0 lets the node pick one if no port could be found here).
            peer_port: free_port().unwrap_or(0),
            peers: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// Starts one node per institution, each configured with all the others as
/// peers, with `env` overrides for each.
pub fn start_federation(
    site: &impl AsRef<Site>,
    institutions: &[&str],
    env: &[(String, String)],
) -> anyhow::Result<Vec<NodeProcess>> {
    let ports: Vec<u16> = institutions
        .iter()
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    let mut nodes = Vec::new();
    for (institution, port) in institutions.iter().zip(&ports) {
        let spec = NodeSpec {
            institution: (*institution).to_owned(),
            peer_port: *port,
            peers: institutions
                .iter()
                .zip(&ports)
                .filter(|(other, _)| *other != institution)
                .map(|(other, p)| ((*other).to_owned(), *p))
                .collect(),
            env: env.to_vec(),
        };
        nodes.push(NodeProcess::start(site, &spec)?);
    }
    Ok(nodes)
}

/// Ports handed out by [`free_port`]: below Linux's ephemeral range
/// (32768–60999 by default), so no outgoing connection of ours or anyone
/// else's can take a port between the moment it is picked and the moment a
/// node binds it. (An ephemeral port bound and released, as `bind(:0)`
/// gives, was taken by a client socket in that gap in CI.)
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;

/// A free port on 127.0.0.1 (probed by binding it, then released; peers
/// need to know each other's peer ports before the nodes start). Each call
/// in a process gets a different port, starting from an offset drawn from
/// the process id and the clock so two processes rarely walk the same ports.
pub fn free_port() -> anyhow::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(PORT_RANGE.end - PORT_RANGE.start);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let _ = NEXT.compare_exchange(u32::MAX, seed % span, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let port = PORT_RANGE.start + offset as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port on 127.0.0.1 in {PORT_RANGE:?}")
}
