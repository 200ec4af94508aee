//! Whether a server could be recovered right now, judged from facts gathered elsewhere
//! (`pitr-console check`): the archiver, the newest backup's age, WAL continuity from each
//! backup, the restore command as the server user runs it, and room for a restore. Levels
//! follow the monitoring convention (0 ok, 1 warning, 2 critical) so the exit code can feed
//! Nagios-style checks.

use super::catalog::Catalog;
use super::coverage::{Coverage, WindowEnd};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    /// The exit code of `check` for the worst finding.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    Archiver,
    NewestBackup,
    WalContinuity,
    RestoreCommand,
    FreeSpace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub probe: Probe,
    pub level: Level,
    pub text: String,
}

impl Finding {
    fn new(probe: Probe, level: Level, text: String) -> Finding {
        Finding { probe, level, text }
    }
}

/// The `[health]` table of the configuration; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// WAL waiting to be archived for this long is a warning ...
    pub archive_warn_secs: u64,
    /// ... and this long critical.
    pub archive_crit_secs: u64,
    pub backup_warn_hours: u64,
    pub backup_crit_hours: u64,
}

impl Default for Thresholds {
    /// A daily backup with an hour's slack; WAL archived within minutes.
    fn default() -> Thresholds {
        Thresholds {
            archive_warn_secs: 600,
            archive_crit_secs: 3600,
            backup_warn_hours: 26,
            backup_crit_hours: 50,
        }
    }
}

/// `pg_stat_archiver` and the server's position, as read from the running server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchiverFacts {
    pub archive_mode: String,
    pub in_recovery: bool,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<DateTime<Utc>>,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<DateTime<Utc>>,
    pub failed_count: u64,
    /// The segment the server writes now (`pg_walfile_name(pg_current_wal_lsn())`).
    pub current_wal: Option<String>,
}

/// The segment number within its timeline of a WAL file name (`TTTTTTTTXXXXXXXXYYYYYYYY`),
/// counted in units of the segment size given as segments per 4 GiB "xlogid".
fn segment_index(name: &str, per_xlogid: u64) -> Option<(u32, u64)> {
    if name.len() < 24 || !name[..24].bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
    let hi = u64::from_str_radix(&name[8..16], 16).ok()?;
    let lo = u64::from_str_radix(&name[16..24], 16).ok()?;
    Some((tli, hi * per_xlogid + lo))
}

