//! `update`: the only writer of `App`, one message at a time. Sub-models (wizard, drill,
//! transactions, live tail) change their own state through their methods and hand back
//! what the console around them must do; this folder applies it.

mod keys;
mod open;
mod tail;
mod tx;

use super::geometry;
use super::msg::{Cmd, Msg};
use super::repo::RepoData;
use super::state::{
    App, Mode, RepoState, HEALTH_REFRESH, HEALTH_STALE, PROBE_STALE, SERVER_REFRESH, SWITCH_REFRESH,
};
use crossterm::event::KeyEventKind;

pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => keys::on_key(app, key),
        Msg::Key(_) => Vec::new(),
        Msg::Resize { width, height } => {
            app.view.columns = geometry::timeline_columns(width);
            app.size = (width, height);
            Vec::new()
        }
        Msg::Tick { now } => {
            app.now = Some(now);
            let mut cmds = probes_due(app, now);
            if let Some(w) = app.wizard.as_mut() {
                cmds.extend(w.on_tick(now));
            }
            if let Some(d) = app.drill.as_mut() {
                d.on_tick(now);
            }
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
        Msg::Health(h) => {
            let now = app.now.unwrap_or_else(chrono::Utc::now);
            if let Some(row) = app.servers.iter_mut().find(|s| s.name == h.server) {
                row.health_asked = None;
                row.health = Some((now, *h));
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
            if let Mode::Unfinished(b) = &mut app.mode {
                b.selected = b.selected.min(app.unfinished.len().saturating_sub(1));
            }
            Vec::new()
        }
        Msg::UnfinishedDone { journal, result } => open::unfinished_done(app, journal, result),
        Msg::TailRead { server, result } => {
            tail::on_read(app, &server, result);
            Vec::new()
        }
        Msg::WalSwitched { server, result } => tail::on_switched(app, &server, result),
        Msg::RelationNames { server, result } => {
            app.transactions.names_resolved(&server, result);
            Vec::new()
        }
        other => run_msg(app, other),
    };
    cmds.extend(tail::follow(app));
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

/// What the wizard's and the drill's runs report.
fn run_msg(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let zone = app.zone_choice().zone;
    match msg {
        Msg::Prepared { request, result } => {
            if let Some(w) = app.wizard.as_mut() {
                w.on_prepared(&request, result);
            }
            Vec::new()
        }
        Msg::Engine(event) => {
            let cmds = app
                .drill
                .as_mut()
                .map(|d| d.on_engine(&event, zone))
                .unwrap_or_default();
            if let Some(w) = app.wizard.as_mut() {
                w.on_engine(event);
            }
            cmds
        }
        Msg::RefusalJournaled(result) => {
            if let Some(w) = app.wizard.as_mut() {
                w.on_refusal_journaled(result);
            }
            Vec::new()
        }
        Msg::RunNotStarted(error) => {
            if let Some(d) = app.drill.as_mut() {
                d.on_not_started(&error);
            }
            if let Some(w) = app.wizard.as_mut() {
                w.on_not_started(error);
            }
            Vec::new()
        }
        Msg::DrillPrepared(result) => app
            .drill
            .as_mut()
            .map(|d| d.on_prepared(result, zone))
            .unwrap_or_default(),
        Msg::DrillConcluded(result) => {
            if let Some(d) = app.drill.as_mut() {
                d.on_concluded(result);
            }
            Vec::new()
        }
        Msg::JournalRead(result) => {
            if let Some(w) = app.wizard.as_mut() {
                w.on_journal(result, &zone);
            } else if let Mode::Unfinished(b) = &mut app.mode {
                b.on_journal(result, &zone);
            }
            Vec::new()
        }
        Msg::ServerLogRead(result) => {
            if let Some(w) = app.wizard.as_mut() {
                w.on_server_log(result);
            }
            Vec::new()
        }
        Msg::NoteWritten(result) => {
            if let Some(w) = app.wizard.as_mut() {
                w.on_note_written(result);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
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
        let check_due = match (&s.health_asked, &s.health) {
            (Some(since), _) => now - *since >= HEALTH_STALE,
            (None, Some((at, _))) => now - *at >= HEALTH_REFRESH,
            (None, None) => true,
        };
        if check_due {
            s.health_asked = Some(now);
            cmds.push(Cmd::CheckHealth {
                server: s.name.clone(),
            });
        }
    }
    cmds
}

/// Every repository read again and every server probed: after a run, and on `R`.
fn reload(app: &mut App) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = app
        .repos
        .iter()
        .map(|r| Cmd::LoadCatalog {
            repository: r.name.clone(),
        })
        .collect();
    cmds.extend(app.servers.iter().map(|s| Cmd::ProbeServer {
        server: s.name.clone(),
    }));
    cmds.extend(app.servers.iter().map(|s| Cmd::CheckHealth {
        server: s.name.clone(),
    }));
    cmds.push(Cmd::ListUnfinished);
    cmds
}
