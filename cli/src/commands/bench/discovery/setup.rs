//! Setting up the bench: a dev consortium with a node certificate for
//! every simulated member, the discovery service (DISC-1, `credshare node
//! run` with `[discovery]`) with an OPRF key and every member's declared
//! portfolio, the three real holder nodes with their borrowers' records
//! imported.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::Context;
use credshare_node::discovery::keyfile::{KeyFile, KeyPart};
use credshare_node::discovery::oprf::random_scalar;
use credshare_node::domain::borrower::ConsortiumSecret;
use credshare_node::pki::{InstitutionId, Role};

use super::population::{Population, REAL};
use crate::connection::{AdminClient, Resolved};
use crate::federation::{NodeProcess, NodeProgram, NodeSpec, Site, Workspace, start_federation};
use crate::import::import_file;
use crate::output::Output;
use crate::pki::{IssueParams, issue};
use crate::rows::{ImportContext, RecordKind};

/// The discovery service's institution id.
pub(super) const SERVICE: &str = "DISC-1";

/// What the bench runs against.
pub(super) struct World {
    pub ws: Workspace,
    pub service: NodeProcess,
    /// The service's `DiscoveryService` listener.
    pub service_addr: String,
    /// The real holder nodes, in [`REAL`] order.
    pub holders: Vec<NodeProcess>,
}

impl World {
    /// Certificates, key, service and holders for `population`.
    pub(super) async fn start(
        dir: Option<&Path>,
        population: &Population,
        out: &Output,
    ) -> anyhow::Result<Self> {
        let ws = Workspace::create(dir)?;
        issue_member_certs(&ws, population, out).await?;
        let site = ws.site(NodeProgram::this_cli()?);
        let (service, service_addr) = start_service(&ws, &site, population)?;
        // Throughput is measured, not the rate limit.
        let env = vec![(
            "CREDSHARE_POLICY__RATE_LIMIT_PER_MINUTE".to_owned(),
            "1000000000".to_owned(),
        )];
        let holders = start_federation(&site, &REAL, &env)?;
        let world = Self {
            ws,
            service,
            service_addr,
            holders,
        };
        world.import_holders(population, out).await?;
        Ok(world)
    }

    /// The certificate directory of `institution`.
    pub(super) fn certs(&self, institution: &str) -> std::path::PathBuf {
        self.ws.pki.join(institution)
    }

    /// An admin client of real holder `i`.
    pub(super) async fn admin(&self, i: usize) -> anyhow::Result<AdminClient> {
        let node = &self.holders[i];
        let addr = node.admin_addr.to_string();
        Resolved::from_certs_dir(&self.certs(&node.institution), "admin", &addr)
            .admin_client()
            .await
    }

    /// The consortium secret (borrower keys of the real holders' records).
    pub(super) fn secret(&self) -> anyhow::Result<ConsortiumSecret> {
        Ok(ConsortiumSecret::from_file(&self.ws.secret)?)
    }

    /// One live credit facility per borrower each real holder lends to,
    /// imported through its admin listener.
    async fn import_holders(&self, population: &Population, out: &Output) -> anyhow::Result<()> {
        for (rank, node) in self.holders.iter().enumerate() {
            let file = self
                .ws
                .root
                .join(format!("{}-credit.csv", node.institution));
            write_credit_file(&file, population, rank)?;
            let institution = InstitutionId::parse(&node.institution)?;
            let context = ImportContext::new(institution, self.secret()?);
            out.text(format!(
                "  importing {} borrowers into {}",
                population.portfolios[rank].len(),
                node.institution
            ));
            // Imported as in text mode: with --json the import's JSON Lines
            // events would precede the bench's one JSON document.
            let text = Output::new(false);
            let admin = self.admin(rank).await?;
            import_file(admin, &file, RecordKind::Credit, context, &text).await?;
        }
        Ok(())
    }

    /// Stops every process.
    pub(super) fn stop(&mut self) -> anyhow::Result<()> {
        self.service.stop()?;
        for node in &mut self.holders {
            node.stop()?;
        }
        Ok(())
    }
}

