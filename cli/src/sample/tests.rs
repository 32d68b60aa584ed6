//! Sample files must be valid, deterministic and share a known part;
//! [`distributions`] checks they match their profile.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use credshare_node::domain::borrower::{BorrowerId, ConsortiumSecret};
use credshare_node::domain::records::check_visit_facility;
use credshare_proto::v1 as pb;
use time::macros::date;

use super::*;
use crate::rows::{ImportContext, RecordKind, RecordReader};

mod distributions;

const TODAY: Date = date!(2026 - 01 - 15);

/// `borrowers` of `inst` with `profile`, as of [`TODAY`], into `out`.
fn write(
    inst: &str,
    borrowers: u64,
    seed: u64,
    profile: SampleProfile,
    out: &std::path::Path,
) -> SampleSummary {
    let spec = SampleSpec {
        borrowers,
        seed,
        profile,
        today: TODAY,
    };
    write_sample_with(&institution(inst), &spec, out).unwrap()
}

fn institution(id: &str) -> InstitutionId {
    InstitutionId::parse(id).unwrap()
}

fn ctx(inst: &str) -> ImportContext {
    ImportContext {
        institution: institution(inst),
        keys: crate::rows::RowKeys::Hmac(ConsortiumSecret::from_bytes(&[3; 32]).unwrap()),
        today: TODAY,
    }
}

/// Reads both files back through rows.rs; panics on any rejected row.
fn read_back(
    inst: &str,
    summary: &SampleSummary,
) -> (Vec<pb::CreditSummary>, Vec<pb::VisitSummary>) {
    use pb::record_input::Record;
    let (mut credits, mut visits) = (Vec::new(), Vec::new());
    let files = [
        (&summary.credit_file, RecordKind::Credit),
        (&summary.visits_file, RecordKind::Visit),
    ];
    for (file, kind) in files {
        for row in RecordReader::open(file, kind, ctx(inst)).unwrap() {
            let row = row.unwrap_or_else(|e| panic!("{inst} {kind:?} {e}"));
            match (kind, row.record.record) {
                (RecordKind::Credit, Some(Record::Credit(c))) => credits.push(c),
                (RecordKind::Visit, Some(Record::Visit(v))) => visits.push(v),
                (_, other) => panic!("{other:?}"),
            }
        }
    }
    (credits, visits)
}

#[test]
fn two_institutions_generate_valid_files_sharing_a_known_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for inst in ["BANK-A", "BANK-B"] {
        let out = dir.path().join(inst);
        let summary = write(inst, 2_000, 42, SampleProfile::default(), &out);
        assert_eq!(summary.shared_borrowers, 600);
        let (credits, visits) = read_back(inst, &summary);
        assert_eq!(credits.len() as u64, summary.facilities);
        assert_eq!(visits.len() as u64, summary.visits);
        assert!(summary.facilities >= 2_000 && summary.facilities <= 6_000);
        assert!(summary.visits >= summary.facilities);
        assert!(
            summary.individuals > 200 && summary.individuals < 600,
            "{summary:?}"
        );
        check_realism(&credits, &visits);
        let borrowers: HashSet<Vec<u8>> = credits.iter().map(|c| c.borrower_key.clone()).collect();
        assert_eq!(borrowers.len(), 2_000, "every borrower has a distinct key");
        keys.push(borrowers);
    }
    assert_eq!(keys[0].intersection(&keys[1]).count(), 600);
}

fn check_realism(credits: &[pb::CreditSummary], visits: &[pb::VisitSummary]) {
    let n = credits.len();
    let current = credits.iter().filter(|c| c.overdue_days == 0).count();
    assert!(
        current * 100 > n * 80,
        "mostly nothing overdue: {current}/{n}"
    );
    assert!(credits.iter().any(|c| c.overdue_days > 360));
    assert!(
        credits
            .iter()
            .any(|c| c.risk_class == pb::RiskClass::Doubtful as i32)
    );
    assert!(
        credits
            .iter()
            .any(|c| c.account_status == pb::AccountStatus::Settled as i32)
    );
    let cny = credits.iter().filter(|c| c.currency == "CNY").count();
    assert!(cny * 100 > n * 85, "mostly CNY: {cny}/{n}");
    assert!(visits.iter().any(|v| v.warning_signals.len() >= 3));
    let quiet = visits
        .iter()
        .filter(|v| v.warning_signals.is_empty())
        .count();
    assert!(quiet * 100 > visits.len() * 60, "signals are the exception");
    assert!(
        visits
            .iter()
            .any(|v| v.visit_type == pb::VisitType::Focused as i32)
    );
}

