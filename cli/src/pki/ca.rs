//! The consortium CA: creation, loading, revocation and the CRL.
//!
//! A CA directory holds `ca.key` (0600), `ca.crt`, `ca.crl` and
//! `ca-state.json` — the next CRL number and every revoked serial. The state
//! file is the source of truth; `ca.crl` is re-derived from it on every change.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::files;
use super::keys::{self, KeyType};

/// How long a CRL is valid; re-issue (`pki crl`) well before.
/// Re-signed weekly, so a missed week still leaves a week before nodes
/// refuse (they warn from `tls.crl_warn_days`, 7, before).
const CRL_VALIDITY: Duration = Duration::days(14);
/// Back-dating of `notBefore`/`thisUpdate`, so slightly slow clocks accept
/// fresh material.
pub(super) const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Paths of the files in a CA directory.
pub(super) struct CaPaths {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub crl: PathBuf,
    pub state: PathBuf,
}

impl CaPaths {
    pub fn new(dir: &Path) -> Self {
        Self {
            key: dir.join("ca.key"),
            cert: dir.join("ca.crt"),
            crl: dir.join("ca.crl"),
            state: dir.join("ca-state.json"),
        }
    }
}

/// Why a certificate is revoked (RFC 5280 §5.3.1 reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    #[value(name = "unspecified")]
    Unspecified,
    #[value(name = "keyCompromise")]
    KeyCompromise,
    #[value(name = "caCompromise")]
    CaCompromise,
    #[value(name = "affiliationChanged")]
    AffiliationChanged,
    #[value(name = "superseded")]
    Superseded,
    #[value(name = "cessationOfOperation")]
    CessationOfOperation,
    #[value(name = "privilegeWithdrawn")]
    PrivilegeWithdrawn,
}

impl RevocationReason {
    fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            Self::Unspecified => rcgen::RevocationReason::Unspecified,
            Self::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Self::CaCompromise => rcgen::RevocationReason::CaCompromise,
            Self::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Self::Superseded => rcgen::RevocationReason::Superseded,
            Self::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
            Self::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
        }
    }
}

/// `ca-state.json`.
#[derive(Debug, Serialize, Deserialize)]
struct CaState {
    next_crl_number: u64,
    revoked: Vec<RevokedEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RevokedEntry {
    /// Lower-case hex of the serial's DER content octets.
    serial: String,
    revoked_at_unix: i64,
    reason: RevocationReason,
    subject: String,
}

/// The CA key and certificate, ready to sign.
pub(super) struct LoadedCa {
    pub issuer: Issuer<'static, KeyPair>,
    pub cert: CertificateDer<'static>,
    pub not_after: OffsetDateTime,
    /// The CA key's type, which is also how it signs.
    pub key_type: KeyType,
}

/// What `revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeOutcome {
    /// Hex serial of the revoked certificate.
    pub serial: String,
    pub subject: String,
    /// True when the serial was revoked already (the CRL is re-issued anyway).
    pub already_revoked: bool,
    /// Number of the CRL now in `ca.crl`.
    pub crl_number: u64,
}

impl fmt::Display for RevokeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.already_revoked {
            "was already revoked"
        } else {
            "revoked"
        };
        write!(
            f,
            "{} (serial {}) {what}; issued CRL number {}",
            self.subject, self.serial, self.crl_number
        )
    }
}

/// A fresh random serial: 16 bytes, positive, fixed length (RFC 5280 asks
/// for at least 64 bits of unpredictability; CA/B Forum for 64 random bits).
pub(super) fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("system random number generator failed"))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Creates a root CA in `dir`: a `key_type` key, self-signed certificate
/// (CA:true, pathlen 1 — one level of intermediate CAs below it,
/// keyCertSign + cRLSign) valid for `days`, an empty CRL number 1. The CA
/// signs certificates and CRLs with its key's algorithm (P-256:
/// ecdsa-with-SHA256). Refuses to touch a directory that already holds any
/// CA file.
pub fn init_ca(dir: &Path, name: &str, days: u32, key_type: KeyType) -> anyhow::Result<()> {
    let paths = new_ca_paths(dir, name)?;
    let params = ca_params(name, 1, OffsetDateTime::now_utc() - CLOCK_SKEW, days)?;
    let key = keys::generate(key_type).context("the CA key")?;
    let key_pem = keys::private_key_pem(&key)?;
    let ca = CertifiedIssuer::self_signed(params, key).context("signing the CA certificate")?;
    // The key first: its exclusive create is what stops two concurrent runs.
    files::write_private_key(&paths.key, &key_pem)?;
    files::write_public(&paths.cert, ca.pem().as_bytes())?;
    first_crl(&ca, &paths)
}

