//! TLS interoperability: a client that offers only the handshake signature
//! schemes BoringSSL offers by default — no Ed25519, as in grpcio, every gRPC
//! C-core language and netty-tcnative — completes mTLS with the default
//! (P-256) consortium certificates, and cannot with Ed25519 ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use credshare_cli::federation::{NodeProgram, Site};
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, bin, credshare};
use credshare_node::tls::TlsMaterial;
use rustls::SignatureScheme;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// ring's provider with Ed25519 (and Ed448) removed from the handshake
/// signature schemes: the `signature_algorithms` a BoringSSL client sends.
/// Certificate-chain algorithms stay as they are, so a failure can only come
/// from the handshake signature, the `NoSignatureSchemesInCommon` users saw.
fn boringssl_like_provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    let algorithms = provider.signature_verification_algorithms;
    let mapping: Vec<_> = algorithms
        .mapping
        .iter()
        .copied()
        .filter(|(scheme, _)| !matches!(scheme, SignatureScheme::ED25519 | SignatureScheme::ED448))
        .collect();
    provider.signature_verification_algorithms = WebPkiSupportedAlgorithms {
        all: algorithms.all,
        // A test process builds a handful of these; leaking them is fine.
        mapping: mapping.leak(),
    };
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    assert!(!schemes.contains(&SignatureScheme::ED25519), "{schemes:?}");
    assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
    Arc::new(provider)
}

/// A client config like `TlsMaterial::client_config`, but restricted to
/// [`boringssl_like_provider`].
fn restricted_client(material: &TlsMaterial) -> Arc<rustls::ClientConfig> {
    let provider = boringssl_like_provider();
    let mut roots = rustls::RootCertStore::empty();
    for ca in &material.ca_certs {
        roots.add(ca.clone()).unwrap();
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(material.crls.clone())
        .build()
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(material.cert_chain.clone(), material.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// gRPC health check over an mTLS channel made with `config`.
async fn health(config: Arc<rustls::ClientConfig>, addr: SocketAddr) -> anyhow::Result<i32> {
    let channel = credshare_node::tls::connect_channel(
        config,
        &addr.to_string(),
        None,
        None,
        Duration::from_secs(5),
    )
    .await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.into_inner().status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_ed25519_completes_mtls_with_default_certificates() {
    let c = Consortium::new().unwrap();
    let node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let serving = tonic_health::ServingStatus::Serving as i32;
    let callers = [
        ("BANK-A", "admin", node.admin_addr),
        ("BANK-C", "node", node.peer_addr),
        ("REG-1", "regulator", node.peer_addr),
    ];
    for (institution, role, addr) in callers {
        let material = c.tls(institution, role).unwrap();
        let status = health(restricted_client(&material), addr).await;
        assert_eq!(
            status.unwrap(),
            serving,
            "{role} of {institution} at {addr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_ed25519_cannot_reach_an_ed25519_node() {
    credshare_node::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let secret = tmp.path().join("consortium.secret");
    let (pki_s, secret_s) = (pki.display().to_string(), secret.display().to_string());
    credshare(&[
        "pki",
        "dev-consortium",
        "--dir",
        &pki_s,
        "--key-type",
        "ed25519",
    ])
    .unwrap();
    credshare(&["consortium-secret", "generate", "--out", &secret_s]).unwrap();
    let site = Site {
        certs_root: pki.clone(),
        secret,
        work_root: tmp.path().to_path_buf(),
        program: NodeProgram::node_binary(bin("credshare-node")),
    };
    let node = NodeProcess::start(&site, &NodeSpec::new("BANK-A")).unwrap();
    let material = TlsMaterial::load(
        &pki.join("ca/ca.crt"),
        &[pki.join("ca/ca.crl")],
        &pki.join("BANK-A/admin.crt"),
        &pki.join("BANK-A/admin.key"),
    )
    .unwrap();

    // The node itself is fine: a client that offers Ed25519 gets in.
    let serving = tonic_health::ServingStatus::Serving as i32;
    let full = health(material.client_config().unwrap(), node.admin_addr).await;
    assert_eq!(full.unwrap(), serving);

    let restricted = health(restricted_client(&material), node.admin_addr).await;
    assert!(
        restricted.is_err(),
        "a client without Ed25519 completed a handshake with an Ed25519 node"
    );
    // The node logs the refusal from its accept task, a moment after the
    // client saw the failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !node.log().contains("NoSignatureSchemesInCommon") {
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not log why: {}",
            node.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
