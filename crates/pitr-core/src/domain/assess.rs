//! Whether an instant or a position can be recovered to, from which backup, with which WAL,
//! and if not, why not and what nearby would work.

use super::catalog::Catalog;
use super::coverage::{Coverage, RecoverableWindow, WindowEnd};
use super::lsn::Lsn;
use super::segment::WalSegment;
use super::timeline::TimelineId;
use super::times::{Stamp, TimeSource};
use super::zone::Zone;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recoverable {
    pub timeline: TimelineId,
    pub backup_id: String,
    /// Where replay would stop (estimated when times are).
    pub lsn: Option<Lsn>,
    pub first_segment: String,
    pub last_segment: String,
    pub segments: u64,
    /// The window the instant lies in.
    pub window_start: Option<Stamp>,
    pub window_end: Option<Stamp>,
    /// True when the answer rests on estimated times near a window's edge.
    pub estimated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No backup has the WAL it needs to become consistent.
    NoRecoverableWindow,
    /// Earlier than every backup's consistency point.
    BeforeEarliest {
        earliest: Option<Stamp>,
        backup_id: String,
    },
    /// While a backup was being taken, and no earlier backup reaches it.
    BeforeBackupEnd {
        backup_id: String,
        consistent_at: Option<Stamp>,
    },
    /// Past the newest archived WAL.
    AfterArchiveEnd {
        last: Option<Stamp>,
        last_segment: String,
    },
    /// WAL between the usable backup and the instant is missing.
    InGap {
        missing_segment: String,
        backup_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Recoverable(Recoverable),
    NotRecoverable {
        reason: Reason,
        nearest_before: Option<Stamp>,
        nearest_after: Option<Stamp>,
    },
}

impl Verdict {
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Verdict::Recoverable(_))
    }
}

impl Reason {
    /// One sentence for operators, times in `zone`.
    pub fn explain(&self, zone: &Zone) -> String {
        let when = |s: &Option<Stamp>| s.map_or("an unknown time".to_string(), |s| show(zone, s));
        match self {
            Reason::NoRecoverableWindow => {
                "no base backup has the WAL it needs to become consistent".to_string()
            }
            Reason::BeforeEarliest { earliest, backup_id } => format!(
                "before the earliest consistency point: backup {backup_id} is consistent from {}",
                when(earliest)
            ),
            Reason::BeforeBackupEnd {
                backup_id,
                consistent_at,
            } => format!(
                "backup {backup_id} was still running: it is consistent only from {}",
                when(consistent_at)
            ),
            Reason::AfterArchiveEnd { last, last_segment } => format!(
                "after the end of archived WAL ({last_segment}, {})",
                when(last)
            ),
            Reason::InGap {
                missing_segment,
                backup_id,
            } => format!(
                "WAL segment {missing_segment} is missing between backup {backup_id} and this instant"
            ),
        }
    }
}

/// `2024-01-01 12:00:00+01:00`, with `~` in front of an estimate.
pub fn show(zone: &Zone, s: Stamp) -> String {
    let t = zone.format(s.at);
    if s.estimated {
        format!("~{t}")
    } else {
        t
    }
}

/// Answers recoverability questions about one repository.
pub struct Recoverability<'a> {
    pub catalog: &'a Catalog,
    pub coverage: &'a Coverage,
    pub times: &'a dyn TimeSource,
}

