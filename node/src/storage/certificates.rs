//! The signer certificates that compact values refer to (`K ‖ ref` →
//! DER, see [`super::compact`]): written once, in the same batch as the
//! first value that refers to them, never changed; read through a cache
//! filled only from the tree. Also the upgrade of format-2 values in place.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use credshare_proto::v1 as pb;

use super::compact::{self, CertRef, StoredCertificate};
use super::keys;
use super::{StorageError, Store};

/// Certificates read from the `K` table (never ahead of the tree).
#[derive(Debug, Default)]
pub(crate) struct CertificateCache {
    by_ref: RwLock<HashMap<CertRef, Arc<StoredCertificate>>>,
}

/// `K ‖ ref`.
pub(crate) fn certificate_key(reference: &CertRef) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = keys::CERTIFICATE;
    k[1..].copy_from_slice(reference);
    k
}

impl Store {
    /// The certificate stored under `reference`; an error names a missing
    /// or mismatching one (a damaged store).
    pub(crate) fn certificate(
        &self,
        reference: &CertRef,
    ) -> Result<Arc<StoredCertificate>, StorageError> {
        let cached = self
            .certs
            .by_ref
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
            .cloned();
        if let Some(cert) = cached {
            return Ok(cert);
        }
        let der = self.tree.get(certificate_key(reference))?.ok_or_else(|| {
            StorageError::Corrupt(format!(
                "missing signer certificate {}",
                hex::encode(reference)
            ))
        })?;
        let cert = Arc::new(StoredCertificate::new(der.to_vec()));
        if &cert.reference() != reference {
            return Err(StorageError::Corrupt(format!(
                "signer certificate {} does not match its reference",
                hex::encode(reference)
            )));
        }
        self.certs
            .by_ref
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*reference, cert.clone());
        Ok(cert)
    }

    /// Whether the tree holds the certificate `reference`.
    pub(crate) fn has_certificate(&self, reference: &CertRef) -> Result<bool, StorageError> {
        let cached = self
            .certs
            .by_ref
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(reference);
        Ok(cached || self.tree.contains_key(certificate_key(reference))?)
    }

    /// Decodes a stored record version of either format.
    pub(crate) fn decode_record(&self, value: &[u8]) -> Result<pb::StoredRecord, StorageError> {
        compact::decode_record(value, &|r| self.certificate(r))
    }

    /// Decodes a stored checkpoint of either format, with its certificate.
    pub(crate) fn decode_checkpoint(
        &self,
        value: &[u8],
    ) -> Result<pb::GetCheckpointResponse, StorageError> {
        let (note, signer) = compact::decode_checkpoint(value)?;
        let signer_certificate = match signer {
            compact::CheckpointSigner::Der(der) => der,
            compact::CheckpointSigner::Ref(r) => self.certificate(&r)?.der.clone(),
        };
        Ok(pb::GetCheckpointResponse {
            checkpoint: Some(pb::Checkpoint { signed_note: note }),
            signer_certificate,
        })
    }
}

/// A re-encoded value and the certificates (DER) it refers to.
type Upgraded = (Vec<u8>, Vec<Vec<u8>>);

/// The compact form of a format-2 `R` or `C` value, with the certificates
/// it refers to; `None` for any other key or an already compact value.
pub(crate) fn upgrade_value(key: &[u8], value: &[u8]) -> Result<Option<Upgraded>, StorageError> {
    if !compact::is_legacy(value) {
        return Ok(None);
    }
    match key.first() {
        Some(&keys::RECORD) => {
            let record = compact::decode_record(value, &|_| {
                Err(StorageError::Corrupt(
                    "format-2 record with a reference".into(),
                ))
            })?;
            let (bytes, certs) = compact::encode_record(&record);
            Ok(Some((
                bytes,
                certs.into_iter().map(<[u8]>::to_vec).collect(),
            )))
        }
        Some(&keys::CHECKPOINT) => {
            let (note, signer) = compact::decode_checkpoint(value)?;
            let compact::CheckpointSigner::Der(der) = signer else {
                return Ok(None);
            };
            Ok(Some((compact::encode_checkpoint(&note, &der), vec![der])))
        }
        _ => Ok(None),
    }
}

/// Values re-encoded per sled batch by [`upgrade_tree`].
const UPGRADE_BATCH: usize = 10_000;

