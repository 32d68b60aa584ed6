//! `credshare pki issue`: a certificate and key for a role of an
//! institution, signed by the consortium CA.

use std::net::IpAddr;
use std::path::PathBuf;

use credshare_node::pki::{InstitutionId, Role};
use serde_json::json;

use crate::output::Output;
use crate::pki::{IssueParams, KeyType, issue};

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
    /// Key type [default: p256]. ed25519 only where every member's TLS stack
    /// supports it (BoringSSL-based gRPC stacks do not). Signer keys are
    /// always Ed25519: p256 is refused for them.
    #[arg(long, value_enum)]
    pub key_type: Option<KeyType>,
    /// Officer id for an admin certificate (adds the SAN URI
    /// urn:credshare:officer:<institution>:<id>); every action over the
    /// certificate is logged with it (Regulation art. 22).
    #[arg(long, value_name = "ID")]
    pub officer: Option<String>,
    /// Output directory: <role>.crt, <role>.key and ca.crt are written here.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// A consortium role, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Node,
    Admin,
    Regulator,
    Signer,
    /// The consortium operator: signs the membership manifest
    /// (`--institution` is the operator's id).
    Operator,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Node => Role::Node,
            RoleArg::Admin => Role::Admin,
            RoleArg::Regulator => Role::Regulator,
            RoleArg::Signer => Role::Signer,
            RoleArg::Operator => Role::Operator,
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

impl IssueArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let mut params = IssueParams::new(
            &self.ca_dir,
            self.role.into(),
            self.institution.clone(),
            &self.out,
        );
        params.dns_names.clone_from(&self.dns_names);
        params.ip_addresses.clone_from(&self.ip_addresses);
        (params.days, params.not_before, params.not_after) =
            (self.days, self.not_before, self.not_after);
        params.key_type = self.key_type;
        params.officer.clone_from(&self.officer);
        let issued = issue(&params)?;
        let value = json!({
            "identity": issued.identity.to_uri(),
            "officer": issued.officer.as_ref().map(|o| o.to_uri()),
            "serial": issued.serial,
            "certificate": issued.cert_path,
            "key": issued.key_path,
            "ca_certificate": issued.ca_cert_path,
            "key_type": issued.key_type,
            "not_after": issued.not_after.date().to_string(),
            "fingerprint_sha256": issued.fingerprint,
        });
        out.print(&value, || format!("{issued}\n"));
        Ok(())
    }
}
