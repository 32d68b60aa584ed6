//! Key types and key files: P-256 TLS identities, Ed25519 signers, PKCS#8
//! v1 files every stack reads, and old PKCS#8 v2 Ed25519 files still loading.

use std::sync::Arc;

use credshare_node::tls::TlsMaterial;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, ServerName, UnixTime};

use super::*;
use crate::pki::keys::{ed25519_seed, ed25519_v1, pkcs8_version};

/// AlgorithmIdentifier of a P-256 key: id-ecPublicKey, prime256v1.
const P256_ALGORITHM: [u8; 21] = [
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];

/// The DER inside a key file, checking the PEM label.
fn key_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let PrivateKeyDer::Pkcs8(der) = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap() else {
        panic!("{}: not PKCS#8", path.display())
    };
    der.secret_pkcs8_der().to_vec()
}

/// Asserts `path` holds a PKCS#8 v1 key of `key_type` that ring reads.
fn assert_v1_key(path: &Path, key_type: KeyType) {
    let der = key_der(path);
    assert_eq!(pkcs8_version(&der), Some(0), "{}", path.display());
    match key_type {
        KeyType::Ed25519 => {
            // Exactly version, algorithm and seed: no [1] public key.
            let seed = ed25519_seed(&der).unwrap();
            assert_eq!(der, ed25519_v1(&seed), "{}", path.display());
            assert_eq!(der.len(), 48);
            assert!(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).is_ok());
            // ring's strict parser wants v2: proves this is not v2.
            assert!(Ed25519KeyPair::from_pkcs8(&der).is_err());
        }
        KeyType::P256 => {
            let algorithm = der
                .windows(P256_ALGORITHM.len())
                .position(|w| w == P256_ALGORITHM);
            // After the SEQUENCE header (long-form length) and version 0.
            assert_eq!(algorithm, Some(6), "{}", path.display());
            let rng = ring::rand::SystemRandom::new();
            let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
            assert!(ring::signature::EcdsaKeyPair::from_pkcs8(alg, &der, &rng).is_ok());
        }
    }
}

