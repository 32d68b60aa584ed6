//! The OPRF of borrower pseudonyms: RFC 9497 VOPRF, ciphersuite
//! ristretto255-SHA512 (crate `voprf`), for both sides.
//!
//! * The service side ([`OprfKey`]): a key scalar read from a 0600 file,
//!   evaluating a batch of blinded elements with one batched DLEQ proof.
//! * The member side ([`BlindBatch`]): blind identifiers, verify the proof,
//!   unblind and finalize into [`Pseudonym`]s. The raw identifier never
//!   leaves the member's process; the service sees only blinded elements.
//!
//! The threshold key (stage 2) combines partial evaluations in
//! [`super::threshold`]; the blinds are drawn here (not inside `voprf`) so
//! that a combined evaluation can be unblinded too.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use voprf::{BlindedElement, EvaluationElement, Proof, Ristretto255, VoprfClient, VoprfServer};

use crate::domain::borrower::BorrowerId;

/// Most blinded elements one `Evaluate` call may carry.
pub const MAX_ELEMENTS_PER_CALL: usize = 10_000;
/// Bytes of an encoded ristretto255 element.
pub const ELEMENT_BYTES: usize = 32;
/// Bytes of a pseudonym: the first 32 bytes of the OPRF output.
pub const PSEUDONYM_BYTES: usize = 32;
/// Domain separation of a borrower's OPRF input.
pub const INPUT_PREFIX: &[u8] = b"credshare/borrower/v2\0";

/// Why an OPRF step failed. Never names an identifier.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OprfError {
    #[error("element {index} is not a valid ristretto255 group element (or is the identity)")]
    InvalidElement { index: usize },
    #[error("expected between 1 and {MAX_ELEMENTS_PER_CALL} elements, got {0}")]
    BatchSize(usize),
    #[error("the proof is not 64 bytes or does not decode")]
    InvalidProof,
    #[error("the evaluation's DLEQ proof does not verify against the service's public key")]
    ProofFailed,
    #[error("the public key is not a valid group element")]
    InvalidPublicKey,
    #[error("expected {expected} evaluated elements, got {got}")]
    CountMismatch { expected: usize, got: usize },
    #[error("the key scalar is not canonical or is zero")]
    InvalidKey,
}

/// A borrower's pseudonym (directory key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(pub [u8; PSEUDONYM_BYTES]);

impl std::fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonym({}…)", hex::encode(&self.0[..4]))
    }
}

impl Pseudonym {
    /// From wire bytes (exactly 32).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

/// The OPRF input of a borrower: prefix ‖ kind ‖ ":" ‖ normalized id.
pub fn borrower_input(id: &BorrowerId) -> Vec<u8> {
    let mut input = INPUT_PREFIX.to_vec();
    input.extend_from_slice(id.kind().as_bytes());
    input.push(b':');
    input.extend_from_slice(id.normalized().as_bytes());
    input
}

/// A canonical, non-zero scalar from 32 little-endian bytes.
pub fn scalar_from_bytes(bytes: &[u8]) -> Result<Scalar, OprfError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| OprfError::InvalidKey)?;
    Option::<Scalar>::from(Scalar::from_canonical_bytes(arr))
        .filter(|s| *s != Scalar::ZERO)
        .ok_or(OprfError::InvalidKey)
}

/// A uniformly random non-zero scalar (from the system RNG via ring).
pub fn random_scalar() -> Scalar {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    loop {
        let mut wide = [0u8; 64];
        // The system RNG failing is unrecoverable; the loop retries zero only.
        if rng.fill(&mut wide).is_ok() {
            let s = Scalar::from_bytes_mod_order_wide(&wide);
            if s != Scalar::ZERO {
                return s;
            }
        }
    }
}

