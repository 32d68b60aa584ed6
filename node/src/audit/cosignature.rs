//! Witness cosignatures: C2SP tlog-cosignature `cosignature/v1` (Ed25519).
//!
//! A cosignature is one more signature line on a checkpoint's signed note,
//! by a witness that verified the checkpoint extends every earlier one it
//! saw of that log. Its bytes are exactly the C2SP ones, so any
//! tlog-cosignature verifier reads them:
//!
//! * key id = `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ Ed25519 public key)[:4]`;
//! * signature line = `— <name> base64(key id ‖ timestamp (u64 BE, POSIX
//!   seconds) ‖ Ed25519 signature)`;
//! * signed message = `cosignature/v1\ntime <timestamp>\n` followed by the
//!   whole checkpoint body (extension lines included).
//!
//! credshare witnesses cosign with their institution's signer key (the key
//! that also signs their own log's checkpoints, type 0x01, and DSSE
//! envelopes). The three message forms cannot collide: a checkpoint body's
//! second line is a decimal size, a cosigned message's is `time …`, and
//! DSSE's PAE starts `DSSEv1 `.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use super::checkpoint::{
    Checkpoint, CheckpointError, SIGNATURE_LINE_PREFIX, split_note, typed_key_id, validate_key_name,
};

/// The signed-note signature type of Ed25519 cosignature/v1 keys.
pub const COSIGNATURE_V1_KEY_TYPE: u8 = 0x04;
/// The domain-separating header line of the signed message.
const HEADER: &str = "cosignature/v1";
const TIMESTAMP_LEN: usize = 8;
const SIGNATURE_LEN: usize = 64;

/// A cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner's key name on the signature line.
    pub name: String,
    /// When the witness cosigned (POSIX seconds).
    pub timestamp: u64,
}

/// The cosigner name of an institution's witness,
/// `credshare.example/<institution>/witness`.
pub fn witness_name(institution: &str) -> String {
    format!("credshare.example/{institution}/witness")
}

/// The cosignature/v1 key id of `public_key` under `name`.
pub fn cosigner_key_id(name: &str, public_key: &[u8]) -> [u8; 4] {
    typed_key_id(name, COSIGNATURE_V1_KEY_TYPE, public_key)
}

/// The bytes a witness signs: header, time line, checkpoint body.
pub fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("{HEADER}\ntime {timestamp}\n{body}")
}

/// Cosigns `checkpoint` as `name` at `timestamp` (POSIX seconds); returns
/// the signature line, ending in `\n`, to append to the log's signed note.
pub fn cosign(checkpoint: &Checkpoint, name: &str, key: &Ed25519KeyPair, timestamp: u64) -> String {
    let message = cosigned_message(&checkpoint.body(), timestamp);
    let signature = key.sign(message.as_bytes());
    let mut blob = Vec::with_capacity(4 + TIMESTAMP_LEN + SIGNATURE_LEN);
    blob.extend_from_slice(&cosigner_key_id(name, key.public_key().as_ref()));
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(signature.as_ref());
    format!("{SIGNATURE_LINE_PREFIX}{name} {}\n", BASE64.encode(blob))
}

/// Finds and verifies the cosignature of `public_key` on `note`: the
/// signature line whose key id matches `public_key` under the line's own
/// name (Ed25519 cosignatures do not commit to the name). Lines of other
/// keys are ignored; two lines of this key are refused. Cost: one Ed25519
/// verification plus one SHA-256 per signature line.
pub fn verify_cosignature(note: &str, public_key: &[u8]) -> Result<Cosignature, CheckpointError> {
    if public_key.len() != 32 {
        return Err(CheckpointError::InvalidPublicKey {
            len: public_key.len(),
        });
    }
    let (body, signatures) = split_note(note)?;
    let mut matching = signatures
        .iter()
        .filter(|s| cosigner_key_id(s.key_name, public_key) == s.key_id);
    let Some(line) = matching.next() else {
        return Err(CheckpointError::NoMatchingSignature {
            key_name: "(any cosigner name)".into(),
            key_id: "cosignature/v1 of the witness key".into(),
        });
    };
    if matching.next().is_some() {
        return Err(CheckpointError::DuplicateSignature {
            key_name: line.key_name.to_owned(),
        });
    }
    validate_key_name(line.key_name)?;
    let bad = || CheckpointError::BadSignature {
        key_name: line.key_name.to_owned(),
    };
    if line.signature.len() != TIMESTAMP_LEN + SIGNATURE_LEN {
        return Err(bad());
    }
    let (time, signature) = line.signature.split_at(TIMESTAMP_LEN);
    let timestamp = u64::from_be_bytes(time.try_into().map_err(|_| bad())?);
    if timestamp > i64::MAX as u64 {
        return Err(bad());
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(cosigned_message(body, timestamp).as_bytes(), signature)
        .map_err(|_| bad())?;
    Ok(Cosignature {
        name: line.key_name.to_owned(),
        timestamp,
    })
}

/// `note` with `lines` (signature lines, each ending in `\n`) appended.
pub fn append_signatures<'a>(note: &str, lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = note.to_owned();
    for line in lines {
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests;
