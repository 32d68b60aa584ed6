//! `credshare sample`: write realistic sample credit.csv and visits.csv for
//! one institution (see [`crate::sample`]), optionally with the
//! distributions of what was written.

use std::path::PathBuf;

use credshare_node::pki::InstitutionId;

use crate::output::{Output, Table};
use crate::sample::{
    SampleProfile, SampleSpec, SampleStats, SampleSummary, read_stats, write_sample_with,
};

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
    /// with the same seed (and rates) share a known part of their borrowers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Share of live facilities non-performing (SUBSTANDARD, DOUBTFUL or
    /// LOSS), mostly more than 90 days overdue.
    #[arg(long, default_value_t = SampleProfile::default().npl_rate)]
    pub npl_rate: f64,
    /// Share of live facilities SPECIAL_MENTION, about half of them 8–90
    /// days overdue.
    #[arg(long, default_value_t = SampleProfile::default().special_mention_rate)]
    pub special_mention_rate: f64,
    /// Share of NORMAL live facilities 1–7 days overdue (technical grace).
    #[arg(long, default_value_t = SampleProfile::default().grace_overdue_rate)]
    pub grace_overdue_rate: f64,
    /// Share of facilities already repaid (SETTLED history).
    #[arg(long, default_value_t = SampleProfile::default().settled_rate)]
    pub settled_rate: f64,
    /// Share of borrowers whose facilities were written off (LOSS).
    #[arg(long, default_value_t = SampleProfile::default().written_off_rate)]
    pub written_off_rate: f64,
    /// Share of scheduled visits made on time; the rest are days or weeks
    /// late, and about the same share of live facilities is overdue for a
    /// visit as of today.
    #[arg(long, default_value_t = SampleProfile::default().visit_adherence)]
    pub visit_adherence: f64,
    /// Read the files back and print their distributions next to the
    /// targets (classes, overdue, visits due, late and untriggered visits,
    /// rows the node would reject).
    #[arg(long)]
    pub stats: bool,
}

/// What `credshare sample --json` prints: the summary, and the figures
/// with `--stats`.
#[derive(serde::Serialize)]
struct SampleReport<'a> {
    #[serde(flatten)]
    summary: &'a SampleSummary,
    profile: &'a SampleProfile,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a SampleStats>,
}

impl SampleArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let institution = InstitutionId::parse(&self.institution)?;
        let mut spec = SampleSpec::new(self.borrowers, self.seed);
        spec.profile = SampleProfile {
            npl_rate: self.npl_rate,
            special_mention_rate: self.special_mention_rate,
            grace_overdue_rate: self.grace_overdue_rate,
            settled_rate: self.settled_rate,
            written_off_rate: self.written_off_rate,
            visit_adherence: self.visit_adherence,
        };
        let summary = write_sample_with(&institution, &spec, &self.out)?;
        let stats = if self.stats {
            Some(read_stats(&institution, &spec, &summary)?)
        } else {
            None
        };
        let report = SampleReport {
            summary: &summary,
            profile: &spec.profile,
            stats: stats.as_ref(),
        };
        out.print(&report, || {
            let mut text = format!(
                "{}: {} borrowers ({} shared with other institutions of seed {}, {} individuals), {} facilities, {} visits, as of {}\n  {}\n  {}\n  {} (ids of the shared borrowers)\n",
                institution,
                summary.borrowers,
                summary.shared_borrowers,
                self.seed,
                summary.individuals,
                summary.facilities,
                summary.visits,
                summary.today,
                summary.credit_file.display(),
                summary.visits_file.display(),
                summary.shared_file.display()
            );
            if let Some(stats) = &stats {
                text.push_str(&render_stats(stats));
            }
            text
        });
        Ok(())
    }
}

/// The figures as a table: share, target, count of how many.
fn render_stats(stats: &SampleStats) -> String {
    let mut t = Table::new("FIGURE|SHARE|TARGET|COUNT");
    for f in &stats.figures {
        t.row(vec![
            f.label.to_owned(),
            percent(f.value),
            f.target.map(percent).unwrap_or_default(),
            format!("{} of {}", f.count, f.of),
        ]);
    }
    format!(
        "\ndistributions read back from the files ({} facilities, {} live, {} visits; schedule as of {}):\n{}",
        stats.facilities,
        stats.live_facilities,
        stats.visits,
        stats.today,
        t.render()
    )
}

fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}
