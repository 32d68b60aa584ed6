//! Dates and times as the domain speaks them: ISO calendar dates
//! (`YYYY-MM-DD`), UTC milliseconds, and the consortium's business time zone
//! ([`BusinessZone`]) that says which calendar day "today" is for every rule
//! (docs/domain.md#codes-and-conventions).

use std::fmt;

use time::macros::format_description;
use time::{Date, Duration, Month, OffsetDateTime};

use super::field::{FieldError, quote_unless_identifying};

/// Earliest year accepted in any date field.
pub const MIN_YEAR: i32 = 1900;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `ms` (Unix milliseconds) as an RFC 3339 UTC time, for messages.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The latest calendar date anywhere on Earth (UTC+14): an upper bound for
/// dates that need no business day, such as a birth date in an identifier.
pub fn latest_date_anywhere() -> Date {
    (OffsetDateTime::now_utc() + Duration::hours(14)).date()
}

/// The default business time zone of a consortium.
pub const DEFAULT_BUSINESS_ZONE: &str = "Asia/Shanghai";

/// The consortium's business time zone, by IANA name (the tz database is
/// bundled, so no system data is needed). Every "today" of the domain —
/// the newest acceptable record date, the 180-day signal window, the visit
/// schedule — is the calendar date in this zone.
#[derive(Clone)]
pub struct BusinessZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl BusinessZone {
    /// The zone named `name`, e.g. `Asia/Shanghai` or `UTC`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(name.trim())
            .map_err(|_| format!("{name:?} is not an IANA time zone name (e.g. Asia/Shanghai)"))?;
        Ok(Self {
            name: name.trim().to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Today's date in this zone.
    pub fn today(&self) -> Date {
        self.date_at(jiff::Timestamp::now())
    }

    /// The date in this zone at `ms` milliseconds since the Unix epoch.
    pub fn date_of_ms(&self, ms: i64) -> Date {
        let at = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        self.date_at(at)
    }

    fn date_at(&self, at: jiff::Timestamp) -> Date {
        let d = self.tz.to_datetime(at).date();
        Month::try_from(d.month() as u8)
            .ok()
            .and_then(|m| Date::from_calendar_date(i32::from(d.year()), m, d.day() as u8).ok())
            .unwrap_or(Date::MIN)
    }
}

impl Default for BusinessZone {
    fn default() -> Self {
        Self::parse(DEFAULT_BUSINESS_ZONE).unwrap_or_else(|_| Self {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        })
    }
}

impl fmt::Debug for BusinessZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BusinessZone({})", self.name)
    }
}

impl PartialEq for BusinessZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl serde::Serialize for BusinessZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for BusinessZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Parses a strict ISO calendar date `YYYY-MM-DD` (year ≥ 1900), naming
/// `field` in the error.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, FieldError> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        let what = if s.is_empty() {
            "is empty".to_owned()
        } else {
            format!("{} is not", quote_unless_identifying(s))
        };
        return Err(FieldError::new(
            field,
            format!("{what} an ISO date (YYYY-MM-DD)"),
        ));
    }
    let number = |range: std::ops::Range<usize>| s[range].parse::<u16>().unwrap_or(0);
    let not_real = || FieldError::new(field, format!("{s} is not a real date"));
    let month = Month::try_from(number(5..7) as u8).map_err(|_| not_real())?;
    let date = Date::from_calendar_date(i32::from(number(0..4)), month, number(8..10) as u8)
        .map_err(|_| not_real())?;
    if date.year() < MIN_YEAR {
        return Err(FieldError::new(field, format!("{s} is before {MIN_YEAR}")));
    }
    Ok(date)
}

/// Parses an ISO calendar date, `YYYY-MM-DD` exactly, from data already
/// validated (or from a peer, where a bad date is skipped, not an error).
pub fn parse_iso_date(s: &str) -> Option<Date> {
    // Exactly ten characters: the format alone would also accept signed or
    // longer years with some feature sets.
    if s.len() != 10 {
        return None;
    }
    Date::parse(s, format_description!("[year]-[month]-[day]")).ok()
}

/// Formats a date as `YYYY-MM-DD` (years 0..=9999).
pub fn iso_date(date: Date) -> String {
    date.to_string()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("d", "2024-02-29"), Ok(date!(2024 - 02 - 29)));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "0999-01-01",
            "2024/01/01",
            " 2024-01-01",
            "+2024-01-01",
            "",
        ] {
            assert_eq!(parse_date("d", bad).unwrap_err().field, "d", "{bad}");
        }
        assert_eq!(
            parse_date("d", "2024-1-1").unwrap_err().to_string(),
            "d: \"2024-1-1\" is not an ISO date (YYYY-MM-DD)"
        );
    }

    #[test]
    fn business_days_follow_the_zone() {
        let shanghai = BusinessZone::default();
        assert_eq!(shanghai.name(), "Asia/Shanghai");
        // 2026-12-01 16:30 UTC is 00:30 on 2 December in Beijing.
        let ms = 1_796_142_600_000;
        assert_eq!(shanghai.date_of_ms(ms), date!(2026 - 12 - 02));
        let utc = BusinessZone::parse("UTC").unwrap();
        assert_eq!(utc.date_of_ms(ms), date!(2026 - 12 - 01));
        let err = BusinessZone::parse("Mars/Olympus").unwrap_err();
        assert!(err.contains("IANA"), "{err}");
    }

    #[test]
    fn latest_date_anywhere_is_today_or_tomorrow_in_utc() {
        let utc = OffsetDateTime::now_utc().date();
        let latest = latest_date_anywhere();
        assert!(latest == utc || Some(latest) == utc.next_day());
    }
}
