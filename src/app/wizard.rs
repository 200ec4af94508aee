//! The recovery wizard's model: the plan for an instant (the dry run), the typed
//! confirmation, the run driven by the engine's events, the operator's answers and notes,
//! and the journal. Pure: the engine runs in the event loop's tasks (`Cmd`s out, `Msg`s in).

pub mod journal_lines;
pub mod run;

use super::msg::{Cmd, RoleRefusal};
use super::state::{App, Mode};
use super::Action;
use crate::config::Role;
use crate::domain::target::RecoveryTarget;
use crate::engine::journal::Record;
use crate::engine::recovery::{FinalAction, RecoveryInputs, RestoreMode};
use crate::engine::roles::role_permits;
use crate::engine::{Decision, EngineEvent, PlanView};
use crate::planning::run_request::{Refused, RunRequest};
use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use journal_lines::JournalLine;
use run::RunState;
use std::path::PathBuf;
use tui_input::Input;

/// Lines PageUp/PageDown move the plan or the journal by.
const PAGE: u16 = 10;

/// A plan the engine prepared for the wizard's request: what the dry run shows and, once
/// confirmed, exactly what runs (same inputs, same run id, same checksum).
#[derive(Debug, Clone)]
pub struct PlanReady {
    pub inputs: RecoveryInputs,
    pub run_id: String,
    pub view: PlanView,
    pub notes: Vec<String>,
    pub wal: Option<(String, String)>,
    /// What promoting at the target discards (plan and decision say it).
    pub cost: Option<crate::planning::cost::Cost>,
    /// `--latest` over a gap: what is lost; starting needs the operator to say so.
    pub wal_loss: Option<String>,
}

impl PlanReady {
    /// What the operator types to start: the server's name, and with a WAL loss the words
    /// that accept it.
    pub fn confirmation_word(&self, server: &str) -> String {
        match self.wal_loss {
            Some(_) => format!("{server} lose-wal"),
            None => server.to_string(),
        }
    }
}

/// What the event loop needs to start the shown plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRun {
    pub inputs: RecoveryInputs,
    pub run_id: String,
    /// The checksum of the plan the operator read; a different plan is not started.
    pub checksum: String,
    /// The server's name as the operator typed it.
    pub confirmation: String,
}

#[derive(Debug, Clone)]
pub enum PlanState {
    Preparing,
    Ready(Box<PlanReady>),
    Refused(Refused),
}

#[derive(Debug, Clone)]
pub enum Modal {
    /// Typing the server's name to start.
    Confirm {
        input: Input,
        error: Option<String>,
    },
    /// Directory and port of a side restore.
    Side {
        dir: Input,
        port: Input,
        on_port: bool,
        error: Option<String>,
    },
    Note {
        input: Input,
    },
    /// `q` while the run goes on.
    Quit,
}

#[derive(Debug, Clone, Default)]
pub struct JournalPane {
    pub lines: Vec<JournalLine>,
    pub error: Option<String>,
    /// Lines scrolled up from the newest; 0 follows the run.
    pub back: u16,
}

#[derive(Debug, Clone)]
pub struct Wizard {
    pub request: RunRequest,
    /// The target in words: the instant, or "just before xid N (...)".
    pub label: String,
    pub plan: PlanState,
    pub scroll: u16,
    /// Which of a refusal's nearest instants `g` jumps to.
    pub nearest: usize,
    pub modal: Option<Modal>,
    pub run: Option<RunState>,
    pub journal: Option<JournalPane>,
    pub notice: Option<String>,
    /// The loop's clock at the last tick, for the running step's elapsed time.
    pub now: Option<DateTime<Utc>>,
}

impl Wizard {
    pub fn live(&self) -> bool {
        self.run.as_ref().is_some_and(RunState::live)
    }

    pub fn ready(&self) -> Option<&PlanReady> {
        match &self.plan {
            PlanState::Ready(p) => Some(p),
            _ => None,
        }
    }

    pub fn side(&self) -> Option<(&PathBuf, u16)> {
        match &self.request.mode {
            RestoreMode::Side { dir, port } => Some((dir, *port)),
            RestoreMode::InPlace => None,
        }
    }
}

/// What the role may start, for the title bar.
pub fn role_scope(role: Role) -> &'static str {
    match role {
        Role::Operator => "may recover",
        Role::Drill => "side restores only",
        Role::Trainee => "read-only",
    }
}

/// Enter: the plan for the target picked in the transactions pane, else for the cursor.
pub fn open(app: &mut App) -> Vec<Cmd> {
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
        options: super::drill::timeline_options(app.timeline),
    };
    app.wizard = Some(Wizard {
        request: request.clone(),
        label,
        plan: PlanState::Preparing,
        scroll: 0,
        nearest: 0,
        modal: None,
        run: None,
        journal: None,
        notice: None,
        now: None,
    });
    vec![Cmd::Prepare(request)]
}

