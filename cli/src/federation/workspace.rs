//! A work directory with a development consortium PKI and secret, for the
//! demo and the benchmarks: the user's directory (kept) or a temporary one
//! (removed on drop).

use std::path::{Path, PathBuf};

use super::{NodeProgram, Site};

/// A work directory holding `pki/` (a dev consortium) and its secret.
#[derive(Debug)]
pub struct Workspace {
    /// Removed on drop unless the user named a directory.
    _temp: Option<tempfile::TempDir>,
    pub root: PathBuf,
    pub pki: PathBuf,
    pub secret: PathBuf,
}

impl Workspace {
    /// A fresh dev consortium in `dir` (which must not hold one yet) or in a
    /// temporary directory.
    pub fn create(dir: Option<&Path>) -> anyhow::Result<Self> {
        let ws = Self::open(dir)?;
        crate::pki::dev_consortium(&ws.pki)?;
        credshare_node::domain::borrower::generate_secret_file(&ws.secret)?;
        Ok(ws)
    }

    /// Like [`create`](Self::create), but keeps a consortium and secret
    /// already in `dir`.
    pub fn reuse(dir: Option<&Path>) -> anyhow::Result<Self> {
        let ws = Self::open(dir)?;
        if !ws.pki.join("ca/ca.crt").exists() {
            crate::pki::dev_consortium(&ws.pki)?;
        }
        if !ws.secret.exists() {
            credshare_node::domain::borrower::generate_secret_file(&ws.secret)?;
        }
        Ok(ws)
    }

    fn open(dir: Option<&Path>) -> anyhow::Result<Self> {
        let (temp, root) = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, std::path::absolute(d)?)
            }
            None => {
                let t = tempfile::tempdir()?;
                let root = t.path().to_path_buf();
                (Some(t), root)
            }
        };
        let pki = root.join("pki");
        let secret = pki.join("consortium.secret");
        Ok(Self {
            _temp: temp,
            root,
            pki,
            secret,
        })
    }

    /// Nodes of this consortium, working under the root, run by `program`.
    pub fn site(&self, program: NodeProgram) -> Site {
        Site {
            certs_root: self.pki.clone(),
            secret: self.secret.clone(),
            work_root: self.root.clone(),
            program,
        }
    }
}
