//! The recovery wizard's model: the plan for an instant (the dry run), the typed
//! confirmation, the run driven by the engine's events, the operator's answers and notes,
//! and the journal. Pure, and it owns its state: keys arrive as actions (`Wizard::act`) or
//! as text for its boxes, and what the console around it must do comes back as an
//! `Outcome`; the engine runs in the event loop's tasks (`Cmd`s out, `Msg`s in).

pub mod journal_lines;
pub mod run;

pub use super::plan_ready::{PlanReady, StartRun};

use super::keymap::Action;
use super::msg::{Cmd, RoleRefusal};
use crate::config::Role;
use crate::domain::zone::Zone;
use crate::engine::journal::Record;
use crate::engine::recovery::RestoreMode;
use crate::engine::roles::{self, role_permits};
use crate::engine::{Decision, EngineEvent, Question};
use crate::planning::run_request::{Refused, RunRequest};
use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyEvent};
use journal_lines::JournalLine;
use run::RunState;
use std::path::PathBuf;
use tui_input::Input;

/// Lines PageUp/PageDown move the plan or the journal by.
const PAGE: u16 = 10;

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
    /// While a backup picked by hand is planned: the plan shown before, and its pick.
    shown: Option<(Box<PlanReady>, Option<String>)>,
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

/// Where the wizard stands, for the screen stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WizardScreen {
    Plan,
    Run,
    Journal,
    /// The run paused at its target: promote or roll back.
    Decision,
    /// A step failed or was interrupted: retry, mark done, roll back, abort.
    Failure,
    /// The engine waits for a typed answer (the server's name, `leader`).
    TypedAnswer,
    /// The confirmation, side restore or note box.
    Box,
    /// `q` while the run goes on.
    QuitPrompt,
}

/// What the console around the wizard must do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The wizard stays; these commands run.
    Stay(Vec<Cmd>),
    Quit,
    Help,
    /// The wizard is closed; `ran` when a run ended in it (what it changed is read again).
    Closed {
        ran: bool,
    },
    /// After a refusal: plan again for this instant.
    PlanAt(DateTime<Utc>),
    /// `B`: plan again with the catalog's backup after this one.
    PickBackup {
        current: String,
    },
}

impl Outcome {
    fn none() -> Outcome {
        Outcome::Stay(Vec::new())
    }
}

impl Wizard {
    /// A wizard preparing the plan for `request`; the command asks for it.
    pub fn open(request: RunRequest, label: String) -> (Wizard, Cmd) {
        let cmd = Cmd::Prepare(request.clone());
        let w = Wizard {
            request,
            label,
            plan: PlanState::Preparing,
            scroll: 0,
            nearest: 0,
            modal: None,
            run: None,
            journal: None,
            notice: None,
            now: None,
            shown: None,
        };
        (w, cmd)
    }

    /// Which keys it takes now: a box first, then the journal, then the engine's question.
    pub fn screen(&self) -> WizardScreen {
        match &self.modal {
            Some(Modal::Quit) => return WizardScreen::QuitPrompt,
            Some(_) => return WizardScreen::Box,
            None => {}
        }
        if self.journal.is_some() {
            return WizardScreen::Journal;
        }
        match self.run.as_ref() {
            Some(r) => match &r.question {
                Some(a) if a.typed() => WizardScreen::TypedAnswer,
                Some(a) if matches!(a.question, Question::PromoteOrRollBack) => {
                    WizardScreen::Decision
                }
                Some(_) => WizardScreen::Failure,
                None => WizardScreen::Run,
            },
            None => WizardScreen::Plan,
        }
    }

    /// Plans again with `backup` picked by hand; the plan shown stays until the new one
    /// comes, and comes back if that backup cannot reach the target.
    pub fn pick_backup(&mut self, backup: String) -> Cmd {
        if let PlanState::Ready(p) = &self.plan {
            self.shown = Some((p.clone(), self.request.backup.clone()));
        }
        self.request.backup = Some(backup);
        self.plan = PlanState::Preparing;
        Cmd::Prepare(self.request.clone())
    }

