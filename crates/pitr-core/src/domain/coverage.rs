//! WAL coverage: contiguous runs and gaps per timeline, and the windows in which a recovery
//! target can be reached from some base backup.
//!
//! Everything is computed in segment numbers first (exact), then placed in time through a
//! `TimeSource` (exact or estimated). Recovery onto a timeline reads, for each segment number,
//! the file of the newest timeline on its path that has begun by then, as PostgreSQL's
//! `XLogFileReadAnyTLI` does; coverage follows the same rule.

use super::backup::Backup;
use super::catalog::Catalog;
use super::lsn::Lsn;
use super::segment::{SegmentSize, WalSegment};
use super::timeline::TimelineId;
use super::times::{Stamp, TimeSource};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many missing segment names a gap lists; the count is always exact.
pub const MISSING_NAMES_LISTED: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub segment_size: SegmentSize,
    pub timelines: Vec<TimelineCoverage>,
    /// Sorted by timeline, then start.
    pub windows: Vec<RecoverableWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineCoverage {
    pub timeline: TimelineId,
    /// The timeline this one branched from, and where.
    pub parent: Option<(TimelineId, Lsn)>,
    pub runs: Vec<WalRun>,
    pub gaps: Vec<WalGap>,
}

/// Archived segments of one timeline with consecutive numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalRun {
    pub first: String,
    pub last: String,
    pub segments: u64,
    pub start_lsn: Lsn,
    pub end_lsn: Lsn,
    pub start: Option<Stamp>,
    pub end: Option<Stamp>,
}

/// Segments missing between two archived ones of the same timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalGap {
    pub timeline: TimelineId,
    pub first_missing: String,
    pub last_missing: String,
    pub missing_count: u64,
    /// At most `MISSING_NAMES_LISTED` names, in order.
    pub missing: Vec<String>,
    pub start_lsn: Lsn,
    pub end_lsn: Lsn,
    pub start: Option<Stamp>,
    pub end: Option<Stamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowEnd {
    /// The newest archived WAL on this timeline's path.
    EndOfArchive { last_segment: String },
    /// The next segment is missing.
    Gap { missing_segment: String },
}

/// An interval of positions on one timeline that recovery from `backup_id` can stop at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoverableWindow {
    pub timeline: TimelineId,
    pub backup_id: String,
    pub start_lsn: Lsn,
    pub end_lsn: Lsn,
    pub start: Option<Stamp>,
    pub end: Option<Stamp>,
    pub ends_because: WindowEnd,
}

impl RecoverableWindow {
    pub fn contains_lsn(&self, lsn: Lsn) -> bool {
        self.start_lsn <= lsn && lsn <= self.end_lsn
    }
}

/// The timelines recovery onto `timeline` reads from, oldest first, with the segment number
/// from which each one's files are used.
fn path_of(catalog: &Catalog, timeline: TimelineId) -> Vec<(TimelineId, u64)> {
    let size = catalog.segment_size.bytes();
    match catalog.history(timeline) {
        None => vec![(timeline, 0)],
        Some(h) => {
            let mut path = Vec::with_capacity(h.entries.len() + 1);
            let mut begin = 0;
            for e in &h.entries {
                path.push((e.parent, begin));
                begin = e.switch_point.0 / size;
            }
            path.push((timeline, begin));
            path
        }
    }
}

/// Segment numbers available for recovery onto a timeline, as runs `[first, last]`.
fn path_runs(
    path: &[(TimelineId, u64)],
    present: &BTreeMap<TimelineId, Vec<u64>>,
) -> Vec<(u64, u64, TimelineId)> {
    let mut numbers: Vec<(u64, TimelineId)> = Vec::new();
    for (i, &(tli, begin)) in path.iter().enumerate() {
        let end = path.get(i + 1).map_or(u64::MAX, |&(_, b)| b);
        if let Some(list) = present.get(&tli) {
            let lo = list.partition_point(|&n| n < begin);
            let hi = list.partition_point(|&n| n < end);
            numbers.extend(list[lo..hi].iter().map(|&n| (n, tli)));
        }
    }
    // Where a child's first file is missing, the parent's file of that number still serves
    // for the part before the switch point; recovery fails only past it, which the windows
    // below treat as the end.
    let mut runs: Vec<(u64, u64, TimelineId)> = Vec::new();
    for (n, tli) in numbers {
        match runs.last_mut() {
            Some(r) if r.1 + 1 == n => {
                r.1 = n;
                r.2 = tli;
            }
            Some(r) if r.1 >= n => {}
            _ => runs.push((n, n, tli)),
        }
    }
    runs
}

