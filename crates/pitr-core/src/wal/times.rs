//! Exact instants from the commit index.
//!
//! What a recovery to a time reaches is decided by commit and abort records: replay stops
//! before the first one whose time is after the target. So a position's instant is the time
//! of the last transaction end (or restore point, or checkpoint) at or before it, and an
//! instant's position is where the first later transaction end starts. Both are exact where
//! WAL was read; elsewhere the catalog's estimates stand in, marked as such.

use super::index::WalIndex;
use crate::domain::catalog::Catalog;
use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use crate::domain::times::{EstimatedTimes, Stamp, TimeSource};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Positions with their instants on one timeline, by position; `latest` holds the running
/// maximum of the instants, because concurrent commits can reach WAL slightly out of
/// timestamp order.
#[derive(Debug, Default)]
struct Marks {
    lsn: Vec<Lsn>,
    latest: Vec<i64>,
}

impl Marks {
    fn from_unsorted(mut points: Vec<(Lsn, i64)>) -> Marks {
        points.sort_unstable();
        let mut latest = Vec::with_capacity(points.len());
        let mut max = i64::MIN;
        for &(_, t) in &points {
            max = max.max(t);
            latest.push(max);
        }
        Marks {
            lsn: points.into_iter().map(|(l, _)| l).collect(),
            latest,
        }
    }

    /// The instant of the last mark at or before `lsn`; before the first mark, that mark's
    /// (the WAL there holds nothing older that was read).
    fn time_at(&self, lsn: Lsn) -> Option<i64> {
        let i = self.lsn.partition_point(|&l| l <= lsn);
        self.latest.get(i.saturating_sub(1)).copied()
    }

    /// The instant of the first mark at or after `lsn`.
    fn time_from(&self, lsn: Lsn) -> Option<i64> {
        let i = self.lsn.partition_point(|&l| l < lsn);
        self.latest.get(i).copied()
    }

    /// Index of the first mark whose instant is after `us`.
    fn first_after(&self, us: i64) -> usize {
        self.latest.partition_point(|&t| t <= us)
    }
}

#[derive(Debug, Default)]
struct Read {
    /// Every instant-bearing record: transaction ends (at their end), restore points,
    /// checkpoints.
    all: Marks,
    /// Transaction ends only, at their start: where a time target stops replay.
    stops: Marks,
    /// Transaction ends only, at their end: what WAL up to a position holds.
    stop_ends: Marks,
    first: Lsn,
    until: Lsn,
}

/// Instants from the WAL index, with the catalog's estimates where WAL was not read.
pub struct IndexedTimes {
    read: BTreeMap<TimelineId, Read>,
    parents: BTreeMap<TimelineId, (TimelineId, Lsn)>,
    fallback: EstimatedTimes,
}

impl IndexedTimes {
    pub fn new(index: &WalIndex, catalog: &Catalog) -> IndexedTimes {
        let mut all: BTreeMap<TimelineId, Vec<(Lsn, i64)>> = BTreeMap::new();
        let mut stops: BTreeMap<TimelineId, Vec<(Lsn, i64)>> = BTreeMap::new();
        let mut stop_ends: BTreeMap<TimelineId, Vec<(Lsn, i64)>> = BTreeMap::new();
        for t in index.tx_ends() {
            all.entry(t.timeline).or_default().push((t.end, t.time_us));
            stops
                .entry(t.timeline)
                .or_default()
                .push((t.lsn, t.time_us));
            stop_ends
                .entry(t.timeline)
                .or_default()
                .push((t.end, t.time_us));
        }
        for p in index.restore_points() {
            all.entry(p.timeline).or_default().push((p.end, p.time_us));
        }
        for c in index.checkpoints() {
            all.entry(c.timeline)
                .or_default()
                .push((c.lsn, c.time_s.saturating_mul(1_000_000)));
        }
        let mut read: BTreeMap<TimelineId, Read> = BTreeMap::new();
        for run in index.runs() {
            let r = read.entry(run.timeline).or_insert_with(|| Read {
                first: run.start,
                until: run.end,
                ..Read::default()
            });
            r.first = r.first.min(run.start);
            r.until = r.until.max(run.end);
        }
        for (tl, r) in read.iter_mut() {
            r.all = Marks::from_unsorted(all.remove(tl).unwrap_or_default());
            r.stops = Marks::from_unsorted(stops.remove(tl).unwrap_or_default());
            r.stop_ends = Marks::from_unsorted(stop_ends.remove(tl).unwrap_or_default());
        }
        let parents = catalog
            .histories
            .iter()
            .filter_map(|h| {
                h.fork_point()
                    .map(|e| (h.timeline, (e.parent, e.switch_point)))
            })
            .collect();
        IndexedTimes {
            read,
            parents,
            fallback: EstimatedTimes::from_catalog(catalog),
        }
    }

