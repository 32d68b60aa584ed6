//! `credshare consortium manifest …`: the consortium operator's signed
//! membership manifest (docs/operations.md#members). The operator keeps a
//! draft (JSON, edited with `init`, `add`, `remove`), signs it with the
//! operator certificate (`pki issue --role operator`) into the binary
//! envelope nodes load, and hands that file to any one node.

mod draft;

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context;
use credshare_node::domain::dates::rfc3339_ms;
use credshare_node::pki;
use credshare_node::signing::{MEMBERSHIP_MANIFEST_TYPE, SignatureVerifier, Signer};
use credshare_proto::v1 as pb;
use prost::Message;
use serde_json::json;

use crate::output::Output;
pub use draft::{Draft, DraftMember};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConsortiumCommand {
    /// The signed membership manifest: who the members are and where.
    #[command(subcommand)]
    Manifest(ManifestCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ManifestCommand {
    /// Start a draft manifest (JSON) for a consortium.
    Init {
        /// The consortium's name (nodes' `membership.consortium`).
        #[arg(long)]
        consortium: String,
        /// Days a signed manifest stays valid.
        #[arg(long, default_value_t = 30)]
        valid_days: u32,
        /// The draft file to create; never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a member to the draft, or replace its entry.
    Add {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        institution: String,
        /// host:port of its peer listener (repeatable; none for a regulator).
        #[arg(long = "address")]
        addresses: Vec<String>,
        /// Roles its certificates may use (repeatable; none = any).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Purposes it may query for, as in the protocol, e.g.
        /// PURPOSE_POST_LOAN_MANAGEMENT (repeatable; none = any).
        #[arg(long = "purpose")]
        purposes: Vec<String>,
    },
    /// Remove a member from the draft.
    Remove {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        institution: String,
    },
    /// Sign the draft with the operator's key: writes the envelope nodes
    /// load, and moves the draft to the next version.
    Sign {
        #[arg(long)]
        manifest: PathBuf,
        /// Directory holding operator.crt and operator.key.
        #[arg(long)]
        operator: PathBuf,
        /// The signed manifest to write.
        #[arg(long)]
        out: PathBuf,
        /// Expiry at UTC midnight of this day instead of `valid_days` ahead
        /// (a day past makes an expired manifest, for drills).
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: Option<String>,
    },
    /// Show a draft or a signed manifest; with --ca, verify its signature.
    Show {
        file: PathBuf,
        /// The consortium CA certificate, to verify a signed manifest.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// CRL file(s) of the CA.
        #[arg(long)]
        crl: Vec<PathBuf>,
    },
}

impl ConsortiumCommand {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let ConsortiumCommand::Manifest(command) = self;
        command.run(out)
    }
}

impl ManifestCommand {
    fn run(&self, out: &Output) -> anyhow::Result<()> {
        match self {
            ManifestCommand::Init {
                consortium,
                valid_days,
                out: file,
            } => {
                let draft = Draft::new(consortium, *valid_days)?;
                draft.create(file)?;
                report(out, &draft, &format!("started {}", file.display()));
            }
            ManifestCommand::Add {
                manifest,
                institution,
                addresses,
                roles,
                purposes,
            } => {
                let member = DraftMember::new(institution, addresses, roles, purposes)?;
                let what = format!("{institution} in {}", manifest.display());
                edit_draft(manifest, &what, out, |draft| {
                    draft.upsert(member);
                    Ok(())
                })?;
            }
            ManifestCommand::Remove {
                manifest,
                institution,
            } => {
                let what = format!("{institution} removed from {}", manifest.display());
                edit_draft(manifest, &what, out, |draft| draft.remove(institution))?;
            }
            ManifestCommand::Sign {
                manifest,
                operator,
                out: file,
                expires,
            } => sign(manifest, operator, file, expires.as_deref(), out)?,
            ManifestCommand::Show { file, ca, crl } => show(file, ca.as_ref(), crl, out)?,
        }
        Ok(())
    }
}

/// Reads the draft at `manifest`, applies `change`, writes it back and
/// reports `what` was done.
fn edit_draft(
    manifest: &std::path::Path,
    what: &str,
    out: &Output,
    change: impl FnOnce(&mut Draft) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut draft = Draft::read(manifest)?;
    change(&mut draft)?;
    draft.write(manifest)?;
    report(out, &draft, what);
    Ok(())
}

fn report(out: &Output, draft: &Draft, what: &str) {
    out.print(&serde_json::to_value(draft).unwrap_or_default(), || {
        format!("{what}\n{}", draft.table())
    });
}

fn sign(
    manifest: &std::path::Path,
    operator: &std::path::Path,
    file: &std::path::Path,
    expires: Option<&str>,
    out: &Output,
) -> anyhow::Result<()> {
    let mut draft = Draft::read(manifest)?;
    let signer = Signer::load(
        &operator.join("operator.crt"),
        &operator.join("operator.key"),
    )
    .context("loading the operator's certificate and key")?;
    anyhow::ensure!(
        signer.identity().role == pki::Role::Operator,
        "{} is a {} certificate: sign with an operator certificate (pki issue --role operator)",
        operator.join("operator.crt").display(),
        signer.identity().role
    );
    let body = draft.to_manifest(expires)?;
    let envelope = signer.sign_envelope(MEMBERSHIP_MANIFEST_TYPE, body.encode_to_vec());
    std::fs::write(file, envelope.encode_to_vec())
        .with_context(|| format!("writing {}", file.display()))?;
    draft.version += 1;
    draft.write(manifest)?;
    out.print(
        &json!({"signed": file, "version": body.version, "expires_at_ms": body.expires_at_ms, "members": body.members.len()}),
        || {
            format!(
                "signed version {} of {} ({} members, expires {}) into {}\n",
                body.version,
                body.consortium,
                body.members.len(),
                rfc3339_ms(body.expires_at_ms),
                file.display()
            )
        },
    );
    Ok(())
}

fn show(
    file: &std::path::Path,
    ca: Option<&PathBuf>,
    crls: &[PathBuf],
    out: &Output,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    if let Ok(draft) = serde_json::from_slice::<Draft>(&bytes) {
        report(out, &draft, &format!("draft {} (unsigned)", file.display()));
        return Ok(());
    }
    let envelope = pb::SignedEnvelope::decode(bytes.as_slice()).with_context(|| {
        format!(
            "{} is neither a draft nor a signed manifest",
            file.display()
        )
    })?;
    let body = pb::MembershipManifest::decode(envelope.payload.as_slice())
        .context("the envelope does not hold a manifest")?;
    let verified = match ca {
        None => "signature not checked (give --ca)".to_owned(),
        Some(ca) => {
            let certs = pki::load_certs(ca)?;
            let mut crl_ders = Vec::new();
            for f in crls {
                crl_ders.extend(pki::load_crls(f)?);
            }
            let verifier = SignatureVerifier::new(certs, crl_ders)?;
            let signer = verifier
                .verify(&envelope, MEMBERSHIP_MANIFEST_TYPE, None, SystemTime::now())
                .context("the manifest's signature does not verify")?;
            format!("signed by {} (verified)", signer.identity)
        }
    };
    let draft = Draft::from_manifest(&body);
    out.print(
        &json!({"version": body.version, "issued_at_ms": body.issued_at_ms, "expires_at_ms": body.expires_at_ms, "verification": verified, "manifest": draft}),
        || {
            format!(
                "signed manifest version {} of {}, issued {}, expires {}\n{verified}\n{}",
                body.version,
                body.consortium,
                rfc3339_ms(body.issued_at_ms),
                rfc3339_ms(body.expires_at_ms),
                draft.table()
            )
        },
    );
    Ok(())
}
