//! Parsing the instants operators type: `YYYY-MM-DD HH:MM:SS[.ffffff][ ZONE|±HH:MM]`.
//!
//! A wall-clock time that a zone skips (spring forward) or repeats (fall back) is refused
//! with the valid alternatives; guessing would restore to the wrong hour.

use super::zone::{parse_offset, Zone};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeInputError {
    #[error("`{input}` is not a time: {problem}. Expected YYYY-MM-DD HH:MM:SS[.ffffff] with an optional zone (Europe/Berlin, UTC) or offset (+02:00), e.g. 2024-03-31 14:05:00 Europe/Berlin")]
    Format { input: String, problem: String },
    #[error("{local} does not exist in {zone}: the clocks jump from {before_gap} to {after_gap} there. Valid nearby: {before_gap} or {after_gap}")]
    Nonexistent {
        local: String,
        zone: String,
        before_gap: String,
        after_gap: String,
    },
    #[error("{local} happens twice in {zone} (clocks go back): say which with an offset, {first} or {second}")]
    Ambiguous {
        local: String,
        zone: String,
        first: String,
        second: String,
    },
}

const FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

/// Parses an instant; `default_zone` applies when the input names none.
pub fn parse_instant(input: &str, default_zone: Zone) -> Result<DateTime<Utc>, TimeInputError> {
    let trimmed = input.trim();
    let format_err = |problem: &str| TimeInputError::Format {
        input: trimmed.to_string(),
        problem: problem.to_string(),
    };
    if trimmed.is_empty() {
        return Err(format_err("it is empty"));
    }
    let (clock, zone) = split_zone(trimmed).map_err(|p| format_err(&p))?;
    let zone = zone.unwrap_or(default_zone);
    let local = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(clock, f).ok())
        .ok_or_else(|| format_err(&explain_clock(clock)))?;
    match zone.resolve(&local) {
        LocalResult::Single(d) => Ok(d.to_utc()),
        LocalResult::Ambiguous(a, b) => Err(TimeInputError::Ambiguous {
            local: local.format("%Y-%m-%d %H:%M:%S").to_string(),
            zone: zone.to_string(),
            first: a.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
            second: b.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
        }),
        LocalResult::None => {
            let (before, after) = gap_edges(&zone, local);
            Err(TimeInputError::Nonexistent {
                local: local.format("%Y-%m-%d %H:%M:%S").to_string(),
                zone: zone.to_string(),
                before_gap: zone.format(before),
                after_gap: zone.format(after),
            })
        }
    }
}

/// Splits a trailing zone off the clock part: a separate word (`UTC`, `Europe/Berlin`,
/// `+02:00`) or glued to the time (`Z`, `+02:00`).
fn split_zone(s: &str) -> Result<(&str, Option<Zone>), String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let date_time_words = if words.first().is_some_and(|w| w.contains('T')) {
        1
    } else {
        2
    };
    if words.len() > date_time_words {
        if words.len() > date_time_words + 1 {
            return Err("too many words: give a date, a time and at most one zone".into());
        }
        let zone_at = s.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let zone = s[zone_at..].parse::<Zone>().map_err(|e| e.to_string())?;
        return Ok((s[..zone_at].trim_end(), Some(zone)));
    }
    if let Some(clock) = s.strip_suffix('Z') {
        return Ok((clock, Some(Zone::UTC)));
    }
    // The date's own dashes sit in its first ten characters; a sign after them is an offset.
    if let Some(pos) = s.rfind(['+', '-']).filter(|&p| p > 10) {
        let off = parse_offset(&s[pos..])
            .ok_or_else(|| format!("`{}` is not an offset like +02:00", &s[pos..]))?;
        return Ok((&s[..pos], Some(Zone::Fixed(off))));
    }
    Ok((s, None))
}

fn explain_clock(clock: &str) -> String {
    let date = clock.split([' ', 'T']).next().unwrap_or("");
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        format!("`{date}` is not a calendar date (YYYY-MM-DD)")
    } else {
        "the time of day must be HH:MM or HH:MM:SS with optional .ffffff, each field in range"
            .to_string()
    }
}

/// The last instant before and the first after the skipped wall-clock interval that holds
/// `local`.
fn gap_edges(zone: &Zone, local: NaiveDateTime) -> (DateTime<Utc>, DateTime<Utc>) {
    // Gaps are at most a few hours; walk minute by minute to the valid times around it.
    let mut before = local;
    let mut after = local;
    for _ in 0..(24 * 60) {
        if !matches!(zone.resolve(&before), LocalResult::None) {
            break;
        }
        before -= Duration::minutes(1);
    }
    for _ in 0..(24 * 60) {
        if !matches!(zone.resolve(&after), LocalResult::None) {
            break;
        }
        after += Duration::minutes(1);
    }
    let before = first_valid(zone, before);
    let after = first_valid(zone, after);
    // `before` is the last valid minute; move to its last second.
    (before + Duration::seconds(59), after)
}

fn first_valid(zone: &Zone, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.resolve(&local) {
        LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d.to_utc(),
        LocalResult::None => local.and_utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        "Europe/Berlin".parse().unwrap()
    }

    #[test]
    fn default_zone_and_explicit_ones() {
        let t = parse_instant("2024-07-01 12:00:00", berlin()).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T10:00:00+00:00");
        let t = parse_instant("2024-07-01 12:00:00 UTC", berlin()).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T12:00:00+00:00");
        let t = parse_instant("2024-07-01 12:00:00 America/New_York", Zone::UTC).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T16:00:00+00:00");
        let t = parse_instant("2024-07-01 12:00:00.123456 +05:30", Zone::UTC).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T06:30:00.123456+00:00");
        let t = parse_instant("2024-07-01T12:00:00+02:00", Zone::UTC).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T10:00:00+00:00");
        let t = parse_instant("2024-07-01 12:00:00Z", berlin()).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T12:00:00+00:00");
    }

    #[test]
    fn spring_forward_time_is_refused_with_the_edges() {
        let err = parse_instant("2024-03-31 02:30:00", berlin()).unwrap_err();
        match &err {
            TimeInputError::Nonexistent {
                before_gap,
                after_gap,
                ..
            } => {
                assert_eq!(before_gap, "2024-03-31 01:59:59+01:00");
                assert_eq!(after_gap, "2024-03-31 03:00:00+02:00");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("does not exist in Europe/Berlin"));
    }

    #[test]
    fn fall_back_time_is_refused_with_both_offsets() {
        let err = parse_instant("2024-10-27 02:30:00", berlin()).unwrap_err();
        assert_eq!(
            err,
            TimeInputError::Ambiguous {
                local: "2024-10-27 02:30:00".into(),
                zone: "Europe/Berlin".into(),
                first: "2024-10-27 02:30:00+02:00".into(),
                second: "2024-10-27 02:30:00+01:00".into(),
            }
        );
        // Either offset, given explicitly, is accepted.
        let t = parse_instant("2024-10-27 02:30:00+01:00", berlin()).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-10-27T01:30:00+00:00");
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01 00:00:00",
            "2024-01-01 25:00:00",
            "2024-01-01 10:00:00 Mars/Base",
        ] {
            let err = parse_instant(bad, Zone::UTC).unwrap_err();
            assert!(
                matches!(err, TimeInputError::Format { .. }),
                "{bad}: {err:?}"
            );
        }
        let err = parse_instant("2024-13-01 00:00:00", Zone::UTC).unwrap_err();
        assert!(err.to_string().contains("not a calendar date"), "{err}");
    }
}
