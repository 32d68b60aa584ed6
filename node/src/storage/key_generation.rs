//! Which borrower key generation the store's keys are of (docs/design.md
//! §3). A store holds one generation, so keys of two generations never
//! share its records, consents or indexes: the node refuses to start when
//! its configuration serves another generation than the store holds.
//!
//! The marker is the key `M` ‖ `key-generation` (value: u32 BE), written
//! only for an OPRF generation and only into a store that holds no borrower
//! key yet. A store without it holds generation 1 (every store written
//! before generations existed), or nothing keyed at all.

use super::keys::{QUERY_INDEX, RECORD};
use super::{StorageError, Store};
use crate::domain::borrower::KeyGeneration;

/// The marker's key.
const MARKER: &[u8] = b"Mkey-generation";
/// Prefixes of values keyed by (or holding) a borrower key: records, the
/// peer-query index, issued grants, annotations.
const KEYED: [u8; 4] = [RECORD, QUERY_INDEX, b'G', b'N'];

impl Store {
    /// Binds the store to `served`: checks the marker, or writes it into a
    /// store holding no borrower key. Refuses (`KeyGeneration`) a store of
    /// another generation. Blocking; call before the writer starts.
    pub fn bind_key_generation(&self, served: KeyGeneration) -> Result<(), StorageError> {
        let stored = match self.tree.get(MARKER)? {
            Some(v) => Some(decode(&v)?),
            None if self.holds_borrower_keys()? => Some(KeyGeneration::HMAC),
            None => None,
        };
        match stored {
            Some(stored) if stored != served => Err(StorageError::KeyGeneration {
                dir: self.dir().display().to_string(),
                stored: stored.get(),
                served: served.get(),
            }),
            Some(_) => Ok(()),
            None if served.is_oprf() => {
                self.tree.insert(MARKER, &served.get().to_be_bytes())?;
                self.sync()
            }
            None => Ok(()),
        }
    }

    /// The generation the store's keys are of (generation 1 without a marker).
    pub fn key_generation(&self) -> Result<KeyGeneration, StorageError> {
        match self.tree.get(MARKER)? {
            Some(v) => decode(&v),
            None => Ok(KeyGeneration::HMAC),
        }
    }

    fn holds_borrower_keys(&self) -> Result<bool, StorageError> {
        for prefix in KEYED {
            if self
                .tree
                .scan_prefix([prefix])
                .next()
                .transpose()?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn decode(value: &[u8]) -> Result<KeyGeneration, StorageError> {
    <[u8; 4]>::try_from(value)
        .ok()
        .map(u32::from_be_bytes)
        .and_then(|g| KeyGeneration::try_from(g).ok())
        .ok_or_else(|| StorageError::Corrupt("the key generation marker is not a u32 ≥ 1".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_fresh_store_binds_to_an_oprf_generation_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let two = KeyGeneration::FIRST_OPRF;
        store.bind_key_generation(two).unwrap();
        assert_eq!(store.key_generation().unwrap(), two);
        store.bind_key_generation(two).unwrap();
        let e = store.bind_key_generation(KeyGeneration::HMAC).unwrap_err();
        assert!(
            matches!(
                e,
                StorageError::KeyGeneration {
                    stored: 2,
                    served: 1,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_store_with_records_and_no_marker_is_generation_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        store.bind_key_generation(KeyGeneration::HMAC).unwrap();
        assert!(
            store.tree.get(MARKER).unwrap().is_none(),
            "no marker for generation 1"
        );
        store.tree.insert([RECORD, 1, 2], b"x".as_slice()).unwrap();
        store.bind_key_generation(KeyGeneration::HMAC).unwrap();
        let e = store
            .bind_key_generation(KeyGeneration::FIRST_OPRF)
            .unwrap_err();
        assert!(e.to_string().contains("generation 1"), "{e}");
        assert!(
            e.to_string().contains("borrower_keys.generation = 2"),
            "{e}"
        );
        assert!(store.tree.get(MARKER).unwrap().is_none(), "nothing written");
    }
}
