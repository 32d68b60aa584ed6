use super::*;
use crate::audit::{SubtreeHashes, verify_inclusion};
use rcgen::{CertificateParams, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// A self-signed signer certificate is enough here: the writer only signs.
fn signer() -> Arc<Signer> {
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

fn entry(i: u64) -> LogAppend {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_overlays_prove_every_new_leaf_without_store_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 16).unwrap();
    let committer = Committer::start(
        store.clone(),
        signer(),
        "credshare.example/BANK-A/query-log".into(),
        64,
    )
    .unwrap();
    let mut next = 0u64;
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
    // Restart: the log verifies against its newest signed checkpoint.
    drop(committer);
    let signer = signer();
    let public = ring::signature::KeyPair::public_key(signer.key_pair())
        .as_ref()
        .to_vec();
    let err = store
        .verify_log("credshare.example/BANK-A/query-log", &public)
        .unwrap_err();
    assert!(
        err.to_string().contains("newest checkpoint"),
        "another key cannot pass: {err}"
    );
}