/// Creates an intermediate CA in `dir`, signed by the CA in `parent_dir`
/// (pathlen 0: it issues only end-entity certificates), valid for `days`
/// but never beyond its parent. Its `ca.crt` is a bundle: the intermediate
/// first (the certificate it signs with), then its parent's `ca.crt`, so
/// everyone it issues to gets the whole chain to the root.
pub fn init_intermediate_ca(
    dir: &Path,
    name: &str,
    days: u32,
    key_type: KeyType,
    parent_dir: &Path,
) -> anyhow::Result<()> {
    let paths = new_ca_paths(dir, name)?;
    let parent = load_ca(parent_dir)?;
    let mut params = ca_params(name, 0, OffsetDateTime::now_utc() - CLOCK_SKEW, days)?;
    params.not_after = params.not_after.min(parent.not_after);
    params.use_authority_key_identifier_extension = true;
    let key = keys::generate(key_type).context("the intermediate CA key")?;
    let key_pem = keys::private_key_pem(&key)?;
    let cert = params
        .signed_by(&key, &parent.issuer)
        .context("signing the intermediate CA certificate")?;
    let parent_bundle = files::read_text(&CaPaths::new(parent_dir).cert)?;
    files::write_private_key(&paths.key, &key_pem)?;
    files::write_public(
        &paths.cert,
        format!("{}{parent_bundle}", cert.pem()).as_bytes(),
    )?;
    let ca = Issuer::from_ca_cert_der(cert.der(), key)
        .map_err(|e| anyhow::anyhow!("the intermediate CA certificate: {e}"))?;
    first_crl(&ca, &paths)
}

/// The paths of a new CA in `dir`, refusing any existing CA file.
fn new_ca_paths(dir: &Path, name: &str) -> anyhow::Result<CaPaths> {
    if name.trim().is_empty() {
        bail!("--name: the CA needs a name");
    }
    let paths = CaPaths::new(dir);
    for path in [&paths.key, &paths.cert, &paths.crl, &paths.state] {
        files::refuse_existing(path)?;
    }
    files::create_dir(dir)?;
    Ok(paths)
}

/// A CA certificate's parameters: `pathlen` CA levels may follow it.
fn ca_params(
    name: &str,
    pathlen: u8,
    not_before: OffsetDateTime,
    days: u32,
) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(pathlen));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_before + Duration::days(i64::from(days));
    Ok(params)
}

/// The empty CRL number 1 of a new CA.
fn first_crl(ca: &Issuer<'_, KeyPair>, paths: &CaPaths) -> anyhow::Result<()> {
    let mut state = CaState {
        next_crl_number: 1,
        revoked: Vec::new(),
    };
    write_crl(ca, paths, &mut state, None)?;
    Ok(())
}

/// Loads the CA of `dir`, checking that key and certificate belong together.
pub(super) fn load_ca(dir: &Path) -> anyhow::Result<LoadedCa> {
    let paths = CaPaths::new(dir);
    // P-256 or Ed25519, PKCS#8 v1 or (CAs made before v1 files) v2.
    let (key, key_type) = keys::load(&paths.key)?;
    let cert = files::read_certificate(&paths.cert)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert)
        .map_err(|e| anyhow::anyhow!("{}: {e}", paths.cert.display()))?;
    if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        bail!(
            "{} does not belong to {}",
            paths.key.display(),
            paths.cert.display()
        );
    }
    let not_after = parsed.validity().not_after.to_datetime();
    let issuer = Issuer::from_ca_cert_der(&cert, key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", paths.cert.display()))?;
    Ok(LoadedCa {
        issuer,
        cert,
        not_after,
        key_type,
    })
}

