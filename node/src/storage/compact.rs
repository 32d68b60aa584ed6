//! Format 3's compact values of record versions (`R`) and checkpoints
//! (`C`): the signer certificate is kept once, under `K ‖ certificate ref`
//! (the first 8 bytes of its SHA-256), not in every value; the key id (the
//! certificate's fingerprint) and the payload type (a one-byte code) are
//! not repeated, nor the content hash of a record whose body is there (the
//! SHA-256 of its payload). A value that cannot be made compact exactly is
//! kept verbatim, so decoding always gives back exactly what was stored.
//!
//! A value's first byte tells its encoding: one of the tags below, or a
//! format-2 protobuf (which never starts with them), so a store half-way
//! through its upgrade reads correctly and the upgrade can resume.
//!
//! | tag | value |
//! |---|---|
//! | `0xC3` | record: stored at (i64 BE) ‖ payload type code ‖ payload length (u32 BE) ‖ payload ‖ signature count ‖ per signature: certificate ref (8) ‖ signed at (i64 BE) ‖ length (u8) ‖ signature |
//! | `0xC4` | record without body: stored at (i64 BE) ‖ content SHA-256 |
//! | `0xC5` | record, verbatim `StoredRecord` protobuf |
//! | `0xC6` | checkpoint: certificate ref (8) ‖ signed note |

use credshare_proto::v1 as pb;
use prost::Message;

use super::StorageError;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};

/// The first 8 bytes of a certificate's SHA-256: its key in the `K` table.
pub type CertRef = [u8; 8];

const BODY: u8 = 0xC3;
const STUB: u8 = 0xC4;
const VERBATIM: u8 = 0xC5;
const CHECKPOINT: u8 = 0xC6;

/// Payload types stored as one byte; others make the record verbatim.
const PAYLOAD_TYPES: [&str; 2] = [CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE];

/// A signer certificate as the `K` table holds it, with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub der: Vec<u8>,
    pub key_id: String,
}

impl StoredCertificate {
    pub fn new(der: Vec<u8>) -> Self {
        let key_id = crate::pki::fingerprint(&der);
        Self { der, key_id }
    }

    pub fn reference(&self) -> CertRef {
        cert_ref(&self.der)
    }
}

/// The `K` table reference of a certificate.
pub fn cert_ref(der: &[u8]) -> CertRef {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut r = [0u8; 8];
    r.copy_from_slice(&digest.as_ref()[..8]);
    r
}

/// Whether `value` is a format-2 protobuf (not yet compact).
pub fn is_legacy(value: &[u8]) -> bool {
    !matches!(value.first(), Some(&(BODY | STUB | VERBATIM | CHECKPOINT)))
}

/// Encodes a record version; also returns the certificates it refers to.
pub fn encode_record(r: &pb::StoredRecord) -> (Vec<u8>, Vec<&[u8]>) {
    let Some(envelope) = &r.envelope else {
        let mut out = Vec::with_capacity(9 + r.content_sha256.len());
        out.push(STUB);
        out.extend_from_slice(&r.stored_at_ms.to_be_bytes());
        out.extend_from_slice(&r.content_sha256);
        return (out, Vec::new());
    };
    match encode_body(r, envelope) {
        Some(compact) => compact,
        None => {
            let mut out = vec![VERBATIM];
            out.extend(r.encode_to_vec());
            (out, Vec::new())
        }
    }
}

