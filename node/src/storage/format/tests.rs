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
