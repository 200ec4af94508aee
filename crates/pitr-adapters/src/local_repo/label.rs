//! The `key: value` files the server writes for a base backup: `backup_label` inside the
//! backup and the backup history file (`<segment>.<offset>.backup`) in the WAL archive.

use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// What either file says that the catalog uses; the history file adds the stop fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelFile {
    pub start_lsn: Option<Lsn>,
    /// The segment file named next to START WAL LOCATION (its timeline is the start's).
    pub start_file: Option<String>,
    pub checkpoint_lsn: Option<Lsn>,
    pub start_time: Option<String>,
    pub label: Option<String>,
    pub start_timeline: Option<TimelineId>,
    pub stop_lsn: Option<Lsn>,
    pub stop_time: Option<String>,
    /// `INCREMENTAL FROM LSN` / `INCREMENTAL FROM TLI` (17+): an incremental backup's parent.
    pub incremental_from_lsn: Option<Lsn>,
    pub incremental_from_tli: Option<TimelineId>,
}

impl LabelFile {
    pub fn parse(text: &str) -> LabelFile {
        let mut f = LabelFile::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "START WAL LOCATION" => {
                    f.start_lsn = first_word(value).parse().ok();
                    f.start_file = file_in_parens(value);
                }
                "STOP WAL LOCATION" => f.stop_lsn = first_word(value).parse().ok(),
                "CHECKPOINT LOCATION" => f.checkpoint_lsn = value.parse().ok(),
                "START TIME" => f.start_time = Some(value.to_string()),
                "STOP TIME" => f.stop_time = Some(value.to_string()),
                "LABEL" => f.label = Some(value.to_string()),
                "START TIMELINE" => f.start_timeline = value.parse().ok().map(TimelineId),
                "INCREMENTAL FROM LSN" => f.incremental_from_lsn = value.parse().ok(),
                "INCREMENTAL FROM TLI" => {
                    f.incremental_from_tli = value.parse().ok().map(TimelineId)
                }
                _ => {}
            }
        }
        f
    }

    /// START TIMELINE (PostgreSQL 11+), else the timeline part of the start segment's name.
    pub fn timeline(&self) -> Option<TimelineId> {
        self.start_timeline.or_else(|| {
            let name = self.start_file.as_deref()?;
            u32::from_str_radix(name.get(0..8)?, 16)
                .ok()
                .map(TimelineId)
        })
    }
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or_default()
}

fn file_in_parens(s: &str) -> Option<String> {
    let inner = s.split_once("(file ")?.1;
    Some(inner.trim_end_matches(')').trim().to_string())
}

/// Zone abbreviations the server prints (log_timezone) that mean one offset only. The
/// ambiguous ones (CST, IST, BST...) are left out on purpose: a wrong guess would shift a
/// backup by hours, so those fall back to the file's time with a warning.
const ABBREVIATIONS: [(&str, i32); 28] = [
    ("UTC", 0),
    ("GMT", 0),
    ("Z", 0),
    ("WET", 0),
    ("WEST", 3600),
    ("CET", 3600),
    ("CEST", 7200),
    ("MET", 3600),
    ("MEST", 7200),
    ("EET", 7200),
    ("EEST", 10800),
    ("MSK", 10800),
    ("EST", -5 * 3600),
    ("EDT", -4 * 3600),
    ("CDT", -5 * 3600),
    ("MST", -7 * 3600),
    ("MDT", -6 * 3600),
    ("PST", -8 * 3600),
    ("PDT", -7 * 3600),
    ("AKST", -9 * 3600),
    ("AKDT", -8 * 3600),
    ("HST", -10 * 3600),
    ("JST", 9 * 3600),
    ("KST", 9 * 3600),
    ("AEST", 10 * 3600),
    ("AEDT", 11 * 3600),
    ("NZST", 12 * 3600),
    ("NZDT", 13 * 3600),
];

/// Parses `2024-03-01 12:00:00 UTC` (the server's `%Y-%m-%d %H:%M:%S %Z` in log_timezone):
/// an unambiguous abbreviation or a numeric offset (`+03`, `-0330`, `+05:30`).
pub fn parse_server_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let (local, zone) = s.rsplit_once(' ')?;
    let naive = NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let offset = ABBREVIATIONS
        .iter()
        .find(|(a, _)| *a == zone)
        .map(|(_, secs)| *secs)
        .or_else(|| numeric_offset(zone))?;
    let tz = FixedOffset::east_opt(offset)?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn numeric_offset(zone: &str) -> Option<i32> {
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[0..2].parse::<i32>().ok()?,
            digits[2..4].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HISTORY: &str = "START WAL LOCATION: 0/9000028 (file 000000020000000000000009)
STOP WAL LOCATION: 0/9000138 (file 000000020000000000000009)
CHECKPOINT LOCATION: 0/9000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-21 05:53:40 UTC
LABEL: nightly: full
START TIMELINE: 2
STOP TIME: 2026-11-21 05:53:41 CET
STOP TIMELINE: 2
";

    #[test]
    fn reads_every_field() {
        let f = LabelFile::parse(HISTORY);
        assert_eq!(f.start_lsn, Some("0/9000028".parse().unwrap()));
        assert_eq!(f.start_file.as_deref(), Some("000000020000000000000009"));
        assert_eq!(f.stop_lsn, Some("0/9000138".parse().unwrap()));
        assert_eq!(f.checkpoint_lsn, Some("0/9000060".parse().unwrap()));
        assert_eq!(f.label.as_deref(), Some("nightly: full"));
        assert_eq!(f.timeline(), Some(TimelineId(2)));
        let stop = parse_server_time(f.stop_time.as_deref().unwrap()).unwrap();
        assert_eq!(stop.to_rfc3339(), "2026-11-21T04:53:41+00:00");
    }

    #[test]
    fn timeline_from_the_file_name_when_the_line_is_missing() {
        let f = LabelFile::parse("START WAL LOCATION: 0/9000028 (file 000000030000000000000009)\n");
        assert_eq!(f.timeline(), Some(TimelineId(3)));
    }

    #[test]
    fn zones() {
        let t = |s| parse_server_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2024-01-01 12:00:00 +0530").as_deref(),
            Some("2024-01-01T06:30:00+00:00")
        );
        assert_eq!(
            t("2024-01-01 12:00:00 -03").as_deref(),
            Some("2024-01-01T15:00:00+00:00")
        );
        assert_eq!(
            t("2024-07-01 12:00:00 PDT").as_deref(),
            Some("2024-07-01T19:00:00+00:00")
        );
        assert_eq!(t("2024-01-01 12:00:00 IST"), None);
        assert_eq!(t("garbage"), None);
    }
}
