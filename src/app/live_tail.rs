//! The live tail in the model: per server, what the archive lacks (from the probe) and,
//! where the server's pg_wal could be read, its commits, joined to the archive's index
//! so that the transactions pane runs on past the last archived segment.

use super::transactions::{TxLog, TxSpan};
use crate::domain::live_tail::LiveTail;
use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use crate::wal::{RelationTouch, RestorePoint, TailRead, TxEnd};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What the console knows of one server's unarchived WAL.
#[derive(Debug, Clone, Default)]
pub struct TailState {
    /// From the last probe of a primary (with its repository's segment size).
    pub tail: Option<LiveTail>,
    /// The last read of its pg_wal.
    pub read: Option<Result<Arc<TailRead>, String>>,
    /// (archive end, insert position) of the read in flight or last done.
    pub(super) asked: Option<(Lsn, Lsn)>,
    pub(super) in_flight: bool,
    /// The operator asked for `pg_switch_wal()`; waiting for the archive.
    pub switching: Option<Switching>,
    /// What the last switch (or refusal of one) came to, for the servers pane.
    pub note: Option<String>,
}

/// A WAL switch asked for, waiting for the archive to hold the segment it closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switching {
    /// Known once the server answered: the end of the segment it closed.
    pub until: Option<Lsn>,
}

impl TailState {
    /// The read's commits, when it began at the archive's present end.
    pub fn commits(&self) -> Option<&Arc<TailRead>> {
        let from = self.tail.as_ref()?.archived_to?;
        self.read.as_ref()?.as_ref().ok().filter(|r| r.from == from)
    }

    /// The tail, when its pg_wal should be read (again): the server wrote past what was
    /// read, or the archive's end moved. A failed read is not tried again for the same end.
    pub(super) fn wants_read(&self) -> Option<&LiveTail> {
        let tail = self.tail.as_ref()?;
        let from = tail.archived_to?;
        if tail.current <= from || self.in_flight {
            return None;
        }
        let done = self.asked.is_some_and(|(f, upto)| {
            f == from && (upto >= tail.current || matches!(self.read, Some(Err(_))))
        });
        (!done).then_some(tail)
    }
}

/// The archive's commits up to `start`, then the live tail's: one log for the pane.
pub struct Tailed {
    pub archive: Option<Arc<dyn TxLog>>,
    pub tail: Arc<TailRead>,
    pub timeline: TimelineId,
    /// The archive's end: every tail entry is at or after it.
    pub start: Lsn,
    points: Vec<RestorePoint>,
}

impl Tailed {
    pub fn new(
        archive: Option<Arc<dyn TxLog>>,
        tail: Arc<TailRead>,
        timeline: TimelineId,
        start: Lsn,
    ) -> Tailed {
        let mut points: Vec<RestorePoint> = archive
            .as_ref()
            .map(|a| {
                a.restore_points()
                    .iter()
                    .filter(|p| p.timeline != timeline || p.lsn < start)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        points.extend(tail.restore_points.iter().cloned());
        points.sort_by_key(|p| (p.timeline, p.lsn));
        Tailed {
            archive,
            tail,
            timeline,
            start,
            points,
        }
    }

    fn tail_between(&self, from: Lsn, to: Lsn) -> &[TxEnd] {
        let all = &self.tail.tx_ends;
        let lo = all.partition_point(|t| t.lsn < from);
        let hi = all.partition_point(|t| t.lsn < to);
        &all[lo..hi.max(lo)]
    }
}

impl TxLog for Tailed {
    fn tx_ends_between(&self, timeline: TimelineId, from: Lsn, to: Lsn) -> TxSpan<'_> {
        let archived = |to: Lsn| {
            self.archive
                .as_ref()
                .map_or(&[][..], |a| a.tx_ends_between(timeline, from, to).archived)
        };
        if timeline != self.timeline {
            return TxSpan::archived(archived(to));
        }
        TxSpan {
            archived: archived(to.min(self.start)),
            unarchived: self.tail_between(from.max(self.start), to),
        }
    }

    fn relations(&self, t: &TxEnd) -> &[RelationTouch] {
        if self.is_unarchived(t) {
            let s = t.rel_start as usize;
            return self
                .tail
                .relations
                .get(s..s + t.rel_len as usize)
                .unwrap_or(&[]);
        }
        self.archive.as_ref().map_or(&[], |a| a.relations(t))
    }

    fn restore_points(&self) -> &[RestorePoint] {
        &self.points
    }

    fn is_unarchived(&self, t: &TxEnd) -> bool {
        t.timeline == self.timeline && t.lsn >= self.start
    }

    fn place(&self, timeline: TimelineId, at: DateTime<Utc>, before: Option<Lsn>) -> Option<Lsn> {
        if timeline != self.timeline {
            return before;
        }
        let from = before.unwrap_or(Lsn(0)).min(self.start);
        let archived_after = self
            .tx_ends_between(timeline, from, self.start)
            .archived
            .iter()
            .any(|t| t.time() > at);
        if archived_after {
            return before;
        }
        let us = at.timestamp_micros();
        Some(
            self.tail
                .tx_ends
                .iter()
                .find(|t| t.time_us > us)
                .map_or(Lsn(u64::MAX), |t| t.lsn),
        )
    }
}
