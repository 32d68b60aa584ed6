//! Records as an officer reads them, shared by `borrower show` (own
//! records) and `assess --scope detail` (every institution's verified
//! records): facilities with amounts in their currency, class, overdue and
//! dates; visits newest first with findings, signals, proposed class,
//! action and conclusions. With a signer per row, the signing key is named
//! once when one key signed everything, else per row.

mod json;

use anyhow::anyhow;
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use prost::Message;

use crate::output::Table;
pub use json::{credit_json, dsse_json, verified_json, visit_json};

/// Shown key ids are shortened to this many hex digits.
const KEY_ID_DIGITS: usize = 16;

/// A record to show, and the key id that verified it when known.
pub struct Shown<'a, T> {
    pub record: &'a T,
    pub key_id: Option<&'a str>,
}

/// Facilities, one row each; a KEY column when `key_column`.
pub fn render_credits(credits: &[Shown<'_, pb::CreditSummary>], key_column: bool) -> String {
    let rows = credits.iter().map(|s| (credit_cells(s.record), s.key_id));
    keyed_table(
        "FACILITY|V|TYPE|CONTRACT|OUTSTANDING|CLASS|OVERDUE|STATUS|OPENED|MATURES|AS OF",
        key_column,
        rows,
    )
    .render()
}

fn credit_cells(c: &pb::CreditSummary) -> Vec<String> {
    vec![
        c.facility_id.clone(),
        c.version.to_string(),
        code_label::<pb::FacilityType>(c.facility_type).into(),
        money(&c.currency, c.contract_amount),
        money(&c.currency, c.outstanding_balance),
        code_label::<pb::RiskClass>(c.risk_class).into(),
        overdue(c),
        code_label::<pb::AccountStatus>(c.account_status).into(),
        c.open_date.clone(),
        c.maturity_date.clone(),
        c.as_of_date.clone(),
    ]
}

/// A table of `header` with one row per `(cells, key id)`; with
/// `key_column`, a KEY column of short key ids.
fn keyed_table<'a>(
    header: &str,
    key_column: bool,
    rows: impl IntoIterator<Item = (Vec<String>, Option<&'a str>)>,
) -> Table {
    let header = if key_column {
        format!("{header}|KEY")
    } else {
        header.to_owned()
    };
    let mut t = Table::new(&header);
    for (mut row, key_id) in rows {
        if key_column {
            row.push(short_key(key_id.unwrap_or_default()));
        }
        t.row(row);
    }
    t
}

/// Visits newest first, then their conclusions as a list.
pub fn render_visits(visits: &[Shown<'_, pb::VisitSummary>], key_column: bool) -> String {
    let mut sorted: Vec<&Shown<'_, pb::VisitSummary>> = visits.iter().collect();
    sorted.sort_by(|a, b| {
        (&b.record.visit_date, &b.record.visit_id).cmp(&(&a.record.visit_date, &a.record.visit_id))
    });
    let rows = sorted.iter().map(|s| (visit_cells(s.record), s.key_id));
    let mut out = keyed_table(
        "DATE|VISIT|FACILITY|TYPE|CHANNEL|FUNDS|OPERATIONS|PROJECT|COLLATERAL|GUARANTOR|SIGNALS|PROPOSED|ACTION",
        key_column,
        rows,
    )
    .render();
    let concluded: Vec<_> = sorted
        .iter()
        .filter(|s| !s.record.conclusion.is_empty())
        .collect();
    if !concluded.is_empty() {
        out.push_str("conclusions\n");
        for s in concluded {
            let v = s.record;
            out.push_str(&format!(
                "  - {} {}: {}\n",
                v.visit_date, v.visit_id, v.conclusion
            ));
        }
    }
    out
}

fn visit_cells(v: &pb::VisitSummary) -> Vec<String> {
    let signals = v
        .warning_signals
        .iter()
        .map(|s| code_label::<pb::WarningSignal>(*s).into_owned())
        .collect::<Vec<_>>();
    vec![
        v.visit_date.clone(),
        v.visit_id.clone(),
        v.facility_id.clone(),
        code_label::<pb::VisitType>(v.visit_type).into(),
        code_label::<pb::VisitChannel>(v.channel).into(),
        code_label::<pb::FundUsage>(v.fund_usage).into(),
        code_label::<pb::OperationsStatus>(v.operations).into(),
        code_label::<pb::ProjectProgress>(v.project_progress).into(),
        code_label::<pb::CollateralStatus>(v.collateral).into(),
        code_label::<pb::GuarantorStatus>(v.guarantor).into(),
        if signals.is_empty() {
            "-".into()
        } else {
            signals.join(",")
        },
        code_label::<pb::RiskClass>(v.proposed_risk_class).into(),
        code_label::<pb::ActionTaken>(v.action_taken).into(),
    ]
}

/// One institution's verified records: a heading naming the signing key
/// when one key signed them all, then its facilities and visits.
pub fn render_institution(institution: &str, records: &[pb::VerifiedRecord]) -> String {
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    for r in records {
        let key_id = Some(r.signer_key_id.as_str());
        match &r.record {
            Some(pb::verified_record::Record::Credit(c)) => {
                credits.push(Shown { record: c, key_id })
            }
            Some(pb::verified_record::Record::Visit(v)) => visits.push(Shown { record: v, key_id }),
            None => {}
        }
    }
    let mut keys: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.signer_institution.as_str(), r.signer_key_id.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let signed = match keys.as_slice() {
        [] => "no records".to_string(),
        [(inst, key)] => format!(
            "every record signed by {inst} key {}, verified",
            short_key(key)
        ),
        many => format!(
            "signed by {} keys (see KEY), every signature verified",
            many.len()
        ),
    };
    let per_row = keys.len() > 1;
    format!(
        "== {institution}: {}, {} — {signed}\nfacilities\n{}visits (newest first)\n{}",
        count(credits.len(), "facility", "facilities"),
        count(visits.len(), "visit", "visits"),
        render_credits(&credits, per_row),
        render_visits(&visits, per_row),
    )
}

/// Decodes the payloads of stored envelopes by their payload type.
pub fn decode_records(
    records: &[pb::StoredRecord],
) -> anyhow::Result<(Vec<pb::CreditSummary>, Vec<pb::VisitSummary>)> {
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    for r in records {
        let env = r
            .envelope
            .as_ref()
            .ok_or_else(|| anyhow!("stored record without envelope"))?;
        match env.payload_type.as_str() {
            credshare_node::signing::CREDIT_SUMMARY_TYPE => {
                credits.push(pb::CreditSummary::decode(env.payload.as_slice())?)
            }
            credshare_node::signing::VISIT_SUMMARY_TYPE => {
                visits.push(pb::VisitSummary::decode(env.payload.as_slice())?)
            }
            other => return Err(anyhow!("unknown payload type {other}")),
        }
    }
    Ok((credits, visits))
}

/// "CNY 1,234.56" from minor units.
pub fn money(currency: &str, minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let units = (abs / 100).to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{currency} {sign}{grouped}.{:02}", abs % 100)
}

/// "-" when nothing is overdue, else days and the overdue total.
fn overdue(c: &pb::CreditSummary) -> String {
    if c.overdue_days == 0 && c.overdue_total == 0 {
        "-".into()
    } else {
        format!(
            "{} d, {}",
            c.overdue_days,
            money(&c.currency, c.overdue_total)
        )
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn short_key(key_id: &str) -> String {
    match key_id.get(..KEY_ID_DIGITS) {
        Some(short) if key_id.len() > KEY_ID_DIGITS => format!("{short}…"),
        _ => key_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_the_currency_and_two_decimals() {
        assert_eq!(money("CNY", 123_456), "CNY 1,234.56");
        assert_eq!(money("CNY", 20_923_712_050), "CNY 209,237,120.50");
        assert_eq!(money("USD", 100_000), "USD 1,000.00");
        assert_eq!(money("USD", 99_999), "USD 999.99");
        assert_eq!(money("USD", -5), "USD -0.05");
    }

    #[test]
    fn one_key_is_named_in_the_heading_many_keys_per_row() {
        let record = |key: &str| pb::VerifiedRecord {
            record: Some(pb::verified_record::Record::Credit(pb::CreditSummary {
                facility_id: "F-1".into(),
                currency: "CNY".into(),
                ..Default::default()
            })),
            signer_institution: "BANK-B".into(),
            signer_key_id: key.into(),
            ..Default::default()
        };
        let one = render_institution("BANK-B", &[record("aa"), record("aa")]);
        assert!(
            one.contains("every record signed by BANK-B key aa"),
            "{one}"
        );
        assert!(!one.contains("KEY"), "{one}");
        let two = render_institution("BANK-B", &[record("aa"), record("bb")]);
        assert!(two.contains("signed by 2 keys"), "{two}");
        assert!(two.contains("KEY"), "{two}");
    }

    #[test]
    fn visits_are_listed_newest_first_with_their_conclusions() {
        let v = |id: &str, date: &str| pb::VisitSummary {
            visit_id: id.into(),
            visit_date: date.into(),
            conclusion: format!("seen {id}"),
            ..Default::default()
        };
        let (old, new) = (v("V-1", "2026-01-05"), v("V-2", "2026-06-01"));
        let shown = [
            Shown {
                record: &old,
                key_id: None,
            },
            Shown {
                record: &new,
                key_id: None,
            },
        ];
        let text = render_visits(&shown, false);
        let (a, b) = (text.find("V-2").unwrap(), text.find("V-1").unwrap());
        assert!(a < b, "{text}");
        assert!(text.contains("- 2026-06-01 V-2: seen V-2"), "{text}");
    }
}
