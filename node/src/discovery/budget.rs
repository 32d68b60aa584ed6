//! Evaluation budgets: per member, per officer and per purpose for
//! assessments; per member from its declared portfolio for enrolment.
//! Counts are per fixed window (`discovery.window_seconds`, aligned to
//! the Unix epoch) and rebuilt from the discovery log at start-up, so a
//! restart does not refill them. A call must fit whole or is refused.

use std::collections::HashMap;

use crate::config::DiscoveryConfig;
use crate::domain::purpose::Purpose;

/// Who asks, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spender {
    pub institution: String,
    /// Empty for a certificate that names no officer.
    pub officer: String,
    /// `None`: enrolment.
    pub purpose: Option<Purpose>,
}

/// Which budget a call exceeded (the log's `refused` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Enrolment,
    Member,
    Officer,
    Purpose,
}

impl Exceeded {
    pub fn as_str(self) -> &'static str {
        match self {
            Exceeded::Enrolment => "ENROLMENT_BUDGET",
            Exceeded::Member => "MEMBER_BUDGET",
            Exceeded::Officer => "OFFICER_BUDGET",
            Exceeded::Purpose => "PURPOSE_BUDGET",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Counter {
    Enrolment(String),
    Member(String),
    Officer(String, String),
    Purpose(String, Purpose),
    Refused(String),
    Lookups(String),
}

/// One member's use of the current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberUse {
    pub enrolment: u64,
    pub assessment: u64,
    pub refused: u64,
    pub lookups: u64,
}

/// The counts of the current window.
#[derive(Debug, Default)]
pub struct Budgets {
    window: u64,
    counts: HashMap<Counter, u64>,
}

impl Budgets {
    fn roll(&mut self, window: u64) {
        if window != self.window {
            self.window = window;
            self.counts.clear();
        }
    }

    fn get(&self, c: &Counter) -> u64 {
        self.counts.get(c).copied().unwrap_or(0)
    }

    /// Spends `n` evaluations for `who` at `now_ms`, or refuses naming the
    /// first budget the call would exceed (and counts the refusal).
    pub fn spend(
        &mut self,
        config: &DiscoveryConfig,
        who: &Spender,
        n: u64,
        now_ms: i64,
    ) -> Result<(), Exceeded> {
        self.roll(window_of(config, now_ms));
        let inst = who.institution.clone();
        let limits: Vec<(Counter, u64, Exceeded)> = match who.purpose {
            None => vec![(
                Counter::Enrolment(inst.clone()),
                config
                    .portfolio(&inst)
                    .saturating_mul(config.enrolment_factor),
                Exceeded::Enrolment,
            )],
            Some(purpose) => {
                let mut l = vec![
                    (
                        Counter::Member(inst.clone()),
                        config.member_budget,
                        Exceeded::Member,
                    ),
                    (
                        Counter::Officer(inst.clone(), who.officer.clone()),
                        config.officer_budget,
                        Exceeded::Officer,
                    ),
                ];
                if let Some(b) = config.purpose_budget(purpose) {
                    l.push((
                        Counter::Purpose(inst.clone(), purpose),
                        b,
                        Exceeded::Purpose,
                    ));
                }
                l
            }
        };
        if let Some((_, _, exceeded)) = limits
            .iter()
            .find(|(c, limit, _)| self.get(c).saturating_add(n) > *limit)
        {
            *self.counts.entry(Counter::Refused(inst)).or_default() += 1;
            return Err(*exceeded);
        }
        for (c, _, _) in limits {
            *self.counts.entry(c).or_default() += n;
        }
        Ok(())
    }

    /// Counts a past evaluation (or refusal) without checking it: the
    /// start-up replay of the window from the log.
    pub fn record(
        &mut self,
        config: &DiscoveryConfig,
        who: &Spender,
        n: u64,
        refused: bool,
        now_ms: i64,
    ) {
        self.roll(window_of(config, now_ms));
        let inst = who.institution.clone();
        let counters = match (refused, who.purpose) {
            (true, _) => vec![Counter::Refused(inst)],
            (false, None) => vec![Counter::Enrolment(inst)],
            (false, Some(p)) => vec![
                Counter::Member(inst.clone()),
                Counter::Officer(inst.clone(), who.officer.clone()),
                Counter::Purpose(inst, p),
            ],
        };
        for c in counters {
            *self.counts.entry(c).or_default() += if refused { 1 } else { n };
        }
    }

