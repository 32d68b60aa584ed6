//! The one way dates and times are shown to people: dates `YYYY-MM-DD`,
//! times `YYYY-MM-DD HH:MM:SS <zone>` in the consortium's business time
//! zone — `CREDSHARE_BUSINESS_TIME_ZONE` (an IANA name, default
//! `Asia/Shanghai`, as the node's `business_time_zone`). `--json` keeps
//! machine forms (Unix milliseconds) and does not use this module.

use std::sync::OnceLock;

use credshare_node::domain::dates::DEFAULT_BUSINESS_ZONE;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::output::ExitKind;

/// The environment variable naming the zone times are shown in.
pub const ZONE_ENV: &str = "CREDSHARE_BUSINESS_TIME_ZONE";

/// The zone times are shown in, with its name.
#[derive(Debug, Clone)]
pub struct DisplayZone {
    name: String,
    tz: TimeZone,
}

static ZONE: OnceLock<DisplayZone> = OnceLock::new();

impl DisplayZone {
    /// The zone named `name` (IANA), e.g. `Asia/Shanghai` or `UTC`.
    pub fn parse(name: &str) -> Result<Self, ExitKind> {
        let name = name.trim();
        let tz = TimeZone::get(name).map_err(|_| {
            ExitKind::Usage(format!(
                "{ZONE_ENV}={name:?} is not an IANA time zone name (e.g. Asia/Shanghai)"
            ))
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }

    /// The zone `CREDSHARE_BUSINESS_TIME_ZONE` names, or the default.
    pub fn from_env() -> Result<Self, ExitKind> {
        match std::env::var(ZONE_ENV) {
            Ok(name) if !name.trim().is_empty() => Self::parse(&name),
            _ => Self::parse(DEFAULT_BUSINESS_ZONE),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `YYYY-MM-DD HH:MM:SS <zone>` of Unix milliseconds; the number and
    /// "ms" when out of range.
    pub fn time(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => format!(
                "{} {}",
                self.tz.to_datetime(at).strftime("%Y-%m-%d %H:%M:%S"),
                self.name
            ),
            Err(_) => format!("{ms} ms"),
        }
    }

    /// `YYYY-MM-DD`: the date in this zone at Unix milliseconds.
    pub fn date(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => self.tz.to_datetime(at).date().to_string(),
            Err(_) => format!("{ms} ms"),
        }
    }

    /// Unix milliseconds of the last millisecond of `date` in this zone.
    pub fn end_of_day_ms(&self, date: jiff::civil::Date) -> Result<i64, String> {
        let next = date
            .tomorrow()
            .map_err(|e| format!("{date} has no next day: {e}"))?;
        let start = self
            .tz
            .to_ambiguous_timestamp(next.at(0, 0, 0, 0))
            .compatible()
            .map_err(|e| format!("{date} in {}: {e}", self.name))?;
        Ok(start.as_millisecond() - 1)
    }

    /// Today's date in this zone.
    pub fn today(&self) -> jiff::civil::Date {
        self.tz.to_datetime(Timestamp::now()).date()
    }
}

/// Checks `CREDSHARE_BUSINESS_TIME_ZONE` once at start-up (an unknown zone
/// is a usage error, exit code 2) and keeps it for [`zone`].
pub fn init() -> Result<(), ExitKind> {
    let zone = DisplayZone::from_env()?;
    let _ = ZONE.set(zone);
    Ok(())
}

/// The display zone ([`init`] ran), else the default.
pub fn zone() -> &'static DisplayZone {
    ZONE.get_or_init(|| DisplayZone::from_env().unwrap_or_else(|_| utc()))
}

fn utc() -> DisplayZone {
    DisplayZone {
        name: "UTC".into(),
        tz: TimeZone::UTC,
    }
}

/// A time for people: `YYYY-MM-DD HH:MM:SS <zone>`.
pub fn time(ms: i64) -> String {
    zone().time(ms)
}

/// A date for people: `YYYY-MM-DD` in the display zone.
pub fn date(ms: i64) -> String {
    zone().date(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_named_zone() {
        let shanghai = DisplayZone::parse("Asia/Shanghai").unwrap();
        // 2024-06-10T06:13:20.123Z
        let ms = 1_718_000_000_123;
        assert_eq!(shanghai.time(ms), "2024-06-10 14:13:20 Asia/Shanghai");
        assert_eq!(shanghai.date(ms), "2024-06-10");
        let utc = DisplayZone::parse("UTC").unwrap();
        assert_eq!(utc.time(ms), "2024-06-10 06:13:20 UTC");
        assert_eq!(utc.time(i64::MAX), format!("{} ms", i64::MAX));
    }

    #[test]
    fn an_unknown_zone_is_a_usage_error() {
        let e = DisplayZone::parse("Mars/Olympus").unwrap_err();
        assert!(matches!(e, ExitKind::Usage(_)));
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn a_day_ends_at_midnight_in_the_zone() {
        let shanghai = DisplayZone::parse("Asia/Shanghai").unwrap();
        let end = shanghai
            .end_of_day_ms(jiff::civil::date(2027, 6, 30))
            .unwrap();
        // 2027-06-30 24:00 at UTC+8 = 2027-06-30T16:00Z.
        assert_eq!(end, 1_814_371_200_000 - 1);
        assert_eq!(shanghai.time(end), "2027-06-30 23:59:59 Asia/Shanghai");
    }
}
