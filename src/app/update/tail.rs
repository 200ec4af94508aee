//! The live tail's part of `update`: each primary's tail from its probe, the pg_wal reads
//! due, and the operator's WAL switch from asking to the archive holding it.

use crate::app::live_tail::Switching;
use crate::app::msg::Cmd;
use crate::app::state::{App, Mode, RepoState};
use crate::config::Role;
use crate::domain::live_tail::LiveTail;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::TimelineId;
use crate::wal::TailRead;
use std::sync::Arc;

/// After every message: each primary's tail from its last probe, the pg_wal reads that
/// are due, and the end of a WAL switch (the archive holds the closed segment: the
/// repository is read again).
pub(super) fn follow(app: &mut App) -> Vec<Cmd> {
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

pub(super) fn on_read(app: &mut App, server: &str, result: Result<Arc<TailRead>, String>) {
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
pub(super) fn ask_switch(app: &mut App) {
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

/// The answer to the confirmation: yes switches, anything else cancels.
pub(super) fn confirm_switch(app: &mut App, yes: bool) -> Vec<Cmd> {
    let Mode::ConfirmSwitch { server } = std::mem::replace(&mut app.mode, Mode::Normal) else {
        return Vec::new();
    };
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
pub(super) fn on_switched(app: &mut App, server: &str, result: Result<Lsn, String>) -> Vec<Cmd> {
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
