//! `credshare sample`: realistic, deterministic record files for demos,
//! tests and benchmarks, in exactly the format [`crate::rows`] reads.
//!
//! The portfolio follows a [`SampleProfile`] (by default the published
//! figures of Chinese banks: about 1.6 % of live facilities non-performing,
//! 2.2 % special mention, a few percent overdue) and its visits follow the
//! node's schedule with realistic lapses ([`timeline`]); findings agree
//! with each other and with the conclusion ([`findings`]). Every row passes
//! the node's record rules, and [`stats`] reads the files back to show how
//! close they come to the profile.
//!
//! Institutions that generate with the same seed (and profile) share a
//! known part of their borrowers: the first [`SHARED_SHARE`] of each
//! institution's borrowers come from a common pool in which borrower `j` is
//! the same legal or natural person, in the same health, everywhere; the
//! rest are the institution's own. So a federation of sample nodes has
//! multi-lender borrowers whose troubles show up at several institutions at
//! once. The first borrower of the pool is distressed on purpose (DOUBTFUL,
//! 280–340 days overdue, funds diverted) so the demo has a RED borrower.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use credshare_node::domain::dates::BusinessZone;
use credshare_node::domain::visits::VisitSchedule;
use credshare_node::pki::InstitutionId;
use credshare_proto::v1 as pb;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use time::{Date, Month};

use crate::rows::{CREDIT_COLUMNS, VISIT_COLUMNS};
use facility::Facility;
use findings::{Severity, Traits};
use profile::Health;
pub use profile::SampleProfile;
pub use stats::{Figure, SampleStats, read_stats};
use timeline::VisitPlan;
use visits::Visit;

// Facilities, their contract terms and identifiers; visits, their dates
// and their findings; the portfolio's rates; the read-back statistics.
mod facility;
mod findings;
pub(crate) mod ids;
mod profile;
mod stats;
mod terms;
mod timeline;
mod visits;

/// Share of each institution's borrowers drawn from the common pool.
pub const SHARED_SHARE: f64 = 0.3;
/// Most borrowers per institution (keeps identifiers unique by construction).
pub const MAX_BORROWERS: u64 = 1_000_000;
/// File names written into the output directory.
pub const CREDIT_FILE: &str = "credit.csv";
pub const VISITS_FILE: &str = "visits.csv";
/// Raw ids of the shared-pool borrowers, one a line: the operator's own
/// file (raw ids are never printed or logged).
pub const SHARED_FILE: &str = "shared-borrowers.txt";

/// What to generate: how many borrowers, from which seed, with which
/// rates, as of which day.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub borrowers: u64,
    pub seed: u64,
    pub profile: SampleProfile,
    /// No generated date is later; as-of dates are in the week before.
    pub today: Date,
}

impl SampleSpec {
    /// The default profile as of today in the consortium's default business
    /// time zone (Asia/Shanghai), the day the node checks dates against.
    pub fn new(borrowers: u64, seed: u64) -> Self {
        Self {
            borrowers,
            seed,
            profile: SampleProfile::default(),
            today: BusinessZone::default().today(),
        }
    }
}

/// What [`write_sample`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SampleSummary {
    pub borrowers: u64,
    /// Borrowers from the common pool (the same at every institution).
    pub shared_borrowers: u64,
    /// Borrowers identified by a RID (natural persons).
    pub individuals: u64,
    pub facilities: u64,
    pub visits: u64,
    /// The sample's "today" (ISO date).
    pub today: String,
    pub credit_file: PathBuf,
    pub visits_file: PathBuf,
    /// [`SHARED_FILE`]: the borrowers every institution sampled with the
    /// same seed (and at least as many borrowers) holds too.
    pub shared_file: PathBuf,
}

/// How many of `borrowers` come from the common pool.
pub fn shared_borrower_count(borrowers: u64) -> u64 {
    (borrowers as f64 * SHARED_SHARE).round() as u64
}

/// Writes `credit.csv` and `visits.csv` into `out` (created if needed) with
/// the default profile, as of today ([`SampleSpec::new`]).
/// Deterministic for a given seed, institution and day.
pub fn write_sample(
    institution: &InstitutionId,
    borrowers: u64,
    seed: u64,
    out: &Path,
) -> anyhow::Result<SampleSummary> {
    write_sample_with(institution, &SampleSpec::new(borrowers, seed), out)
}