/// The archiver's health: failing since its last success is critical; WAL waiting beyond
/// the thresholds is a warning or critical. An idle server that has archived everything
/// it wrote is fine however old its last archived segment is.
pub fn archiver(
    facts: &ArchiverFacts,
    now: DateTime<Utc>,
    segment_bytes: u64,
    t: &Thresholds,
) -> Finding {
    let f = |level, text| Finding::new(Probe::Archiver, level, text);
    if facts.in_recovery {
        return f(
            Level::Ok,
            "the server is in recovery (a standby): its primary archives".into(),
        );
    }
    if facts.archive_mode == "off" {
        return f(
            Level::Critical,
            "archive_mode is off: no WAL reaches the repository, so nothing after the newest backup can be recovered; set archive_mode = on and archive_command (restart needed)".into(),
        );
    }
    if let (Some(failed), Some(wal)) = (facts.last_failed_time, &facts.last_failed_wal) {
        if facts.last_archived_time.is_none_or(|ok| failed > ok) {
            return f(
                Level::Critical,
                format!(
                    "archive_command is failing: {wal} failed at {} ({} failures in all) and nothing was archived since; the server's log says why",
                    failed.format("%Y-%m-%d %H:%M:%S UTC"),
                    facts.failed_count
                ),
            );
        }
    }
    let per_xlogid = (1u64 << 32) / segment_bytes.max(1);
    let pending = match (&facts.last_archived_wal, &facts.current_wal) {
        (Some(last), Some(current)) => {
            match (
                segment_index(last, per_xlogid),
                segment_index(current, per_xlogid),
            ) {
                (Some((lt, ln)), Some((ct, cn))) if lt == ct => Some(cn.saturating_sub(ln + 1)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(last_time) = facts.last_archived_time else {
        return f(
            Level::Warning,
            "the archiver has archived nothing since the server started (or its statistics were reset): nothing proves archiving works; `select pg_switch_wal()` and check again".into(),
        );
    };
    let age = (now - last_time).num_seconds().max(0) as u64;
    let last = facts.last_archived_wal.as_deref().unwrap_or("?");
    if pending == Some(0) {
        return f(
            Level::Ok,
            format!("every finished segment is archived (last {last}, {age} s ago)"),
        );
    }
    let waiting = pending.map_or_else(
        || "WAL may be waiting".to_string(),
        |n| format!("{n} finished segment(s) wait"),
    );
    let level = if age >= t.archive_crit_secs {
        Level::Critical
    } else if age >= t.archive_warn_secs {
        Level::Warning
    } else {
        Level::Ok
    };
    f(
        level,
        format!(
            "last archived {last} {age} s ago; {waiting} (warning from {} s, critical from {} s)",
            t.archive_warn_secs, t.archive_crit_secs
        ),
    )
}

/// The newest backup's age.
pub fn newest_backup(catalog: &Catalog, now: DateTime<Utc>, t: &Thresholds) -> Finding {
    let f = |level, text| Finding::new(Probe::NewestBackup, level, text);
    let Some(b) = catalog.backups.iter().max_by_key(|b| b.stop_time) else {
        return f(
            Level::Critical,
            format!(
                "repository `{}` holds no base backup: nothing can be restored",
                catalog.repository
            ),
        );
    };
    let hours = (now - b.stop_time).num_minutes().max(0) as f64 / 60.0;
    let level = if hours >= t.backup_crit_hours as f64 {
        Level::Critical
    } else if hours >= t.backup_warn_hours as f64 {
        Level::Warning
    } else {
        Level::Ok
    };
    f(
        level,
        format!(
            "newest backup {} finished {hours:.1} h ago (warning from {} h, critical from {} h)",
            b.id, t.backup_warn_hours, t.backup_crit_hours
        ),
    )
}

/// From each backup, whether its WAL runs unbroken to the archive's end: a hole after the
/// newest backup is critical (nothing past it can be recovered), after older ones a warning.
pub fn wal_continuity(catalog: &Catalog, coverage: &Coverage) -> Vec<Finding> {
    let f = |level, text| Finding::new(Probe::WalContinuity, level, text);
    let newest = catalog.backups.iter().max_by_key(|b| b.stop_lsn);
    let mut out = Vec::new();
    for b in &catalog.backups {
        let reaching = coverage
            .windows
            .iter()
            .filter(|w| w.backup_id == b.id)
            .max_by_key(|w| (w.timeline, w.end_lsn));
        let is_newest = newest.is_some_and(|n| n.id == b.id);
        let bad = if is_newest {
            Level::Critical
        } else {
            Level::Warning
        };
        match reaching {
            None => out.push(f(
                bad,
                format!(
                    "backup {}: the WAL it needs to become consistent is not all in the archive; it cannot be restored",
                    b.id
                ),
            )),
            Some(w) => match &w.ends_because {
                WindowEnd::EndOfArchive { last_segment } => out.push(f(
                    Level::Ok,
                    format!(
                        "backup {}: WAL unbroken to the archive's end ({last_segment}, timeline {})",
                        b.id, w.timeline
                    ),
                )),
                WindowEnd::Gap { missing_segment } => out.push(f(
                    bad,
                    format!(
                        "backup {}: WAL segment {missing_segment} is missing, so recovery from it stops there{}",
                        b.id,
                        if is_newest {
                            "; every later instant is lost unless the segment is found (take a new base backup now)"
                        } else {
                            ""
                        }
                    ),
                )),
            },
        }
    }
    out
}

/// Room for restoring the newest backup beside (or over) the data directory.
pub fn free_space(available: u64, needed: Option<u64>, place: &str) -> Finding {
    let f = |level, text| Finding::new(Probe::FreeSpace, level, text);
    let mib = |b: u64| b >> 20;
    match needed {
        None => f(
            Level::Ok,
            format!(
                "{} MiB free in {place}; the newest backup's size is not known",
                mib(available)
            ),
        ),
        Some(n) if available < n => f(
            Level::Critical,
            format!(
                "{} MiB free in {place}, the newest backup needs {} MiB: a side restore there cannot finish",
                mib(available),
                mib(n)
            ),
        ),
        Some(n) => f(
            Level::Ok,
            format!(
                "{} MiB free in {place}; the newest backup needs {} MiB",
                mib(available),
                mib(n)
            ),
        ),
    }
}

/// The worst level of some findings (ok when there are none).
pub fn worst<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Level {
    findings
        .into_iter()
        .map(|f| f.level)
        .max()
        .unwrap_or(Level::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SEG: u64 = 16 << 20;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn facts() -> ArchiverFacts {
        ArchiverFacts {
            archive_mode: "on".into(),
            last_archived_wal: Some("000000010000000000000010".into()),
            last_archived_time: Some(at(0)),
            current_wal: Some("000000010000000000000011".into()),
            ..ArchiverFacts::default()
        }
    }

    #[test]
    fn an_idle_server_that_archived_everything_is_fine_however_long_ago() {
        let f = archiver(&facts(), at(86_400), SEG, &Thresholds::default());
        assert_eq!(f.level, Level::Ok, "{}", f.text);
    }

    #[test]
    fn waiting_segments_age_into_warning_then_critical() {
        let mut x = facts();
        x.current_wal = Some("000000010000000000000014".into());
        let t = Thresholds::default();
        assert_eq!(archiver(&x, at(60), SEG, &t).level, Level::Ok);
        assert_eq!(archiver(&x, at(700), SEG, &t).level, Level::Warning);
        let crit = archiver(&x, at(4000), SEG, &t);
        assert_eq!(crit.level, Level::Critical);
        assert!(
            crit.text.contains("3 finished segment(s) wait"),
            "{}",
            crit.text
        );
    }

    #[test]
    fn a_failure_after_the_last_success_is_critical_at_once() {
        let mut x = facts();
        x.last_failed_wal = Some("000000010000000000000011".into());
        x.last_failed_time = Some(at(5));
        x.failed_count = 3;
        let f = archiver(&x, at(6), SEG, &Thresholds::default());
        assert_eq!(f.level, Level::Critical);
        assert!(f.text.contains("archive_command is failing"), "{}", f.text);
    }

    #[test]
    fn archive_mode_off_is_critical() {
        let mut x = facts();
        x.archive_mode = "off".into();
        assert_eq!(
            archiver(&x, at(0), SEG, &Thresholds::default()).level,
            Level::Critical
        );
    }

    #[test]
    fn segment_numbers_cross_the_xlogid_boundary() {
        let per = (1u64 << 32) / SEG;
        assert_eq!(
            segment_index("0000000100000001000000FF", per),
            Some((1, 256 + 255))
        );
        assert_eq!(segment_index("00000001000000000000", per), None);
        assert_eq!(segment_index("0000000Z0000000000000001", per), None);
    }

    #[test]
    fn space_shorter_than_the_backup_is_critical() {
        assert_eq!(
            free_space(10 << 20, Some(20 << 20), "/x").level,
            Level::Critical
        );
        assert_eq!(free_space(30 << 20, Some(20 << 20), "/x").level, Level::Ok);
        assert_eq!(worst(&[]), Level::Ok);
    }
}
