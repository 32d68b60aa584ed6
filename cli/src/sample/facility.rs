//! One borrower's facilities (credit rows) and follow-up visits (visit rows).
//!
//! Plausible rather than statistically calibrated: CNY amounts spread over
//! three orders of magnitude, overdue days mostly 0 with a tail that follows
//! the borrower's health, risk classes never better than the days allow, and
//! warning signals on the visits of the weaker facilities.

use credshare_node::domain::codes::code_name;
use credshare_node::domain::records::minimum_class_for_overdue;
use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use time::{Date, Duration};

use super::{Borrower, Health, add_months, pick};

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
}

impl Facility {
    pub(super) fn generate(rng: &mut StdRng, borrower: &Borrower, id: String, today: Date) -> Self {
        let kind = facility_type(rng, borrower.individual);
        let term = term_months(rng, kind);
        let days = overdue_days(rng, borrower.health);
        let as_of = today - Duration::days(rng.random_range(0..=7));
        let open = if days > 0 {
            // Arrears began `days` ago: at least a month after opening and
            // no later than maturity (term months are at least 28 days).
            let began = as_of - Duration::days(i64::from(days));
            began - Duration::days(rng.random_range(30..=i64::from(term) * 28 - 1))
        } else {
            today - Duration::days(rng.random_range(45..=1800))
        };
        let maturity = add_months(open, term);
        let as_of = as_of.max(open);
        let (currency, contract) = amount(rng, borrower.individual, kind);
        let mut facility = Self {
            id,
            kind,
            currency,
            contract,
            outstanding: 0,
            open,
            maturity,
            guarantee: guarantee(rng, borrower.individual),
            class: pb::RiskClass::Normal,
            overdue_principal: 0,
            overdue_total: 0,
            overdue_days: 0,
            status: pb::AccountStatus::Settled,
            as_of,
        };
        if days > 0 || maturity >= as_of {
            facility.set_performance(rng, borrower.health, days);
        }
        facility
    }

    /// Balances, overdue amounts, class and status of a facility that is
    /// still running (or matured unpaid).
    fn set_performance(&mut self, rng: &mut StdRng, health: Health, days: u32) {
        let drawn = if self.kind == pb::FacilityType::RevolvingLine {
            rng.random_range(0.2..1.05)
        } else {
            rng.random_range(0.3..1.0)
        };
        self.outstanding = ((self.contract as f64 * drawn) as i64).max(100);
        self.overdue_days = days;
        if days > 0 {
            let share = if days <= 30 {
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
        self.class = minimum_class_for_overdue(days).max(class_floor(rng, health));
        let non_performing = self.class >= pb::RiskClass::Substandard;
        self.status = match (days > 0, self.class) {
            (true, pb::RiskClass::Loss) if rng.random_bool(0.3) => pb::AccountStatus::WrittenOff,
            (_, _) if non_performing && rng.random_bool(0.15) => pb::AccountStatus::Restructured,
            (true, _) => pb::AccountStatus::Overdue,
            (false, _) => pb::AccountStatus::Active,
        };
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

    pub(super) fn is_weak(&self) -> bool {
        self.overdue_days > 0 || self.class > pb::RiskClass::Normal
    }
}

fn facility_type(rng: &mut StdRng, individual: bool) -> pb::FacilityType {
    use pb::FacilityType as F;
    if individual {
        pick(
            rng,
            &[
                (F::WorkingCapital, 60),
                (F::RevolvingLine, 25),
                (F::Overdraft, 15),
            ],
        )
    } else {
        pick(
            rng,
            &[
                (F::WorkingCapital, 40),
                (F::FixedAsset, 12),
                (F::Project, 6),
                (F::TradeFinance, 10),
                (F::Discount, 5),
                (F::Acceptance, 8),
                (F::LetterOfCredit, 4),
                (F::Guarantee, 4),
                (F::Overdraft, 3),
                (F::RevolvingLine, 8),
            ],
        )
    }
}

fn term_months(rng: &mut StdRng, kind: pb::FacilityType) -> u32 {
    use pb::FacilityType as F;
    let terms: &[u32] = match kind {
        F::FixedAsset => &[36, 60, 84, 120],
        F::Project => &[60, 96, 120, 180],
        F::TradeFinance | F::LetterOfCredit => &[3, 6],
        F::Discount | F::Acceptance => &[6],
        F::Guarantee => &[12, 24, 36],
        F::RevolvingLine => &[12, 24, 36],
        _ => &[6, 12, 12, 12, 24, 36],
    };
    terms.choose(rng).copied().unwrap_or(12)
}

/// Currency and contract amount in minor units: log-uniform in yuan,
/// mostly CNY, trade finance more often in USD.
fn amount(rng: &mut StdRng, individual: bool, kind: pb::FacilityType) -> (&'static str, i64) {
    let (low, high, step) = if individual {
        (5e4_f64, 3e6_f64, 1e3)
    } else {
        (3e5, 3e8, 1e4)
    };
    let yuan = (rng.random_range(low.ln()..high.ln())).exp();
    let foreign = matches!(
        kind,
        pb::FacilityType::TradeFinance | pb::FacilityType::LetterOfCredit
    );
    let usd_weight = if foreign { 40 } else { 4 };
    let (currency, per_yuan) = pick(
        rng,
        &[
            (("CNY", 1.0), 100 - usd_weight - 2),
            (("USD", 1.0 / 7.1), usd_weight),
            (("EUR", 1.0 / 7.8), 1),
            (("HKD", 1.0 / 0.91), 1),
        ],
    );
    let units = ((yuan * per_yuan / step).round() * step).max(step);
    (currency, (units * 100.0) as i64)
}

fn guarantee(rng: &mut StdRng, individual: bool) -> pb::GuaranteeType {
    use pb::GuaranteeType as G;
    if individual {
        pick(
            rng,
            &[(G::Credit, 40), (G::Guaranteed, 20), (G::Mortgage, 40)],
        )
    } else {
        pick(
            rng,
            &[
                (G::Credit, 20),
                (G::Guaranteed, 30),
                (G::Mortgage, 30),
                (G::Pledge, 10),
                (G::Combined, 10),
            ],
        )
    }
}

/// Days overdue: mostly 0, with a tail that grows with the borrower's
/// trouble.
fn overdue_days(rng: &mut StdRng, health: Health) -> u32 {
    let band = match health {
        Health::Good => pick(rng, &[((0, 0), 96), ((1, 7), 3), ((8, 30), 1)]),
        Health::Watch => pick(rng, &[((0, 0), 45), ((1, 30), 20), ((31, 90), 35)]),
        Health::Bad => pick(rng, &[((0, 0), 25), ((31, 90), 25), ((91, 270), 50)]),
        Health::Failing => pick(rng, &[((91, 270), 10), ((271, 360), 45), ((361, 720), 45)]),
    };
    rng.random_range(band.0..=band.1)
}

/// A class the institution may judge necessary beyond the overdue rule.
fn class_floor(rng: &mut StdRng, health: Health) -> pb::RiskClass {
    use pb::RiskClass as R;
    let (worse, better) = match health {
        Health::Good => (R::Normal, R::Normal),
        Health::Watch => (R::SpecialMention, R::Normal),
        Health::Bad => (R::Substandard, R::SpecialMention),
        Health::Failing => (R::Doubtful, R::Substandard),
    };
    if rng.random_bool(0.5) { worse } else { better }
}
