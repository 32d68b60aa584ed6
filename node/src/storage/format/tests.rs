#![allow(clippy::unwrap_used)]

use super::*;
use crate::storage::Store;

/// A store as main wrote it before format markers: sled files, no marker.
fn previous_format_store(dir: &Path) {
    let store = Store::open(dir, 8).unwrap();
    store.tree.insert(b"Gconsent-1", b"grant".to_vec()).unwrap();
    store.sync().unwrap();
    drop(store);
    std::fs::remove_file(dir.join(MARKER)).unwrap();
}

#[test]
fn a_new_store_is_marked_current() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_and_upgrade(dir.path()).unwrap(), FormatCheck::Created);
    assert_eq!(read_marker(dir.path()).unwrap(), Some(CURRENT));
    assert_eq!(check_and_upgrade(dir.path()).unwrap(), FormatCheck::Current);
}

#[test]
fn a_previous_format_store_is_backed_up_then_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    previous_format_store(dir.path());
    let store = Store::open(dir.path(), 8).unwrap();
    assert_eq!(read_marker(dir.path()).unwrap(), Some(CURRENT));
    assert_eq!(&*store.tree.get(b"Gconsent-1").unwrap().unwrap(), b"grant");
    drop(store);
    let backups: Vec<_> = std::fs::read_dir(dir.path().join(BACKUPS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].join("db").is_file());
    assert!(
        !backups[0].join(MARKER).exists(),
        "the copy is the old format"
    );
    // The backup opens as a store of the previous format, data intact.
    let old = Store::open(&backups[0], 8).unwrap();
    assert_eq!(&*old.tree.get(b"Gconsent-1").unwrap().unwrap(), b"grant");
}

#[test]
fn a_newer_format_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    check_and_upgrade(dir.path()).unwrap();
    write_marker(dir.path(), CURRENT + 1).unwrap();
    let err = Store::open(dir.path(), 8).unwrap_err().to_string();
    assert!(err.contains(&format!("format {}", CURRENT + 1)), "{err}");
    assert!(err.contains(&format!("format {CURRENT}")), "{err}");
}

/// Copies `store` into `dir` as format 2 wrote it: an uncompressed sled
/// store, records and checkpoints as protobuf with the signer certificate
/// in each, no `K` table, marker 2.
fn as_format_2(store: &Store, dir: &Path) {
    use prost::Message;
    let db = crate::storage::open_sled(dir, sled::Config::new()).unwrap();
    let tree = db.open_tree(crate::storage::TREE).unwrap();
    for item in store.tree.iter() {
        let (key, value) = item.unwrap();
        let legacy = match key[0] {
            b'R' => store.decode_record(&value).unwrap().encode_to_vec(),
            b'C' => store.decode_checkpoint(&value).unwrap().encode_to_vec(),
            b'K' => continue,
            _ => value.to_vec(),
        };
        tree.insert(&key, legacy).unwrap();
    }
    db.flush().unwrap();
    drop((tree, db));
    write_marker(dir, 2).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_format_2_store_is_upgraded_to_compact_values_and_its_log_verifies() {
    use crate::storage::{CommitRequest, compact, test_log};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 8).unwrap();
    let signer = test_log::signer();
    let committer = test_log::committer(&store, signer.clone(), 64);
    let borrower = crate::domain::BorrowerKey::from_slice(&[9; 32]).unwrap();
    for version in 1..=3u64 {
        let write = test_log::record_write(&signer, 9, "F-1", version);
        let request = CommitRequest {
            records: vec![write],
            record_actor: "test".into(),
            log: vec![test_log::entry(version)],
            ..Default::default()
        };
        committer.commit(request).await.unwrap();
    }
    drop(committer);
    let records = store.borrower_records(&borrower).unwrap();
    let checkpoint = store.checkpoint(None).unwrap().unwrap();
    let old = tempfile::tempdir().unwrap();
    as_format_2(&store, old.path());
    let keys = store.tree.len() - 1;
    drop(store);

    let store = Store::open(old.path(), 8).unwrap();
    assert_eq!(read_marker(old.path()).unwrap(), Some(CURRENT));
    assert_eq!(store.tree.len(), keys + 1, "every key, and the certificate");
    assert_eq!(store.borrower_records(&borrower).unwrap(), records);
    assert_eq!(store.checkpoint(None).unwrap().unwrap(), checkpoint);
    for prefix in [b"R", b"C"] {
        assert!(
            store
                .tree
                .scan_prefix(prefix)
                .values()
                .all(|v| !compact::is_legacy(&v.unwrap()))
        );
    }
    assert_eq!(store.tree.scan_prefix(b"K").count(), 1);
    store.verify_log(test_log::ORIGIN).unwrap();
    // The upgraded store takes new batches.
    let committer = test_log::committer(&store, signer, 64);
    test_log::commit_log(&committer, vec![test_log::entry(9)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_format_3_store_is_counted_in_place_without_a_copy() {
    use crate::storage::test_log;
    let (dir, store, signer, committer) = test_log::fresh();
    let writes = [(1, "F-1", 1), (1, "F-1", 2), (1, "F-2", 1), (2, "F-1", 1)];
    test_log::commit_records(&committer, &signer, &writes).await;
    drop(committer);
    let counts = store.record_counts().unwrap();
    assert_eq!((counts.versions, counts.borrowers), (4, 2));
    // As format 3 left it: no counts key, marker 3.
    store.tree.remove(b"Mrecord-counts").unwrap();
    store.sync().unwrap();
    drop(store);
    write_marker(dir.path(), 3).unwrap();

    let store = Store::open(dir.path(), 8).unwrap();
    assert_eq!(read_marker(dir.path()).unwrap(), Some(CURRENT));
    assert_eq!(store.record_counts().unwrap(), counts);
    assert!(
        !dir.path().join(BACKUPS).exists(),
        "a step that only adds a key takes no copy"
    );
}
