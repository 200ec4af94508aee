//! Time zones for display and input: IANA names or fixed offsets.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub const UTC: Zone = Zone::Named(Tz::UTC);

    /// Renders an instant in this zone with its offset, microseconds only when present:
    /// `2024-03-31 02:30:00+02:00`.
    pub fn format(&self, at: DateTime<Utc>) -> String {
        let fmt = if at.timestamp_subsec_micros() == 0 {
            "%Y-%m-%d %H:%M:%S%:z"
        } else {
            "%Y-%m-%d %H:%M:%S%.6f%:z"
        };
        match self {
            Zone::Named(tz) => at.with_timezone(tz).format(fmt).to_string(),
            Zone::Fixed(off) => at.with_timezone(off).format(fmt).to_string(),
        }
    }

    /// Short wall-clock form for narrow places: `02:30:00`.
    pub fn clock(&self, at: DateTime<Utc>) -> String {
        match self {
            Zone::Named(tz) => at.with_timezone(tz).format("%H:%M:%S").to_string(),
            Zone::Fixed(off) => at.with_timezone(off).format("%H:%M:%S").to_string(),
        }
    }

    /// The candidates for a wall-clock time in this zone, as offsets from UTC.
    pub(crate) fn resolve(&self, local: &NaiveDateTime) -> LocalResult<DateTime<FixedOffset>> {
        match self {
            Zone::Named(tz) => tz
                .from_local_datetime(local)
                .map(|d| d.with_timezone(&d.offset().fix())),
            Zone::Fixed(off) => off.from_local_datetime(local),
        }
    }

    /// Offset in force at an instant.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Named(tz) => at.with_timezone(tz).offset().fix(),
            Zone::Fixed(off) => *off,
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Fixed(off) => write!(f, "{off}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time zone: use an IANA name like Europe/Berlin or UTC, or an offset like +02:00")]
pub struct ZoneParseError(pub String);

impl FromStr for Zone {
    type Err = ZoneParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(Zone::UTC);
        }
        if let Some(off) = parse_offset(s) {
            return Ok(Zone::Fixed(off));
        }
        s.parse::<Tz>()
            .map(Zone::Named)
            .map_err(|_| ZoneParseError(s.to_string()))
    }
}

/// `+02:00`, `-0530`, `+02`.
pub(crate) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let (h, m) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 15 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zones() {
        assert_eq!("UTC".parse::<Zone>().unwrap(), Zone::UTC);
        assert!(matches!(
            "Europe/Berlin".parse::<Zone>().unwrap(),
            Zone::Named(_)
        ));
        assert_eq!(
            "+05:30".parse::<Zone>().unwrap(),
            Zone::Fixed(FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
        );
        assert!("Mars/Olympus".parse::<Zone>().is_err());
        assert!("+25:00".parse::<Zone>().is_err());
    }

    #[test]
    fn formats_with_offset() {
        let at = DateTime::parse_from_rfc3339("2024-07-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(berlin.format(at), "2024-07-01 12:00:00+02:00");
        assert_eq!(Zone::UTC.clock(at), "10:00:00");
    }
}
