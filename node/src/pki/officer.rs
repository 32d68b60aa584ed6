//! Staff accountability (Regulation art. 22): an admin certificate may name
//! the officer who holds it, as a second SAN URI
//! `urn:credshare:officer:<institution>:<officer id>`. The node carries the
//! officer from the connection into every action it logs.

use std::fmt;

use super::{InstitutionId, PkiError, URN_PREFIX};

/// URI prefix of an officer SAN.
pub const OFFICER_URN_PREFIX: &str = "urn:credshare:officer:";

/// Longest officer id, characters.
const MAX_OFFICER_ID: usize = 64;

/// A named staff member of an institution: `[A-Za-z0-9._-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Officer {
    pub institution: InstitutionId,
    id: String,
}

impl Officer {
    /// Checks the id; the error names what is wrong.
    pub fn new(institution: InstitutionId, id: &str) -> Result<Self, PkiError> {
        Self::check_id(id)?;
        Ok(Self {
            institution,
            id: id.to_owned(),
        })
    }

    /// Checks an officer id alone (as a peer sends it).
    pub fn check_id(id: &str) -> Result<(), PkiError> {
        let ok_chars = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if id.is_empty() || id.len() > MAX_OFFICER_ID || !ok_chars {
            return Err(PkiError::BadIdentity(format!(
                "officer id {id:?} must be 1-{MAX_OFFICER_ID} characters of A-Z, a-z, 0-9, '.', '_' and '-'"
            )));
        }
        Ok(())
    }

    /// The officer id alone, as logs record it (the institution is the
    /// entry's own or its requester's).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The SAN URI form.
    pub fn to_uri(&self) -> String {
        format!("{OFFICER_URN_PREFIX}{}:{}", self.institution, self.id)
    }

    /// Parses `urn:credshare:officer:<institution>:<id>`.
    pub fn from_uri(uri: &str) -> Result<Self, PkiError> {
        let (inst, id) =
            super::split_urn(uri, OFFICER_URN_PREFIX, "an officer URN", "an officer id")?;
        Self::new(InstitutionId::parse(inst)?, id)
    }

    /// The officer a certificate names, if any. More than one officer SAN
    /// is an error. The certificate is not verified here.
    pub fn from_cert_der(der: &[u8]) -> Result<Option<Self>, PkiError> {
        let mut found: Vec<Officer> = Vec::new();
        for uri in credshare_uris(der)? {
            if uri.starts_with(OFFICER_URN_PREFIX) {
                found.push(Officer::from_uri(&uri)?);
            }
        }
        match found.len() {
            0 | 1 => Ok(found.pop()),
            _ => Err(PkiError::BadIdentity(
                "certificate names more than one officer".into(),
            )),
        }
    }
}

impl fmt::Display for Officer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Every `urn:credshare:` SAN URI of a certificate.
pub(super) fn credshare_uris(der: &[u8]) -> Result<Vec<String>, PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    let mut uris = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name
                && uri.starts_with(URN_PREFIX)
            {
                uris.push((*uri).to_owned());
            }
        }
    }
    Ok(uris)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn officer_uri_round_trip_and_bad_ids() {
        let o = Officer::from_uri("urn:credshare:officer:BANK-A:OFFICER-1").unwrap();
        assert_eq!(o.institution.as_str(), "BANK-A");
        assert_eq!(o.id(), "OFFICER-1");
        assert_eq!(o.to_uri(), "urn:credshare:officer:BANK-A:OFFICER-1");
        for bad in [
            "urn:credshare:officer:BANK-A",
            "urn:credshare:officer:BANK-A:",
            "urn:credshare:officer:BANK-A:a b",
            "urn:credshare:officer:bank-a:X",
            "urn:credshare:admin:BANK-A",
        ] {
            assert!(Officer::from_uri(bad).is_err(), "{bad}");
        }
        let long = format!("urn:credshare:officer:BANK-A:{}", "x".repeat(65));
        assert!(Officer::from_uri(&long).is_err());
    }
}
