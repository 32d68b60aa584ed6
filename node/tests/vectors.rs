//! Test vectors of the wire contract (`docs/protocol.md`), checked in under
//! `docs/vectors/`: a consent grant and a credit record as DSSE envelopes, a
//! log leaf and its hash, a signed C2SP checkpoint, and inclusion and
//! consistency proofs. This test regenerates them with the node's own code
//! and fails when the code and the checked-in files disagree; set
//! `CREDSHARE_UPDATE_VECTORS=1` to rewrite them after an intended change.
//!
//! Every key here is a published test key: never use it for anything else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use credshare_node::audit::{
    self, Checkpoint, Hash, RightEdge, SubtreeHashes, consistency_proof, inclusion_proof, leaf_hash,
};
use credshare_node::signing::{self, CONSENT_GRANT_TYPE, CREDIT_SUMMARY_TYPE, Signer};
use credshare_proto::v1 as pb;
use prost::Message;
use rcgen::{CertificateParams, DnType, KeyPair, KeyUsagePurpose, SanType, SerialNumber};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// The test signer's Ed25519 seed (RFC 8032 test 1's secret key).
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const ORIGIN: &str = "credshare.example/BANK-A/query-log";
/// The signing time the vector envelopes state.
const SIGNED_AT_MS: i64 = 1_796_000_000_000;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors")
}

/// PKCS#8 v1 (RFC 5208) of an Ed25519 seed.
fn pkcs8_v1(seed: &[u8]) -> Vec<u8> {
    let mut der = hex::decode("302e020100300506032b657004220420").unwrap();
    der.extend_from_slice(seed);
    der
}

/// A self-signed `signer` certificate of BANK-A with fixed fields, so its
/// DER (and the DSSE key id, its SHA-256) never changes.
fn signer() -> (Signer, Vec<u8>) {
    let pkcs8 = pkcs8_v1(&hex::decode(SEED).unwrap());
    let key = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(pkcs8.clone()),
        &rcgen::PKCS_ED25519,
    )
    .unwrap();
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from(1u64));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "BANK-A signer (test vector)");
    params.subject_alt_names = vec![SanType::URI(
        "urn:credshare:signer:BANK-A".try_into().unwrap(),
    )];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    let signer = Signer::from_der(
        CertificateDer::from(der.clone()),
        &PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
    )
    .unwrap();
    (signer, der)
}

/// An envelope as a vector: every intermediate the verifier recomputes.
fn envelope_vector(env: &pb::SignedEnvelope, public_key: &[u8]) -> Value {
    let sig = &env.signatures[0];
    json!({
        "payload_type": env.payload_type,
        "payload_hex": hex::encode(&env.payload),
        "payload_sha256_hex": hex::encode(signing::sha256(&env.payload)),
        "pae_hex": hex::encode(signing::pae(&env.payload_type, &env.payload)),
        "signer_public_key_hex": hex::encode(public_key),
        "keyid": sig.keyid,
        "sig_base64": B64.encode(&sig.sig),
        "signed_at_ms": sig.signed_at_ms,
        "certificate_base64": B64.encode(&sig.certificate),
        "envelope_protobuf_base64": B64.encode(env.encode_to_vec()),
        "dsse_json": {
            "payloadType": env.payload_type,
            "payload": B64.encode(&env.payload),
            "signatures": [{"keyid": sig.keyid, "sig": B64.encode(&sig.sig)}],
        },
    })
}

fn grant_vector(signer: &Signer, public_key: &[u8]) -> Value {
    let grant = pb::ConsentGrant {
        consent_id: "BANK-A-MB5Q2X0K-0123456789ABCDEF".into(),
        borrower_key: vec![0x42; 32],
        key_generation: 0,
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::PostLoanManagement as i32],
        scope: pb::Scope::Detail as i32,
        not_before_ms: 1_796_000_000_000,
        not_after_ms: 1_803_776_000_000,
        authorization_sha256: signing::sha256(b"signed authorization letter"),
        issued_at_ms: 1_796_000_000_000,
    };
    let env = signer.sign_envelope_at(CONSENT_GRANT_TYPE, grant.encode_to_vec(), SIGNED_AT_MS);
    envelope_vector(&env, public_key)
}

fn record_vector(signer: &Signer, public_key: &[u8]) -> Value {
    let credit = pb::CreditSummary {
        facility_id: "LN-2026-000123".into(),
        version: 1,
        institution_id: "BANK-A".into(),
        borrower_key: vec![0x42; 32],
        facility_type: pb::FacilityType::WorkingCapital as i32,
        currency: "CNY".into(),
        contract_amount: 500_000_000,
        outstanding_balance: 320_000_000,
        open_date: "2026-03-01".into(),
        maturity_date: "2027-03-01".into(),
        guarantee_type: pb::GuaranteeType::Mortgage as i32,
        risk_class: pb::RiskClass::Normal as i32,
        account_status: pb::AccountStatus::Active as i32,
        as_of_date: "2026-11-30".into(),
        ..Default::default()
    };
    let env = signer.sign_envelope_at(CREDIT_SUMMARY_TYPE, credit.encode_to_vec(), SIGNED_AT_MS);
    envelope_vector(&env, public_key)
}

