//! The OPRF key ceremony: `keygen` (a whole key, stage 1), `share` (split
//! it into the regulator's part `k_R` and three custodian shares of
//! `k_G = k − k_R`, 2-of-3, stage 2) and `combine` (recover the whole key
//! from `k_R` and two shares). Every file is written 0600 and never
//! overwritten; the public key printed is what members pin
//! (`--public-key`). Splitting keeps the key, so stage-1 pseudonyms stay.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use credshare_node::discovery::keyfile::{KeyFile, KeyPart};
use credshare_node::discovery::oprf::random_scalar;
use credshare_node::discovery::threshold::{combine_key, split};
use curve25519_dalek::scalar::Scalar;
use serde_json::json;

use crate::output::{Output, fields};

/// Options of `credshare discovery keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// The new key file (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `credshare discovery share`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShareArgs {
    /// The whole key to split.
    #[arg(long)]
    pub key: PathBuf,
    /// Directory for regulator.key and custodian-{1,2,3}.key (created).
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// Options of `credshare discovery combine`.
#[derive(Debug, Clone, clap::Args)]
pub struct CombineArgs {
    /// The regulator's part (regulator.key).
    #[arg(long)]
    pub regulator: PathBuf,
    /// A custodian's share; give two different ones.
    #[arg(long, num_args = 1)]
    pub custodian: Vec<PathBuf>,
    /// The whole key's public key (hex), to check the result against.
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
    /// The recovered whole key file (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

impl KeygenArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let key = whole_key(random_scalar());
        key.write_new(&self.out)?;
        let next = "set discovery.key_file to it on the discovery service; publish the public key to members (--public-key)";
        print_whole_key(out, "key file", &self.out, &key, Some(next));
        Ok(())
    }
}

impl ShareArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let whole = KeyFile::read(&self.key)?;
        if whole.part != KeyPart::Whole {
            bail!(
                "{}: holds the {} part, not a whole key",
                self.key.display(),
                whole.part.as_str()
            );
        }
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("creating {}", self.out_dir.display()))?;
        let (k_r, shares) = split(&whole.scalar);
        let regulator = self.out_dir.join("regulator.key");
        KeyFile {
            part: KeyPart::Regulator,
            index: 0,
            scalar: k_r,
        }
        .write_new(&regulator)?;
        let mut files = vec![regulator.display().to_string()];
        for s in shares {
            let path = self.out_dir.join(format!("custodian-{}.key", s.index));
            KeyFile {
                part: KeyPart::Custodian,
                index: s.index,
                scalar: s.scalar,
            }
            .write_new(&path)?;
            files.push(path.display().to_string());
        }
        let pk = hex::encode(whole.public_key());
        out.print(&json!({ "files": files, "public_key": pk }), || {
            fields(&[
                ("regulator part", files[0].clone()),
                ("custodian shares", files[1..].join(", ")),
                ("public key", format!("{pk} (unchanged: stage-1 pseudonyms stay valid)")),
                (
                    "next",
                    "hand each custodian its share over a secure channel; each runs a discovery service with discovery.key_file = its share; the regulator's service takes regulator.key; then destroy the whole key and every copy of the shares here".into(),
                ),
            ])
        });
        Ok(())
    }
}

impl CombineArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let regulator = KeyFile::read(&self.regulator)?;
        if regulator.part != KeyPart::Regulator {
            bail!("{}: not the regulator's part", self.regulator.display());
        }
        let [a, b] = self.custodian.as_slice() else {
            bail!("give exactly two --custodian shares");
        };
        let share = |p: &PathBuf| {
            KeyFile::read(p)?
                .share()
                .with_context(|| format!("{}: not a custodian share", p.display()))
        };
        let k = combine_key(&regulator.scalar, &share(a)?, &share(b)?)?;
        let whole = whole_key(k);
        let pk = hex::encode(whole.public_key());
        if let Some(expected) = &self.public_key
            && expected.trim().to_ascii_lowercase() != pk
        {
            bail!(
                "the parts combine to public key {pk}, not {expected}: they are not shares of that key"
            );
        }
        whole.write_new(&self.out)?;
        print_whole_key(out, "whole key", &self.out, &whole, None);
        Ok(())
    }
}

/// A whole key: stage 1's, or one recovered from its parts.
fn whole_key(scalar: Scalar) -> KeyFile {
    KeyFile {
        part: KeyPart::Whole,
        index: 0,
        scalar,
    }
}

/// Reports a whole key file just written at `path` (as `label`) and the
/// public key members pin, with the `next` step if there is one.
fn print_whole_key(out: &Output, label: &str, path: &Path, key: &KeyFile, next: Option<&str>) {
    let pk = hex::encode(key.public_key());
    out.print(&json!({ "key_file": path, "public_key": pk }), || {
        let mut lines = vec![
            (label, format!("{} (0600)", path.display())),
            ("public key", pk.clone()),
        ];
        lines.extend(next.map(|step| ("next", step.to_owned())));
        fields(&lines)
    });
}