/// Computes runs, gaps and recoverable windows of a catalog.
pub fn compute(catalog: &Catalog, times: &dyn TimeSource) -> Coverage {
    let size = catalog.segment_size;
    let mut present: BTreeMap<TimelineId, Vec<u64>> = BTreeMap::new();
    for s in catalog.segments.iter().filter(|s| !s.partial) {
        present
            .entry(s.segment.timeline)
            .or_default()
            .push(s.segment.number);
    }
    for list in present.values_mut() {
        list.sort_unstable();
        list.dedup();
    }

    let timelines = catalog
        .timelines()
        .into_iter()
        .map(|tli| timeline_coverage(catalog, tli, present.get(&tli), times))
        .collect();

    let mut windows = Vec::new();
    let all: BTreeSet<TimelineId> = catalog.timelines().into_iter().collect();
    for &tli in &all {
        let path = path_of(catalog, tli);
        let runs = path_runs(&path, &present);
        let begin_seg = path.last().map_or(0, |&(_, b)| b);
        let begin_lsn = catalog
            .history(tli)
            .and_then(|h| h.fork_point())
            .map_or(Lsn::ZERO, |e| e.switch_point);
        // An incremental whose chain is broken restores nothing: no window from it.
        for b in catalog
            .backups
            .iter()
            .filter(|b| path.iter().any(|&(t, _)| t == b.timeline))
            .filter(|b| super::backup_chain::chain(&catalog.backups, b).is_ok())
        {
            if let Some(w) = window_for(b, tli, &runs, begin_seg, begin_lsn, size, times) {
                windows.push(w);
            }
        }
    }
    windows.sort_by_key(|a| (a.timeline, a.start_lsn));
    Coverage {
        segment_size: size,
        timelines,
        windows,
    }
}

fn window_for(
    backup: &Backup,
    tli: TimelineId,
    runs: &[(u64, u64, TimelineId)],
    begin_seg: u64,
    begin_lsn: Lsn,
    size: SegmentSize,
    times: &dyn TimeSource,
) -> Option<RecoverableWindow> {
    let first = backup.start_lsn.segment_number(size.bytes());
    let consistent = backup.stop_lsn.segment_number(size.bytes());
    let i = runs.partition_point(|r| r.1 < first);
    let &(lo, hi, last_tli) = runs.get(i)?;
    if lo > first || hi < consistent || hi < begin_seg {
        return None;
    }
    let end_lsn = WalSegment::new(last_tli, hi).end_lsn(size);
    let start_lsn = backup.stop_lsn.max(begin_lsn);
    if end_lsn < start_lsn {
        return None;
    }
    let ends_because = match runs.get(i + 1) {
        Some(_) => WindowEnd::Gap {
            missing_segment: WalSegment::new(last_tli, hi + 1).file_name(size),
        },
        None => WindowEnd::EndOfArchive {
            last_segment: WalSegment::new(last_tli, hi).file_name(size),
        },
    };
    // The WAL's own instant at the consistency point is exact to the microsecond where
    // it was read; a backup label's stop time has whole seconds only.
    let start = match times.time_at(tli, start_lsn) {
        Some(s) if !s.estimated => Some(s),
        _ if start_lsn == backup.stop_lsn && backup.stop_time_exact => {
            Some(Stamp::exact(backup.stop_time))
        }
        other => other,
    };
    Some(RecoverableWindow {
        timeline: tli,
        backup_id: backup.id.clone(),
        start_lsn,
        end_lsn,
        start,
        end: times.last_reachable(tli, end_lsn),
        ends_because,
    })
}

