//! `credshare pki …`: the consortium PKI for development and small
//! deployments — a CA with its CRL, certificates for every role, inspection.
//!
//! Certificate profiles are in `certs/README.md`; identities are SAN URIs
//! `urn:credshare:<role>:<institution>` (DESIGN §2). All keys are Ed25519,
//! stored as PKCS#8 PEM with mode 0600. The operations are plain functions so
//! `credshare demo` and tests reuse them.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use credshare_node::pki::{InstitutionId, Role};

mod ca;
mod files;
mod issue;
mod show;
#[cfg(test)]
mod tests;

// The result types are part of the API `credshare demo` and tests call.
#[allow(unused_imports)]
pub use ca::{RevocationReason, RevokeOutcome, init_ca, refresh_crl, revoke};
#[allow(unused_imports)]
pub use issue::{IssueParams, IssuedCertificate, dev_consortium, issue};
#[allow(unused_imports)]
pub use show::{CertificateReport, describe_certificate};

/// Default validity of the CA certificate, in days.
pub const DEFAULT_CA_DAYS: u32 = 3650;

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
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
    /// What the certificate is for.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Institution id: 2-32 characters of A-Z, 0-9 and '-'.
    #[arg(long, value_name = "ID", value_parser = parse_institution)]
    pub institution: InstitutionId,
    /// DNS name SAN (repeatable), for node certificates.
    #[arg(long = "dns", value_name = "NAME")]
    pub dns_names: Vec<String>,
    /// IP address SAN (repeatable), for node certificates.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip_addresses: Vec<IpAddr>,
    /// Validity in days from now (default: 365, signer 730).
    #[arg(long, conflicts_with = "not_before")]
    pub days: Option<u32>,
    /// First day of validity (YYYY-MM-DD, UTC midnight).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, requires = "not_after")]
    pub not_before: Option<time::Date>,
    /// Day validity ends (YYYY-MM-DD, UTC midnight).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, requires = "not_before")]
    pub not_after: Option<time::Date>,
    /// Output directory: <role>.crt, <role>.key and ca.crt are written here.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
    /// The certificate to revoke (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Why (RFC 5280 reason code).
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: RevocationReason,
}

#[derive(Debug, clap::Args)]
pub struct CrlArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Certificate file (PEM).
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DevConsortiumArgs {
    /// Directory to create (must not hold a CA yet).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// A consortium role, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Node,
    Admin,
    Regulator,
    Signer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Node => Role::Node,
            RoleArg::Admin => Role::Admin,
            RoleArg::Regulator => Role::Regulator,
            RoleArg::Signer => Role::Signer,
        }
    }
}

fn parse_institution(s: &str) -> Result<InstitutionId, String> {
    InstitutionId::parse(s).map_err(|_| "must be 2-32 characters of A-Z, 0-9 and '-'".to_owned())
}

fn parse_date(s: &str) -> Result<time::Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, format).map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// Runs one `credshare pki` command, printing what it did.
pub fn run(command: PkiCommand) -> anyhow::Result<()> {
    match command {
        PkiCommand::InitCa(args) => {
            init_ca(&args.dir, &args.name, args.days)?;
            println!("created CA {:?} in {}", args.name, args.dir.display());
        }
        PkiCommand::Issue(args) => {
            let issued = issue(&IssueParams {
                ca_dir: args.ca_dir,
                role: args.role.into(),
                institution: args.institution,
                dns_names: args.dns_names,
                ip_addresses: args.ip_addresses,
                days: args.days,
                not_before: args.not_before,
                not_after: args.not_after,
                out_dir: args.out,
            })?;
            println!("{issued}");
        }
        PkiCommand::Revoke(args) => {
            let outcome = revoke(&args.ca_dir, &args.cert, args.reason)?;
            println!("{outcome}");
        }
        PkiCommand::Crl(args) => {
            let number = refresh_crl(&args.ca_dir)?;
            println!("issued CRL number {number}");
        }
        PkiCommand::Show(args) => {
            let report = describe_certificate(&args.file)?;
            if args.json {
                let json = serde_json::to_string_pretty(&report).context("encoding JSON")?;
                println!("{json}");
            } else {
                print!("{report}");
            }
        }
        PkiCommand::DevConsortium(args) => {
            dev_consortium(&args.dir)?;
            println!("development consortium PKI in {}", args.dir.display());
        }
    }
    Ok(())
}
