//! Deciding a peer's query at the holder: reason 01 on its relationship
//! record ([`super::post_loan`]), every other reason on its consent grant
//! (verified once, then cached by hash), local policy on both. The
//! decision's [`Basis`] is what the log entry names.

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::PeerQuery;
use crate::domain::Purpose;
use crate::domain::consent::{self, Denial};
use crate::pki::InstitutionId;
use crate::service::Node;
use crate::service::caches::VerifiedGrant;
use crate::signing::{CONSENT_GRANT_TYPE, SigningError};

/// The grant of a query: verified, or refused with the consent id it
/// carries (when its payload decodes), for the log.
type GrantDecision = Result<VerifiedGrant, (Denial, String)>;

/// What a decision rested on, for the log: the consent id the query named,
/// or the content hash of its relationship record (reason 01).
#[derive(Debug, Default)]
pub(super) struct Basis {
    pub(super) consent_id: String,
    pub(super) relationship_sha256: Vec<u8>,
}

impl Node {
    /// Decides a query: reason 01 on its relationship record
    /// ([`super::post_loan`]), every other reason on its consent grant; local
    /// policy applies to both.
    pub(super) fn decide(
        &self,
        requester: &InstitutionId,
        query: &PeerQuery,
        now: SystemTime,
        now_ms: i64,
    ) -> (Result<(), Denial>, Basis) {
        let ctx = consent::QueryContext {
            requester,
            borrower_key: query.borrower.as_bytes(),
            purpose: query.purpose,
            scope: query.scope,
            now_ms,
        };
        if let Err(denial) = self.same_generation(query.key_generation, "the query") {
            return (Err(denial), Basis::default());
        }
        if query.purpose == Some(Purpose::PostLoanManagement) {
            return self.decide_post_loan(&ctx, query.relationship.as_ref(), now);
        }
        let Some(envelope) = &query.consent else {
            let message = format!(
                "reason {} needs the borrower's consent grant; only 01 post-loan management goes without one",
                query
                    .purpose
                    .map_or("00 UNSPECIFIED".into(), Purpose::label)
            );
            let denial = Denial::new(pb::DenialReason::NoRelationship, message);
            return (Err(denial), Basis::default());
        };
        let verified = match self.verified_grant(envelope, now) {
            Ok(verified) => verified,
            Err((denial, consent_id)) => {
                let basis = Basis {
                    consent_id,
                    ..Default::default()
                };
                return (Err(denial), basis);
            }
        };
        let revoked = self.revocations.contains(
            &verified.grant.grantee_institution,
            &verified.grant.consent_id,
        );
        let outcome = consent::decide(
            &verified.grant,
            &verified.signer,
            &ctx,
            revoked,
            &self.config.policy,
        );
        let basis = Basis {
            consent_id: verified.grant.consent_id,
            ..Default::default()
        };
        (outcome, basis)
    }

    /// A denial (`KEY_GENERATION`) unless wire generation `sent` of `what`
    /// is the one this node serves.
    fn same_generation(&self, sent: u32, what: &str) -> Result<(), Denial> {
        self.key_generation()
            .check(sent)
            .map_err(|e| Denial::new(pb::DenialReason::KeyGeneration, format!("{what}: {e}")))
    }

    /// A verified grant ([`Self::verify_grant`]) of the key generation this
    /// node serves; one of another is denied `KEY_GENERATION` under its id.
    fn verified_grant(&self, env: &pb::SignedEnvelope, now: SystemTime) -> GrantDecision {
        let verified = self.verify_grant(env, now)?;
        match self.same_generation(verified.grant.key_generation, "its consent grant") {
            Ok(()) => Ok(verified),
            Err(denial) => Err((denial, verified.grant.consent_id)),
        }
    }

    /// Verifies a grant envelope (or finds it in the cache) and decodes it,
    /// once. A refused envelope still names its consent id when its payload
    /// decodes, so the denial is logged under it.
    fn verify_grant(&self, env: &pb::SignedEnvelope, now: SystemTime) -> GrantDecision {
        let digest = envelope_digest(env);
        if let Some(hit) = self.grants.get(&digest, now) {
            return Ok(hit);
        }
        let decoded = pb::ConsentGrant::decode(env.payload.as_slice());
        let signer = match self.verifier().verify(env, CONSENT_GRANT_TYPE, None, now) {
            Ok(signer) => signer,
            Err(e) => {
                // Unverified: only its hash reaches the log and the history.
                let id = decoded
                    .map(|g| unverified_id(&g.consent_id))
                    .unwrap_or_default();
                let denial = Denial::new(signing_denial(&e), format!("consent envelope: {e}"));
                return Err((denial, id));
            }
        };
        let grant = decoded.map_err(|e| {
            let message = format!("consent payload does not decode: {e}");
            (
                Denial::new(pb::DenialReason::BadSignature, message),
                String::new(),
            )
        })?;
        let verified = VerifiedGrant {
            grant,
            signer: signer.identity.institution.clone(),
            cert_not_after: signer.not_after,
        };
        self.grants.insert(digest, verified.clone());
        Ok(verified)
    }
}

fn envelope_digest(env: &pb::SignedEnvelope) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(env.payload_type.as_bytes());
    ctx.update(&[0]);
    ctx.update(&env.payload);
    for s in &env.signatures {
        ctx.update(&[0]);
        ctx.update(s.keyid.as_bytes());
        ctx.update(&s.sig);
        ctx.update(&s.certificate);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn signing_denial(e: &SigningError) -> pb::DenialReason {
    match e {
        SigningError::UntrustedSigner(_) | SigningError::WrongOriginator { .. } => {
            pb::DenialReason::UntrustedSigner
        }
        SigningError::BadSignature(_) | SigningError::Pki(_) | SigningError::Setup(_) => {
            pb::DenialReason::BadSignature
        }
    }
}

/// How an unverified consent id is recorded: a prefix of its SHA-256, so a
/// peer cannot write text of its choice into the log, history or terminal,
/// yet the grantee can still match it against the id it sent.
fn unverified_id(consent_id: &str) -> String {
    if consent_id.is_empty() {
        return String::new();
    }
    let digest = crate::signing::sha256(consent_id.as_bytes());
    format!("unverified-sha256:{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod unverified_tests {
    #[test]
    fn unverified_consent_ids_are_recorded_as_hashes() {
        let id = super::unverified_id("C-1\n  12  FORGED\u{1b}[2J");
        assert!(id.starts_with("unverified-sha256:"), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_graphic()), "{id}");
        assert_eq!(super::unverified_id(""), "");
    }
}