/// A point from its 32-byte encoding; the identity is refused.
pub fn decode_point(bytes: &[u8], index: usize) -> Result<RistrettoPoint, OprfError> {
    let compressed =
        CompressedRistretto::from_slice(bytes).map_err(|_| OprfError::InvalidElement { index })?;
    compressed
        .decompress()
        .filter(|p| *p != RistrettoPoint::default())
        .ok_or(OprfError::InvalidElement { index })
}

/// The service's key (stage 1: the whole key; stage 2: a part of it).
pub struct OprfKey {
    server: VoprfServer<Ristretto255>,
}

impl std::fmt::Debug for OprfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OprfKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// One evaluated batch: elements in request order and the DLEQ proof.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub elements: Vec<Vec<u8>>,
    pub proof: Vec<u8>,
}

impl OprfKey {
    /// The key with scalar `k`.
    pub fn from_scalar(k: &Scalar) -> Result<Self, OprfError> {
        let server = VoprfServer::<Ristretto255>::new_with_key(k.as_bytes())
            .map_err(|_| OprfError::InvalidKey)?;
        Ok(Self { server })
    }

    /// RFC 9497 `DeriveKeyPair(seed, info)` (for the test vectors).
    pub fn derive(seed: &[u8], info: &[u8]) -> Result<Self, OprfError> {
        let server = VoprfServer::<Ristretto255>::new_from_seed(seed, info)
            .map_err(|_| OprfError::InvalidKey)?;
        Ok(Self { server })
    }

    /// pkS = k·G, encoded (32 bytes).
    pub fn public_key(&self) -> [u8; 32] {
        self.server.get_public_key().compress().to_bytes()
    }

    /// Decodes every blinded element (refusing invalid ones, naming the
    /// first), then evaluates them all with one batched DLEQ proof.
    /// Cost: one scalar multiplication per element plus the proof (~2n).
    pub fn evaluate(&self, blinded: &[Vec<u8>]) -> Result<Evaluation, OprfError> {
        if blinded.is_empty() || blinded.len() > MAX_ELEMENTS_PER_CALL {
            return Err(OprfError::BatchSize(blinded.len()));
        }
        let elements = decode_blinded(blinded)?;
        let mut rng = rand_core_06::OsRng;
        let result = self
            .server
            .batch_blind_evaluate(&mut rng, &elements)
            .map_err(|_| OprfError::BatchSize(blinded.len()))?;
        Ok(Evaluation {
            elements: result
                .messages
                .iter()
                .map(|m| m.serialize().to_vec())
                .collect(),
            proof: result.proof.serialize().to_vec(),
        })
    }

    /// The OPRF output for `input` computed with the key directly (no
    /// blinding): what a member's blinded evaluation finalizes to.
    pub fn output(&self, input: &[u8]) -> Result<[u8; 64], OprfError> {
        let out = self
            .server
            .evaluate(input)
            .map_err(|_| OprfError::InvalidKey)?;
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(&out);
        Ok(bytes)
    }
}

fn decode_blinded(blinded: &[Vec<u8>]) -> Result<Vec<BlindedElement<Ristretto255>>, OprfError> {
    blinded
        .iter()
        .enumerate()
        .map(|(index, b)| {
            // voprf accepts any 32 bytes that decode; refuse the identity too.
            decode_point(b, index)?;
            BlindedElement::<Ristretto255>::deserialize(b)
                .map_err(|_| OprfError::InvalidElement { index })
        })
        .collect()
}

/// A member's blinded batch: what it keeps (inputs, blinds) until the
/// evaluation comes back. Never sent anywhere.
pub struct BlindBatch {
    inputs: Vec<Vec<u8>>,
    pub(super) blinds: Vec<Scalar>,
    clients: Vec<VoprfClient<Ristretto255>>,
    /// The blinded elements to send, encoded.
    pub blinded: Vec<Vec<u8>>,
}

impl std::fmt::Debug for BlindBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindBatch")
            .field("len", &self.inputs.len())
            .finish_non_exhaustive()
    }
}

