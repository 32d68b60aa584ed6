//! Stage 2: the threshold OPRF key. The key is `k = k_R + k_G`: the
//! regulator holds `k_R`, and `k_G` is Shamir-shared 2-of-3 among
//! custodians (`s_i = k_G + a·i`). A member sends the same blinded
//! elements to the regulator and to two custodians, verifies each one's
//! DLEQ proof against that party's public key, and combines in the
//! exponent: `Z = Z_R + λ_i·Z_i + λ_j·Z_j = k·B` (Lagrange weights at 0).
//! Unblinded and finalized, `Z` gives exactly the stage-1 output under `k`,
//! so pseudonyms enrolled in stage 1 stay valid.
//!
//! `voprf` has no partial evaluation, so the combination uses
//! curve25519-dalek's ristretto255 (the group `voprf` itself uses) and the
//! RFC 9497 `Finalize` hash ([`super::oprf::finalize_hash`]).

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;

use super::oprf::{BlindBatch, OprfError, Pseudonym, decode_point, pseudonym_of, random_scalar};

/// Custodian indices are 1..=CUSTODIANS.
pub const CUSTODIANS: u8 = 3;

/// One custodian's Shamir share of `k_G`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub index: u8,
    pub scalar: Scalar,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share({})", self.index)
    }
}

/// Why a threshold step failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThresholdError {
    #[error("custodian index {0} is not between 1 and {CUSTODIANS}")]
    BadIndex(u8),
    #[error("two different custodians are needed (both are {0})")]
    SameCustodian(u8),
    #[error("{party}: {source}")]
    Party { party: String, source: OprfError },
    #[error(
        "the combined public key does not equal the service's public key: the parts are not of one key"
    )]
    KeyMismatch,
}

/// Splits `k` into `k_R` (random) and three shares of `k_G = k − k_R`.
pub fn split(k: &Scalar) -> (Scalar, [Share; 3]) {
    let k_r = random_scalar();
    let k_g = k - k_r;
    let slope = random_scalar();
    let shares = [1u8, 2, 3].map(|i| Share {
        index: i,
        scalar: k_g + slope * Scalar::from(u64::from(i)),
    });
    (k_r, shares)
}

/// Lagrange weights at 0 of custodians `i` and `j`: `j/(j−i)`, `i/(i−j)`.
pub fn lagrange(i: u8, j: u8) -> Result<(Scalar, Scalar), ThresholdError> {
    for x in [i, j] {
        if x == 0 || x > CUSTODIANS {
            return Err(ThresholdError::BadIndex(x));
        }
    }
    if i == j {
        return Err(ThresholdError::SameCustodian(i));
    }
    let (si, sj) = (Scalar::from(u64::from(i)), Scalar::from(u64::from(j)));
    Ok((sj * (sj - si).invert(), si * (si - sj).invert()))
}

/// `k = k_R + λ_i·s_i + λ_j·s_j`: the whole key from the regulator's part
/// and two shares (the `combine` ceremony step).
pub fn combine_key(k_r: &Scalar, a: &Share, b: &Share) -> Result<Scalar, ThresholdError> {
    let (la, lb) = lagrange(a.index, b.index)?;
    Ok(k_r + la * a.scalar + lb * b.scalar)
}

/// One party's evaluation of the member's batch.
#[derive(Debug, Clone)]
pub struct PartialEvaluation {
    /// `None` for the regulator's `k_R`, else the custodian's index.
    pub custodian: Option<u8>,
    pub evaluated: Vec<Vec<u8>>,
    pub proof: Vec<u8>,
    pub public_key: Vec<u8>,
}

impl PartialEvaluation {
    fn name(&self) -> String {
        match self.custodian {
            None => "regulator".into(),
            Some(i) => format!("custodian {i}"),
        }
    }
}

impl BlindBatch {
    /// Verifies the three partial evaluations' proofs, checks that their
    /// public keys combine to `public_key` (the stage-1 key), combines the
    /// elements with Lagrange weights and finalizes into pseudonyms.
    pub fn finalize_threshold(
        &self,
        regulator: &PartialEvaluation,
        custodians: [&PartialEvaluation; 2],
        public_key: &[u8],
    ) -> Result<Vec<Pseudonym>, ThresholdError> {
        let [a, b] = custodians;
        let (ia, ib) = (
            a.custodian.ok_or(ThresholdError::BadIndex(0))?,
            b.custodian.ok_or(ThresholdError::BadIndex(0))?,
        );
        let (la, lb) = lagrange(ia, ib)?;
        let weighted = [(regulator, Scalar::ONE), (a, la), (b, lb)];
        let mut pk = RistrettoPoint::identity();
        for (party, weight) in &weighted {
            let fail = |source| ThresholdError::Party {
                party: party.name(),
                source,
            };
            self.verified_outputs(&party.evaluated, &party.proof, &party.public_key)
                .map_err(fail)?;
            pk += weight * decode_point(&party.public_key, 0).map_err(fail)?;
        }
        let expected = decode_point(public_key, 0).map_err(|source| ThresholdError::Party {
            party: "service public key".into(),
            source,
        })?;
        if pk != expected {
            return Err(ThresholdError::KeyMismatch);
        }
        let mut out = Vec::with_capacity(self.len());
        for n in 0..self.len() {
            let mut z = RistrettoPoint::identity();
            for (party, weight) in &weighted {
                // Decoded without error by `verified_outputs` above.
                let point = decode_point(&party.evaluated[n], n).map_err(|source| {
                    ThresholdError::Party {
                        party: party.name(),
                        source,
                    }
                })?;
                z += weight * point;
            }
            let unblinded = self.blinds[n].invert() * z;
            out.push(pseudonym_of(&super::oprf::finalize_hash(
                self.input(n),
                &unblinded,
            )));
        }
        Ok(out)
    }
}
