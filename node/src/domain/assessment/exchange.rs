//! Converting debts in several currencies to one, so that the share of a
//! borrower's debt more than 90 days overdue is computed over all of it
//! (docs/domain.md#assessment-levels). Rates come from the node's
//! `[assessment]` table, with its date; every converted figure names them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::codes::{is_iso_4217, minor_unit_digits};
use crate::domain::dates::parse_date;
use crate::domain::field::FieldError;

/// Rates are fixed-point with this many decimals.
const RATE_DECIMALS: u32 = 8;

/// The `[assessment]` section: the currency totals are converted to and
/// the rates that convert them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateTable {
    /// ISO 4217 code every total is converted to.
    pub base_currency: String,
    /// The date the rates are of (`YYYY-MM-DD`); required with rates.
    pub rates_as_of: String,
    /// Units of `base_currency` per one unit of each currency, as decimal
    /// strings with up to 8 decimals, e.g. `USD = "7.1000"`.
    pub rates: BTreeMap<String, String>,
}

impl Default for RateTable {
    fn default() -> Self {
        Self {
            base_currency: "CNY".into(),
            rates_as_of: String::new(),
            rates: BTreeMap::new(),
        }
    }
}

impl RateTable {
    /// Checks codes, rates and the date; the error names the key.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !is_iso_4217(&self.base_currency) {
            return Err(FieldError::new(
                "assessment.base_currency",
                format!("{:?} is not an ISO 4217 code", self.base_currency),
            ));
        }
        for (code, rate) in &self.rates {
            if !is_iso_4217(code) {
                return Err(FieldError::new(
                    "assessment.rates",
                    format!("{code:?} is not an ISO 4217 code"),
                ));
            }
            parse_rate(rate).map_err(|reason| {
                FieldError::new("assessment.rates", format!("{code}: {reason}"))
            })?;
        }
        if !self.rates.is_empty() {
            parse_date("assessment.rates_as_of", &self.rates_as_of)?;
        }
        Ok(())
    }

    /// The rate of `code` in units of 10^-8 base units per unit, if known
    /// (the base currency is 1).
    fn rate_e8(&self, code: &str) -> Option<i128> {
        if code == self.base_currency {
            return Some(10_i128.pow(RATE_DECIMALS));
        }
        parse_rate(self.rates.get(code)?).ok()
    }

    /// `amount` minor units of `code` in minor units of the base currency,
    /// rounded down; `None` without a rate.
    pub fn convert(&self, amount: i64, code: &str) -> Option<i128> {
        let rate = self.rate_e8(code)?;
        let scale_in = 10_i128.pow(minor_unit_digits(code));
        let scale_out = 10_i128.pow(minor_unit_digits(&self.base_currency));
        let numerator = i128::from(amount)
            .checked_mul(rate)?
            .checked_mul(scale_out)?;
        Some(numerator / (scale_in * 10_i128.pow(RATE_DECIMALS)))
    }

    /// "USD 7.1000": the rate as configured.
    pub fn describe_rate(&self, code: &str) -> String {
        match self.rates.get(code) {
            Some(rate) => format!("{code} {}", rate.trim()),
            None => format!("{code} (no rate)"),
        }
    }
}

/// Parses a positive decimal with up to 8 decimals into units of 10^-8.
fn parse_rate(text: &str) -> Result<i128, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
        return Err(format!(
            "{text:?} is not a decimal number such as \"7.1000\""
        ));
    }
    if fraction.len() > RATE_DECIMALS as usize || whole.len() > 12 {
        return Err(format!("{text:?} has more than 12 digits or 8 decimals"));
    }
    let padded = format!("{fraction:0<width$}", width = RATE_DECIMALS as usize);
    let value = format!("{whole}{padded}")
        .parse::<i128>()
        .map_err(|e| e.to_string())?;
    if value == 0 {
        return Err("must be greater than 0".into());
    }
    Ok(value)
}

/// An amount in minor units for people: "CNY 8,360,000.00".
pub fn money(amount: i128, code: &str) -> String {
    let digits = minor_unit_digits(code);
    let scale = 10_i128.pow(digits);
    let (sign, amount) = if amount < 0 {
        ("-", -amount)
    } else {
        ("", amount)
    };
    let whole = (amount / scale).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if digits == 0 {
        format!("{code} {sign}{grouped}")
    } else {
        let fraction = amount % scale;
        format!(
            "{code} {sign}{grouped}.{fraction:0width$}",
            width = digits as usize
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn table() -> RateTable {
        RateTable {
            base_currency: "CNY".into(),
            rates_as_of: "2026-11-30".into(),
            rates: [("USD", "7.1000"), ("JPY", "0.047"), ("KWD", "23.05")]
                .into_iter()
                .map(|(c, r)| (c.to_owned(), r.to_owned()))
                .collect(),
        }
    }

    #[test]
    fn conversion_respects_minor_units() {
        let t = table();
        // USD 50,000.00 = 5,000,000 cents → CNY 355,000.00.
        assert_eq!(t.convert(5_000_000, "USD"), Some(35_500_000));
        // JPY 1,000,000 (no minor unit) → CNY 47,000.00.
        assert_eq!(t.convert(1_000_000, "JPY"), Some(4_700_000));
        // KWD 1.000 (3 decimals) → CNY 23.05.
        assert_eq!(t.convert(1_000, "KWD"), Some(2_305));
        assert_eq!(t.convert(123, "CNY"), Some(123));
        assert_eq!(t.convert(1, "EUR"), None);
        assert!(t.validate().is_ok());
    }

    #[test]
    fn rates_and_codes_are_checked_naming_the_key() {
        let mut t = table();
        t.rates.insert("USD".into(), "7,1".into());
        assert_eq!(t.validate().unwrap_err().field, "assessment.rates");
        let mut t = table();
        t.rates.insert("USD".into(), "0".into());
        assert!(t.validate().unwrap_err().reason.contains("greater than 0"));
        let mut t = table();
        t.rates_as_of = String::new();
        assert_eq!(t.validate().unwrap_err().field, "assessment.rates_as_of");
        let mut t = table();
        t.base_currency = "RMB".into();
        assert_eq!(t.validate().unwrap_err().field, "assessment.base_currency");
        assert!(RateTable::default().validate().is_ok());
    }

    #[test]
    fn money_is_grouped_with_its_minor_unit() {
        assert_eq!(money(836_000_000, "CNY"), "CNY 8,360,000.00");
        assert_eq!(money(1_000_000, "JPY"), "JPY 1,000,000");
        assert_eq!(money(5, "USD"), "USD 0.05");
        assert_eq!(money(-123_456, "CNY"), "CNY -1,234.56");
    }
}
