//! `credshare sample`: realistic, deterministic record files for demos,
//! tests and benchmarks, in exactly the format [`crate::rows`] reads.
//!
//! Institutions that generate with the same seed share a known part of their
//! borrowers: the first [`SHARED_SHARE`] of each institution's borrowers come
//! from a common pool in which borrower `j` is the same legal or natural
//! person (and in the same financial health) everywhere; the rest are the
//! institution's own. So a federation of sample nodes has multi-lender
//! borrowers whose troubles show up at several institutions at once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use credshare_node::domain::borrower::{
    USCC_ALPHABET, org_code_check_char, rid_check_char, uscc_check_char, uscc_value,
};
use credshare_node::pki::InstitutionId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Month, OffsetDateTime};

use crate::rows::{CREDIT_COLUMNS, VISIT_COLUMNS};
use facility::Facility;
use visits::Visit;

// Facilities and their visits; the borrower-level loop is here, so the two
// files do not need each other's internals beyond `Facility`.
mod facility;
mod visits;

/// Share of each institution's borrowers drawn from the common pool.
pub const SHARED_SHARE: f64 = 0.3;
/// Most borrowers per institution (keeps identifiers unique by construction).
pub const MAX_BORROWERS: u64 = 1_000_000;
/// File names written into the output directory.
pub const CREDIT_FILE: &str = "credit.csv";
pub const VISITS_FILE: &str = "visits.csv";

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
    pub credit_file: PathBuf,
    pub visits_file: PathBuf,
}

/// How many of `borrowers` come from the common pool.
pub fn shared_borrower_count(borrowers: u64) -> u64 {
    (borrowers as f64 * SHARED_SHARE).round() as u64
}

/// Writes `credit.csv` and `visits.csv` into `out` (created if needed),
/// dated relative to today (UTC). Deterministic for a given seed,
/// institution and day.
pub fn write_sample(
    institution: &InstitutionId,
    borrowers: u64,
    seed: u64,
    out: &Path,
) -> anyhow::Result<SampleSummary> {
    let today = OffsetDateTime::now_utc().date();
    write_sample_as_of(institution, borrowers, seed, today, out)
}

/// [`write_sample`] with an explicit "today": no generated date is later.
pub fn write_sample_as_of(
    institution: &InstitutionId,
    borrowers: u64,
    seed: u64,
    today: Date,
    out: &Path,
) -> anyhow::Result<SampleSummary> {
    anyhow::ensure!(
        borrowers <= MAX_BORROWERS,
        "at most {MAX_BORROWERS} borrowers per institution"
    );
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let credit_file = out.join(CREDIT_FILE);
    let visits_file = out.join(VISITS_FILE);
    let mut credit = csv_writer(&credit_file, CREDIT_COLUMNS)?;
    let mut visits = csv_writer(&visits_file, VISIT_COLUMNS)?;
    let shared = shared_borrower_count(borrowers);
    let own_range = own_range(institution);
    let mut summary = SampleSummary {
        borrowers,
        shared_borrowers: shared,
        individuals: 0,
        facilities: 0,
        visits: 0,
        credit_file,
        visits_file,
    };
    for j in 0..borrowers {
        let pool_index = if j < shared {
            j
        } else {
            own_range + (j - shared)
        };
        let borrower = Borrower::generate(seed, pool_index);
        summary.individuals += u64::from(borrower.individual);
        let mut rng = StdRng::seed_from_u64(mix(&[seed, fnv1a(institution.as_str()), j, 3]));
        let (facilities, visit_rows) =
            write_borrower(&mut rng, &borrower, j, today, &mut credit, &mut visits)?;
        summary.facilities += facilities;
        summary.visits += visit_rows;
    }
    credit.flush().context("cannot write credit.csv")?;
    visits.flush().context("cannot write visits.csv")?;
    Ok(summary)
}

fn csv_writer(path: &Path, columns: &[&str]) -> anyhow::Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
    writer
        .write_record(columns)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(writer)
}

/// Start of the institution's own slice of identifier numbers: above the
/// shared pool, and different for different institutions (up to a hash
/// collision among 800 slots, which only adds a little overlap).
fn own_range(institution: &InstitutionId) -> u64 {
    (1 + fnv1a(institution.as_str()) % 800) * MAX_BORROWERS
}

/// How a borrower is doing, the same at every institution that lends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Health {
    Good,
    Watch,
    Bad,
    Failing,
}

/// A generated borrower: identifier (with its `USCC:`/`RID:` prefix),
/// kind and health.
pub(crate) struct Borrower {
    pub id: String,
    pub individual: bool,
    pub health: Health,
}

