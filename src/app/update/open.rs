//! Opening and closing what covers the panes (the wizard, the drill, the unfinished-run
//! box), and applying what they hand back.

use super::reload;
use crate::app::drill::{DrillScreen, KeyOutcome};
use crate::app::help::HelpState;
use crate::app::keymap::Action;
use crate::app::msg::Cmd;
use crate::app::state::{App, Mode};
use crate::app::unfinished::RunAction;
use crate::app::unfinished_box::UnfinishedBox;
use crate::app::wizard::{Outcome, Wizard};
use crate::config::Role;
use crate::domain::target::RecoveryTarget;
use crate::engine::recovery::{FinalAction, RestoreMode};
use crate::planning::run_request::RunRequest;
use std::path::PathBuf;

/// `?` (F1 in a text box): the help over whatever is open; a box under it is kept, so a
/// half-typed instant or the unfinished runs are there again when the help closes.
pub(super) fn open_help(app: &mut App) {
    if matches!(app.mode, Mode::Help(..)) {
        return;
    }
    let under = std::mem::replace(&mut app.mode, Mode::Normal);
    app.mode = Mode::Help(
        HelpState::default(),
        (!matches!(under, Mode::Normal)).then(|| Box::new(under)),
    );
}

/// Enter: the plan for the target picked in the transactions pane, else for the cursor.
pub(super) fn wizard(app: &mut App) -> Vec<Cmd> {
    let Some(server) = app.servers.get(app.selected_server).map(|s| s.name.clone()) else {
        app.transactions.notice =
            Some("no [[server]] configured: there is nothing to recover".into());
        return Vec::new();
    };
    let (server, target, label) = match &app.pending_target {
        Some(p) => (p.server.clone(), p.target.clone(), p.label.clone()),
        None => (
            server,
            RecoveryTarget::Time {
                at: app.cursor,
                inclusive: true,
            },
            format!("{} (inclusive)", app.zone().format(app.cursor)),
        ),
    };
    let Some(journal_dir) = app.journal_dir.clone() else {
        app.transactions.notice = Some(
            "no journal_dir configured and no home directory to default to: set journal_dir".into(),
        );
        return Vec::new();
    };
    let request = RunRequest {
        server,
        target,
        mode: RestoreMode::InPlace,
        action: FinalAction::Pause,
        role: app.role,
        journal_dir,
        zone: app.zone(),
        options: crate::app::drill::timeline_options(app.timeline),
        backup: None,
    };
    let (w, cmd) = Wizard::open(request, label);
    app.wizard = Some(w);
    vec![cmd]
}

/// What the wizard handed back after a key.
pub(super) fn wizard_outcome(app: &mut App, outcome: Outcome) -> Vec<Cmd> {
    match outcome {
        Outcome::Stay(cmds) => cmds,
        Outcome::Quit => quit(app),
        Outcome::Help => {
            open_help(app);
            Vec::new()
        }
        Outcome::Closed { ran } => {
            app.wizard = None;
            if !ran {
                return Vec::new();
            }
            // The run made WAL, maybe a timeline: read everything again.
            app.pending_target = None;
            reload(app)
        }
        Outcome::PickBackup { current } => {
            let next = next_backup(app, &current);
            match (app.wizard.as_mut(), next) {
                (Some(w), Some(b)) => vec![w.pick_backup(b)],
                (Some(w), None) => {
                    w.notice = Some(format!(
                        "{current} is the only backup in the catalog: there is no other to pick"
                    ));
                    Vec::new()
                }
                (None, _) => Vec::new(),
            }
        }
        Outcome::PlanAt(at) => {
            app.cursor = at;
            app.pending_target = None;
            wizard(app)
        }
    }
}

/// The catalog's backup after `current`, oldest first by consistency point, wrapping round.
fn next_backup(app: &App, current: &str) -> Option<String> {
    let mut backups: Vec<_> = app.data()?.catalog.backups.iter().collect();
    backups.sort_by_key(|b| (b.stop_lsn, b.id.clone()));
    let at = backups.iter().position(|b| b.id == current)?;
    let next = backups.get((at + 1) % backups.len())?;
    (next.id != current).then(|| next.id.clone())
}

pub(super) fn quit(app: &mut App) -> Vec<Cmd> {
    app.quitting = true;
    vec![Cmd::Quit]
}

