//! Where a recovery should stop, and the server settings that say so.

use super::lsn::Lsn;
use super::setting::{quote_setting, shown, UnsafeSetting};
use super::timeline::TimelineId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A recovery target as PostgreSQL understands it. `inclusive` follows
/// `recovery_target_inclusive`: true stops just after the target, false just before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecoveryTarget {
    Time {
        at: DateTime<Utc>,
        inclusive: bool,
    },
    Xid {
        xid: u64,
        inclusive: bool,
    },
    Lsn {
        lsn: Lsn,
        inclusive: bool,
    },
    Name {
        name: String,
    },
    /// The end of the base backup (its consistency point).
    Immediate,
    /// The end of the available WAL; the server promotes by itself when it gets there.
    Latest,
}

impl RecoveryTarget {
    /// The `postgresql.conf` lines that select this target, ending with the timeline line:
    /// the planned timeline's number, so the server cannot follow another branch than the
    /// one the target was resolved on ('latest' only for runs planned without one).
    /// `recovery_target_action` is left to the caller, who knows whether to pause. A restore
    /// point name is chosen by whoever called `pg_create_restore_point`: it is escaped, and
    /// refused only when it cannot be written at all.
    pub fn settings_lines(
        &self,
        timeline: Option<TimelineId>,
    ) -> Result<Vec<String>, UnsafeSetting> {
        let mut lines = Vec::new();
        let inclusive = |lines: &mut Vec<String>, inclusive: bool| {
            lines.push(format!("recovery_target_inclusive = {inclusive}"));
        };
        match self {
            RecoveryTarget::Time { at, inclusive: i } => {
                lines.push(format!(
                    "recovery_target_time = '{}'",
                    at.format("%Y-%m-%d %H:%M:%S%.6f+00")
                ));
                inclusive(&mut lines, *i);
            }
            RecoveryTarget::Xid { xid, inclusive: i } => {
                lines.push(format!("recovery_target_xid = '{xid}'"));
                inclusive(&mut lines, *i);
            }
            RecoveryTarget::Lsn { lsn, inclusive: i } => {
                lines.push(format!("recovery_target_lsn = '{lsn}'"));
                inclusive(&mut lines, *i);
            }
            RecoveryTarget::Name { name } => {
                lines.push(format!(
                    "recovery_target_name = {}",
                    quote_setting("restore point name", name)?
                ));
            }
            RecoveryTarget::Immediate => lines.push("recovery_target = 'immediate'".into()),
            RecoveryTarget::Latest => {}
        }
        lines.push(match timeline {
            Some(t) => format!("recovery_target_timeline = '{t}'"),
            None => "recovery_target_timeline = 'latest'".into(),
        });
        Ok(lines)
    }

    /// Whether the server stops at a target and can pause there. With `Latest` it replays
    /// everything and promotes, whatever `recovery_target_action` says.
    pub fn pauses(&self) -> bool {
        !matches!(self, RecoveryTarget::Latest)
    }

    /// The LSN replay must reach, when the target itself names one.
    pub fn lsn(&self) -> Option<Lsn> {
        match self {
            RecoveryTarget::Lsn { lsn, .. } => Some(*lsn),
            _ => None,
        }
    }

    /// The instant no replayed commit may be after, for time targets.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            RecoveryTarget::Time { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// Which timeline a recovery follows, as `--timeline` and `recovery_target_timeline` say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineChoice {
    /// The newest timeline in the repository.
    #[default]
    Latest,
    /// The timeline of the newest base backup (PostgreSQL's 'current': the backup's own).
    Current,
    Number(TimelineId),
}

impl std::str::FromStr for TimelineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "latest" => Ok(TimelineChoice::Latest),
            "current" => Ok(TimelineChoice::Current),
            n => match n.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(TimelineChoice::Number(TimelineId(n))),
                _ => Err(format!(
                    "`{s}` is not a timeline: write a number (1, 2, ...), `current` or `latest`"
                )),
            },
        }
    }
}

impl fmt::Display for RecoveryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |i: bool| if i { "inclusive" } else { "exclusive" };
        match self {
            RecoveryTarget::Time { at, inclusive } => {
                write!(
                    f,
                    "time {} UTC ({})",
                    at.format("%Y-%m-%d %H:%M:%S%.6f"),
                    word(*inclusive)
                )
            }
            RecoveryTarget::Xid { xid, inclusive } => write!(f, "xid {xid} ({})", word(*inclusive)),
            RecoveryTarget::Lsn { lsn, inclusive } => write!(f, "lsn {lsn} ({})", word(*inclusive)),
            RecoveryTarget::Name { name } => write!(f, "restore point \"{}\"", shown(name)),
            RecoveryTarget::Immediate => f.write_str("immediate (end of the base backup)"),
            RecoveryTarget::Latest => f.write_str("latest (end of the archive)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_target_lines() {
        let at = Utc.with_ymd_and_hms(2024, 1, 15, 14, 30, 0).unwrap();
        let t = RecoveryTarget::Time {
            at,
            inclusive: false,
        };
        assert_eq!(
            t.settings_lines(Some(TimelineId(1))).unwrap(),
            [
                "recovery_target_time = '2024-01-15 14:30:00.000000+00'",
                "recovery_target_inclusive = false",
                "recovery_target_timeline = '1'",
            ]
        );
    }

    #[test]
    fn other_targets() {
        let lsn = RecoveryTarget::Lsn {
            lsn: Lsn(0x1_0000_0028),
            inclusive: true,
        };
        assert_eq!(
            lsn.settings_lines(None).unwrap()[0],
            "recovery_target_lsn = '1/28'"
        );
        let name = RecoveryTarget::Name {
            name: "it's".into(),
        };
        assert_eq!(
            name.settings_lines(None).unwrap()[0],
            "recovery_target_name = 'it''s'"
        );
        assert_eq!(
            RecoveryTarget::Immediate.settings_lines(None).unwrap()[0],
            "recovery_target = 'immediate'"
        );
        assert_eq!(
            RecoveryTarget::Latest.settings_lines(None).unwrap(),
            ["recovery_target_timeline = 'latest'"]
        );
        assert_eq!(
            "2".parse::<TimelineChoice>(),
            Ok(TimelineChoice::Number(TimelineId(2)))
        );
        assert!("0".parse::<TimelineChoice>().is_err());
        assert_eq!(
            RecoveryTarget::Latest
                .settings_lines(Some(TimelineId(3)))
                .unwrap(),
            ["recovery_target_timeline = '3'"]
        );
        assert!(!RecoveryTarget::Latest.pauses());
        let xid = RecoveryTarget::Xid {
            xid: 42,
            inclusive: true,
        };
        assert_eq!(
            xid.settings_lines(None).unwrap()[0],
            "recovery_target_xid = '42'"
        );
    }
}
