//! Consortium PKI: identities carried in certificates and the files that hold
//! certificates, keys and CRLs.
//!
//! An identity is the certificate's SAN URI `urn:credshare:<role>:<institution>`
//! (docs/design.md §2); an admin certificate may also name its officer
//! ([`Officer`]). Chain and revocation checks happen in [`crate::tls`] (for
//! connections) and [`crate::signing`] (for signatures); this module only reads.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

mod officer;

pub use officer::{OFFICER_URN_PREFIX, Officer};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// What a certificate may be used for in the consortium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A node's TLS identity: serverAuth + clientAuth; may call `PeerService`.
    Node,
    /// An institution's operator or officer; may call its own `AdminService`.
    Admin,
    /// A regulator; may call `AuditService` on any node.
    Regulator,
    /// An institution's Ed25519 signing key; never used for TLS.
    Signer,
    /// The consortium operator's Ed25519 key that signs the membership
    /// manifest (docs/design.md#membership); never used for TLS.
    Operator,
}

impl Role {
    /// All roles, in declaration order.
    pub const ALL: [Role; 5] = [
        Role::Node,
        Role::Admin,
        Role::Regulator,
        Role::Signer,
        Role::Operator,
    ];

    /// Whether certificates of this role sign documents (Ed25519,
    /// documentSigning) rather than authenticate TLS connections.
    pub fn signs_documents(self) -> bool {
        matches!(self, Role::Signer | Role::Operator)
    }

    /// The role's name as it appears in the SAN URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Admin => "admin",
            Role::Regulator => "regulator",
            Role::Signer => "signer",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| PkiError::BadIdentity(format!("unknown role {s:?}")))
    }
}

/// A validated institution id: `[A-Z0-9-]{2,32}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct InstitutionId(String);

impl InstitutionId {
    /// Parses an institution id, naming what is wrong with a bad one.
    pub fn parse(s: &str) -> Result<Self, PkiError> {
        let ok_len = (2..=32).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if ok_len && ok_chars {
            Ok(Self(s.to_owned()))
        } else {
            Err(PkiError::BadIdentity(format!(
                "institution id {s:?} must be 2-32 characters of A-Z, 0-9 and '-'"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstitutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for InstitutionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        InstitutionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Who a certificate speaks for: `urn:credshare:<role>:<institution>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub role: Role,
    pub institution: InstitutionId,
}

/// URI prefix of every consortium identity.
pub const URN_PREFIX: &str = "urn:credshare:";

impl Identity {
    pub fn new(role: Role, institution: InstitutionId) -> Self {
        Self { role, institution }
    }

    /// The SAN URI form of this identity.
    pub fn to_uri(&self) -> String {
        format!("{URN_PREFIX}{}:{}", self.role, self.institution)
    }

    /// Parses `urn:credshare:<role>:<institution>`.
    pub fn from_uri(uri: &str) -> Result<Self, PkiError> {
        let (role, inst) = split_urn(uri, URN_PREFIX, "a credshare URN", "an institution")?;
        Ok(Self::new(role.parse()?, InstitutionId::parse(inst)?))
    }

    /// Reads the identity from a certificate's SAN URIs. Exactly one
    /// credshare URN must be present. The certificate is not verified here.
    pub fn from_cert_der(der: &[u8]) -> Result<Self, PkiError> {
        let mut found = Vec::new();
        for uri in officer::credshare_uris(der)? {
            // The officer SAN names a person, not the certificate's role.
            if !uri.starts_with(OFFICER_URN_PREFIX) {
                found.push(Identity::from_uri(&uri)?);
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(PkiError::BadIdentity(
                "certificate has no urn:credshare SAN URI".into(),
            )),
            _ => Err(PkiError::BadIdentity(
                "certificate has more than one urn:credshare SAN URI".into(),
            )),
        }
    }
}

/// Splits `<prefix><first>:<rest>` into `(first, rest)`; the errors say
/// that `uri` is not `what` or lacks its `second` part.
fn split_urn<'u>(
    uri: &'u str,
    prefix: &str,
    what: &str,
    second: &str,
) -> Result<(&'u str, &'u str), PkiError> {
    uri.strip_prefix(prefix)
        .ok_or_else(|| PkiError::BadIdentity(format!("{uri:?} is not {what}")))?
        .split_once(':')
        .ok_or_else(|| PkiError::BadIdentity(format!("{uri:?} lacks {second}")))
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role, self.institution)
    }
}

/// Lower-case hex SHA-256 of a certificate's DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// Errors reading PKI material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path} holds no {what}")]
    Empty { path: String, what: &'static str },
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    #[error("bad identity: {0}")]
    BadIdentity(String),
}

fn read_err(path: &Path) -> impl FnOnce(rustls_pki_types::pem::Error) -> PkiError + '_ {
    move |source| PkiError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Reads every certificate of a PEM file, leaf first.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_err(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(path))?;
    if certs.is_empty() {
        return Err(PkiError::Empty {
            path: path.display().to_string(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Splits CA certificates (a `ca.crt` bundle) into trust anchors — the
/// self-signed ones — and intermediates, which only help build chains to an
/// anchor: so an intermediate revoked by its root's CRL stops verifying.
pub fn split_trust(
    certs: &[CertificateDer<'static>],
) -> (Vec<CertificateDer<'static>>, Vec<CertificateDer<'static>>) {
    certs.iter().cloned().partition(|der| {
        x509_parser::parse_x509_certificate(der)
            .map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
            .unwrap_or(true)
    })
}

/// Reads the first private key of a PEM file. `credshare pki` writes PKCS#8
/// v1 (P-256 TLS keys, Ed25519 signer keys); Ed25519 PKCS#8 v2 files from
/// older versions load too: rustls and the signer parse both versions.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_file(path).map_err(read_err(path))
}

/// Reads every CRL of a PEM file.
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, PkiError> {
    CertificateRevocationListDer::pem_file_iter(path)
        .map_err(read_err(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identity_uri_round_trip() {
        let id = Identity::from_uri("urn:credshare:node:BANK-A").unwrap();
        assert_eq!(id.role, Role::Node);
        assert_eq!(id.institution.as_str(), "BANK-A");
        assert_eq!(id.to_uri(), "urn:credshare:node:BANK-A");
    }

    #[test]
    fn bad_identities_are_refused() {
        for bad in [
            "urn:credshare:node:bank-a",
            "urn:credshare:root:BANK-A",
            "urn:credshare:node:A",
            "urn:other:node:BANK-A",
            "urn:credshare:node",
        ] {
            assert!(Identity::from_uri(bad).is_err(), "{bad}");
        }
    }
}
