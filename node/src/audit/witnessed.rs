//! Checking that a log's checkpoint is witnessed: the cosigned checkpoint a
//! holder hands out (in a receipt, or to an auditor) verifies with the
//! log's signer certificate, each cosignature with its witness's signer
//! certificate (chained to the CA, not revoked, of a member other than the
//! holder), and — for a receipt — a consistency proof ties it to the
//! receipt's checkpoint. The caller compares the witnesses counted with its
//! quorum. Needs only the consortium CA.

use std::time::SystemTime;

use credshare_proto::v1 as pb;

use super::checkpoint::Checkpoint;
use super::cosignature::verify_cosignature;
use super::receipt::{
    ReceiptError, proof_hashes, verify_checkpoint_consistency, verify_signed_checkpoint,
};
use crate::pki::InstitutionId;
use crate::signing::SignatureVerifier;

/// Most witness certificates a cosigned checkpoint may carry.
pub const MAX_WITNESSES: usize = 64;

/// What a cosigned checkpoint proves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witnessed {
    /// Size of the cosigned checkpoint (0: none carried).
    pub size: u64,
    /// Distinct witnesses whose cosignatures verified, in order.
    pub witnesses: Vec<InstitutionId>,
    /// Why other witness certificates or lines did not count.
    pub ignored: Vec<String>,
}

impl Witnessed {
    /// A one-line account for people: who cosigned, against the quorum.
    pub fn describe(&self, quorum: u32) -> String {
        let names: Vec<&str> = self.witnesses.iter().map(InstitutionId::as_str).collect();
        let count = names.len();
        let mut text = if count as u64 >= u64::from(quorum) {
            format!("witnessed: {count} cosignature(s) (quorum {quorum})")
        } else {
            format!("short of witness quorum: {count} of {quorum} cosignature(s)")
        };
        if count > 0 {
            text.push_str(&format!(" by {} at size {}", names.join(", "), self.size));
        }
        for why in &self.ignored {
            text.push_str(&format!("; ignored: {why}"));
        }
        text
    }
}

/// Verifies `note` (the log's signed note plus cosignature lines) and
/// counts the witnesses among `witness_certificates` whose cosignature on
/// it verifies. The log signature must verify with `signer_certificate`
/// (institution `holder`); a witness counts once, only when its
/// certificate is a CA-chained, unrevoked signer certificate of an
/// institution other than `holder` that `is_member` accepts.
pub fn verify_cosigned_checkpoint(
    note: &str,
    signer_certificate: &[u8],
    witness_certificates: &[Vec<u8>],
    verifier: &SignatureVerifier,
    holder: &InstitutionId,
    is_member: &dyn Fn(&InstitutionId) -> bool,
    now: SystemTime,
) -> Result<(Checkpoint, Witnessed), ReceiptError> {
    if witness_certificates.len() > MAX_WITNESSES {
        return Err(ReceiptError::TooLarge {
            part: "witness certificates",
            len: witness_certificates.len(),
            max: MAX_WITNESSES,
        });
    }
    let signed =
        verify_signed_checkpoint(note, signer_certificate, verifier, Some(holder), None, now)?;
    let mut witnessed = Witnessed {
        size: signed.checkpoint.size,
        ..Default::default()
    };
    for der in witness_certificates {
        match witness_of(note, der, verifier, holder, is_member, now) {
            Ok(w) if witnessed.witnesses.contains(&w) => {
                witnessed.ignored.push(format!("{w} counted once"));
            }
            Ok(w) => witnessed.witnesses.push(w),
            Err(why) => witnessed.ignored.push(why),
        }
    }
    Ok((signed.checkpoint, witnessed))
}

/// The institution whose cosignature on `note` the certificate `der`
/// verifies, or why it does not count.
fn witness_of(
    note: &str,
    der: &[u8],
    verifier: &SignatureVerifier,
    holder: &InstitutionId,
    is_member: &dyn Fn(&InstitutionId) -> bool,
    now: SystemTime,
) -> Result<InstitutionId, String> {
    let signer = verifier
        .verify_signer_certificate(der, now)
        .map_err(|e| format!("witness certificate: {e}"))?;
    let who = signer.institution().clone();
    if &who == holder {
        return Err(format!("{who} cannot witness its own log"));
    }
    if !is_member(&who) {
        return Err(format!("{who} is not a member"));
    }
    verify_cosignature(note, &signer.public_key).map_err(|e| format!("{who}: {e}"))?;
    Ok(who)
}

