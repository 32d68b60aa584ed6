//! The portfolio a sample describes: how many facilities are in each risk
//! class, how many are overdue, settled or written off, and how closely
//! officers keep to the visit schedule. Defaults follow the published
//! figures of Chinese commercial banks (NPL ≈ 1.6 %, SPECIAL_MENTION ≈
//! 2.2 % of loans) and a schedule kept nine times out of ten.
//!
//! Health is drawn per borrower, so every institution that lends to a
//! borrower of the shared pool sees it in the same class (the 2023
//! classification rules also keep one borrower's exposures at one bank in
//! one class); overdue days are drawn per facility from the class's bands.

use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;

use super::pick;

/// The rates of a sample; see each field. `Default` is the realistic
/// portfolio the demo and benchmarks use.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SampleProfile {
    /// Share of live facilities that are non-performing (SUBSTANDARD,
    /// DOUBTFUL or LOSS).
    pub npl_rate: f64,
    /// Share of live facilities classified SPECIAL_MENTION.
    pub special_mention_rate: f64,
    /// Share of NORMAL live facilities 1–7 days overdue (technical grace).
    pub grace_overdue_rate: f64,
    /// Share of facilities already repaid (SETTLED, kept as history).
    pub settled_rate: f64,
    /// Share of borrowers whose facilities have been written off.
    pub written_off_rate: f64,
    /// Share of scheduled visits made on time; the rest are late, and as of
    /// today about this share of live facilities is up to date.
    pub visit_adherence: f64,
}

impl Default for SampleProfile {
    fn default() -> Self {
        Self {
            npl_rate: 0.016,
            special_mention_rate: 0.022,
            grace_overdue_rate: 0.01,
            settled_rate: 0.2,
            written_off_rate: 0.004,
            visit_adherence: 0.9,
        }
    }
}

impl SampleProfile {
    /// Every rate is a share in 0..=1, and the classes fit in one portfolio.
    pub fn validate(&self) -> anyhow::Result<()> {
        let rates = [
            ("--npl-rate", self.npl_rate),
            ("--special-mention-rate", self.special_mention_rate),
            ("--grace-overdue-rate", self.grace_overdue_rate),
            ("--settled-rate", self.settled_rate),
            ("--written-off-rate", self.written_off_rate),
            ("--visit-adherence", self.visit_adherence),
        ];
        for (flag, rate) in rates {
            anyhow::ensure!(
                (0.0..=1.0).contains(&rate),
                "{flag} must be a share between 0 and 1, found {rate}"
            );
        }
        anyhow::ensure!(
            self.npl_rate + self.special_mention_rate <= 1.0,
            "--npl-rate and --special-mention-rate add up to more than 1"
        );
        Ok(())
    }

    /// Expected share of live facilities with any overdue days.
    pub fn expected_overdue_rate(&self) -> f64 {
        self.expected_share(|band| band.days.1 > 0, self.grace_overdue_rate)
    }

    /// Expected share of live facilities more than 90 days overdue.
    pub fn expected_over_90_rate(&self) -> f64 {
        self.expected_share(|band| band.days.0 > 90, 0.0)
    }

    /// Σ over classes of (class share × share of its bands that `counts`);
    /// NORMAL facilities count with `normal`.
    fn expected_share(&self, counts: impl Fn(&Band) -> bool, normal: f64) -> f64 {
        let performing = 1.0 - self.npl_rate - self.special_mention_rate;
        let share = |bands: &[Band]| {
            let total: u32 = bands.iter().map(|b| b.weight).sum();
            let hit: u32 = bands.iter().filter(|b| counts(b)).map(|b| b.weight).sum();
            f64::from(hit) / f64::from(total.max(1))
        };
        let npl_total: u32 = NPL_MIX.iter().map(|(_, w)| w).sum();
        let npl: f64 = NPL_MIX
            .iter()
            .map(|&(class, w)| f64::from(w) / f64::from(npl_total) * share(bands(class)))
            .sum();
        performing * normal
            + self.special_mention_rate * share(bands(pb::RiskClass::SpecialMention))
            + self.npl_rate * npl
    }
}

