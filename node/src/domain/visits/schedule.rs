//! The visit schedule as configured (`[visits]`): intervals per kind of
//! obligation and the channels that satisfy each, validated at start-up and
//! parsed once per evaluation.

use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::domain::codes::parse_code;
use crate::domain::field::FieldError;

/// The post-loan visit schedule (`[visits]` in the node config): intervals
/// in days and the channels that satisfy each kind of obligation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisitSchedule {
    /// FIRST visit due this many days after disbursement (1..=30).
    pub first_visit_days: u32,
    /// ROUTINE interval for NORMAL facilities (1..=366).
    pub normal_interval_days: u32,
    /// ROUTINE interval for SPECIAL_MENTION facilities (1..=366).
    pub special_mention_interval_days: u32,
    /// ROUTINE interval for non-performing facilities (1..=366).
    pub non_performing_interval_days: u32,
    /// FOCUSED visit due this many days after its trigger (1..=30).
    pub focused_visit_days: u32,
    /// Recovery visits of written-off facilities (0 = none; 0..=366).
    pub written_off_interval_days: u32,
    /// Channels whose visit counts as the FIRST visit.
    pub first_visit_channels: Vec<String>,
    /// Channels whose visit counts as a ROUTINE visit.
    pub routine_visit_channels: Vec<String>,
    /// Channels whose FOCUSED or SPECIAL visit answers a FOCUSED trigger.
    pub focused_visit_channels: Vec<String>,
}

impl Default for VisitSchedule {
    fn default() -> Self {
        Self {
            first_visit_days: 15,
            normal_interval_days: 90,
            special_mention_interval_days: 30,
            non_performing_interval_days: 30,
            focused_visit_days: 7,
            written_off_interval_days: 180,
            first_visit_channels: vec!["ONSITE".into()],
            routine_visit_channels: vec!["ONSITE".into(), "VIDEO".into()],
            focused_visit_channels: vec!["ONSITE".into()],
        }
    }
}

impl VisitSchedule {
    /// Checks ranges and channel names; the error names the `visits.` key.
    pub fn validate(&self) -> Result<(), FieldError> {
        let ranges = [
            ("visits.first_visit_days", self.first_visit_days, 1, 30),
            (
                "visits.normal_interval_days",
                self.normal_interval_days,
                1,
                366,
            ),
            (
                "visits.special_mention_interval_days",
                self.special_mention_interval_days,
                1,
                366,
            ),
            (
                "visits.non_performing_interval_days",
                self.non_performing_interval_days,
                1,
                366,
            ),
            ("visits.focused_visit_days", self.focused_visit_days, 1, 30),
            (
                "visits.written_off_interval_days",
                self.written_off_interval_days,
                0,
                366,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(FieldError::new(
                    key,
                    format!("must be {min}..={max} days, found {value}"),
                ));
            }
        }
        self.rules().map(|_| ())
    }

    /// The schedule with its channel names parsed.
    pub(super) fn rules(&self) -> Result<Rules<'_>, FieldError> {
        let parse =
            |key: &'static str, names: &[String]| -> Result<Vec<pb::VisitChannel>, FieldError> {
                if names.is_empty() {
                    return Err(FieldError::new(key, "must name at least one channel"));
                }
                names
                    .iter()
                    .map(|n| parse_code(key, n))
                    .collect::<Result<_, _>>()
            };
        Ok(Rules {
            schedule: self,
            first: parse("visits.first_visit_channels", &self.first_visit_channels)?,
            routine: parse(
                "visits.routine_visit_channels",
                &self.routine_visit_channels,
            )?,
            focused: parse(
                "visits.focused_visit_channels",
                &self.focused_visit_channels,
            )?,
        })
    }
}

/// A schedule with its channels parsed, for one evaluation.
#[derive(Debug)]
pub(super) struct Rules<'a> {
    pub(super) schedule: &'a VisitSchedule,
    pub(super) first: Vec<pb::VisitChannel>,
    pub(super) routine: Vec<pb::VisitChannel>,
    pub(super) focused: Vec<pb::VisitChannel>,
}