/// A plan (or refusal) came back; one for an earlier request is dropped.
pub fn on_prepared(app: &mut App, request: RunRequest, result: Result<Box<PlanReady>, Refused>) {
    let Some(w) = app.wizard.as_mut().filter(|w| w.request == request) else {
        return;
    };
    if w.run.is_some() {
        return;
    }
    w.scroll = 0;
    w.nearest = 0;
    w.plan = match result {
        Ok(p) => PlanState::Ready(p),
        Err(r) => PlanState::Refused(r),
    };
}

pub fn on_engine(app: &mut App, event: EngineEvent) {
    if let Some(w) = app.wizard.as_mut() {
        let now = w.now;
        if let Some(run) = w.run.as_mut() {
            run.apply(event, now);
        }
    }
}

pub fn on_not_started(app: &mut App, error: String) {
    if let Some(run) = app.wizard.as_mut().and_then(|w| w.run.as_mut()) {
        run.not_started = Some(error);
    }
}

/// Keeps the clock, and the journal view fresh while the run goes on.
pub fn on_tick(app: &mut App, now: DateTime<Utc>) -> Vec<Cmd> {
    let Some(w) = app.wizard.as_mut() else {
        return Vec::new();
    };
    w.now = Some(now);
    journal_refresh(w)
}

fn journal_refresh(w: &Wizard) -> Vec<Cmd> {
    match (&w.journal, w.run.as_ref().and_then(|r| r.journal.clone())) {
        (Some(_), Some(path)) => vec![Cmd::ReadJournal(path)],
        _ => Vec::new(),
    }
}

pub fn on_journal(app: &mut App, result: Result<Vec<Record>, String>) {
    let zone = app.zone();
    if let Some(pane) = app.wizard.as_mut().and_then(|w| w.journal.as_mut()) {
        match result {
            Ok(records) => {
                pane.lines = journal_lines::format(&records, &zone);
                pane.error = None;
            }
            Err(e) => pane.error = Some(e),
        }
    }
}

pub fn on_note_written(app: &mut App, result: Result<(), String>) {
    if let (Some(w), Err(e)) = (app.wizard.as_mut(), result) {
        w.notice = Some(format!("the note was not journaled: {e}"));
    }
}

fn quit(app: &mut App) -> Vec<Cmd> {
    app.quitting = true;
    vec![Cmd::Quit]
}

/// Keys while the wizard is open: a modal first, then the engine's question, then actions.
pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let Some(w) = app.wizard.as_mut() else {
        return Vec::new();
    };
    if w.modal.is_some() {
        return modal_key(app, key);
    }
    if w.run.as_ref().is_some_and(|r| r.question.is_some()) {
        if let Some(cmds) = question_key(w, key) {
            return cmds;
        }
    }
    let Some(action) = app.keymap.action_for(&key) else {
        return Vec::new();
    };
    act(app, action)
}

fn act(app: &mut App, action: Action) -> Vec<Cmd> {
    let role = app.role;
    let Some(w) = app.wizard.as_mut() else {
        return Vec::new();
    };
    match action {
        Action::Quit if w.live() => w.modal = Some(Modal::Quit),
        Action::Quit => return quit(app),
        Action::Help => app.mode = Mode::Help,
        Action::Close => return close(app),
        Action::StartRun => return start(w, role),
        Action::ToggleSide => return toggle_side(w),
        Action::EditSide => edit_side(w),
        Action::AddNote if w.live() => {
            w.modal = Some(Modal::Note {
                input: Input::default(),
            })
        }
        Action::AddNote => {
            w.notice = Some("notes go into a run's journal: start the run first".into())
        }
        Action::JournalView if w.journal.is_some() => w.journal = None,
        Action::JournalView => {
            w.journal = Some(JournalPane::default());
            return journal_refresh(w);
        }
        Action::JumpNearest => return jump_nearest(app),
        Action::SelectUp => scroll(w, -1),
        Action::SelectDown => scroll(w, 1),
        Action::ScrollUp => scroll(w, -i32::from(PAGE)),
        Action::ScrollDown => scroll(w, i32::from(PAGE)),
        _ => {}
    }
    Vec::new()
}

/// Esc: the journal view, then a notice, then the wizard itself while nothing runs. After
/// a run the repositories and servers are read again: the run made WAL, maybe a timeline.
fn close(app: &mut App) -> Vec<Cmd> {
    let Some(w) = app.wizard.as_mut() else {
        return Vec::new();
    };
    if w.journal.take().is_some() || w.notice.take().is_some() {
        return Vec::new();
    }
    if w.live() {
        w.notice = Some(
            "the run has begun and cannot be backed out of: answer its questions, or q to quit (the run can be resumed)"
                .into(),
        );
        return Vec::new();
    }
    let ran = w.run.as_ref().is_some_and(|r| r.finished.is_some());
    app.wizard = None;
    if !ran {
        return Vec::new();
    }
    app.pending_target = None;
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
    cmds
}

