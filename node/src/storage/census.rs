//! Where the store's bytes go: keys and bytes of keys and values per key
//! type, beside sled's own figure for its files. For `credshare bench
//! scale`, which shows it so that bytes per record and per log entry stay
//! measurable; also useful on a stopped node when a store grows.

use serde::Serialize;

use super::keys;
use super::{StorageError, Store};

/// Keys of one type (one key prefix of the tree) and their bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyTypeFigures {
    /// The key prefix, as a character (`R`, `L`, …).
    pub prefix: char,
    /// What these keys hold.
    pub name: &'static str,
    pub keys: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

/// The whole store, per key type.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreCensus {
    /// One row per key prefix present, in prefix order.
    pub key_types: Vec<KeyTypeFigures>,
    /// Keys and values of the node's tree, summed.
    pub live_bytes: u64,
    /// sled's own figure for its files (`Db::size_on_disk`).
    pub sled_bytes_on_disk: u64,
}

impl StoreCensus {
    /// The row for `prefix`, if any key has it.
    pub fn key_type(&self, prefix: u8) -> Option<&KeyTypeFigures> {
        self.key_types
            .iter()
            .find(|k| k.prefix == char::from(prefix))
    }
}

/// What the keys with `prefix` hold (see the table in `storage/mod.rs`).
fn name_of(prefix: u8) -> &'static str {
    match prefix {
        keys::RECORD => "record versions",
        keys::LOG_ENTRY => "log entries",
        keys::HASH => "Merkle subtree hashes",
        keys::CHECKPOINT => "signed checkpoints",
        keys::QUERY_INDEX => "peer-query index",
        keys::GRANT => "consent grants",
        keys::REVOCATION => "revocations",
        keys::OUTBOX => "revocation outbox",
        keys::ANNOTATION => "annotations",
        keys::CERTIFICATE => "signer certificates",
        _ => "other",
    }
}

impl Store {
    /// Counts every key of the tree by prefix. One full scan, O(n) reads;
    /// meant for a stopped node or a benchmark, not for a request path.
    pub fn census(&self) -> Result<StoreCensus, StorageError> {
        let mut rows: Vec<KeyTypeFigures> = Vec::new();
        for item in self.tree.iter() {
            let (key, value) = item?;
            let prefix = key.first().copied().unwrap_or(0);
            let row = match rows.last_mut() {
                Some(row) if row.prefix == char::from(prefix) => row,
                _ => {
                    rows.push(KeyTypeFigures {
                        prefix: char::from(prefix),
                        name: name_of(prefix),
                        ..Default::default()
                    });
                    rows.last_mut().ok_or(StorageError::Closed)?
                }
            };
            row.keys += 1;
            row.key_bytes += key.len() as u64;
            row.value_bytes += value.len() as u64;
        }
        let live_bytes = rows.iter().map(|r| r.key_bytes + r.value_bytes).sum();
        Ok(StoreCensus {
            key_types: rows,
            live_bytes,
            sled_bytes_on_disk: self.db.size_on_disk()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keys_and_bytes_per_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 16).unwrap();
        store.tree.insert(b"Labc", &[1u8; 10][..]).unwrap();
        store.tree.insert(b"Lxyz", &[1u8; 5][..]).unwrap();
        store.tree.insert(b"R1", &[0u8; 7][..]).unwrap();
        let census = store.census().unwrap();
        let log = census.key_type(keys::LOG_ENTRY).unwrap();
        assert_eq!((log.keys, log.key_bytes, log.value_bytes), (2, 8, 15));
        let records = census.key_type(keys::RECORD).unwrap();
        assert_eq!(
            (records.keys, records.key_bytes, records.value_bytes),
            (1, 2, 7)
        );
        assert_eq!(census.live_bytes, 8 + 15 + 2 + 7);
        assert!(census.key_type(keys::HASH).is_none());
    }
}