    /// A plan (or refusal) came back; one for an earlier request is dropped.
    pub fn on_prepared(&mut self, request: &RunRequest, result: Result<Box<PlanReady>, Refused>) {
        if self.request != *request || self.run.is_some() {
            return;
        }
        if let (Err(r), Some((plan, backup))) = (&result, self.shown.take()) {
            self.notice = Some(format!(
                "backup {} not used: {}",
                self.request.backup.as_deref().unwrap_or_default(),
                r.refusal
            ));
            self.request.backup = backup;
            self.plan = PlanState::Ready(plan);
            return;
        }
        self.shown = None;
        self.scroll = 0;
        self.nearest = 0;
        self.plan = match result {
            Ok(p) => PlanState::Ready(p),
            Err(r) => PlanState::Refused(r),
        };
    }

    pub fn on_engine(&mut self, event: EngineEvent) {
        let now = self.now;
        if let Some(run) = self.run.as_mut() {
            run.apply(event, now);
        }
    }

    pub fn on_not_started(&mut self, error: String) {
        if let Some(run) = self.run.as_mut() {
            run.not_started = Some(error);
        }
    }

    /// Keeps the clock, and the journal view fresh while the run goes on.
    pub fn on_tick(&mut self, now: DateTime<Utc>) -> Vec<Cmd> {
        self.now = Some(now);
        self.journal_refresh()
    }

    fn journal_refresh(&self) -> Vec<Cmd> {
        let mut cmds = match (
            &self.journal,
            self.run.as_ref().and_then(|r| r.journal.clone()),
        ) {
            (Some(_), Some(path)) => vec![Cmd::ReadJournal(path)],
            _ => Vec::new(),
        };
        cmds.extend(self.run.as_ref().and_then(RunState::log_read));
        cmds
    }

    /// The recovered server's log, read again.
    pub fn on_server_log(&mut self, result: Result<Vec<String>, String>) {
        if let Some(run) = self.run.as_mut() {
            match result {
                Ok(lines) => {
                    run.log.lines = lines;
                    run.log.error = None;
                }
                Err(e) => run.log.error = Some(e),
            }
        }
    }

    pub fn on_journal(&mut self, result: Result<Vec<Record>, String>, zone: &Zone) {
        if let Some(pane) = self.journal.as_mut() {
            match result {
                Ok(records) => {
                    pane.lines = journal_lines::format(&records, zone);
                    pane.error = None;
                }
                Err(e) => pane.error = Some(e),
            }
        }
    }

    pub fn on_note_written(&mut self, result: Result<(), String>) {
        if let Err(e) = result {
            self.notice = Some(format!("the note was not journaled: {e}"));
        }
    }

    /// The refusal's journal, named after the refusal already shown.
    pub fn on_refusal_journaled(&mut self, result: Result<PathBuf, String>) {
        let said = match result {
            Ok(path) => format!("; the refusal is journaled in {}", path.display()),
            Err(e) => format!(" (and the refusal could not be journaled: {e})"),
        };
        if let Some(n) = self.notice.as_mut() {
            n.push_str(&said);
        }
    }

    /// A key the keymap turned into `action` on the wizard's screen.
    pub fn act(&mut self, action: Action, role: Role) -> Outcome {
        match self.screen() {
            WizardScreen::QuitPrompt => match action {
                Action::Confirm => Outcome::Quit,
                Action::Cancel => {
                    self.modal = None;
                    Outcome::none()
                }
                _ => Outcome::none(),
            },
            WizardScreen::Box => self.box_action(action),
            WizardScreen::TypedAnswer => match action {
                Action::Submit => {
                    let text = self
                        .run
                        .as_ref()
                        .and_then(|r| r.question.as_ref())
                        .map(|a| a.input.value().to_string())
                        .unwrap_or_default();
                    self.answer(Decision::Confirm(text))
                }
                Action::Cancel => self.answer(Decision::Abort),
                Action::Quit => self.quit(),
                Action::Help => Outcome::Help,
                _ => Outcome::none(),
            },
            WizardScreen::Decision | WizardScreen::Failure => match decision_of(action) {
                Some(d) if self.asks(&d) => self.answer(d),
                _ => self.run_action(action, role),
            },
            WizardScreen::Plan | WizardScreen::Run | WizardScreen::Journal => {
                self.run_action(action, role)
            }
        }
    }