impl<'a> Recoverability<'a> {
    /// The windows usable for recovery onto `timeline`: its own, and its ancestors' up to the
    /// point where the path leaves them.
    pub fn path_windows(&self, timeline: TimelineId) -> Vec<RecoverableWindow> {
        // The path as the history file reads it (switch points clamped), so a fork taken
        // before an earlier fork cuts the older timeline's windows at the earlier point.
        let path = self.catalog.path(timeline);
        let mut out = Vec::new();
        for part in path.0.iter().rev().filter(|p| p.begin < p.end) {
            for w in self
                .coverage
                .windows
                .iter()
                .filter(|w| w.timeline == part.timeline && w.start_lsn < part.end)
            {
                let mut w = w.clone();
                if w.end_lsn > part.end {
                    w.end_lsn = part.end;
                    w.end = self.times.time_at(part.timeline, part.end);
                }
                out.push(w);
            }
        }
        // Replay crosses a switch point without stopping: a time between the parent's last
        // transaction end and the child's first one stops before that first one. A window
        // that begins at a switch point therefore begins where its backup's window on the
        // parent ends (issue 9: such times were refused though PostgreSQL reaches them).
        let parent_ends: Vec<(String, Lsn, Option<Stamp>)> = out
            .iter()
            .map(|w| (w.backup_id.clone(), w.end_lsn, w.end))
            .collect();
        for w in out.iter_mut() {
            let at_switch = path.0.iter().skip(1).any(|p| p.begin == w.start_lsn);
            if !at_switch {
                continue;
            }
            let parent_end = parent_ends
                .iter()
                .filter(|(id, end, _)| *id == w.backup_id && *end == w.start_lsn)
                .find_map(|(_, _, e)| *e);
            if let (Some(e), Some(s)) = (parent_end, w.start) {
                if e.at < s.at {
                    w.start = Some(Stamp {
                        at: e.at,
                        estimated: e.estimated || s.estimated,
                    });
                }
            }
        }
        out
    }

    /// The newest timeline: where a recovery lands unless told otherwise.
    pub fn latest_timeline(&self) -> Option<TimelineId> {
        self.coverage.timelines.iter().map(|t| t.timeline).max()
    }

    pub fn at_time(&self, timeline: TimelineId, at: DateTime<Utc>) -> Verdict {
        // A window without a transaction end after its consistency point has no instant
        // a time target reaches: replay would never stop.
        let windows: Vec<RecoverableWindow> = self
            .path_windows(timeline)
            .into_iter()
            .filter(|w| match (w.start, w.end) {
                (Some(s), Some(e)) => s.at <= e.at,
                _ => true,
            })
            .collect();
        let contains = |w: &RecoverableWindow| {
            w.start.is_some_and(|s| s.at <= at) && w.end.is_some_and(|e| at <= e.at)
        };
        let best = windows
            .iter()
            .filter(|w| contains(w))
            .max_by_key(|w| (w.start_lsn, w.timeline));
        if let Some(w) = best {
            let lsn = self
                .times
                .lsn_at(w.timeline, at)
                .map(|l| l.clamp(w.start_lsn, w.end_lsn));
            let estimated =
                w.start.is_some_and(|s| s.estimated) || w.end.is_some_and(|e| e.estimated);
            return Verdict::Recoverable(self.recoverable(w, lsn, estimated));
        }
        let before = windows
            .iter()
            .filter_map(|w| w.end)
            .filter(|e| e.at < at)
            .max();
        let after = windows
            .iter()
            .filter_map(|w| w.start)
            .filter(|s| s.at > at)
            .min();
        let reason = self.reason(
            &windows,
            |w| w.end.is_some_and(|e| e.at < at),
            |b| b.start_time <= at && at < b.stop_time,
        );
        Verdict::NotRecoverable {
            reason,
            nearest_before: before,
            nearest_after: after,
        }
    }

    pub fn at_lsn(&self, timeline: TimelineId, lsn: Lsn) -> Verdict {
        let windows = self.path_windows(timeline);
        if let Some(w) = windows
            .iter()
            .filter(|w| w.contains_lsn(lsn))
            .max_by_key(|w| (w.start_lsn, w.timeline))
        {
            return Verdict::Recoverable(self.recoverable(w, Some(lsn), false));
        }
        let before = windows
            .iter()
            .filter(|w| w.end_lsn < lsn)
            .max_by_key(|w| w.end_lsn)
            .and_then(|w| w.end);
        let after = windows
            .iter()
            .filter(|w| w.start_lsn > lsn)
            .min_by_key(|w| w.start_lsn)
            .and_then(|w| w.start);
        let reason = self.reason(
            &windows,
            |w| w.end_lsn < lsn,
            |b| b.start_lsn <= lsn && lsn < b.stop_lsn,
        );
        Verdict::NotRecoverable {
            reason,
            nearest_before: before,
            nearest_after: after,
        }
    }

