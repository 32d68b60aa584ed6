//! Targeted assessment (docs/design.md §9): the requester's CLI looked the
//! borrower up in the discovery service's holder directory, and the node
//! asks only the holders it named. Every other member is still listed, as
//! "not a holder (discovery)": never an answer (no figures, no good
//! standing) and never missing. A lookup that named nobody is reported as
//! "no holder found", not as a clean record.

use std::collections::BTreeSet;

use credshare_proto::v1 as pb;

use super::Contribution;
use super::level::level_name;
use crate::domain::FieldError;
use crate::domain::field::quote_unless_identifying;

/// A discovery receipt id: 128 random bits as lower-case hex.
pub const RECEIPT_ID_HEX_DIGITS: usize = 32;

/// Most holders one request may name (a lookup returns far fewer; each must
/// also be a member this node knows).
pub const MAX_HOLDERS: usize = 10_000;

/// The per-peer detail of a member discovery did not name.
pub const NOT_HOLDER: &str = "not a holder (discovery)";

/// Discovery's answer for one assessment, checked at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targeting {
    /// The receipt of the evaluation the lookup redeemed.
    pub receipt_id: String,
    /// The institutions the lookup returned (possibly none).
    pub holders: BTreeSet<String>,
}

impl Targeting {
    /// `AssessRequest.discovery_receipt_id` and `.discovery_holders`: no
    /// receipt and no holders is a fan-out to every peer (`None`); holders
    /// without a receipt, a malformed receipt id, an empty, repeated or
    /// excess holder are refused.
    pub fn from_wire(receipt_id: String, holders: Vec<String>) -> Result<Option<Self>, FieldError> {
        if receipt_id.is_empty() {
            if !holders.is_empty() {
                return Err(FieldError::new(
                    "discovery_holders",
                    "holders need the discovery_receipt_id they were found with",
                ));
            }
            return Ok(None);
        }
        check_receipt_id("discovery_receipt_id", &receipt_id)?;
        if holders.len() > MAX_HOLDERS {
            return Err(FieldError::new(
                "discovery_holders",
                format!("at most {MAX_HOLDERS}, got {}", holders.len()),
            ));
        }
        let mut set = BTreeSet::new();
        for h in holders {
            if h.is_empty() {
                return Err(FieldError::new(
                    "discovery_holders",
                    "an empty institution id",
                ));
            }
            if set.contains(&h) {
                let shown = quote_unless_identifying(&h);
                return Err(FieldError::new(
                    "discovery_holders",
                    format!("{shown} is named twice"),
                ));
            }
            set.insert(h);
        }
        Ok(Some(Targeting {
            receipt_id,
            holders: set,
        }))
    }
}

/// A discovery receipt id on the wire (`field`): empty is allowed by the
/// caller's choice; otherwise exactly [`RECEIPT_ID_HEX_DIGITS`] lower-case
/// hex digits, so nothing else reaches a log.
pub fn check_receipt_id(field: &'static str, id: &str) -> Result<(), FieldError> {
    let hex = id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if id.len() == RECEIPT_ID_HEX_DIGITS && hex {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("a discovery receipt id is {RECEIPT_ID_HEX_DIGITS} lower-case hex digits"),
        ))
    }
}

/// The contribution of a member discovery did not name: not asked.
pub fn not_holder(institution: String) -> Contribution {
    Contribution::failed(
        institution,
        pb::PeerStatus::NotHolder,
        pb::DenialReason::Unspecified,
        NOT_HOLDER.to_owned(),
        0,
    )
}

/// Marks `assessment` as targeted by `t`; when discovery named no holder
/// and nothing is known of the borrower (level `NO_DATA`), says first that
/// no holder was found.
pub fn mark(assessment: &mut pb::Assessment, t: &Targeting) {
    assessment.discovery_receipt_id = t.receipt_id.clone();
    if t.holders.is_empty() && assessment.level == pb::AssessmentLevel::NoData as i32 {
        let reason = format!(
            "{}: no holder found: discovery (receipt {}) names no institution holding the borrower",
            level_name(pb::AssessmentLevel::NoData),
            t.receipt_id
        );
        assessment.reasons.insert(0, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIPT: &str = "0123456789abcdef0123456789abcdef";

    fn holders(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_receipt_is_fan_out_and_holders_need_one() {
        assert_eq!(Targeting::from_wire(String::new(), vec![]), Ok(None));
        let e = Targeting::from_wire(String::new(), holders(&["BANK-A"])).unwrap_err();
        assert_eq!(e.field, "discovery_holders");
    }

    #[test]
    fn receipt_ids_are_32_lower_case_hex_digits() {
        for bad in [
            &RECEIPT[1..],
            "0123456789ABCDEF0123456789abcdef",
            "g123456789abcdef0123456789abcdef",
        ] {
            let e = Targeting::from_wire(bad.into(), vec![]).unwrap_err();
            assert_eq!(e.field, "discovery_receipt_id", "{bad}");
        }
        let t = Targeting::from_wire(RECEIPT.into(), vec![])
            .unwrap()
            .unwrap();
        assert!(t.holders.is_empty());
    }

    #[test]
    fn holders_are_distinct_named_and_bounded() {
        let t = Targeting::from_wire(RECEIPT.into(), holders(&["BANK-B", "BANK-A"]));
        let t = t.unwrap().unwrap();
        assert_eq!(t.holders.iter().collect::<Vec<_>>(), ["BANK-A", "BANK-B"]);
        for bad in [
            holders(&["BANK-A", "BANK-A"]),
            holders(&[""]),
            vec!["X".into(); MAX_HOLDERS + 1],
        ] {
            let e = Targeting::from_wire(RECEIPT.into(), bad).unwrap_err();
            assert_eq!(e.field, "discovery_holders");
        }
    }

    #[test]
    fn no_holder_found_is_said_only_when_nothing_is_known() {
        let t = Targeting::from_wire(RECEIPT.into(), vec![])
            .unwrap()
            .unwrap();
        let mut a = pb::Assessment {
            level: pb::AssessmentLevel::NoData as i32,
            reasons: vec!["NO_DATA: no answering institution holds any record".into()],
            ..Default::default()
        };
        mark(&mut a, &t);
        assert_eq!(a.discovery_receipt_id, RECEIPT);
        assert!(
            a.reasons[0].starts_with("NO_DATA: no holder found"),
            "{:?}",
            a.reasons
        );
        let mut green = pb::Assessment {
            level: pb::AssessmentLevel::Yellow as i32,
            ..Default::default()
        };
        mark(&mut green, &t);
        assert!(green.reasons.is_empty());
    }
}
