//! `update`: the only place the model changes, one message at a time.

use super::geometry;
use super::keymap::Action;
use super::msg::{Cmd, Msg};
use super::repo::{next_after, previous_before, RepoData};
use super::state::{
    App, Focus, Mode, RepoState, TimeInput, PROBE_STALE, SERVER_REFRESH, SWITCH_REFRESH,
};
use super::transactions::{self, Seek};
use super::view::{STEPS, ZOOMS};
use super::wizard;
use crate::domain::time_input::parse_instant;
use chrono::Duration;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let cmds = match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key),
        Msg::Key(_) => Vec::new(),
        Msg::Resize { width, .. } => {
            app.view.columns = geometry::timeline_columns(width);
            Vec::new()
        }
        Msg::Tick { now } => {
            app.now = Some(now);
            let mut cmds = probes_due(app, now);
            cmds.extend(wizard::on_tick(app, now));
            super::drill::on_tick(app, now);
            cmds
        }
        Msg::CatalogLoaded { repository, result } => {
            if let Some(i) = app.repos.iter().position(|r| r.name == repository) {
                app.repos[i].state = match result {
                    Ok(view) => RepoState::Ready(Box::new(RepoData::prepare(view))),
                    Err(e) => RepoState::Failed(e),
                };
                app.repos[i].fetch = None;
                app.invalidate(i);
            }
            Vec::new()
        }
        Msg::CatalogProgress {
            repository,
            progress,
        } => {
            if let Some(slot) = app.repos.iter_mut().find(|r| r.name == repository) {
                slot.fetch = Some(progress);
            }
            Vec::new()
        }
        Msg::ServerStatus(status) => {
            if let Some(row) = app.servers.iter_mut().find(|s| s.name == status.server) {
                row.probing_since = None;
                row.status = Some(status);
            }
            Vec::new()
        }
        Msg::Unfinished(runs) => {
            app.unfinished = runs;
            Vec::new()
        }
        Msg::TailRead { server, result } => {
            super::live_tail::on_read(app, &server, result);
            Vec::new()
        }
        Msg::WalSwitched { server, result } => super::live_tail::on_switched(app, &server, result),
        Msg::RelationNames { server, result } => {
            app.transactions.names_resolved(&server, result);
            Vec::new()
        }
        Msg::Prepared { request, result } => {
            wizard::on_prepared(app, request, result);
            Vec::new()
        }
        Msg::Engine(event) => {
            let cmds = super::drill::on_engine(app, &event);
            wizard::on_engine(app, event);
            cmds
        }
        Msg::RefusalJournaled(result) => {
            wizard::on_refusal_journaled(app, result);
            Vec::new()
        }
        Msg::RunNotStarted(error) => {
            super::drill::on_not_started(app, &error);
            wizard::on_not_started(app, error);
            Vec::new()
        }
        Msg::DrillPrepared(result) => super::drill::on_prepared(app, result),
        Msg::DrillConcluded(result) => {
            super::drill::on_concluded(app, result);
            Vec::new()
        }
        Msg::JournalRead(result) => {
            wizard::on_journal(app, result);
            Vec::new()
        }
        Msg::NoteWritten(result) => {
            wizard::on_note_written(app, result);
            Vec::new()
        }
    };
    let mut cmds = cmds;
    cmds.extend(super::live_tail::follow(app));
    app.refresh();
    let up = app
        .servers
        .get(app.selected_server)
        .and_then(|s| s.status.as_ref())
        .is_some_and(|s| s.is_up());
    if let Some(server) = app.names_server().filter(|_| up).map(str::to_string) {
        cmds.extend(app.transactions.resolve_cmd(&server));
    }
    cmds
}

fn probes_due(app: &mut App, now: chrono::DateTime<chrono::Utc>) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for s in &mut app.servers {
        let refresh = if s.tail.switching.is_some() {
            SWITCH_REFRESH
        } else {
            SERVER_REFRESH
        };
        let due = match (&s.probing_since, &s.status) {
            (Some(since), _) => now - *since >= PROBE_STALE,
            (None, Some(st)) => now - st.checked_at >= refresh,
            (None, None) => true,
        };
        if due {
            s.probing_since = Some(now);
            cmds.push(Cmd::ProbeServer {
                server: s.name.clone(),
            });
        }
    }
    cmds
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if app.wizard.is_some() && matches!(app.mode, Mode::Normal) {
        return wizard::on_key(app, key);
    }
    if let Some(cmds) = super::drill::route_key(app, key) {
        return cmds;
    }
    if let Mode::ConfirmSwitch { server } = &app.mode {
        let yes = key.code == KeyCode::Char('y');
        let server = server.clone();
        return super::live_tail::confirm_switch(app, server, yes);
    }
    if let Mode::Input(input) = &mut app.mode {
        match key.code {
            _ if ctrl_c => return quit(app),
            KeyCode::Esc => app.mode = Mode::Normal,
            KeyCode::Enter => {
                match parse_instant(input.input.value(), app.zones[app.zone_index].zone) {
                    Ok(at) => {
                        app.mode = Mode::Normal;
                        app.cursor = at;
                    }
                    Err(e) => input.error = Some(e.to_string()),
                }
            }
            _ => {
                if let Some(req) = tui_input::backend::crossterm::to_input_request(&Event::Key(key))
                {
                    input.input.handle(req);
                    input.error = None;
                }
            }
        }
        return Vec::new();
    }
    let Some(action) = app.keymap.action_for(&key) else {
        return Vec::new();
    };
    if matches!(app.mode, Mode::Help) {
        match action {
            Action::Quit => return quit(app),
            Action::Help | Action::Close => app.mode = Mode::Normal,
            _ => {}
        }
        return Vec::new();
    }
    act(app, action)
}