fn scroll(w: &mut Wizard, by: i32) {
    if let Some(pane) = w.journal.as_mut() {
        pane.back = clamp_add(pane.back, -by);
    } else if let PlanState::Refused(r) = &w.plan {
        if !r.nearest.is_empty() {
            w.nearest =
                (w.nearest as i32 + by.signum()).clamp(0, r.nearest.len() as i32 - 1) as usize;
        }
    } else if w.run.is_none() {
        w.scroll = clamp_add(w.scroll, by);
    }
}

fn clamp_add(v: u16, by: i32) -> u16 {
    (i32::from(v) + by).clamp(0, i32::from(u16::MAX)) as u16
}

/// Why `role` may not start this plan, in the console's words; None when it may.
pub fn role_refusal(role: Role, mode: &RestoreMode, server: &str) -> Option<String> {
    role_permits(role, mode, server).err().map(|_| match role {
        Role::Trainee => "refused by role trainee: a trainee may read plans and explore, never start a recovery".to_string(),
        _ => format!(
            "refused by role drill: a drill restores beside production only; press s for a side restore of {server} (e sets its directory and port)"
        ),
    })
}

/// Opens the confirmation, or refuses; a role's refusal is journaled as the CLI's is.
fn start(w: &mut Wizard, role: Role) -> Vec<Cmd> {
    if w.run.is_some() {
        w.notice = Some("this plan already ran; Esc closes the wizard once it is over".into());
        return Vec::new();
    }
    let Some(p) = w.ready() else {
        w.notice = Some("there is no plan to start: see the reason above".into());
        return Vec::new();
    };
    if let Some(refusal) = role_refusal(role, &p.inputs.mode, &p.inputs.server.name) {
        let cmd = Cmd::JournalRefusal(Box::new(RoleRefusal {
            server: p.inputs.server.name.clone(),
            target: p.inputs.target.to_string(),
            role,
            reason: refusal.clone(),
        }));
        w.notice = Some(refusal);
        return vec![cmd];
    }
    w.modal = Some(Modal::Confirm {
        input: Input::default(),
        error: None,
    });
    Vec::new()
}

/// The refusal's journal, named after the refusal already shown.
pub fn on_refusal_journaled(app: &mut App, result: Result<PathBuf, String>) {
    let Some(w) = app.wizard.as_mut() else {
        return;
    };
    let said = match result {
        Ok(path) => format!("; the refusal is journaled in {}", path.display()),
        Err(e) => format!(" (and the refusal could not be journaled: {e})"),
    };
    if let Some(n) = w.notice.as_mut() {
        n.push_str(&said);
    }
}

/// Re-prepares the plan after the restore mode changed.
fn reprepare(w: &mut Wizard, mode: RestoreMode) -> Vec<Cmd> {
    w.request.mode = mode;
    w.plan = PlanState::Preparing;
    vec![Cmd::Prepare(w.request.clone())]
}

fn toggle_side(w: &mut Wizard) -> Vec<Cmd> {
    if w.run.is_some() {
        return Vec::new();
    }
    if w.side().is_some() {
        return reprepare(w, RestoreMode::InPlace);
    }
    let Some((dir, port)) = side_defaults(w) else {
        w.notice = Some("a side restore needs a plan first: see the reason above".into());
        return Vec::new();
    };
    reprepare(w, RestoreMode::Side { dir, port })
}

/// `side-<run>` beside the server's data directory (where its OS user can write, and the
/// engine puts the side instance's log next to it), on the server's port + 1.
fn side_defaults(w: &Wizard) -> Option<(PathBuf, u16)> {
    let p = w.ready()?;
    let parent = p
        .inputs
        .server
        .pgdata
        .parent()
        .map_or_else(|| p.inputs.journal_dir.clone(), PathBuf::from);
    Some((
        parent.join(format!("side-{}", p.run_id)),
        p.inputs.server.port.saturating_add(1),
    ))
}

fn edit_side(w: &mut Wizard) {
    if w.run.is_some() {
        return;
    }
    let Some((dir, port)) = w
        .side()
        .map(|(d, p)| (d.clone(), p))
        .or_else(|| side_defaults(w))
    else {
        w.notice = Some("a side restore needs a plan first: see the reason above".into());
        return;
    };
    w.modal = Some(Modal::Side {
        dir: Input::new(dir.display().to_string()),
        port: Input::new(port.to_string()),
        on_port: false,
        error: None,
    });
}