/// [`write_sample`] for any spec. Streams: memory does not grow with the
/// number of borrowers.
pub fn write_sample_with(
    institution: &InstitutionId,
    spec: &SampleSpec,
    out: &Path,
) -> anyhow::Result<SampleSummary> {
    anyhow::ensure!(
        spec.borrowers <= MAX_BORROWERS,
        "at most {MAX_BORROWERS} borrowers per institution"
    );
    spec.profile.validate()?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let credit_file = out.join(CREDIT_FILE);
    let visits_file = out.join(VISITS_FILE);
    let mut writer = SampleWriter {
        spec,
        schedule: VisitSchedule::default(),
        credit: csv_writer(&credit_file, CREDIT_COLUMNS)?,
        visits: csv_writer(&visits_file, VISIT_COLUMNS)?,
        summary: SampleSummary {
            borrowers: spec.borrowers,
            shared_borrowers: shared_borrower_count(spec.borrowers),
            individuals: 0,
            facilities: 0,
            visits: 0,
            today: spec.today.to_string(),
            credit_file,
            visits_file,
            shared_file: out.join(SHARED_FILE),
        },
    };
    let mut shared_ids = BufWriter::new(
        File::create(&writer.summary.shared_file)
            .with_context(|| format!("cannot create {}", writer.summary.shared_file.display()))?,
    );
    let shared = writer.summary.shared_borrowers;
    let own_range = own_range(institution);
    for j in 0..spec.borrowers {
        let pool_index = if j < shared {
            j
        } else {
            own_range + (j - shared)
        };
        let borrower = Borrower::generate(spec.seed, pool_index, &spec.profile);
        if j < shared {
            writeln!(shared_ids, "{}", borrower.id).context("cannot write shared-borrowers.txt")?;
        }
        let stream = mix(&[spec.seed, fnv1a(institution.as_str()), j, 3]);
        writer.borrower(&mut StdRng::seed_from_u64(stream), &borrower, j)?;
    }
    writer.credit.flush().context("cannot write credit.csv")?;
    writer.visits.flush().context("cannot write visits.csv")?;
    shared_ids
        .flush()
        .context("cannot write shared-borrowers.txt")?;
    Ok(writer.summary)
}

fn csv_writer(path: &Path, columns: &[&str]) -> anyhow::Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
    writer
        .write_record(columns)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(writer)
}

/// Both files while they are written, and what went into them.
struct SampleWriter<'a, W: Write> {
    spec: &'a SampleSpec,
    schedule: VisitSchedule,
    credit: csv::Writer<W>,
    visits: csv::Writer<W>,
    summary: SampleSummary,
}

impl<W: Write> SampleWriter<'_, W> {
    /// Writes 1–3 facilities of borrower number `j` and their visits.
    fn borrower(&mut self, rng: &mut StdRng, borrower: &Borrower, j: u64) -> anyhow::Result<()> {
        let (profile, today) = (&self.spec.profile, self.spec.today);
        self.summary.individuals += u64::from(borrower.individual);
        let count = pick(rng, &[(1u64, 48), (2, 37), (3, 15)]);
        for k in 1..=count {
            let id = format!("LN{j:07}-{k}");
            let facility = Facility::generate(rng, borrower, profile, id, today);
            self.credit.write_record(facility.cells(&borrower.id))?;
            // The demo's borrower keeps its visits, so its findings are recent.
            let behind = !borrower.designated && rng.random_bool(1.0 - profile.visit_adherence);
            let plan = VisitPlan {
                schedule: &self.schedule,
                adherence: profile.visit_adherence,
                behind,
                today,
            };
            for visit in Visit::series(rng, &facility, borrower, &plan) {
                self.visits
                    .write_record(visit.cells(&borrower.id, &facility.id))?;
                self.summary.visits += 1;
            }
        }
        self.summary.facilities += count;
        Ok(())
    }
}

/// Start of the institution's own slice of identifier numbers: above the
/// shared pool, and different for different institutions (up to a hash
/// collision among 800 slots, which only adds a little overlap).
fn own_range(institution: &InstitutionId) -> u64 {
    (1 + fnv1a(institution.as_str()) % 800) * MAX_BORROWERS
}

/// A generated borrower: identifier (with its `USCC:`/`RID:` prefix),
/// kind, health, and the warning signals its troubles show, by severity.
pub(crate) struct Borrower {
    pub id: String,
    pub individual: bool,
    pub health: Health,
    /// The first borrower of the shared pool, distressed on purpose.
    pub designated: bool,
    story: [Vec<pb::WarningSignal>; 3],
}

/// Size of the identifier number space: 6 base-31 USCC symbols.
const ID_SPACE: u64 = 31u64.pow(6);