/// The compact body, or `None` when it would not decode to exactly `r`.
fn encode_body<'a>(
    r: &pb::StoredRecord,
    e: &'a pb::SignedEnvelope,
) -> Option<(Vec<u8>, Vec<&'a [u8]>)> {
    let code = PAYLOAD_TYPES.iter().position(|t| *t == e.payload_type)?;
    let hash = ring::digest::digest(&ring::digest::SHA256, &e.payload);
    if hash.as_ref() != r.content_sha256.as_slice() || e.signatures.len() > 255 {
        return None;
    }
    let mut out = Vec::with_capacity(16 + e.payload.len() + 81 * e.signatures.len());
    out.push(BODY);
    out.extend_from_slice(&r.stored_at_ms.to_be_bytes());
    out.push(u8::try_from(code).ok()?);
    out.extend_from_slice(&u32::try_from(e.payload.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&e.payload);
    out.push(u8::try_from(e.signatures.len()).ok()?);
    let mut certs = Vec::with_capacity(e.signatures.len());
    for s in &e.signatures {
        if s.keyid != crate::pki::fingerprint(&s.certificate) {
            return None;
        }
        out.extend_from_slice(&cert_ref(&s.certificate));
        out.extend_from_slice(&s.signed_at_ms.to_be_bytes());
        out.push(u8::try_from(s.sig.len()).ok()?);
        out.extend_from_slice(&s.sig);
        certs.push(s.certificate.as_slice());
    }
    Some((out, certs))
}

/// Decodes a record version of either format; `certificate` resolves refs.
pub fn decode_record(
    value: &[u8],
    certificate: &dyn Fn(&CertRef) -> Result<std::sync::Arc<StoredCertificate>, StorageError>,
) -> Result<pb::StoredRecord, StorageError> {
    let mut r = Reader(value);
    match r.u8() {
        Some(BODY) => decode_body(&mut r, certificate),
        Some(STUB) => {
            let stored_at_ms = r.i64().ok_or_else(|| corrupt("stored record"))?;
            Ok(pb::StoredRecord {
                envelope: None,
                content_sha256: r.0.to_vec(),
                stored_at_ms,
            })
        }
        Some(VERBATIM) => decode_protobuf(r.0),
        _ => decode_protobuf(value),
    }
}

fn decode_body(
    r: &mut Reader<'_>,
    certificate: &dyn Fn(&CertRef) -> Result<std::sync::Arc<StoredCertificate>, StorageError>,
) -> Result<pb::StoredRecord, StorageError> {
    let bad = || corrupt("stored record");
    let stored_at_ms = r.i64().ok_or_else(bad)?;
    let payload_type = PAYLOAD_TYPES
        .get(usize::from(r.u8().ok_or_else(bad)?))
        .ok_or_else(bad)?;
    let len = u32::from_be_bytes(r.array().ok_or_else(bad)?) as usize;
    let payload = r.take(len).ok_or_else(bad)?.to_vec();
    let count = r.u8().ok_or_else(bad)?;
    let mut signatures = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let reference: CertRef = r.array().ok_or_else(bad)?;
        let signed_at_ms = r.i64().ok_or_else(bad)?;
        let sig_len = usize::from(r.u8().ok_or_else(bad)?);
        let sig = r.take(sig_len).ok_or_else(bad)?.to_vec();
        let cert = certificate(&reference)?;
        signatures.push(pb::EnvelopeSignature {
            sig,
            keyid: cert.key_id.clone(),
            certificate: cert.der.clone(),
            signed_at_ms,
        });
    }
    if !r.0.is_empty() {
        return Err(bad());
    }
    let content_sha256 = ring::digest::digest(&ring::digest::SHA256, &payload)
        .as_ref()
        .to_vec();
    Ok(pb::StoredRecord {
        envelope: Some(pb::SignedEnvelope {
            payload,
            payload_type: (*payload_type).to_owned(),
            signatures,
        }),
        content_sha256,
        stored_at_ms,
    })
}

fn decode_protobuf(bytes: &[u8]) -> Result<pb::StoredRecord, StorageError> {
    pb::StoredRecord::decode(bytes)
        .map_err(|e| StorageError::Corrupt(format!("stored record: {e}")))
}

/// Encodes a stored checkpoint: the note and a reference to its signer.
pub fn encode_checkpoint(note: &str, signer_der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + note.len());
    out.push(CHECKPOINT);
    out.extend_from_slice(&cert_ref(signer_der));
    out.extend_from_slice(note.as_bytes());
    out
}

/// The signed note of a stored checkpoint of either format, and what
/// names its signer: a reference, or (format 2) the certificate itself.
pub fn decode_checkpoint(value: &[u8]) -> Result<(String, CheckpointSigner), StorageError> {
    let bad = || corrupt("stored checkpoint");
    if value.first() == Some(&CHECKPOINT) {
        let mut r = Reader(&value[1..]);
        let reference: CertRef = r.array().ok_or_else(bad)?;
        let note = String::from_utf8(r.0.to_vec()).map_err(|_| bad())?;
        return Ok((note, CheckpointSigner::Ref(reference)));
    }
    let stored = pb::GetCheckpointResponse::decode(value)
        .map_err(|e| StorageError::Corrupt(format!("stored checkpoint: {e}")))?;
    let note = stored.checkpoint.map(|c| c.signed_note).unwrap_or_default();
    Ok((note, CheckpointSigner::Der(stored.signer_certificate)))
}

/// Who signed a stored checkpoint, as its value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointSigner {
    Ref(CertRef),
    Der(Vec<u8>),
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(format!("{what}: malformed compact value"))
}

/// A cursor over a value's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests;