fn jump_nearest(app: &mut App) -> Vec<Cmd> {
    let Some(w) = app.wizard.as_ref() else {
        return Vec::new();
    };
    if w.run.is_some() {
        return Vec::new();
    }
    let PlanState::Refused(r) = &w.plan else {
        return Vec::new();
    };
    let Some(at) = r.nearest.get(w.nearest).copied() else {
        return Vec::new();
    };
    app.cursor = at;
    app.pending_target = None;
    open(app)
}

fn edit(input: &mut Input, key: KeyEvent) {
    if let Some(req) = tui_input::backend::crossterm::to_input_request(&Event::Key(key)) {
        input.handle(req);
    }
}

fn modal_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let Some(w) = app.wizard.as_mut() else {
        return Vec::new();
    };
    let word = w.ready().map(|p| p.confirmation_word(&w.request.server));
    let Some(modal) = w.modal.as_mut() else {
        return Vec::new();
    };
    match modal {
        Modal::Quit => match key.code {
            KeyCode::Char('y') => return quit(app),
            KeyCode::Char('n') | KeyCode::Esc => w.modal = None,
            _ => {}
        },
        Modal::Note { input } => match key.code {
            KeyCode::Esc => w.modal = None,
            KeyCode::Enter => {
                let text = input.value().trim().to_string();
                w.modal = None;
                if !text.is_empty() {
                    if let Some(run) = w.run.as_mut() {
                        run.notes.push(text.clone());
                    }
                    return vec![Cmd::WriteNote(text)];
                }
            }
            _ => edit(input, key),
        },
        Modal::Confirm { input, error } => match key.code {
            KeyCode::Esc => w.modal = None,
            KeyCode::Enter => {
                let typed = input.value().to_string();
                let Some(word) = word else {
                    w.modal = None;
                    return Vec::new();
                };
                if typed != word {
                    *error = Some(if word == w.request.server {
                        format!("`{typed}` is not the server's name: type `{word}` exactly, or Esc")
                    } else {
                        format!("`{typed}` is not `{word}`: type it exactly to accept the WAL loss, or Esc")
                    });
                    return Vec::new();
                }
                let Some(p) = w.ready() else {
                    w.modal = None;
                    return Vec::new();
                };
                let typed = w.request.server.clone();
                let start = StartRun {
                    inputs: p.inputs.clone(),
                    run_id: p.run_id.clone(),
                    checksum: p.view.checksum.clone(),
                    confirmation: typed,
                };
                let run = RunState::new(p);
                w.modal = None;
                w.journal = None;
                w.notice = None;
                w.run = Some(run);
                return vec![Cmd::StartRun(Box::new(start))];
            }
            _ => {
                edit(input, key);
                *error = None;
            }
        },
        Modal::Side {
            dir,
            port,
            on_port,
            error,
        } => match key.code {
            KeyCode::Esc => w.modal = None,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => *on_port = !*on_port,
            KeyCode::Enter => {
                let Ok(p) = port.value().trim().parse::<u16>() else {
                    *error = Some(format!(
                        "port `{}` is not a port number (1-65535)",
                        port.value()
                    ));
                    return Vec::new();
                };
                let d = PathBuf::from(dir.value().trim());
                if !d.is_absolute() {
                    *error = Some(format!(
                        "directory `{}`: give an absolute path for the side instance",
                        d.display()
                    ));
                    return Vec::new();
                }
                w.modal = None;
                return reprepare(w, RestoreMode::Side { dir: d, port: p });
            }
            _ => {
                edit(if *on_port { port } else { dir }, key);
                *error = None;
            }
        },
    }
    Vec::new()
}

/// The letter that answers with each decision, as the modal shows it.
pub fn decision_key(d: &Decision) -> char {
    match d {
        Decision::Promote => 'p',
        Decision::RollBack => 'b',
        Decision::Retry => 'r',
        Decision::MarkDone => 'm',
        Decision::Abort => 'a',
        Decision::Confirm(_) => '\n',
    }
}

/// Answers the engine's question. None lets other keys (notes, journal, quit) through.
fn question_key(w: &mut Wizard, key: KeyEvent) -> Option<Vec<Cmd>> {
    let run = w.run.as_mut()?;
    let asked = run.question.as_mut()?;
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    let answer = if asked.typed() {
        match key.code {
            _ if ctrl_c => return None,
            KeyCode::Enter => Decision::Confirm(asked.input.value().to_string()),
            KeyCode::Esc => Decision::Abort,
            _ => {
                edit(&mut asked.input, key);
                return Some(Vec::new());
            }
        }
    } else {
        let KeyCode::Char(c) = key.code else {
            return None;
        };
        asked
            .options
            .iter()
            .find(|o| decision_key(o) == c)
            .cloned()?
    };
    run.question = None;
    Some(vec![Cmd::Decide(answer)])
}
