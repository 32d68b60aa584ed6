//! `credshare bench discovery`: targeted assessment at national scale
//! (docs/design.md §9) beside today's fan-out to every member. A real
//! discovery service process and three real holder nodes; the rest of the
//! members simulated in this process, each enrolling its portfolio through
//! the real service over mTLS with its own certificate.
//!
//! | part | what it does |
//! |---|---|
//! | [`population`] | members (Zipf sizes) and borrowers (skewed lender counts) |
//! | [`setup`] | certificates, OPRF key, the service and holders started, records imported |
//! | [`enrol`] | every member's pseudonyms evaluated and registered |
//! | [`assess`] | the targeted assessments, and a non-holder's fan-out answer |
//! | [`figures`] | per-assessment and per-million figures, targeted and fan-out |

mod assess;
mod enrol;
mod figures;
mod population;
mod setup;

use std::path::PathBuf;

use credshare_proto::v1 as pb;

use super::scale_log::data_bytes;
use crate::commands::discovery::client::DiscoveryClient;
use crate::commands::status::fetch_status;
use crate::connection::Resolved;
use crate::output::Output;
use figures::{Figures, LogGrowth};
use population::Population;
use setup::World;

/// Options of `credshare bench discovery`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiscoveryBenchArgs {
    /// Keep the work directory (PKI of every member, configs, stores, logs) here.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Members of the consortium; the three largest are real nodes, the
    /// others simulated in this process (each with its own certificate).
    #[arg(long, default_value_t = 4000)]
    pub members: usize,
    /// Borrowers in the country; each has 1–8 lenders (mean 1.82).
    #[arg(long, default_value_t = 50_000)]
    pub borrowers: usize,
    /// Targeted assessments measured (the real holders' log growth per
    /// entry is only as steady as the entries they log: about 0.2 each).
    #[arg(long, default_value_t = 10_000)]
    pub assessments: u64,
    /// Assessments (and, in the enrolment, members) in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seed of the population and of the borrowers assessed.
    #[arg(long, default_value_t = 16)]
    pub seed: u64,
}

impl DiscoveryBenchArgs {
    /// `credshare bench discovery`.
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        let population = Population::draw(self.members, self.borrowers, self.seed);
        out.text(format!(
            "preparing: {} members ({} lending), {} borrowers, {} lending relationships",
            population.members.len(),
            population.lending_members(),
            population.borrowers.len(),
            population.relationships()
        ));
        let mut world = World::start(self.dir.as_deref(), &population, out).await?;
        out.text("enrolment: every lending member through the real service");
        let enrolment = enrol::enrol_all(&world, &population, self.concurrency, out).await?;
        out.text(format!(
            "assessments: {} targeted, {} in flight",
            self.assessments, self.concurrency
        ));
        let before = growth_marks(&world).await?;
        let assessed =
            assess::assess_all(&world, &population, self.assessments, self.concurrency, out)
                .await?;
        let growth = LogGrowth::between(&before, &growth_marks(&world).await?);
        let non_holder = assess::non_holder_bytes(&world, &population, 50).await?;
        world.stop()?;
        let figures = Figures::new(&population, enrolment, &assessed, growth, non_holder);
        out.print(&figures, || figures.text());
        Ok(())
    }
}

/// Log size and data directory bytes of the service (first) and of each
/// real holder.
async fn growth_marks(world: &World) -> anyhow::Result<Vec<(u64, u64)>> {
    let mut marks = vec![(
        service_log_size(world).await?,
        data_bytes(&world.service.data_dir)?,
    )];
    for (i, node) in world.holders.iter().enumerate() {
        let size = fetch_status(world.admin(i).await?).await?.log_size;
        marks.push((size, data_bytes(&node.data_dir)?));
    }
    Ok(marks)
}

/// The service's log size, as the regulator reads it.
async fn service_log_size(world: &World) -> anyhow::Result<u64> {
    let addr = &world.service_addr;
    let regulator = Resolved::from_certs_dir(&world.certs("REG-1"), "regulator", addr);
    let mut client = DiscoveryClient::new(regulator.channel(addr).await?);
    let status = client
        .get_discovery_status(pb::DiscoveryStatusRequest {})
        .await?
        .into_inner();
    Ok(status.log_size)
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`
/// (Linux, USER_HZ = 100); 0 when unknown.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line, 12 and 13 after the name.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}