/// Every credit and visit row passes the node's rules — each record's own
/// (`validate_credit`, `validate_visit`, through the import reader) and a
/// visit's against its facility (`check_visit_facility`) — under the
/// default profile and under a harsh one.
#[test]
fn every_row_passes_the_node_rules() {
    let harsh = SampleProfile {
        npl_rate: 0.3,
        special_mention_rate: 0.3,
        grace_overdue_rate: 0.2,
        settled_rate: 0.3,
        written_off_rate: 0.1,
        visit_adherence: 0.5,
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, profile) in [("default", SampleProfile::default()), ("harsh", harsh)] {
        let summary = write("BANK-A", 3_000, 5, profile, &dir.path().join(name));
        let (credits, visits) = read_back("BANK-A", &summary);
        assert_eq!(credits.len() as u64, summary.facilities);
        assert_eq!(visits.len() as u64, summary.visits);
        let by_facility: HashMap<(&[u8], &str), &pb::CreditSummary> = (credits.iter())
            .map(|c| ((c.borrower_key.as_slice(), c.facility_id.as_str()), c))
            .collect();
        for v in &visits {
            let facility = by_facility.get(&(v.borrower_key.as_slice(), v.facility_id.as_str()));
            check_visit_facility(v, facility.copied())
                .unwrap_or_else(|e| panic!("{name}: {} {e}", v.visit_id));
        }
    }
}

/// The first borrower of the shared pool is the demo's RED borrower at
/// every institution: DOUBTFUL, every facility over 90 days overdue, funds
/// diverted at a visit in the last 180 days.
#[test]
fn the_first_shared_borrower_is_distressed_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = HashSet::new();
    for inst in ["BANK-A", "BANK-B"] {
        let summary = write(
            inst,
            50,
            7,
            SampleProfile::default(),
            &dir.path().join(inst),
        );
        let (credits, visits) = read_back(inst, &summary);
        let key = credits[0].borrower_key.clone();
        first.insert(key.clone());
        for c in credits.iter().filter(|c| c.borrower_key == key) {
            assert_eq!(c.risk_class, pb::RiskClass::Doubtful as i32);
            assert!(c.overdue_days > 90, "{c:?}");
        }
        let recent = (TODAY - time::Duration::days(180)).to_string();
        assert!(visits.iter().any(|v| {
            v.borrower_key == key
                && v.visit_date >= recent
                && v.warning_signals
                    .contains(&(pb::WarningSignal::FundDiversion as i32))
                && v.fund_usage == pb::FundUsage::Diverted as i32
        }));
    }
    assert_eq!(first.len(), 1, "the same borrower at both institutions");
}

#[test]
fn same_seed_same_files_other_seed_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str, seed| {
        let out = dir.path().join(name);
        let summary = write("BANK-A", 300, seed, SampleProfile::default(), &out);
        (
            std::fs::read(summary.credit_file).unwrap(),
            std::fs::read(summary.visits_file).unwrap(),
        )
    };
    let first = read("a", 7);
    assert_eq!(first, read("b", 7));
    assert_ne!(first, read("c", 8));
}

#[test]
fn identifiers_are_valid_and_prefixed() {
    let mut uscc = 0;
    for j in 0..2_000 {
        let borrower = Borrower::generate(9, j, &SampleProfile::default());
        let id = BorrowerId::parse_at(&borrower.id, TODAY).unwrap();
        assert_eq!(id.kind() == "RID", borrower.individual);
        assert!(
            borrower
                .id
                .starts_with(if borrower.individual { "RID:" } else { "USCC:" })
        );
        uscc += usize::from(!borrower.individual);
    }
    assert!(uscc > 1_400);
}

#[test]
fn months_are_added_on_the_calendar() {
    assert_eq!(add_months(date!(2024 - 01 - 31), 1), date!(2024 - 02 - 29));
    assert_eq!(add_months(date!(2024 - 11 - 15), 3), date!(2025 - 02 - 15));
    assert_eq!(
        add_months(date!(2024 - 03 - 01), 120),
        date!(2034 - 03 - 01)
    );
}

#[test]
fn too_many_borrowers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SampleSpec {
        borrowers: MAX_BORROWERS + 1,
        ..SampleSpec::new(1, 1)
    };
    assert!(write_sample_with(&institution("BANK-A"), &spec, dir.path()).is_err());
}

/// `cargo test -p credshare-cli --release -- --ignored sample_of_100k`
#[test]
#[ignore = "timing: 100,000 borrowers"]
fn sample_of_100k_borrowers_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let summary = write("BANK-A", 100_000, 1, SampleProfile::default(), dir.path());
    let elapsed = started.elapsed();
    println!("{summary:?} in {elapsed:?}");
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn files_written_today_pass_the_default_import_context() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_sample(&institution("BANK-C"), 200, 11, dir.path()).unwrap();
    let secret = ConsortiumSecret::from_bytes(&[4; 32]).unwrap();
    let context = ImportContext::new(institution("BANK-C"), secret);
    let credit =
        RecordReader::open(&summary.credit_file, RecordKind::Credit, context.clone()).unwrap();
    assert_eq!(
        credit.filter(Result::is_ok).count() as u64,
        summary.facilities
    );
    let visits = RecordReader::open(&summary.visits_file, RecordKind::Visit, context).unwrap();
    assert_eq!(visits.filter(Result::is_ok).count() as u64, summary.visits);
}
