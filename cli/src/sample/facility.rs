//! One facility of a borrower: its credit row, and the history its visits
//! follow (when its class changed, when it went 61 days overdue, when
//! visits stop).
//!
//! Every row keeps the node's record rules by construction: the class is
//! never better than the overdue days allow, arrears begin at least a month
//! after disbursement, a live facility past maturity is overdue, settled
//! ones owe nothing and written-off ones are LOSS.

use credshare_node::domain::codes::code_name;
use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;
use time::{Date, Duration};

use super::profile::{Health, SampleProfile, Standing, standing};
use super::terms::{amount, facility_type, guarantee, term_months};
use super::{Borrower, add_months};

/// Overdue days at which the classification floor rises (2023 rules), with
/// the class from that day on.
const FLOORS: [(u32, pb::RiskClass); 4] = [
    (8, pb::RiskClass::SpecialMention),
    (91, pb::RiskClass::Substandard),
    (271, pb::RiskClass::Doubtful),
    (361, pb::RiskClass::Loss),
];
/// The 61st overdue day calls for a FOCUSED visit (node rule).
const FOCUSED_OVERDUE_DAY: u32 = 61;
/// Longest a sample facility has been running, in days.
const MAX_AGE_DAYS: i64 = 1800;

/// A credit facility as written to `credit.csv`.
pub(super) struct Facility {
    pub(super) id: String,
    pub(super) kind: pb::FacilityType,
    pub(super) currency: &'static str,
    pub(super) contract: i64,
    pub(super) outstanding: i64,
    pub(super) open: Date,
    pub(super) maturity: Date,
    pub(super) guarantee: pb::GuaranteeType,
    pub(super) class: pb::RiskClass,
    pub(super) overdue_principal: i64,
    pub(super) overdue_total: i64,
    pub(super) overdue_days: u32,
    pub(super) status: pb::AccountStatus,
    pub(super) as_of: Date,
    pub(super) history: History,
}

/// What the facility's visits follow.
pub(super) struct History {
    /// Last day a visit can be made: today while the facility is live, its
    /// settlement or write-off otherwise.
    pub end: Date,
    /// Whether visit obligations still run at `end` (not settled or
    /// written off).
    pub live: bool,
    /// The class from each date on, oldest first, each worse than the one
    /// before (NORMAL until the first).
    pub changes: Vec<(Date, pb::RiskClass)>,
    /// The day the 61st overdue day was reached, if it was.
    pub overdue_trigger: Option<Date>,
    pub restructured: bool,
}

impl History {
    /// The facility's class on `date`.
    pub fn class_at(&self, date: Date) -> pb::RiskClass {
        self.changes
            .iter()
            .take_while(|(from, _)| *from <= date)
            .last()
            .map_or(pb::RiskClass::Normal, |c| c.1)
    }
}

/// The fate of one facility, decided before its dates and amounts.
enum Fate {
    Settled,
    WrittenOff(u32),
    Live(pb::RiskClass, Standing, u32),
}

impl Fate {
    fn draw(rng: &mut StdRng, borrower: &Borrower, profile: &SampleProfile) -> Self {
        if borrower.designated {
            // The demo's borrower: doubtful and far overdue everywhere.
            let days = rng.random_range(280..=340);
            return Fate::Live(pb::RiskClass::Doubtful, Standing::Overdue, days);
        }
        if rng.random_bool(profile.settled_rate) {
            return Fate::Settled;
        }
        match borrower.health {
            Health::WrittenOff => Fate::WrittenOff(rng.random_range(361..=900)),
            Health::Classed(class) => {
                let (standing, days) = standing(rng, class, profile);
                Fate::Live(class, standing, days)
            }
        }
    }
}

impl Facility {
    /// A facility of `borrower` as of a day in the week before `today`.
    pub(super) fn generate(
        rng: &mut StdRng,
        borrower: &Borrower,
        profile: &SampleProfile,
        id: String,
        today: Date,
    ) -> Self {
        let fate = Fate::draw(rng, borrower, profile);
        let kind = facility_type(rng, borrower.individual);
        let term = term_months(rng, kind);
        let as_of = today - Duration::days(rng.random_range(0..=7));
        let (currency, contract) = amount(rng, borrower.individual, kind);
        let mut facility = Self {
            id,
            kind,
            currency,
            contract,
            outstanding: 0,
            open: as_of,
            maturity: as_of,
            guarantee: guarantee(rng, borrower.individual),
            class: pb::RiskClass::Normal,
            overdue_principal: 0,
            overdue_total: 0,
            overdue_days: 0,
            status: pb::AccountStatus::Settled,
            as_of,
            history: History {
                end: as_of,
                live: false,
                changes: Vec::new(),
                overdue_trigger: None,
                restructured: false,
            },
        };
        match fate {
            Fate::Settled => facility.settle(rng, term),
            Fate::WrittenOff(days) => {
                facility.run(rng, term, pb::RiskClass::Loss, Standing::Overdue, days);
                facility.status = pb::AccountStatus::WrittenOff;
                facility.history.live = false;
            }
            Fate::Live(class, standing, days) => {
                facility.run(rng, term, class, standing, days);
                facility.history.end = today;
            }
        }
        facility
    }

    /// A facility repaid within the last two years: at maturity if its term
    /// is three years or less, else early (long loans are mostly prepaid or
    /// refinanced), after one to three years.
    fn settle(&mut self, rng: &mut StdRng, term: u32) {
        // 31 days a month or more: a short facility matured before then.
        let life = if term <= 36 {
            31 * i64::from(term)
        } else {
            rng.random_range(365..=1095)
        };
        self.open = self.as_of - Duration::days(life + rng.random_range(1..=720));
        self.maturity = add_months(self.open, term);
        self.history.end = self.maturity.min(self.open + Duration::days(life));
    }

