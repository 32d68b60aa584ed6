//! CLI PKI tests: real files in temporary directories.
#![allow(clippy::unwrap_used)] // Tests may panic on a broken fixture.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::Parser;
use credshare_node::pki::{InstitutionId, Role, load_certs, load_crls};
use credshare_node::signing::{CREDIT_SUMMARY_TYPE, SignatureVerifier, Signer, SigningError};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::*;
use crate::commands::pki::PkiCommand;

mod key_types;

fn inst(id: &str) -> InstitutionId {
    InstitutionId::parse(id).unwrap()
}

fn new_ca(dir: &Path) -> PathBuf {
    new_ca_of(dir, KeyType::P256)
}

fn new_ca_of(dir: &Path, key_type: KeyType) -> PathBuf {
    let ca_dir = dir.join("ca");
    init_ca(&ca_dir, "Test Consortium CA", 3650, key_type).unwrap();
    ca_dir
}

fn issue_role(ca_dir: &Path, role: Role, id: &str, out: &Path) -> IssuedCertificate {
    issue(&IssueParams::new(ca_dir, role, inst(id), out)).unwrap()
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
}

#[cfg(not(unix))]
fn assert_private(_: &Path) {}

/// (CRL number, revoked serials in hex) of a PEM CRL file.
fn read_crl(path: &Path) -> (u64, Vec<String>) {
    let der = load_crls(path).unwrap().remove(0);
    let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
    let number = crl.crl_number().unwrap().to_u64_digits();
    let serials = crl
        .iter_revoked_certificates()
        .map(|r| hex::encode(r.raw_serial()))
        .collect();
    (number.first().copied().unwrap_or(0), serials)
}

fn verifier(ca_dir: &Path) -> SignatureVerifier {
    SignatureVerifier::new(
        load_certs(&ca_dir.join("ca.crt")).unwrap(),
        load_crls(&ca_dir.join("ca.crl")).unwrap(),
    )
    .unwrap()
}

#[test]
fn init_ca_writes_a_ca_an_empty_crl_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    assert_private(&ca_dir.join("ca.key"));
    let report = describe_certificate(&ca_dir.join("ca.crt")).unwrap();
    assert!(report.is_ca);
    assert_eq!(report.key_usages, ["keyCertSign", "cRLSign"]);
    assert!(report.identity.is_none());
    assert!(report.subject.contains("Test Consortium CA"));
    assert_eq!(read_crl(&ca_dir.join("ca.crl")), (1, vec![]));
    let state = std::fs::read_to_string(ca_dir.join("ca-state.json")).unwrap();
    assert!(state.contains("\"next_crl_number\": 2"), "{state}");
}

#[test]
fn init_ca_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let key_before = std::fs::read(ca_dir.join("ca.key")).unwrap();
    let err = init_ca(&ca_dir, "Again", 10, KeyType::P256)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ca.key exists; refusing to overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read(ca_dir.join("ca.key")).unwrap(), key_before);
}

#[test]
fn issue_applies_each_role_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let out = tmp.path().join("BANK-A");
    let expected: [(Role, &[&str], &[&str]); 4] = [
        (
            Role::Node,
            &["digitalSignature"],
            &["serverAuth", "clientAuth"],
        ),
        (Role::Admin, &["digitalSignature"], &["clientAuth"]),
        (Role::Regulator, &["digitalSignature"], &["clientAuth"]),
        (
            Role::Signer,
            &["digitalSignature", "nonRepudiation"],
            &["documentSigning"],
        ),
    ];
    for (role, key_usages, ekus) in expected {
        let issued = issue_role(&ca_dir, role, "BANK-A", &out);
        assert_private(&issued.key_path);
        assert_eq!(issued.cert_path, out.join(format!("{role}.crt")));
        assert!(issued.serial.len() >= 16, "serial {}", issued.serial);
        let report = describe_certificate(&issued.cert_path).unwrap();
        assert_eq!(
            report.identity.as_deref(),
            Some(format!("urn:credshare:{role}:BANK-A").as_str())
        );
        assert_eq!(report.role.as_deref(), Some(role.as_str()));
        assert_eq!(report.institution.as_deref(), Some("BANK-A"));
        assert!(
            report.subject.contains(&format!("CN={role} BANK-A")),
            "{}",
            report.subject
        );
        assert!(report.subject.contains("O=BANK-A"), "{}", report.subject);
        assert_eq!(report.key_usages, key_usages, "{role}");
        assert_eq!(report.extended_key_usages, ekus, "{role}");
        assert!(!report.is_ca && !report.expired && !report.not_yet_valid);
        assert_eq!(report.fingerprint_sha256, issued.fingerprint);
        let key_type = match role {
            Role::Signer => KeyType::Ed25519,
            _ => KeyType::P256,
        };
        assert_eq!(
            (report.key_type, issued.key_type),
            (Some(key_type), key_type),
            "{role}"
        );
        assert_eq!(report.signature_algorithm, "ecdsa-with-SHA256", "{role}");
    }
    assert_eq!(
        std::fs::read(out.join("ca.crt")).unwrap(),
        std::fs::read(ca_dir.join("ca.crt")).unwrap()
    );
}

