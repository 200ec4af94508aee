//! The live tail in the model: per server, what the archive lacks (from the probe) and,
//! where the server's pg_wal could be read, its commits, joined to the archive's index
//! so that the transactions pane runs on past the last archived segment.

use super::msg::Cmd;
use super::state::{App, Mode, RepoState};
use super::transactions::{TxLog, TxSpan};
use crate::config::Role;
use crate::domain::live_tail::LiveTail;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
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
    asked: Option<(Lsn, Lsn)>,
    in_flight: bool,
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
    fn wants_read(&self) -> Option<&LiveTail> {
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

/// After every message: each primary's tail from its last probe, the pg_wal reads that
/// are due, and the end of a WAL switch (the archive holds the closed segment: the
/// repository is read again).
pub(crate) fn follow(app: &mut App) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for s in &mut app.servers {
        let Some(RepoState::Ready(data)) = app
            .repos
            .iter()
            .find(|r| r.name == s.repository)
            .map(|r| &r.state)
        else {
            continue;
        };
        let size = data.catalog.segment_size;
        s.tail.tail = s.status.as_ref().and_then(|st| LiveTail::of(st, size));
        if let (Some(Switching { until: Some(until) }), Some(tail)) =
            (s.tail.switching, s.tail.tail.as_ref())
        {
            if tail.archived_to.is_some_and(|a| a >= until) {
                s.tail.switching = None;
                s.tail.note = Some(format!(
                    "WAL switched: the archive holds up to {until}; repository read again"
                ));
                cmds.push(Cmd::LoadCatalog {
                    repository: s.repository.clone(),
                });
            }
        }
        if let Some(tail) = s.tail.wants_read() {
            let (Some(from), upto) = (tail.archived_to, tail.current) else {
                continue;
            };
            cmds.push(Cmd::ReadTail {
                server: s.name.clone(),
                segments: tail.segments(size),
                size,
                upto,
            });
            s.tail.asked = Some((from, upto));
            s.tail.in_flight = true;
        }
    }
    cmds
}

pub(crate) fn on_read(app: &mut App, server: &str, result: Result<Arc<TailRead>, String>) {
    let Some(s) = app.servers.iter_mut().find(|s| s.name == server) else {
        return;
    };
    if let Err(e) = &result {
        tracing::info!(%server, error = %e, "pg_wal not read: unarchived commits not listed");
    }
    s.tail.in_flight = false;
    s.tail.read = Some(result);
}

/// `W`: asks to confirm `pg_switch_wal()` on the selected server, which must be a reachable
/// primary, for an operator.
pub(crate) fn ask_switch(app: &mut App) {
    let role = app.role;
    let Some(s) = app.servers.get_mut(app.selected_server) else {
        return;
    };
    if role != Role::Operator {
        s.tail.note = Some(format!(
            "{} console: WAL is switched by an operator only",
            crate::app::wizard::role_scope(role)
        ));
        return;
    }
    if s.tail.tail.is_none() {
        s.tail.note = Some(format!(
            "`{}` is not a reachable primary (or its repository is not read yet): no WAL to switch",
            s.name
        ));
        return;
    }
    app.mode = Mode::ConfirmSwitch {
        server: s.name.clone(),
    };
}

/// The answer to the confirmation: `y` switches, anything else cancels.
pub(crate) fn confirm_switch(app: &mut App, server: String, yes: bool) -> Vec<Cmd> {
    app.mode = Mode::Normal;
    let Some(s) = app.servers.iter_mut().find(|s| s.name == server) else {
        return Vec::new();
    };
    if !yes {
        s.tail.note = Some("WAL switch cancelled".to_string());
        return Vec::new();
    }
    s.tail.switching = Some(Switching { until: None });
    s.tail.note = Some("pg_switch_wal() asked; waiting for the server".to_string());
    vec![Cmd::SwitchWal { server }]
}

/// The server's answer to `pg_switch_wal()`: the end of the segment it closed, which the
/// console then waits for in the archive (probing every `SWITCH_PROBE`).
pub(crate) fn on_switched(app: &mut App, server: &str, result: Result<Lsn, String>) -> Vec<Cmd> {
    let Some(s) = app.servers.iter_mut().find(|s| s.name == server) else {
        return Vec::new();
    };
    match result {
        Ok(end) => {
            let until = Lsn(end.0.saturating_sub(1));
            let size = app
                .repos
                .iter()
                .find(|r| r.name == s.repository)
                .and_then(|r| match &r.state {
                    RepoState::Ready(d) => Some(d.catalog.segment_size),
                    _ => None,
                })
                .unwrap_or(SegmentSize::DEFAULT);
            let until = WalSegment::containing(TimelineId(0), until, size).end_lsn(size);
            s.tail.switching = Some(Switching { until: Some(until) });
            s.tail.note = Some(format!(
                "WAL switched at {end}: waiting for the archive to reach {until}"
            ));
            vec![Cmd::ProbeServer {
                server: server.to_string(),
            }]
        }
        Err(e) => {
            s.tail.switching = None;
            s.tail.note = Some(format!("pg_switch_wal() on `{server}` failed: {e}"));
            Vec::new()
        }
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
