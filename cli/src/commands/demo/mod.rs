//! `credshare demo`: a three-bank consortium on this machine, end to end.
//!
//! Makes a development PKI and consortium secret, starts three real node
//! processes (`credshare node run`, through [`crate::federation`]) on
//! 127.0.0.1, shows each node's status and that every node reaches the
//! others over mTLS, generates and imports sample data for each bank
//! ([`story`]), walks through consent, audited queries and revocation
//! ([`consent`]), has the regulator cross-check the three logs
//! ([`regulator`]), then stops the nodes cleanly with SIGTERM. The story is
//! for people: it prints text whatever `--json` says.

mod calls;
mod consent;
mod dispute;
mod regulator;
mod story;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::connection::{AdminClient, Resolved};
use crate::federation::{NodeProcess, NodeProgram, Workspace, start_federation};
use crate::output::Output;

const BANKS: [&str; 3] = ["BANK-A", "BANK-B", "BANK-C"];

/// Options of `credshare demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Work directory (kept); default: a temporary directory, removed at the end.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Borrowers per bank in the sample data.
    #[arg(long, default_value_t = 20_000)]
    pub borrowers: u64,
    /// Sample seed (banks share 30% of their borrowers).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// The running consortium the story talks to.
pub(crate) struct Demo {
    pub nodes: Vec<NodeProcess>,
    pub root: PathBuf,
    pub pki: PathBuf,
    pub secret: PathBuf,
}

impl Demo {
    /// An admin client of `node`'s own institution.
    pub async fn admin(&self, node: &NodeProcess) -> anyhow::Result<AdminClient> {
        let certs = self.pki.join(&node.institution);
        let addr = node.admin_addr.to_string();
        Resolved::from_certs_dir(&certs, "admin", &addr)
            .admin_client()
            .await
    }
}

impl DemoArgs {
    pub async fn run(&self, _out: &Output) -> anyhow::Result<()> {
        let started = Instant::now();
        let ws = Workspace::reuse(self.dir.as_deref())?;
        step(&format!(
            "1. development consortium PKI in {}",
            ws.root.display()
        ));
        println!(
            "   CA, node/admin/signer certificates for {}, regulator REG-1, consortium secret",
            BANKS.join(", ")
        );
        step("2. starting three nodes on 127.0.0.1 (mTLS, CRLs, sled stores)");
        let site = ws.site(NodeProgram::this_cli()?);
        let nodes = start_federation(&site, &BANKS, &[])?;
        for n in &nodes {
            println!(
                "   {}: peer listener {}, admin listener {}, log {}",
                n.institution,
                n.peer_addr,
                n.admin_addr,
                n.log_file.display()
            );
        }
        let mut demo = Demo {
            nodes,
            root: ws.root.clone(),
            pki: ws.pki.clone(),
            secret: ws.secret.clone(),
        };
        let result = story::run(&demo, self).await;
        step("9. stopping the nodes (SIGTERM: drain, flush, exit)");
        for n in &mut demo.nodes {
            let status = n.stop().map_or_else(|e| e.to_string(), |s| s.to_string());
            println!("   {} stopped ({status})", n.institution);
        }
        result?;
        println!("\ndemo finished in {:.1}s", started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// The sample directory of one bank.
fn sample_dir(root: &Path, bank: &str) -> PathBuf {
    root.join(format!("sample-{bank}"))
}

fn step(title: &str) {
    println!("\n{title}");
}
