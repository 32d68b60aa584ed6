//! Connecting to a node as an admin (or regulator): which certificate, key,
//! CA and address to use, from flags, `CREDSHARE_*` variables or a profile
//! file, in that order of precedence.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use credshare_node::tls::{self, TlsMaterial};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

/// Connection options shared by every command that talks to a node.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Admin listener of your node, host:port.
    #[arg(long, env = "CREDSHARE_ADMIN_ADDR")]
    pub addr: Option<String>,
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

/// A profile file (TOML): defaults for the connection options.
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
    pub addr: Option<String>,
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
        let need = |v: Option<PathBuf>, flag: &str| {
            v.ok_or_else(|| anyhow!("no {flag} given: pass {flag} or --certs DIR, set CREDSHARE_{}, or use a profile", flag.trim_start_matches("--").to_uppercase()))
        };
        Ok(Resolved {
            addr: self.addr.clone().or(p.addr),
            cert: need(
                self.cert
                    .clone()
                    .or(p.cert)
                    .or_else(|| from_dir("admin.crt")),
                "--cert",
            )?,
            key: need(
                self.key.clone().or(p.key).or_else(|| from_dir("admin.key")),
                "--key",
            )?,
            ca: need(
                self.ca.clone().or(p.ca).or_else(|| from_dir("ca.crt")),
                "--ca",
            )?,
            crl: if self.crl.is_empty() {
                p.crl
            } else {
                self.crl.clone()
            },
            secret: self.secret.clone().or(p.secret),
        })
    }
}

/// An `AdminService` client on the admin listener.
pub type AdminClient = credshare_proto::v1::admin_service_client::AdminServiceClient<Channel>;

impl ConnectionArgs {
    /// Resolves the options and connects to the admin listener.
    pub async fn admin(&self) -> anyhow::Result<(Resolved, AdminClient)> {
        let resolved = self.resolve()?;
        let addr = resolved.admin_addr()?.to_owned();
        let channel = resolved.channel(&addr).await?;
        Ok((resolved, AdminClient::new(channel)))
    }
}

impl Resolved {
    pub fn tls(&self) -> anyhow::Result<TlsMaterial> {
        Ok(TlsMaterial::load(
            &self.ca, &self.crl, &self.cert, &self.key,
        )?)
    }

    /// The admin address, or an error saying how to give it.
    pub fn admin_addr(&self) -> anyhow::Result<&str> {
        self.addr.as_deref().ok_or_else(|| {
            anyhow!(
                "no node address: pass --addr HOST:PORT, set CREDSHARE_ADMIN_ADDR, or use a profile"
            )
        })
    }

    /// Connects to `addr` over mTLS.
    pub async fn channel(&self, addr: &str) -> anyhow::Result<Channel> {
        let tls = self.tls()?;
        tls::connect_channel(
            tls.client_config()?,
            addr,
            None,
            None,
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| {
            anyhow!(crate::output::ConnectError(format!(
                "cannot connect to {addr}: {}",
                error_chain(&e)
            )))
        })
    }
}

/// `error: cause: cause` on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
