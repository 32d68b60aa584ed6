//! `credshare pki dev-consortium`: a CA, BANK-A/B/C and regulator REG-1 in
//! one directory, for development and tests.

use std::path::PathBuf;

use serde_json::json;

use crate::output::Output;
use crate::pki::{KeyType, dev_consortium_with_key_type};

#[derive(Debug, clap::Args)]
pub struct DevConsortiumArgs {
    /// Directory to create (must not hold a CA yet).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Key type of the CA, node, admin and regulator certificates (signers
    /// are always Ed25519). ed25519 only where every member's TLS stack
    /// supports it (BoringSSL-based gRPC stacks do not).
    #[arg(long, value_enum, default_value_t = KeyType::P256)]
    pub key_type: KeyType,
}

impl DevConsortiumArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        dev_consortium_with_key_type(&self.dir, self.key_type)?;
        out.print(&json!({"dir": self.dir, "key_type": self.key_type}), || {
            format!(
                "development consortium PKI ({} TLS keys, Ed25519 signers) in {}\n",
                self.key_type.description(),
                self.dir.display()
            )
        });
        Ok(())
    }
}
