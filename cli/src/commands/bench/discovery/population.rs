//! The simulated country: `members` lenders whose sizes follow Zipf's law
//! (the largest holds about 1/H(members) of all lending relationships; the
//! three real nodes are the three largest), and `borrowers` borrowers with
//! a skewed number of lenders each — most have one to three, a few up to
//! eight. Deterministic for a seed, so runs compare.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::sample::ids;

/// The real holder nodes (`credshare node run`): the three largest members.
pub(super) const REAL: [&str; 3] = ["BANK-A", "BANK-B", "BANK-C"];

/// Lenders per borrower: (count, probability). Mean 1.82.
const LENDERS: [(usize, f64); 8] = [
    (1, 0.55),
    (2, 0.25),
    (3, 0.11),
    (4, 0.05),
    (5, 0.02),
    (6, 0.01),
    (7, 0.005),
    (8, 0.005),
];

/// Who lends to whom.
pub(super) struct Population {
    /// Institution ids by rank (0 = largest); the first three are [`REAL`].
    pub members: Vec<String>,
    /// Raw identifiers (`USCC:…`, `RID:…`), by borrower number.
    pub borrowers: Vec<String>,
    /// The ranks of each borrower's lenders, distinct.
    pub lenders: Vec<Vec<u32>>,
    /// Borrower numbers each member holds, by rank.
    pub portfolios: Vec<Vec<u32>>,
}

impl Population {
    /// Draws `borrowers` borrowers among `members` members (at least 3).
    pub(super) fn draw(members: usize, borrowers: usize, seed: u64) -> Self {
        let members = members.max(REAL.len());
        let mut rng = StdRng::seed_from_u64(seed);
        let names: Vec<String> = (0..members)
            .map(|rank| match REAL.get(rank) {
                Some(real) => (*real).to_owned(),
                None => format!("M-{:04}", rank + 1),
            })
            .collect();
        let cumulative = zipf_cumulative(members);
        let mut ids_out = Vec::with_capacity(borrowers);
        let mut lenders = Vec::with_capacity(borrowers);
        let mut portfolios = vec![Vec::new(); members];
        for n in 0..borrowers {
            ids_out.push(identifier(&mut rng, n as u64));
            let want = lender_count(&mut rng).min(members);
            let mut mine: Vec<u32> = Vec::with_capacity(want);
            while mine.len() < want {
                let u: f64 = rng.random();
                let rank = cumulative.partition_point(|c| *c < u).min(members - 1) as u32;
                if !mine.contains(&rank) {
                    mine.push(rank);
                }
            }
            for rank in &mine {
                portfolios[*rank as usize].push(n as u32);
            }
            lenders.push(mine);
        }
        Self {
            members: names,
            borrowers: ids_out,
            lenders,
            portfolios,
        }
    }

    /// Lending relationships in all.
    pub(super) fn relationships(&self) -> u64 {
        self.lenders.iter().map(|l| l.len() as u64).sum()
    }

    /// Members holding at least one borrower.
    pub(super) fn lending_members(&self) -> usize {
        self.portfolios.iter().filter(|p| !p.is_empty()).count()
    }

    /// `{ID = n, …}`: every lending member's declared portfolio (exactly
    /// what it holds), as a TOML inline table for
    /// `CREDSHARE_DISCOVERY__PORTFOLIOS`.
    pub(super) fn portfolios_toml(&self) -> String {
        let entries: Vec<String> = self
            .members
            .iter()
            .zip(&self.portfolios)
            .filter(|(_, p)| !p.is_empty())
            .map(|(m, p)| format!("{m} = {}", p.len()))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// Cumulative Zipf(s = 1) probabilities of ranks `0..members`.
fn zipf_cumulative(members: usize) -> Vec<f64> {
    let weights: Vec<f64> = (1..=members).map(|r| 1.0 / r as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut sum = 0.0;
    weights
        .iter()
        .map(|w| {
            sum += w / total;
            sum
        })
        .collect()
}

fn lender_count(rng: &mut StdRng) -> usize {
    let mut u: f64 = rng.random();
    for (count, p) in LENDERS {
        if u < p {
            return count;
        }
        u -= p;
    }
    1
}

/// A valid identifier for borrower `n`: 80 % enterprises (USCC), 20 %
/// individuals (RID), as the sample generator draws them.
fn identifier(rng: &mut StdRng, n: u64) -> String {
    if rng.random_bool(0.2) {
        format!("RID:{}", ids::rid(n))
    } else {
        format!("USCC:{}", ids::uscc(rng, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_is_skewed_deterministic_and_consistent() {
        let p = Population::draw(4000, 20_000, 7);
        assert_eq!(p.members[..3], REAL);
        assert_eq!(p.members[3], "M-0004");
        let mean = p.relationships() as f64 / 20_000.0;
        assert!((1.75..1.9).contains(&mean), "{mean}");
        // The largest member holds more than the smallest thousand together.
        let tail: usize = p.portfolios[3000..].iter().map(Vec::len).sum();
        assert!(
            p.portfolios[0].len() > tail,
            "{} vs {tail}",
            p.portfolios[0].len()
        );
        let held: usize = p.portfolios.iter().map(Vec::len).sum();
        assert_eq!(held as u64, p.relationships());
        let distinct: std::collections::HashSet<_> = p.borrowers.iter().collect();
        assert_eq!(distinct.len(), 20_000);
        let again = Population::draw(4000, 20_000, 7);
        assert_eq!(again.lenders, p.lenders);
    }
}
