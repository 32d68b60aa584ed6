//! `credshare pki show`: what a certificate says, for people and scripts.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use credshare_node::pki::{self, Identity};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::files;
use super::keys::KeyType;

/// Everything `show` prints about a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    pub path: String,
    /// `urn:credshare:<role>:<institution>`, if the certificate has one.
    pub identity: Option<String>,
    pub role: Option<String>,
    pub institution: Option<String>,
    pub subject: String,
    pub issuer: String,
    /// Hex serial.
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// The same as Unix milliseconds.
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub is_ca: bool,
    pub key_usages: Vec<String>,
    pub extended_key_usages: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// "ECDSA P-256", "Ed25519", or the algorithm OID of any other key.
    pub public_key_algorithm: String,
    /// The `--key-type` that makes such a key (`p256`, `ed25519`), if any.
    pub key_type: Option<KeyType>,
    /// How the issuer signed the certificate, e.g. "ecdsa-with-SHA256".
    pub signature_algorithm: String,
    /// SHA-256 of the certificate DER (the DSSE key id of signer certs).
    pub fingerprint_sha256: String,
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Reads the first certificate of a PEM file and describes it.
pub fn describe_certificate(path: &Path) -> anyhow::Result<CertificateReport> {
    let der = files::read_certificate(path)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let identity = Identity::from_cert_der(&der).ok();
    let now = OffsetDateTime::now_utc();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let (dns_names, ip_addresses) = host_names(&cert);
    Ok(CertificateReport {
        path: path.display().to_string(),
        identity: identity.as_ref().map(Identity::to_uri),
        role: identity.as_ref().map(|i| i.role.to_string()),
        institution: identity.as_ref().map(|i| i.institution.to_string()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_before: not_before
            .format(&Rfc3339)
            .context("formatting notBefore")?,
        not_after: not_after.format(&Rfc3339).context("formatting notAfter")?,
        not_before_ms: unix_ms(not_before),
        not_after_ms: unix_ms(not_after),
        expired: now >= not_after,
        not_yet_valid: now < not_before,
        is_ca: cert.is_ca(),
        key_usages: key_usages(&cert),
        extended_key_usages: extended_key_usages(&cert),
        dns_names,
        ip_addresses,
        public_key_algorithm: public_key_algorithm(&cert),
        key_type: key_type(&cert),
        signature_algorithm: signature_algorithm(&cert),
        fingerprint_sha256: pki::fingerprint(&der),
    })
}

fn key_usages(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ku)) = cert.key_usage() else {
        return Vec::new();
    };
    let ku = ku.value;
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_owned())
    .collect()
}

fn extended_key_usages(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(eku)) = cert.extended_key_usage() else {
        return Vec::new();
    };
    let eku = eku.value;
    let mut names: Vec<String> = [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_owned())
    .collect();
    names.extend(
        eku.other
            .iter()
            .map(|oid| match oid.to_id_string().as_str() {
                "1.3.6.1.5.5.7.3.36" => "documentSigning".to_owned(),
                other => other.to_owned(),
            }),
    );
    names
}

fn host_names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(host) => dns.push((*host).to_owned()),
                GeneralName::IPAddress(bytes) => ips.push(format_ip(bytes)),
                _ => {}
            }
        }
    }
    (dns, ips)
}

fn format_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        std::net::Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        std::net::Ipv6Addr::from(v6).to_string()
    } else {
        hex::encode(bytes)
    }
}

fn key_type(cert: &X509Certificate<'_>) -> Option<KeyType> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ED25519};
    let algorithm = &cert.public_key().algorithm;
    let curve = algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    if algorithm.algorithm == OID_SIG_ED25519 {
        Some(KeyType::Ed25519)
    } else if algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY && curve == Some(OID_EC_P256) {
        Some(KeyType::P256)
    } else {
        None
    }
}

fn public_key_algorithm(cert: &X509Certificate<'_>) -> String {
    match key_type(cert) {
        Some(key_type) => key_type.description().to_owned(),
        None => cert.public_key().algorithm.algorithm.to_id_string(),
    }
}

fn signature_algorithm(cert: &X509Certificate<'_>) -> String {
    use x509_parser::oid_registry::{
        OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ED25519,
    };
    let oid = &cert.signature_algorithm.algorithm;
    if *oid == OID_SIG_ECDSA_WITH_SHA256 {
        "ecdsa-with-SHA256".to_owned()
    } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
        "ecdsa-with-SHA384".to_owned()
    } else if *oid == OID_SIG_ED25519 {
        "Ed25519".to_owned()
    } else {
        oid.to_id_string()
    }
}

impl fmt::Display for CertificateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let none = || "-".to_owned();
        let list = |items: &[String]| {
            if items.is_empty() {
                none()
            } else {
                items.join(", ")
            }
        };
        let status = match (self.expired, self.not_yet_valid) {
            (true, _) => " (EXPIRED)",
            (_, true) => " (NOT YET VALID)",
            _ => "",
        };
        let key_type_row = match self.key_type {
            Some(key_type) => format!("{} ({key_type})", self.public_key_algorithm),
            None => self.public_key_algorithm.clone(),
        };
        let rows = [
            ("file", self.path.clone()),
            ("identity", self.identity.clone().unwrap_or_else(none)),
            ("role", self.role.clone().unwrap_or_else(none)),
            ("institution", self.institution.clone().unwrap_or_else(none)),
            ("subject", self.subject.clone()),
            ("issuer", self.issuer.clone()),
            ("serial", self.serial.clone()),
            ("not before", crate::dates::time(self.not_before_ms)),
            (
                "not after",
                format!("{}{status}", crate::dates::time(self.not_after_ms)),
            ),
            ("CA", if self.is_ca { "yes" } else { "no" }.to_owned()),
            ("key usage", list(&self.key_usages)),
            ("extended key usage", list(&self.extended_key_usages)),
            ("DNS names", list(&self.dns_names)),
            ("IP addresses", list(&self.ip_addresses)),
            ("key type", key_type_row),
            ("signed with", self.signature_algorithm.clone()),
            ("SHA-256", self.fingerprint_sha256.clone()),
        ];
        for (label, value) in rows {
            writeln!(f, "{label:<20}{value}")?;
        }
        Ok(())
    }
}