    /// A key that is no action, in a box that takes text: it edits the text.
    pub fn type_key(&mut self, key: KeyEvent) {
        let input = match (&mut self.modal, self.run.as_mut()) {
            (Some(Modal::Confirm { input, error }), _) => {
                *error = None;
                input
            }
            (
                Some(Modal::Side {
                    dir,
                    port,
                    on_port,
                    error,
                }),
                _,
            ) => {
                *error = None;
                if *on_port {
                    port
                } else {
                    dir
                }
            }
            (Some(Modal::Note { input }), _) => input,
            (Some(Modal::Quit), _) => return,
            (None, Some(run)) => match run.question.as_mut() {
                Some(asked) if asked.typed() => &mut asked.input,
                _ => return,
            },
            (None, None) => return,
        };
        edit(input, key);
    }

    fn asks(&self, d: &Decision) -> bool {
        self.run
            .as_ref()
            .and_then(|r| r.question.as_ref())
            .is_some_and(|a| a.options.contains(d))
    }

    fn answer(&mut self, d: Decision) -> Outcome {
        if let Some(run) = self.run.as_mut() {
            run.question = None;
        }
        Outcome::Stay(vec![Cmd::Decide(d)])
    }

    fn quit(&mut self) -> Outcome {
        if self.live() {
            self.modal = Some(Modal::Quit);
            return Outcome::none();
        }
        Outcome::Quit
    }

    fn run_action(&mut self, action: Action, role: Role) -> Outcome {
        let cmds = match action {
            Action::Quit => return self.quit(),
            Action::Help => return Outcome::Help,
            Action::Close => return self.close(),
            Action::StartRun => self.start(role),
            Action::ToggleSide => self.toggle_side(),
            Action::PickBackup => match (self.ready(), &self.run) {
                (Some(p), None) => {
                    return Outcome::PickBackup {
                        current: p.inputs.backup.id.clone(),
                    }
                }
                _ => Vec::new(),
            },
            Action::EditSide => {
                self.edit_side();
                Vec::new()
            }
            Action::AddNote if self.live() => {
                self.modal = Some(Modal::Note {
                    input: Input::default(),
                });
                Vec::new()
            }
            Action::AddNote => {
                self.notice = Some("notes go into a run's journal: start the run first".into());
                Vec::new()
            }
            Action::JournalView if self.journal.is_some() => {
                self.journal = None;
                Vec::new()
            }
            Action::JournalView => {
                self.journal = Some(JournalPane::default());
                self.journal_refresh()
            }
            Action::JumpNearest => return self.jump_nearest(),
            Action::ServerLog => match self.run.as_mut() {
                Some(run) => {
                    run.log.shown = !run.log.shown;
                    run.log_read().into_iter().collect()
                }
                None => Vec::new(),
            },
            Action::SelectUp => self.scroll(-1),
            Action::SelectDown => self.scroll(1),
            Action::ScrollUp => self.scroll(-i32::from(PAGE)),
            Action::ScrollDown => self.scroll(i32::from(PAGE)),
            _ => Vec::new(),
        };
        Outcome::Stay(cmds)
    }

    /// Esc: the journal view, then the wizard itself while nothing runs (a notice goes with
    /// it: one Esc, whatever was refused). While the run goes on the wizard stays, and says
    /// why; a notice shown then is closed first.
    fn close(&mut self) -> Outcome {
        if self.journal.take().is_some() {
            return Outcome::none();
        }
        if self.live() {
            if self.notice.take().is_none() {
                self.notice = Some(
                    "the run has begun and cannot be backed out of: answer its questions, or q to quit (the run can be resumed)"
                        .into(),
                );
            }
            return Outcome::none();
        }
        let ran = self.run.as_ref().is_some_and(|r| r.finished.is_some());
        Outcome::Closed { ran }
    }

