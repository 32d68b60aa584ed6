//! The share of a borrower's debt across institutions that is more than
//! 90 days overdue: over all debt, currencies converted with the node's
//! rate table (docs/domain.md#assessment-levels), with the figures used.

use credshare_proto::v1 as pb;

use super::exchange::{RateTable, money};

/// The share and the figures behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DebtShare {
    /// Basis points of `total` that is more than 90 days overdue, rounded
    /// down (0 when there is no debt).
    pub bp: u32,
    /// Outstanding more than 90 days overdue, in minor units of `unit`.
    pub over: i128,
    /// All outstanding debt considered, in minor units of `unit`.
    pub total: i128,
    /// The currency of `over` and `total`.
    pub unit: String,
    /// How the figures were made: one currency, or the rates used.
    pub basis: String,
    /// Currencies with debt but no rate, each with its own share (bp):
    /// left out of `over` and `total`.
    pub unconverted: Vec<(String, u32)>,
}

impl DebtShare {
    /// "CNY 360,000.00 of CNY 8,360,000.00 (CNY equivalent at …)".
    pub fn figures(&self) -> String {
        format!(
            "{} of {} ({})",
            money(self.over, &self.unit),
            money(self.total, &self.unit),
            self.basis
        )
    }
}

/// Computes the share over `exposures` (merged per currency). With one
/// currency its own figures are used; with several, every currency is
/// converted to the table's base currency, and a currency without a rate
/// is left out and listed in `unconverted`.
pub(super) fn debt_share(exposures: &[pb::CurrencyExposure], rates: &RateTable) -> DebtShare {
    let owed: Vec<&pb::CurrencyExposure> = exposures
        .iter()
        .filter(|e| e.outstanding_balance > 0)
        .collect();
    if let [only] = owed.as_slice() {
        let total = i128::from(only.outstanding_balance);
        let over = i128::from(
            only.outstanding_over_90_days
                .clamp(0, only.outstanding_balance),
        );
        return DebtShare {
            bp: basis_points(over, total),
            over,
            total,
            unit: only.currency.clone(),
            basis: format!("all debt is in {}", only.currency),
            unconverted: Vec::new(),
        };
    }
    let (mut over, mut total) = (0i128, 0i128);
    let (mut used, mut unconverted) = (Vec::new(), Vec::new());
    for e in &owed {
        let own_over = e.outstanding_over_90_days.clamp(0, e.outstanding_balance);
        match (
            rates.convert(e.outstanding_balance, &e.currency),
            rates.convert(own_over, &e.currency),
        ) {
            (Some(t), Some(o)) => {
                total = total.saturating_add(t);
                over = over.saturating_add(o);
                if e.currency != rates.base_currency {
                    used.push(rates.describe_rate(&e.currency));
                }
            }
            _ => unconverted.push((
                e.currency.clone(),
                basis_points(own_over.into(), e.outstanding_balance.into()),
            )),
        }
    }
    let basis = if used.is_empty() {
        format!("{} only", rates.base_currency)
    } else {
        format!(
            "{} equivalent at the rates of {}: {}",
            rates.base_currency,
            rates.rates_as_of,
            used.join(", ")
        )
    };
    DebtShare {
        bp: basis_points(over, total),
        over,
        total,
        unit: rates.base_currency.clone(),
        basis,
        unconverted,
    }
}

/// `part / whole` in basis points rounded down, capped at 100%.
fn basis_points(part: i128, whole: i128) -> u32 {
    if whole <= 0 {
        return 0;
    }
    u32::try_from(part.clamp(0, whole) * 10_000 / whole).unwrap_or(10_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exposure(currency: &str, outstanding: i64, over_90: i64) -> pb::CurrencyExposure {
        pb::CurrencyExposure {
            currency: currency.into(),
            contract_amount: outstanding,
            outstanding_balance: outstanding,
            outstanding_over_90_days: over_90,
        }
    }

    fn rates() -> RateTable {
        RateTable {
            base_currency: "CNY".into(),
            rates_as_of: "2026-11-30".into(),
            rates: [("USD".to_owned(), "7.1000".to_owned())].into(),
        }
    }

    #[test]
    fn debt_in_two_currencies_is_converted_before_the_share() {
        // CNY 8,000,000.00 performing and USD 50,000.00 over 90 days:
        // USD 50,000 × 7.1 = CNY 355,000; 355,000 / 8,355,000 = 4.2489 %.
        let share = debt_share(
            &[
                exposure("CNY", 800_000_000, 0),
                exposure("USD", 5_000_000, 5_000_000),
            ],
            &rates(),
        );
        assert_eq!(share.total, 835_500_000);
        assert_eq!(share.over, 35_500_000);
        assert_eq!(share.bp, 424);
        assert_eq!(
            share.figures(),
            "CNY 355,000.00 of CNY 8,355,000.00 (CNY equivalent at the rates of 2026-11-30: USD 7.1000)"
        );
        assert!(share.unconverted.is_empty());
    }

    #[test]
    fn one_currency_needs_no_rate_and_a_missing_rate_is_named() {
        let share = debt_share(&[exposure("EUR", 1_000, 300)], &rates());
        assert_eq!((share.bp, share.unit.as_str()), (3_000, "EUR"));
        assert_eq!(share.basis, "all debt is in EUR");
        let share = debt_share(
            &[exposure("CNY", 1_000, 0), exposure("EUR", 1_000, 1_000)],
            &rates(),
        );
        assert_eq!(share.unconverted, vec![("EUR".to_owned(), 10_000)]);
        assert_eq!((share.bp, share.total), (0, 1_000));
    }
}