/// Re-encodes every format-2 record and checkpoint of `tree` compactly,
/// in batches, each certificate in the batch of the first value that needs
/// it. Resumable: values already compact are skipped. Returns how many
/// values changed.
pub(crate) fn upgrade_tree(tree: &sled::Tree) -> Result<u64, StorageError> {
    let mut known: HashSet<Vec<u8>> = tree
        .scan_prefix([keys::CERTIFICATE])
        .keys()
        .map(|k| k.map(|k| k[1..].to_vec()))
        .collect::<Result<_, _>>()?;
    let items = tree
        .scan_prefix([keys::RECORD])
        .chain(tree.scan_prefix([keys::CHECKPOINT]));
    write_upgraded(items, tree, &mut known, false)
}

/// Writes `items` into `dest` in batches: format-2 records and checkpoints
/// re-encoded (each certificate not in `known` added in the same batch),
/// other pairs as they are when `copy_others`. Returns the pairs written.
pub(crate) fn write_upgraded(
    items: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    dest: &sled::Tree,
    known: &mut HashSet<Vec<u8>>,
    copy_others: bool,
) -> Result<u64, StorageError> {
    let (mut batch, mut in_batch, mut written) = (sled::Batch::default(), 0, 0u64);
    for item in items {
        let (key, value) = item?;
        match upgrade_value(&key, &value)? {
            Some((bytes, certs)) => {
                for der in certs {
                    let reference = compact::cert_ref(&der);
                    if known.insert(reference.to_vec()) {
                        batch.insert(&certificate_key(&reference)[..], der);
                    }
                }
                batch.insert(key, bytes);
            }
            None if copy_others => batch.insert(key, value),
            None => continue,
        }
        (in_batch, written) = (in_batch + 1, written + 1);
        if in_batch == UPGRADE_BATCH {
            dest.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    dest.apply_batch(batch)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prost::Message;

    use super::*;
    use crate::storage::test_log;

    /// What a format-2 backup's `store.kv` holds: a record and a checkpoint
    /// as protobuf, each with the signer certificate.
    fn legacy_pairs(
        signer: &crate::signing::Signer,
    ) -> (pb::StoredRecord, pb::GetCheckpointResponse) {
        let payload = b"credit summary".to_vec();
        let record = pb::StoredRecord {
            content_sha256: ring::digest::digest(&ring::digest::SHA256, &payload)
                .as_ref()
                .to_vec(),
            envelope: Some(signer.sign_envelope(crate::signing::CREDIT_SUMMARY_TYPE, payload)),
            stored_at_ms: 7,
        };
        let checkpoint = pb::GetCheckpointResponse {
            checkpoint: Some(pb::Checkpoint {
                signed_note: "origin\n1\nroot\n".into(),
            }),
            signer_certificate: signer.certificate_der().to_vec(),
        };
        (record, checkpoint)
    }

    #[test]
    fn format_2_values_are_upgraded_in_place_once_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let signer = test_log::signer();
        let (record, checkpoint) = legacy_pairs(&signer);
        store
            .tree
            .insert(b"Rrecord", record.encode_to_vec())
            .unwrap();
        store
            .tree
            .insert(b"C00000001", checkpoint.encode_to_vec())
            .unwrap();
        store.tree.insert(b"L00000000", &b"entry"[..]).unwrap();

        assert_eq!(upgrade_tree(&store.tree).unwrap(), 2);
        let stored = store.tree.get(b"Rrecord").unwrap().unwrap();
        assert!(!compact::is_legacy(&stored));
        assert_eq!(store.decode_record(&stored).unwrap(), record);
        let stored = store.tree.get(b"C00000001").unwrap().unwrap();
        assert_eq!(store.decode_checkpoint(&stored).unwrap(), checkpoint);
        assert_eq!(&*store.tree.get(b"L00000000").unwrap().unwrap(), b"entry");
        assert_eq!(store.tree.scan_prefix([keys::CERTIFICATE]).count(), 1);
        // Resumed after a crash: nothing left to change.
        assert_eq!(upgrade_tree(&store.tree).unwrap(), 0);
    }

    #[test]
    fn a_value_naming_a_missing_certificate_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (record, _) = legacy_pairs(&test_log::signer());
        let (value, _) = compact::encode_record(&record);
        let err = store.decode_record(&value).unwrap_err().to_string();
        assert!(err.contains("missing signer certificate"), "{err}");
    }
}
