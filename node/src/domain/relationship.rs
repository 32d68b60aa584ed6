//! The post-loan rule (2005 PBoC measures on the personal credit database,
//! art. 12(4) and 13; docs/domain.md "Post-loan management"): a post-loan
//! query (reason 01) needs no new written authorization, but only for a
//! borrower the requester actually lends to. The requester proves it with
//! its own signed credit record of the borrower; this module decides
//! whether a verified, decoded record is such proof, and which of an
//! institution's own records to send.

use credshare_proto::v1 as pb;
use time::Date;

use super::consent::Denial;
use super::dates::parse_iso_date;
use crate::pki::InstitutionId;

/// What a relationship record must match.
#[derive(Debug, Clone, Copy)]
pub struct RelationshipContext<'a> {
    /// The querying institution (the mTLS peer).
    pub requester: &'a InstitutionId,
    pub borrower_key: &'a [u8],
    /// Today in the business time zone.
    pub today: Date,
    /// `policy.relationship_max_age_days`.
    pub max_age_days: u32,
}

fn no_relationship(message: String) -> Denial {
    Denial::new(pb::DenialReason::NoRelationship, message)
}

/// Checks a record whose envelope verified as signed by `signer`: signed
/// by the requester and originated by it, of this borrower, facility not
/// settled, reported (as-of date) within `max_age_days` of today and not in
/// the future. Every failure is `NO_RELATIONSHIP` naming the check.
pub fn check_relationship(
    record: &pb::CreditSummary,
    signer: &InstitutionId,
    ctx: &RelationshipContext<'_>,
) -> Result<(), Denial> {
    if signer != ctx.requester || record.institution_id != ctx.requester.as_str() {
        return Err(no_relationship(format!(
            "the relationship record is {}'s (signed by {signer}), not {}'s own",
            record.institution_id, ctx.requester
        )));
    }
    if record.borrower_key != ctx.borrower_key {
        return Err(no_relationship(
            "the relationship record is about another borrower".into(),
        ));
    }
    if record.account_status == pb::AccountStatus::Settled as i32 {
        return Err(no_relationship(format!(
            "facility {} is settled: post-loan management needs a live loan",
            record.facility_id
        )));
    }
    live_as_of(record, ctx.today, ctx.max_age_days)
}

/// The record's as-of date is at most `max_age_days` before `today`.
fn live_as_of(record: &pb::CreditSummary, today: Date, max_age_days: u32) -> Result<(), Denial> {
    let Some(as_of) = parse_iso_date(&record.as_of_date) else {
        return Err(no_relationship(format!(
            "the relationship record's as_of_date {:?} is not a date",
            record.as_of_date
        )));
    };
    let age = (today - as_of).whole_days();
    if age < 0 || age > i64::from(max_age_days) {
        return Err(no_relationship(format!(
            "facility {} was last reported on {as_of}, {age} days before today; \
             a relationship needs a report within {max_age_days} days \
             (policy.relationship_max_age_days)",
            record.facility_id
        )));
    }
    Ok(())
}

/// Of an institution's own credit records of one borrower, the one to send
/// as the relationship: live by [`check_relationship`]'s rules, newest
/// as-of date first, then highest version. `None` when there is none.
pub fn pick_relationship<'a, T>(
    records: impl IntoIterator<Item = (&'a pb::CreditSummary, T)>,
    ctx: &RelationshipContext<'_>,
) -> Option<T> {
    records
        .into_iter()
        .filter(|(r, _)| check_relationship(r, ctx.requester, ctx).is_ok())
        .max_by(|(a, _), (b, _)| {
            (a.as_of_date.as_str(), a.version).cmp(&(b.as_of_date.as_str(), b.version))
        })
        .map(|(_, t)| t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(inst: &str, status: pb::AccountStatus, as_of: &str) -> pb::CreditSummary {
        pb::CreditSummary {
            facility_id: "F-1".into(),
            version: 1,
            institution_id: inst.into(),
            borrower_key: vec![7; 32],
            account_status: status as i32,
            as_of_date: as_of.into(),
            ..Default::default()
        }
    }

    /// BANK-A asks about borrower `[7; 32]` on 2026-12-03; records may be 45 days old.
    fn context(requester: &InstitutionId) -> RelationshipContext<'_> {
        RelationshipContext {
            requester,
            borrower_key: &[7; 32],
            today: parse_iso_date("2026-12-03").unwrap(),
            max_age_days: 45,
        }
    }

    fn check(r: &pb::CreditSummary, signer: &str) -> Result<(), String> {
        let requester = InstitutionId::parse("BANK-A").unwrap();
        let ctx = context(&requester);
        check_relationship(r, &InstitutionId::parse(signer).unwrap(), &ctx).map_err(|d| {
            assert_eq!(d.reason, pb::DenialReason::NoRelationship);
            d.message
        })
    }

    #[test]
    fn a_live_own_record_is_a_relationship() {
        let active = pb::AccountStatus::Active;
        assert_eq!(
            check(&record("BANK-A", active, "2026-12-03"), "BANK-A"),
            Ok(())
        );
        assert_eq!(
            check(&record("BANK-A", active, "2026-10-19"), "BANK-A"),
            Ok(())
        );
        let overdue = record("BANK-A", pb::AccountStatus::Overdue, "2026-11-01");
        assert_eq!(check(&overdue, "BANK-A"), Ok(()));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let active = pb::AccountStatus::Active;
        let other = check(&record("BANK-B", active, "2026-12-01"), "BANK-B").unwrap_err();
        assert!(other.contains("not BANK-A's own"), "{other}");
        let forged = check(&record("BANK-A", active, "2026-12-01"), "BANK-B").unwrap_err();
        assert!(forged.contains("signed by BANK-B"), "{forged}");
        let mut someone_else = record("BANK-A", active, "2026-12-01");
        someone_else.borrower_key = vec![8; 32];
        assert!(
            check(&someone_else, "BANK-A")
                .unwrap_err()
                .contains("another borrower")
        );
        let settled = record("BANK-A", pb::AccountStatus::Settled, "2026-12-01");
        assert!(check(&settled, "BANK-A").unwrap_err().contains("settled"));
        let stale = record("BANK-A", active, "2026-10-18");
        assert!(check(&stale, "BANK-A").unwrap_err().contains("46 days"));
        let future = record("BANK-A", active, "2026-12-04");
        assert!(check(&future, "BANK-A").is_err());
    }

    #[test]
    fn the_newest_live_record_is_picked() {
        let requester = InstitutionId::parse("BANK-A").unwrap();
        let ctx = context(&requester);
        let a = record("BANK-A", pb::AccountStatus::Active, "2026-11-01");
        let b = record("BANK-A", pb::AccountStatus::Active, "2026-11-20");
        let settled = record("BANK-A", pb::AccountStatus::Settled, "2026-12-01");
        let picked = pick_relationship([(&a, "a"), (&b, "b"), (&settled, "s")], &ctx);
        assert_eq!(picked, Some("b"));
        assert_eq!(pick_relationship([(&settled, "s")], &ctx), None);
    }
}
