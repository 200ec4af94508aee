//! Mapping WAL positions to wall-clock instants and back.
//!
//! Until WAL has been read, a position's time is only an estimate: base backups record
//! (LSN, time) pairs exactly, and an archived segment's file time says roughly when its last
//! byte was written. Every instant derived here says whether it is exact, so the UI and the
//! JSON can mark estimates.

use super::catalog::Catalog;
use super::lsn::Lsn;
use super::timeline::TimelineId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An instant and whether it was read from WAL or backup metadata (exact) or inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    pub estimated: bool,
}

impl Stamp {
    pub fn exact(at: DateTime<Utc>) -> Stamp {
        Stamp {
            at,
            estimated: false,
        }
    }
    pub fn estimate(at: DateTime<Utc>) -> Stamp {
        Stamp {
            at,
            estimated: true,
        }
    }
}

/// Something that can place WAL positions in time on a given timeline.
pub trait TimeSource {
    fn time_at(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp>;
    /// The latest position whose time is at or before `at` (None: before everything known).
    fn lsn_at(&self, timeline: TimelineId, at: DateTime<Utc>) -> Option<Lsn>;

    /// The last instant a time target (inclusive, the default) reaches with WAL up to
    /// `lsn`: just before the newest commit or abort that ends by then, since replay stops
    /// a time target only before a later transaction end.
    fn last_reachable(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        self.time_at(timeline, lsn).map(|s| Stamp::estimate(s.at))
    }

    /// The instant of the first record read at or after `lsn` (a gap's far edge).
    fn first_time_from(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        self.time_at(timeline, lsn)
    }
}

/// Known (position, instant) pairs of one timeline, ascending in both.
#[derive(Debug, Clone, Default)]
struct Anchors(Vec<(Lsn, Stamp)>);

impl Anchors {
    fn normalise(&mut self) {
        self.0.sort_by_key(|(lsn, s)| (*lsn, s.at));
        // A later position can never be older: file times can lag (a segment archived late)
        // so keep times non-decreasing, preferring exact anchors where they disagree.
        let mut out: Vec<(Lsn, Stamp)> = Vec::with_capacity(self.0.len());
        for (lsn, s) in self.0.drain(..) {
            let Some(&(last_lsn, prev)) = out.last() else {
                out.push((lsn, s));
                continue;
            };
            if last_lsn == lsn {
                if prev.estimated && !s.estimated {
                    out.pop();
                    out.push((lsn, s));
                }
            } else if s.at >= prev.at {
                out.push((lsn, s));
            } else if !s.estimated {
                // The exact anchor wins: pull earlier estimates down to it.
                for (_, p) in out.iter_mut().rev() {
                    if p.at <= s.at {
                        break;
                    }
                    if p.estimated {
                        p.at = s.at;
                    }
                }
                out.push((lsn, s));
            } else {
                out.push((lsn, Stamp::estimate(prev.at)));
            }
        }
        self.0 = out;
    }

    fn time_at(&self, lsn: Lsn) -> Option<Stamp> {
        let a = &self.0;
        let i = a.partition_point(|(l, _)| *l <= lsn);
        match (i.checked_sub(1).map(|j| a[j]), a.get(i).copied()) {
            (Some((l, s)), _) if l == lsn => Some(s),
            (Some((l0, s0)), Some((l1, s1))) => {
                let span = (s1.at - s0.at).num_microseconds().unwrap_or(0) as f64;
                let frac = (lsn.0 - l0.0) as f64 / (l1.0 - l0.0) as f64;
                let at = s0.at + chrono::Duration::microseconds((span * frac) as i64);
                Some(Stamp::estimate(at))
            }
            (Some((_, s0)), None) => Some(Stamp::estimate(s0.at)),
            (None, Some((_, s1))) => Some(Stamp::estimate(s1.at)),
            (None, None) => None,
        }
    }

