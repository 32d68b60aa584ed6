//! The records of a DETAIL answer: every envelope verified (signature by
//! the institution that answered, chain, revocation at its signing time),
//! its borrower checked, then decoded and kept with the signature that
//! verified it, so the officer sees what was received and who signed it.
//! A peer's records and this node's own go through the same checks.

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use crate::domain::BorrowerKey;
use crate::pki::InstitutionId;
use crate::signing::{CREDIT_SUMMARY_TYPE, SignatureVerifier, VISIT_SUMMARY_TYPE};

/// The verified records of one institution.
#[derive(Debug, Default)]
pub(super) struct VerifiedRecords {
    pub credits: Vec<pb::CreditSummary>,
    pub visits: Vec<pb::VisitSummary>,
    /// Every record, decoded, with its envelope and signer.
    pub rows: Vec<pb::VerifiedRecord>,
}

/// Verifies every envelope of `records` as signed by `originator` and about
/// `borrower`. Errors name the first record that failed and why.
pub(super) fn verify_records(
    verifier: &SignatureVerifier,
    originator: &InstitutionId,
    borrower: &BorrowerKey,
    records: &[pb::SignedEnvelope],
    now: SystemTime,
) -> Result<VerifiedRecords, String> {
    let mut out = VerifiedRecords::default();
    for (i, env) in records.iter().enumerate() {
        let row = verify_one(verifier, originator, borrower, env, now)
            .map_err(|e| format!("record {} of {}: {e}", i + 1, records.len()))?;
        match &row.record {
            Some(pb::verified_record::Record::Credit(c)) => out.credits.push(c.clone()),
            Some(pb::verified_record::Record::Visit(v)) => out.visits.push(v.clone()),
            None => {}
        }
        out.rows.push(row);
    }
    Ok(out)
}

fn verify_one(
    verifier: &SignatureVerifier,
    originator: &InstitutionId,
    borrower: &BorrowerKey,
    env: &pb::SignedEnvelope,
    now: SystemTime,
) -> Result<pb::VerifiedRecord, String> {
    let is_credit = env.payload_type == CREDIT_SUMMARY_TYPE;
    let expected = if is_credit {
        CREDIT_SUMMARY_TYPE
    } else {
        VISIT_SUMMARY_TYPE
    };
    let signer = verifier
        .verify(env, expected, Some(originator), now)
        .map_err(|e| format!("signature: {e}"))?;
    let (record, key) = if is_credit {
        let c = pb::CreditSummary::decode(env.payload.as_slice())
            .map_err(|e| format!("credit summary does not decode: {e}"))?;
        let key = c.borrower_key.clone();
        (pb::verified_record::Record::Credit(c), key)
    } else {
        let v = pb::VisitSummary::decode(env.payload.as_slice())
            .map_err(|e| format!("visit summary does not decode: {e}"))?;
        let key = v.borrower_key.clone();
        (pb::verified_record::Record::Visit(v), key)
    };
    if key != borrower.as_bytes() {
        return Err("the record is about another borrower".into());
    }
    Ok(pb::VerifiedRecord {
        envelope: Some(env.clone()),
        record: Some(record),
        signer_institution: signer.institution().to_string(),
        signer_key_id: signer.key_id,
    })
}

#[cfg(test)]
mod tests;