fn timeline_coverage(
    catalog: &Catalog,
    tli: TimelineId,
    numbers: Option<&Vec<u64>>,
    times: &dyn TimeSource,
) -> TimelineCoverage {
    let size = catalog.segment_size;
    let parent = catalog
        .history(tli)
        .and_then(|h| h.fork_point())
        .map(|e| (e.parent, e.switch_point));
    let name = |n: u64| WalSegment::new(tli, n).file_name(size);
    let mut runs: Vec<WalRun> = Vec::new();
    let mut gaps = Vec::new();
    let numbers: &[u64] = numbers.map_or(&[], |v| v.as_slice());
    // A child's files start at the segment holding its switch point.
    let expected_first = parent.map(|(_, sp)| sp.segment_number(size.bytes()));
    let push_gap = |from: u64, to: u64, gaps: &mut Vec<WalGap>| {
        let start_lsn = WalSegment::new(tli, from).start_lsn(size);
        let end_lsn = WalSegment::new(tli, to).end_lsn(size);
        gaps.push(WalGap {
            timeline: tli,
            first_missing: name(from),
            last_missing: name(to),
            missing_count: to - from + 1,
            missing: (from..=to).take(MISSING_NAMES_LISTED).map(name).collect(),
            start_lsn,
            end_lsn,
            start: times.time_at(tli, start_lsn),
            end: times.first_time_from(tli, end_lsn),
        });
    };
    if let (Some(first_expected), Some(&first)) = (expected_first, numbers.first()) {
        if first > first_expected {
            push_gap(first_expected, first - 1, &mut gaps);
        }
    }
    let mut i = 0;
    while i < numbers.len() {
        let lo = numbers[i];
        let mut hi = lo;
        while i + 1 < numbers.len() && numbers[i + 1] == hi + 1 {
            i += 1;
            hi = numbers[i];
        }
        if let Some(prev) = runs.last() {
            let prev_hi = prev.end_lsn.segment_number(size.bytes()) - 1;
            push_gap(prev_hi + 1, lo - 1, &mut gaps);
        }
        let start_lsn = WalSegment::new(tli, lo).start_lsn(size);
        let end_lsn = WalSegment::new(tli, hi).end_lsn(size);
        runs.push(WalRun {
            first: name(lo),
            last: name(hi),
            segments: hi - lo + 1,
            start_lsn,
            end_lsn,
            start: times.time_at(tli, start_lsn),
            end: times.time_at(tli, end_lsn),
        });
        i += 1;
    }
    TimelineCoverage {
        timeline: tli,
        parent,
        runs,
        gaps,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::backup::BackupFormat;
    use crate::domain::catalog::{ArchivedSegment, Compression};
    use crate::domain::timeline::TimelineHistory;
    use crate::domain::times::EstimatedTimes;
    use chrono::{DateTime, TimeZone, Utc};

    pub fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    pub fn seg(tli: u32, n: u64) -> ArchivedSegment {
        let s = WalSegment::new(TimelineId(tli), n);
        ArchivedSegment {
            segment: s,
            file_name: s.file_name(SegmentSize::DEFAULT),
            compression: Compression::None,
            partial: false,
            size_bytes: SegmentSize::DEFAULT.bytes(),
            // One segment every 10 seconds on timeline 1; timeline 2 begins at t(1000).
            archived_at: Some(if tli == 1 {
                t(10 * n as i64 + 10)
            } else {
                t(1000 + 10 * n as i64)
            }),
        }
    }

    pub fn backup(id: &str, tli: u32, start_seg: u64, stop_seg: u64) -> Backup {
        let mb = 1 << 20;
        Backup {
            id: id.into(),
            label: None,
            format: BackupFormat::Plain,
            location: format!("/b/{id}"),
            timeline: TimelineId(tli),
            start_lsn: Lsn(start_seg * 16 * mb + 40),
            stop_lsn: Lsn(stop_seg * 16 * mb + 256),
            start_time: t(10 * start_seg as i64 + 1),
            stop_time: t(10 * stop_seg as i64 + 2),
            stop_time_exact: true,
            segment_size: SegmentSize::DEFAULT,
            system_identifier: None,
            size_bytes: None,
            manifest_wal_ranges: vec![],
            has_manifest: true,
            pg_major: None,
            incremental: None,
        }
    }

    pub fn catalog(segments: Vec<ArchivedSegment>, backups: Vec<Backup>) -> Catalog {
        Catalog {
            repository: "test".into(),
            segment_size: SegmentSize::DEFAULT,
            backups,
            segments,
            histories: vec![],
            warnings: vec![],
            damaged: Vec::new(),
        }
    }

    fn cover(c: &Catalog) -> Coverage {
        compute(c, &EstimatedTimes::from_catalog(c))
    }

    #[test]
    fn contiguous_archive_gives_one_window_per_backup() {
        let c = catalog(
            (1..=20).map(|n| seg(1, n)).collect(),
            vec![backup("b1", 1, 2, 3), backup("b2", 1, 10, 11)],
        );
        let cov = cover(&c);
        assert_eq!(cov.timelines.len(), 1);
        assert_eq!(cov.timelines[0].runs.len(), 1);
        assert!(cov.timelines[0].gaps.is_empty());
        assert_eq!(cov.windows.len(), 2);
        let w = &cov.windows[0];
        assert_eq!(w.backup_id, "b1");
        assert_eq!(w.start_lsn, c.backups[0].stop_lsn);
        assert_eq!(w.end_lsn.to_string(), "0/15000000");
        assert_eq!(w.start, Some(Stamp::exact(t(32))));
        assert_eq!(
            w.ends_because,
            WindowEnd::EndOfArchive {
                last_segment: "000000010000000000000014".into()
            }
        );
    }

    #[test]
    fn a_gap_splits_the_windows_and_names_the_segment() {
        let segments = (1..=20).filter(|&n| n != 14).map(|n| seg(1, n)).collect();
        let c = catalog(
            segments,
            vec![backup("b1", 1, 2, 3), backup("b2", 1, 16, 16)],
        );
        let cov = cover(&c);
        let gaps = &cov.timelines[0].gaps;
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].first_missing, "00000001000000000000000E");
        assert_eq!(gaps[0].missing_count, 1);
        assert_eq!(cov.windows.len(), 2);
        assert_eq!(
            cov.windows[0].ends_because,
            WindowEnd::Gap {
                missing_segment: "00000001000000000000000E".into()
            }
        );
        assert_eq!(cov.windows[0].end_lsn.to_string(), "0/E000000");
        assert_eq!(cov.windows[1].backup_id, "b2");
    }

    #[test]
    fn a_backup_without_its_start_segment_has_no_window() {
        let segments = (1..=10).filter(|&n| n != 2).map(|n| seg(1, n)).collect();
        let c = catalog(segments, vec![backup("b1", 1, 2, 3)]);
        assert!(cover(&c).windows.is_empty());
    }

    #[test]
    fn a_fork_continues_the_parent_window_on_the_child_timeline() {
        // Timeline 2 branched from 1 inside segment 8; timeline 1 went on to segment 12.
        let mut segments: Vec<_> = (1..=12).map(|n| seg(1, n)).collect();
        segments.extend((8..=15).map(|n| seg(2, n)));
        let mut c = catalog(segments, vec![backup("b1", 1, 2, 3)]);
        c.histories = vec![TimelineHistory::parse(
            TimelineId(2),
            "1\t0/8000100\tbefore 2023-11-14 22:14:30+00\n",
        )
        .unwrap()];
        let cov = cover(&c);
        assert_eq!(cov.timelines.len(), 2);
        assert_eq!(
            cov.timelines[1].parent,
            Some((TimelineId(1), "0/8000100".parse().unwrap()))
        );
        assert!(cov.timelines[1].gaps.is_empty());
        let on2: Vec<_> = cov
            .windows
            .iter()
            .filter(|w| w.timeline == TimelineId(2))
            .collect();
        assert_eq!(on2.len(), 1);
        assert_eq!(on2[0].start_lsn.to_string(), "0/8000100");
        assert_eq!(on2[0].end_lsn.to_string(), "0/10000000");
        let on1 = cov
            .windows
            .iter()
            .find(|w| w.timeline == TimelineId(1))
            .unwrap();
        assert_eq!(on1.end_lsn.to_string(), "0/D000000");
    }

    #[test]
    fn a_child_missing_its_first_file_is_a_gap() {
        let mut segments: Vec<_> = (1..=12).map(|n| seg(1, n)).collect();
        segments.extend((9..=15).map(|n| seg(2, n)));
        let mut c = catalog(segments, vec![backup("b1", 1, 2, 3)]);
        c.histories =
            vec![TimelineHistory::parse(TimelineId(2), "1\t0/8000100\tno target\n").unwrap()];
        let cov = cover(&c);
        assert_eq!(
            cov.timelines[1].gaps[0].first_missing,
            "000000020000000000000008"
        );
        assert!(cov.windows.iter().all(|w| w.timeline == TimelineId(1)));
    }
}
