//! `credshare node init`: write a working node configuration. Its
//! [`build_config`] is also how [`crate::federation`] configures the nodes
//! it starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use credshare_node::config::{
    BorrowerKeysConfig, ListenConfig, LogConfig, NodeConfig, PeerConfig, SignerConfig, TlsConfig,
};
use credshare_node::domain::borrower::KeyGeneration;
use credshare_node::pki::InstitutionId;
use serde_json::json;

use crate::output::Output;

/// Options of `credshare node init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// This node's institution id, e.g. BANK-A.
    #[arg(long)]
    pub institution: String,
    /// Directory with node.crt, node.key, signer.crt, signer.key and ca.crt.
    #[arg(long)]
    pub certs: PathBuf,
    /// Directory for the node's store.
    #[arg(long)]
    pub data: PathBuf,
    /// Peer listener address (other nodes, regulators).
    #[arg(long, default_value = "127.0.0.1:7443")]
    pub listen: SocketAddr,
    /// Admin listener address (your officers and operators).
    #[arg(long, default_value = "127.0.0.1:7444")]
    pub admin_listen: SocketAddr,
    /// Plain-HTTP metrics and probe listener (`/metrics`, `/livez`,
    /// `/readyz`), or `off` [default: the admin listener's host, its port + 1;
    /// port 0 if the admin port is 0].
    #[arg(long, value_name = "ADDR|off")]
    pub metrics_listen: Option<String>,
    /// The query log's checkpoint origin, e.g.
    /// `credshare.bank-a.example/BANK-A/query-log`: set it once per
    /// institution; it cannot change later [default: a placeholder].
    #[arg(long)]
    pub log_origin: Option<String>,
    /// Consortium secret file [default: <certs>/../consortium.secret with
    /// key generation 1; none with 2+].
    #[arg(long)]
    pub secret: Option<PathBuf>,
    /// Borrower key generation the node serves: 1 = HMAC under the
    /// consortium secret, 2+ = OPRF pseudonyms (no secret needed).
    #[arg(long, default_value_t = 1)]
    pub key_generation: u32,
    /// CRL file(s) to honour [default: <certs>/../ca/ca.crl if present].
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// A peer, as INSTITUTION=HOST:PORT; repeat for each.
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peers: Vec<String>,
    /// Write the bound addresses here as JSON once serving.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Where to write the config.
    #[arg(long)]
    pub out: PathBuf,
}

/// Builds the config `init` writes, checking every file it names.
pub fn build_config(args: &InitArgs) -> anyhow::Result<NodeConfig> {
    let institution = InstitutionId::parse(&args.institution).context("--institution")?;
    let certs = absolute(&args.certs)?;
    let parent = certs.parent().unwrap_or(Path::new("/")).to_path_buf();
    let generation = KeyGeneration::try_from(args.key_generation)
        .map_err(|e| anyhow::anyhow!("--key-generation: {e}"))?;
    let secret = match &args.secret {
        Some(s) => Some(absolute(s)?),
        None if generation.is_oprf() => None,
        None => Some(parent.join("consortium.secret")),
    };
    let crl_files = crl_files(args, &parent)?;
    let peers = peers(&args.peers)?;
    let config = NodeConfig {
        institution,
        data_dir: absolute(&args.data)?,
        consortium_secret_file: secret,
        borrower_keys: BorrowerKeysConfig { generation },
        listen: ListenConfig {
            peer: args.listen,
            admin: args.admin_listen,
            metrics: metrics_listen(args)?,
            ready_file: args.ready_file.as_ref().map(|p| absolute(p)).transpose()?,
        },
        tls: tls_config(&certs, crl_files),
        signer: SignerConfig {
            cert: certs.join("signer.crt"),
            key: certs.join("signer.key"),
        },
        log: LogConfig {
            origin: args.log_origin.clone(),
            ..LogConfig::default()
        },
        storage: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        policy: Default::default(),
        staff: Default::default(),
        oversight: Default::default(),
        retention: Default::default(),
        visits: Default::default(),
        assessment: Default::default(),
        business_time_zone: Default::default(),
        peers,
        membership: Default::default(),
        discovery: None,
        witness: Default::default(),
    };
    config
        .validate()
        .context("the generated config does not validate")?;
    Ok(config)
}

/// TLS from the certificate folder: its CA, node certificate and key.
fn tls_config(certs: &Path, crl_files: Vec<PathBuf>) -> TlsConfig {
    TlsConfig {
        ca_cert: certs.join("ca.crt"),
        crl_files,
        cert: certs.join("node.crt"),
        key: certs.join("node.key"),
        reload_interval_seconds: 5,
        crl_warn_days: 7,
        crl_grace_hours: 0,
    }
}

/// The CRLs given, or `<certs>/../ca/ca.crl` if present.
fn crl_files(args: &InitArgs, parent: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if args.crl.is_empty() {
        let default = parent.join("ca/ca.crl");
        return Ok(if default.is_file() {
            vec![default]
        } else {
            Vec::new()
        });
    }
    args.crl.iter().map(|c| absolute(c)).collect()
}

/// `INSTITUTION=HOST:PORT` values of `--peer`.
fn peers(values: &[String]) -> anyhow::Result<Vec<PeerConfig>> {
    let mut peers = Vec::new();
    for p in values {
        let Some((id, addr)) = p.split_once('=') else {
            bail!("--peer {p:?}: expected INSTITUTION=HOST:PORT");
        };
        peers.push(PeerConfig {
            institution: InstitutionId::parse(id).with_context(|| format!("--peer {p:?}"))?,
            address: addr.to_owned(),
            server_name: None,
        });
    }
    Ok(peers)
}

/// `--metrics-listen`, or next to the admin listener.
fn metrics_listen(args: &InitArgs) -> anyhow::Result<Option<SocketAddr>> {
    match args.metrics_listen.as_deref() {
        Some("off") => Ok(None),
        Some(addr) => Ok(Some(addr.parse().context("--metrics-listen")?)),
        None => {
            let mut addr = args.admin_listen;
            addr.set_port(match addr.port() {
                0 => 0,
                p => p
                    .checked_add(1)
                    .context("--admin-listen port 65535: set --metrics-listen")?,
            });
            Ok(Some(addr))
        }
    }
}

impl InitArgs {
    /// `credshare node init`.
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let config = build_config(self)?;
        write_config(&config, &self.out)?;
        out.print(&json!({"config": self.out}), || {
            format!(
                "wrote {} (start it with: credshare-node --config {})\n",
                self.out.display(),
                self.out.display()
            )
        });
        Ok(())
    }
}

/// Writes a config as TOML.
pub fn write_config(config: &NodeConfig, out: &Path) -> anyhow::Result<()> {
    let text = toml::to_string_pretty(config).context("serializing config")?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(
        out,
        format!("# credshare node configuration (see README)\n{text}"),
    )
    .with_context(|| format!("writing {}", out.display()))
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}
