//! RFC 9497 test vectors (VOPRF mode, ristretto255-SHA512, Appendix A.1.2)
//! and the member/service round trip, threshold included.

use super::*;
use crate::discovery::threshold::{PartialEvaluation, combine_key, split};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

/// RFC 9497 A.1.2: Seed, KeyInfo → skSm, pkSm; Input → Output.
#[test]
fn rfc9497_voprf_ristretto255_sha512_vectors() {
    let seed = [0xa3u8; 32];
    let key = OprfKey::derive(&seed, b"test key").expect("derive");
    assert_eq!(
        hex::encode(key.public_key()),
        "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
    );
    let vectors = [
        (
            "00",
            "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
        ),
        (
            "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
            "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
        ),
    ];
    for (input, output) in vectors {
        let input = unhex(input);
        // Directly under the key, and through blinding + proof + finalize.
        assert_eq!(hex::encode(key.output(&input).expect("output")), output);
        let batch = BlindBatch::inputs(vec![input]);
        let eval = key.evaluate(&batch.blinded).expect("evaluate");
        let out = batch
            .verified_outputs(&eval.elements, &eval.proof, &key.public_key())
            .expect("proof verifies");
        assert_eq!(hex::encode(out[0]), output);
    }
}

fn key() -> (Scalar, OprfKey) {
    let k = random_scalar();
    (k, OprfKey::from_scalar(&k).expect("key"))
}

#[test]
fn a_proof_under_another_key_is_refused() {
    let ((_, a), (_, b)) = (key(), key());
    let batch = BlindBatch::inputs(vec![b"x".to_vec(), b"y".to_vec()]);
    let eval = a.evaluate(&batch.blinded).expect("evaluate");
    assert_eq!(
        batch.finalize(&eval.elements, &eval.proof, &b.public_key()),
        Err(OprfError::ProofFailed)
    );
    let mut swapped = eval.elements.clone();
    swapped.swap(0, 1);
    assert_eq!(
        batch.finalize(&swapped, &eval.proof, &a.public_key()),
        Err(OprfError::ProofFailed)
    );
}

#[test]
fn invalid_elements_and_batch_sizes_are_refused() {
    let (_, k) = key();
    assert_eq!(k.evaluate(&[]).err(), Some(OprfError::BatchSize(0)));
    let too_many = vec![vec![0u8; 32]; MAX_ELEMENTS_PER_CALL + 1];
    assert_eq!(
        k.evaluate(&too_many).err(),
        Some(OprfError::BatchSize(MAX_ELEMENTS_PER_CALL + 1))
    );
    let batch = BlindBatch::inputs(vec![b"x".to_vec()]);
    // The identity (all zeros), a non-canonical encoding, a short one.
    for bad in [vec![0u8; 32], vec![0xffu8; 32], vec![1u8; 31]] {
        let req = vec![batch.blinded[0].clone(), bad];
        assert_eq!(
            k.evaluate(&req).err(),
            Some(OprfError::InvalidElement { index: 1 })
        );
    }
}

#[test]
fn pseudonyms_are_deterministic_per_key_and_differ_between_keys() {
    let ((_, a), (_, b)) = (key(), key());
    let ids = ["91350100M000100Y43", "11010519491231002X"]
        .map(|s| BorrowerId::parse(s).expect("valid id"));
    let run = |k: &OprfKey| {
        let batch = BlindBatch::borrowers(&ids);
        let eval = k.evaluate(&batch.blinded).expect("evaluate");
        batch
            .finalize(&eval.elements, &eval.proof, &k.public_key())
            .expect("finalize")
    };
    let first = run(&a);
    assert_eq!(first, run(&a), "fresh blinds, same pseudonyms");
    assert_ne!(first[0], first[1]);
    assert_ne!(first, run(&b));
    let direct = pseudonym_of(&a.output(&borrower_input(&ids[0])).expect("output"));
    assert_eq!(first[0], direct);
}

/// Stage 2: k split into k_R + Shamir(k_G); every pair of custodians with
/// the regulator gives exactly the stage-1 pseudonyms; the key recombines.
#[test]
fn threshold_output_equals_single_key_output() {
    let (k, whole) = key();
    let (k_r, shares) = split(&k);
    let inputs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'p', i]).collect();
    let batch = BlindBatch::inputs(inputs);
    let eval = whole.evaluate(&batch.blinded).expect("evaluate");
    let single = batch
        .finalize(&eval.elements, &eval.proof, &whole.public_key())
        .expect("finalize");
    let partial = |scalar: &Scalar, custodian: Option<u8>| {
        let key = OprfKey::from_scalar(scalar).expect("part");
        let e = key.evaluate(&batch.blinded).expect("evaluate");
        PartialEvaluation {
            custodian,
            evaluated: e.elements,
            proof: e.proof,
            public_key: key.public_key().to_vec(),
        }
    };
    let regulator = partial(&k_r, None);
    let parts: Vec<_> = shares
        .iter()
        .map(|s| partial(&s.scalar, Some(s.index)))
        .collect();
    for (i, j) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
        let combined = batch
            .finalize_threshold(&regulator, [&parts[i], &parts[j]], &whole.public_key())
            .expect("threshold finalize");
        assert_eq!(combined, single, "custodians {i},{j}");
        assert_eq!(combine_key(&k_r, &shares[i], &shares[j]), Ok(k));
    }
    // A custodian's element from another batch position fails its proof.
    let mut tampered = parts[1].clone();
    tampered.evaluated.swap(0, 1);
    assert!(
        batch
            .finalize_threshold(&regulator, [&parts[0], &tampered], &whole.public_key())
            .is_err()
    );
    // Parts of another key do not combine to the service's public key.
    let (_, other) = key();
    assert_eq!(
        batch.finalize_threshold(&regulator, [&parts[0], &parts[1]], &other.public_key()),
        Err(crate::discovery::threshold::ThresholdError::KeyMismatch)
    );
}
