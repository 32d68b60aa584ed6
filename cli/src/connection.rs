//! The one way a command reaches a node: [`ConnectionArgs`] (flags,
//! `CREDSHARE_*` variables or a profile file, in that order of precedence)
//! resolve to a [`Resolved`] connection, which hands out mTLS clients, the
//! consortium secret and locally hashed borrower keys. No command builds a
//! channel or reads the secret by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::pki::InstitutionId;
use credshare_node::tls::{self, TlsMaterial};
use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use crate::output::{ExitKind, error_chain};

/// An `AdminService` client on the admin listener.
pub type AdminClient = pb::admin_service_client::AdminServiceClient<Channel>;
/// A `PeerService` client on a peer listener.
pub type PeerClient = pb::peer_service_client::PeerServiceClient<Channel>;
/// An `AuditService` client (peer listener for regulators, admin listener for admins).
pub type AuditClient = pb::audit_service_client::AuditServiceClient<Channel>;

/// Largest audit message accepted (a page of log entries).
const AUDIT_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Connection options shared by every command that talks to a node.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// The node, host:port: your node's admin listener for admin commands,
    /// a peer listener for `node-info` and regulators' `audit`.
    #[arg(
        long = "node",
        alias = "addr",
        alias = "peer",
        value_name = "HOST:PORT",
        env = "CREDSHARE_ADMIN_ADDR"
    )]
    pub node: Option<String>,
    /// Directory holding admin.crt, admin.key and ca.crt (as `credshare pki issue` writes them).
    #[arg(long, env = "CREDSHARE_CERTS")]
    pub certs: Option<PathBuf>,
    /// Client certificate (PEM); overrides --certs.
    #[arg(long, env = "CREDSHARE_CERT")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM, PKCS#8); overrides --certs.
    #[arg(long, env = "CREDSHARE_KEY")]
    pub key: Option<PathBuf>,
    /// Consortium CA certificate (PEM); overrides --certs.
    #[arg(long, env = "CREDSHARE_CA")]
    pub ca: Option<PathBuf>,
    /// Certificate revocation list(s) to honour (PEM).
    #[arg(long, env = "CREDSHARE_CRL")]
    pub crl: Vec<PathBuf>,
    /// Consortium secret file, for hashing borrower ids before they leave this machine.
    #[arg(long, env = "CREDSHARE_SECRET")]
    pub secret: Option<PathBuf>,
    /// Profile file with defaults for the options above.
    #[arg(long, env = "CREDSHARE_PROFILE")]
    pub profile: Option<PathBuf>,
}

/// A borrower at your node: its raw id (hashed locally) and the
/// connection options.
#[derive(Debug, Clone, clap::Args)]
pub struct BorrowerArgs {
    /// Borrower id (hashed locally), e.g. USCC:91350100M000100Y43 or
    /// RID:11010519491231002X.
    #[arg(long)]
    pub id: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl BorrowerArgs {
    /// Connects to your node's admin listener and hashes the id.
    pub async fn connect(&self) -> anyhow::Result<(AdminClient, BorrowerKey)> {
        let resolved = self.conn.resolve()?;
        let client = resolved.admin_client().await?;
        Ok((client, resolved.borrower_key(&self.id)?))
    }
}

/// A profile file (TOML): defaults for the connection options. The node
/// address is the key `addr`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub addr: Option<String>,
    pub certs: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub crl: Vec<PathBuf>,
    pub secret: Option<PathBuf>,
}

/// Connection options after applying the profile.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub node: Option<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub crl: Vec<PathBuf>,
    pub secret: Option<PathBuf>,
}

