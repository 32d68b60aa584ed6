#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::storage::StoreFault;

use crate::storage::test_log::{self, ORIGIN, entry, signer};

/// A store whose log holds `batches` batches of `per_batch` entries, each
/// with its signed checkpoint, the writer stopped.
async fn store_with_log(batches: u64, per_batch: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 16).unwrap();
    let committer = test_log::committer(&store, signer(), 64);
    for b in 0..batches {
        let log = (0..per_batch).map(|i| entry(b * per_batch + i)).collect();
        test_log::commit_log(&committer, log).await;
    }
    drop(committer);
    store.sync().unwrap();
    (dir, store)
}

fn flip(store: &Store, index: u64) {
    let key = keys::indexed(keys::LOG_ENTRY, index);
    let mut bytes = store.tree.get(key).unwrap().unwrap().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    store.tree.insert(key, bytes).unwrap();
}

fn check(store: &Store, stop: bool) -> FullCheckOutcome {
    let (edge, _) = store.open_log(ORIGIN).unwrap();
    let (_tx, rx) = watch::channel(stop);
    FullCheck {
        store: store.clone(),
        size: edge.size(),
        root: edge.root(),
        gauges: LogVerifyGauges::default(),
        stop: rx,
    }
    .run()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_part_gives_the_same_edge_as_the_whole_log() {
    let (_dir, store) = store_with_log(4, 5).await;
    let (fast, fast_cert) = store.open_log(ORIGIN).unwrap();
    let (full, full_cert) = store.verify_log(ORIGIN).unwrap();
    // Leaf 0 records the signer key.
    assert_eq!(fast.size(), 21);
    assert_eq!((fast.size(), fast.root()), (full.size(), full.root()));
    assert_eq!(fast_cert, full_cert);
    let gauges = LogVerifyGauges::default();
    let (_tx, rx) = watch::channel(false);
    let outcome = FullCheck {
        store: store.clone(),
        size: fast.size(),
        root: fast.root(),
        gauges: gauges.clone(),
        stop: rx,
    }
    .run();
    assert_eq!(outcome, FullCheckOutcome::Verified);
    assert_eq!(gauges.state.get(), 1);
    assert_eq!(gauges.checked_entries.get(), 21);
    assert!(store.health().is_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_in_the_newest_batch_refuses_to_open() {
    let (_dir, store) = store_with_log(4, 5).await;
    flip(&store, 18);
    let err = store.open_log(ORIGIN).unwrap_err().to_string();
    assert!(
        err.contains("query log entry 18 fails verification"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_deep_in_the_log_is_found_in_the_background_and_stops_writes() {
    let (_dir, store) = store_with_log(4, 5).await;
    flip(&store, 3);
    let outcome = check(&store, false);
    let FullCheckOutcome::Failed { index, reason } = outcome else {
        panic!("not found: {outcome:?}");
    };
    assert_eq!(index, 3, "{reason}");
    assert!(!store.health().is_healthy());
    let fault = store.health().fault().unwrap();
    assert!(matches!(fault, StoreFault::LogTampered { index: 3, .. }));
    assert!(
        store.health().check_space(store.dir()).is_err(),
        "writes stay refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_older_tree_is_refused_naming_the_last_good_checkpoint() {
    let (_dir, store) = store_with_log(4, 5).await;
    // Checkpoints at 6, 11, 16 and 21 (leaf 0 records the signer key).
    // The stored hash over leaves 0..16 is replaced: the tree at the
    // previous checkpoint (16) is not the one signed there; at 11 it is.
    store
        .tree
        .insert(keys::hash_key(4, 0), &[9u8; 32][..])
        .unwrap();
    let err = store.open_log(ORIGIN).unwrap_err().to_string();
    assert!(
        err.contains("query log entry 11 fails verification"),
        "{err}"
    );
    assert!(err.contains("signed at tree size 16"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_entry_deep_in_the_log_is_found_in_the_background() {
    let (_dir, store) = store_with_log(3, 4).await;
    store
        .tree
        .remove(keys::indexed(keys::LOG_ENTRY, 2))
        .unwrap();
    let outcome = check(&store, false);
    assert!(
        matches!(outcome, FullCheckOutcome::Failed { index: 2, .. }),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_the_check_without_a_fault() {
    let (_dir, store) = store_with_log(1, PROGRESS_EVERY_TEST).await;
    let outcome = check(&store, true);
    assert!(
        matches!(outcome, FullCheckOutcome::Stopped { .. }),
        "{outcome:?}"
    );
    assert!(store.health().is_healthy());
}

const PROGRESS_EVERY_TEST: u64 = crate::storage::log::PROGRESS_EVERY + 10;
