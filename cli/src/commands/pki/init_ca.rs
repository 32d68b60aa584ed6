//! `credshare pki init-ca`: a new consortium CA with an empty CRL.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::{DEFAULT_CA_DAYS, KeyType, init_ca, init_intermediate_ca};

#[derive(Debug, clap::Args)]
pub struct InitCaArgs {
    /// Directory for the CA files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA's common name, e.g. "Example Consortium Root CA".
    #[arg(long)]
    pub name: String,
    /// Validity in days.
    #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
    pub days: u32,
    /// CA key type. ed25519 only where every member's TLS stack supports it
    /// (BoringSSL-based gRPC stacks do not).
    #[arg(long, value_enum, default_value_t = KeyType::P256)]
    pub key_type: KeyType,
    /// Make an intermediate CA signed by the CA in `--ca` (a root: roots
    /// allow one level of intermediates). Its ca.crt is the bundle
    /// intermediate + root; it has its own CRL, which nodes must honour
    /// next to the root's.
    #[arg(long, requires = "ca")]
    pub intermediate: bool,
    /// The parent CA's directory, with --intermediate.
    #[arg(long, value_name = "DIR", requires = "intermediate")]
    pub ca: Option<PathBuf>,
}

impl InitCaArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        match &self.ca {
            Some(parent) => {
                init_intermediate_ca(&self.dir, &self.name, self.days, self.key_type, parent)?
            }
            None => init_ca(&self.dir, &self.name, self.days, self.key_type)?,
        }
        let kind = if self.intermediate {
            "intermediate CA"
        } else {
            "CA"
        };
        let value = json!({"ca": self.name, "dir": self.dir, "key_type": self.key_type, "intermediate": self.intermediate, "parent": self.ca});
        out.print(&value, || {
            format!(
                "created {kind} {:?} ({} key) in {}\n",
                self.name,
                self.key_type.description(),
                self.dir.display()
            )
        });
        Ok(())
    }
}
