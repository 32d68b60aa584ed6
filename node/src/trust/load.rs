//! Reading the trust files once: the TLS material, the CRLs (one per trust
//! anchor), the node's own identity and its signer, each checked so that a
//! bad file fails naming its config key instead of silently switching
//! something off.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;

use super::{CrlInfo, TrustError, TrustState, trust_error};
use crate::config::NodeConfig;
use crate::pki::{InstitutionId, Role};
use crate::signing::{SignatureVerifier, Signer, SigningError};
use crate::tls::{TlsError, TlsMaterial};

/// Reads and checks every trust file once.
pub(super) fn read_state(config: &NodeConfig, now: SystemTime) -> Result<TrustState, TrustError> {
    let tls_files = &config.tls;
    let material = TlsMaterial::load(
        &tls_files.ca_cert,
        &tls_files.crl_files,
        &tls_files.cert,
        &tls_files.key,
    )
    .map_err(|e| tls_file_error(config, e))?;
    let crls = check_crls(config, &material)?;
    check_node_identity(config, &material)?;
    let server_config = material
        .server_config()
        .map_err(|e| trust_error("tls", e))?;
    let client_config = material
        .client_config()
        .map_err(|e| trust_error("tls", e))?;
    let client_verifier = material
        .client_verifier()
        .map_err(|e| trust_error("tls", e))?;
    let verifier = SignatureVerifier::new(material.ca_certs.clone(), material.crls.clone())
        .map_err(|e| trust_error("tls.crl_files", e))?;
    let signer = load_signer(config, &verifier, now)?;
    let digest = files_digest(config);
    Ok(TrustState {
        material,
        server_config,
        client_config,
        client_verifier,
        verifier: Arc::new(verifier),
        signer: Arc::new(signer),
        crls,
        digest,
    })
}

fn tls_file_error(config: &NodeConfig, e: TlsError) -> TrustError {
    let text = e.to_string();
    let path_of = |p: &std::path::Path| text.contains(&p.display().to_string());
    let key = if path_of(&config.tls.ca_cert) {
        "tls.ca_cert"
    } else if path_of(&config.tls.cert) {
        "tls.cert"
    } else if path_of(&config.tls.key) {
        "tls.key"
    } else {
        "tls.crl_files"
    };
    trust_error(key, text)
}

/// Every CRL file holds a CRL and every trust anchor has one: a file
/// without one must not silently turn revocation off.
fn check_crls(config: &NodeConfig, material: &TlsMaterial) -> Result<Vec<CrlInfo>, TrustError> {
    if config.tls.crl_files.is_empty() {
        return Err(trust_error(
            "tls.crl_files",
            "at least one CRL per trust anchor is required (e.g. the CA's ca.crl); without one, revocation would not be checked",
        ));
    }
    for (i, file) in config.tls.crl_files.iter().enumerate() {
        let held = crate::pki::load_crls(file)
            .map_err(|e| trust_error(&format!("tls.crl_files[{i}]"), e))?;
        if held.is_empty() {
            return Err(trust_error(
                &format!("tls.crl_files[{i}]"),
                format!("{} holds no CRL (a certificate file?)", file.display()),
            ));
        }
    }
    let infos = material
        .crls
        .iter()
        .map(|der| crl_info(der))
        .collect::<Result<Vec<_>, _>>()?;
    for anchor in &material.ca_certs {
        let (subject, raw) = subject_of(anchor)?;
        if !infos.iter().any(|c| c.1 == raw) {
            return Err(trust_error(
                "tls.crl_files",
                format!("no CRL of trust anchor {subject} is configured"),
            ));
        }
    }
    Ok(infos.into_iter().map(|(info, _)| info).collect())
}

fn crl_info(der: &[u8]) -> Result<(CrlInfo, Vec<u8>), TrustError> {
    let (_, crl) = x509_parser::parse_x509_crl(der)
        .map_err(|e| trust_error("tls.crl_files", format!("unreadable CRL: {e}")))?;
    let next_update = crl.next_update().map(|t| unix_secs(t.timestamp()));
    Ok((
        CrlInfo {
            issuer: crl.issuer().to_string(),
            next_update,
        },
        crl.issuer().as_raw().to_vec(),
    ))
}

fn subject_of(cert: &CertificateDer<'_>) -> Result<(String, Vec<u8>), TrustError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| trust_error("tls.ca_cert", format!("unreadable CA certificate: {e}")))?;
    Ok((
        parsed.subject().to_string(),
        parsed.subject().as_raw().to_vec(),
    ))
}

/// The TLS certificate must name this institution with role `node`.
fn check_node_identity(config: &NodeConfig, material: &TlsMaterial) -> Result<(), TrustError> {
    let id = material
        .identity()
        .map_err(|e| trust_error("tls.cert", e))?;
    if id.role != Role::Node || id.institution != config.institution {
        return Err(trust_error(
            "tls.cert",
            format!(
                "certificate identifies {id}, expected node:{}",
                config.institution
            ),
        ));
    }
    Ok(())
}

/// The signer must be this institution's, chained to the CA, valid now and
/// not revoked: a node must never sign what its peers will refuse.
fn load_signer(
    config: &NodeConfig,
    verifier: &SignatureVerifier,
    now: SystemTime,
) -> Result<Signer, TrustError> {
    let signer = Signer::load(&config.signer.cert, &config.signer.key)
        .map_err(|e| trust_error("signer.cert", e))?;
    check_signer_institution(signer.institution(), &config.institution)?;
    verifier
        .verify_signer_certificate(signer.certificate_der(), now)
        .map_err(|e| match e {
            SigningError::UntrustedSigner(why) => trust_error(
                "signer.cert",
                format!("{why}: install a current signer certificate (docs/operations.md)"),
            ),
            other => trust_error("signer.cert", other),
        })?;
    Ok(signer)
}

fn check_signer_institution(signer: &InstitutionId, own: &InstitutionId) -> Result<(), TrustError> {
    if signer != own {
        return Err(trust_error(
            "signer.cert",
            format!("certificate is {signer}'s signer, expected {own}"),
        ));
    }
    Ok(())
}

/// SHA-256 over the bytes of every trust file (missing files hash as empty:
/// the load that follows reports them).
fn files_digest(config: &NodeConfig) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let files = [
        &config.tls.ca_cert,
        &config.tls.cert,
        &config.tls.key,
        &config.signer.cert,
        &config.signer.key,
    ];
    for path in files.into_iter().chain(&config.tls.crl_files) {
        let bytes = std::fs::read(path).unwrap_or_default();
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(&bytes);
    }
    ctx.finish().as_ref().to_vec()
}

fn unix_secs(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