#[test]
fn issued_signer_signs_envelopes_the_node_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let out = tmp.path().join("BANK-A");
    let issued = issue_role(&ca_dir, Role::Signer, "BANK-A", &out);
    let signer = Signer::load(&issued.cert_path, &issued.key_path).unwrap();
    let env = signer.sign_envelope(CREDIT_SUMMARY_TYPE, b"record".to_vec());
    let verified = verifier(&ca_dir)
        .verify(
            &env,
            CREDIT_SUMMARY_TYPE,
            Some(&inst("BANK-A")),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(verified.key_id, issued.fingerprint);
}

#[test]
fn node_certificates_carry_host_names() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let mut params = IssueParams::new(&ca_dir, Role::Node, inst("BANK-B"), tmp.path());
    params.dns_names = vec!["localhost".into(), "bank-b.example".into()];
    params.ip_addresses = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let issued = issue(&params).unwrap();
    let report = describe_certificate(&issued.cert_path).unwrap();
    assert_eq!(report.dns_names, ["localhost", "bank-b.example"]);
    assert_eq!(report.ip_addresses, ["127.0.0.1", "::1"]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["identity"], "urn:credshare:node:BANK-B");
}

#[test]
fn explicit_dates_make_expired_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let cli = TestCli::try_parse_from([
        "pki",
        "issue",
        "--ca",
        ca_dir.to_str().unwrap(),
        "--role",
        "signer",
        "--institution",
        "BANK-A",
        "--not-before",
        "2020-01-01",
        "--not-after",
        "2021-01-01",
        "--out",
        tmp.path().to_str().unwrap(),
    ])
    .unwrap();
    cli.command.run(&crate::output::Output::default()).unwrap();
    let cert = tmp.path().join("signer.crt");
    let report = describe_certificate(&cert).unwrap();
    assert!(report.expired);
    assert!(
        report.not_after.starts_with("2021-01-01T00:00:00"),
        "{}",
        report.not_after
    );

    let signer = Signer::load(&cert, &tmp.path().join("signer.key")).unwrap();
    let env = signer.sign_envelope(CREDIT_SUMMARY_TYPE, b"record".to_vec());
    let result = verifier(&ca_dir).verify(&env, CREDIT_SUMMARY_TYPE, None, SystemTime::now());
    assert!(
        matches!(result, Err(SigningError::UntrustedSigner(_))),
        "{result:?}"
    );
}

#[test]
fn issue_refuses_to_overwrite_and_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    issue_role(&ca_dir, Role::Admin, "BANK-A", tmp.path());
    let again = issue(&IssueParams::new(
        &ca_dir,
        Role::Admin,
        inst("BANK-A"),
        tmp.path(),
    ));
    let err = again.unwrap_err().to_string();
    assert!(
        err.contains("admin.crt exists; refusing to overwrite"),
        "{err}"
    );

    let mut signer = IssueParams::new(&ca_dir, Role::Signer, inst("BANK-A"), tmp.path());
    signer.dns_names = vec!["localhost".into()];
    assert!(
        issue(&signer)
            .unwrap_err()
            .to_string()
            .contains("not used for TLS")
    );

    let mut too_long = IssueParams::new(&ca_dir, Role::Node, inst("BANK-A"), tmp.path());
    too_long.days = Some(365 * 20);
    assert!(
        issue(&too_long)
            .unwrap_err()
            .to_string()
            .contains("outlive the CA")
    );

    let no_ca = IssueParams::new(
        &tmp.path().join("nope"),
        Role::Node,
        inst("BANK-A"),
        tmp.path(),
    );
    assert!(issue(&no_ca).unwrap_err().to_string().contains("ca.key"));
}

