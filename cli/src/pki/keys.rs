//! Key types and the private-key file format every stack reads.
//!
//! TLS identities (CA, `node`, `admin`, `regulator`) are ECDSA P-256 by
//! default: BoringSSL-based stacks (grpcio, every gRPC C-core language,
//! netty-tcnative) offer no Ed25519 signature scheme in TLS. Signer keys are
//! always Ed25519 (DSSE envelopes and C2SP checkpoints).
//!
//! Every key is written as a PEM `PRIVATE KEY` in PKCS#8 v1 form (RFC 5208,
//! version 0, no public key), which OpenSSL 3.0, Python `cryptography`, Go
//! and Java all read. ring generates Ed25519 keys as PKCS#8 v2 (version 1,
//! with the public key), which several of those refuse, so Ed25519 documents
//! are re-encoded here. Loading accepts both versions: older deployments hold
//! v2 files.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use rcgen::KeyPair;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;

use super::files;

/// The key algorithm of a certificate `credshare pki` makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// ECDSA on NIST P-256, signatures with SHA-256: every TLS stack.
    #[default]
    #[value(name = "p256")]
    P256,
    /// Ed25519: only where every member's TLS stack supports it; always
    /// the signer's key type.
    #[value(name = "ed25519")]
    Ed25519,
}

impl KeyType {
    /// The `--key-type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The algorithm, for people ("ECDSA P-256", "Ed25519").
    pub fn description(self) -> &'static str {
        match self {
            Self::P256 => "ECDSA P-256",
            Self::Ed25519 => "Ed25519",
        }
    }

    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// The type of a loaded key, if it is one `credshare pki` makes.
    fn of(key: &KeyPair) -> Option<Self> {
        [Self::P256, Self::Ed25519]
            .into_iter()
            .find(|t| key.algorithm() == t.algorithm())
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fresh key pair of `key_type`.
pub(super) fn generate(key_type: KeyType) -> anyhow::Result<KeyPair> {
    KeyPair::generate_for(key_type.algorithm())
        .with_context(|| format!("generating an {} key", key_type.description()))
}

/// The PEM `PRIVATE KEY` (PKCS#8 v1) of `key`, as written to key files.
pub(super) fn private_key_pem(key: &KeyPair) -> anyhow::Result<String> {
    let der = match KeyType::of(key) {
        Some(KeyType::Ed25519) => ed25519_v1(&ed25519_seed(key.serialized_der())?),
        Some(KeyType::P256) => {
            // ring writes ECDSA keys as v1 already (the public key sits inside
            // the ECPrivateKey, which every reader accepts); check, don't trust.
            let der = key.serialized_der().to_vec();
            if pkcs8_version(&der) != Some(0) {
                bail!("the generated P-256 key is not a PKCS#8 v1 document");
            }
            der
        }
        None => bail!("unsupported key algorithm {:?}", key.algorithm()),
    };
    Ok(pem("PRIVATE KEY", &der))
}

/// Loads a PKCS#8 key file (v1 or v2) and says which type it is.
pub(super) fn load(path: &Path) -> anyhow::Result<(KeyPair, KeyType)> {
    let pem = files::read_text(path)?;
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: no private key in it: {e}", path.display()))?;
    if !matches!(der, PrivateKeyDer::Pkcs8(_)) {
        bail!(
            "{}: not a PKCS#8 key (expected a PEM \"PRIVATE KEY\")",
            path.display()
        );
    }
    let key = KeyPair::try_from(&der).map_err(|e| {
        anyhow::anyhow!(
            "{}: not an ECDSA P-256 or Ed25519 PKCS#8 key: {e}",
            path.display()
        )
    })?;
    let key_type = KeyType::of(&key).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: {:?} keys are not supported; use P-256 or Ed25519",
            path.display(),
            key.algorithm()
        )
    })?;
    Ok((key, key_type))
}

/// DER prefix of an Ed25519 PKCS#8 v1 document (RFC 8410 §7): SEQUENCE,
/// version 0, AlgorithmIdentifier id-Ed25519, OCTET STRING { OCTET STRING
/// of the 32-byte seed }.
const ED25519_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of AlgorithmIdentifier { id-Ed25519 } content (no parameters).
const ED25519_ALGORITHM: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

/// The PKCS#8 v1 document of an Ed25519 seed.
pub(super) fn ed25519_v1(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = ED25519_V1_PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

/// The seed of an Ed25519 PKCS#8 document, v1 or v2, read by walking its
/// DER (the trailing attributes and public key of v2 are skipped).
pub(super) fn ed25519_seed(pkcs8: &[u8]) -> anyhow::Result<[u8; 32]> {
    let bad = |what: &str| anyhow::anyhow!("not an Ed25519 PKCS#8 document: {what}");
    let info = match der_element(pkcs8) {
        Some((0x30, info, [])) => info,
        _ => return Err(bad("not one DER SEQUENCE")),
    };
    let rest = match der_element(info) {
        Some((0x02, [0] | [1], rest)) => rest,
        _ => return Err(bad("version is not 0 or 1")),
    };
    let rest = match der_element(rest) {
        Some((0x30, algorithm, rest)) if algorithm == ED25519_ALGORITHM => rest,
        _ => return Err(bad("algorithm is not Ed25519")),
    };
    let private_key = match der_element(rest) {
        Some((0x04, private_key, _attributes_and_public_key)) => private_key,
        _ => return Err(bad("no private key OCTET STRING")),
    };
    match der_element(private_key) {
        Some((0x04, seed, [])) => {
            <[u8; 32]>::try_from(seed).map_err(|_| bad("seed is not 32 bytes"))
        }
        _ => Err(bad("private key is not an OCTET STRING seed")),
    }
}

/// The version field of a PKCS#8 document (0 = v1, 1 = v2), if it parses.
pub(super) fn pkcs8_version(pkcs8: &[u8]) -> Option<u8> {
    let (_, info, _) = der_element(pkcs8).filter(|(tag, _, _)| *tag == 0x30)?;
    match der_element(info)? {
        (0x02, [version], _) => Some(*version),
        _ => None,
    }
}

/// Splits one DER element off `input`: (tag, contents, rest). Handles the
/// short length form and long forms of up to two bytes, plenty for keys.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if !(1..=2).contains(&count) || rest.len() < count {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(count);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// PEM armour: base64 in 64-character lines between BEGIN and END.
pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