    /// Dates, balances, class and status of a facility still on the books.
    fn run(
        &mut self,
        rng: &mut StdRng,
        term: u32,
        class: pb::RiskClass,
        standing: Standing,
        days: u32,
    ) {
        // 28 days a month or fewer: the maturity is after these days.
        let shortest = (28 * i64::from(term) - 1).min(MAX_AGE_DAYS);
        let age = if days > 0 {
            // Arrears began at least a month after disbursement.
            let lead = rng.random_range(30..=shortest.max(30));
            i64::from(days) + lead
        } else if class > pb::RiskClass::Normal {
            // Room for a FIRST visit before the downgrade.
            rng.random_range(60.min(shortest)..=shortest)
        } else {
            rng.random_range(1..=shortest)
        };
        self.open = self.as_of - Duration::days(age);
        self.maturity = add_months(self.open, term);
        self.class = class;
        self.overdue_days = days;
        self.set_balances(rng, days);
        self.status = match standing {
            Standing::Restructured => pb::AccountStatus::Restructured,
            _ if days > 0 => pb::AccountStatus::Overdue,
            _ => pb::AccountStatus::Active,
        };
        self.history.live = true;
        self.history.restructured = standing == Standing::Restructured;
        self.history.changes = class_changes(rng, self.open, self.as_of, class, days);
        self.history.overdue_trigger = (days >= FOCUSED_OVERDUE_DAY)
            .then(|| self.as_of - Duration::days(i64::from(days - FOCUSED_OVERDUE_DAY)));
    }

    /// Outstanding balance and overdue amounts: a little principal early in
    /// the arrears, more as they age, all of it once the facility matured.
    fn set_balances(&mut self, rng: &mut StdRng, days: u32) {
        let drawn = if self.kind == pb::FacilityType::RevolvingLine {
            rng.random_range(0.2..1.05)
        } else {
            rng.random_range(0.3..1.0)
        };
        self.outstanding = ((self.contract as f64 * drawn) as i64).max(100);
        if days == 0 {
            return;
        }
        let share = if self.maturity < self.as_of {
            1.0
        } else if days <= 30 {
            if rng.random_bool(0.5) {
                rng.random_range(0.02..0.08)
            } else {
                0.0
            }
        } else {
            (0.1 + f64::from(days) / 400.0).min(1.0) * rng.random_range(0.7..1.0)
        };
        self.overdue_principal = (self.outstanding as f64 * share) as i64;
        let years = f64::from(days) / 365.0;
        let interest = self.outstanding as f64 * 0.045 * years;
        let penalty = self.overdue_principal as f64 * 0.0225 * years;
        self.overdue_total = self.overdue_principal + (interest + penalty) as i64 + 100;
    }

    pub(super) fn cells(&self, borrower_id: &str) -> [String; 16] {
        [
            borrower_id.to_owned(),
            self.id.clone(),
            "1".to_owned(),
            code_name(self.kind).to_owned(),
            self.currency.to_owned(),
            self.contract.to_string(),
            self.outstanding.to_string(),
            self.open.to_string(),
            self.maturity.to_string(),
            code_name(self.guarantee).to_owned(),
            code_name(self.class).to_owned(),
            self.overdue_principal.to_string(),
            self.overdue_total.to_string(),
            self.overdue_days.to_string(),
            code_name(self.status).to_owned(),
            self.as_of.to_string(),
        ]
    }

    /// Whether the facility has collateral an officer inspects.
    pub(super) fn has_collateral(&self) -> bool {
        use pb::GuaranteeType as G;
        matches!(self.guarantee, G::Mortgage | G::Pledge | G::Combined)
    }

    /// Whether a third party guarantees the facility.
    pub(super) fn has_guarantor(&self) -> bool {
        use pb::GuaranteeType as G;
        matches!(self.guarantee, G::Guaranteed | G::Combined)
    }

    /// Whether the facility finances a project whose progress is visited.
    pub(super) fn has_project(&self) -> bool {
        use pb::FacilityType as F;
        matches!(self.kind, F::Project | F::FixedAsset)
    }
}

/// When the class of a facility classed `class` with `days` overdue as of
/// `as_of` got worse: at each floor the arrears crossed, and on the day of
/// the bank's judgment when the class is worse than the floor.
fn class_changes(
    rng: &mut StdRng,
    open: Date,
    as_of: Date,
    class: pb::RiskClass,
    days: u32,
) -> Vec<(Date, pb::RiskClass)> {
    let began = as_of - Duration::days(i64::from(days));
    let mut changes: Vec<(Date, pb::RiskClass)> = FLOORS
        .iter()
        .filter(|(threshold, floor)| days >= *threshold && *floor <= class)
        .map(|(threshold, floor)| (began + Duration::days(i64::from(*threshold)), *floor))
        .collect();
    let floor = changes.last().map_or(pb::RiskClass::Normal, |c| c.1);
    if class > floor {
        // Judged worse than the days alone: a few weeks or months ago,
        // after the grace if overdue, after the FIRST visit window if not.
        let earliest = if days > 7 {
            began + Duration::days(8)
        } else {
            open + Duration::days(40)
        };
        let span = (as_of - earliest).whole_days().clamp(0, 240);
        let judged = as_of - Duration::days(rng.random_range(0..=span));
        changes.push((judged.max(earliest).min(as_of), class));
        changes.sort_by_key(|c| c.0);
    }
    // Keep only changes for the worse (a judgment may precede a floor).
    let mut worst = pb::RiskClass::Normal;
    changes.retain(|&(_, c)| {
        let worse = c > worst;
        worst = worst.max(c);
        worse
    });
    changes
}
