use super::*;
use pb::RiskClass as C;
use pb::VisitType as T;
use pb::WarningSignal as W;
use time::macros::date;

const TODAY: Date = date!(2026 - 06 - 30);

fn credit(class: C, overdue_days: u32, as_of: &str) -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: "F1".into(),
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

fn visit(date: &str, kind: T, proposed: C, signals: &[W]) -> pb::VisitSummary {
    pb::VisitSummary {
        visit_id: format!("V-{date}"),
        borrower_key: vec![7; 32],
        facility_id: "F1".into(),
        visit_date: date.into(),
        visit_type: kind as i32,
        proposed_risk_class: proposed as i32,
        warning_signals: signals.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

fn due(credit: &pb::CreditSummary, visits: &[pb::VisitSummary]) -> Option<pb::DueVisit> {
    due_with(credit, visits, &VisitSchedule::default(), TODAY)
}

fn due_with(
    credit: &pb::CreditSummary,
    visits: &[pb::VisitSummary],
    schedule: &VisitSchedule,
    today: Date,
) -> Option<pb::DueVisit> {
    let state = FacilityVisitState {
        credit,
        visits: visits.iter().collect(),
    };
    next_visit(&state, schedule, today)
}

/// (due date, type, days overdue)
fn summary(d: &pb::DueVisit) -> (&str, T, i32) {
    (
        d.due_date.as_str(),
        T::try_from(d.required_type).unwrap(),
        d.days_overdue,
    )
}

#[test]
fn settled_and_written_off_facilities_need_no_visit() {
    for status in [pb::AccountStatus::Settled, pb::AccountStatus::WrittenOff] {
        let mut c = credit(C::Loss, 400, "2026-06-30");
        c.account_status = status as i32;
        assert_eq!(due(&c, &[]), None);
    }
}

#[test]
fn the_first_visit_is_due_after_disbursement() {
    let c = credit(C::Normal, 0, "2026-06-30");
    let d = due_with(&c, &[], &VisitSchedule::default(), date!(2026 - 01 - 20)).unwrap();
    assert_eq!(summary(&d), ("2026-01-25", T::First, -5));
    assert_eq!(d.last_visit_date, "");
    assert_eq!(d.facility_id, "F1");
    assert_eq!(d.borrower_key, vec![7; 32]);
    assert!(d.reason.contains("2026-01-10"), "{}", d.reason);

    let long = VisitSchedule {
        first_visit_days: 30,
        ..VisitSchedule::default()
    };
    let d = due_with(&c, &[], &long, date!(2026 - 02 - 09)).unwrap();
    assert_eq!(summary(&d), ("2026-02-09", T::First, 0));
}

#[test]
fn visits_after_today_do_not_count() {
    let c = credit(C::Normal, 0, "2026-01-10");
    let later = visit("2026-02-01", T::First, C::Normal, &[]);
    let d = due_with(
        &c,
        &[later],
        &VisitSchedule::default(),
        date!(2026 - 01 - 31),
    )
    .unwrap();
    assert_eq!(summary(&d), ("2026-01-25", T::First, 6));
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
        let d = due_with(&c, std::slice::from_ref(&last), &schedule, TODAY).unwrap();
        assert_eq!(summary(&d), (due_date, T::Routine, overdue), "{class:?}");
        assert_eq!(d.last_visit_date, "2026-05-01");
        assert_eq!(d.risk_class, class as i32);
    }
}

#[test]
fn a_class_worse_than_last_proposed_needs_a_focused_visit() {
    let c = credit(C::Substandard, 0, "2026-06-05");
    let routine = visit("2026-06-01", T::Routine, C::SpecialMention, &[]);
    let d = due(&c, std::slice::from_ref(&routine)).unwrap();
    assert_eq!(summary(&d), ("2026-06-12", T::Focused, 18));
    assert!(
        d.reason.contains("SUBSTANDARD") && d.reason.contains("SPECIAL_MENTION"),
        "{}",
        d.reason
    );

    // A FOCUSED visit on or after the as-of date answers it.
    let answer = visit("2026-06-05", T::Focused, C::SpecialMention, &[]);
    let d = due(&c, &[routine, answer]).unwrap();
    assert_eq!(summary(&d), ("2026-07-05", T::Routine, -5));
}

#[test]
fn a_visit_proposing_a_worse_class_needs_a_focused_visit() {
    let v1 = visit("2026-04-01", T::Routine, C::Normal, &[]);
    let v2 = visit("2026-05-01", T::Routine, C::SpecialMention, &[]);
    let c = credit(C::SpecialMention, 0, "2026-06-30");
    let d = due(&c, &[v2.clone(), v1.clone()]).unwrap();
    assert_eq!(summary(&d), ("2026-05-08", T::Focused, 53));
    assert!(
        d.reason.contains("proposed SPECIAL_MENTION"),
        "{}",
        d.reason
    );

    let followed = visit("2026-05-06", T::Focused, C::SpecialMention, &[]);
    let d = due(&c, &[v1, v2, followed]).unwrap();
    assert_eq!(summary(&d), ("2026-06-05", T::Routine, 25));
}

#[test]
fn a_new_warning_signal_needs_a_focused_visit_until_one_follows() {
    let c = credit(C::Normal, 0, "2026-06-30");
    let v1 = visit("2026-04-01", T::First, C::Normal, &[]);
    let v2 = visit("2026-05-01", T::Routine, C::Normal, &[W::Litigation]);
    // The signal repeats at a later routine visit: still unanswered since v2.
    let v3 = visit("2026-06-01", T::Routine, C::Normal, &[W::Litigation]);
    let d = due(&c, &[v1.clone(), v2.clone(), v3]).unwrap();
    assert_eq!(summary(&d), ("2026-05-08", T::Focused, 53));
    assert!(
        d.reason.contains("LITIGATION at the visit on 2026-05-01"),
        "{}",
        d.reason
    );

    let focused_visit = visit("2026-05-07", T::Focused, C::Normal, &[W::Litigation]);
    let v4 = visit("2026-06-01", T::Routine, C::Normal, &[W::Litigation]);
    let d = due(&c, &[v1.clone(), v2.clone(), focused_visit.clone(), v4]).unwrap();
    assert_eq!(summary(&d), ("2026-08-30", T::Routine, -61));

    // A signal not seen at the previous visit is new again.
    let v5 = visit(
        "2026-06-10",
        T::Routine,
        C::Normal,
        &[W::Litigation, W::MgmtEvent],
    );
    let d = due(&c, &[v1, v2, focused_visit, v5]).unwrap();
    assert_eq!(summary(&d), ("2026-06-17", T::Focused, 13));
    assert!(
        d.reason.contains("MGMT_EVENT") && !d.reason.contains("LITIGATION"),
        "{}",
        d.reason
    );
}

#[test]
fn signals_at_the_first_visit_are_new() {
    let c = credit(C::Normal, 0, "2026-06-30");
    let v1 = visit("2026-06-20", T::First, C::Normal, &[W::FinDeterioration]);
    let d = due(&c, &[v1]).unwrap();
    assert_eq!(summary(&d), ("2026-06-27", T::Focused, 3));
}

#[test]
fn more_than_60_days_overdue_needs_a_visit_from_the_day_it_crossed() {
    let last = visit("2026-06-15", T::Routine, C::SpecialMention, &[]);
    // 75 days overdue on 06-30: the 61st day was 06-16.
    let c = credit(C::SpecialMention, 75, "2026-06-30");
    let d = due(&c, std::slice::from_ref(&last)).unwrap();
    assert_eq!(summary(&d), ("2026-06-23", T::Focused, 7));
    assert!(d.reason.contains("since 2026-06-16"), "{}", d.reason);

    // A visit on the crossing day answers it.
    let on_day = visit("2026-06-16", T::Routine, C::SpecialMention, &[]);
    let d = due(&c, &[last.clone(), on_day]).unwrap();
    assert_eq!(summary(&d), ("2026-07-16", T::Routine, -16));

    // Exactly 60 days is not yet over 60; 61 crossed on the as-of date.
    let c60 = credit(C::SpecialMention, 60, "2026-06-30");
    assert_eq!(
        due(&c60, std::slice::from_ref(&last))
            .unwrap()
            .required_type,
        T::Routine as i32
    );
    let c61 = credit(C::SpecialMention, 61, "2026-06-30");
    let d = due(&c61, std::slice::from_ref(&last)).unwrap();
    assert_eq!(summary(&d), ("2026-07-07", T::Focused, -7));
}

#[test]
fn the_earliest_candidate_wins_and_focused_wins_ties() {
    // No visit yet and 61 days overdue as of 2026-01-18: the FIRST visit is
    // due 2026-01-25, the FOCUSED one too; FOCUSED is the more urgent.
    let c = credit(C::SpecialMention, 61, "2026-01-18");
    let d = due_with(&c, &[], &VisitSchedule::default(), date!(2026 - 01 - 20)).unwrap();
    assert_eq!(summary(&d), ("2026-01-25", T::Focused, -5));

    // An earlier FIRST visit beats a later FOCUSED one.
    let c = credit(C::SpecialMention, 61, "2026-02-18");
    let d = due_with(&c, &[], &VisitSchedule::default(), date!(2026 - 02 - 20)).unwrap();
    assert_eq!(summary(&d), ("2026-01-25", T::First, 26));
}

#[test]
fn visits_are_grouped_by_borrower_and_facility() {
    let credits = [credit(C::Normal, 0, "2026-06-30"), {
        let mut c = credit(C::Normal, 0, "2026-06-30");
        c.facility_id = "F2".into();
        c
    }];
    let mut other_borrower = visit("2026-03-01", T::Routine, C::Normal, &[]);
    other_borrower.borrower_key = vec![8; 32];
    let visits = [
        visit("2026-02-01", T::First, C::Normal, &[]),
        other_borrower,
        visit("2026-05-01", T::Routine, C::Normal, &[]),
    ];
    let states = group_by_facility(&credits, &visits);
    assert_eq!(states.len(), 2);
    let dates: Vec<&str> = states[0]
        .visits
        .iter()
        .map(|v| v.visit_date.as_str())
        .collect();
    assert_eq!(dates, vec!["2026-02-01", "2026-05-01"]);
    assert!(states[1].visits.is_empty());
}
