//! Per-visit checks of the read-back statistics: the node's FOCUSED
//! triggers as a facility's visits are walked in order, and whether a
//! visit's fields tell one story.

use credshare_node::domain::dates::parse_iso_date;
use credshare_node::domain::visits::FOCUSED_OVERDUE_DAYS;
use credshare_proto::v1 as pb;
use time::{Date, Duration};

/// The FOCUSED triggers of one facility, its visits walked oldest first.
#[derive(Debug, Default)]
pub(super) struct Triggers {
    /// The 61st overdue day, until the walk reaches it.
    overdue: Option<Date>,
    /// Whether any trigger came before the current visit.
    pub any: bool,
    /// Unanswered triggers.
    open: Vec<Date>,
}

impl Triggers {
    /// The triggers of `credit`'s facility before its first visit.
    pub fn new(credit: &pb::CreditSummary) -> Self {
        Self {
            overdue: long_overdue_since(credit),
            ..Self::default()
        }
    }

    /// The walk is at `date`: the overdue trigger opens once reached.
    pub fn reach(&mut self, date: Date) {
        if let Some(day) = self.overdue.filter(|day| *day <= date) {
            self.open.push(day);
            self.any = true;
            self.overdue = None;
        }
    }

    /// If `visit` answers open triggers (a FOCUSED or SPECIAL visit on
    /// site), closes them and says whether it came within `window` of the
    /// earliest.
    pub fn answer(
        &mut self,
        visit: &pb::VisitSummary,
        date: Date,
        window: Duration,
    ) -> Option<bool> {
        let earliest = *self.open.iter().min()?;
        if !answers_focused(visit) {
            return None;
        }
        self.open.clear();
        Some(date <= earliest + window)
    }

    /// A finding at `visit` is a trigger, unless the visit answers it itself.
    pub fn record(
        &mut self,
        visit: &pb::VisitSummary,
        previous: Option<&pb::VisitSummary>,
        date: Date,
    ) {
        if is_finding(visit, previous) {
            self.any = true;
            if !answers_focused(visit) {
                self.open.push(date);
            }
        }
    }
}

/// A FOCUSED or SPECIAL visit on site (the node's default channels).
fn answers_focused(visit: &pb::VisitSummary) -> bool {
    let kind = pb::VisitType::try_from(visit.visit_type).ok();
    matches!(kind, Some(pb::VisitType::Focused | pb::VisitType::Special))
        && visit.channel == pb::VisitChannel::Onsite as i32
}

/// The day the facility went more than 60 days overdue (the node's trigger).
fn long_overdue_since(credit: &pb::CreditSummary) -> Option<Date> {
    let days = credit.overdue_days.checked_sub(FOCUSED_OVERDUE_DAYS + 1)?;
    Some(parse_iso_date(&credit.as_of_date)? - Duration::days(i64::from(days)))
}

/// The node's finding: a worse class proposed than at the visit before, or
/// a warning signal the visit before did not record.
fn is_finding(visit: &pb::VisitSummary, previous: Option<&pb::VisitSummary>) -> bool {
    let known = |c: i32| c > pb::RiskClass::Unspecified as i32;
    let worse = previous.is_some_and(|p| {
        known(visit.proposed_risk_class)
            && known(p.proposed_risk_class)
            && visit.proposed_risk_class > p.proposed_risk_class
    });
    let new_signal = (visit.warning_signals.iter())
        .any(|s| previous.is_none_or(|p| !p.warning_signals.contains(s)));
    worse || new_signal
}

/// Whether the fields tell one story: funds diverted exactly with
/// FUND_DIVERSION, operations halted exactly with STOP_PRODUCTION,
/// collateral and guarantor at risk exactly with their signals, and the
/// conclusion mentioning diversion or a halt only when the fields do.
pub(super) fn consistent(v: &pb::VisitSummary) -> bool {
    use pb::WarningSignal as S;
    let has = |s: S| v.warning_signals.contains(&(s as i32));
    let diverted = v.fund_usage == pb::FundUsage::Diverted as i32;
    let halted = v.operations == pb::OperationsStatus::Halted as i32;
    let text = v.conclusion.to_lowercase();
    let says_diverted = text.contains("divert") || text.contains("挪用");
    let says_halted = text.contains("halted") || text.contains("停产");
    diverted == has(S::FundDiversion)
        && halted == has(S::StopProduction)
        && (v.collateral != pb::CollateralStatus::Intact as i32) == has(S::CollateralRisk)
        && (v.guarantor != pb::GuarantorStatus::Normal as i32) == has(S::GuarantorRisk)
        && says_diverted == diverted
        && says_halted == halted
}