/// Size of the identifier number space: 6 base-31 USCC symbols.
const ID_SPACE: u64 = 31u64.pow(6);

impl Borrower {
    /// Borrower number `pool_index`; numbers below [`MAX_BORROWERS`] are the
    /// shared pool. Distinct numbers give distinct identifiers.
    fn generate(seed: u64, pool_index: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(mix(&[seed, pool_index, 1]));
        // A bijection of the number space, so identifiers don't count up.
        let n = ((u128::from(pool_index) * 1_000_003 + u128::from(mix(&[seed, 2])))
            % u128::from(ID_SPACE)) as u64;
        let individual = rng.random_bool(0.2);
        let health = match rng.random_range(0..100) {
            0..80 => Health::Good,
            80..90 => Health::Watch,
            90..97 => Health::Bad,
            _ => Health::Failing,
        };
        let id = if individual {
            format!("RID:{}", rid(n))
        } else {
            format!("USCC:{}", uscc(&mut rng, n))
        };
        Self {
            id,
            individual,
            health,
        }
    }
}

/// Region codes (prefecture level) used for both identifier kinds.
const REGIONS: &[&str] = &[
    "110105", "110108", "120101", "130100", "210200", "310104", "310115", "320100", "320500",
    "330100", "330200", "340100", "350100", "350200", "360100", "370100", "370200", "410100",
    "420100", "430100", "440100", "440300", "441900", "450100", "500103", "510100", "530100",
    "610100", "620100", "650100",
];

/// A valid USCC whose symbols 11–16 spell `n` in base 31.
fn uscc(rng: &mut StdRng, n: u64) -> String {
    let head = match rng.random_range(0..100) {
        0..90 => "91",
        90..94 => "92",
        94..97 => "12",
        _ => "52",
    };
    let region = REGIONS[rng.random_range(0..REGIONS.len())];
    let mut code: Vec<char> = format!("{head}{region}MA").chars().collect();
    let mut rest = n;
    let mut digits = ['0'; 6];
    // Least significant first, so consecutive numbers differ up front.
    for slot in digits.iter_mut() {
        *slot = char::from(USCC_ALPHABET[(rest % 31) as usize]);
        rest /= 31;
    }
    code.extend(digits);
    let mut body = ['0'; 8];
    body.copy_from_slice(&code[8..16]);
    code.push(org_code_check_char(&body).unwrap_or('0'));
    let mut values = [0u32; 17];
    for (value, c) in values.iter_mut().zip(&code) {
        *value = uscc_value(*c).unwrap_or(0);
    }
    code.push(uscc_check_char(&values));
    code.into_iter().collect()
}

/// First and last birth dates of generated individuals.
const BIRTH_FIRST: Date = time::macros::date!(1955 - 01 - 01);
const BIRTH_DAYS: u64 = 17_896; // through 2003-12-31

/// A valid RID derived from `n`: region, birth date and sequence.
fn rid(n: u64) -> String {
    let regions = REGIONS.len() as u64;
    let region = REGIONS[(n % regions) as usize];
    let birth = BIRTH_FIRST + time::Duration::days(((n / regions) % BIRTH_DAYS) as i64);
    let sequence = (n / (regions * BIRTH_DAYS)) % 1000;
    let first17 = format!(
        "{region}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let mut digits = [0u32; 17];
    for (d, c) in digits.iter_mut().zip(first17.chars()) {
        *d = c.to_digit(10).unwrap_or(0);
    }
    format!("{first17}{}", rid_check_char(&digits))
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

/// Writes 1–3 facilities of borrower number `j` and their visits; returns
/// how many facility and visit rows were written.
fn write_borrower<W: Write>(
    rng: &mut StdRng,
    borrower: &Borrower,
    j: u64,
    today: Date,
    credit: &mut csv::Writer<W>,
    visits: &mut csv::Writer<W>,
) -> anyhow::Result<(u64, u64)> {
    let count = pick(rng, &[(1u64, 50), (2, 35), (3, 15)]);
    let mut visit_rows = 0;
    for k in 1..=count {
        let facility = Facility::generate(rng, borrower, format!("LN{j:07}-{k}"), today);
        credit.write_record(facility.cells(&borrower.id))?;
        for visit in Visit::series(rng, &facility, borrower) {
            visits.write_record(visit.cells(&borrower.id, &facility.id))?;
            visit_rows += 1;
        }
    }
    Ok((count, visit_rows))
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