#[derive(Debug, clap::Parser)]
struct TestCli {
    #[command(subcommand)]
    command: PkiCommand,
}

#[test]
fn bad_institution_id_is_refused_by_name() {
    let err = TestCli::try_parse_from([
        "pki",
        "issue",
        "--ca",
        "ca",
        "--role",
        "node",
        "--institution",
        "bank-a",
        "--out",
        "o",
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("bank-a"), "{err}");
    assert!(err.contains("--institution"), "{err}");
    assert!(
        err.contains("must be 2-32 characters of A-Z, 0-9 and '-'"),
        "{err}"
    );
}

#[test]
fn revoke_puts_the_serial_in_a_new_crl() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let issued = issue_role(&ca_dir, Role::Signer, "BANK-A", tmp.path());
    let signer = Signer::load(&issued.cert_path, &issued.key_path).unwrap();
    let env = signer.sign_envelope(CREDIT_SUMMARY_TYPE, b"record".to_vec());
    assert!(
        verifier(&ca_dir)
            .verify(&env, CREDIT_SUMMARY_TYPE, None, SystemTime::now())
            .is_ok()
    );

    let outcome = revoke(&ca_dir, &issued.cert_path, RevocationReason::KeyCompromise).unwrap();
    assert_eq!(outcome.serial, issued.serial);
    assert!(!outcome.already_revoked);
    assert_eq!(outcome.crl_number, 2);
    assert_eq!(
        read_crl(&ca_dir.join("ca.crl")),
        (2, vec![issued.serial.clone()])
    );
    let result = verifier(&ca_dir).verify(&env, CREDIT_SUMMARY_TYPE, None, SystemTime::now());
    assert!(
        matches!(result, Err(SigningError::UntrustedSigner(_))),
        "{result:?}"
    );

    // Revoking again changes nothing but the CRL number; so does a refresh.
    let again = revoke(&ca_dir, &issued.cert_path, RevocationReason::Superseded).unwrap();
    assert!(again.already_revoked);
    assert_eq!(refresh_crl(&ca_dir, None).unwrap(), 4);
    assert_eq!(read_crl(&ca_dir.join("ca.crl")), (4, vec![issued.serial]));
}

#[test]
fn revoke_refuses_certificates_of_another_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = new_ca(tmp.path());
    let other_ca = new_ca(&tmp.path().join("other"));
    let foreign = issue_role(&other_ca, Role::Node, "BANK-A", &tmp.path().join("foreign"));
    let err = revoke(&ca_dir, &foreign.cert_path, RevocationReason::Unspecified)
        .unwrap_err()
        .to_string();
    assert!(err.contains("was not issued by the CA"), "{err}");
    assert_eq!(read_crl(&ca_dir.join("ca.crl")), (1, vec![]));
}

#[test]
fn revoke_reason_names_follow_rfc_5280() {
    let cli = TestCli::try_parse_from([
        "pki",
        "revoke",
        "--ca",
        "ca",
        "--cert",
        "c.crt",
        "--reason",
        "keyCompromise",
    ])
    .unwrap();
    let PkiCommand::Revoke(args) = cli.command else {
        panic!("revoke")
    };
    assert_eq!(args.reason, RevocationReason::KeyCompromise);
}

#[test]
fn dev_consortium_makes_every_institution() {
    let tmp = tempfile::tempdir().unwrap();
    dev_consortium(tmp.path()).unwrap();
    for file in [
        "ca/ca.crt",
        "ca/ca.key",
        "ca/ca.crl",
        "REG-1/regulator.crt",
        "REG-1/ca.crt",
    ] {
        assert!(tmp.path().join(file).is_file(), "{file}");
    }
    for bank in ["BANK-A", "BANK-B", "BANK-C"] {
        for role in ["node", "admin", "signer"] {
            let report = describe_certificate(&tmp.path().join(format!("{bank}/{role}.crt")));
            assert_eq!(
                report.unwrap().identity.unwrap(),
                format!("urn:credshare:{role}:{bank}")
            );
            assert_private(&tmp.path().join(format!("{bank}/{role}.key")));
        }
        let node = describe_certificate(&tmp.path().join(format!("{bank}/node.crt"))).unwrap();
        assert_eq!(
            (node.dns_names, node.ip_addresses),
            (vec!["localhost".into()], vec!["127.0.0.1".into()])
        );
    }
    let err = dev_consortium(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("refusing to overwrite"), "{err}");
}