/// A node certificate for every simulated member (the real ones and the
/// regulator come with the dev consortium), and DISC-1's node and signer.
async fn issue_member_certs(
    ws: &Workspace,
    population: &Population,
    out: &Output,
) -> anyhow::Result<()> {
    let simulated: Vec<String> = population.members[REAL.len()..].to_vec();
    let bar = out.progress(
        indicatif::ProgressBar::new(simulated.len() as u64),
        "  member certificates {bar:30} {pos}/{len}",
    );
    let (ca, pki) = (ws.pki.join("ca"), ws.pki.clone());
    let issued_bar = bar.clone();
    tokio::task::spawn_blocking(move || {
        for role in [Role::Node, Role::Signer] {
            let mut params = IssueParams::new(
                &ca,
                role,
                InstitutionId::parse(SERVICE)?,
                &pki.join(SERVICE),
            );
            if role == Role::Node {
                params.dns_names = vec!["localhost".into()];
                params.ip_addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
            }
            issue(&params)?;
        }
        for member in simulated {
            let id = InstitutionId::parse(&member)?;
            issue(&IssueParams::new(&ca, Role::Node, id, &pki.join(&member)))?;
            issued_bar.inc(1);
        }
        anyhow::Ok(())
    })
    .await??;
    bar.finish_and_clear();
    Ok(())
}

/// Starts DISC-1 with a fresh whole OPRF key, every lending member's
/// portfolio declared, and budgets out of the way (the bench measures
/// cost, not refusals). Returns it and its discovery listener.
fn start_service(
    ws: &Workspace,
    site: &Site,
    population: &Population,
) -> anyhow::Result<(NodeProcess, String)> {
    let key = ws.root.join("oprf.key");
    KeyFile {
        part: KeyPart::Whole,
        index: 0,
        scalar: random_scalar(),
    }
    .write_new(&key)
    .context("writing the OPRF key")?;
    let addr = format!("127.0.0.1:{}", crate::federation::free_port()?);
    let mut spec = NodeSpec::new(SERVICE);
    let unlimited = "1000000000".to_owned();
    spec.env = vec![
        ("CREDSHARE_DISCOVERY__LISTEN".into(), addr.clone()),
        (
            "CREDSHARE_DISCOVERY__KEY_FILE".into(),
            key.display().to_string(),
        ),
        (
            "CREDSHARE_DISCOVERY__PORTFOLIOS".into(),
            population.portfolios_toml(),
        ),
        (
            "CREDSHARE_DISCOVERY__MEMBER_BUDGET".into(),
            unlimited.clone(),
        ),
        ("CREDSHARE_DISCOVERY__OFFICER_BUDGET".into(), unlimited),
    ];
    Ok((NodeProcess::start(site, &spec)?, addr))
}

/// The credit file of real holder `rank`: one live facility per borrower.
fn write_credit_file(file: &Path, population: &Population, rank: usize) -> anyhow::Result<()> {
    use std::io::Write;
    let today = credshare_node::domain::dates::BusinessZone::default().today();
    let (open, maturity) = (
        today - time::Duration::days(100),
        today + time::Duration::days(300),
    );
    let mut w = std::io::BufWriter::new(std::fs::File::create(file)?);
    writeln!(w, "{CREDIT_HEADER}")?;
    for n in &population.portfolios[rank] {
        let id = &population.borrowers[*n as usize];
        writeln!(
            w,
            "{id},F-1,1,WORKING_CAPITAL,CNY,100000000,50000000,{open},{maturity},CREDIT,NORMAL,0,0,0,ACTIVE,{today}"
        )?;
    }
    w.flush()?;
    Ok(())
}

const CREDIT_HEADER: &str = "borrower_id,facility_id,version,facility_type,currency,contract_amount,outstanding_balance,open_date,maturity_date,guarantee_type,risk_class,overdue_principal,overdue_total,overdue_days,account_status,as_of_date";
