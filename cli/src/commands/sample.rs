//! `credshare sample`: write realistic sample credit.csv and visits.csv for
//! one institution (see [`crate::sample`]).

use std::path::PathBuf;

use credshare_node::pki::InstitutionId;

use crate::output::Output;
use crate::sample::write_sample;

/// Options of `credshare sample`.
#[derive(Debug, Clone, clap::Args)]
pub struct SampleArgs {
    /// Institution the sample is for.
    #[arg(long)]
    pub institution: String,
    /// Number of borrowers.
    #[arg(long, default_value_t = 1000)]
    pub borrowers: u64,
    /// Seed; the same seed gives the same files, and institutions sampled
    /// with the same seed share a known part of their borrowers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

impl SampleArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let institution = InstitutionId::parse(&self.institution)?;
        let summary = write_sample(&institution, self.borrowers, self.seed, &self.out)?;
        out.print(&summary, || {
            format!(
                "{}: {} borrowers ({} shared with other institutions of seed {}, {} individuals), {} facilities, {} visits\n  {}\n  {}\n",
                institution,
                summary.borrowers,
                summary.shared_borrowers,
                self.seed,
                summary.individuals,
                summary.facilities,
                summary.visits,
                summary.credit_file.display(),
                summary.visits_file.display()
            )
        });
        Ok(())
    }
}