/// `D`: the drill for the selected server, to the picked target or else just before the
/// cursor's instant.
pub(super) fn drill(app: &mut App) {
    let picked = app.pending_target.clone();
    let Some(server) = picked
        .as_ref()
        .map(|p| p.server.clone())
        .or_else(|| app.servers.get(app.selected_server).map(|s| s.name.clone()))
    else {
        return;
    };
    let target = picked.map_or(
        RecoveryTarget::Time {
            at: app.cursor,
            inclusive: false,
        },
        |p| p.target,
    );
    app.drill = Some(DrillScreen::new(
        &app.checklist,
        &server,
        target,
        app.role == Role::Trainee,
    ));
}

/// An action on the drill screen; only quitting and help pass through it.
pub(super) fn drill_action(app: &mut App, action: Action) -> Vec<Cmd> {
    let (role, zone, timeline) = (app.role, app.zone_choice().zone, app.timeline);
    let Some(d) = app.drill.as_mut() else {
        return Vec::new();
    };
    match d.act(action) {
        KeyOutcome::Handled => {}
        KeyOutcome::Start => return vec![d.start(role, &app.checklist, zone, timeline)],
        KeyOutcome::Close if d.in_flight() => {}
        KeyOutcome::Close => app.drill = None,
        KeyOutcome::Ignored => match action {
            Action::Quit => return quit(app),
            Action::Help => open_help(app),
            _ => {}
        },
    }
    Vec::new()
}

/// `u`: the runs left unfinished here, when there are any.
pub(super) fn unfinished(app: &mut App) {
    if app.unfinished.is_empty() {
        app.transactions.notice = Some("no run is left unfinished on this host".into());
        return;
    }
    app.mode = Mode::Unfinished(UnfinishedBox::default());
}

/// An action in the unfinished-run box: each change is asked about first, and goes through
/// the engine calls `pitr-console resume`, `rollback` and `abandon` use.
pub(super) fn unfinished_action(app: &mut App, action: Action) -> Vec<Cmd> {
    let role = app.role;
    let Mode::Unfinished(b) = &mut app.mode else {
        return Vec::new();
    };
    let Some(run) = app.unfinished.get(b.selected) else {
        app.mode = Mode::Normal;
        return Vec::new();
    };
    let journal = run.journal.clone();
    if let Some(asked) = b.asking.take() {
        if action != Action::Confirm {
            b.notice = Some(format!("{} cancelled", asked.words()));
            return Vec::new();
        }
        b.notice = Some(format!("{}: under way…", asked.words()));
        b.busy = true;
        return vec![Cmd::UnfinishedRun {
            journal,
            action: asked,
            role,
        }];
    }
    let ask = |b: &mut UnfinishedBox, a: RunAction| {
        if b.busy {
            b.notice = Some("the last action is still under way".into());
        } else if role == Role::Trainee {
            b.notice = Some(format!(
                "refused by role trainee: a trainee may look at runs, not {}",
                a.words()
            ));
        } else {
            b.asking = Some(a);
        }
    };
    match action {
        Action::Quit => return quit(app),
        Action::Help => open_help(app),
        Action::Close => app.mode = Mode::Normal,
        Action::SelectUp => {
            b.selected = b.selected.saturating_sub(1);
            b.lines = None;
        }
        Action::SelectDown => {
            b.selected = (b.selected + 1).min(app.unfinished.len() - 1);
            b.lines = None;
        }
        Action::OpenRun => {
            b.lines = Some(Vec::new());
            return vec![Cmd::ReadJournal(journal)];
        }
        Action::Resume => ask(b, RunAction::Resume),
        Action::Promote => ask(b, RunAction::Promote),
        Action::RollBack => ask(b, RunAction::RollBack),
        Action::Abandon => ask(b, RunAction::Abandon),
        _ => {}
    }
    Vec::new()
}

/// What an unfinished run's action came to; the list is read again either way.
pub(super) fn unfinished_done(
    app: &mut App,
    journal: PathBuf,
    result: Result<String, String>,
) -> Vec<Cmd> {
    if let Mode::Unfinished(b) = &mut app.mode {
        b.busy = false;
        b.notice = Some(match result {
            Ok(said) => said,
            Err(e) => format!("{}: {e}", journal.display()),
        });
    }
    reload(app)
}