    fn scroll(&mut self, by: i32) -> Vec<Cmd> {
        if let Some(pane) = self.journal.as_mut() {
            pane.back = clamp_add(pane.back, -by);
        } else if let PlanState::Refused(r) = &self.plan {
            if !r.nearest.is_empty() {
                self.nearest = (self.nearest as i32 + by.signum())
                    .clamp(0, r.nearest.len() as i32 - 1) as usize;
            }
        } else if self.run.is_none() {
            self.scroll = clamp_add(self.scroll, by);
        }
        Vec::new()
    }

    /// Opens the confirmation, or refuses; a role's refusal is journaled as the CLI's is.
    fn start(&mut self, role: Role) -> Vec<Cmd> {
        if self.run.is_some() {
            self.notice =
                Some("this plan already ran; Esc closes the wizard once it is over".into());
            return Vec::new();
        }
        let Some(p) = self.ready() else {
            self.notice = Some("there is no plan to start: see the reason above".into());
            return Vec::new();
        };
        if let Some(refusal) = role_refusal(role, &p.inputs.mode, &p.inputs.server.name) {
            let cmd = Cmd::JournalRefusal(Box::new(RoleRefusal {
                server: p.inputs.server.name.clone(),
                target: p.inputs.target.to_string(),
                role,
                reason: refusal.clone(),
            }));
            self.notice = Some(refusal);
            return vec![cmd];
        }
        self.modal = Some(Modal::Confirm {
            input: Input::default(),
            error: None,
        });
        Vec::new()
    }

    /// Re-prepares the plan after the restore mode changed.
    fn reprepare(&mut self) -> Vec<Cmd> {
        self.plan = PlanState::Preparing;
        vec![Cmd::Prepare(self.request.clone())]
    }

    fn toggle_side(&mut self) -> Vec<Cmd> {
        if self.run.is_some() {
            return Vec::new();
        }
        if self.side().is_some() {
            self.request.mode = RestoreMode::InPlace;
            return self.reprepare();
        }
        let Some((dir, port)) = self.side_defaults() else {
            self.notice = Some("a side restore needs a plan first: see the reason above".into());
            return Vec::new();
        };
        self.request.mode = RestoreMode::Side { dir, port };
        self.reprepare()
    }

    /// `side-<run>`, placed as every side restore is (`planning::side_dir::default_place`).
    fn side_defaults(&self) -> Option<(PathBuf, u16)> {
        if let PlanState::Refused(r) = &self.plan {
            return r.side.clone();
        }
        let p = self.ready()?;
        Some(crate::planning::side_dir::default_place(
            &p.inputs.server.pgdata,
            p.inputs.server.port,
            &format!("side-{}", p.run_id),
            &p.inputs.journal_dir,
        ))
    }

    fn edit_side(&mut self) {
        if self.run.is_some() {
            return;
        }
        let Some((dir, port)) = self
            .side()
            .map(|(d, p)| (d.clone(), p))
            .or_else(|| self.side_defaults())
        else {
            self.notice = Some("a side restore needs a plan first: see the reason above".into());
            return;
        };
        self.modal = Some(Modal::Side {
            dir: Input::new(dir.display().to_string()),
            port: Input::new(port.to_string()),
            on_port: false,
            error: None,
        });
    }

    fn jump_nearest(&self) -> Outcome {
        if self.run.is_some() {
            return Outcome::none();
        }
        let PlanState::Refused(r) = &self.plan else {
            return Outcome::none();
        };
        match r.nearest.get(self.nearest) {
            Some(at) => Outcome::PlanAt(*at),
            None => Outcome::none(),
        }
    }

