//! Visit obligations with hand-computed due dates. Dates are 2026; the
//! facility is disbursed on 2026-01-10 and evaluated on 2026-06-30 unless
//! a test says otherwise.

use super::*;
use pb::RiskClass as C;
use pb::VisitChannel as Ch;
use pb::VisitType as T;
use pb::WarningSignal as W;
use time::macros::date;

const TODAY: Date = date!(2026 - 06 - 30);

fn credit(class: C, overdue_days: u32, as_of: &str) -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: "F1".into(),
        version: 1,
        borrower_key: vec![7; 32],
        open_date: "2026-01-10".into(),
        maturity_date: "2027-01-10".into(),
        risk_class: class as i32,
        overdue_days,
        account_status: pb::AccountStatus::Active as i32,
        as_of_date: as_of.into(),
        ..Default::default()
    }
}

/// Version `n` of the facility with a class as of a date.
fn version(n: u64, class: C, as_of: &str) -> pb::CreditSummary {
    pb::CreditSummary {
        version: n,
        ..credit(class, 0, as_of)
    }
}

/// An on-site visit.
fn visit(date: &str, kind: T, proposed: C, signals: &[W]) -> pb::VisitSummary {
    via(date, kind, Ch::Onsite, proposed, signals)
}

fn via(date: &str, kind: T, channel: Ch, proposed: C, signals: &[W]) -> pb::VisitSummary {
    pb::VisitSummary {
        visit_id: format!("V-{date}-{}", channel as i32),
        borrower_key: vec![7; 32],
        facility_id: "F1".into(),
        visit_date: date.into(),
        visit_type: kind as i32,
        channel: channel as i32,
        proposed_risk_class: proposed as i32,
        warning_signals: signals.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

fn due(credit: &pb::CreditSummary, visits: &[pb::VisitSummary]) -> Vec<pb::DueVisit> {
    due_with(
        std::slice::from_ref(credit),
        visits,
        &VisitSchedule::default(),
        TODAY,
    )
}

fn due_with(
    versions: &[pb::CreditSummary],
    visits: &[pb::VisitSummary],
    schedule: &VisitSchedule,
    today: Date,
) -> Vec<pb::DueVisit> {
    let states = group_by_facility(versions, visits);
    assert_eq!(states.len(), 1);
    open_obligations(&states[0], schedule, today)
}

/// (due date, type, days overdue) of every open obligation, earliest first.
fn summary(due: &[pb::DueVisit]) -> Vec<(&str, T, i32)> {
    due.iter()
        .map(|d| {
            (
                d.due_date.as_str(),
                T::try_from(d.required_type).unwrap(),
                d.days_overdue,
            )
        })
        .collect()
}

#[test]
fn settled_facilities_need_no_visit() {
    let mut c = credit(C::Normal, 0, "2026-06-30");
    c.account_status = pb::AccountStatus::Settled as i32;
    c.outstanding_balance = 0;
    assert!(due(&c, &[]).is_empty());
}

#[test]
fn written_off_facilities_keep_recovery_visits_by_policy() {
    let active = version(1, C::Doubtful, "2026-02-01");
    let mut off = version(2, C::Loss, "2026-03-01");
    off.account_status = pb::AccountStatus::WrittenOff as i32;
    let mut refreshed = off.clone();
    refreshed.version = 3;
    refreshed.as_of_date = "2026-06-01".into();
    let versions = [active, off, refreshed];
    // Written off on 2026-03-01 (version 2): recovery visit 180 days later.
    let d = due_with(&versions, &[], &VisitSchedule::default(), TODAY);
    assert_eq!(summary(&d), vec![("2026-08-28", T::Routine, -59)]);
    assert!(
        d[0].reason.contains("write-off on 2026-03-01"),
        "{}",
        d[0].reason
    );
    // A visit after the write-off restarts the interval.
    let v = visit("2026-04-01", T::Special, C::Loss, &[]);
    let d = due_with(&versions, &[v], &VisitSchedule::default(), TODAY);
    assert_eq!(summary(&d), vec![("2026-09-28", T::Routine, -90)]);
    // Policy 0: no visits at all.
    let none = VisitSchedule {
        written_off_interval_days: 0,
        ..VisitSchedule::default()
    };
    assert!(due_with(&versions, &[], &none, TODAY).is_empty());
}

#[test]
fn the_first_visit_is_due_after_disbursement_on_site() {
    let c = credit(C::Normal, 0, "2026-01-10");
    let d = due_with(
        std::slice::from_ref(&c),
        &[],
        &VisitSchedule::default(),
        date!(2026 - 01 - 20),
    );
    assert_eq!(summary(&d), vec![("2026-01-25", T::First, -5)]);
    assert_eq!(d[0].last_visit_date, "");
    assert_eq!(d[0].facility_id, "F1");
    assert_eq!(d[0].borrower_key, vec![7; 32]);
    assert_eq!(d[0].trigger_date, "2026-01-10");
    assert_eq!(d[0].satisfied_by, "any visit ONSITE on or after 2026-01-10");
    assert!(d[0].reason.contains("2026-01-10"), "{}", d[0].reason);

    // A phone call does not count as the first visit.
    let call = via("2026-01-12", T::First, Ch::Phone, C::Normal, &[]);
    let d = due_with(
        std::slice::from_ref(&c),
        &[call],
        &VisitSchedule::default(),
        date!(2026 - 01 - 20),
    );
    assert_eq!(summary(&d), vec![("2026-01-25", T::First, -5)]);

    let long = VisitSchedule {
        first_visit_days: 30,
        ..VisitSchedule::default()
    };
    let d = due_with(&[c], &[], &long, date!(2026 - 02 - 09));
    assert_eq!(summary(&d), vec![("2026-02-09", T::First, 0)]);
}

#[test]
fn visits_after_today_do_not_count() {
    let c = credit(C::Normal, 0, "2026-01-10");
    let later = visit("2026-02-01", T::First, C::Normal, &[]);
    let d = due_with(
        &[c],
        &[later],
        &VisitSchedule::default(),
        date!(2026 - 01 - 31),
    );
    assert_eq!(summary(&d), vec![("2026-01-25", T::First, 6)]);
}

#[test]
fn routine_intervals_follow_the_current_risk_class() {
    let schedule = VisitSchedule {
        non_performing_interval_days: 20,
        ..VisitSchedule::default()
    };
    let last = visit("2026-05-01", T::Routine, C::Unspecified, &[]);
    let cases = [
        (C::Normal, "2026-07-30", -30),
        (C::SpecialMention, "2026-05-31", 30),
        (C::Doubtful, "2026-05-21", 40),
    ];
    for (class, due_date, overdue) in cases {
        let c = credit(class, 0, "2026-04-01");
        let d = due_with(&[c], std::slice::from_ref(&last), &schedule, TODAY);
        assert_eq!(
            summary(&d),
            vec![(due_date, T::Routine, overdue)],
            "{class:?}"
        );
        assert_eq!(d[0].last_visit_date, "2026-05-01");
        assert_eq!(d[0].risk_class, class as i32);
    }
    // A phone call is not a routine visit by default; a video call is.
    let c = credit(C::Normal, 0, "2026-04-01");
    let call = via("2026-06-01", T::Routine, Ch::Phone, C::Normal, &[]);
    let video = via("2026-06-02", T::Routine, Ch::Video, C::Normal, &[]);
    let d = due(&c, &[last.clone(), call]);
    assert_eq!(summary(&d), vec![("2026-07-30", T::Routine, -30)]);
    let d = due(&c, &[last, video]);
    assert_eq!(summary(&d), vec![("2026-08-31", T::Routine, -62)]);
}

#[test]
fn a_downgrade_is_dated_by_the_version_that_made_it_and_a_refresh_does_not_move_it() {
    let first = visit("2026-02-01", T::First, C::Normal, &[]);
    // NORMAL → SUBSTANDARD in version 2 as of 06-05; the daily feed then
    // refreshes as_of to 06-20 and 06-29 with the same class.
    let versions = [
        version(1, C::Normal, "2026-06-01"),
        version(2, C::Substandard, "2026-06-05"),
        version(3, C::Substandard, "2026-06-20"),
        version(4, C::Substandard, "2026-06-29"),
    ];
    let d = due_with(
        &versions,
        std::slice::from_ref(&first),
        &VisitSchedule::default(),
        TODAY,
    );
    // 06-05 + 7 = 06-12 (18 days overdue); the routine visit of a
    // non-performing facility is due 30 days after 02-01, on 03-03.
    assert_eq!(
        summary(&d),
        vec![
            ("2026-03-03", T::Routine, 119),
            ("2026-06-12", T::Focused, 18)
        ]
    );
    let focused = &d[1];
    assert_eq!(focused.trigger_date, "2026-06-05");
    assert!(
        focused
            .reason
            .contains("downgraded from NORMAL to SUBSTANDARD as of 2026-06-05"),
        "{}",
        focused.reason
    );
    assert_eq!(
        focused.satisfied_by,
        "a FOCUSED or SPECIAL visit ONSITE on or after 2026-06-05"
    );
    // A FOCUSED phone call does not answer it; a FOCUSED visit on site does.
    let call = via("2026-06-06", T::Focused, Ch::Phone, C::Substandard, &[]);
    let d = due_with(
        &versions,
        &[first.clone(), call],
        &VisitSchedule::default(),
        TODAY,
    );
    assert!(summary(&d).contains(&("2026-06-12", T::Focused, 18)));
    let answer = visit("2026-06-06", T::Focused, C::Substandard, &[]);
    let d = due_with(
        &versions,
        &[first, answer],
        &VisitSchedule::default(),
        TODAY,
    );
    assert_eq!(summary(&d), vec![("2026-07-06", T::Routine, -6)]);
}

#[test]
fn a_visit_proposing_a_worse_class_needs_a_focused_visit() {
    let v1 = visit("2026-04-01", T::Routine, C::Normal, &[]);
    let v2 = visit("2026-05-01", T::Routine, C::SpecialMention, &[]);
    let c = credit(C::SpecialMention, 0, "2026-06-30");
    let d = due(&c, &[v2.clone(), v1.clone()]);
    assert_eq!(
        summary(&d),
        vec![
            ("2026-05-08", T::Focused, 53),
            ("2026-05-31", T::Routine, 30)
        ]
    );
    assert!(
        d[0].reason.contains("proposed SPECIAL_MENTION"),
        "{}",
        d[0].reason
    );

    let followed = visit("2026-05-06", T::Focused, C::SpecialMention, &[]);
    let d = due(&c, &[v1, v2, followed]);
    assert_eq!(summary(&d), vec![("2026-06-05", T::Routine, 25)]);
}

#[test]
fn a_new_warning_signal_needs_a_focused_visit_until_one_follows() {
    let c = credit(C::Normal, 0, "2026-06-30");
    let v1 = visit("2026-04-01", T::First, C::Normal, &[]);
    let v2 = visit("2026-05-01", T::Routine, C::Normal, &[W::Litigation]);
    // The signal repeats at a later routine visit: still unanswered since v2.
    let v3 = visit("2026-06-01", T::Routine, C::Normal, &[W::Litigation]);
    let d = due(&c, &[v1.clone(), v2.clone(), v3]);
    assert_eq!(
        summary(&d),
        vec![
            ("2026-05-08", T::Focused, 53),
            ("2026-08-30", T::Routine, -61)
        ]
    );
    assert!(
        d[0].reason
            .contains("LITIGATION at the visit on 2026-05-01"),
        "{}",
        d[0].reason
    );

    let focused_visit = visit("2026-05-07", T::Focused, C::Normal, &[W::Litigation]);
    let v4 = visit("2026-06-01", T::Routine, C::Normal, &[W::Litigation]);
    let d = due(&c, &[v1.clone(), v2.clone(), focused_visit.clone(), v4]);
    assert_eq!(summary(&d), vec![("2026-08-30", T::Routine, -61)]);

    // A signal not seen at the previous visit is new again.
    let v5 = visit(
        "2026-06-10",
        T::Routine,
        C::Normal,
        &[W::Litigation, W::MgmtEvent],
    );
    let d = due(&c, &[v1, v2, focused_visit, v5]);
    assert_eq!(
        summary(&d),
        vec![
            ("2026-06-17", T::Focused, 13),
            ("2026-09-08", T::Routine, -70)
        ]
    );
    assert!(
        d[0].reason.contains("MGMT_EVENT") && !d[0].reason.contains("LITIGATION"),
        "{}",
        d[0].reason
    );
}

#[test]
fn signals_at_the_first_visit_are_new() {
    let c = credit(C::Normal, 0, "2026-06-30");
    let v1 = visit("2026-06-20", T::First, C::Normal, &[W::FinDeterioration]);
    let d = due(&c, &[v1]);
    assert_eq!(
        summary(&d),
        vec![
            ("2026-06-27", T::Focused, 3),
            ("2026-09-18", T::Routine, -80)
        ]
    );
}

#[test]
fn more_than_60_days_overdue_needs_a_focused_visit_on_site_from_the_day_it_crossed() {
    let last = visit("2026-06-15", T::Routine, C::SpecialMention, &[]);
    // 75 days overdue on 06-30: the 61st day was 06-16.
    let c = credit(C::SpecialMention, 75, "2026-06-30");
    let d = due(&c, std::slice::from_ref(&last));
    assert_eq!(
        summary(&d),
        vec![
            ("2026-06-23", T::Focused, 7),
            ("2026-07-15", T::Routine, -15)
        ]
    );
    assert!(d[0].reason.contains("since 2026-06-16"), "{}", d[0].reason);

    // Neither a routine visit nor a FOCUSED phone call on the crossing day
    // answers it: the ROUTINE obligation restarts, the FOCUSED one stays.
    let routine = visit("2026-06-16", T::Routine, C::SpecialMention, &[]);
    let call = via("2026-06-17", T::Focused, Ch::Phone, C::SpecialMention, &[]);
    let d = due(&c, &[last.clone(), routine.clone(), call]);
    assert_eq!(
        summary(&d),
        vec![
            ("2026-06-23", T::Focused, 7),
            ("2026-07-16", T::Routine, -16)
        ]
    );
    // A FOCUSED visit on site does.
    let answer = visit("2026-06-16", T::Focused, C::SpecialMention, &[]);
    let d = due(&c, &[last.clone(), answer]);
    assert_eq!(summary(&d), vec![("2026-07-16", T::Routine, -16)]);

    // Exactly 60 days is not yet over 60; 61 crossed on the as-of date.
    let c60 = credit(C::SpecialMention, 60, "2026-06-30");
    assert_eq!(
        summary(&due(&c60, std::slice::from_ref(&last))),
        vec![("2026-07-15", T::Routine, -15)]
    );
    let c61 = credit(C::SpecialMention, 61, "2026-06-30");
    let d = due(&c61, std::slice::from_ref(&last));
    assert_eq!(summary(&d)[0], ("2026-07-07", T::Focused, -7));
}

#[test]
fn every_open_obligation_is_listed_focused_first_on_ties() {
    // No visit yet and 61 days overdue as of 2026-01-18 (crossed that day):
    // FIRST due 01-25, FOCUSED due 01-25 too; both are listed.
    let c = credit(C::SpecialMention, 61, "2026-01-18");
    let d = due_with(&[c], &[], &VisitSchedule::default(), date!(2026 - 01 - 20));
    assert_eq!(
        summary(&d),
        vec![("2026-01-25", T::Focused, -5), ("2026-01-25", T::First, -5)]
    );

    // An earlier FIRST and a later FOCUSED: both, the earlier first.
    let c = credit(C::SpecialMention, 61, "2026-02-18");
    let d = due_with(&[c], &[], &VisitSchedule::default(), date!(2026 - 02 - 20));
    assert_eq!(
        summary(&d),
        vec![("2026-01-25", T::First, 26), ("2026-02-25", T::Focused, -5)]
    );
}

#[test]
fn versions_and_visits_are_grouped_by_borrower_and_facility() {
    let mut f2 = credit(C::Normal, 0, "2026-06-30");
    f2.facility_id = "F2".into();
    let credits = [
        version(2, C::SpecialMention, "2026-06-30"),
        f2,
        version(1, C::Normal, "2026-03-30"),
    ];
    let mut other_borrower = visit("2026-03-01", T::Routine, C::Normal, &[]);
    other_borrower.borrower_key = vec![8; 32];
    let visits = [
        visit("2026-02-01", T::First, C::Normal, &[]),
        other_borrower,
        visit("2026-05-01", T::Routine, C::Normal, &[]),
    ];
    let states = group_by_facility(&credits, &visits);
    assert_eq!(states.len(), 2);
    let versions: Vec<u64> = states[0].versions.iter().map(|c| c.version).collect();
    assert_eq!(versions, vec![1, 2]);
    assert_eq!(states[0].credit().map(|c| c.version), Some(2));
    let dates: Vec<&str> = states[0]
        .visits
        .iter()
        .map(|v| v.visit_date.as_str())
        .collect();
    assert_eq!(dates, vec!["2026-02-01", "2026-05-01"]);
    assert!(states[1].visits.is_empty());
}

#[test]
fn schedule_ranges_and_channels_are_checked_naming_the_key() {
    assert_eq!(VisitSchedule::default().validate(), Ok(()));
    type Fault = (&'static str, fn(&mut VisitSchedule));
    let cases: [Fault; 7] = [
        ("visits.first_visit_days", |s| s.first_visit_days = 0),
        ("visits.first_visit_days", |s| s.first_visit_days = 31),
        ("visits.normal_interval_days", |s| {
            s.normal_interval_days = 4000
        }),
        ("visits.focused_visit_days", |s| s.focused_visit_days = 0),
        ("visits.written_off_interval_days", |s| {
            s.written_off_interval_days = 400
        }),
        ("visits.focused_visit_channels", |s| {
            s.focused_visit_channels = vec!["CARRIER_PIGEON".into()]
        }),
        ("visits.routine_visit_channels", |s| {
            s.routine_visit_channels = vec![]
        }),
    ];
    for (key, change) in cases {
        let mut schedule = VisitSchedule::default();
        change(&mut schedule);
        assert_eq!(schedule.validate().unwrap_err().field, key);
    }
}
