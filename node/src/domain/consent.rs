//! Consent: the holder's decision on a peer query, the checks on a grant an
//! officer asks this node to issue, and consent ids (docs/design.md §4).
//!
//! Everything here is pure: signatures are verified by the caller (through
//! `signing::SignatureVerifier`) before a decoded grant reaches [`decide`],
//! and revocation status comes from storage as a flag.
//!
//! Denial messages go back to the requesting peer and into the log, so they
//! name institutions, purposes and times but never the borrower key.

use credshare_proto::v1 as pb;

use super::field::FieldError;
use super::policy::HolderPolicy;
use super::purpose::{Purpose, Scope, purpose_name, scope_name};
use crate::pki::InstitutionId;

/// Milliseconds in a day, for validity bounds.
const MS_PER_DAY: i64 = 86_400_000;
/// Borrower keys are HMAC-SHA256 digests.
const BORROWER_KEY_BYTES: usize = 32;
/// The authorization document is referenced by its SHA-256.
const AUTHORIZATION_HASH_BYTES: usize = 32;

/// A peer query as the holder sees it, after the request was decoded.
#[derive(Debug, Clone, Copy)]
pub struct QueryContext<'a> {
    /// The institution of the mTLS peer that asks.
    pub requester: &'a InstitutionId,
    /// The borrower asked about.
    pub borrower_key: &'a [u8],
    /// `None` when the request named no known purpose (refused).
    pub purpose: Option<Purpose>,
    /// `None` when the request named no known scope (refused).
    pub scope: Option<Scope>,
    /// The holder's clock, UTC milliseconds.
    pub now_ms: i64,
}

/// Why a peer query is refused. `message` is safe to send to the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denial {
    pub reason: pb::DenialReason,
    pub message: String,
}

