use super::super::{MS_PER_DAY, Pattern};
use super::*;
use crate::domain::Purpose;

fn config() -> OversightConfig {
    OversightConfig {
        window_days: 30,
        probing_threshold: 3,
        follow_up_days: 20,
        approval_without_lending_threshold: 2,
    }
}

/// `n` queries, one every 2 days from `day0`, of a fixed pseudo-random mix.
fn events(n: u64, day0: i64, seed: u64) -> Vec<QueryEvent> {
    let mut x = seed;
    let purposes = [
        Purpose::LoanApproval,
        Purpose::PostLoanManagement,
        Purpose::CreditCardApproval,
    ];
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = x >> 33;
            QueryEvent {
                time_ms: (day0 + 2 * i as i64) * MS_PER_DAY,
                requester: ["BANK-A", "BANK-B"][(r % 2) as usize].into(),
                purpose: purposes[(r / 2 % 3) as usize],
                borrower: vec![(r / 6 % 4) as u8; 32],
                answered: !(r / 24).is_multiple_of(5),
                held: (r / 120).is_multiple_of(3),
            }
        })
        .collect()
}

/// The log a node writes for `events` decided live with `oversight`:
/// each query, then the flags it raised.
fn decide(oversight: &mut Oversight, events: &[QueryEvent], log: &mut Vec<Logged>) -> Vec<Flag> {
    let mut raised = Vec::new();
    for e in events {
        oversight.observe(e);
        log.push(Logged::Query {
            time_ms: e.time_ms,
            event: Some(e.clone()),
        });
        for flag in oversight.evaluate(e.time_ms) {
            log.push(Logged::Flag(flag.clone()));
            raised.push(flag);
        }
    }
    raised
}

/// The counts as the start-up rebuild made them: the whole old log first.
fn rebuilt_first(log: &[Logged]) -> Oversight {
    let mut r = Rebuild::new(config(), log.len() as u64);
    for (i, entry) in log.iter().enumerate() {
        r.take(i as u64, entry.clone()).unwrap();
    }
    let mut t = Tracker::rebuilding(0);
    assert!(t.complete(r).is_empty());
    match t {
        Tracker::Live { oversight, .. } => *oversight,
        _ => unreachable!(),
    }
}

#[test]
fn live_queries_during_a_rebuild_count_as_after_a_rebuild_first() {
    let mut before = Oversight::new(config());
    let mut old_log = Vec::new();
    let old_raised = decide(&mut before, &events(40, 0, 7), &mut old_log);
    assert!(!old_raised.is_empty(), "the old log should hold flags");
    let live = events(40, 80, 11);

    // Reference: rebuild first, then every live query.
    let mut reference = rebuilt_first(&old_log);
    let mut ignored = Vec::new();
    let expected_raised = decide(&mut reference, &live, &mut ignored);
    let end = live.last().unwrap().time_ms + 5 * MS_PER_DAY;
    let expected_flags = reference.flags();
    let expected_later = (reference.evaluate(end), reference.flags());
    assert!(
        !expected_raised.is_empty(),
        "live queries should raise flags"
    );

    // The rebuild finishes after `done` live queries were logged, having
    // read their entries; each live call comes after its commit.
    for done in 0..=live.len() {
        let mut log = old_log.clone();
        let live_from = log.len() as u64;
        let mut tracker = Tracker::rebuilding(live_from);
        let mut rebuild = Rebuild::new(config(), live_from);
        let mut raised = Vec::new();
        for (n, e) in live.iter().enumerate() {
            let index = log.len() as u64;
            log.push(Logged::Query {
                time_ms: e.time_ms,
                event: Some(e.clone()),
            });
            if n + 1 == done {
                for i in rebuild.next()..log.len() as u64 {
                    rebuild.take(i, log[i as usize].clone()).unwrap();
                }
                let caught_up = std::mem::replace(&mut rebuild, Rebuild::new(config(), 0));
                let flags = tracker.complete(caught_up);
                log.extend(flags.iter().cloned().map(Logged::Flag));
                raised.extend(flags);
            }
            // The live call of this query, after the rebuild may have read it.
            let flags = tracker.live(index, Some(e), e.time_ms);
            log.extend(flags.iter().cloned().map(Logged::Flag));
            raised.extend(flags);
        }
        if done == 0 {
            for i in rebuild.next()..log.len() as u64 {
                rebuild.take(i, log[i as usize].clone()).unwrap();
            }
            raised.extend(tracker.complete(rebuild));
        }
        assert_eq!(
            raised, expected_raised,
            "rebuild done after {done} live queries"
        );
        let Tracker::Live { oversight, .. } = &mut tracker else {
            panic!("not live")
        };
        assert_eq!(oversight.flags(), expected_flags, "done after {done}");
        let later = (oversight.evaluate(end), oversight.flags());
        assert_eq!(later, expected_later, "done after {done}");
    }
}

#[test]
fn a_flag_restored_from_the_log_is_not_raised_again() {
    let mut before = Oversight::new(config());
    let mut log = Vec::new();
    let probe = |day: i64, b: u8| QueryEvent {
        time_ms: day * MS_PER_DAY,
        requester: "BANK-A".into(),
        purpose: Purpose::PostLoanManagement,
        borrower: vec![b; 32],
        answered: true,
        held: false,
    };
    let raised = decide(
        &mut before,
        &[probe(1, 1), probe(2, 2), probe(3, 3)],
        &mut log,
    );
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].pattern, Pattern::Probing);
    let live_from = log.len() as u64;
    let mut tracker = Tracker::rebuilding(live_from);
    assert_eq!(tracker.flags(), None);
    assert!(tracker.warning().unwrap().contains("rebuilding"));
    // A fourth probe while rebuilding: left to the rebuild.
    let fourth = probe(4, 4);
    log.push(Logged::Query {
        time_ms: fourth.time_ms,
        event: Some(fourth.clone()),
    });
    assert!(
        tracker
            .live(live_from, Some(&fourth), fourth.time_ms)
            .is_empty()
    );
    let mut rebuild = Rebuild::new(config(), live_from);
    for (i, entry) in log.iter().enumerate() {
        rebuild.take(i as u64, entry.clone()).unwrap();
    }
    assert!(tracker.complete(rebuild).is_empty(), "raised twice");
    assert_eq!(tracker.warning(), None);
    let flags = tracker.flags().unwrap();
    assert_eq!((flags.len(), flags[0].count), (1, 4));
    // Read by the rebuild: a late live call does not count it again.
    assert!(
        tracker
            .live(live_from, Some(&fourth), fourth.time_ms)
            .is_empty()
    );
    assert_eq!(tracker.flags().unwrap()[0].count, 4);
    let fifth = probe(5, 5);
    assert!(
        tracker
            .live(live_from + 1, Some(&fifth), fifth.time_ms)
            .is_empty()
    );
    assert_eq!(tracker.flags().unwrap()[0].count, 5);
}

#[test]
fn entries_are_taken_in_order_only() {
    let mut r = Rebuild::new(config(), 0);
    r.take(0, Logged::Other).unwrap();
    assert_eq!(
        r.take(2, Logged::Other),
        Err(OutOfOrder {
            expected: 1,
            found: 2
        })
    );
    assert_eq!(r.next(), 1);
}