impl BlindBatch {
    /// Blinds the OPRF input of every borrower with a fresh random blind.
    pub fn borrowers(ids: &[BorrowerId]) -> Self {
        Self::inputs(ids.iter().map(borrower_input).collect())
    }

    /// Blinds raw OPRF inputs (each non-empty, < 65,536 bytes).
    pub fn inputs(inputs: Vec<Vec<u8>>) -> Self {
        let mut blinds = Vec::with_capacity(inputs.len());
        let mut clients = Vec::with_capacity(inputs.len());
        let mut blinded = Vec::with_capacity(inputs.len());
        for input in &inputs {
            let blind = random_scalar();
            // Inputs are bounded and non-empty (the prefix), so this holds.
            let result =
                VoprfClient::<Ristretto255>::deterministic_blind_unchecked(input, blind).ok();
            if let Some(r) = result {
                blinded.push(r.message.serialize().to_vec());
                clients.push(r.state);
                blinds.push(blind);
            }
        }
        Self {
            inputs,
            blinds,
            clients,
            blinded,
        }
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    pub(super) fn input(&self, i: usize) -> &[u8] {
        &self.inputs[i]
    }

    /// Verifies the batched DLEQ proof of `evaluated` against `public_key`
    /// and finalizes each output into a pseudonym, in order.
    pub fn finalize(
        &self,
        evaluated: &[Vec<u8>],
        proof: &[u8],
        public_key: &[u8],
    ) -> Result<Vec<Pseudonym>, OprfError> {
        let outputs = self.verified_outputs(evaluated, proof, public_key)?;
        Ok(outputs.iter().map(pseudonym_of).collect())
    }

    /// Full 64-byte outputs after verifying the proof.
    pub fn verified_outputs(
        &self,
        evaluated: &[Vec<u8>],
        proof: &[u8],
        public_key: &[u8],
    ) -> Result<Vec<[u8; 64]>, OprfError> {
        if evaluated.len() != self.clients.len() {
            return Err(OprfError::CountMismatch {
                expected: self.clients.len(),
                got: evaluated.len(),
            });
        }
        let pk = decode_point(public_key, 0).map_err(|_| OprfError::InvalidPublicKey)?;
        let proof =
            Proof::<Ristretto255>::deserialize(proof).map_err(|_| OprfError::InvalidProof)?;
        let messages = evaluated
            .iter()
            .enumerate()
            .map(|(index, e)| {
                decode_point(e, index)?;
                EvaluationElement::<Ristretto255>::deserialize(e)
                    .map_err(|_| OprfError::InvalidElement { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outputs =
            VoprfClient::batch_finalize(&self.inputs, &self.clients, &messages, &proof, pk)
                .map_err(|_| OprfError::ProofFailed)?;
        outputs
            .map(|o| {
                let o = o.map_err(|_| OprfError::ProofFailed)?;
                let mut bytes = [0u8; 64];
                bytes.copy_from_slice(&o);
                Ok(bytes)
            })
            .collect()
    }
}

/// The pseudonym of a 64-byte OPRF output: its first 32 bytes.
pub fn pseudonym_of(output: &[u8; 64]) -> Pseudonym {
    let mut p = [0u8; PSEUDONYM_BYTES];
    p.copy_from_slice(&output[..PSEUDONYM_BYTES]);
    Pseudonym(p)
}

/// RFC 9497 `Finalize` hash of an unblinded element N: SHA-512 over
/// I2OSP(len(input), 2) ‖ input ‖ I2OSP(32, 2) ‖ N ‖ "Finalize".
pub fn finalize_hash(input: &[u8], unblinded: &RistrettoPoint) -> [u8; 64] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    // Inputs are bounded below 65,536 bytes by the callers.
    ctx.update(&(input.len() as u16).to_be_bytes());
    ctx.update(input);
    ctx.update(&(ELEMENT_BYTES as u16).to_be_bytes());
    ctx.update(unblinded.compress().as_bytes());
    ctx.update(b"Finalize");
    let mut out = [0u8; 64];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests;