    /// Counts a lookup of `institution` at `now_ms`.
    pub fn count_lookup(&mut self, config: &DiscoveryConfig, institution: &str, now_ms: i64) {
        self.roll(window_of(config, now_ms));
        *self
            .counts
            .entry(Counter::Lookups(institution.to_owned()))
            .or_default() += 1;
    }

    /// A member's use of the window holding `now_ms`.
    pub fn member_use(
        &mut self,
        config: &DiscoveryConfig,
        institution: &str,
        now_ms: i64,
    ) -> MemberUse {
        self.roll(window_of(config, now_ms));
        let i = institution.to_owned();
        MemberUse {
            enrolment: self.get(&Counter::Enrolment(i.clone())),
            assessment: self.get(&Counter::Member(i.clone())),
            refused: self.get(&Counter::Refused(i.clone())),
            lookups: self.get(&Counter::Lookups(i)),
        }
    }

    /// Members seen in the current window.
    pub fn members(&self) -> Vec<String> {
        let mut m: Vec<String> = self
            .counts
            .keys()
            .map(|c| match c {
                Counter::Enrolment(i)
                | Counter::Member(i)
                | Counter::Officer(i, _)
                | Counter::Purpose(i, _)
                | Counter::Refused(i)
                | Counter::Lookups(i) => i.clone(),
            })
            .collect();
        m.sort();
        m.dedup();
        m
    }
}

/// Start (Unix ms) of the window holding `now_ms`.
pub fn window_start_ms(config: &DiscoveryConfig, now_ms: i64) -> i64 {
    let len = (config.window_seconds * 1000) as i64;
    now_ms.div_euclid(len) * len
}

fn window_of(config: &DiscoveryConfig, now_ms: i64) -> u64 {
    window_start_ms(config, now_ms) as u64 / (config.window_seconds * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DiscoveryConfig {
        toml::from_str(
            r#"
            listen = "127.0.0.1:1"
            key_file = "/nonexistent"
            member_budget = 10
            officer_budget = 4
            enrolment_factor = 2
            purpose_budgets = { "loan-approval" = 6 }
            portfolios = { BANK-A = 5 }
            "#,
        )
        .expect("test config")
    }

    fn who(officer: &str, purpose: Option<Purpose>) -> Spender {
        Spender {
            institution: "BANK-A".into(),
            officer: officer.into(),
            purpose,
        }
    }

    const T: i64 = 1_800_000_000_000;

    #[test]
    fn enrolment_is_bounded_by_the_declared_portfolio() {
        let (c, mut b) = (config(), Budgets::default());
        assert_eq!(b.spend(&c, &who("", None), 10, T), Ok(()));
        assert_eq!(b.spend(&c, &who("", None), 1, T), Err(Exceeded::Enrolment));
        let other = Spender {
            institution: "BANK-Z".into(),
            ..who("", None)
        };
        assert_eq!(
            b.spend(&c, &other, 1, T),
            Err(Exceeded::Enrolment),
            "undeclared"
        );
    }

    #[test]
    fn officer_member_and_purpose_budgets_refuse_whole_calls() {
        let (c, mut b) = (config(), Budgets::default());
        let loan = Some(Purpose::LoanApproval);
        let card = Some(Purpose::CreditCardApproval);
        assert_eq!(b.spend(&c, &who("o1", loan), 4, T), Ok(()));
        assert_eq!(b.spend(&c, &who("o1", card), 1, T), Err(Exceeded::Officer));
        assert_eq!(b.spend(&c, &who("o2", loan), 3, T), Err(Exceeded::Purpose));
        assert_eq!(b.spend(&c, &who("o2", loan), 2, T), Ok(()));
        assert_eq!(b.spend(&c, &who("o2", card), 2, T), Ok(()));
        assert_eq!(b.spend(&c, &who("o3", card), 3, T), Err(Exceeded::Member));
        let used = b.member_use(&c, "BANK-A", T);
        assert_eq!((used.assessment, used.refused), (8, 3));
    }

    #[test]
    fn a_new_window_starts_from_zero() {
        let (c, mut b) = (config(), Budgets::default());
        let loan = Some(Purpose::LoanApproval);
        assert_eq!(b.spend(&c, &who("o1", loan), 4, T), Ok(()));
        assert_eq!(b.spend(&c, &who("o1", loan), 1, T), Err(Exceeded::Officer));
        let next = T + 86_400_000;
        assert_eq!(b.spend(&c, &who("o1", loan), 4, next), Ok(()));
    }
}