impl Borrower {
    /// Borrower number `pool_index`; numbers below [`MAX_BORROWERS`] are the
    /// shared pool. Distinct numbers give distinct identifiers, and the
    /// identifier does not depend on the profile.
    fn generate(seed: u64, pool_index: u64, profile: &SampleProfile) -> Self {
        let mut rng = StdRng::seed_from_u64(mix(&[seed, pool_index, 1]));
        // A bijection of the number space, so identifiers don't count up.
        let n = ((u128::from(pool_index) * 1_000_003 + u128::from(mix(&[seed, 2])))
            % u128::from(ID_SPACE)) as u64;
        let individual = rng.random_bool(0.2);
        let id = if individual {
            format!("RID:{}", ids::rid(n))
        } else {
            format!("USCC:{}", ids::uscc(&mut rng, n))
        };
        let designated = pool_index == 0;
        let health = if designated {
            Health::Classed(pb::RiskClass::Doubtful)
        } else {
            Health::draw(spread(seed, pool_index), &mut rng, profile)
        };
        let story = if health == Health::Classed(pb::RiskClass::Normal) {
            Default::default()
        } else {
            story(&mut rng, designated)
        };
        Self {
            id,
            individual,
            health,
            designated,
            story,
        }
    }

    /// The signals a visit records at `severity`: the story so far, less
    /// what the facility cannot show (collateral or guarantor risk
    /// without collateral or guarantor).
    fn signals(&self, severity: Severity, traits: Traits) -> Vec<pb::WarningSignal> {
        (self.story[..severity.min(3)].iter().flatten())
            .filter(|s| match s {
                pb::WarningSignal::CollateralRisk => traits.collateral,
                pb::WarningSignal::GuarantorRisk => traits.guarantor,
                _ => true,
            })
            .copied()
            .collect()
    }
}

/// A borrower's troubles as they deepen: early warnings, then serious and
/// severe signals, each signal once. The demo's borrower tells a short,
/// fixed story: weaker accounts, then funds diverted and arrears with
/// other lenders.
fn story(rng: &mut StdRng, designated: bool) -> [Vec<pb::WarningSignal>; 3] {
    use pb::WarningSignal as S;
    if designated {
        let serious = vec![S::FundDiversion, S::ArrearsOthers];
        return [vec![S::FinDeterioration], serious, Vec::new()];
    }
    const MILD: &[S] = &[
        S::FinDeterioration,
        S::RatingDowngrade,
        S::AccountAnomaly,
        S::NonCooperation,
        S::IndustryPolicy,
        S::OwnershipChange,
        S::MgmtEvent,
    ];
    const SERIOUS: &[S] = &[
        S::ArrearsOthers,
        S::UnpaidTaxWages,
        S::Litigation,
        S::CollateralRisk,
        S::GuarantorRisk,
        S::FundDiversion,
    ];
    const SEVERE: &[S] = &[
        S::StopProduction,
        S::Litigation,
        S::ArrearsOthers,
        S::FundDiversion,
        S::MgmtEvent,
        S::UnpaidTaxWages,
    ];
    let mut story: [Vec<S>; 3] = Default::default();
    for (level, pool) in [MILD, SERIOUS, SEVERE].into_iter().enumerate() {
        let seen: Vec<S> = story.iter().flatten().copied().collect();
        let fresh: Vec<S> = pool.iter().filter(|s| !seen.contains(s)).copied().collect();
        let count = rng.random_range(1..=2);
        story[level] = fresh.choose_multiple(rng, count).copied().collect();
    }
    story
}

/// Borrower `pool_index`'s place in 0..1 on a golden-ratio (Weyl)
/// sequence: evenly spread over any run of consecutive borrowers, so a
/// sample's class shares come out close to the profile's rates instead of
/// scattering with the luck of a few hundred draws.
fn spread(seed: u64, pool_index: u64) -> f64 {
    let turn = mix(&[seed, 4]).wrapping_add(pool_index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (turn >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks from `(value, weight)` pairs.
fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for &(value, weight) in weighted {
        if ticket < weight {
            return value;
        }
        ticket -= weight;
    }
    weighted[0].0
}

/// SplitMix64 over several words: a stable seed for each independent stream.
fn mix(parts: &[u64]) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for &part in parts {
        state = state.wrapping_add(part).wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        state = z ^ (z >> 31);
    }
    state
}

/// FNV-1a, to turn an institution id into a stream number.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `date` plus `months` (clamped to the month's last day).
pub(crate) fn add_months(date: Date, months: u32) -> Date {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u8 + 1);
    let month = Month::try_from(month).unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests;
