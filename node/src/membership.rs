//! Signed consortium membership (docs/design.md#membership): the consortium
//! operator signs a manifest — version, validity and, per member, its
//! institution id, peer addresses and optionally the roles and purposes it
//! may use. A node holds the newest valid manifest it has seen (from its
//! file, its data directory or any peer), never goes back to an older one,
//! and admits on its peer listener only members' certificates.
//!
//! Without a configured manifest (`membership.manifest_file` unset) nothing
//! here applies and the static `[[peers]]` list stands.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use credshare_proto::v1 as pb;
use prost::Message;

use crate::config::{MembershipConfig, PeerConfig};
use crate::pki::{Identity, InstitutionId};
use crate::signing::SignatureVerifier;

mod manifest;
use manifest::invalid;
pub use manifest::{Manifest, ManifestError, read_file};

/// Name of the adopted manifest's copy in the data directory.
const HELD_FILE: &str = "membership.manifest";

/// Whether a call is admitted under the membership in force.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Not a member, or not in a role or purpose its entry allows.
    NotMember(String),
    /// The manifest expired more than the grace ago: peer queries stop.
    Expired(String),
}

/// The manifest in force on this node, if any.
#[derive(Debug)]
pub struct Membership {
    config: Option<MembershipConfig>,
    held_file: PathBuf,
    own: InstitutionId,
    current: RwLock<Option<Arc<Manifest>>>,
}

impl Membership {
    /// Without a configured manifest: admits everyone, holds nothing.
    pub fn disabled(own: InstitutionId) -> Self {
        Self {
            config: None,
            held_file: PathBuf::new(),
            own,
            current: RwLock::new(None),
        }
    }

