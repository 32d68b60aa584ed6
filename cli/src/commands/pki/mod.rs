//! `credshare pki …`: the consortium PKI commands, one file each; the
//! operations themselves are in [`crate::pki`].

mod crl;
mod dev_consortium;
mod init_ca;
mod issue;
mod revoke;
mod show;

use crate::output::Output;

pub use crl::CrlArgs;
pub use dev_consortium::DevConsortiumArgs;
pub use init_ca::InitCaArgs;
pub use issue::{IssueArgs, RoleArg};
pub use revoke::RevokeArgs;
pub use show::ShowArgs;

/// PKI commands.
#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Create a consortium CA: DIR/ca.key, DIR/ca.crt, an empty DIR/ca.crl.
    InitCa(InitCaArgs),
    /// Issue a certificate and key for a role of an institution.
    Issue(IssueArgs),
    /// Revoke a certificate and re-issue the CRL.
    Revoke(RevokeArgs),
    /// Re-sign the CRL with a fresh next-update time (run at least weekly).
    Crl(CrlArgs),
    /// Show a certificate: identity, validity, usages, fingerprint.
    Show(ShowArgs),
    /// Make a development consortium: a CA, BANK-A/B/C and regulator REG-1.
    DevConsortium(DevConsortiumArgs),
}

impl PkiCommand {
    /// Runs one `credshare pki` command, printing what it did.
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        match self {
            PkiCommand::InitCa(args) => args.run(out),
            PkiCommand::Issue(args) => args.run(out),
            PkiCommand::Revoke(args) => args.run(out),
            PkiCommand::Crl(args) => args.run(out),
            PkiCommand::Show(args) => args.run(out),
            PkiCommand::DevConsortium(args) => args.run(out),
        }
    }
}
