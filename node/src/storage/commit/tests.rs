use super::*;
use crate::audit::{SubtreeHashes, verify_inclusion};
use crate::storage::test_log::{self, entry, signer};
use prost::Message;

/// Only the overlay: a miss is an error, so the test proves no store read is needed.
struct OverlayOnly<'a>(&'a ProofOverlay);

impl SubtreeHashes for OverlayOnly<'_> {
    type Error = StorageError;
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, StorageError> {
        self.0
            .hashes
            .get(&(level, index))
            .copied()
            .ok_or_else(|| StorageError::Corrupt(format!("overlay misses ({level}, {index})")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_overlays_prove_every_new_leaf_without_store_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 16).unwrap();
    let committer = test_log::committer(&store, signer(), 64);
    // Leaf 0 is the entry that records the signer key's first use.
    let mut next = 1u64;
    // Batch sizes that cross many power-of-two boundaries.
    for batch in [1usize, 1, 2, 3, 5, 8, 13, 1, 7, 31, 2, 64, 9] {
        let reply = committer
            .commit(CommitRequest {
                log: (0..batch).map(|k| entry(next + k as u64)).collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        next += batch as u64;
        assert_eq!(reply.checkpoint.size, next);
        for &leaf in &reply.leaves {
            let proof =
                crate::audit::inclusion_proof(&OverlayOnly(&reply.overlay), leaf, next).unwrap();
            assert_eq!(
                proof,
                store.inclusion_proof(leaf, next).unwrap(),
                "leaf {leaf} of {next}"
            );
            let bytes = store.log_entry(leaf).unwrap().unwrap();
            verify_inclusion(
                &crate::audit::leaf_hash(&bytes),
                leaf,
                next,
                &proof,
                &reply.checkpoint.root,
            )
            .unwrap();
        }
    }
    // Restart with another signer key: the log verifies with the key that
    // signed it, and the new key's first batch records the change.
    drop(committer);
    let (edge, cert) = store
        .verify_log("credshare.example/BANK-A/query-log")
        .unwrap();
    assert_eq!(edge.size(), next);
    let old_key = crate::pki::fingerprint(&cert.unwrap());
    let rotated = signer();
    let committer = test_log::committer(&store, rotated.clone(), 64);
    let reply = committer
        .commit(CommitRequest {
            log: vec![entry(next)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.leaves, vec![next + 1]);
    let key_entry =
        pb::LogEntry::decode(store.log_entry(next).unwrap().unwrap().as_slice()).unwrap();
    let Some(pb::log_entry::Kind::SignerKey(k)) = key_entry.kind else {
        panic!("leaf {next} is not a key entry: {key_entry:?}");
    };
    assert_eq!(
        (k.key_id.as_str(), k.previous_key_id.as_str()),
        (rotated.key_id(), old_key.as_str())
    );
    // A changed origin is refused, naming the key.
    drop(committer);
    let err = store
        .verify_log("credshare.example/BANK-X/query-log")
        .unwrap_err();
    assert!(err.to_string().contains("log.origin"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_history_pages_through_100_000_entries_about_one_borrower() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 64).unwrap();
    let committer = test_log::committer(&store, signer(), 100_000);
    let borrower = BorrowerKey::from_slice(&[7; 32]).unwrap();
    let other = BorrowerKey::from_slice(&[8; 32]).unwrap();
    for chunk in 0..10u64 {
        let mut log: Vec<LogAppend> = (0..10_000)
            .map(|k| LogAppend {
                query_index: Some(borrower),
                ..entry(chunk * 10_000 + k)
            })
            .collect();
        log.push(LogAppend {
            query_index: Some(other),
            ..entry(0)
        });
        test_log::commit_log(&committer, log).await;
    }
    let (mut from, mut seen, mut pages) = (0u64, 0usize, 0);
    loop {
        let leaves = store.query_history(&borrower, from, 10_001).unwrap();
        let more = leaves.len() > 10_000;
        seen += leaves.len().min(10_000);
        pages += 1;
        if !more {
            break;
        }
        from = leaves[10_000];
    }
    assert_eq!(seen, 100_000);
    assert_eq!(pages, 10);
    assert_eq!(store.query_history(&other, 0, 100).unwrap().len(), 10);
}

/// The release thread raises the high-water file before any reply leaves:
/// whatever a reply discloses, the file already names at least that size
/// (and never more than the store holds), under concurrent batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_leaves_after_the_high_water_names_its_checkpoint() {
    use crate::storage::high_water::HighWater;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 16).unwrap();
    let committer = test_log::committer(&store, signer(), 64);
    let mut tasks = Vec::new();
    for i in 0..400u64 {
        let (committer, store, dir) = (committer.clone(), store.clone(), dir.path().to_owned());
        tasks.push(tokio::spawn(async move {
            let request = CommitRequest {
                log: vec![entry(i)],
                ..Default::default()
            };
            let reply = committer.commit(request).await.unwrap();
            // A read racing the release thread's overwrite may see a torn
            // record (the checksum says so); read again.
            let read = move || (0..1000).find_map(|_| HighWater::read(&dir).ok());
            let mark = tokio::task::spawn_blocking(read)
                .await
                .unwrap()
                .expect("a readable high-water file")
                .expect("a high-water mark once a batch was acknowledged");
            assert!(
                mark.size >= reply.checkpoint.size,
                "{mark:?} behind {}",
                reply.checkpoint.size
            );
            assert!(
                mark.size <= store.log_size().unwrap(),
                "{mark:?} ahead of the store"
            );
            reply.batch_requests
        }));
    }
    let mut shared = 0;
    for task in tasks {
        shared = shared.max(task.await.unwrap());
    }
    assert!(shared > 1, "concurrent requests shared no batch");
    let mark = HighWater::read(dir.path()).unwrap().unwrap();
    assert_eq!(mark.size, committer.latest().size);
    assert_eq!(mark.size, store.log_size().unwrap());
}