    /// Loads the newest valid manifest of the configured file and the copy
    /// adopted earlier (in `data_dir`). Both invalid or absent is an error:
    /// a node configured for a manifest does not run without one.
    pub fn load(
        config: &MembershipConfig,
        own: InstitutionId,
        data_dir: &Path,
        verifier: &SignatureVerifier,
    ) -> Result<Self, ManifestError> {
        let membership = Self {
            config: Some(config.clone()),
            held_file: data_dir.join(HELD_FILE),
            own,
            current: RwLock::new(None),
        };
        let configured = config
            .manifest_file
            .as_deref()
            .map(|p| read_file(p, verifier, config));
        let held = membership
            .held_file
            .exists()
            .then(|| read_file(&membership.held_file, verifier, config));
        let candidates = [configured, held].into_iter().flatten();
        let mut errors = Vec::new();
        for candidate in candidates {
            match candidate {
                Ok(manifest) => {
                    let _ = membership.adopt(manifest);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if membership.current().is_none() {
            return Err(ManifestError::File {
                path: "membership.manifest_file".into(),
                reason: format!("no valid manifest: {}", errors.join("; ")),
            });
        }
        Ok(membership)
    }

    pub fn enabled(&self) -> bool {
        self.config.is_some()
    }

    pub fn current(&self) -> Option<Arc<Manifest>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn version(&self) -> u64 {
        self.current().map_or(0, |m| m.version())
    }

    /// Verifies and adopts `envelope` if it is newer than the one held.
    pub fn offer(
        &self,
        envelope: pb::SignedEnvelope,
        verifier: &SignatureVerifier,
    ) -> Result<Arc<Manifest>, ManifestError> {
        let Some(config) = &self.config else {
            return Err(invalid(
                "membership",
                "this node is not configured for a manifest",
            ));
        };
        let manifest = Manifest::verify(envelope, verifier, &config.consortium)?;
        if manifest.expires_at() <= SystemTime::now() {
            return Err(invalid(
                "expires_at_ms",
                format!(
                    "version {} expired at {}",
                    manifest.version(),
                    crate::trust::rfc3339(manifest.expires_at())
                ),
            ));
        }
        self.adopt(manifest)
    }

    /// Makes `manifest` the one in force if newer, and keeps a copy in the
    /// data directory (written to a temporary file, synced, renamed).
    fn adopt(&self, manifest: Manifest) -> Result<Arc<Manifest>, ManifestError> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let held = current.as_ref().map_or(0, |m| m.version());
        if manifest.version() <= held {
            return Err(ManifestError::NotNewer {
                offered: manifest.version(),
                held,
            });
        }
        write_held(&self.held_file, &manifest.envelope)?;
        let manifest = Arc::new(manifest);
        *current = Some(manifest.clone());
        Ok(manifest)
    }

    /// Whether `caller` may call `method` on the peer listener now.
    pub fn admit(&self, caller: &Identity, method: &str, now: SystemTime) -> Admission {
        let (Some(config), Some(manifest)) = (&self.config, self.current()) else {
            return Admission::Admitted;
        };
        if caller.institution == self.own {
            return Admission::Admitted;
        }
        if method == "QueryBorrower"
            && let Some(reason) = stopped(&manifest, config, now)
        {
            return Admission::Expired(reason);
        }
        let Some(member) = manifest.member(&caller.institution) else {
            return Admission::NotMember(format!(
                "{} is not a member of consortium {} (manifest version {})",
                caller.institution,
                manifest.body.consortium,
                manifest.version()
            ));
        };
        if !member.roles.is_empty() && !member.roles.iter().any(|r| r == caller.role.as_str()) {
            return Admission::NotMember(format!(
                "manifest version {} lets {} use roles {:?}, not {}",
                manifest.version(),
                caller.institution,
                member.roles,
                caller.role
            ));
        }
        Admission::Admitted
    }

    /// Whether `requester` may query for `purpose` (`pb::Purpose` value).
    pub fn allows_purpose(&self, requester: &InstitutionId, purpose: i32) -> Result<(), String> {
        let Some(manifest) = self.current().filter(|_| self.enabled()) else {
            return Ok(());
        };
        match manifest.member(requester) {
            Some(m) if !m.purposes.is_empty() && !m.purposes.contains(&purpose) => Err(format!(
                "manifest version {} does not let {requester} query for this purpose",
                manifest.version()
            )),
            _ => Ok(()),
        }
    }

    /// Why outgoing and incoming peer queries are stopped now, if they are.
    pub fn stopped(&self, now: SystemTime) -> Option<String> {
        stopped(self.current()?.as_ref(), self.config.as_ref()?, now)
    }

    /// Warnings for `Status`: expiry ahead or past.
    pub fn warnings(&self, now: SystemTime) -> Vec<String> {
        let (Some(config), Some(manifest)) = (&self.config, self.current()) else {
            return Vec::new();
        };
        let expires = manifest.expires_at();
        let warn = Duration::from_secs(u64::from(config.warn_days) * 86_400);
        if let Some(reason) = stopped(&manifest, config, now) {
            vec![reason]
        } else if now > expires {
            vec![format!(
                "membership manifest version {} expired at {}; peer queries stop after {}",
                manifest.version(),
                crate::trust::rfc3339(expires),
                crate::trust::rfc3339(expires + grace(config))
            )]
        } else if now + warn > expires {
            vec![format!(
                "membership manifest version {} expires at {}: the operator must sign a new one",
                manifest.version(),
                crate::trust::rfc3339(expires)
            )]
        } else {
            Vec::new()
        }
    }

    /// The peers to use: the manifest's when one is in force.
    pub fn peers(&self) -> Option<Vec<PeerConfig>> {
        Some(self.current().filter(|_| self.enabled())?.peers(&self.own))
    }
}

fn grace(config: &MembershipConfig) -> Duration {
    Duration::from_secs(u64::from(config.grace_hours) * 3_600)
}

fn stopped(manifest: &Manifest, config: &MembershipConfig, now: SystemTime) -> Option<String> {
    let end = manifest.expires_at() + grace(config);
    (now > end).then(|| {
        format!(
            "membership manifest version {} expired at {} (grace {} h): peer queries are stopped until a current manifest is installed",
            manifest.version(),
            crate::trust::rfc3339(manifest.expires_at()),
            config.grace_hours
        )
    })
}

fn write_held(path: &Path, envelope: &pb::SignedEnvelope) -> Result<(), ManifestError> {
    let file_error = |e: std::io::Error| ManifestError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(file_error)?;
        f.write_all(&envelope.encode_to_vec()).map_err(file_error)?;
        f.sync_all().map_err(file_error)?;
    }
    std::fs::rename(&tmp, path).map_err(file_error)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
