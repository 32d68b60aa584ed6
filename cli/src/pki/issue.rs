//! Issuing role certificates, and the development consortium.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use credshare_node::pki::{self, Identity, InstitutionId, Officer, Role};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose, SanType};
use time::{Date, Duration, OffsetDateTime};

use super::ca::{self, CLOCK_SKEW};
use super::files;
use super::keys::{self, KeyType};

/// id-kp-documentSigning (RFC 9336), the signer certificates' only EKU.
pub const EKU_DOCUMENT_SIGNING: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 3, 36];

/// Default validity of TLS (node, admin, regulator) certificates, in days.
pub const DEFAULT_TLS_DAYS: u32 = 365;
/// Default validity of signer certificates, in days.
pub const DEFAULT_SIGNER_DAYS: u32 = 730;

/// What to issue. Validity is `days` from now, or the explicit dates, or
/// the role's default.
#[derive(Debug, Clone)]
pub struct IssueParams {
    pub ca_dir: PathBuf,
    pub role: Role,
    pub institution: InstitutionId,
    /// Extra DNS SANs (node certificates).
    pub dns_names: Vec<String>,
    /// Extra IP SANs (node certificates).
    pub ip_addresses: Vec<IpAddr>,
    pub days: Option<u32>,
    pub not_before: Option<Date>,
    pub not_after: Option<Date>,
    /// The key's type; `None` is the role's default (P-256, signer
    /// Ed25519). A signer refuses P-256.
    pub key_type: Option<KeyType>,
    /// Officer id (admin certificates only): adds
    /// `urn:credshare:officer:<institution>:<id>`.
    pub officer: Option<String>,
    pub out_dir: PathBuf,
}

impl IssueParams {
    /// Parameters with no extra SANs and the role's default validity.
    pub fn new(ca_dir: &Path, role: Role, institution: InstitutionId, out_dir: &Path) -> Self {
        Self {
            ca_dir: ca_dir.to_owned(),
            role,
            institution,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            days: None,
            not_before: None,
            not_after: None,
            key_type: None,
            officer: None,
            out_dir: out_dir.to_owned(),
        }
    }
}

/// What `issue` wrote.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub identity: Identity,
    /// The officer an admin certificate names.
    pub officer: Option<Officer>,
    /// Hex serial.
    pub serial: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub ca_cert_path: PathBuf,
    pub key_type: KeyType,
    pub not_after: OffsetDateTime,
    /// SHA-256 fingerprint of the certificate DER.
    pub fingerprint: String,
}

impl fmt::Display for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let officer = self
            .officer
            .as_ref()
            .map(|o| format!(" for officer {}", o.id()))
            .unwrap_or_default();
        write!(
            f,
            "issued {}{officer} ({} key, serial {}, valid until {}) -> {}, {}; CA certificate -> {}; sha256 {}",
            self.identity.to_uri(),
            self.key_type.description(),
            self.serial,
            crate::dates::time(self.not_after.unix_timestamp().saturating_mul(1000)),
            self.cert_path.display(),
            self.key_path.display(),
            self.ca_cert_path.display(),
            self.fingerprint,
        )
    }
}

/// Key usages and extended key usages of each role (certs/README.md).
fn profile(role: Role) -> (Vec<KeyUsagePurpose>, Vec<ExtendedKeyUsagePurpose>) {
    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    use KeyUsagePurpose::{ContentCommitment, DigitalSignature};
    match role {
        Role::Node => (vec![DigitalSignature], vec![ServerAuth, ClientAuth]),
        Role::Admin | Role::Regulator => (vec![DigitalSignature], vec![ClientAuth]),
        // Only documentSigning: TLS stacks require serverAuth/clientAuth
        // when an EKU is present, so a signer certificate cannot do TLS.
        Role::Signer | Role::Operator => (
            vec![DigitalSignature, ContentCommitment],
            vec![ExtendedKeyUsagePurpose::Other(
                EKU_DOCUMENT_SIGNING.to_vec(),
            )],
        ),
    }
}

/// The key type of a certificate for `role`: signers are always Ed25519
/// (the node signs envelopes and checkpoints with Ed25519 only), every
/// other role takes `requested` or P-256.
fn key_type_for(role: Role, requested: Option<KeyType>) -> anyhow::Result<KeyType> {
    match (role, requested) {
        (role, Some(KeyType::P256)) if role.signs_documents() => bail!(
            "--key-type p256: {role} keys are always Ed25519 (DSSE envelopes and log \
             checkpoints are Ed25519 signatures); leave --key-type out for {role}s"
        ),
        (role, _) if role.signs_documents() => Ok(KeyType::Ed25519),
        (_, requested) => Ok(requested.unwrap_or_default()),
    }
}

