//! Dates and times as the domain speaks them: ISO calendar dates
//! (`YYYY-MM-DD`) and UTC milliseconds, and the two clocks every rule reads.

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

/// The latest calendar date anywhere on Earth (UTC+14). Pass it as `today`
/// so a record dated "today" in the institution's time zone is never "in
/// the future" for a node that runs on UTC.
pub fn latest_date_anywhere() -> Date {
    (OffsetDateTime::now_utc() + Duration::hours(14)).date()
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
    fn latest_date_anywhere_is_today_or_tomorrow_in_utc() {
        let utc = OffsetDateTime::now_utc().date();
        let latest = latest_date_anywhere();
        assert!(latest == utc || Some(latest) == utc.next_day());
    }
}
