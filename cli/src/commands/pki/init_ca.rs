//! `credshare pki init-ca`: a new consortium CA with an empty CRL.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::{DEFAULT_CA_DAYS, KeyType, init_ca};

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
}

impl InitCaArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        init_ca(&self.dir, &self.name, self.days, self.key_type)?;
        let value = json!({"ca": self.name, "dir": self.dir, "key_type": self.key_type});
        out.print(&value, || {
            format!(
                "created CA {:?} ({} key) in {}\n",
                self.name,
                self.key_type.description(),
                self.dir.display()
            )
        });
        Ok(())
    }
}
