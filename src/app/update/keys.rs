//! Keys: the screen on top picks the keymap contexts (`screen::top`), the keymap turns the
//! key into an action, and the screen's model takes it; a key that is no action is typed
//! when the screen takes text.

use super::{open, reload, tail, tx};
use crate::app::keymap::Action;
use crate::app::msg::Cmd;
use crate::app::repo::{next_after, previous_before, RepoData};
use crate::app::screen::{self, Screen};
use crate::app::state::{App, Focus, Mode, TimeInput};
use crate::app::transactions::Seek;
use crate::app::view::{STEPS, ZOOMS};
use crate::domain::time_input::parse_instant;
use chrono::Duration;
use crossterm::event::{Event, KeyEvent};

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let screen = screen::top(app);
    let Some(action) = app.keymap.action(screen.stack(), &key) else {
        if screen.takes_text() {
            type_key(app, screen, key);
        } else if screen == Screen::SwitchPrompt {
            return tail::confirm_switch(app, false);
        } else if screen == Screen::UnfinishedConfirm {
            return open::unfinished_action(app, Action::Cancel);
        }
        return Vec::new();
    };
    let role = app.role;
    match screen {
        Screen::Main => main_action(app, action),
        Screen::Unfinished | Screen::UnfinishedConfirm => open::unfinished_action(app, action),
        Screen::TimeInput => time_input(app, action),
        Screen::SwitchPrompt => tail::confirm_switch(app, action == Action::Confirm),
        Screen::Drill | Screen::DrillSign => open::drill_action(app, action),
        Screen::Wizard(_) => match app.wizard.as_mut() {
            Some(w) => {
                let outcome = w.act(action, role);
                open::wizard_outcome(app, outcome)
            }
            None => Vec::new(),
        },
        Screen::Help | Screen::HelpSearch => help_action(app, action),
    }
}

fn type_key(app: &mut App, screen: Screen, key: KeyEvent) {
    let Some(req) = tui_input::backend::crossterm::to_input_request(&Event::Key(key)) else {
        return;
    };
    match (screen, &mut app.mode) {
        (Screen::TimeInput, Mode::Input(input)) => {
            input.input.handle(req);
            input.error = None;
        }
        (Screen::HelpSearch, Mode::Help(h, _)) => h.type_request(req),
        (Screen::DrillSign, _) => {
            if let Some(d) = app.drill.as_mut() {
                d.type_key(key);
            }
        }
        (Screen::Wizard(_), _) => {
            if let Some(w) = app.wizard.as_mut() {
                w.type_key(key);
            }
        }
        _ => {}
    }
}

fn time_input(app: &mut App, action: Action) -> Vec<Cmd> {
    let zone = app.zone();
    let Mode::Input(input) = &mut app.mode else {
        return Vec::new();
    };
    match action {
        Action::Quit => return open::quit(app),
        Action::Help => open::open_help(app),
        Action::Cancel => app.mode = Mode::Normal,
        Action::Submit => match parse_instant(input.input.value(), zone) {
            Ok(at) => {
                app.mode = Mode::Normal;
                app.cursor = at;
            }
            Err(e) => input.error = Some(e.to_string()),
        },
        _ => {}
    }
    Vec::new()
}

fn help_action(app: &mut App, action: Action) -> Vec<Cmd> {
    let under = screen::beneath_help(app);
    let (keymap, size) = (&app.keymap, app.size);
    let Mode::Help(h, below) = &mut app.mode else {
        return Vec::new();
    };
    let close = h.act(action, keymap, under.stack(), size);
    match action {
        Action::Quit if close => return open::quit(app),
        _ if close => app.mode = below.take().map_or(Mode::Normal, |m| *m),
        _ => {}
    }
    Vec::new()
}

fn main_action(app: &mut App, action: Action) -> Vec<Cmd> {
    let step = Duration::seconds(app.step_seconds());
    match action {
        Action::Quit => return open::quit(app),
        Action::Help => open::open_help(app),
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
        Action::PrevTransaction => tx::step(app, false, Seek::Transaction),
        Action::NextTransaction => tx::step(app, true, Seek::Transaction),
        Action::PrevRestorePoint => tx::step(app, false, Seek::RestorePoint),
        Action::NextRestorePoint => tx::step(app, true, Seek::RestorePoint),
        Action::TargetBefore => tx::pick_target(app),
        Action::SwapPane => app.transactions.swapped = !app.transactions.swapped,
        Action::OpenPlan => return open::wizard(app),
        Action::Drill => open::drill(app),
        Action::SwitchWal => tail::ask_switch(app),
        Action::Reload => {
            app.transactions.notice = Some("reading every repository and server again".to_string());
            return reload(app);
        }
        Action::Unfinished => open::unfinished(app),
        _ => {}
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