impl ConnectionArgs {
    fn profile(&self) -> anyhow::Result<Profile> {
        let path = match &self.profile {
            Some(p) => p.clone(),
            None => match std::env::var_os("HOME") {
                Some(home) => Path::new(&home).join(".config/credshare/profile.toml"),
                None => return Ok(Profile::default()),
            },
        };
        if self.profile.is_none() && !path.exists() {
            return Ok(Profile::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading profile {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("profile {}", path.display()))
    }

    /// Merges flags, environment and profile; names what is missing.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let p = self.profile()?;
        let certs = self.certs.clone().or(p.certs);
        let from_dir = |name: &str| certs.as_ref().map(|d| d.join(name));
        let pick = |flag: Option<&PathBuf>, profile: Option<PathBuf>, file: &str, name: &str| {
            let value = flag.cloned().or(profile).or_else(|| from_dir(file));
            value.ok_or_else(|| {
                let var = name.trim_start_matches("--").to_uppercase();
                anyhow!("no {name} given: pass {name} or --certs DIR, set CREDSHARE_{var}, or use a profile")
            })
        };
        Ok(Resolved {
            node: self.node.clone().or(p.addr),
            cert: pick(self.cert.as_ref(), p.cert, "admin.crt", "--cert")?,
            key: pick(self.key.as_ref(), p.key, "admin.key", "--key")?,
            ca: pick(self.ca.as_ref(), p.ca, "ca.crt", "--ca")?,
            crl: if self.crl.is_empty() {
                p.crl
            } else {
                self.crl.clone()
            },
            secret: self.secret.clone().or(p.secret),
        })
    }

    /// [`resolve`](Self::resolve) for a regulator: with `--certs DIR` and no
    /// explicit certificate, the directory's regulator.crt/.key when present,
    /// else its admin.crt/.key.
    pub fn resolve_auditor(&self) -> anyhow::Result<Resolved> {
        let mut conn = self.clone();
        if let Some(dir) = conn.certs.clone()
            && conn.cert.is_none()
            && conn.key.is_none()
            && dir.join("regulator.crt").is_file()
        {
            conn.cert = Some(dir.join("regulator.crt"));
            conn.key = Some(dir.join("regulator.key"));
        }
        conn.resolve()
    }
}

impl Resolved {
    /// The `<role>.crt`/`.key` and `ca.crt` of a directory written by
    /// `credshare pki issue`, for the node at `node`; no CRL.
    pub fn from_certs_dir(dir: &Path, role: &str, node: &str) -> Self {
        Self {
            node: Some(node.to_owned()),
            cert: dir.join(format!("{role}.crt")),
            key: dir.join(format!("{role}.key")),
            ca: dir.join("ca.crt"),
            crl: Vec::new(),
            secret: None,
        }
    }

    pub fn tls(&self) -> anyhow::Result<TlsMaterial> {
        Ok(TlsMaterial::load(
            &self.ca, &self.crl, &self.cert, &self.key,
        )?)
    }

    /// The institution of the client certificate.
    pub fn institution(&self) -> anyhow::Result<InstitutionId> {
        Ok(self.tls()?.identity()?.institution)
    }

    /// The node address, or an error saying how to give it.
    pub fn node_addr(&self) -> anyhow::Result<&str> {
        self.node.as_deref().ok_or_else(|| {
            anyhow!(
                "no node address: pass --node HOST:PORT, set CREDSHARE_ADMIN_ADDR, or use a profile"
            )
        })
    }

    /// Connects to `addr` over mTLS (exit code 5 when it cannot).
    pub async fn channel(&self, addr: &str) -> anyhow::Result<Channel> {
        connect(&self.tls()?, addr).await
    }

    /// An `AdminService` client on the node's admin listener.
    pub async fn admin_client(&self) -> anyhow::Result<AdminClient> {
        let addr = self.node_addr()?;
        Ok(AdminClient::new(self.channel(addr).await?))
    }

    /// A `PeerService` client on the peer listener at `addr`.
    pub async fn peer_client(&self, addr: &str) -> anyhow::Result<PeerClient> {
        Ok(PeerClient::new(self.channel(addr).await?))
    }

    /// An `AuditService` client at `addr`, for whole pages of entries.
    pub async fn audit_client(&self, addr: &str) -> anyhow::Result<AuditClient> {
        let channel = self.channel(addr).await?;
        Ok(AuditClient::new(channel).max_decoding_message_size(AUDIT_MESSAGE_BYTES))
    }

    /// The consortium secret, or an error saying how to give it.
    pub fn secret(&self) -> anyhow::Result<ConsortiumSecret> {
        let path = self.secret.as_ref().ok_or_else(|| {
            anyhow!(
                "no consortium secret: pass --secret FILE, set CREDSHARE_SECRET, or use a profile"
            )
        })?;
        Ok(ConsortiumSecret::from_file(path)?)
    }

    /// Hashes a raw borrower id (`--id`) with the consortium secret; the
    /// raw id never leaves this machine.
    pub fn borrower_key(&self, id: &str) -> anyhow::Result<BorrowerKey> {
        let secret = self.secret()?;
        let id = BorrowerId::parse(id).context("--id")?;
        Ok(BorrowerKey::derive(&secret, &id))
    }
}

/// Connects to `addr` over mTLS with `tls`; a failure is
/// [`ExitKind::Denied`] when the node refused our certificate (a TLS alert
/// or close right after the handshake), else [`ExitKind::Unreachable`].
pub async fn connect(tls: &TlsMaterial, addr: &str) -> anyhow::Result<Channel> {
    tls::connect_channel(
        tls.client_config()?,
        addr,
        None,
        None,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| {
        let text = format!("cannot connect to {addr}: {}", error_chain(&e));
        if refused(&e) {
            anyhow!(ExitKind::Denied(text))
        } else {
            anyhow!(ExitKind::Unreachable(text))
        }
    })
}

/// Whether an io error of kind `PermissionDenied` is among the causes.
fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        cause = c.source();
    }
    false
}
