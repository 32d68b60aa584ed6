//! `credshare sample --stats`: the distributions of the written files, read
//! back exactly as `credshare records import` reads them (every row
//! validated with the node's rules, every visit checked against its
//! facility), with the visit schedule evaluated by the node's own
//! [`open_obligations`], each figure next to the profile's target.
//!
//! Streams: the sample writes each facility's visits together and in the
//! order of the facilities, so one facility is in memory at a time.

use std::iter::Peekable;

use credshare_node::domain::borrower::ConsortiumSecret;
use credshare_node::domain::dates::parse_iso_date;
use credshare_node::domain::records::check_visit_facility;
use credshare_node::domain::visits::{FacilityVisitState, VisitSchedule, open_obligations};
use credshare_node::pki::InstitutionId;
use credshare_proto::v1 as pb;
use serde::ser::SerializeMap;
use time::{Date, Duration};

use super::{SampleSpec, SampleSummary};
use crate::rows::{ImportContext, RecordKind, RecordReader};
use checks::{Triggers, consistent};

// The node's FOCUSED triggers and the consistency of one visit's fields.
mod checks;

/// The figures of one sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleStats {
    /// The day the schedule is evaluated on (the sample's today).
    pub today: String,
    pub facilities: u64,
    /// Facilities neither settled nor written off.
    pub live_facilities: u64,
    pub visits: u64,
    /// By key (`npl_rate`, `visit_overdue_rate`, …), in the order shown.
    #[serde(serialize_with = "figures_by_key")]
    pub figures: Vec<Figure>,
}

/// One measured share: `count` of `of`, and what the profile aims at.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    #[serde(skip)]
    pub key: &'static str,
    pub label: &'static str,
    pub count: u64,
    pub of: u64,
    pub value: f64,
    pub target: Option<f64>,
}

fn figures_by_key<S: serde::Serializer>(figures: &[Figure], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(figures.len()))?;
    for f in figures {
        map.serialize_entry(f.key, f)?;
    }
    map.end()
}

/// Reads the files of `summary` back and measures them against `spec`.
pub fn read_stats(
    institution: &InstitutionId,
    spec: &SampleSpec,
    summary: &SampleSummary,
) -> anyhow::Result<SampleStats> {
    // Any secret will do: keys only have to agree between the two files.
    let ctx = ImportContext {
        institution: institution.clone(),
        keys: crate::rows::RowKeys::Hmac(ConsortiumSecret::from_bytes(&[7; 32])?),
        today: spec.today,
    };
    let mut counts = Counts::default();
    let schedule = VisitSchedule::default();
    let credits = RecordReader::open(&summary.credit_file, RecordKind::Credit, ctx.clone())?;
    let mut visits = RecordReader::open(&summary.visits_file, RecordKind::Visit, ctx)?.peekable();
    for row in credits {
        let Some(credit) = row.ok().and_then(|r| match r.record.record {
            Some(pb::record_input::Record::Credit(c)) => Some(c),
            _ => None,
        }) else {
            counts.rejected += 1;
            continue;
        };
        let own = visits_of(&mut visits, &credit, &mut counts);
        counts.facility(&credit, &own, &schedule, spec.today);
    }
    // Visits of no facility before them: the node refuses them.
    counts.rejected += visits.count() as u64;
    Ok(counts.into_stats(spec))
}

/// The visits at the head of `visits` that belong to `credit`'s facility
/// and pass the node's facility check; counts the rejected ones.
fn visits_of<I>(
    visits: &mut Peekable<I>,
    credit: &pb::CreditSummary,
    counts: &mut Counts,
) -> Vec<pb::VisitSummary>
where
    I: Iterator<Item = Result<crate::rows::ParsedRow, crate::rows::RowError>>,
{
    let mut own = Vec::new();
    while let Some(next) = visits.peek() {
        let visit = match next {
            Ok(row) => match &row.record.record {
                Some(pb::record_input::Record::Visit(v)) => Some(v),
                _ => None,
            },
            Err(_) => None,
        };
        match visit {
            Some(v)
                if v.borrower_key == credit.borrower_key && v.facility_id == credit.facility_id =>
            {
                if check_visit_facility(v, Some(credit)).is_ok() {
                    own.push(v.clone());
                } else {
                    counts.rejected += 1;
                }
            }
            Some(_) => break,
            None => counts.rejected += 1,
        }
        visits.next();
    }
    own
}

#[derive(Debug, Default)]
struct Counts {
    facilities: u64,
    live: u64,
    settled: u64,
    written_off: u64,
    /// Live facilities by risk class wire value.
    classes: [u64; 6],
    overdue: u64,
    over_90: u64,
    behind_schedule: u64,
    visits: u64,
    first: u64,
    first_late: u64,
    focused: u64,
    focused_untriggered: u64,
    /// FOCUSED (or SPECIAL) on-site visits that answered a trigger, and
    /// how many of them within the window of the earliest.
    focused_answering: u64,
    focused_on_time: u64,
    before_open: u64,
    inconsistent: u64,
    rejected: u64,
}

impl Counts {
    fn facility(
        &mut self,
        credit: &pb::CreditSummary,
        visits: &[pb::VisitSummary],
        schedule: &VisitSchedule,
        today: Date,
    ) {
        self.facilities += 1;
        self.visits += visits.len() as u64;
        let status = pb::AccountStatus::try_from(credit.account_status).ok();
        match status {
            Some(pb::AccountStatus::Settled) => self.settled += 1,
            Some(pb::AccountStatus::WrittenOff) => self.written_off += 1,
            _ => {
                self.live += 1;
                let class = usize::try_from(credit.risk_class).unwrap_or(0);
                self.classes[class.min(5)] += 1;
                self.overdue += u64::from(credit.overdue_days > 0);
                self.over_90 += u64::from(credit.overdue_days > 90);
                let state = FacilityVisitState {
                    versions: vec![credit],
                    visits: visits.iter().collect(),
                };
                let open = open_obligations(&state, schedule, today);
                self.behind_schedule += u64::from(open.iter().any(|o| o.days_overdue > 0));
            }
        }
        self.visit_figures(credit, visits, schedule);
    }

