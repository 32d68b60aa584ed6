//! Checks of a peer's answer on the requester's side: the receipt (signed
//! checkpoint, inclusion of an entry that names exactly our request), the
//! answer bytes it hashes, and at DETAIL every record and annotation signed
//! by the peer.

use std::time::SystemTime;

use credshare_proto::v1 as pb;
use prost::Message;

use super::{Checked, Question, Rejected, detail};
use crate::audit::receipt::verify_receipt;
use crate::domain::{Scope, disputes};
use crate::federation::Peer;
use crate::service::Node;
use crate::signing::{ANNOTATION_TYPE, sha256};

impl Node {
    /// Verifies an answer: its receipt covers the exact answer bytes
    /// received, and at DETAIL every record's signature.
    pub(super) fn check_answer(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        response: pb::QueryBorrowerResponse,
        outgoing: &mut pb::OutgoingQueryEntry,
    ) -> Result<Checked, Rejected> {
        let receipt = response.receipt.ok_or((
            pb::PeerStatus::InvalidReceipt,
            "answer carries no receipt".to_string(),
        ))?;
        let entry =
            self.check_receipt(peer, q, nonce, &receipt, pb::Decision::Answered, outgoing)?;
        if entry.response_sha256 != sha256(&response.answer) {
            return Err((
                pb::PeerStatus::InvalidReceipt,
                "logged response hash does not match the answer".into(),
            ));
        }
        let answer = pb::BorrowerAnswer::decode(response.answer.as_slice()).map_err(|e| {
            (
                pb::PeerStatus::Error,
                format!("answer does not decode: {e}"),
            )
        })?;
        outgoing.outcome = "ANSWERED".into();
        if q.scope != Scope::Detail {
            return Ok((answer.indicators.unwrap_or_default(), receipt, Vec::new()));
        }
        // At DETAIL, indicators are recomputed from the verified, signed
        // records, disputed ones left out by the peer's signed marks.
        let verified = detail::verify_records(
            &self.verifier(),
            &peer.institution,
            &q.borrower,
            &answer.records,
            SystemTime::now(),
        )
        .map_err(|e| (pb::PeerStatus::InvalidSignature, e))?;
        let marks = self.verified_annotations(peer, q, &answer.annotations)?;
        let today = self.config.business_time_zone.today();
        let indicators =
            disputes::indicators_with_disputes(&verified.credits, &verified.visits, &marks, today);
        Ok((indicators, receipt, verified.rows))
    }

    /// Every annotation of a DETAIL answer, signed by the peer and about
    /// the borrower asked about.
    fn verified_annotations(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        annotations: &[pb::SignedEnvelope],
    ) -> Result<Vec<pb::Annotation>, Rejected> {
        let bad = |e: String| (pb::PeerStatus::InvalidSignature, e);
        annotations
            .iter()
            .map(|env| {
                self.verifier()
                    .verify(
                        env,
                        ANNOTATION_TYPE,
                        Some(&peer.institution),
                        SystemTime::now(),
                    )
                    .map_err(|e| bad(format!("annotation signature: {e}")))?;
                let a = pb::Annotation::decode(env.payload.as_slice())
                    .map_err(|e| bad(e.to_string()))?;
                if a.borrower_key != q.borrower.as_bytes() {
                    return Err(bad("an annotation is about another borrower".into()));
                }
                Ok(a)
            })
            .collect()
    }

    /// The witnesses of a verified receipt against the quorum in force,
    /// as the per-peer row's detail ("witnessed: …" or "short of witness
    /// quorum: …"); a receipt short of quorum is still an answer.
    pub(super) fn witness_verdict(&self, peer: &Peer, receipt: &pb::Receipt) -> String {
        let quorum = self.witness_quorum();
        let is_member = |i: &crate::pki::InstitutionId| self.is_member(i);
        match crate::audit::witnessed::verify_receipt_witnesses(
            receipt,
            &peer.institution,
            &self.verifier(),
            &is_member,
            SystemTime::now(),
        ) {
            Ok(witnessed) => witnessed.describe(quorum),
            Err(e) => format!(
                "short of witness quorum: 0 of {quorum} cosignature(s); cosigned checkpoint: {e}"
            ),
        }
    }

    /// Verifies a receipt and that its entry is exactly our request.
    pub(super) fn check_receipt(
        &self,
        peer: &Peer,
        q: &Question<'_>,
        nonce: &[u8],
        receipt: &pb::Receipt,
        decision: pb::Decision,
        outgoing: &mut pb::OutgoingQueryEntry,
    ) -> Result<pb::PeerQueryEntry, Rejected> {
        let invalid = |e: String| (pb::PeerStatus::InvalidReceipt, e);
        let verified = verify_receipt(
            receipt,
            &self.verifier(),
            &peer.institution,
            None,
            SystemTime::now(),
        )
        .map_err(|e| invalid(format!("receipt: {e}")))?;
        let Some(pb::log_entry::Kind::PeerQuery(entry)) = verified.entry.kind else {
            return Err(invalid("receipt entry is not a peer query".into()));
        };
        let ours = entry.requester_institution == self.institution().as_str()
            && entry.borrower_key == q.borrower.as_bytes()
            && entry.request_nonce == nonce
            && entry.decision == decision as i32;
        if !ours {
            return Err(invalid("receipt entry does not record this request".into()));
        }
        // The holder signed that it logged this very request: the receipt
        // goes into our log with its signed checkpoint, so a regulator can
        // hold the holder to it (`credshare audit cross-check`).
        outgoing.peer_leaf_index = Some(verified.leaf_index);
        outgoing.peer_tree_size = verified.tree_size;
        outgoing.peer_root_hash = verified.root.to_vec();
        outgoing.peer_checkpoint = receipt
            .checkpoint
            .as_ref()
            .map(|c| c.signed_note.clone())
            .unwrap_or_default();
        outgoing.peer_signer_key_id = crate::pki::fingerprint(&receipt.signer_certificate);
        Ok(entry)
    }
}