    fn lsn_at(&self, at: DateTime<Utc>) -> Option<Lsn> {
        let a = &self.0;
        let i = a.partition_point(|(_, s)| s.at <= at);
        let (l0, s0) = a.get(i.checked_sub(1)?).copied()?;
        match a.get(i).copied() {
            Some((l1, s1)) if s1.at > s0.at => {
                let frac = (at - s0.at).num_microseconds().unwrap_or(0) as f64
                    / (s1.at - s0.at).num_microseconds().unwrap_or(1) as f64;
                Some(Lsn(l0.0 + ((l1.0 - l0.0) as f64 * frac) as u64))
            }
            _ => Some(l0),
        }
    }
}

/// Estimates from a catalog: backups' start and stop (exact when recorded) and each archived
/// segment's file time as the time of its end.
#[derive(Debug, Clone, Default)]
pub struct EstimatedTimes {
    per_timeline: BTreeMap<TimelineId, Anchors>,
    /// Where each timeline begins and which one it came from.
    parents: BTreeMap<TimelineId, (TimelineId, Lsn)>,
}

impl EstimatedTimes {
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let mut per_timeline: BTreeMap<TimelineId, Anchors> = BTreeMap::new();
        for b in &catalog.backups {
            let a = per_timeline.entry(b.timeline).or_default();
            a.0.push((b.start_lsn, Stamp::exact(b.start_time)));
            let stop = if b.stop_time_exact {
                Stamp::exact(b.stop_time)
            } else {
                Stamp::estimate(b.stop_time)
            };
            a.0.push((b.stop_lsn, stop));
        }
        for s in catalog.segments.iter().filter(|s| !s.partial) {
            if let Some(at) = s.archived_at {
                per_timeline
                    .entry(s.segment.timeline)
                    .or_default()
                    .0
                    .push((s.segment.end_lsn(catalog.segment_size), Stamp::estimate(at)));
            }
        }
        for a in per_timeline.values_mut() {
            a.normalise();
        }
        let parents = catalog
            .histories
            .iter()
            .filter_map(|h| {
                h.fork_point()
                    .map(|e| (h.timeline, (e.parent, e.switch_point)))
            })
            .collect();
        EstimatedTimes {
            per_timeline,
            parents,
        }
    }

    /// The timeline whose anchors describe `lsn` when looking from `timeline`.
    fn owner(&self, mut timeline: TimelineId, lsn: Lsn) -> TimelineId {
        while let Some(&(parent, switch)) = self.parents.get(&timeline) {
            if lsn >= switch || !self.per_timeline.contains_key(&parent) {
                break;
            }
            timeline = parent;
        }
        timeline
    }
}

impl TimeSource for EstimatedTimes {
    fn time_at(&self, timeline: TimelineId, lsn: Lsn) -> Option<Stamp> {
        self.per_timeline
            .get(&self.owner(timeline, lsn))?
            .time_at(lsn)
    }

    fn lsn_at(&self, timeline: TimelineId, at: DateTime<Utc>) -> Option<Lsn> {
        let own = self.per_timeline.get(&timeline)?;
        match (self.parents.get(&timeline), own.0.first()) {
            (Some(&(parent, switch)), Some((_, first))) if at < first.at => self
                .lsn_at(parent, at)
                .map(|l| l.min(switch))
                .or_else(|| own.lsn_at(at)),
            _ => own.lsn_at(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn interpolates_between_anchors_and_marks_estimates() {
        let mut a = Anchors(vec![
            (Lsn(100), Stamp::exact(t(0))),
            (Lsn(300), Stamp::exact(t(20))),
        ]);
        a.normalise();
        assert_eq!(a.time_at(Lsn(100)), Some(Stamp::exact(t(0))));
        assert_eq!(a.time_at(Lsn(200)), Some(Stamp::estimate(t(10))));
        assert_eq!(a.lsn_at(t(10)), Some(Lsn(200)));
        assert_eq!(a.lsn_at(t(-1)), None);
        assert_eq!(a.lsn_at(t(99)), Some(Lsn(300)));
    }

    #[test]
    fn late_file_times_never_run_backwards() {
        let mut a = Anchors(vec![
            (Lsn(100), Stamp::estimate(t(50))),
            (Lsn(200), Stamp::exact(t(10))),
            (Lsn(300), Stamp::estimate(t(5))),
        ]);
        a.normalise();
        let times: Vec<_> = a.0.iter().map(|(_, s)| s.at).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(a.0[1].1, Stamp::exact(t(10)));
    }
}