/// The entries of the vector log: leaf 0 is a peer query, the others short.
fn entries() -> Vec<Vec<u8>> {
    let query = pb::LogEntry {
        time_ms: 1_796_000_000_000,
        kind: Some(pb::log_entry::Kind::PeerQuery(pb::PeerQueryEntry {
            requester_institution: "BANK-B".into(),
            borrower_key: vec![0x42; 32],
            purpose: pb::Purpose::PostLoanManagement as i32,
            scope: pb::Scope::Summary as i32,
            consent_id: "BANK-B-MB5Q2X0K-FEDCBA9876543210".into(),
            decision: pb::Decision::Answered as i32,
            response_sha256: signing::sha256(b"answer bytes"),
            disclosed_records: 2,
            request_nonce: vec![1, 2, 3, 4],
            ..Default::default()
        })),
    };
    let mut out = vec![query.encode_to_vec()];
    out.extend((1..7).map(|i| format!("entry {i}").into_bytes()));
    out
}

/// Complete-subtree hashes of the vector log.
#[derive(Default)]
struct Hashes(HashMap<(u8, u64), Hash>);

impl SubtreeHashes for Hashes {
    type Error = std::io::Error;
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash, std::io::Error> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or_else(|| std::io::Error::other("missing hash"))
    }
}

fn log_vectors(signer: &Signer, public_key: &[u8]) -> (Value, Value, Value) {
    let entries = entries();
    let mut edge = RightEdge::empty();
    let mut hashes = Hashes::default();
    let mut roots = Vec::new();
    for e in &entries {
        for (level, index, hash) in edge.append(leaf_hash(e)) {
            hashes.0.insert((level, index), hash);
        }
        roots.push(edge.root());
    }
    let leaf = json!({
        "entry_hex": hex::encode(&entries[0]),
        "leaf_hash_hex": hex::encode(leaf_hash(&entries[0])),
        "rule": "SHA-256(0x00 || entry bytes)",
    });
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: 7,
        root: roots[6],
        timestamp_ms: Some(1_796_000_000_000),
        extensions: Vec::new(),
    };
    let note = checkpoint.sign(ORIGIN, signer.key_pair());
    let checkpoint = json!({
        "origin": ORIGIN,
        "tree_size": 7,
        "root_hash_base64": B64.encode(roots[6]),
        "body": checkpoint.body(),
        "key_name": ORIGIN,
        "signer_public_key_hex": hex::encode(public_key),
        "key_id_hex": hex::encode(audit::key_id(ORIGIN, public_key)),
        "signed_note": note,
    });
    let inclusion = inclusion_proof(&hashes, 3, 7).unwrap();
    let consistency = consistency_proof(&hashes, 4, 7).unwrap();
    let proofs = json!({
        "entries_hex": entries.iter().map(hex::encode).collect::<Vec<_>>(),
        "roots_by_size_hex": roots.iter().map(hex::encode).collect::<Vec<_>>(),
        "inclusion": {
            "leaf_index": 3,
            "tree_size": 7,
            "leaf_hash_hex": hex::encode(leaf_hash(&entries[3])),
            "hashes_hex": inclusion.iter().map(hex::encode).collect::<Vec<_>>(),
        },
        "consistency": {
            "old_size": 4,
            "new_size": 7,
            "hashes_hex": consistency.iter().map(hex::encode).collect::<Vec<_>>(),
        },
    });
    (leaf, checkpoint, proofs)
}

#[test]
fn checked_in_vectors_match_the_code() {
    let (signer, _) = signer();
    let public_key = ring::signature::KeyPair::public_key(signer.key_pair())
        .as_ref()
        .to_vec();
    let (leaf, checkpoint, proofs) = log_vectors(&signer, &public_key);
    let vectors = [
        ("grant.json", grant_vector(&signer, &public_key)),
        ("record.json", record_vector(&signer, &public_key)),
        ("log-leaf.json", leaf),
        ("checkpoint.json", checkpoint),
        ("proofs.json", proofs),
    ];
    let update = std::env::var_os("CREDSHARE_UPDATE_VECTORS").is_some();
    let dir = vectors_dir();
    let mut stale = Vec::new();
    for (name, value) in vectors {
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "docs/vectors disagree with the code: {stale:?}; if the change is intended, \
         run CREDSHARE_UPDATE_VECTORS=1 cargo test -p credshare-node --test vectors"
    );
}

/// The vectors verify with nothing but their own published fields.
#[test]
fn vectors_verify_independently() {
    let dir = vectors_dir();
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    for name in ["grant.json", "record.json"] {
        let v = read(name);
        let pae = hex::decode(v["pae_hex"].as_str().unwrap()).unwrap();
        let sig = B64.decode(v["sig_base64"].as_str().unwrap()).unwrap();
        let key = hex::decode(v["signer_public_key_hex"].as_str().unwrap()).unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
            .verify(&pae, &sig)
            .unwrap();
        let cert = B64
            .decode(v["certificate_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(v["keyid"], hex::encode(signing::sha256(&cert)));
    }
    let cp = read("checkpoint.json");
    let key = hex::decode(cp["signer_public_key_hex"].as_str().unwrap()).unwrap();
    let parsed = Checkpoint::verify(cp["signed_note"].as_str().unwrap(), ORIGIN, &key).unwrap();
    let proofs = read("proofs.json");
    let root = |size: usize| -> Hash {
        let text = proofs["roots_by_size_hex"][size - 1].as_str().unwrap();
        hex::decode(text).unwrap().try_into().unwrap()
    };
    assert_eq!(parsed.root, root(7));
    let hashes = |v: &Value| -> Vec<Hash> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect()
    };
    let leaf: Hash = hex::decode(proofs["inclusion"]["leaf_hash_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    audit::verify_inclusion(
        &leaf,
        3,
        7,
        &hashes(&proofs["inclusion"]["hashes_hex"]),
        &root(7),
    )
    .unwrap();
    audit::verify_consistency(
        4,
        7,
        &root(4),
        &root(7),
        &hashes(&proofs["consistency"]["hashes_hex"]),
    )
    .unwrap();
}
