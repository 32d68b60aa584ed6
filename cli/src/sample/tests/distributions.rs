//! The read-back figures of a sample match its profile: classes, overdue
//! and the visit schedule near the targets, and nothing the profile rules
//! out (untriggered FOCUSED visits, visits before disbursement,
//! contradicting findings, rows the node rejects).

use super::*;

/// Generates `borrowers` with `profile` and reads the figures back.
fn stats(borrowers: u64, profile: SampleProfile) -> SampleStats {
    let dir = tempfile::tempdir().unwrap();
    let spec = SampleSpec {
        borrowers,
        seed: 3,
        profile,
        today: TODAY,
    };
    let inst = institution("BANK-A");
    let summary = write_sample_with(&inst, &spec, dir.path()).unwrap();
    read_stats(&inst, &spec, &summary).unwrap()
}

/// Every figure with a target is within `points` percentage points of it
/// (a fifth of a small target, at least a quarter point); zero targets are
/// met exactly.
fn assert_near_targets(stats: &SampleStats, points: f64) {
    for f in &stats.figures {
        let Some(target) = f.target else { continue };
        if target == 0.0 {
            assert_eq!(f.count, 0, "{}: {f:?}", f.key);
            continue;
        }
        let tolerance = (points / 100.0).min((target / 5.0).max(0.0025));
        assert!(
            (f.value - target).abs() <= tolerance,
            "{}: {:.4} vs target {target:.4} (± {tolerance:.4})",
            f.key,
            f.value
        );
    }
}

fn value(stats: &SampleStats, key: &str) -> f64 {
    stats.figures.iter().find(|f| f.key == key).unwrap().value
}

#[test]
fn twenty_thousand_borrowers_match_the_default_profile() {
    let stats = stats(20_000, SampleProfile::default());
    assert!(stats.live_facilities > 20_000, "{stats:?}");
    assert_near_targets(&stats, 3.0);
    // The headline figures, more tightly than the generic rule.
    assert!((value(&stats, "npl_rate") - 0.016).abs() < 0.004);
    assert!((value(&stats, "special_mention_rate") - 0.022).abs() < 0.005);
    assert!(value(&stats, "overdue_rate") < 0.05);
    assert!((value(&stats, "visit_overdue_rate") - 0.1).abs() < 0.03);
    assert!((value(&stats, "first_visit_late_rate") - 0.1).abs() < 0.03);
}

#[test]
fn the_flags_move_the_figures() {
    let profile = SampleProfile {
        npl_rate: 0.08,
        special_mention_rate: 0.06,
        visit_adherence: 0.7,
        ..SampleProfile::default()
    };
    let stats = stats(6_000, profile);
    assert_near_targets(&stats, 3.0);
    assert!(value(&stats, "visit_overdue_rate") > 0.25);
}