    fn box_action(&mut self, action: Action) -> Outcome {
        let word = self
            .ready()
            .map(|p| p.confirmation_word(&self.request.server));
        let Some(modal) = self.modal.as_mut() else {
            return Outcome::none();
        };
        match (modal, action) {
            (_, Action::Cancel) => self.modal = None,
            (_, Action::Quit) => return self.quit(),
            (Modal::Note { input }, Action::Submit) => {
                let text = input.value().trim().to_string();
                self.modal = None;
                if !text.is_empty() {
                    if let Some(run) = self.run.as_mut() {
                        run.notes.push(text.clone());
                    }
                    return Outcome::Stay(vec![Cmd::WriteNote(text)]);
                }
            }
            (Modal::Confirm { input, error }, Action::Submit) => {
                let typed = input.value().to_string();
                let Some(word) = word else {
                    self.modal = None;
                    return Outcome::none();
                };
                if typed != word {
                    *error = Some(if word == self.request.server {
                        format!("`{typed}` is not the server's name: type `{word}` exactly, or Esc")
                    } else {
                        format!("`{typed}` is not `{word}`: type it exactly to accept the WAL loss, or Esc")
                    });
                    return Outcome::none();
                }
                return Outcome::Stay(self.begin_run());
            }
            (Modal::Side { on_port, .. }, Action::NextField) => *on_port = !*on_port,
            (
                Modal::Side {
                    dir, port, error, ..
                },
                Action::Submit,
            ) => {
                let Ok(p) = port.value().trim().parse::<u16>() else {
                    *error = Some(format!(
                        "port `{}` is not a port number (1-65535)",
                        port.value()
                    ));
                    return Outcome::none();
                };
                let d = PathBuf::from(dir.value().trim());
                if !d.is_absolute() {
                    *error = Some(format!(
                        "directory `{}`: give an absolute path for the side instance",
                        d.display()
                    ));
                    return Outcome::none();
                }
                self.modal = None;
                self.request.mode = RestoreMode::Side { dir: d, port: p };
                return Outcome::Stay(self.reprepare());
            }
            _ => {}
        }
        Outcome::none()
    }

    /// The name was typed: the run starts, on exactly the plan shown.
    fn begin_run(&mut self) -> Vec<Cmd> {
        let Some(p) = self.ready() else {
            self.modal = None;
            return Vec::new();
        };
        let start = StartRun {
            inputs: p.inputs.clone(),
            run_id: p.run_id.clone(),
            checksum: p.view.checksum.clone(),
            confirmation: self.request.server.clone(),
        };
        let run = RunState::new(p);
        self.modal = None;
        self.journal = None;
        self.notice = None;
        self.run = Some(run);
        vec![Cmd::StartRun(Box::new(start))]
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

/// The decision an action answers with.
pub fn decision_of(action: Action) -> Option<Decision> {
    match action {
        Action::Promote => Some(Decision::Promote),
        Action::RollBack => Some(Decision::RollBack),
        Action::Retry => Some(Decision::Retry),
        Action::MarkDone => Some(Decision::MarkDone),
        Action::Abort => Some(Decision::Abort),
        _ => None,
    }
}

/// The action that answers with a decision (the box shows its keys).
pub fn action_of(decision: &Decision) -> Option<Action> {
    match decision {
        Decision::Promote => Some(Action::Promote),
        Decision::RollBack => Some(Action::RollBack),
        Decision::Retry => Some(Action::Retry),
        Decision::MarkDone => Some(Action::MarkDone),
        Decision::Abort => Some(Action::Abort),
        Decision::Confirm(_) => None,
    }
}

fn clamp_add(v: u16, by: i32) -> u16 {
    (i32::from(v) + by).clamp(0, i32::from(u16::MAX)) as u16
}

/// Why `role` may not start this plan, in the console's words; None when it may.
pub fn role_refusal(role: Role, mode: &RestoreMode, server: &str) -> Option<String> {
    role_permits(role, mode, server).err().map(|refusal| match refusal {
        roles::RoleRefusal::Trainee { .. } => "refused by role trainee: a trainee may read plans and explore, never start a recovery".to_string(),
        roles::RoleRefusal::DrillInPlace { server } => format!(
            "refused by role drill: a drill restores beside production only; press s for a side restore of {server} (e sets its directory and port)"
        ),
    })
}

fn edit(input: &mut Input, key: KeyEvent) {
    if let Some(req) = tui_input::backend::crossterm::to_input_request(&Event::Key(key)) {
        input.handle(req);
    }
}