    fn recoverable(&self, w: &RecoverableWindow, lsn: Option<Lsn>, estimated: bool) -> Recoverable {
        let size = self.coverage.segment_size;
        let backup = self.catalog.backups.iter().find(|b| b.id == w.backup_id);
        let first = backup.map_or(w.start_lsn, |b| b.start_lsn);
        // Replay that stops exactly at a segment boundary needs nothing of the next segment.
        let last = lsn.unwrap_or(w.end_lsn);
        let last = if last > first && last.segment_offset(size.bytes()) == 0 {
            Lsn(last.0 - 1)
        } else {
            last
        };
        let first_seg =
            WalSegment::containing(backup.map_or(w.timeline, |b| b.timeline), first, size);
        let last_seg = WalSegment::containing(w.timeline, last, size);
        Recoverable {
            timeline: w.timeline,
            backup_id: w.backup_id.clone(),
            lsn,
            first_segment: first_seg.file_name(size),
            last_segment: last_seg.file_name(size),
            segments: last_seg.number.saturating_sub(first_seg.number) + 1,
            window_start: w.start,
            window_end: w.end,
            estimated,
        }
    }

    /// Why nothing covers the point: `ended_before` tells windows that end before it,
    /// `during_backup` backups that were running at it.
    fn reason(
        &self,
        windows: &[RecoverableWindow],
        ended_before: impl Fn(&RecoverableWindow) -> bool,
        during_backup: impl Fn(&super::backup::Backup) -> bool,
    ) -> Reason {
        let Some(earliest) = windows.iter().min_by_key(|w| w.start_lsn) else {
            return Reason::NoRecoverableWindow;
        };
        let earlier: Vec<&RecoverableWindow> = windows.iter().filter(|w| ended_before(w)).collect();
        if let Some(b) = self.catalog.backups.iter().find(|b| during_backup(b)) {
            if earlier.is_empty() {
                return Reason::BeforeBackupEnd {
                    backup_id: b.id.clone(),
                    consistent_at: Some(if b.stop_time_exact {
                        Stamp::exact(b.stop_time)
                    } else {
                        Stamp::estimate(b.stop_time)
                    }),
                };
            }
        }
        // The window that got furthest towards the point says what stopped it.
        match earlier.iter().max_by_key(|w| w.end_lsn) {
            None => Reason::BeforeEarliest {
                earliest: earliest.start,
                backup_id: earliest.backup_id.clone(),
            },
            Some(w) => match &w.ends_because {
                WindowEnd::Gap { missing_segment } => Reason::InGap {
                    missing_segment: missing_segment.clone(),
                    backup_id: w.backup_id.clone(),
                },
                WindowEnd::EndOfArchive { last_segment } => Reason::AfterArchiveEnd {
                    last: w.end,
                    last_segment: last_segment.clone(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::coverage::compute;
    use crate::domain::coverage::tests::{backup, catalog, seg, t};
    use crate::domain::times::EstimatedTimes;

    fn verdict(c: &Catalog, at: i64) -> Verdict {
        let times = EstimatedTimes::from_catalog(c);
        let cov = compute(c, &times);
        let r = Recoverability {
            catalog: c,
            coverage: &cov,
            times: &times,
        };
        r.at_time(TimelineId(1), t(at))
    }

    fn gap_catalog() -> Catalog {
        // Segments 1..=20 but 14, each archived 10 s after the previous; backups at 2 and 16.
        let segments = (1..=20).filter(|&n| n != 14).map(|n| seg(1, n)).collect();
        catalog(
            segments,
            vec![backup("b1", 1, 2, 3), backup("b2", 1, 16, 16)],
        )
    }

    #[test]
    fn a_time_between_the_parents_last_commit_and_the_fork_reaches_the_fork() {
        // Timeline 2 forks from 1 inside segment 6; its WAL was written from t(1000) on.
        let mut segments: Vec<_> = (1..=10).map(|n| seg(1, n)).collect();
        segments.extend((6..=12).map(|n| seg(2, n)));
        let mut c = catalog(segments, vec![backup("b1", 1, 2, 3)]);
        c.histories.push(
            crate::domain::timeline::TimelineHistory::parse(
                TimelineId(2),
                "1\t0/6000100\tbefore the bad delete\n",
            )
            .unwrap(),
        );
        let times = EstimatedTimes::from_catalog(&c);
        let cov = compute(&c, &times);
        let r = Recoverability {
            catalog: &c,
            coverage: &cov,
            times: &times,
        };
        // Replay on timeline 2's path crosses the switch point without stopping: a time in
        // between stops before timeline 2's first transaction end.
        let Verdict::Recoverable(v) = r.at_time(TimelineId(2), t(500)) else {
            panic!("a time between the fork's parent and its first commit is reachable")
        };
        assert_eq!(v.backup_id, "b1");
    }

    #[test]
    fn inside_a_window_names_backup_and_segments() {
        let Verdict::Recoverable(r) = verdict(&gap_catalog(), 75) else {
            panic!("should be recoverable")
        };
        assert_eq!(r.backup_id, "b1");
        assert_eq!(r.first_segment, "000000010000000000000002");
        assert_eq!(r.last_segment, "000000010000000000000007");
        assert!(r.estimated);
    }

    #[test]
    fn the_latest_backup_before_the_instant_is_chosen() {
        let Verdict::Recoverable(r) = verdict(&gap_catalog(), 185) else {
            panic!("should be recoverable")
        };
        assert_eq!(r.backup_id, "b2");
    }

    #[test]
    fn in_the_gap_names_the_missing_segment_and_neighbours() {
        let v = verdict(&gap_catalog(), 150);
        let Verdict::NotRecoverable {
            reason,
            nearest_before,
            nearest_after,
        } = v
        else {
            panic!("should not be recoverable")
        };
        assert_eq!(
            reason,
            Reason::InGap {
                missing_segment: "00000001000000000000000E".into(),
                backup_id: "b1".into()
            }
        );
        assert!(nearest_before.unwrap().at <= t(140));
        assert_eq!(nearest_after.unwrap(), Stamp::exact(t(162)));
        assert!(reason
            .explain(&Zone::UTC)
            .contains("00000001000000000000000E"));
    }

    #[test]
    fn before_the_first_backup_end_and_after_the_archive() {
        match verdict(&gap_catalog(), 31) {
            Verdict::NotRecoverable {
                reason: Reason::BeforeBackupEnd { backup_id, .. },
                nearest_after,
                ..
            } => {
                assert_eq!(backup_id, "b1");
                assert_eq!(nearest_after, Some(Stamp::exact(t(32))));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(&gap_catalog(), 5),
            Verdict::NotRecoverable {
                reason: Reason::BeforeEarliest { .. },
                ..
            }
        ));
        assert!(matches!(
            verdict(&gap_catalog(), 10_000),
            Verdict::NotRecoverable {
                reason: Reason::AfterArchiveEnd { .. },
                ..
            }
        ));
    }

    #[test]
    fn lsn_targets() {
        let c = gap_catalog();
        let times = EstimatedTimes::from_catalog(&c);
        let cov = compute(&c, &times);
        let r = Recoverability {
            catalog: &c,
            coverage: &cov,
            times: &times,
        };
        assert!(r
            .at_lsn(TimelineId(1), "0/9000000".parse().unwrap())
            .is_recoverable());
        assert!(!r
            .at_lsn(TimelineId(1), "0/E000010".parse().unwrap())
            .is_recoverable());
    }
}