/// Ed25519 PKCS#8 v2 exactly as ring (and so `credshare pki` before v1
/// files) writes it: version 1, then the public key as `[1] IMPLICIT BIT
/// STRING`.
fn ring_v2(seed: &[u8; 32]) -> Vec<u8> {
    let public = Ed25519KeyPair::from_seed_unchecked(seed).unwrap();
    let mut der = vec![0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b];
    der.extend_from_slice(&[0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
    der.extend_from_slice(seed);
    der.extend_from_slice(&[0x81, 0x21, 0x00]);
    der.extend_from_slice(public.public_key().as_ref());
    der
}

/// Rewrites an Ed25519 key file as the PKCS#8 v2 file older versions wrote.
fn downgrade_to_v2(path: &Path) {
    let seed = ed25519_seed(&key_der(path)).unwrap();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ring_v2(&seed));
    let (first, rest) = b64.split_at(64);
    std::fs::write(
        path,
        format!("-----BEGIN PRIVATE KEY-----\n{first}\n{rest}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    assert_eq!(pkcs8_version(&key_der(path)), Some(1));
}

#[test]
fn ring_v2_helper_matches_ring_and_seeds_round_trip() {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let seed = ed25519_seed(doc.as_ref()).unwrap();
    assert_eq!(ring_v2(&seed), doc.as_ref());
    assert_eq!(ed25519_seed(&ed25519_v1(&seed)).unwrap(), seed);
    let from_v1 = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&ed25519_v1(&seed)).unwrap();
    let from_v2 = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    assert_eq!(from_v1.public_key().as_ref(), from_v2.public_key().as_ref());
    for bad in [
        &b""[..],
        &[0x30, 0x00],
        &doc.as_ref()[..40],
        &ring_v2(&seed)[..20],
    ] {
        assert!(ed25519_seed(bad).is_err(), "{bad:02x?}");
    }
}

#[test]
fn dev_consortium_keys_are_pkcs8_v1_p256_with_ed25519_signers() {
    let tmp = tempfile::tempdir().unwrap();
    dev_consortium(tmp.path()).unwrap();
    assert_v1_key(&tmp.path().join("ca/ca.key"), KeyType::P256);
    let ca = describe_certificate(&tmp.path().join("ca/ca.crt")).unwrap();
    assert_eq!(ca.key_type, Some(KeyType::P256));
    assert_eq!(ca.signature_algorithm, "ecdsa-with-SHA256");
    assert!(ca.to_string().contains("ECDSA P-256 (p256)"), "{ca}");
    let mut files = vec![("REG-1", "regulator", KeyType::P256)];
    for bank in ["BANK-A", "BANK-B", "BANK-C"] {
        files.push((bank, "node", KeyType::P256));
        files.push((bank, "admin", KeyType::P256));
        files.push((bank, "signer", KeyType::Ed25519));
    }
    for (dir, role, key_type) in files {
        let dir = tmp.path().join(dir);
        assert_v1_key(&dir.join(format!("{role}.key")), key_type);
        let report = describe_certificate(&dir.join(format!("{role}.crt"))).unwrap();
        assert_eq!(report.key_type, Some(key_type), "{role}");
        // The P-256 CA signs every certificate, Ed25519 signers included.
        assert_eq!(report.signature_algorithm, "ecdsa-with-SHA256", "{role}");
    }
    let crl = load_crls(&tmp.path().join("ca/ca.crl")).unwrap().remove(0);
    let (_, crl) = CertificateRevocationList::from_der(&crl).unwrap();
    assert_eq!(
        crl.signature_algorithm.algorithm,
        x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256
    );
}

#[test]
fn ed25519_key_type_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    dev_consortium_with_key_type(tmp.path(), KeyType::Ed25519).unwrap();
    assert_v1_key(&tmp.path().join("ca/ca.key"), KeyType::Ed25519);
    for role in ["node", "admin", "signer"] {
        assert_v1_key(
            &tmp.path().join(format!("BANK-A/{role}.key")),
            KeyType::Ed25519,
        );
        let report = describe_certificate(&tmp.path().join(format!("BANK-A/{role}.crt")));
        let report = report.unwrap();
        assert_eq!(report.key_type, Some(KeyType::Ed25519));
        assert_eq!(report.signature_algorithm, "Ed25519");
    }
    let ca_dir = tmp.path().join("ca");
    let signer = Signer::load(
        &tmp.path().join("BANK-A/signer.crt"),
        &tmp.path().join("BANK-A/signer.key"),
    )
    .unwrap();
    let env = signer.sign_envelope(CREDIT_SUMMARY_TYPE, b"record".to_vec());
    let verified = verifier(&ca_dir).verify(&env, CREDIT_SUMMARY_TYPE, None, SystemTime::now());
    assert!(verified.is_ok(), "{verified:?}");
    // An Ed25519 CA still recognises (and revokes) its own certificates.
    let node = tmp.path().join("BANK-A/node.crt");
    assert!(
        !revoke(&ca_dir, &node, RevocationReason::Superseded)
            .unwrap()
            .already_revoked
    );
}

#[test]
fn signers_are_always_ed25519() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let mut params = IssueParams::new(&ca_dir, Role::Signer, inst("BANK-A"), tmp.path());
    params.key_type = Some(KeyType::P256);
    let err = issue(&params).unwrap_err().to_string();
    assert!(err.contains("signer keys are always Ed25519"), "{err}");
    assert!(!tmp.path().join("signer.key").exists());
    params.key_type = Some(KeyType::Ed25519);
    assert_eq!(issue(&params).unwrap().key_type, KeyType::Ed25519);

    // A P-256 admin and an Ed25519 node from the same P-256 CA.
    let mut admin = IssueParams::new(&ca_dir, Role::Admin, inst("BANK-A"), tmp.path());
    admin.key_type = Some(KeyType::P256);
    assert_eq!(issue(&admin).unwrap().key_type, KeyType::P256);
    let mut node = IssueParams::new(&ca_dir, Role::Node, inst("BANK-A"), tmp.path());
    node.key_type = Some(KeyType::Ed25519);
    assert_eq!(issue(&node).unwrap().key_type, KeyType::Ed25519);
}

#[test]
fn key_type_flags_parse() {
    let parse = |args: &[&str]| TestCli::try_parse_from(args.iter().copied());
    let cli = parse(&["pki", "init-ca", "--dir", "d", "--name", "n"]).unwrap();
    let PkiCommand::InitCa(args) = cli.command else {
        panic!("init-ca")
    };
    assert_eq!(args.key_type, KeyType::P256);
    let cli = parse(&[
        "pki",
        "dev-consortium",
        "--dir",
        "d",
        "--key-type",
        "ed25519",
    ]);
    let PkiCommand::DevConsortium(args) = cli.unwrap().command else {
        panic!("dev-consortium")
    };
    assert_eq!(args.key_type, KeyType::Ed25519);
    let issue = [
        "pki",
        "issue",
        "--ca",
        "c",
        "--role",
        "node",
        "--institution",
        "BANK-A",
        "--out",
        "o",
    ];
    let PkiCommand::Issue(args) = parse(&issue).unwrap().command else {
        panic!("issue")
    };
    assert_eq!(args.key_type, None);
    let err = parse(&[&issue[..], &["--key-type", "rsa"]].concat()).unwrap_err();
    assert!(err.to_string().contains("p256"), "{err}");
}

