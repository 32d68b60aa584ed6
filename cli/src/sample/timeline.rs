//! When a facility is visited, following the node's schedule
//! ([`VisitSchedule`]): a FIRST visit on site within the first-visit window,
//! ROUTINE visits at the interval of the class the facility had at the
//! time (brought forward by a downgrade), and a FOCUSED visit on site after
//! each trigger: the 61st overdue day, or a visit that found the facility
//! worse than the visit before (worse class proposed, new warning signals).
//!
//! Each scheduled visit is made on time with probability `adherence`,
//! otherwise days or weeks late. A facility that is `behind` skips the last
//! visit that fell due before today, so as of today it is overdue for a
//! visit; every other live facility is up to date by the node's rules (a
//! catch-up visit in the last days if the history left a gap). Visits are
//! never dated before disbursement, after today or after the facility
//! ended, and FOCUSED visits never before their trigger.

use credshare_node::domain::visits::VisitSchedule;
use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;
use time::{Date, Duration};

use super::facility::Facility;
use super::pick;

/// Share of NORMAL facilities' scheduled visits followed by a phone or
/// self-service check halfway to the next (which satisfies no obligation).
const CALL_SHARE: f64 = 0.15;
/// Latest a late FOCUSED visit comes after its trigger, in days.
const FOCUSED_LATE_DAYS: i64 = 21;

/// A visit's date, type and channel; what it found comes later.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planned {
    pub date: Date,
    pub kind: pb::VisitType,
    pub channel: pb::VisitChannel,
}

/// How the visits of one facility are made.
pub(super) struct VisitPlan<'a> {
    pub schedule: &'a VisitSchedule,
    pub adherence: f64,
    /// Behind schedule as of today (skips the last visit due).
    pub behind: bool,
    pub today: Date,
}

/// The next FIRST or ROUTINE visit: when it is due, when it is made.
#[derive(Clone, Copy)]
struct Step {
    due: Date,
    date: Date,
}