/// Revokes the certificate in `cert_path` (which this CA must have issued)
/// and re-issues the CRL with the next CRL number.
pub fn revoke(
    ca_dir: &Path,
    cert_path: &Path,
    reason: RevocationReason,
) -> anyhow::Result<RevokeOutcome> {
    let ca = load_ca(ca_dir)?;
    let cert = files::read_certificate(cert_path)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert_path.display()))?;
    if !issued_by(&parsed, &ca.cert, ca.key_type) {
        bail!(
            "{} was not issued by the CA in {}",
            cert_path.display(),
            ca_dir.display()
        );
    }
    let serial = hex::encode(parsed.raw_serial());
    let subject = parsed.subject().to_string();
    let paths = CaPaths::new(ca_dir);
    let mut state = read_state(&paths)?;
    let already_revoked = state.revoked.iter().any(|r| r.serial == serial);
    if !already_revoked {
        state.revoked.push(RevokedEntry {
            serial: serial.clone(),
            revoked_at_unix: OffsetDateTime::now_utc().unix_timestamp(),
            reason,
            subject: subject.clone(),
        });
    }
    let crl_number = write_crl(&ca.issuer, &paths, &mut state, None)?;
    Ok(RevokeOutcome {
        serial,
        subject,
        already_revoked,
        crl_number,
    })
}

/// Re-issues the CRL (same revocations, next number, fresh next-update).
/// Returns the new CRL number.
/// `next_update` replaces the usual week (a date in the past makes a stale
/// CRL, for drills of what nodes do with one).
pub fn refresh_crl(ca_dir: &Path, next_update: Option<OffsetDateTime>) -> anyhow::Result<u64> {
    let ca = load_ca(ca_dir)?;
    let paths = CaPaths::new(ca_dir);
    let mut state = read_state(&paths)?;
    write_crl(&ca.issuer, &paths, &mut state, next_update)
}

/// True if the CA's key (of `key_type`, which fixes how it signs) signed
/// `cert`.
fn issued_by(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    ca_der: &[u8],
    key_type: KeyType,
) -> bool {
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else {
        return false;
    };
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match key_type {
        KeyType::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
        KeyType::Ed25519 => &ring::signature::ED25519,
    };
    let ca_key = ring::signature::UnparsedPublicKey::new(
        algorithm,
        ca.public_key().subject_public_key.data.as_ref(),
    );
    cert.issuer() == ca.subject()
        && ca_key
            .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
            .is_ok()
}

fn read_state(paths: &CaPaths) -> anyhow::Result<CaState> {
    let text = files::read_text(&paths.state)?;
    serde_json::from_str(&text).with_context(|| format!("{} is corrupt", paths.state.display()))
}

/// Saves the state with the number consumed, then signs and writes the CRL.
/// A crash in between skips a CRL number, which is harmless; reusing one
/// would not be.
fn write_crl(
    issuer: &Issuer<'_, KeyPair>,
    paths: &CaPaths,
    state: &mut CaState,
    next_update: Option<OffsetDateTime>,
) -> anyhow::Result<u64> {
    let number = state.next_crl_number;
    state.next_crl_number += 1;
    let json = serde_json::to_vec_pretty(state).context("encoding CA state")?;
    files::write_public(&paths.state, &json)?;

    let now = OffsetDateTime::now_utc();
    let revoked_certs = state
        .revoked
        .iter()
        .map(|entry| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from(hex::decode(&entry.serial)?),
                revocation_time: OffsetDateTime::from_unix_timestamp(entry.revoked_at_unix)?,
                reason_code: Some(entry.reason.to_rcgen()),
                invalidity_date: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("{} is corrupt", paths.state.display()))?;
    let next_update = next_update.unwrap_or(now + CRL_VALIDITY);
    let params = CertificateRevocationListParams {
        this_update: (now - CLOCK_SKEW).min(next_update - Duration::days(1)),
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(issuer).context("signing the CRL")?;
    let pem = crl.pem().context("encoding the CRL")?;
    files::write_public(&paths.crl, pem.as_bytes())?;
    Ok(number)
}
