//! File handling for PKI material: keys are created 0600 and never
//! overwritten; public files are replaced atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use rustls_pki_types::CertificateDer;

/// Fails if `path` exists, naming it.
pub(super) fn refuse_existing(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        bail!("{} exists; refusing to overwrite", path.display());
    }
    Ok(())
}

/// Writes a private key: created exclusively (never overwrites) with mode
/// 0600, then synced, so a half-written key is never taken for a good one.
pub(super) fn write_private_key(path: &Path, pem: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} exists; refusing to overwrite", path.display())
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces `path` atomically (write a sibling temp file, sync, rename), so
/// readers see the old or the new content, never a torn file.
pub(super) fn write_public(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a text file, naming it on error.
pub(super) fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads the first certificate of a PEM file.
pub(super) fn read_certificate(path: &Path) -> anyhow::Result<CertificateDer<'static>> {
    let mut certs = credshare_node::pki::load_certs(path)?;
    Ok(certs.remove(0))
}

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}
