//! Proof tests: every inclusion and consistency proof for tree sizes
//! 1..=300 equals the RFC reference's and verifies; tampered ones do not.

use super::*;
use crate::audit::merkle::{EMPTY_ROOT, MerkleError, RightEdge, root_at};
use crate::audit::rfc_reference::*;

#[test]
fn inclusion_proofs_match_the_reference_and_verify() {
    let f = fixture();
    for n in 1..=MAX_SIZE {
        let root = f.reference.mth(0, n as usize);
        for m in 0..n {
            let store = f.store.view(n);
            let proof = inclusion_proof(store, m, n).expect("proof");
            assert!(store.reads.get() <= read_bound(n), "reads for ({m}, {n})");
            assert_eq!(
                proof,
                f.reference.path(m as usize, 0, n as usize),
                "PATH({m}, {n})"
            );
            let leaf = &f.reference.leaves[m as usize];
            assert_eq!(
                verify_inclusion(leaf, m, n, &proof, &root),
                Ok(()),
                "({m}, {n})"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_the_reference_and_verify() {
    let f = fixture();
    for n in 0..=MAX_SIZE {
        let new_root = f.reference.mth(0, n as usize);
        for m in 0..=n {
            let store = f.store.view(n);
            let proof = consistency_proof(store, m, n).expect("proof");
            assert!(store.reads.get() <= read_bound(n), "reads for ({m}, {n})");
            let expected = match m {
                0 => Vec::new(),
                _ => f.reference.proof(m as usize, n as usize),
            };
            assert_eq!(proof, expected, "PROOF({m}, {n})");
            let old_root = f.reference.mth(0, m as usize);
            assert_eq!(
                verify_consistency(m, n, &old_root, &new_root, &proof),
                Ok(()),
                "({m}, {n})"
            );
        }
    }
}

/// Every single-bit change of `proof`: all 256 bits of every hash for small
/// proofs' trees, one bit per hash (varying) otherwise, to stay fast.
fn bit_flips(proof: &[Hash], exhaustive: bool, seed: u64) -> Vec<Vec<Hash>> {
    let mut variants = Vec::new();
    for position in 0..proof.len() {
        let bits: Vec<usize> = match exhaustive {
            true => (0..256).collect(),
            false => vec![(seed as usize * 31 + position * 97) % 256],
        };
        for bit in bits {
            let mut tampered = proof.to_vec();
            tampered[position][bit / 8] ^= 1 << (bit % 8);
            variants.push(tampered);
        }
    }
    variants
}

/// The indices (or old sizes) whose proofs the tampering tests mangle in a
/// tree of `n`: all of them up to 128 leaves, a spread beyond, to stay fast.
fn tamper_targets(n: u64, first: u64) -> impl Iterator<Item = u64> {
    (first..n).filter(move |&m| n <= 128 || m % 7 == 0 || m < first + 3 || m + 3 >= n)
}

/// Truncated, extended and reordered versions of `proof`.
fn reshaped(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut variants = vec![
        [proof, &[[0u8; 32]]].concat(),
        [&[[0xab; 32]], proof].concat(),
    ];
    if let Some(last) = proof.last() {
        variants.push([proof, &[*last]].concat());
        variants.push(proof[..proof.len() - 1].to_vec());
        variants.push(proof[1..].to_vec());
    }
    if proof.len() >= 2 && proof[0] != proof[1] {
        let mut swapped = proof.to_vec();
        swapped.swap(0, 1);
        variants.push(swapped);
    }
    variants
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let f = fixture();
    let roots: Vec<Hash> = (0..=MAX_SIZE as usize)
        .map(|n| f.reference.mth(0, n))
        .collect();
    for n in 1..=MAX_SIZE {
        let root = &roots[n as usize];
        for m in tamper_targets(n, 0) {
            let proof = f.reference.path(m as usize, 0, n as usize);
            let leaf = &f.reference.leaves[m as usize];
            for tampered in bit_flips(&proof, n <= 16, m + n)
                .iter()
                .chain(&reshaped(&proof))
            {
                assert!(
                    verify_inclusion(leaf, m, n, tampered, root).is_err(),
                    "({m}, {n})"
                );
            }
            let mut wrong_leaf = *leaf;
            wrong_leaf[(m % 32) as usize] ^= 0x40;
            assert!(verify_inclusion(&wrong_leaf, m, n, &proof, root).is_err());
            let mut wrong_root = *root;
            wrong_root[31] ^= 1;
            assert_eq!(
                verify_inclusion(leaf, m, n, &proof, &wrong_root),
                Err(ProofError::RootMismatch)
            );
            check_wrong_indices(&f, m, n, &proof);
            check_wrong_sizes(&f, m, n, &proof);
        }
    }
}

/// The proof of leaf `m` never proves `m`'s leaf at another index.
fn check_wrong_indices(f: &Fixture, m: u64, n: u64, proof: &[Hash]) {
    let leaf = &f.reference.leaves[m as usize];
    let root = f.reference.mth(0, n as usize);
    for wrong in [m + 1, m.wrapping_sub(1), m ^ 1, m ^ 2, n, u64::MAX] {
        if wrong == m {
            continue;
        }
        let result = verify_inclusion(leaf, wrong, n, proof, &root);
        assert!(result.is_err(), "leaf {m} of {n} accepted at index {wrong}");
        if wrong >= n {
            assert_eq!(
                result,
                Err(ProofError::IndexOutOfRange {
                    index: wrong,
                    size: n
                })
            );
        }
    }
}

/// A wrong tree size fails against that size's root. Against the proof's
/// own root it can only pass when both sizes put the leaf's siblings on the
/// same sides — the RFC path does not commit to the size, the signed
/// checkpoint that carries size and root together does.
fn check_wrong_sizes(f: &Fixture, m: u64, n: u64, proof: &[Hash]) {
    let leaf = &f.reference.leaves[m as usize];
    let own_root = f.reference.mth(0, n as usize);
    for wrong in [n - 1, n + 1, n * 2, n + 64] {
        if wrong <= m || wrong > MAX_SIZE {
            continue;
        }
        let wrong_root = f.reference.mth(0, wrong as usize);
        assert!(verify_inclusion(leaf, m, wrong, proof, &wrong_root).is_err());
        let same_shape = Reference::path_sides(m as usize, wrong as usize)
            == Reference::path_sides(m as usize, n as usize);
        let result = verify_inclusion(leaf, m, wrong, proof, &own_root);
        assert_eq!(
            result.is_ok(),
            same_shape,
            "leaf {m}: size {n} proof as size {wrong}"
        );
    }
}

#[test]
fn tampered_consistency_proofs_fail() {
    let f = fixture();
    let root = |n: u64| f.reference.mth(0, n as usize);
    for n in 1..=MAX_SIZE {
        let new_root = root(n);
        for m in tamper_targets(n, 1) {
            let old_root = root(m);
            let proof = f.reference.proof(m as usize, n as usize);
            for tampered in bit_flips(&proof, n <= 16, m + n)
                .iter()
                .chain(&reshaped(&proof))
            {
                assert!(
                    verify_consistency(m, n, &old_root, &new_root, tampered).is_err(),
                    "({m}, {n})"
                );
            }
            assert!(verify_consistency(m, n, &root(m - 1), &new_root, &proof).is_err());
            assert!(verify_consistency(m, n, &old_root, &root(n - 1), &proof).is_err());
            assert!(verify_consistency(m, n, &new_root, &old_root, &proof).is_err());
            // Another pair of sizes with their true roots passes only if its
            // proof happens to be this very proof.
            for (old, new) in [(m - 1, n), (m + 1, n), (m, n + 1), (m, n - 1)] {
                if old == 0 || old >= new || new > MAX_SIZE || (old, new) == (m, n) {
                    continue;
                }
                let result = verify_consistency(old, new, &root(old), &root(new), &proof);
                let same = f.reference.proof(old as usize, new as usize) == proof;
                assert_eq!(
                    result.is_ok(),
                    same,
                    "PROOF({m}, {n}) used as ({old}, {new})"
                );
            }
        }
    }
}

#[test]
fn degenerate_consistency_cases() {
    let f = fixture();
    let (root4, root5) = (f.reference.mth(0, 4), f.reference.mth(0, 5));
    assert_eq!(verify_consistency(0, 5, &EMPTY_ROOT, &root5, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 5, &root4, &root5, &[]),
        Err(ProofError::EmptyTreeRoot)
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(0, 5, &EMPTY_ROOT, &root5, &[root4]),
        Err(ProofError::WrongLength {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(verify_consistency(4, 4, &root4, &root4, &[]), Ok(()));
    assert_eq!(
        verify_consistency(4, 4, &root4, &root5, &[]),
        Err(ProofError::SameSizeDifferentRoots { size: 4 })
    );
    assert_eq!(
        verify_consistency(4, 4, &root4, &root4, &[root4]),
        Err(ProofError::WrongLength {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(
        verify_consistency(5, 4, &root5, &root4, &[]),
        Err(ProofError::SizeOrder {
            old_size: 5,
            new_size: 4
        })
    );
    assert_eq!(
        verify_consistency(4, 5, &root4, &root5, &[]),
        Err(ProofError::WrongLength {
            expected: 1,
            actual: 0
        })
    );
}

#[test]
fn out_of_range_requests_are_clear_errors() {
    let f = fixture();
    let store = f.store.view(10);
    let index_is_size = inclusion_proof(store, 10, 10).expect_err("index == size");
    let old_after_new = consistency_proof(store, 11, 10).expect_err("old > new");
    assert!(matches!(
        (&index_is_size, &old_after_new),
        (
            MerkleError::IndexOutOfRange {
                index: 10,
                size: 10
            },
            MerkleError::SizeOrder {
                old_size: 11,
                new_size: 10
            }
        )
    ));
    assert_eq!(
        [index_is_size.to_string(), old_after_new.to_string()],
        [
            "leaf index 10 is out of range for a tree of 10 leaves",
            "old tree size 11 is larger than new tree size 10"
        ]
    );
    assert!(inclusion_proof(store, 0, 0).is_err());
    assert_eq!(
        verify_inclusion(&EMPTY_ROOT, 3, 3, &[], &EMPTY_ROOT),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        ProofError::WrongLength {
            expected: 3,
            actual: 2
        }
        .to_string(),
        "proof has 2 hashes where 3 are expected"
    );
}

#[test]
fn proof_lengths_follow_the_index_arithmetic() {
    for n in 1..=MAX_SIZE as usize {
        for m in 0..n {
            let ranges = inclusion_ranges(m as u64, n as u64);
            assert_eq!(ranges.len(), Reference::path_sides(m, n).len());
        }
        for m in 1..=n {
            let ranges = consistency_ranges(m as u64, n as u64);
            // Every range is a valid input to `range_root`: aligned start.
            for (start, end) in ranges {
                assert!(start < end && end <= n as u64);
                let largest = 1u64 << (63 - (end - start).leading_zeros());
                assert_eq!(start % largest, 0, "range [{start}, {end}) is unaligned");
            }
        }
    }
}

#[test]
fn huge_trees_do_not_overflow() {
    let tree = UniformTree::new();
    let leaf = tree.by_level[0];
    let sizes = [
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 63) - 1,
        (1 << 40) + 12345,
    ];
    for &n in &sizes {
        let root = root_at(&tree, n).expect("root");
        assert_eq!(RightEdge::load(&tree, n).expect("load").root(), root);
        for m in [0, 1, n / 2, n / 3, n - 2, n - 1] {
            let proof = inclusion_proof(&tree, m, n).expect("proof");
            assert!(proof.len() <= 64);
            assert_eq!(
                verify_inclusion(&leaf, m, n, &proof, &root),
                Ok(()),
                "({m}, {n})"
            );
        }
        for old in [1, 2, 3, n / 2, n - 1, n] {
            let proof = consistency_proof(&tree, old, n).expect("proof");
            let old_root = root_at(&tree, old).expect("root");
            assert_eq!(
                verify_consistency(old, n, &old_root, &root, &proof),
                Ok(()),
                "({old}, {n})"
            );
        }
    }
}