/// Verifies the cosigned checkpoint a receipt carries and that the
/// receipt's checkpoint extends it. `receipt` must already have passed
/// [`super::verify_receipt`] for `holder` (its checkpoint is trusted here).
/// A receipt without one is witnessed by nobody (`Witnessed::default`).
pub fn verify_receipt_witnesses(
    receipt: &pb::Receipt,
    holder: &InstitutionId,
    verifier: &SignatureVerifier,
    is_member: &dyn Fn(&InstitutionId) -> bool,
    now: SystemTime,
) -> Result<Witnessed, ReceiptError> {
    let Some(cosigned) = &receipt.cosigned_checkpoint else {
        return Ok(Witnessed::default());
    };
    let newer = receipt
        .checkpoint
        .as_ref()
        .ok_or(ReceiptError::Missing("checkpoint"))?;
    let newer =
        Checkpoint::parse_unverified(&newer.signed_note).map_err(ReceiptError::Checkpoint)?;
    let (checkpoint, witnessed) = verify_cosigned_checkpoint(
        &cosigned.signed_note,
        &receipt.signer_certificate,
        &receipt.witness_certificates,
        verifier,
        holder,
        is_member,
        now,
    )?;
    let proof = receipt
        .cosigned_consistency
        .as_ref()
        .ok_or(ReceiptError::Missing(
            "consistency proof for the cosigned checkpoint",
        ))?;
    if proof.old_size != checkpoint.size || proof.new_size != newer.size {
        return Err(ReceiptError::TreeSizeMismatch {
            proof: proof.old_size,
            checkpoint: checkpoint.size,
        });
    }
    verify_checkpoint_consistency(&checkpoint, &newer, &proof_hashes(&proof.hashes)?)?;
    Ok(witnessed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::audit::cosignature::{cosign, witness_name};
    use crate::signing::test_ca::TestCa;

    const ORIGIN: &str = "credshare.example/BANK-A/query-log";

    fn note(ca: &mut TestCa) -> (Checkpoint, String, Vec<u8>) {
        let log = ca.signer("BANK-A");
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: 7,
            root: [3; 32],
            timestamp_ms: Some(crate::domain::dates::now_ms()),
            extensions: Vec::new(),
        };
        let signed = cp.sign(ORIGIN, log.key_pair());
        (cp, signed, log.certificate_der().to_vec())
    }

    #[test]
    fn counts_members_other_than_the_holder_once_each() {
        let mut ca = TestCa::new("witnessed");
        let (cp, signed, log_cert) = note(&mut ca);
        let (b, c, own) = (
            ca.signer("BANK-B"),
            ca.signer("BANK-C"),
            ca.signer("BANK-A"),
        );
        let lines: Vec<String> = [&b, &c, &own]
            .iter()
            .map(|w| {
                cosign(
                    &cp,
                    &witness_name(w.institution().as_str()),
                    w.key_pair(),
                    9,
                )
            })
            .collect();
        let cosigned = format!("{signed}{}", lines.concat());
        let certs: Vec<Vec<u8>> = [&b, &c, &b, &own]
            .iter()
            .map(|w| w.certificate_der().to_vec())
            .collect();
        let holder = InstitutionId::parse("BANK-A").unwrap();
        let not_c = |i: &InstitutionId| i.as_str() != "BANK-C";
        let verifier = ca.verifier(&[]);
        let (_, witnessed) = verify_cosigned_checkpoint(
            &cosigned,
            &log_cert,
            &certs,
            &verifier,
            &holder,
            &not_c,
            SystemTime::now(),
        )
        .unwrap();
        let names: Vec<&str> = witnessed
            .witnesses
            .iter()
            .map(InstitutionId::as_str)
            .collect();
        assert_eq!(names, ["BANK-B"]);
        assert_eq!(witnessed.ignored.len(), 3, "{:?}", witnessed.ignored);
        assert!(
            witnessed
                .describe(2)
                .starts_with("short of witness quorum: 1 of 2")
        );
    }

    #[test]
    fn more_witness_certificates_than_the_bound_are_refused() {
        let mut ca = TestCa::new("witnessed");
        let (_, signed, log_cert) = note(&mut ca);
        let certs = vec![log_cert.clone(); MAX_WITNESSES + 1];
        let holder = InstitutionId::parse("BANK-A").unwrap();
        let result = verify_cosigned_checkpoint(
            &signed,
            &log_cert,
            &certs,
            &ca.verifier(&[]),
            &holder,
            &|_| true,
            SystemTime::now(),
        );
        assert!(matches!(result, Err(ReceiptError::TooLarge { .. })));
    }
}
