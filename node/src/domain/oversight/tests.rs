use super::*;

fn event(day: i64, requester: &str, purpose: Purpose, borrower: u8, held: bool) -> QueryEvent {
    QueryEvent {
        time_ms: day * MS_PER_DAY,
        requester: requester.into(),
        purpose,
        borrower: vec![borrower; 32],
        answered: true,
        held,
    }
}

fn config() -> OversightConfig {
    OversightConfig {
        window_days: 30,
        probing_threshold: 3,
        follow_up_days: 90,
        approval_without_lending_threshold: 2,
    }
}

#[test]
fn probing_is_flagged_once_then_clears_after_the_window() {
    let mut o = Oversight::new(config());
    let plm = Purpose::PostLoanManagement;
    for (day, borrower) in [(1, 1), (2, 2)] {
        o.observe(&event(day, "BANK-A", plm, borrower, false));
        assert!(o.evaluate(day * MS_PER_DAY).is_empty());
    }
    // Held borrowers and other requesters do not count.
    o.observe(&event(3, "BANK-A", plm, 9, true));
    o.observe(&event(3, "BANK-C", plm, 3, false));
    assert!(o.evaluate(3 * MS_PER_DAY).is_empty());
    o.observe(&event(4, "BANK-A", plm, 4, false));
    let raised = o.evaluate(4 * MS_PER_DAY);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].pattern, Pattern::Probing);
    assert_eq!(
        (raised[0].requester.as_str(), raised[0].count),
        ("BANK-A", 3)
    );
    // Raised once.
    o.observe(&event(5, "BANK-A", plm, 5, false));
    assert!(o.evaluate(5 * MS_PER_DAY).is_empty());
    assert_eq!(o.flags()[0].count, 4);
    // 30 days after the second probe, only two remain: cleared.
    assert!(o.evaluate(33 * MS_PER_DAY).is_empty());
    assert!(o.flags().is_empty());
}

#[test]
fn approvals_without_lending_are_flagged_after_the_follow_up() {
    let mut o = Oversight::new(config());
    let loan = Purpose::LoanApproval;
    o.observe(&event(0, "BANK-A", loan, 1, true));
    o.observe(&event(1, "BANK-A", loan, 2, true));
    o.observe(&event(2, "BANK-A", loan, 3, true));
    // Borrower 3 is lent to: a post-loan query within 90 days.
    o.observe(&event(50, "BANK-A", Purpose::PostLoanManagement, 3, true));
    assert!(o.evaluate(89 * MS_PER_DAY).is_empty());
    let raised = o.evaluate(91 * MS_PER_DAY);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].pattern, Pattern::ApprovalWithoutLending);
    assert_eq!(raised[0].purpose, loan);
    assert_eq!(raised[0].count, 2);
    // Not counted once matured beyond the window.
    assert!(o.evaluate(125 * MS_PER_DAY).is_empty());
    assert!(o.flags().is_empty());
}

#[test]
fn a_zero_threshold_turns_a_pattern_off() {
    let mut o = Oversight::new(OversightConfig {
        probing_threshold: 0,
        ..config()
    });
    for day in 0..10 {
        o.observe(&event(
            day,
            "BANK-A",
            Purpose::LoanApproval,
            day as u8,
            false,
        ));
    }
    assert!(o.evaluate(10 * MS_PER_DAY).is_empty());
}

/// The counts by definition, from every event observed so far: probes in
/// the window; approvals whose follow-up ended in the window with no
/// post-loan query of the same requester for the same borrower after them
/// and by the end.
fn counts_by_definition(
    c: &OversightConfig,
    events: &[QueryEvent],
    now: i64,
) -> BTreeMap<FlagKey, u64> {
    let window = i64::from(c.window_days) * MS_PER_DAY;
    let follow_up = i64::from(c.follow_up_days) * MS_PER_DAY;
    let mut counts: BTreeMap<FlagKey, u64> = BTreeMap::new();
    for e in events {
        if e.answered && !e.held && e.time_ms >= now - window {
            *counts
                .entry((e.requester.clone(), e.purpose, Pattern::Probing))
                .or_default() += 1;
        }
        let ended = e.time_ms + follow_up;
        if !e.purpose.is_approval() || ended > now || ended < now - window {
            continue;
        }
        let followed = events.iter().any(|p| {
            p.purpose == Purpose::PostLoanManagement
                && p.requester == e.requester
                && p.borrower == e.borrower
                && p.time_ms > e.time_ms
                && p.time_ms <= ended
        });
        if !followed {
            let key = (
                e.requester.clone(),
                e.purpose,
                Pattern::ApprovalWithoutLending,
            );
            *counts.entry(key).or_default() += 1;
        }
    }
    counts.retain(|key, count| {
        let threshold = match key.2 {
            Pattern::Probing => c.probing_threshold,
            Pattern::ApprovalWithoutLending => c.approval_without_lending_threshold,
        };
        threshold > 0 && *count >= u64::from(threshold)
    });
    counts
}

#[test]
fn incremental_counts_equal_the_definition_over_a_long_mixed_stream() {
    let c = OversightConfig {
        window_days: 7,
        probing_threshold: 4,
        follow_up_days: 10,
        approval_without_lending_threshold: 3,
    };
    let mut o = Oversight::new(c.clone());
    let purposes = [
        Purpose::LoanApproval,
        Purpose::CreditCardApproval,
        Purpose::PostLoanManagement,
        Purpose::PostLoanManagement,
        Purpose::CreditStandingReview,
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let (mut events, mut now) = (Vec::new(), 0i64);
    let (mut raised, mut cleared) = (0, 0);
    for _ in 0..3000 {
        // Bursts and quiet weeks, so counts both rise and age out.
        now += match next(10) {
            0 => (next(9) as i64 + 1) * MS_PER_DAY,
            _ => next(6 * 3_600_000) as i64,
        };
        let event = QueryEvent {
            time_ms: now,
            requester: ["BANK-A", "BANK-C", "BANK-D"][next(3) as usize].into(),
            purpose: purposes[next(purposes.len() as u64) as usize],
            borrower: vec![next(6) as u8; 32],
            answered: next(4) != 0,
            held: next(3) == 0,
        };
        o.observe(&event);
        events.push(event);
        let before = o.flags().len();
        let new = o.evaluate(now).len();
        raised += new;
        cleared += before + new - o.flags().len();
        let expected = counts_by_definition(&c, &events, now);
        assert_eq!(
            o.counts(),
            expected,
            "at {now} ms after {} events",
            events.len()
        );
        let flagged: Vec<FlagKey> = o
            .flags()
            .into_iter()
            .map(|f| (f.requester, f.purpose, f.pattern))
            .collect();
        assert_eq!(flagged, expected.into_keys().collect::<Vec<_>>());
    }
    assert!(
        raised > 10 && cleared > 10,
        "raised {raised}, cleared {cleared}"
    );
}
