//! The manifest itself: its verification (operator signature, fields,
//! consortium) and reading it from a file.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credshare_proto::v1 as pb;
use prost::Message;

use crate::config::{MembershipConfig, PeerConfig};
use crate::pki::InstitutionId;
use crate::signing::{MEMBERSHIP_MANIFEST_TYPE, SignatureVerifier};

/// Why a manifest was not adopted.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest signature: {0}")]
    Signature(String),
    #[error("manifest does not decode: {0}")]
    Decode(String),
    #[error("manifest field {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("manifest is for consortium {found:?}, this node belongs to {expected:?}")]
    OtherConsortium { expected: String, found: String },
    #[error("manifest version {offered} is not newer than version {held} held here")]
    NotNewer { offered: u64, held: u64 },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A verified manifest with the envelope it came in.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub envelope: pb::SignedEnvelope,
    pub body: pb::MembershipManifest,
    /// Who signed it: `operator:<id>`.
    pub operator: String,
}

impl Manifest {
    /// Verifies `envelope` (operator signature, chain and CRLs at its
    /// signing time) and checks the manifest's fields.
    pub fn verify(
        envelope: pb::SignedEnvelope,
        verifier: &SignatureVerifier,
        consortium: &str,
    ) -> Result<Self, ManifestError> {
        let signer = verifier
            .verify(&envelope, MEMBERSHIP_MANIFEST_TYPE, None, SystemTime::now())
            .map_err(|e| ManifestError::Signature(e.to_string()))?;
        let body = pb::MembershipManifest::decode(envelope.payload.as_slice())
            .map_err(|e| ManifestError::Decode(e.to_string()))?;
        check_fields(&body)?;
        if body.consortium != consortium {
            return Err(ManifestError::OtherConsortium {
                expected: consortium.to_owned(),
                found: body.consortium,
            });
        }
        Ok(Self {
            envelope,
            body,
            operator: signer.identity.to_string(),
        })
    }

    pub fn version(&self) -> u64 {
        self.body.version
    }

    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.body.expires_at_ms.max(0) as u64)
    }

    pub fn member(&self, institution: &InstitutionId) -> Option<&pb::Member> {
        self.body
            .members
            .iter()
            .find(|m| m.institution_id == institution.as_str())
    }

    /// The peers of `own`: every other member with a peer address.
    pub fn peers(&self, own: &InstitutionId) -> Vec<PeerConfig> {
        self.body
            .members
            .iter()
            .filter(|m| m.institution_id != own.as_str())
            .filter_map(|m| {
                Some(PeerConfig {
                    institution: InstitutionId::parse(&m.institution_id).ok()?,
                    address: m.peer_addresses.first()?.clone(),
                    server_name: None,
                })
            })
            .collect()
    }
}

/// Field checks: a version, a validity window, members with valid ids and
/// `host:port` addresses, no member twice.
fn check_fields(m: &pb::MembershipManifest) -> Result<(), ManifestError> {
    if m.consortium.is_empty() {
        return Err(invalid("consortium", "is empty"));
    }
    if m.version == 0 {
        return Err(invalid("version", "must be 1 or more"));
    }
    if m.expires_at_ms <= m.issued_at_ms {
        return Err(invalid("expires_at_ms", "must be after issued_at_ms"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, member) in m.members.iter().enumerate() {
        InstitutionId::parse(&member.institution_id)
            .map_err(|e| invalid("members.institution_id", format!("member {i}: {e}")))?;
        if !seen.insert(member.institution_id.as_str()) {
            return Err(invalid(
                "members",
                format!("{} is listed twice", member.institution_id),
            ));
        }
        for address in &member.peer_addresses {
            let port = address.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
            if !matches!(port, Some(Ok(p)) if p > 0) {
                return Err(invalid(
                    "members.peer_addresses",
                    format!("{}: {address:?} is not host:port", member.institution_id),
                ));
            }
        }
    }
    Ok(())
}

/// Reads a manifest file: the binary `SignedEnvelope` that
/// `credshare consortium manifest sign` writes.
pub fn read_file(
    path: &Path,
    verifier: &SignatureVerifier,
    config: &MembershipConfig,
) -> Result<Manifest, ManifestError> {
    let file_error = |reason: String| ManifestError::File {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    let envelope = pb::SignedEnvelope::decode(bytes.as_slice())
        .map_err(|e| file_error(format!("not a signed manifest: {e}")))?;
    Manifest::verify(envelope, verifier, &config.consortium)
}
