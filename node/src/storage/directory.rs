//! The discovery service's holder directory: which institutions hold which
//! pseudonym. Two keys per holding, written in the same atomic batch as
//! the log entry that records the change:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `D` | pseudonym (32) ‖ institution | (empty) holders of a pseudonym |
//! | `E` | institution ‖ 0x00 ‖ pseudonym (32) | (empty) pseudonyms of a holder |

use std::collections::BTreeMap;

use super::{StorageError, Store};

/// One change of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryWrite {
    Register {
        pseudonym: [u8; 32],
        institution: String,
    },
    Withdraw {
        pseudonym: [u8; 32],
        institution: String,
    },
}

fn holder_key(pseudonym: &[u8; 32], institution: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + institution.len());
    k.push(b'D');
    k.extend_from_slice(pseudonym);
    k.extend_from_slice(institution.as_bytes());
    k
}

fn holding_key(institution: &str, pseudonym: &[u8; 32]) -> Vec<u8> {
    let mut k = holdings_prefix(institution);
    k.extend_from_slice(pseudonym);
    k
}

fn holdings_prefix(institution: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(34 + institution.len());
    k.push(b'E');
    k.extend_from_slice(institution.as_bytes());
    k.push(0);
    k
}

impl DirectoryWrite {
    pub(crate) fn apply(&self, batch: &mut sled::Batch) {
        match self {
            DirectoryWrite::Register {
                pseudonym,
                institution,
            } => {
                batch.insert(holder_key(pseudonym, institution), &[][..]);
                batch.insert(holding_key(institution, pseudonym), &[][..]);
            }
            DirectoryWrite::Withdraw {
                pseudonym,
                institution,
            } => {
                batch.remove(holder_key(pseudonym, institution));
                batch.remove(holding_key(institution, pseudonym));
            }
        }
    }
}

impl Store {
    /// Institutions holding `pseudonym`, sorted.
    pub fn holders(&self, pseudonym: &[u8; 32]) -> Result<Vec<String>, StorageError> {
        let mut prefix = vec![b'D'];
        prefix.extend_from_slice(pseudonym);
        self.tree
            .scan_prefix(&prefix)
            .keys()
            .map(|k| {
                let k = k?;
                String::from_utf8(k[33..].to_vec())
                    .map_err(|_| StorageError::Corrupt("directory key is not UTF-8".into()))
            })
            .collect()
    }

    /// Whether `institution` has registered `pseudonym`.
    pub fn holds(&self, institution: &str, pseudonym: &[u8; 32]) -> Result<bool, StorageError> {
        Ok(self
            .tree
            .contains_key(holding_key(institution, pseudonym))?)
    }

    /// Pseudonyms registered per institution. One scan of `E`: O(n).
    pub fn holdings(&self) -> Result<BTreeMap<String, u64>, StorageError> {
        let mut counts = BTreeMap::new();
        for k in self.tree.scan_prefix(b"E").keys() {
            let k = k?;
            let end = k.len().saturating_sub(33);
            let inst = String::from_utf8(k[1..end].to_vec())
                .map_err(|_| StorageError::Corrupt("directory key is not UTF-8".into()))?;
            *counts.entry(inst).or_insert(0u64) += 1;
        }
        Ok(counts)
    }

    /// Distinct pseudonyms in the directory. One scan of `D`: O(n).
    pub fn pseudonym_count(&self) -> Result<u64, StorageError> {
        let mut count = 0u64;
        let mut last: Option<[u8; 32]> = None;
        for k in self.tree.scan_prefix(b"D").keys() {
            let k = k?;
            let p: [u8; 32] = k[1..33]
                .try_into()
                .map_err(|_| StorageError::Corrupt("short directory key".into()))?;
            if last != Some(p) {
                count += 1;
                last = Some(p);
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::CommitRequest;
    use crate::storage::test_log::{committer, entry, signer};

    fn reg(p: u8, inst: &str) -> DirectoryWrite {
        DirectoryWrite::Register {
            pseudonym: [p; 32],
            institution: inst.into(),
        }
    }

    /// Directory writes land with the log entry of the same request, and
    /// the reads see exactly what is registered.
    #[tokio::test]
    async fn registrations_and_withdrawals_are_applied_with_their_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let writer = committer(&store, signer(), 64);
        let commit = |directory: Vec<DirectoryWrite>| {
            writer.commit(CommitRequest {
                log: vec![entry(1)],
                directory,
                ..Default::default()
            })
        };
        commit(vec![reg(1, "BANK-A"), reg(1, "BANK-B"), reg(2, "BANK-A")])
            .await
            .unwrap();
        assert_eq!(store.holders(&[1; 32]).unwrap(), ["BANK-A", "BANK-B"]);
        assert!(store.holds("BANK-B", &[1; 32]).unwrap());
        assert!(!store.holds("BANK-B", &[2; 32]).unwrap());
        assert_eq!(store.pseudonym_count().unwrap(), 2);
        let withdraw = DirectoryWrite::Withdraw {
            pseudonym: [1; 32],
            institution: "BANK-A".into(),
        };
        commit(vec![withdraw]).await.unwrap();
        assert_eq!(store.holders(&[1; 32]).unwrap(), ["BANK-B"]);
        let held = store.holdings().unwrap();
        assert_eq!(held.get("BANK-A"), Some(&1));
        assert_eq!(held.get("BANK-B"), Some(&1));
        assert_eq!(
            store.log_size().unwrap(),
            3,
            "a signer-key entry and two entries"
        );
    }
}
