//! Merkle tests: published RFC 6962 vectors, and roots, right edges and
//! appends at every tree size 0..=300 against the RFC reference.

use std::cell::Cell;
use std::collections::HashMap;

use super::{
    EMPTY_ROOT, Hash, MerkleError, RightEdge, leaf_hash, node_hash, root_at, root_of_leaves,
};
use crate::audit::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use crate::audit::rfc_reference::*;

#[test]
fn empty_root_is_sha256_of_nothing() {
    let f = fixture();
    assert_eq!(EMPTY_ROOT, sha256(b""));
    assert_eq!(EMPTY_ROOT, f.reference.mth(0, 0));
    assert_eq!(root_of_leaves(&[]), EMPTY_ROOT);
    assert_eq!(RightEdge::empty().root(), EMPTY_ROOT);
    assert_eq!(root_at(f.store.view(0), 0).expect("root"), EMPTY_ROOT);
    assert_eq!(f.store.reads.get(), 0);
}

#[test]
fn hashes_use_the_rfc_6962_prefixes() {
    let (left, right) = (leaf_hash(b"l"), leaf_hash(b"r"));
    assert_eq!(leaf_hash(b"l"), sha256(b"\x00l"));
    let concatenated = [&[0x01][..], &left, &right].concat();
    assert_eq!(node_hash(&left, &right), sha256(&concatenated));
}

/// The RFC 6962 test vectors published with Certificate Transparency.
#[test]
fn published_rfc_6962_vectors() {
    let entries: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    .map(unhex);
    let mut store = MemoryStore {
        hashes: HashMap::new(),
        limit: Cell::new(0),
        reads: Cell::new(0),
    };
    let mut edge = RightEdge::empty();
    for (entry, root) in entries.iter().zip(&roots) {
        store.hashes.extend(
            edge.append(leaf_hash(entry))
                .into_iter()
                .map(|(level, index, hash)| ((level, index), hash)),
        );
        assert_eq!(edge.root(), *root);
    }
    let store = store.view(8);
    let leaf = |i: usize| leaf_hash(entries[i]);
    let cases: [(u64, u64, Vec<&str>); 6] = [
        (
            0,
            8,
            vec![
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            vec![
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        // Consistency proofs below: (old size, new size, proof).
        (
            2,
            8,
            vec![
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            vec![
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            vec![
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (1, 1, vec![]),
    ];
    for (index, size, proof) in &cases[..2] {
        let proof: Vec<Hash> = proof.iter().map(|h| unhex(h)).collect();
        assert_eq!(inclusion_proof(store, *index, *size).expect("proof"), proof);
        let root = &roots[*size as usize - 1];
        assert_eq!(
            verify_inclusion(&leaf(*index as usize), *index, *size, &proof, root),
            Ok(())
        );
    }
    for (old, new, proof) in &cases[2..] {
        let proof: Vec<Hash> = proof.iter().map(|h| unhex(h)).collect();
        assert_eq!(consistency_proof(store, *old, *new).expect("proof"), proof);
        let (old_root, new_root) = (&roots[*old as usize - 1], &roots[*new as usize - 1]);
        assert_eq!(
            verify_consistency(*old, *new, old_root, new_root, &proof),
            Ok(())
        );
    }
}

#[test]
fn roots_and_edges_match_the_reference_at_every_size() {
    let f = fixture();
    for n in 0..=MAX_SIZE {
        let expected = f.reference.mth(0, n as usize);
        let edge = &f.edges[n as usize];
        assert_eq!(edge.size(), n);
        assert_eq!(edge.root(), expected, "edge root at size {n}");
        assert_eq!(root_of_leaves(&f.reference.leaves[..n as usize]), expected);
        let store = f.store.view(n);
        assert_eq!(root_at(store, n).expect("root"), expected, "root_at {n}");
        assert!(store.reads.get() <= n.count_ones() as usize);
        let loaded = RightEdge::load(f.store.view(n), n).expect("load");
        assert_eq!(&loaded, edge, "loaded edge at size {n}");
    }
}

#[test]
fn append_returns_exactly_the_newly_complete_subtrees() {
    let f = fixture();
    for n in 0..MAX_SIZE {
        let mut edge = f.edges[n as usize].clone();
        let leaf = f.reference.leaves[n as usize];
        let completed = edge.append(leaf);
        assert_eq!(completed.first(), Some(&(0, n, leaf)));
        assert_eq!(completed.len(), 1 + n.trailing_ones() as usize);
        for (level, index, hash) in completed {
            let start = (index << level) as usize;
            let end = ((index + 1) << level) as usize;
            assert_eq!(
                end,
                n as usize + 1,
                "subtree ({level}, {index}) ends at the new leaf"
            );
            assert_eq!(hash, f.reference.mth(start, end));
        }
        assert_eq!(edge, f.edges[n as usize + 1]);
    }
}

#[test]
fn store_failures_are_reported_not_guessed_around() {
    let f = fixture();
    // Asking past what is stored surfaces the store's own error.
    let store = f.store.view(10);
    for result in [
        root_at(store, 11).map(|_| ()),
        RightEdge::load(store, 12).map(|_| ()),
        inclusion_proof(store, 3, 11).map(|_| ()),
        consistency_proof(store, 3, 11).map(|_| ()),
    ] {
        match result {
            Err(MerkleError::Store(error)) => assert!(error.to_string().contains("not stored")),
            other => panic!("expected a store error, got {other:?}"),
        }
    }
}

#[test]
fn append_at_the_size_limit() {
    let tree = UniformTree::new();
    let mut full = RightEdge::load(&tree, u64::MAX).expect("load");
    let before = full.clone();
    assert!(full.append(tree.by_level[0]).is_empty());
    assert_eq!(full, before);

    let mut edge = RightEdge::load(&tree, (1 << 63) - 1).expect("load");
    let completed = edge.append(tree.by_level[0]);
    assert_eq!(completed.len(), 64);
    assert_eq!(completed.last(), Some(&(63, 0, tree.by_level[63])));
    assert_eq!(edge.size(), 1 << 63);
    assert_eq!(edge.root(), tree.by_level[63]);
}