/// The visit dates of one facility, planned in date order.
pub(super) struct Planner<'a> {
    rng: &'a mut StdRng,
    facility: &'a Facility,
    schedule: &'a VisitSchedule,
    adherence: f64,
    behind: bool,
    today: Date,
    out: Vec<Planned>,
    /// Date of the last visit through a ROUTINE channel.
    last_routine: Option<Date>,
    /// The class the last visit found.
    recorded: pb::RiskClass,
    /// Unanswered FOCUSED triggers: (trigger, planned visit date).
    pending: Vec<(Date, Date)>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(rng: &'a mut StdRng, facility: &'a Facility, plan: &VisitPlan<'a>) -> Self {
        Self {
            rng,
            facility,
            schedule: plan.schedule,
            adherence: plan.adherence,
            behind: plan.behind && facility.history.live,
            today: plan.today,
            out: Vec::new(),
            last_routine: None,
            recorded: pb::RiskClass::Normal,
            pending: Vec::new(),
        }
    }

    /// Every visit of the facility, oldest first.
    pub(super) fn plan(mut self) -> Vec<Planned> {
        if let Some(trigger) = self.facility.history.overdue_trigger {
            self.add_trigger(trigger, 0);
        }
        let end = self.facility.history.end;
        let mut step = self.first_step();
        loop {
            let focus = self.pending.iter().map(|p| p.1).min();
            match focus {
                Some(date) if date < step.date => {
                    if date > end {
                        break;
                    }
                    self.visit(date, pb::VisitType::Focused);
                }
                _ => {
                    // The last visit due before today, as drawn: skipped
                    // when behind, so the facility is overdue for it.
                    let last_due = step.due < self.today && self.next_due(step.date) >= self.today;
                    if step.date > end || (self.behind && last_due) {
                        break;
                    }
                    let kind = match self.last_routine {
                        None => pb::VisitType::First,
                        Some(_) => pb::VisitType::Routine,
                    };
                    self.visit(step.date, kind);
                }
            }
            step = self.step_after(self.last_routine.unwrap_or(self.facility.open));
        }
        if self.facility.history.live && !self.behind {
            self.catch_up();
        }
        self.out
    }

    /// FIRST: on site within the first-visit window.
    fn first_step(&mut self) -> Step {
        let open = self.facility.open;
        let days = self.first_window().whole_days();
        let on_time = open + Duration::days(self.rng.random_range(days.min(3)..=days));
        self.draw(open + self.first_window(), on_time, 30)
    }

    fn first_window(&self) -> Duration {
        Duration::days(i64::from(self.schedule.first_visit_days))
    }

    /// The ROUTINE visit after one made on `last`: a little early when on
    /// time, up to a third of the interval late otherwise.
    fn step_after(&mut self, last: Date) -> Step {
        let due = self.next_due(last);
        let interval = (due - last).whole_days().max(1);
        let early = (interval / 9).min(10);
        let on_time = (due - Duration::days(self.rng.random_range(0..=early))).max(last);
        self.draw(due, on_time, (interval / 3).clamp(7, 30))
    }

    /// On time or late; a facility that is to be up to date today makes a
    /// visit due before today by today.
    fn draw(&mut self, due: Date, on_time: Date, late_days: i64) -> Step {
        let mut date = if self.rng.random_bool(self.adherence) {
            on_time
        } else {
            due + Duration::days(self.rng.random_range(1..=late_days))
        };
        if !self.behind && due < self.today && date > self.today {
            date = on_time;
        }
        Step { due, date }
    }

    /// When the visit after one on `last` is due: the interval of the class
    /// then, or sooner if the facility is downgraded before that.
    fn next_due(&self, last: Date) -> Date {
        let history = &self.facility.history;
        let naive = last + self.interval(history.class_at(last));
        match history.changes.iter().find(|(from, _)| *from > last) {
            Some(&(from, class)) if from < naive => {
                naive.min((last + self.interval(class)).max(from))
            }
            _ => naive,
        }
    }

    fn interval(&self, class: pb::RiskClass) -> Duration {
        let s = self.schedule;
        let days = match class {
            pb::RiskClass::SpecialMention => s.special_mention_interval_days,
            pb::RiskClass::Substandard | pb::RiskClass::Doubtful | pb::RiskClass::Loss => {
                s.non_performing_interval_days
            }
            _ => s.normal_interval_days,
        };
        Duration::days(i64::from(days))
    }

    /// A FOCUSED visit owed from `trigger`: within the window when on
    /// time, up to three weeks after it otherwise; `after` days at least
    /// (1 when a visit on the trigger day found it).
    fn add_trigger(&mut self, trigger: Date, after: i64) {
        let window = i64::from(self.schedule.focused_visit_days);
        let on_time = trigger + Duration::days(self.rng.random_range(after..=window));
        let mut planned = if self.rng.random_bool(self.adherence) {
            on_time
        } else {
            trigger + Duration::days(self.rng.random_range(window + 1..=FOCUSED_LATE_DAYS))
        };
        if !self.behind && trigger + Duration::days(window) < self.today && planned > self.today {
            planned = on_time;
        }
        self.pending.push((trigger, planned));
    }

    /// Records a visit on `date` (not before the last one). A ROUTINE visit
    /// made while a trigger is open is made as the FOCUSED visit; a visit
    /// that finds the facility worse than the last one triggers a FOCUSED
    /// visit unless it is one.
    fn visit(&mut self, date: Date, kind: pb::VisitType) {
        let date = self.out.last().map_or(date, |p| p.date.max(date));
        let class = self.facility.history.class_at(date);
        let open_trigger = self.pending.iter().any(|(trigger, _)| *trigger <= date);
        let kind = match kind {
            pb::VisitType::Routine if open_trigger => pb::VisitType::Focused,
            other => other,
        };
        let channel = match kind {
            pb::VisitType::Routine => self.routine_channel(class),
            _ => pb::VisitChannel::Onsite,
        };
        if kind == pb::VisitType::Focused {
            self.pending.retain(|(trigger, _)| *trigger > date);
        }
        let finding = class > self.recorded;
        self.recorded = class;
        self.last_routine = Some(date);
        self.out.push(Planned {
            date,
            kind,
            channel,
        });
        if finding && kind != pb::VisitType::Focused {
            self.add_trigger(date, 1);
        }
        self.maybe_call(date, class);
    }

    /// ONSITE mostly; VIDEO for some visits, more of NORMAL facilities.
    fn routine_channel(&mut self, class: pb::RiskClass) -> pb::VisitChannel {
        use pb::VisitChannel as V;
        let video = if class == pb::RiskClass::Normal {
            25
        } else {
            10
        };
        pick(self.rng, &[(V::Onsite, 100 - video), (V::Video, video)])
    }

    /// A call halfway to the next visit of a facility that never had
    /// trouble: it satisfies no obligation, and finds what the visit did.
    fn maybe_call(&mut self, date: Date, class: pb::RiskClass) {
        let trouble_free = self.facility.history.changes.is_empty();
        if class != pb::RiskClass::Normal || !trouble_free || !self.rng.random_bool(CALL_SHARE) {
            return;
        }
        let halfway = date + self.interval(class) / 2;
        if halfway <= self.facility.history.end {
            let channel = pick(
                self.rng,
                &[
                    (pb::VisitChannel::Phone, 80),
                    (pb::VisitChannel::SelfService, 20),
                ],
            );
            self.out.push(Planned {
                date: halfway,
                kind: pb::VisitType::Routine,
                channel,
            });
        }
    }

    /// An up-to-date facility has, as of today, a ROUTINE-channel visit
    /// within its current class's interval and no FOCUSED trigger past its
    /// window; a visit in the last few days closes what history left open.
    fn catch_up(&mut self) {
        let recent = self.today - Duration::days(self.rng.random_range(0..=3));
        let recent = recent.max(self.facility.open);
        let interval = self.interval(self.facility.class);
        match self.last_routine {
            Some(last) if last + interval < self.today => {
                self.visit(recent, pb::VisitType::Routine);
            }
            None if self.facility.open + self.first_window() < self.today => {
                self.visit(recent, pb::VisitType::First);
            }
            _ => {}
        }
        let window = Duration::days(i64::from(self.schedule.focused_visit_days));
        if self.pending.iter().any(|(t, _)| *t + window < self.today) {
            self.visit(recent, pb::VisitType::Focused);
        }
    }
}
