//! The one way a command reaches a node: [`ConnectionArgs`] (flags,
//! `CREDSHARE_*` variables or a profile file, in that order of precedence)
//! resolve to a [`Resolved`] connection, which hands out mTLS clients, the
//! consortium secret and how borrower keys are derived (the key generation
//! and, for OPRF generations, the key service). No command builds a
//! channel or reads the secret by hand; ids become keys in
//! [`crate::commands::borrower_keys`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use credshare_node::domain::borrower::{ConsortiumSecret, KeyGeneration};
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
    /// Consortium secret file, for hashing borrower ids before they leave
    /// this machine (borrower key generation 1).
    #[arg(long, env = "CREDSHARE_SECRET")]
    pub secret: Option<PathBuf>,
    /// The borrower key generation your node serves: 1 = HMAC under the
    /// consortium secret (default), 2+ = OPRF pseudonyms computed by
    /// blinded evaluation at the key service.
    #[arg(long, value_name = "N", env = "CREDSHARE_KEY_GENERATION")]
    pub key_generation: Option<u32>,
    /// Generation 2+: the discovery service that evaluates borrower keys
    /// (blinded; it never sees an id), HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", env = "CREDSHARE_KEY_SERVICE")]
    pub key_service: Option<String>,
    /// Generation 2+: the key service's published public key (hex); every
    /// evaluation's proof must verify against it.
    #[arg(long, value_name = "HEX", env = "CREDSHARE_KEY_SERVICE_PUBLIC_KEY")]
    pub key_service_public_key: Option<String>,
    /// Generation 2+ with the stage-2 threshold key: a custodian's
    /// discovery listener; give two (the variable: comma-separated).
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "CREDSHARE_KEY_CUSTODIANS",
        value_delimiter = ','
    )]
    pub key_custodian: Vec<String>,
    /// Profile file with defaults for the options above.
    #[arg(long, env = "CREDSHARE_PROFILE")]
    pub profile: Option<PathBuf>,
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
    pub key_generation: Option<u32>,
    pub key_service: Option<String>,
    pub key_service_public_key: Option<String>,
    #[serde(default)]
    pub key_custodians: Vec<String>,
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
    /// How borrower ids become keys here.
    pub keys: KeySource,
}

/// Where borrower keys come from: the generation the node serves and, for
/// an OPRF generation, the key service (and stage-2 custodians).
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    pub generation: KeyGeneration,
    pub service: Option<String>,
    pub public_key: Option<String>,
    pub custodians: Vec<String>,
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
        let keys = self.key_source(&p)?;
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
            keys,
        })
    }

    /// The key generation and key service: flags (or variables), then
    /// the profile; generation 1 by default.
    fn key_source(&self, p: &Profile) -> anyhow::Result<KeySource> {
        let generation = self
            .key_generation
            .or(p.key_generation)
            .map(KeyGeneration::try_from)
            .transpose()
            .map_err(|e| anyhow!("--key-generation: {e}"))?
            .unwrap_or_default();
        Ok(KeySource {
            generation,
            service: self.key_service.clone().or(p.key_service.clone()),
            public_key: (self.key_service_public_key.clone()).or(p.key_service_public_key.clone()),
            custodians: if self.key_custodian.is_empty() {
                p.key_custodians.clone()
            } else {
                self.key_custodian.clone()
            },
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
            keys: KeySource::default(),
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
