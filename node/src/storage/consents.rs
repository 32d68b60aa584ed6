//! Consent state: grants this node issued (as grantee), revocations it issued
//! or received (as holder), and the outbox of revocations still to deliver.
//! Writes go through the group commit (see [`super::commit`]); these are the
//! keys and the reads.

use credshare_proto::v1 as pb;
use prost::Message;

use super::keys;
use super::{StorageError, Store};

/// A revocation waiting for one peer's acknowledgement.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub peer: String,
    pub consent_id: String,
    pub revocation: pb::SignedEnvelope,
}

/// One change to the consent state, written atomically with the log entries
/// of the same [`super::CommitRequest`].
#[derive(Debug, Clone)]
pub enum ConsentWrite {
    /// A grant this node issued (as the grantee).
    Grant {
        consent_id: String,
        envelope: pb::SignedEnvelope,
    },
    /// A revocation of `grantee`'s consent, issued here or received.
    Revocation {
        grantee: String,
        consent_id: String,
        envelope: pb::SignedEnvelope,
    },
    /// A revocation still to deliver to `peer`.
    Outbox {
        peer: String,
        consent_id: String,
        envelope: pb::SignedEnvelope,
    },
    /// `peer` acknowledged (or no longer needs) the revocation.
    OutboxDone { peer: String, consent_id: String },
    /// A held revocation whose grant has expired: nothing left to refuse.
    RevocationPurged { grantee: String, consent_id: String },
}

impl ConsentWrite {
    /// Adds this change to a sled batch (called by the writer).
    pub(super) fn apply(&self, batch: &mut sled::Batch) {
        match self {
            ConsentWrite::Grant {
                consent_id,
                envelope,
            } => batch.insert(grant_key(consent_id), envelope.encode_to_vec()),
            ConsentWrite::Revocation {
                grantee,
                consent_id,
                envelope,
            } => batch.insert(
                revocation_key(grantee, consent_id),
                envelope.encode_to_vec(),
            ),
            ConsentWrite::Outbox {
                peer,
                consent_id,
                envelope,
            } => batch.insert(outbox_key(peer, consent_id), envelope.encode_to_vec()),
            ConsentWrite::OutboxDone { peer, consent_id } => {
                batch.remove(outbox_key(peer, consent_id))
            }
            ConsentWrite::RevocationPurged {
                grantee,
                consent_id,
            } => batch.remove(revocation_key(grantee, consent_id)),
        }
    }
}

/// A revocation held by this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRevocation {
    pub grantee: String,
    pub consent_id: String,
    /// Kept until then (Unix ms), then purged.
    pub grant_not_after_ms: i64,
}

fn grant_key(consent_id: &str) -> Vec<u8> {
    keys::named(keys::GRANT, consent_id)
}

fn revocation_key(grantee: &str, consent_id: &str) -> Vec<u8> {
    keys::pair(keys::REVOCATION, grantee, consent_id)
}

fn outbox_key(peer: &str, consent_id: &str) -> Vec<u8> {
    keys::pair(keys::OUTBOX, peer, consent_id)
}

/// Splits `prefix` ‖ a ‖ 0x00 ‖ b into (a, b).
fn split_pair(key: &[u8], what: &str) -> Result<(String, String), StorageError> {
    let rest = &key[1..];
    let split = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| StorageError::Corrupt(format!("{what} key without separator")))?;
    Ok((
        String::from_utf8_lossy(&rest[..split]).into_owned(),
        String::from_utf8_lossy(&rest[split + 1..]).into_owned(),
    ))
}

fn decode_envelope(bytes: &[u8]) -> Result<pb::SignedEnvelope, StorageError> {
    pb::SignedEnvelope::decode(bytes)
        .map_err(|e| StorageError::Corrupt(format!("stored envelope: {e}")))
}

impl Store {
    /// The grant envelope this node issued under `consent_id`.
    pub fn grant(&self, consent_id: &str) -> Result<Option<pb::SignedEnvelope>, StorageError> {
        self.tree
            .get(grant_key(consent_id))?
            .map(|v| decode_envelope(&v))
            .transpose()
    }

    /// Every grant this node issued, in consent-id order.
    pub fn grants(&self) -> Result<Vec<(String, pb::SignedEnvelope)>, StorageError> {
        self.tree
            .scan_prefix([keys::GRANT])
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    String::from_utf8_lossy(&k[1..]).into_owned(),
                    decode_envelope(&v)?,
                ))
            })
            .collect()
    }

    /// Whether `grantee`'s consent `consent_id` is revoked.
    pub fn is_revoked(&self, grantee: &str, consent_id: &str) -> Result<bool, StorageError> {
        Ok(self
            .tree
            .contains_key(revocation_key(grantee, consent_id))?)
    }

    /// (grantee, consent id) of every stored revocation.
    /// Every revocation held: (grantee, consent id, the revoked grant's
    /// not-after, Unix ms).
    pub fn revocations(&self) -> Result<Vec<HeldRevocation>, StorageError> {
        self.tree
            .scan_prefix([keys::REVOCATION])
            .map(|item| {
                let (k, v) = item?;
                let (grantee, consent_id) = split_pair(&k, "revocation")?;
                let named = |e: String| {
                    StorageError::Corrupt(format!("revocation key {grantee}/{consent_id}: {e}"))
                };
                let envelope = decode_envelope(&v).map_err(|e| named(e.to_string()))?;
                let revocation = pb::ConsentRevocation::decode(envelope.payload.as_slice())
                    .map_err(|e| named(e.to_string()))?;
                Ok(HeldRevocation {
                    grantee,
                    consent_id,
                    grant_not_after_ms: revocation.grant_not_after_ms,
                })
            })
            .collect()
    }

    /// Every revocation of `grantee`'s consents: (consent id, envelope).
    pub fn revocations_of(
        &self,
        grantee: &str,
    ) -> Result<Vec<(String, pb::SignedEnvelope)>, StorageError> {
        let mut prefix = vec![keys::REVOCATION];
        prefix.extend_from_slice(grantee.as_bytes());
        prefix.push(0);
        self.tree
            .scan_prefix(prefix)
            .map(|item| {
                let (k, v) = item?;
                let (_, consent_id) = split_pair(&k, "revocation")?;
                Ok((consent_id, decode_envelope(&v)?))
            })
            .collect()
    }

    /// Revocations still to deliver.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, StorageError> {
        self.tree
            .scan_prefix([keys::OUTBOX])
            .map(|item| {
                let (k, v) = item?;
                let (peer, consent_id) = split_pair(&k, "outbox")?;
                Ok(OutboxItem {
                    peer,
                    consent_id,
                    revocation: decode_envelope(&v)?,
                })
            })
            .collect()
    }

    /// Number of grants issued (for Status).
    pub fn grant_count(&self) -> usize {
        self.tree.scan_prefix([keys::GRANT]).count()
    }
}