/// How a borrower is doing, the same at every institution that lends to
/// it: the class of its live facilities, or written off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Classed(pb::RiskClass),
    WrittenOff,
}

/// Non-performing classes and their weights (about half SUBSTANDARD).
const NPL_MIX: [(pb::RiskClass, u32); 3] = [
    (pb::RiskClass::Substandard, 50),
    (pb::RiskClass::Doubtful, 30),
    (pb::RiskClass::Loss, 20),
];

impl Health {
    /// A borrower's health under `profile`, from `u` in 0..1. Written-off
    /// borrowers take the bottom of the range, so the classes' rates are
    /// shares of the live facilities.
    pub(crate) fn draw(u: f64, rng: &mut StdRng, profile: &SampleProfile) -> Self {
        if u < profile.written_off_rate {
            return Health::WrittenOff;
        }
        let r = (u - profile.written_off_rate) / (1.0 - profile.written_off_rate);
        if r < profile.npl_rate {
            Health::Classed(pick(rng, &NPL_MIX))
        } else if r < profile.npl_rate + profile.special_mention_rate {
            Health::Classed(pb::RiskClass::SpecialMention)
        } else {
            Health::Classed(pb::RiskClass::Normal)
        }
    }
}

/// Where a live facility stands besides its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// Paying as agreed (ACTIVE); a class above NORMAL is the bank's
    /// judgment (warning signals).
    Current,
    /// Days overdue in the band (OVERDUE); a class above the floor the
    /// days set is the bank's judgment.
    Overdue,
    /// New terms after trouble (RESTRUCTURED, nothing overdue).
    Restructured,
}

/// One way a facility of a class can stand: weight, overdue days range.
#[derive(Debug, Clone, Copy)]
pub(super) struct Band {
    pub weight: u32,
    pub days: (u32, u32),
    pub standing: Standing,
}

const fn band(weight: u32, days: (u32, u32), standing: Standing) -> Band {
    Band {
        weight,
        days,
        standing,
    }
}

/// The bands of a class other than NORMAL (NORMAL's grace is a flag):
/// mostly at the floor the overdue days set, some classified worse by
/// judgment, some restructured.
pub(super) fn bands(class: pb::RiskClass) -> &'static [Band] {
    use Standing::{Current, Overdue, Restructured};
    const SPECIAL_MENTION: [Band; 3] = [
        band(55, (8, 90), Overdue),
        band(35, (0, 0), Current),
        band(10, (0, 0), Restructured),
    ];
    const SUBSTANDARD: [Band; 3] = [
        band(75, (91, 270), Overdue),
        band(10, (31, 90), Overdue),
        band(15, (0, 0), Restructured),
    ];
    const DOUBTFUL: [Band; 2] = [band(80, (271, 360), Overdue), band(20, (91, 270), Overdue)];
    const LOSS: [Band; 1] = [band(100, (361, 720), Overdue)];
    const NORMAL: [Band; 1] = [band(1, (0, 0), Current)];
    match class {
        pb::RiskClass::SpecialMention => &SPECIAL_MENTION,
        pb::RiskClass::Substandard => &SUBSTANDARD,
        pb::RiskClass::Doubtful => &DOUBTFUL,
        pb::RiskClass::Loss => &LOSS,
        _ => &NORMAL,
    }
}

/// Standing and overdue days of a live facility of `class`.
pub(super) fn standing(
    rng: &mut StdRng,
    class: pb::RiskClass,
    profile: &SampleProfile,
) -> (Standing, u32) {
    if class == pb::RiskClass::Normal {
        return if rng.random_bool(profile.grace_overdue_rate) {
            (Standing::Overdue, rng.random_range(1..=7))
        } else {
            (Standing::Current, 0)
        };
    }
    let weighted: Vec<(Band, u32)> = bands(class).iter().map(|b| (*b, b.weight)).collect();
    let band = pick(rng, &weighted);
    (band.standing, rng.random_range(band.days.0..=band.days.1))
}