fn quit(app: &mut App) -> Vec<Cmd> {
    app.quitting = true;
    vec![Cmd::Quit]
}

fn act(app: &mut App, action: Action) -> Vec<Cmd> {
    let step = Duration::seconds(app.step_seconds());
    match action {
        Action::Quit => return quit(app),
        Action::Help => app.mode = Mode::Help,
        Action::Close => app.pending_target = None,
        Action::FocusNext => app.focus = app.focus.next(),
        Action::FocusPrev => app.focus = app.focus.previous(),
        Action::SelectUp => select(app, -1),
        Action::SelectDown => select(app, 1),
        Action::CursorLeft => app.cursor -= step,
        Action::CursorRight => app.cursor += step,
        Action::StepUp => app.step = (app.step + 1).min(STEPS.len() - 1),
        Action::StepDown => app.step = app.step.saturating_sub(1),
        Action::ZoomIn => zoom(app, -1),
        Action::ZoomOut => zoom(app, 1),
        Action::PrevBackup => jump(app, |d, at| previous_before(&d.backup_points, at)),
        Action::NextBackup => jump(app, |d, at| next_after(&d.backup_points, at)),
        Action::PrevGapEdge => jump(app, |d, at| previous_before(&d.gap_edges, at)),
        Action::NextGapEdge => jump(app, |d, at| next_after(&d.gap_edges, at)),
        Action::Start => jump(app, |d, _| d.extent.map(|e| e.0)),
        Action::End => jump(app, |d, _| d.extent.map(|e| e.1)),
        Action::TypeInstant => app.mode = Mode::Input(TimeInput::default()),
        Action::CycleZone => app.zone_index = (app.zone_index + 1) % app.zones.len(),
        Action::PrevTransaction => transactions::step(app, false, Seek::Transaction),
        Action::NextTransaction => transactions::step(app, true, Seek::Transaction),
        Action::PrevRestorePoint => transactions::step(app, false, Seek::RestorePoint),
        Action::NextRestorePoint => transactions::step(app, true, Seek::RestorePoint),
        Action::TargetBefore => transactions::pick_target(app),
        Action::SwapPane => app.transactions.swapped = !app.transactions.swapped,
        Action::OpenPlan => return wizard::open(app),
        Action::StartRun
        | Action::ToggleSide
        | Action::EditSide
        | Action::AddNote
        | Action::JournalView
        | Action::JumpNearest
        | Action::ScrollUp
        | Action::ScrollDown => {}
        Action::Drill => super::drill::open(app),
        Action::SwitchWal => super::live_tail::ask_switch(app),
    }
    Vec::new()
}

fn jump(
    app: &mut App,
    target: impl Fn(&RepoData, chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>>,
) {
    if let Some(at) = app.data().and_then(|d| target(d, app.cursor)) {
        app.cursor = at;
    }
}

fn zoom(app: &mut App, by: isize) {
    let zoom = app.view.zoom.saturating_add_signed(by).min(ZOOMS.len() - 1);
    if zoom != app.view.zoom {
        app.view.zoom = zoom;
        app.view = app.view.centred_on(app.cursor);
    }
}

/// Up/Down: the server list in the servers pane, the assessed timeline in the timeline pane.
fn select(app: &mut App, by: isize) {
    match app.focus {
        Focus::Servers if !app.servers.is_empty() => {
            app.selected_server = app
                .selected_server
                .saturating_add_signed(by)
                .min(app.servers.len() - 1);
        }
        Focus::Timeline => {
            let Some(data) = app.data() else { return };
            let timelines: Vec<_> = data.coverage.timelines.iter().map(|t| t.timeline).collect();
            let Some(current) = app
                .timeline
                .and_then(|t| timelines.iter().position(|x| *x == t))
            else {
                return;
            };
            let next = current.saturating_add_signed(by).min(timelines.len() - 1);
            app.timeline = Some(timelines[next]);
        }
        _ => {}
    }
}