/// Issues OUT/<role>.crt and OUT/<role>.key (0600, PKCS#8 v1 PEM) signed by
/// the CA in `ca_dir`, and copies the CA certificate to OUT/ca.crt. From an
/// intermediate CA, `<role>.crt` is the chain (leaf, intermediate) and
/// `ca.crt` the bundle (intermediate, root). Refuses to overwrite an
/// existing certificate or key.
pub fn issue(params: &IssueParams) -> anyhow::Result<IssuedCertificate> {
    let role = params.role;
    if role.signs_documents() && !(params.dns_names.is_empty() && params.ip_addresses.is_empty()) {
        bail!("--dns/--ip: {role} certificates are not used for TLS and take no host names");
    }
    let key_type = key_type_for(role, params.key_type)?;
    let officer = officer_for(role, &params.institution, params.officer.as_deref())?;
    let cert_path = params.out_dir.join(format!("{role}.crt"));
    let key_path = params.out_dir.join(format!("{role}.key"));
    files::refuse_existing(&cert_path)?;
    files::refuse_existing(&key_path)?;
    let ca = ca::load_ca(&params.ca_dir)?;
    let (not_before, not_after) = validity(params, ca.not_after)?;

    let identity = Identity::new(role, params.institution.clone());
    let serial = ca::random_serial()?;
    let mut cert_params = certificate_params(&identity, officer.as_ref(), params)?;
    cert_params.serial_number = Some(serial.clone());
    (cert_params.not_before, cert_params.not_after) = (not_before, not_after);

    let key = keys::generate(key_type)?;
    let key_pem = keys::private_key_pem(&key)?;
    let cert = cert_params
        .signed_by(&key, &ca.issuer)
        .context("signing the certificate")?;

    files::create_dir(&params.out_dir)?;
    files::write_private_key(&key_path, &key_pem)?;
    let ca_pem = files::read_text(&ca::CaPaths::new(&params.ca_dir).cert)?;
    // An intermediate CA's ca.crt is a bundle: then the certificate file is
    // the chain, leaf then the intermediate, as TLS presents it.
    let mut cert_pem = cert.pem();
    if ca_pem.matches("-----BEGIN CERTIFICATE-----").count() > 1 {
        cert_pem.push_str(&keys::pem("CERTIFICATE", &ca.cert));
    }
    files::write_public(&cert_path, cert_pem.as_bytes())?;
    let ca_cert_path = params.out_dir.join("ca.crt");
    files::write_public(&ca_cert_path, ca_pem.as_bytes())?;
    Ok(IssuedCertificate {
        identity,
        officer,
        serial: hex::encode(serial.as_ref()),
        cert_path,
        key_path,
        ca_cert_path,
        key_type,
        not_after,
        fingerprint: pki::fingerprint(cert.der()),
    })
}

/// Names, SANs and the key usages of `identity`'s role; serial and
/// validity are the caller's.
fn certificate_params(
    identity: &Identity,
    officer: Option<&Officer>,
    params: &IssueParams,
) -> anyhow::Result<CertificateParams> {
    let role = identity.role;
    let id = identity.institution.as_str();
    let mut cert_params = CertificateParams::default();
    cert_params.distinguished_name = rcgen::DistinguishedName::new();
    cert_params
        .distinguished_name
        .push(DnType::CommonName, format!("{role} {id}"));
    cert_params
        .distinguished_name
        .push(DnType::OrganizationName, id);
    cert_params.subject_alt_names = subject_alt_names(identity, officer, params)?;
    (cert_params.key_usages, cert_params.extended_key_usages) = profile(role);
    cert_params.use_authority_key_identifier_extension = true;
    Ok(cert_params)
}

/// The officer of an admin certificate; other roles name none.
fn officer_for(
    role: Role,
    institution: &InstitutionId,
    officer: Option<&str>,
) -> anyhow::Result<Option<Officer>> {
    match officer {
        None => Ok(None),
        Some(_) if role != Role::Admin => {
            bail!("--officer: only admin certificates name an officer")
        }
        Some(id) => Ok(Some(
            Officer::new(institution.clone(), id).map_err(|e| anyhow::anyhow!("--officer: {e}"))?,
        )),
    }
}

