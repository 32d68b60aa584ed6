//! Revocations this node receives as a holder (docs/design.md §4), with
//! their bounds: a revocation is at most [`MAX_REVOCATION_ENVELOPE_BYTES`]
//! (checked before anything else), rate-limited per peer before its
//! signature is checked, accepted only from the grantee, kept until the
//! grant it revokes would have expired and then purged from memory and
//! store ([`Node::purge_expired_revocations`]).

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::Node;
use super::consents::{MAX_CONSENT_ID_BYTES, consent_entry};
use super::refused::Refused;
use crate::domain::dates::now_ms;
use crate::error::NodeError;
use crate::pki::InstitutionId;
use crate::signing::CONSENT_REVOCATION_TYPE;
use crate::storage::{CommitRequest, ConsentWrite};

/// Largest revocation envelope accepted, bytes: a revocation carries a
/// consent id (≤ 128 bytes), a reason (≤ 200 characters), a hash, times
/// and one signature; 4 KiB is well over any genuine one.
pub const MAX_REVOCATION_ENVELOPE_BYTES: usize = 4096;

/// What to do with a verified revocation.
#[derive(Debug, PartialEq, Eq)]
enum Keep {
    /// Keep it until the grant's not-after (Unix ms).
    Until(i64),
    /// The grant has expired already: nothing to keep.
    Expired,
}

/// Checks a decoded revocation from `from` against the holder's bounds.
fn check(
    revocation: &pb::ConsentRevocation,
    from: &InstitutionId,
    now_ms: i64,
    max_validity_days: u32,
    skew_ms: i64,
) -> Result<Keep, NodeError> {
    if revocation.grantee_institution != from.as_str() {
        return Err(NodeError::invalid(
            "revocation.grantee_institution",
            format!("{from} may only revoke its own consents"),
        ));
    }
    let id = &revocation.consent_id;
    if id.is_empty() || id.len() > MAX_CONSENT_ID_BYTES {
        return Err(NodeError::invalid(
            "revocation.consent_id",
            format!("must be 1-{MAX_CONSENT_ID_BYTES} bytes"),
        ));
    }
    let latest = now_ms + i64::from(max_validity_days) * 86_400_000 + skew_ms;
    if revocation.grant_not_after_ms > latest {
        return Err(NodeError::invalid(
            "revocation.grant_not_after_ms",
            format!("later than any grant accepted here ({max_validity_days} days from now)"),
        ));
    }
    if revocation.grant_not_after_ms + skew_ms < now_ms {
        return Ok(Keep::Expired);
    }
    Ok(Keep::Until(revocation.grant_not_after_ms + skew_ms))
}

impl Node {
    /// A revocation pushed by the grantee's node. Bounded, rate-limited,
    /// verified (signature, chain, originator == the calling node), stored,
    /// logged. Returns whether it was new.
    pub async fn receive_revocation(
        &self,
        envelope: pb::SignedEnvelope,
        from: &InstitutionId,
    ) -> Result<bool, NodeError> {
        let revocation = self.admit_revocation(&envelope, from)?;
        let policy = &self.config.policy;
        let skew_ms = i64::from(policy.clock_skew_seconds) * 1000;
        let keep_until = match check(
            &revocation,
            from,
            now_ms(),
            policy.max_validity_days,
            skew_ms,
        )? {
            Keep::Until(ms) => ms,
            Keep::Expired => return Ok(false),
        };
        let id = &revocation.consent_id;
        if !self.revocations.claim(from.as_str(), id, keep_until) {
            return Ok(false);
        }
        if let Err(e) = self.store_revocation(from, id, envelope).await {
            self.revocations.release(from.as_str(), id);
            return Err(e);
        }
        tracing::info!(grantee = %from, consent_id = %id.escape_debug(), "revocation received");
        Ok(true)
    }

    /// The size bound, the rate limit and the signature (chain, originator
    /// == the calling node), then the payload decoded.
    fn admit_revocation(
        &self,
        envelope: &pb::SignedEnvelope,
        from: &InstitutionId,
    ) -> Result<pb::ConsentRevocation, NodeError> {
        let size = envelope.encoded_len();
        if size > MAX_REVOCATION_ENVELOPE_BYTES {
            return Err(NodeError::invalid(
                "revocation",
                format!("{size} bytes; at most {MAX_REVOCATION_ENVELOPE_BYTES} accepted"),
            ));
        }
        let per_minute = self.config.policy.revocation_rate_limit_per_minute;
        if let Err(e) = self.limiter.take_revocation(from, per_minute) {
            self.refusals.count(from, Refused::Revocation);
            return Err(e);
        }
        self.verifier().verify(
            envelope,
            CONSENT_REVOCATION_TYPE,
            Some(from),
            SystemTime::now(),
        )?;
        pb::ConsentRevocation::decode(envelope.payload.as_slice())
            .map_err(|e| NodeError::invalid("revocation", format!("payload does not decode: {e}")))
    }

    /// Stores a received revocation and logs it, in one commit.
    async fn store_revocation(
        &self,
        from: &InstitutionId,
        id: &str,
        envelope: pb::SignedEnvelope,
    ) -> Result<(), NodeError> {
        let log = consent_entry(
            pb::ConsentAction::RevocationReceived,
            id,
            None,
            from.as_str(),
            &envelope.payload,
            from.as_str(),
            "",
        );
        self.committer
            .commit(CommitRequest {
                log: vec![log],
                consents: vec![ConsentWrite::Revocation {
                    grantee: from.to_string(),
                    consent_id: id.to_owned(),
                    envelope,
                }],
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Drops every revocation whose grant has expired, from the store and
    /// then from memory. Returns how many.
    pub async fn purge_expired_revocations(&self) -> Result<usize, NodeError> {
        let expired = self.revocations.expired(now_ms());
        if expired.is_empty() {
            return Ok(0);
        }
        let consents = expired
            .iter()
            .map(|(grantee, consent_id)| ConsentWrite::RevocationPurged {
                grantee: grantee.clone(),
                consent_id: consent_id.clone(),
            })
            .collect();
        self.committer
            .commit(CommitRequest {
                consents,
                ..Default::default()
            })
            .await?;
        for (grantee, consent_id) in &expired {
            self.revocations.release(grantee, consent_id);
        }
        tracing::info!(
            purged = expired.len(),
            "revocations of expired grants purged"
        );
        Ok(expired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(grantee: &str, not_after_ms: i64) -> pb::ConsentRevocation {
        pb::ConsentRevocation {
            consent_id: "C-1".into(),
            grantee_institution: grantee.into(),
            grant_not_after_ms: not_after_ms,
            ..Default::default()
        }
    }

    #[test]
    fn bounds_of_a_received_revocation() {
        let a = InstitutionId::parse("BANK-A").unwrap();
        let day = 86_400_000;
        let now = 1_000 * day;
        let keep = check(&revocation("BANK-A", now + day), &a, now, 366, 0).unwrap();
        assert_eq!(keep, Keep::Until(now + day));
        let expired = check(&revocation("BANK-A", now - 1), &a, now, 366, 0).unwrap();
        assert_eq!(expired, Keep::Expired);
        assert!(check(&revocation("BANK-A", now + 400 * day), &a, now, 366, 0).is_err());
        assert!(check(&revocation("BANK-B", now + day), &a, now, 366, 0).is_err());
    }
}
