//! A run as the console shows it: built from the plan, advanced only by the engine's events,
//! so that whatever happens to the terminal the screen can be drawn again from it.

use super::PlanReady;
use crate::engine::steps::verify::CheckItem;
use crate::engine::{Decision, EngineEvent, Phase, ProgressUnit, Question, RunStatus, StepStatus};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::path::PathBuf;

/// Output lines kept for the screen (the journal keeps what matters).
const OUTPUT_KEPT: usize = 400;
/// Lines of the recovered server's log kept for the screen.
pub const LOG_KEPT: usize = 300;

/// The recovered server's log, as the run view shows it on `L`.
#[derive(Debug, Clone, Default)]
pub struct ServerLog {
    /// Shown instead of the step's output, and read again on every tick.
    pub shown: bool,
    /// Its last lines, oldest first.
    pub lines: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    Done,
    Skipped,
    MarkedDone,
    Failed(String),
    Undoing,
    Undone,
}

#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: String,
    pub title: String,
    pub state: StepState,
    pub duration_ms: Option<u64>,
    /// When the running step began, by the console's clock (for its elapsed time).
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gauge {
    /// The step whose work it measures.
    pub step: usize,
    pub done: u64,
    pub total: Option<u64>,
    /// Units per second.
    pub rate: f64,
    pub eta_secs: Option<f64>,
}

impl Gauge {
    pub fn ratio(&self) -> Option<f64> {
        self.total
            .filter(|t| *t > 0)
            .map(|t| (self.done as f64 / t as f64).clamp(0.0, 1.0))
    }
}

/// A question the engine waits on, with what the operator has typed so far.
#[derive(Debug, Clone)]
pub struct Asked {
    pub question: Question,
    pub prompt: String,
    pub options: Vec<Decision>,
    pub input: tui_input::Input,
}

impl Asked {
    /// Questions answered by typing (the server's name, `leader`) rather than by a choice.
    pub fn typed(&self) -> bool {
        self.options
            .iter()
            .any(|o| matches!(o, Decision::Confirm(_)))
    }
}

#[derive(Debug, Clone)]
pub struct RunState {
    pub run_id: String,
    pub journal: Option<PathBuf>,
    pub steps: Vec<StepRow>,
    pub current: Option<usize>,
    /// (step index, line), oldest first.
    pub output: VecDeque<(usize, String)>,
    pub copy: Option<Gauge>,
    pub replay: Option<Gauge>,
    /// The replay step's latest status line: position, last commit time, pause state.
    pub replay_status: Option<String>,
    pub checklist: Vec<CheckItem>,
    pub notes: Vec<String>,
    pub question: Option<Asked>,
    pub finished: Option<RunStatus>,
    /// Why the engine would not start the run (nothing was touched).
    pub not_started: Option<String>,
    /// The server the run recovers, and where its recovered server logs.
    pub log_path: (String, PathBuf),
    pub log: ServerLog,
}

impl RunState {
    /// Whether the recovered server was promoted: the replay status it paused with is then
    /// history, not its state.
    pub fn promoted(&self) -> bool {
        self.steps.iter().any(|s| {
            s.id == "promote" && matches!(s.state, StepState::Done | StepState::MarkedDone)
        })
    }

    pub fn new(plan: &PlanReady) -> RunState {
        RunState {
            run_id: plan.run_id.clone(),
            journal: None,
            steps: plan
                .view
                .steps
                .iter()
                .map(|s| StepRow {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    state: StepState::Pending,
                    duration_ms: None,
                    since: None,
                })
                .collect(),
            current: None,
            output: VecDeque::new(),
            copy: None,
            replay: None,
            replay_status: None,
            checklist: Vec::new(),
            notes: Vec::new(),
            question: None,
            finished: None,
            not_started: None,
            log_path: (
                plan.inputs.server.name.clone(),
                crate::engine::steps::Recovery::new(plan.inputs.clone(), plan.run_id.clone())
                    .recovered_log(),
            ),
            log: ServerLog::default(),
        }
    }

