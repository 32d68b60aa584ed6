//! Fixtures shared by the storage unit tests: a signer, log entries and a
//! committer over a store in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use credshare_proto::v1 as pb;
use rcgen::{CertificateParams, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::signing::{Signer, SignerSlot};
use crate::storage::{CommitRequest, Committer, LogAppend, Store};

/// The log origin the storage tests sign.
pub const ORIGIN: &str = "credshare.example/BANK-A/query-log";

/// A self-signed signer certificate is enough here: the writer only signs.
pub fn signer() -> Arc<Signer> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::URI(
        "urn:credshare:signer:BANK-A".try_into().unwrap(),
    )];
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der = CertificateDer::from(cert.der().to_vec());
    let pkcs8 = PrivatePkcs8KeyDer::from(key.serialize_der());
    Arc::new(Signer::from_der(der, &pkcs8.into()).unwrap())
}

/// Log entry `i`: an admin mutation that names its number.
pub fn entry(i: u64) -> LogAppend {
    LogAppend {
        entry: pb::LogEntry {
            time_ms: i as i64,
            kind: Some(pb::log_entry::Kind::Admin(pb::AdminMutationEntry {
                actor: "test".into(),
                action: format!("entry {i}"),
                ..Default::default()
            })),
        },
        query_index: None,
    }
}

/// The writer over `store`, signing with `signer` under [`ORIGIN`].
pub fn committer(store: &Store, signer: Arc<Signer>, max_batch: usize) -> Committer {
    Committer::start(
        store.clone(),
        Arc::new(SignerSlot::new(signer)),
        ORIGIN.into(),
        max_batch,
    )
    .unwrap()
}

/// Commits `log` as one request with nothing else in it.
pub async fn commit_log(committer: &Committer, log: Vec<LogAppend>) {
    committer
        .commit(CommitRequest {
            log,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Version `version` of credit record `record_id` of borrower `[borrower; 32]`,
/// signed by `signer`; checked against the version before it.
pub fn record_write(
    signer: &Signer,
    borrower: u8,
    record_id: &str,
    version: u64,
) -> crate::storage::RecordWrite {
    let payload = format!("{record_id} version {version}").into_bytes();
    let record = pb::StoredRecord {
        content_sha256: ring::digest::digest(&ring::digest::SHA256, &payload)
            .as_ref()
            .to_vec(),
        envelope: Some(signer.sign_envelope(crate::signing::CREDIT_SUMMARY_TYPE, payload)),
        stored_at_ms: 1000 + version as i64,
    };
    crate::storage::RecordWrite {
        borrower_key: crate::domain::BorrowerKey::from_slice(&[borrower; 32]).unwrap(),
        kind: crate::storage::RecordKind::Credit,
        record_id: record_id.into(),
        version,
        record,
        base_version: (version > 1).then(|| version - 1),
    }
}

/// A new store in a temporary directory with its writer and signer.
pub fn fresh() -> (tempfile::TempDir, Store, Arc<Signer>, Committer) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 8).unwrap();
    let signer = signer();
    let committer = committer(&store, signer.clone(), 64);
    (dir, store, signer, committer)
}

/// Commits one request storing [`record_write`] of each (borrower, record
/// id, version).
pub async fn commit_records(committer: &Committer, signer: &Signer, writes: &[(u8, &str, u64)]) {
    let records = writes
        .iter()
        .map(|&(b, id, v)| record_write(signer, b, id, v))
        .collect();
    committer
        .commit(CommitRequest {
            records,
            record_actor: "test".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}