fn subject_alt_names(
    identity: &Identity,
    officer: Option<&Officer>,
    params: &IssueParams,
) -> anyhow::Result<Vec<SanType>> {
    let uri = identity
        .to_uri()
        .try_into()
        .context("identity URI is not ASCII")?;
    let mut sans = vec![SanType::URI(uri)];
    if let Some(officer) = officer {
        let uri = officer
            .to_uri()
            .try_into()
            .context("officer URI is not ASCII")?;
        sans.push(SanType::URI(uri));
    }
    for name in &params.dns_names {
        let dns = name
            .clone()
            .try_into()
            .map_err(|_| anyhow::anyhow!("--dns {name:?}: not a valid DNS name"))?;
        sans.push(SanType::DnsName(dns));
    }
    sans.extend(params.ip_addresses.iter().copied().map(SanType::IpAddress));
    Ok(sans)
}

/// Resolves the validity window and checks it fits inside the CA's.
fn validity(
    params: &IssueParams,
    ca_not_after: OffsetDateTime,
) -> anyhow::Result<(OffsetDateTime, OffsetDateTime)> {
    let (not_before, not_after) = match (params.not_before, params.not_after) {
        (Some(from), Some(until)) => (from.midnight().assume_utc(), until.midnight().assume_utc()),
        (None, None) => {
            let default = match params.role {
                Role::Signer | Role::Operator => DEFAULT_SIGNER_DAYS,
                _ => DEFAULT_TLS_DAYS,
            };
            let days = params.days.unwrap_or(default);
            let start = OffsetDateTime::now_utc() - CLOCK_SKEW;
            (start, start + Duration::days(i64::from(days)))
        }
        _ => bail!("--not-before and --not-after go together"),
    };
    if not_after <= not_before {
        bail!("--not-after must be later than --not-before");
    }
    if not_after > ca_not_after {
        bail!(
            "the certificate would outlive the CA certificate (valid until {}); shorten it",
            ca_not_after.date()
        );
    }
    Ok((not_before, not_after))
}

/// Institutions of the development consortium.
pub const DEV_BANKS: [&str; 3] = ["BANK-A", "BANK-B", "BANK-C"];
/// The officer every development admin certificate names.
pub const DEV_OFFICER: &str = "OFFICER-1";
/// The development regulator.
pub const DEV_REGULATOR: &str = "REG-1";

/// [`dev_consortium_with_key_type`] with P-256 TLS keys (the default).
pub fn dev_consortium(dir: &Path) -> anyhow::Result<()> {
    dev_consortium_with_key_type(dir, KeyType::default())
}

/// Makes a development consortium under `dir`: `dir/ca` (the CA and CRL),
/// `dir/<BANK>/{node,admin,signer}.{crt,key}` for BANK-A, BANK-B and BANK-C
/// (node certificates also name `localhost` and `127.0.0.1`, admin
/// certificates officer [`DEV_OFFICER`]), and
/// `dir/REG-1/regulator.{crt,key}`; every directory gets `ca.crt`. The CA,
/// node, admin and regulator keys are `key_type`; signer keys are Ed25519.
pub fn dev_consortium_with_key_type(dir: &Path, key_type: KeyType) -> anyhow::Result<()> {
    let ca_dir = dir.join("ca");
    ca::init_ca(
        &ca_dir,
        "credshare development consortium CA",
        super::DEFAULT_CA_DAYS,
        key_type,
    )?;
    for bank in DEV_BANKS {
        let institution = InstitutionId::parse(bank)?;
        for role in [Role::Node, Role::Admin, Role::Signer] {
            let mut params = IssueParams::new(&ca_dir, role, institution.clone(), &dir.join(bank));
            if role != Role::Signer {
                params.key_type = Some(key_type);
            }
            if role == Role::Admin {
                params.officer = Some(DEV_OFFICER.into());
            }
            if role == Role::Node {
                params.dns_names = vec!["localhost".into()];
                params.ip_addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
            }
            issue(&params)?;
        }
    }
    let regulator = InstitutionId::parse(DEV_REGULATOR)?;
    let mut params = IssueParams::new(
        &ca_dir,
        Role::Regulator,
        regulator,
        &dir.join(DEV_REGULATOR),
    );
    params.key_type = Some(key_type);
    issue(&params)?;
    Ok(())
}