#[test]
fn old_pkcs8_v2_ed25519_keys_still_load() {
    credshare_node::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    // A CA made before v1 files: its v2 key still issues and revokes.
    let ca_dir = new_ca_of(tmp.path(), KeyType::Ed25519);
    downgrade_to_v2(&ca_dir.join("ca.key"));
    let out = tmp.path().join("BANK-A");
    let signer = issue_role(&ca_dir, Role::Signer, "BANK-A", &out);
    let mut admin = IssueParams::new(&ca_dir, Role::Admin, inst("BANK-A"), &out);
    admin.key_type = Some(KeyType::Ed25519);
    let admin = issue(&admin).unwrap();

    // The node's signer loads a v2 signing key and signs verifiable envelopes.
    downgrade_to_v2(&signer.key_path);
    let key = credshare_node::pki::load_private_key(&signer.key_path).unwrap();
    assert!(matches!(key, PrivateKeyDer::Pkcs8(_)));
    let loaded = Signer::load(&signer.cert_path, &signer.key_path).unwrap();
    let env = loaded.sign_envelope(CREDIT_SUMMARY_TYPE, b"record".to_vec());
    let verified = verifier(&ca_dir).verify(&env, CREDIT_SUMMARY_TYPE, None, SystemTime::now());
    assert_eq!(verified.unwrap().key_id, signer.fingerprint);

    // rustls loads a v2 TLS key.
    downgrade_to_v2(&admin.key_path);
    let material = TlsMaterial::load(
        &ca_dir.join("ca.crt"),
        &[ca_dir.join("ca.crl")],
        &admin.cert_path,
        &admin.key_path,
    )
    .unwrap();
    assert!(material.client_config().is_ok());
    let outcome = revoke(&ca_dir, &admin.cert_path, RevocationReason::Superseded).unwrap();
    assert_eq!(outcome.serial, admin.serial);
}

#[test]
fn key_files_of_other_kinds_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    std::fs::remove_file(ca_dir.join("ca.key")).unwrap();
    std::fs::copy(ca_dir.join("ca.crt"), ca_dir.join("ca.key")).unwrap();
    let params = IssueParams::new(&ca_dir, Role::Node, inst("BANK-A"), tmp.path());
    let err = issue(&params).unwrap_err().to_string();
    assert!(
        err.contains("ca.key") && err.contains("no private key"),
        "{err}"
    );
}

#[test]
fn tls_verification_by_key_type_and_signers_never_do_tls() {
    for key_type in [KeyType::P256, KeyType::Ed25519] {
        let tmp = tempfile::tempdir().unwrap();
        let ca_dir = new_ca_of(tmp.path(), key_type);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(load_certs(&ca_dir.join("ca.crt")).unwrap().remove(0))
            .unwrap();
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let clients = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .unwrap();
        let servers = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap();
        let cert_of = |role: Role, dns: &[&str]| {
            let out = tmp.path().join(role.as_str());
            let mut params = IssueParams::new(&ca_dir, role, inst("BANK-A"), &out);
            params.dns_names = dns.iter().map(|d| d.to_string()).collect();
            params.key_type = (role != Role::Signer).then_some(key_type);
            let path = issue(&params).unwrap().cert_path;
            load_certs(&path).unwrap().remove(0)
        };
        let now = UnixTime::now();
        let localhost = ServerName::try_from("localhost").unwrap();

        let node = cert_of(Role::Node, &["localhost"]);
        assert!(clients.verify_client_cert(&node, &[], now).is_ok());
        let as_server = servers.verify_server_cert(&node, &[], &localhost, &[], now);
        assert!(as_server.is_ok(), "{key_type}: {as_server:?}");
        let admin = cert_of(Role::Admin, &[]);
        assert!(clients.verify_client_cert(&admin, &[], now).is_ok());

        let signer = cert_of(Role::Signer, &[]);
        assert!(clients.verify_client_cert(&signer, &[], now).is_err());
        let server_name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let as_server = servers.verify_server_cert(&signer, &[], &server_name, &[], now);
        assert!(as_server.is_err(), "{key_type}");
    }
}