impl Denial {
    pub fn new(reason: pb::DenialReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Decides whether a verified, decoded `grant` allows the query in `ctx`.
///
/// `signer` is the institution of the certificate that signed the grant
/// envelope; `revoked` says whether this node holds a revocation for the
/// grant. Checks run in this order and the first failure is returned:
/// signer == grantee (`UNTRUSTED_SIGNER`), grantee == requester
/// (`WRONG_GRANTEE`), borrower (`WRONG_BORROWER`), purpose
/// (`PURPOSE_NOT_GRANTED`), scope (`SCOPE_EXCEEDED`), time window with
/// `policy.clock_skew_seconds` of allowance (`NOT_YET_VALID`, `EXPIRED`),
/// revocation (`REVOKED`), then local policy (`POLICY`). Cost: O(purposes).
pub fn decide(
    grant: &pb::ConsentGrant,
    signer: &InstitutionId,
    ctx: &QueryContext<'_>,
    revoked: bool,
    policy: &HolderPolicy,
) -> Result<(), Denial> {
    check_parties(grant, signer, ctx)?;
    check_request_within_grant(grant, ctx)?;
    check_time_window(grant, ctx.now_ms, policy.clock_skew_seconds)?;
    if revoked {
        return Err(Denial::new(
            pb::DenialReason::Revoked,
            format!("consent {} has been revoked", grant.consent_id),
        ));
    }
    check_policy(grant, ctx, policy)
}

/// Signer, grantee and requester must all be the same institution.
fn check_parties(
    grant: &pb::ConsentGrant,
    signer: &InstitutionId,
    ctx: &QueryContext<'_>,
) -> Result<(), Denial> {
    if grant.grantee_institution != signer.as_str() {
        return Err(Denial::new(
            pb::DenialReason::UntrustedSigner,
            format!(
                "consent {} names grantee {:?} but is signed by {signer}",
                grant.consent_id, grant.grantee_institution
            ),
        ));
    }
    if grant.grantee_institution != ctx.requester.as_str() {
        return Err(Denial::new(
            pb::DenialReason::WrongGrantee,
            format!(
                "consent {} was granted to {}, not to {}",
                grant.consent_id, grant.grantee_institution, ctx.requester
            ),
        ));
    }
    Ok(())
}

/// Borrower, purpose and scope of the query must be covered by the grant.
fn check_request_within_grant(
    grant: &pb::ConsentGrant,
    ctx: &QueryContext<'_>,
) -> Result<(), Denial> {
    if grant.borrower_key != ctx.borrower_key {
        return Err(Denial::new(
            pb::DenialReason::WrongBorrower,
            format!(
                "consent {} is for another borrower than the one queried",
                grant.consent_id
            ),
        ));
    }
    let purpose_granted = ctx
        .purpose
        .is_some_and(|p| grant.purposes.contains(&(p.to_wire() as i32)));
    if !purpose_granted {
        return Err(Denial::new(
            pb::DenialReason::PurposeNotGranted,
            format!(
                "consent {} does not grant purpose {}",
                grant.consent_id,
                purpose_name(ctx.purpose)
            ),
        ));
    }
    let granted = Scope::from_wire(grant.scope);
    match (ctx.scope, granted) {
        (Some(asked), Some(granted)) if asked <= granted => Ok(()),
        _ => Err(Denial::new(
            pb::DenialReason::ScopeExceeded,
            format!(
                "scope {} exceeds scope {} granted by consent {}",
                scope_name(ctx.scope),
                scope_name(granted),
                grant.consent_id
            ),
        )),
    }
}

/// `[not_before - skew, not_after + skew]` must contain `now_ms`.
fn check_time_window(
    grant: &pb::ConsentGrant,
    now_ms: i64,
    clock_skew_seconds: u32,
) -> Result<(), Denial> {
    let skew_ms = i64::from(clock_skew_seconds) * 1000;
    if grant.not_before_ms.saturating_sub(skew_ms) > now_ms {
        return Err(Denial::new(
            pb::DenialReason::NotYetValid,
            format!(
                "consent {} is valid from {} (ms since epoch), now is {now_ms}",
                grant.consent_id, grant.not_before_ms
            ),
        ));
    }
    if grant.not_after_ms.saturating_add(skew_ms) < now_ms {
        return Err(Denial::new(
            pb::DenialReason::Expired,
            format!(
                "consent {} expired at {} (ms since epoch), now is {now_ms}",
                grant.consent_id, grant.not_after_ms
            ),
        ));
    }
    Ok(())
}

/// This holder's own rules, whatever the grant says.
fn check_policy(
    grant: &pb::ConsentGrant,
    ctx: &QueryContext<'_>,
    policy: &HolderPolicy,
) -> Result<(), Denial> {
    check_holder_policy(ctx, policy)?;
    let max_ms = i64::from(policy.max_validity_days) * MS_PER_DAY;
    let validity_ms = grant.not_after_ms.saturating_sub(grant.not_before_ms);
    if validity_ms <= 0 || validity_ms > max_ms {
        return Err(Denial::new(
            pb::DenialReason::Policy,
            format!(
                "consent {} is valid for {validity_ms} ms; local policy accepts 1 ms to {} days",
                grant.consent_id, policy.max_validity_days
            ),
        ));
    }
    Ok(())
}

/// The holder's rules that apply to every query, with or without a grant:
/// requester, purpose and scope (`POLICY`).
pub fn check_holder_policy(ctx: &QueryContext<'_>, policy: &HolderPolicy) -> Result<(), Denial> {
    let policy_denial = |message: String| Err(Denial::new(pb::DenialReason::Policy, message));
    if !policy.allowed_institutions.is_empty()
        && !policy.allowed_institutions.contains(ctx.requester)
    {
        return policy_denial(format!(
            "local policy does not allow queries from {}",
            ctx.requester
        ));
    }
    let purpose_allowed = policy
        .allowed_purposes
        .iter()
        .any(|name| ctx.purpose.is_some_and(|p| Purpose::parse(name) == Some(p)));
    if !purpose_allowed {
        return policy_denial(format!(
            "local policy does not accept purpose {}",
            purpose_name(ctx.purpose)
        ));
    }
    if ctx.scope.is_none_or(|asked| asked > policy.max_scope) {
        return policy_denial(format!(
            "local policy discloses at most scope {:?}, asked {}",
            policy.max_scope,
            scope_name(ctx.scope)
        ));
    }
    Ok(())
}

/// Checks a grant an officer asks this node to issue (`IssueConsent`).
///
/// The borrower key is 32 bytes; purposes are non-empty, known and not
/// repeated; the scope is set; `not_before_ms < not_after_ms`, the window is
/// at most `policy.max_validity_days` long and ends after `now_ms`; the
/// authorization hash is 32 bytes. The first problem found is returned.
pub fn validate_new_grant(
    grant: &pb::ConsentGrant,
    now_ms: i64,
    policy: &HolderPolicy,
) -> Result<(), FieldError> {
    if grant.borrower_key.len() != BORROWER_KEY_BYTES {
        return Err(FieldError::new(
            "borrower_key",
            format!(
                "must be {BORROWER_KEY_BYTES} bytes (an HMAC-SHA256 borrower key), got {}",
                grant.borrower_key.len()
            ),
        ));
    }
    validate_purposes(&grant.purposes)?;
    if Scope::from_wire(grant.scope).is_none() {
        return Err(FieldError::new(
            "scope",
            "must be SCOPE_SUMMARY or SCOPE_DETAIL",
        ));
    }
    validate_window(grant, now_ms, policy.max_validity_days)?;
    if grant.authorization_sha256.len() != AUTHORIZATION_HASH_BYTES {
        return Err(FieldError::new(
            "authorization_sha256",
            format!(
                "must be the {AUTHORIZATION_HASH_BYTES}-byte SHA-256 of the authorization document, got {} bytes",
                grant.authorization_sha256.len()
            ),
        ));
    }
    Ok(())
}

fn validate_purposes(purposes: &[i32]) -> Result<(), FieldError> {
    if purposes.is_empty() {
        return Err(FieldError::new(
            "purposes",
            "at least one purpose is required",
        ));
    }
    let mut seen = Vec::with_capacity(purposes.len());
    for &value in purposes {
        match pb::Purpose::try_from(value) {
            Ok(pb::Purpose::Unspecified) => {
                return Err(FieldError::new(
                    "purposes",
                    "PURPOSE_UNSPECIFIED is not a purpose",
                ));
            }
            Err(_) => {
                return Err(FieldError::new(
                    "purposes",
                    format!("unknown purpose value {value}"),
                ));
            }
            Ok(purpose) if seen.contains(&purpose) => {
                return Err(FieldError::new(
                    "purposes",
                    format!(
                        "{} is listed twice",
                        purpose_name(Purpose::from_wire(value))
                    ),
                ));
            }
            Ok(purpose) => seen.push(purpose),
        }
    }
    Ok(())
}

fn validate_window(
    grant: &pb::ConsentGrant,
    now_ms: i64,
    max_validity_days: u32,
) -> Result<(), FieldError> {
    if grant.not_before_ms >= grant.not_after_ms {
        return Err(FieldError::new(
            "not_after_ms",
            "must be later than not_before_ms",
        ));
    }
    let max_ms = i64::from(max_validity_days) * MS_PER_DAY;
    if grant.not_after_ms.saturating_sub(grant.not_before_ms) > max_ms {
        return Err(FieldError::new(
            "not_after_ms",
            format!("validity must not exceed {max_validity_days} days"),
        ));
    }
    if grant.not_after_ms <= now_ms {
        return Err(FieldError::new("not_after_ms", "must be in the future"));
    }
    Ok(())
}

/// The state of a grant this node issued, for `ListConsents`. No clock-skew
/// allowance: this is the issuer's own view.
pub fn consent_state(grant: &pb::ConsentGrant, revoked: bool, now_ms: i64) -> pb::ConsentState {
    if revoked {
        pb::ConsentState::Revoked
    } else if now_ms < grant.not_before_ms {
        pb::ConsentState::NotYetValid
    } else if now_ms > grant.not_after_ms {
        pb::ConsentState::Expired
    } else {
        pb::ConsentState::Active
    }
}

/// A new, globally unique consent id: `<institution>-<ms base36>-<hex>`,
/// e.g. `BANK-A-MB5Q2X0K-1F2E3D4C5B6A7988`. The time part makes ids sort
/// roughly by issue time; the 8 random bytes make collisions negligible.
/// Negative times are clamped to 0.
pub fn new_consent_id(institution: &InstitutionId, now_ms: i64, random: [u8; 8]) -> String {
    let random_hex: String = random.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{institution}-{}-{random_hex}",
        base36(now_ms.max(0).unsigned_abs())
    )
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