    /// The command that reads the recovered server's log, while it is shown.
    pub fn log_read(&self) -> Option<crate::app::msg::Cmd> {
        self.log.shown.then(|| crate::app::msg::Cmd::ReadServerLog {
            server: self.log_path.0.clone(),
            path: self.log_path.1.clone(),
        })
    }

    /// Whether the engine still works on this run (or waits for an answer).
    pub fn live(&self) -> bool {
        self.finished.is_none() && self.not_started.is_none()
    }

    pub fn apply(&mut self, event: EngineEvent, now: Option<DateTime<Utc>>) {
        match event {
            EngineEvent::RunStarted { journal, .. } => self.journal = Some(journal),
            EngineEvent::StepStarted { index, phase, .. } => {
                self.current = Some(index);
                if let Some(row) = self.steps.get_mut(index) {
                    row.state = match phase {
                        Phase::Run => StepState::Running,
                        Phase::Undo => StepState::Undoing,
                    };
                    row.duration_ms = None;
                    row.since = now;
                }
            }
            EngineEvent::Output { index, line } => {
                if self.steps.get(index).is_some_and(|s| s.id == "verify") {
                    if let Some(item) = CheckItem::parse(&line) {
                        self.checklist.retain(|i| i.item != item.item);
                        self.checklist.push(item);
                    }
                }
                if self.steps.get(index).is_some_and(|s| s.id == "replay")
                    && line.starts_with("replayed to ")
                {
                    self.replay_status = Some(line.clone());
                }
                if self.output.len() == OUTPUT_KEPT {
                    self.output.pop_front();
                }
                self.output.push_back((index, line));
            }
            EngineEvent::Progress {
                index,
                unit,
                done,
                total,
                rate,
                eta_secs,
            } => {
                let g = Some(Gauge {
                    step: index,
                    done,
                    total,
                    rate,
                    eta_secs,
                });
                match unit {
                    ProgressUnit::Bytes => self.copy = g,
                    ProgressUnit::WalBytes => self.replay = g,
                }
            }
            EngineEvent::StepFinished {
                index,
                phase,
                duration_ms,
                status,
                ..
            } => {
                if let Some(row) = self.steps.get_mut(index) {
                    row.state = match (phase, status) {
                        (Phase::Undo, _) => StepState::Undone,
                        (Phase::Run, StepStatus::Done) => StepState::Done,
                        (Phase::Run, StepStatus::Skipped) => StepState::Skipped,
                        (Phase::Run, StepStatus::MarkedDone) => StepState::MarkedDone,
                    };
                    row.duration_ms = Some(duration_ms);
                    row.since = None;
                }
                // Progress is sent now and then, so the last one may fall short of a step
                // that is done: its gauge ends full.
                if (phase, status) == (Phase::Run, StepStatus::Done) {
                    for g in [&mut self.copy, &mut self.replay].into_iter().flatten() {
                        if let (true, Some(total)) = (g.step == index, g.total) {
                            g.done = g.done.max(total);
                            g.eta_secs = Some(0.0);
                        }
                    }
                }
            }
            EngineEvent::StepFailed { index, error, .. } => {
                if let Some(row) = self.steps.get_mut(index) {
                    row.state = StepState::Failed(error);
                    row.since = None;
                }
            }
            EngineEvent::NeedsDecision {
                question,
                prompt,
                options,
            } => {
                self.question = Some(Asked {
                    question,
                    prompt,
                    options,
                    input: tui_input::Input::default(),
                });
            }
            EngineEvent::RunFinished { status } => {
                self.question = None;
                self.current = None;
                self.finished = Some(status);
            }
        }
    }

    /// The last `n` output lines of the current (or last) step.
    pub fn output_tail(&self, n: usize) -> Vec<&str> {
        let step = self.current.or_else(|| self.output.back().map(|(i, _)| *i));
        let mut lines: Vec<&str> = self
            .output
            .iter()
            .rev()
            .filter(|(i, _)| Some(*i) == step)
            .take(n)
            .map(|(_, l)| l.as_str())
            .collect();
        lines.reverse();
        lines
    }
}