    /// The timeline whose WAL holds `lsn` when recovering onto `timeline`.
    fn owner(&self, mut timeline: TimelineId, lsn: Lsn) -> TimelineId {
        while let Some(&(parent, switch)) = self.parents.get(&timeline) {
            if lsn >= switch {
                break;
            }
            timeline = parent;
        }
        timeline
    }
}

fn from_us(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

impl TimeSource for IndexedTimes {
    fn time_at(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        let owner = self.owner(timeline, lsn);
        let exact = self
            .read
            .get(&owner)
            .filter(|r| r.first <= lsn && lsn <= r.until)
            .and_then(|r| r.all.time_at(lsn))
            .and_then(from_us)
            .map(Stamp::exact);
        exact.or_else(|| self.fallback.time_at(timeline, lsn))
    }

    fn last_reachable(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        let owner = self.owner(timeline, lsn);
        let Some(r) = self
            .read
            .get(&owner)
            .filter(|r| r.first <= lsn && lsn <= r.until)
        else {
            return self
                .fallback
                .time_at(timeline, lsn)
                .map(|s| Stamp::estimate(s.at));
        };
        // A child's first segment repeats its parent's WAL up to the fork, so the child's
        // own marks already hold the parent's last transaction ends before the switch.
        let own = r
            .stop_ends
            .time_at(lsn)
            .filter(|_| r.stop_ends.lsn.first().is_some_and(|&first| first <= lsn));
        let inherited = self
            .parents
            .get(&owner)
            .and_then(|&(parent, switch)| self.last_reachable(parent, switch))
            .filter(|s| !s.estimated)
            .map(|s| s.at.timestamp_micros() + 1);
        match own.max(inherited) {
            Some(us) => from_us(us - 1).map(Stamp::exact),
            None => self
                .fallback
                .time_at(timeline, lsn)
                .map(|s| Stamp::estimate(s.at)),
        }
    }

    fn first_time_from(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        let owner = self.owner(timeline, lsn);
        self.read
            .get(&owner)
            .filter(|r| lsn <= r.until)
            .and_then(|r| r.all.time_from(lsn))
            .and_then(from_us)
            .map(Stamp::exact)
            .or_else(|| self.fallback.time_at(timeline, lsn))
    }

    fn lsn_at(&self, timeline: TimelineId, at: DateTime<Utc>) -> Option<Lsn> {
        let us = at.timestamp_micros();
        // Replay stops before the first transaction end later than `at`. Look for it on the
        // timeline itself first; if it lies before the timeline began, the parent decides.
        let mut tl = timeline;
        let mut limit: Option<Lsn> = None;
        loop {
            let begin = self.parents.get(&tl).map(|&(_, switch)| switch);
            if let Some(r) = self.read.get(&tl).filter(|r| !r.stops.lsn.is_empty()) {
                let i = r.stops.first_after(us);
                let lsn = r.stops.lsn.get(i).copied().unwrap_or(r.until);
                let lsn = limit.map_or(lsn, |l| lsn.min(l));
                if begin.is_none_or(|b| lsn >= b) {
                    return Some(lsn);
                }
            }
            match self.parents.get(&tl) {
                Some(&(parent, switch)) => {
                    limit = Some(switch);
                    tl = parent;
                }
                None => return self.fallback.lsn_at(timeline, at),
            }
        }
    }
}