    /// FIRST visits made late, FOCUSED visits without a trigger before
    /// them, visits before disbursement, findings that contradict
    /// themselves.
    fn visit_figures(
        &mut self,
        credit: &pb::CreditSummary,
        visits: &[pb::VisitSummary],
        schedule: &VisitSchedule,
    ) {
        let Some(open) = parse_iso_date(&credit.open_date) else {
            return;
        };
        let first_due = open + Duration::days(i64::from(schedule.first_visit_days));
        let mut dated: Vec<(Date, &pb::VisitSummary)> = (visits.iter())
            .filter_map(|v| Some((parse_iso_date(&v.visit_date)?, v)))
            .collect();
        dated.sort_by(|a, b| (a.0, &a.1.visit_id).cmp(&(b.0, &b.1.visit_id)));
        let mut triggers = Triggers::new(credit);
        let window = Duration::days(i64::from(schedule.focused_visit_days));
        for (i, &(date, visit)) in dated.iter().enumerate() {
            self.before_open += u64::from(date < open);
            self.inconsistent += u64::from(!consistent(visit));
            triggers.reach(date);
            match pb::VisitType::try_from(visit.visit_type) {
                Ok(pb::VisitType::First) => {
                    self.first += 1;
                    self.first_late += u64::from(date > first_due);
                }
                Ok(pb::VisitType::Focused) => {
                    self.focused += 1;
                    self.focused_untriggered += u64::from(!triggers.any);
                }
                _ => {}
            }
            if let Some(on_time) = triggers.answer(visit, date, window) {
                self.focused_answering += 1;
                self.focused_on_time += u64::from(on_time);
            }
            let previous = i.checked_sub(1).map(|p| dated[p].1);
            triggers.record(visit, previous, date);
        }
    }

    fn into_stats(self, spec: &SampleSpec) -> SampleStats {
        use pb::RiskClass as R;
        let p = &spec.profile;
        let class = |c: R| self.classes[c as usize];
        let npl = class(R::Substandard) + class(R::Doubtful) + class(R::Loss);
        let (live, all, visits) = (self.live, self.facilities, self.visits);
        let lapse = 1.0 - p.visit_adherence;
        let normal = 1.0 - p.npl_rate - p.special_mention_rate;
        let written_off = p.written_off_rate * (1.0 - p.settled_rate);
        let rows = all + visits + self.rejected;
        // (count, of, target), in the order of FIGURES.
        let values: [(u64, u64, Option<f64>); FIGURES.len()] = [
            (class(R::Normal), live, Some(normal)),
            (class(R::SpecialMention), live, Some(p.special_mention_rate)),
            (npl, live, Some(p.npl_rate)),
            (class(R::Substandard), live, None),
            (class(R::Doubtful), live, None),
            (class(R::Loss), live, None),
            (self.overdue, live, Some(p.expected_overdue_rate())),
            (self.over_90, live, Some(p.expected_over_90_rate())),
            (self.settled, all, Some(p.settled_rate)),
            (self.written_off, all, Some(written_off)),
            (self.behind_schedule, live, Some(lapse)),
            (self.first_late, self.first, Some(lapse)),
            (
                self.focused_on_time,
                self.focused_answering,
                Some(p.visit_adherence),
            ),
            (self.focused_untriggered, self.focused, Some(0.0)),
            (self.before_open, visits, Some(0.0)),
            (self.inconsistent, visits, Some(0.0)),
            (self.rejected, rows, Some(0.0)),
        ];
        let figures = (FIGURES.iter().zip(values))
            .map(|(&(key, label), (count, of, target))| Figure {
                key,
                label,
                count,
                of,
                value: if of == 0 {
                    0.0
                } else {
                    count as f64 / of as f64
                },
                target,
            })
            .collect();
        SampleStats {
            today: spec.today.to_string(),
            facilities: all,
            live_facilities: live,
            visits,
            figures,
        }
    }
}

/// Key and label of each figure, in the order shown.
const FIGURES: [(&str, &str); 17] = [
    ("normal_rate", "live facilities NORMAL"),
    ("special_mention_rate", "live facilities SPECIAL_MENTION"),
    ("npl_rate", "live facilities non-performing"),
    ("substandard_rate", "  of which SUBSTANDARD"),
    ("doubtful_rate", "  of which DOUBTFUL"),
    ("loss_rate", "  of which LOSS"),
    ("overdue_rate", "live facilities overdue"),
    ("over_90_rate", "live facilities > 90 days overdue"),
    ("settled_rate", "facilities settled"),
    ("written_off_rate", "facilities written off"),
    ("visit_overdue_rate", "live facilities overdue for a visit"),
    ("first_visit_late_rate", "FIRST visits made late"),
    ("focused_on_time_rate", "FOCUSED visits within 7 days"),
    (
        "focused_before_trigger_rate",
        "FOCUSED visits before trigger",
    ),
    ("visits_before_open_rate", "visits before disbursement"),
    ("inconsistent_visit_rate", "visits whose fields disagree"),
    ("rejected_row_rate", "rows the node rejects"),
];
